// Models coreutils/od_bloaty.c (busybox 1.36, GNU od compatible): od [-A d|o|x|n] [-c] [-x] [-b]
// [-t TYPE] [-v] [FILE]… — 16 bytes a line, `*` for repeated lines, the final offset alone.

import type { Process } from './process.ts';
import { Out, err, getopt, readInputs } from './applet.ts';

interface Fmt {
  readonly size: number;
  readonly width: number;
  readonly render: (b: Uint8Array, at: number) => string;
}

const CHAR_NAMES: Record<number, string> = { 0: '\\0', 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };

function le(b: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[at + i] ?? 0);
  return v;
}

function typeFmt(t: string): Fmt | null {
  if (t === 'c') return { size: 1, width: 4, render: (b, i) => (CHAR_NAMES[b[i]!] ?? (b[i]! >= 32 && b[i]! < 127 ? String.fromCharCode(b[i]!) : b[i]!.toString(8).padStart(3, '0'))).padStart(4) };
  if (t === 'a') return null;
  const m = /^([xoud])(\d)?$/.exec(t);
  if (!m) return null;
  const size = Number(m[2] ?? 4);
  if (![1, 2, 4].includes(size)) return null;
  const base = m[1] === 'x' ? 16 : m[1] === 'o' ? 8 : 10;
  const digits = Math.ceil((size * 8) / Math.log2(base));
  const width = 1 + (base === 10 ? String(2 ** (size * 8) - 1).length : digits);
  return {
    size,
    width,
    render: (b, i) => {
      let v = le(b, i, size);
      if (m[1] === 'd' && v >= 2 ** (size * 8 - 1)) v -= 2 ** (size * 8);
      const s = v.toString(base);
      return base === 10 ? s.padStart(width) : ` ${s.padStart(digits, '0')}`;
    },
  };
}

export async function odMain(p: Process): Promise<number> {
  const o = await getopt(p, 'od', 'A:t:N:j:cxbdosvw:');
  if (!o) return 1;
  const fmts: Fmt[] = [];
  const add = async (t: string): Promise<boolean> => {
    const f = typeFmt(t);
    if (!f) {
      await err(p, `od: invalid type string '${t}'\n`);
      return false;
    }
    fmts.push(f);
    return true;
  };
  for (const [flag, t] of [['c', 'c'], ['b', 'o1'], ['x', 'x2'], ['d', 'u2'], ['o', 'o2'], ['s', 'd2']] as const) if (o.flags.has(flag)) await add(t);
  const t = o.values.get('t');
  if (t !== undefined && !(await add(t))) return 1;
  if (fmts.length === 0) await add('o2');
  const radix = o.values.get('A') ?? 'o';
  const addr = (n: number): string =>
    radix === 'n' ? '' : radix === 'd' ? String(n).padStart(7, '0') : radix === 'x' ? n.toString(16).padStart(6, '0') : n.toString(8).padStart(7, '0');
  const chunks: Uint8Array[] = [];
  const rc = await readInputs(p, 'od', o.rest, (d) => {
    chunks.push(d);
  });
  let all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const skip = Number(o.values.get('j') ?? 0);
  all = all.subarray(skip);
  if (o.values.has('N')) all = all.subarray(0, Number(o.values.get('N')));
  const out = new Out(p, 'od');
  let prev: string | null = null;
  let starred = false;
  for (let pos = 0; pos < all.length; pos += 16) {
    const line = all.subarray(pos, pos + 16);
    const key = Array.from(line).join(',');
    if (!o.flags.has('v') && key === prev && line.length === 16) {
      if (!starred) out.print('*\n');
      starred = true;
      continue;
    }
    prev = key;
    starred = false;
    fmts.forEach((f, fi) => {
      let s = fi === 0 ? addr(skip + pos) : ' '.repeat(addr(0).length);
      for (let i = 0; i < line.length; i += f.size) s += f.render(line, i);
      out.print(`${s}\n`);
    });
  }
  if (radix !== 'n') out.print(`${addr(skip + all.length)}\n`);
  await out.flush();
  return out.failed ? 1 : rc;
}
