// Models coreutils/cut.c (busybox 1.36): cut -d DELIM -f LIST | -c LIST | -b LIST [-s] [FILE]….

import type { Process } from './process.ts';
import { Out, err, getopt, latin1, readInputs } from './applet.ts';

function parseList(list: string): ((n: number) => boolean) | null {
  const ranges: [number, number][] = [];
  for (const part of list.split(',')) {
    const m = /^(\d*)(-?)(\d*)$/.exec(part);
    if (!m || (m[1] === '' && m[3] === '')) return null;
    const a = m[1] === '' ? 1 : Number(m[1]);
    const b = m[2] === '' ? a : m[3] === '' ? Infinity : Number(m[3]);
    ranges.push([a, b]);
  }
  return (n) => ranges.some(([a, b]) => n >= a && n <= b);
}

export async function cutMain(p: Process): Promise<number> {
  const o = await getopt(p, 'cut', 'd:f:c:b:sn');
  if (!o) return 1;
  const spec = o.values.get('f') ?? o.values.get('c') ?? o.values.get('b');
  if (spec === undefined) {
    await err(p, 'cut: expected a list of bytes, characters, or fields\n');
    return 1;
  }
  const sel = parseList(spec);
  if (!sel) {
    await err(p, `cut: invalid range\n`);
    return 1;
  }
  const delim = o.values.get('d') ?? '\t';
  const byField = o.values.has('f');
  const out = new Out(p, 'cut', true);
  const rc = await readInputs(p, 'cut', o.rest, (data) => {
    const lines = latin1(data).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const line of lines) {
      if (byField) {
        if (!line.includes(delim)) {
          if (!o.flags.has('s')) out.print(`${line}\n`);
          continue;
        }
        out.print(`${line.split(delim).filter((_x, i) => sel(i + 1)).join(delim)}\n`);
      } else out.print(`${[...line].filter((_x, i) => sel(i + 1)).join('')}\n`);
    }
  });
  await out.flush();
  return out.failed ? 1 : rc;
}
