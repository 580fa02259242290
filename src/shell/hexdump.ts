// Models util-linux/hexdump.c (busybox 1.36), the canonical form only: `hexdump -C [-v] [-n LEN]
// [-s OFFSET] [FILE]...` (and `hd`). Sixteen bytes a line — offset, two groups of eight hex bytes,
// the printable characters between bars — with a line equal to the one before shown once as `*`
// (unless -v), and the end offset last. Other hexdump formats are not modelled.

import type { Process } from './process.ts';
import { isErrno } from '../kernel/errno.ts';
import { O_RDONLY } from '../kernel/syscalls.ts';
import { Out, err, getopt, latin1, resolvePath, showUsage } from './applet.ts';

const USAGE = '[-bcdoxCv] [-e FMT] [-f FMT_FILE] [-n LENGTH] [-s OFFSET] [FILE]...';

function parseSize(s: string): number | null {
  const m = /^(0x[0-9a-f]+|0[0-7]*|[1-9]\d*)([bkmgKMG]?)$/i.exec(s);
  if (!m) return null;
  const n = m[1]!.toLowerCase().startsWith('0x') ? parseInt(m[1]!, 16) : m[1]!.startsWith('0') && m[1]!.length > 1 ? parseInt(m[1]!, 8) : Number(m[1]);
  const mul: Record<string, number> = { '': 1, b: 512, k: 1024, K: 1024, m: 1 << 20, M: 1 << 20, g: 1 << 30, G: 1 << 30 };
  return n * mul[m[2]!]!;
}

/** The canonical lines of `data`, whose first byte is at `base`. */
export function canonicalDump(data: Uint8Array, base: number, squeeze: boolean): string {
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  let out = '';
  let prev: string | null = null;
  let starred = false;
  for (let at = 0; at < data.length; at += 16) {
    const row = data.subarray(at, at + 16);
    const key = latin1(row);
    if (squeeze && row.length === 16 && key === prev) {
      if (!starred) out += '*\n';
      starred = true;
      continue;
    }
    prev = row.length === 16 ? key : null;
    starred = false;
    let line = `${hex(base + at, 8)}  `;
    for (let i = 0; i < 16; i++) {
      line += i < row.length ? `${hex(row[i]!, 2)} ` : '   ';
      if (i === 7) line += ' ';
    }
    let text = '';
    for (const b of row) text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    out += `${line} |${text}|\n`;
  }
  return `${out}${hex(base + data.length, 8)}\n`;
}

export async function hexdumpMain(p: Process, prog: string): Promise<number> {
  let canonical = prog === 'hd';
  let args = p.argv.slice(1);
  if (!canonical) {
    const parsed = await getopt(p, prog, 'Cvn:s:');
    if (!parsed) return showUsage(p, prog, USAGE);
    canonical = parsed.flags.has('C');
    if (!canonical) return showUsage(p, prog, USAGE);
    args = parsed.rest;
    const v = parsed.values;
    const len = v.has('n') ? parseSize(v.get('n')!) : Infinity;
    const skip = v.has('s') ? parseSize(v.get('s')!) : 0;
    if (len === null || skip === null) {
      await err(p, `${prog}: invalid number '${v.get(len === null ? 'n' : 's')}'\n`);
      return 1;
    }
    return dump(p, prog, args, skip, len, !parsed.flags.has('v'));
  }
  return dump(p, prog, args, 0, Infinity, true);
}

async function dump(p: Process, prog: string, files: readonly string[], skip: number, len: number, squeeze: boolean): Promise<number> {
  // The inputs form one stream, read only as far as -s and -n need (a disk is not read whole).
  const want = skip + len;
  const parts: Uint8Array[] = [];
  let total = 0;
  let rc = 0;
  for (const f of files.length > 0 ? files : ['-']) {
    if (total >= want) break;
    if (f === '-') {
      const b = await p.stdin.readAll();
      parts.push(b);
      total += b.length;
      continue;
    }
    let fd: number;
    try {
      fd = await p.sys.open(resolvePath(p.cwd, f), O_RDONLY);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `${prog}: ${f}: ${e.message}\n`);
      rc = 1;
      continue;
    }
    try {
      while (total < want) {
        const b = await p.sys.read(fd, Math.min(65536, want - total));
        if (b.length === 0) break;
        parts.push(b);
        total += b.length;
      }
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `${prog}: ${f}: ${e.message}\n`);
      rc = 1;
    } finally {
      await p.sys.close(fd).catch(() => undefined);
    }
  }
  const all = new Uint8Array(total);
  let o = 0;
  for (const b of parts) {
    all.set(b, o);
    o += b.length;
  }
  const start = Math.min(skip, all.length);
  const data = all.subarray(start, Number.isFinite(len) ? Math.min(all.length, start + len) : all.length);
  const out = new Out(p, prog);
  if (data.length > 0 || start > 0) out.print(canonicalDump(data, start, squeeze));
  if (!(await out.flush())) return 1;
  return rc;
}
