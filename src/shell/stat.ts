// Models coreutils/stat.c (busybox 1.36): stat [-L] -c FORMAT FILE… — the format directives of
// print_stat (%t/%T/%f in hex, %a in octal), plus a default format modelled on busybox's.

import { isErrno } from '../kernel/errno.ts';
import type { Stat } from '../kernel/syscalls.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, err, getopt, idNames, resolvePath } from './applet.ts';
import { modeString } from './ls.ts';

export function fileType(st: Stat): string {
  switch (st.mode & S_IFMT) {
    case S_IFREG:
      return st.size === 0 ? 'regular empty file' : 'regular file';
    case S_IFDIR:
      return 'directory';
    case S_IFBLK:
      return 'block special file';
    case S_IFCHR:
      return 'character special file';
    case S_IFIFO:
      return 'fifo';
    case S_IFLNK:
      return 'symbolic link';
    case S_IFSOCK:
      return 'socket';
    default:
      return 'weird file';
  }
}

function humanTime(t: number): string {
  const d = new Date(t * 1000).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 19)}.000000000 +0000`;
}

export async function statMain(p: Process): Promise<number> {
  const o = await getopt(p, 'stat', 'c:Lft');
  if (!o) return 1;
  if (o.rest.length === 0) {
    await err(p, 'stat: missing operand\n');
    return 1;
  }
  const names = await idNames(p.sys);
  const out = new Out(p, 'stat');
  let rc = 0;
  for (const file of o.rest) {
    const path = resolvePath(p.cwd, file);
    let st: Stat;
    try {
      st = o.flags.has('L') ? await p.sys.stat(path) : await p.sys.lstat(path);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out.flush();
      await err(p, `stat: can't stat '${file}': ${e.message}\n`);
      rc = 1;
      continue;
    }
    const isDev = (st.mode & S_IFMT) === S_IFBLK || (st.mode & S_IFMT) === S_IFCHR;
    const fmt =
      o.values.get('c') ??
      '  File: %N\n  Size: %-10s\tBlocks: %-10b IO Block: %-6o %F\nDevice: %Dh/%dd\tInode: %-10i  Links: %-5h' +
        (isDev ? ' Device type: %t,%T' : '') +
        '\nAccess: (%04a/%10.10A)  Uid: (%5u/%8U)   Gid: (%5g/%8G)\nAccess: %x\nModify: %y\nChange: %z';
    let link: string | null = null;
    if ((st.mode & S_IFMT) === S_IFLNK && fmt.includes('%N')) {
      try {
        link = await p.sys.readlink(path);
      } catch {
        link = null;
      }
    }
    const one = (m: string): string | number => {
      switch (m) {
        case 'n':
          return file;
        case 'N':
          return link !== null ? `'${file}' -> '${link}'` : file;
        case 'a':
          return (st.mode & 0o7777).toString(8);
        case 'A':
          return modeString(st.mode);
        case 'f':
          return st.mode.toString(16);
        case 'F':
          return fileType(st);
        case 'h':
          return st.nlink;
        case 'i':
          return st.ino;
        case 'u':
          return st.uid;
        case 'U':
          return names.user(st.uid);
        case 'g':
          return st.gid;
        case 'G':
          return names.group(st.gid);
        case 't':
          return st.rdevMajor.toString(16);
        case 'T':
          return st.rdevMinor.toString(16);
        case 's':
          return st.size;
        case 'b':
          return st.blocks;
        case 'B':
          return 512;
        case 'o':
          return st.blksize;
        case 'd':
          return st.dev;
        case 'D':
          return st.dev.toString(16);
        case 'x':
          return humanTime(st.atime);
        case 'y':
          return humanTime(st.mtime);
        case 'z':
          return humanTime(st.ctime);
        case 'X':
          return st.atime;
        case 'Y':
          return st.mtime;
        case 'Z':
          return st.ctime;
        default:
          return `?`;
      }
    };
    const text = fmt.replace(/%([-#0 +]*)(\d*)(?:\.(\d+))?([a-zA-Z%])/g, (_m, flags: string, width: string, prec: string | undefined, conv: string) => {
      if (conv === '%') return '%';
      let v = String(one(conv));
      if (prec !== undefined) v = v.slice(0, Number(prec));
      const w = Number(width || 0);
      if (flags.includes('-')) return v.padEnd(w);
      return flags.includes('0') ? v.padStart(w, '0') : v.padStart(w);
    });
    out.print(`${text}\n`);
  }
  await out.flush();
  return out.failed ? 1 : rc;
}
