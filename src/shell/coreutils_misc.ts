// Ours: the small busybox applets (coreutils/true.c, false.c, basename.c, dirname.c, mkdir.c, rm.c,
// ln.c, touch.c, seq.c, env.c, uniq.c, tr.c, sleep.c, id.c, util-linux/dmesg.c), each a few lines.

import { isErrno } from '../kernel/errno.ts';
import { O_CREAT, O_WRONLY, S_IFDIR, S_IFMT } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, basename, err, getopt, idNames, latin1, readInputs, resolvePath } from './applet.ts';

async function print(p: Process, prog: string, text: string): Promise<number> {
  const out = new Out(p, prog);
  out.print(text);
  await out.flush();
  return out.failed ? 1 : 0;
}

export const trueMain = async (): Promise<number> => 0;
export const falseMain = async (): Promise<number> => 1;

export async function basenameMain(p: Process): Promise<number> {
  const [name, suffix] = p.argv.slice(1);
  if (name === undefined) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: basename FILE [SUFFIX]\n');
    return 1;
  }
  let b = basename(name);
  if (suffix && b !== suffix && b.endsWith(suffix)) b = b.slice(0, -suffix.length);
  return print(p, 'basename', `${b}\n`);
}

export async function dirnameMain(p: Process): Promise<number> {
  const name = p.argv[1];
  if (name === undefined) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: dirname FILENAME\n');
    return 1;
  }
  const t = name.replace(/\/+$/, '');
  const i = t.lastIndexOf('/');
  const d = t === '' ? (name.startsWith('/') ? '/' : '.') : i < 0 ? '.' : i === 0 ? '/' : t.slice(0, i).replace(/\/+$/, '') || '/';
  return print(p, 'dirname', `${d}\n`);
}

export async function mkdirMain(p: Process): Promise<number> {
  const o = await getopt(p, 'mkdir', 'pm:v');
  if (!o) return 1;
  const mode = o.values.has('m') ? parseInt(o.values.get('m')!, 8) : 0o777;
  let rc = 0;
  for (const d of o.rest) {
    const full = resolvePath(p.cwd, d);
    const steps = o.flags.has('p') ? full.split('/').filter(Boolean).map((_c, i, a) => `/${a.slice(0, i + 1).join('/')}`) : [full];
    for (const s of steps) {
      try {
        await p.sys.mkdir(s, mode);
      } catch (e) {
        if (!isErrno(e)) throw e;
        if (o.flags.has('p') && e.code === 'EEXIST') continue;
        await err(p, `mkdir: can't create directory '${d}': ${e.message}\n`);
        rc = 1;
        break;
      }
    }
  }
  return rc;
}

export async function rmMain(p: Process): Promise<number> {
  const o = await getopt(p, 'rm', 'rRfiv');
  if (!o) return 1;
  const force = o.flags.has('f');
  const recursive = o.flags.has('r') || o.flags.has('R');
  let rc = 0;
  const remove = async (path: string, shown: string): Promise<boolean> => {
    try {
      const st = await p.sys.lstat(path);
      if ((st.mode & S_IFMT) === S_IFDIR) {
        if (!recursive) {
          await err(p, `rm: '${shown}' is a directory\n`);
          return false;
        }
        for (const d of await p.sys.readdir(path)) if (!(await remove(`${path}/${d.name}`, `${shown}/${d.name}`))) return false;
        await p.sys.rmdir(path);
      } else await p.sys.unlink(path);
      return true;
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (force && e.code === 'ENOENT') return true;
      await err(p, `rm: can't remove '${shown}': ${e.message}\n`);
      return false;
    }
  };
  for (const f of o.rest) if (!(await remove(resolvePath(p.cwd, f), f))) rc = 1;
  return rc;
}

export async function lnMain(p: Process): Promise<number> {
  const o = await getopt(p, 'ln', 'sfnTv');
  if (!o) return 1;
  const [target, link] = o.rest;
  if (target === undefined || !o.flags.has('s')) {
    await err(p, 'ln: only symbolic links (-s) are supported here\n');
    return 1;
  }
  let path = resolvePath(p.cwd, link ?? basename(target));
  try {
    if (link !== undefined && !o.flags.has('n') && ((await p.sys.stat(path)).mode & S_IFMT) === S_IFDIR) path = `${path}/${basename(target)}`;
  } catch {
    // the link does not exist yet
  }
  try {
    if (o.flags.has('f')) await p.sys.unlink(path).catch(() => undefined);
    await p.sys.symlink(target, path);
    return 0;
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `ln: ${link ?? basename(target)}: ${e.message}\n`);
    return 1;
  }
}

export async function touchMain(p: Process): Promise<number> {
  const o = await getopt(p, 'touch', 'cd:t:r:am');
  if (!o) return 1;
  let rc = 0;
  for (const f of o.rest) {
    try {
      await p.sys.close(await p.sys.open(resolvePath(p.cwd, f), O_WRONLY | (o.flags.has('c') ? 0 : O_CREAT), 0o666));
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (o.flags.has('c') && e.code === 'ENOENT') continue;
      await err(p, `touch: ${f}: ${e.message}\n`);
      rc = 1;
    }
  }
  return rc;
}

