// Models coreutils/sort.c (busybox 1.36): sort [-nrufb] [-t SEP] [-k N] [FILE]… — byte order (strcmp), -n numeric.

import type { Process } from './process.ts';
import { Out, getopt, latin1, readInputs } from './applet.ts';

export async function sortMain(p: Process): Promise<number> {
  const o = await getopt(p, 'sort', 'nrufbsgt:k:o:');
  if (!o) return 1;
  const f = o.flags;
  const lines: string[] = [];
  const rc = await readInputs(p, 'sort', o.rest, (data) => {
    const ls = latin1(data).split('\n');
    if (ls[ls.length - 1] === '') ls.pop();
    lines.push(...ls);
  });
  const sep = o.values.get('t');
  const k = o.values.get('k');
  const keyOf = (l: string): string => {
    let s = l;
    if (k !== undefined) {
      const n = Number(k.split(/[.,]/)[0]) - 1;
      const fields = sep !== undefined ? l.split(sep) : l.trim().split(/\s+/);
      s = fields.slice(n).join(sep ?? ' ');
    }
    if (f.has('f')) s = s.toUpperCase();
    if (f.has('b')) s = s.trimStart();
    return s;
  };
  const num = (s: string): number => {
    const m = /^\s*-?\d*\.?\d+/.exec(s);
    return m ? Number(m[0]) : 0;
  };
  const cmp = (a: string, b: string): number => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    if (f.has('n') || f.has('g')) {
      const d = num(ka) - num(kb);
      if (d !== 0 || f.has('u')) return d;
    } else if (ka !== kb || f.has('u')) return ka < kb ? -1 : ka > kb ? 1 : 0;
    return a < b ? -1 : a > b ? 1 : 0;
  };
  lines.sort((a, b) => (f.has('r') ? -cmp(a, b) : cmp(a, b)));
  const res = f.has('u') ? lines.filter((l, i) => i === 0 || cmp(lines[i - 1]!, l) !== 0) : lines;
  const out = new Out(p, 'sort', true);
  out.print(res.map((l) => `${l}\n`).join(''));
  await out.flush();
  return out.failed ? 1 : rc;
}
