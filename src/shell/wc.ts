// Models coreutils/wc.c (busybox 1.36): wc [-lwcm] [FILE]… — columns as busybox prints them
// (one count alone is unpadded; several are right-aligned in 7 or more columns), `total` for several files.

import type { Process } from './process.ts';
import { Out, getopt, readInputs } from './applet.ts';

export async function wcMain(p: Process): Promise<number> {
  const o = await getopt(p, 'wc', 'lwcmL');
  if (!o) return 1;
  let which = ['l', 'w', 'c'].filter((f) => o.flags.has(f) || (f === 'c' && o.flags.has('m')));
  if (which.length === 0) which = ['l', 'w', 'c'];
  const rows: { counts: number[]; name: string }[] = [];
  const total = [0, 0, 0];
  const rc = await readInputs(p, 'wc', o.rest, (data, name) => {
    let lines = 0;
    let words = 0;
    let inWord = false;
    for (const b of data) {
      if (b === 10) lines++;
      const space = b === 32 || (b >= 9 && b <= 13);
      if (!space && !inWord) words++;
      inWord = !space;
    }
    const all: Record<string, number> = { l: lines, w: words, c: data.length };
    const counts = which.map((f) => all[f]!);
    which.forEach((f, i) => (total[i]! += all[f]!));
    rows.push({ counts, name: o.rest.length === 0 ? '' : name });
  });
  if (rows.length > 1) rows.push({ counts: total.slice(0, which.length), name: 'total' });
  const out = new Out(p, 'wc');
  const single = which.length === 1 && rows.length === 1;
  for (const r of rows) {
    const cols = r.counts.map((c) => (single ? String(c) : String(c).padStart(7)));
    out.print(`${cols.join(' ')}${r.name ? ` ${r.name}` : ''}\n`);
  }
  await out.flush();
  return out.failed ? 1 : rc;
}