export async function seqMain(p: Process): Promise<number> {
  const nums = p.argv.slice(1).map(Number);
  if (nums.length === 0 || nums.length > 3 || nums.some(Number.isNaN)) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: seq [-w] [-s SEP] [FIRST [INC]] LAST\n');
    return 1;
  }
  const [first, inc, last] = nums.length === 1 ? [1, 1, nums[0]!] : nums.length === 2 ? [nums[0]!, 1, nums[1]!] : [nums[0]!, nums[1]!, nums[2]!];
  let s = '';
  if (inc !== 0) for (let v = first; inc > 0 ? v <= last : v >= last; v += inc) s += `${v}\n`;
  return print(p, 'seq', s);
}

export async function envMain(p: Process): Promise<number> {
  return print(p, 'env', [...p.env].map(([k, v]) => `${k}=${v}\n`).join(''));
}

export async function pwdMain(p: Process): Promise<number> {
  return print(p, 'pwd', `${p.cwd}\n`);
}

export async function uniqMain(p: Process): Promise<number> {
  const o = await getopt(p, 'uniq', 'cdu');
  if (!o) return 1;
  const out = new Out(p, 'uniq', true);
  const rc = await readInputs(p, 'uniq', o.rest.slice(0, 1), (data) => {
    const lines = latin1(data).split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (let i = 0; i < lines.length; ) {
      let j = i + 1;
      while (j < lines.length && lines[j] === lines[i]) j++;
      const n = j - i;
      if ((!o.flags.has('d') || n > 1) && (!o.flags.has('u') || n === 1)) out.print(o.flags.has('c') ? `${String(n).padStart(7)} ${lines[i]}\n` : `${lines[i]}\n`);
      i = j;
    }
  });
  await out.flush();
  return out.failed ? 1 : rc;
}

function trSet(s: string): string {
  let out = '';
  const u = s.replace(/\\n/g, '\n').replace(/\\t/g, '\t').replace(/\\\\/g, '\\');
  for (let i = 0; i < u.length; i++) {
    if (u[i + 1] === '-' && i + 2 < u.length) {
      for (let c = u.charCodeAt(i); c <= u.charCodeAt(i + 2); c++) out += String.fromCharCode(c);
      i += 2;
    } else out += u[i];
  }
  return out.replace(/\[:upper:\]/g, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ').replace(/\[:lower:\]/g, 'abcdefghijklmnopqrstuvwxyz');
}

export async function trMain(p: Process): Promise<number> {
  const o = await getopt(p, 'tr', 'dsc');
  if (!o) return 1;
  const a = trSet(o.rest[0] ?? '');
  const b = trSet(o.rest[1] ?? '');
  const text = latin1(await p.stdin.readAll());
  let res = '';
  for (const ch of text) {
    const i = a.indexOf(ch);
    if (o.flags.has('d')) {
      if (i < 0) res += ch;
    } else res += i < 0 ? ch : (b[Math.min(i, b.length - 1)] ?? ch);
  }
  if (o.flags.has('s')) {
    const set = o.flags.has('d') ? b : b || a;
    res = res.replace(/(.)\1+/gs, (m, c: string) => (set.includes(c) ? c : m));
  }
  const out = new Out(p, 'tr', true);
  out.print(res);
  await out.flush();
  return out.failed ? 1 : 0;
}

/** sleep N[.frac][smhd]…: sums its arguments and sleeps on the virtual clock. */
export async function sleepMain(p: Process): Promise<number> {
  const args = p.argv.slice(1);
  if (args.length === 0) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: sleep [N]...\n');
    return 1;
  }
  let seconds = 0;
  for (const a of args) {
    const m = /^(\d*\.?\d+)([smhd]?)$/.exec(a);
    if (!m) {
      await err(p, `sleep: invalid number '${a}'\n`);
      return 1;
    }
    seconds += Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
  }
  await p.sys.nanosleep(Math.round(seconds * 1e9));
  return 0;
}

export async function idMain(p: Process): Promise<number> {
  const o = await getopt(p, 'id', 'ugnrG');
  if (!o) return 1;
  const names = await idNames(p.sys);
  const c = p.sys.getcred();
  const f = o.flags;
  const n = f.has('n');
  let text: string;
  if (f.has('u')) text = n ? names.user(c.uid) : String(c.uid);
  else if (f.has('g') || f.has('G')) text = n ? names.group(c.gid) : String(c.gid);
  else text = `uid=${c.uid}(${names.user(c.uid)}) gid=${c.gid}(${names.group(c.gid)}) groups=${c.gid}(${names.group(c.gid)})`;
  return print(p, 'id', `${text}\n`);
}

/** dmesg: the kernel log as sys.syslog() formats it; -c clears are not modelled. */
export async function dmesgMain(p: Process): Promise<number> {
  const lines = await p.sys.syslog();
  return print(p, 'dmesg', lines.map((l) => `${l}\n`).join(''));
}
