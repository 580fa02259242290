// Models coreutils/dd.c (busybox 1.36, built without the third status line, as the goldens show):
// dd [if=F] [of=F] [bs=N|ibs=N obs=N] [count=N] [skip=N] [seek=N] [conv=notrunc,sync,noerror,fsync]
// [iflag=direct,skip_bytes,count_bytes,fullblock] [oflag=direct,append,seek_bytes] [status=none|noxfer].
// A read error ends dd with `dd: IF: error` and no summary; a write error prints `error writing`
// and the summary.

import { isErrno } from '../kernel/errno.ts';
import { O_APPEND, O_CREAT, O_DIRECT, O_RDONLY, O_TRUNC, O_WRONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { err, resolvePath } from './applet.ts';

const SUFFIX: Record<string, number> = { c: 1, w: 2, b: 512, kB: 1000, kD: 1000, k: 1024, K: 1024, MB: 1e6, MD: 1e6, M: 1 << 20, GB: 1e9, GD: 1e9, G: 1 << 30 };

function number(s: string): number | null {
  const m = /^(\d+)([a-zA-Z]*)$/.exec(s);
  if (!m) return null;
  const mul = m[2] === '' ? 1 : SUFFIX[m[2]!];
  return mul === undefined ? null : Number(m[1]) * mul;
}

export async function ddMain(p: Process): Promise<number> {
  const opt = new Map<string, string>();
  for (const a of p.argv.slice(1)) {
    const eq = a.indexOf('=');
    const key = a.slice(0, eq);
    if (eq < 0 || !['if', 'of', 'bs', 'ibs', 'obs', 'count', 'skip', 'seek', 'conv', 'iflag', 'oflag', 'status'].includes(key)) {
      await err(p, `dd: unknown operand ${a}\n`);
      return 1;
    }
    opt.set(key, a.slice(eq + 1));
  }
  const num = async (key: string, dflt: number): Promise<number | null> => {
    const v = opt.get(key);
    if (v === undefined) return dflt;
    const n = number(v);
    if (n === null) await err(p, `dd: invalid number '${v}'\n`);
    return n;
  };
  const bs = await num('bs', 0);
  let ibs = await num('ibs', 512);
  let obs = await num('obs', 512);
  const count = opt.has('count') ? await num('count', 0) : Infinity;
  const skip = await num('skip', 0);
  const seek = await num('seek', 0);
  if (bs === null || ibs === null || obs === null || count === null || skip === null || seek === null) return 1;
  if (bs > 0) ibs = obs = bs;
  const flags = (k: string): Set<string> => new Set((opt.get(k) ?? '').split(',').filter(Boolean));
  const conv = flags('conv');
  const iflag = flags('iflag');
  const oflag = flags('oflag');
  const status = opt.get('status');
  const infile = opt.get('if');
  const outfile = opt.get('of');
  const inName = infile ?? 'standard input';
  const outName = outfile ?? 'standard output';
  const stats = { inFull: 0, inPart: 0, outFull: 0, outPart: 0 };
  const summary = async (): Promise<void> => {
    if (status === 'none') return;
    await err(p, `${stats.inFull}+${stats.inPart} records in\n${stats.outFull}+${stats.outPart} records out\n`);
  };
  const die = async (name: string, e: unknown): Promise<number> => {
    if (!isErrno(e)) throw e;
    await err(p, `dd: ${name}: ${e.message}\n`);
    return 1;
  };

  let ifd: number | null = null;
  let ofd: number | null = null;
  try {
    if (infile !== undefined) {
      try {
        ifd = await p.sys.open(resolvePath(p.cwd, infile), O_RDONLY | (iflag.has('direct') ? O_DIRECT : 0));
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `dd: can't open '${infile}': ${e.message}\n`);
        return 1;
      }
    }
    if (outfile !== undefined) {
      let of = O_WRONLY | O_CREAT;
      if (!seek && !conv.has('notrunc')) of |= O_TRUNC;
      if (oflag.has('append')) of |= O_APPEND;
      if (oflag.has('direct')) of |= O_DIRECT;
      try {
        ofd = await p.sys.open(resolvePath(p.cwd, outfile), of, 0o666);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `dd: can't open '${outfile}': ${e.message}\n`);
        return 1;
      }
    }
    const read = async (n: number): Promise<Uint8Array> => (ifd === null ? p.stdin.read(n) : p.sys.read(ifd, n));
    const write = async (b: Uint8Array): Promise<number> => {
      if (ofd === null) {
        await p.stdout.write(b);
        return b.length;
      }
      return p.sys.write(ofd, b);
    };
    if (skip > 0) {
      const bytes = iflag.has('skip_bytes') ? skip : skip * ibs;
      if (ifd !== null) {
        try {
          await p.sys.lseek(ifd, bytes, 1);
        } catch (e) {
          return die(inName, e);
        }
      } else {
        for (let left = bytes; left > 0; ) {
          const b = await read(Math.min(left, ibs));
          if (b.length === 0) break;
          left -= b.length;
        }
      }
    }
    if (seek > 0 && ofd !== null) {
      try {
        await p.sys.lseek(ofd, oflag.has('seek_bytes') ? seek : seek * obs, 1);
      } catch (e) {
        return die(outName, e);
      }
    }
    let left = count;
    let pending = new Uint8Array(0);
    const flushOut = async (data: Uint8Array): Promise<boolean> => {
      try {
        const n = await write(data);
        if (n === obs) stats.outFull++;
        else if (n > 0) stats.outPart++;
        if (n !== data.length) throw new Error('short write');
        return true;
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `dd: error writing '${outName}': ${e.message}\n`);
        return false;
      }
    };
    while (left > 0) {
      let want = ibs;
      if (iflag.has('count_bytes')) want = Math.min(ibs, left);
      let b: Uint8Array;
      try {
        b = await read(want);
        if (iflag.has('fullblock')) {
          while (b.length < want) {
            const more = await read(want - b.length);
            if (more.length === 0) break;
            const j = new Uint8Array(b.length + more.length);
            j.set(b);
            j.set(more, b.length);
            b = j;
          }
        }
      } catch (e) {
        if (!isErrno(e)) throw e;
        if (!conv.has('noerror')) return die(inName, e);
        await err(p, `dd: ${inName}: ${e.message}\n`);
        b = new Uint8Array(0);
      }
      if (b.length === 0 && !conv.has('noerror')) break;
      left -= iflag.has('count_bytes') ? b.length : 1;
      if (b.length === ibs) stats.inFull++;
      else {
        stats.inPart++;
        if (conv.has('sync')) {
          const padded = new Uint8Array(ibs);
          padded.set(b);
          b = padded;
        }
      }
      if (ibs === obs && pending.length === 0) {
        if (!(await flushOut(b))) {
          await summary();
          return 1;
        }
        continue;
      }
      const j = new Uint8Array(pending.length + b.length);
      j.set(pending);
      j.set(b, pending.length);
      pending = j;
      while (pending.length >= obs) {
        if (!(await flushOut(pending.subarray(0, obs)))) {
          await summary();
          return 1;
        }
        pending = pending.subarray(obs);
      }
    }
    if (conv.has('fsync') && ofd !== null) {
      try {
        await p.sys.fsync(ofd);
      } catch (e) {
        return die(outName, e);
      }
    }
    if (pending.length > 0 && !(await flushOut(pending))) {
      await summary();
      return 1;
    }
    await summary();
    return 0;
  } finally {
    if (ifd !== null) await p.sys.close(ifd).catch(() => undefined);
    if (ofd !== null) await p.sys.close(ofd).catch(() => undefined);
  }
}
