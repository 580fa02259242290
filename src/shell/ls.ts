// Models coreutils/ls.c (busybox 1.36): ls [-1aAdlnRis] — one name per line (stdout is never a
// terminal here), files before directories, strcmp order, the long format's fixed columns, and
// `total` in 1K blocks.

import { isErrno } from '../kernel/errno.ts';
import type { Stat } from '../kernel/syscalls.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, err, getopt, idNames, resolvePath } from './applet.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** bb_mode_string: `drwxr-xr-x`, with s/S/t/T for the special bits. */
export function modeString(mode: number): string {
  const t = mode & S_IFMT;
  const type =
    t === S_IFDIR ? 'd' : t === S_IFLNK ? 'l' : t === S_IFCHR ? 'c' : t === S_IFBLK ? 'b' : t === S_IFIFO ? 'p' : t === S_IFSOCK ? 's' : t === S_IFREG ? '-' : '?';
  const rwx = (shift: number, special: number, ch: string): string => {
    const r = mode & (4 << shift) ? 'r' : '-';
    const w = mode & (2 << shift) ? 'w' : '-';
    const xOn = (mode & (1 << shift)) !== 0;
    const x = mode & special ? (xOn ? ch : ch.toUpperCase()) : xOn ? 'x' : '-';
    return r + w + x;
  };
  return type + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

/** ctime(3)'s "Mmm dd hh:mm" for recent files, "Mmm dd  yyyy" otherwise (UTC: the guest has no TZ). */
export function lsDate(t: number, now: number): string {
  const d = new Date(t * 1000);
  const mon = MONTHS[d.getUTCMonth()]!;
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const age = now - t;
  if (age < (3600 * 24 * 365) / 2 && age > -15 * 60) {
    const hh = String(d.getUTCHours()).padStart(2, '0');
    const mm = String(d.getUTCMinutes()).padStart(2, '0');
    return `${mon} ${day} ${hh}:${mm}`;
  }
  return `${mon} ${day} ${String(d.getUTCFullYear()).padStart(5, ' ')}`;
}

interface Entry {
  readonly name: string;
  readonly full: string;
  readonly st: Stat;
  readonly link: string | null;
}

const cmp = (a: Entry, b: Entry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export async function lsMain(p: Process): Promise<number> {
  const o = await getopt(p, 'ls', '1aAdlnRisLHFpcturSXvhxCe');
  if (!o) return 1;
  const f = o.flags;
  const long = f.has('l') || f.has('n');
  const out = new Out(p, 'ls');
  let rc = 0;
  const names = await idNames(p.sys);
  const now = p.sys.time();

  const stat = async (full: string, follow: boolean): Promise<Stat> => {
    const path = resolvePath(p.cwd, full);
    return follow ? p.sys.stat(path) : p.sys.lstat(path);
  };
  const entry = async (name: string, full: string, follow: boolean): Promise<Entry | null> => {
    try {
      const st = await stat(full, follow);
      let link: string | null = null;
      if (long && (st.mode & S_IFMT) === S_IFLNK) {
        try {
          link = await p.sys.readlink(resolvePath(p.cwd, full));
        } catch {
          link = null;
        }
      }
      return { name, full, st, link };
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out.flush();
      await err(p, `ls: ${full}: ${e.message}\n`);
      rc = 1;
      return null;
    }
  };
  const line = (e: Entry): string => {
    let s = '';
    if (f.has('i')) s += `${String(e.st.ino).padStart(7)} `;
    if (f.has('s')) s += `${String(e.st.blocks >> 1).padStart(6)} `;
    if (long) {
      const st = e.st;
      const user = f.has('n') ? String(st.uid) : names.user(st.uid);
      const group = f.has('n') ? String(st.gid) : names.group(st.gid);
      s += `${modeString(st.mode).padEnd(10)} ${String(st.nlink).padStart(4)} ${user.slice(0, 8).padEnd(8)} ${group.slice(0, 8).padEnd(8)} `;
      const t = st.mode & S_IFMT;
      if (t === S_IFBLK || t === S_IFCHR) s += `${String(st.rdevMajor).padStart(4)}, ${String(st.rdevMinor).padStart(3)} `;
      else s += `${String(st.size).padStart(9)} `;
      s += `${lsDate(st.mtime, now)} `;
    }
    s += e.name;
    if (long && e.link !== null) s += ` -> ${e.link}`;
    return `${s}\n`;
  };
  const isDir = (e: Entry): boolean => (e.st.mode & S_IFMT) === S_IFDIR;

  const listDir = async (dir: Entry, header: boolean, first: boolean): Promise<void> => {
    if (header) out.print(`${first ? '' : '\n'}${dir.full}:\n`);
    let dirents: string[];
    try {
      dirents = (await p.sys.readdir(resolvePath(p.cwd, dir.full))).map((d) => d.name);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out.flush();
      await err(p, `ls: can't open '${dir.full}': ${e.message}\n`);
      rc = 1;
      return;
    }
    const join = (n: string): string => (dir.full.endsWith('/') ? dir.full + n : `${dir.full}/${n}`);
    const entries: Entry[] = [];
    if (f.has('a')) {
      for (const n of ['.', '..']) {
        const e = await entry(n, join(n), false);
        if (e) entries.push(e);
      }
    }
    for (const n of dirents) {
      if (n.startsWith('.') && !f.has('a') && !f.has('A')) continue;
      const e = await entry(n, join(n), false);
      if (e) entries.push(e);
    }
    entries.sort(cmp);
    if (long || f.has('s')) {
      const blocks = entries.reduce((a, e) => a + e.st.blocks, 1);
      out.print(`total ${blocks >> 1}\n`);
    }
    for (const e of entries) out.print(line(e));
    await out.flush(4096);
    if (f.has('R')) {
      for (const e of entries) {
        if (isDir(e) && e.name !== '.' && e.name !== '..') await listDir(e, true, false);
      }
    }
  };

  const operands = o.rest.length > 0 ? o.rest : ['.'];
  const follow = !long && !f.has('d');
  const files: Entry[] = [];
  const dirs: Entry[] = [];
  for (const name of operands) {
    const e = await entry(name, name, follow || f.has('L') || f.has('H'));
    if (!e) continue;
    if (isDir(e) && !f.has('d')) dirs.push(e);
    else files.push(e);
  }
  files.sort(cmp);
  dirs.sort(cmp);
  for (const e of files) out.print(line(e));
  const header = operands.length > 1 || f.has('R');
  let first = files.length === 0;
  for (const d of dirs) {
    await listDir(d, header, first);
    first = false;
  }
  await out.flush();
  return out.failed ? 1 : rc;
}
