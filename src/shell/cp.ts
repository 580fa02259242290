// Models coreutils/cp.c and libbb/copy_file.c (busybox 1.36): cp [-rRaPdfpv] SOURCE… DEST — regular files
// copied through read/write, directories with -r/-R/-a, symlinks kept with -a/-d/-P (else followed),
// character and block devices re-created only with -a (otherwise their data is read).

import { isErrno } from '../kernel/errno.ts';
import {
  O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type Stat,
} from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { basename, err, getopt, resolvePath } from './applet.ts';

const USAGE = 'BusyBox v1.36.1 multi-call binary.\n\nUsage: cp [-arPLHpfinlsTu] SOURCE DEST\nor: cp [-arPLHpfinlsu] SOURCE... { -t DIRECTORY | DIRECTORY }\n';

export interface CopyOpts {
  readonly recursive: boolean;
  readonly noDereference: boolean;
  readonly force: boolean;
  readonly verbose: boolean;
  /** The applet name errors carry (cp, mv). */
  readonly prog: string;
}

async function statOrNull(p: Process, path: string, follow: boolean): Promise<Stat | null> {
  try {
    return follow ? await p.sys.stat(path) : await p.sys.lstat(path);
  } catch (e) {
    if (!isErrno(e)) throw e;
    return null;
  }
}

/** copy_file: SRC (shown as `srcName`) to DST; false after reporting a failure. */
export async function copyFile(p: Process, src: string, dst: string, srcName: string, dstName: string, o: CopyOpts): Promise<boolean> {
  let sst: Stat;
  try {
    sst = o.noDereference ? await p.sys.lstat(src) : await p.sys.stat(src);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `${o.prog}: can't stat '${srcName}': ${e.message}\n`);
    return false;
  }
  const dstSt = await statOrNull(p, dst, true);
  if (dstSt !== null && dstSt.ino !== 0 && dstSt.ino === sst.ino && dstSt.dev === sst.dev) {
    await err(p, `${o.prog}: '${srcName}' and '${dstName}' are the same file\n`);
    return false;
  }
  const type = sst.mode & S_IFMT;
  if (type === S_IFDIR) {
    if (!o.recursive) {
      await err(p, `${o.prog}: omitting directory '${srcName}'\n`);
      return false;
    }
    if (dstSt === null) {
      try {
        await p.sys.mkdir(dst, sst.mode & 0o7777);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `${o.prog}: can't create directory '${dstName}': ${e.message}\n`);
        return false;
      }
    } else if ((dstSt.mode & S_IFMT) !== S_IFDIR) {
      await err(p, `${o.prog}: target '${dstName}' is not a directory\n`);
      return false;
    }
    let ok = true;
    let entries;
    try {
      entries = await p.sys.readdir(src);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `${o.prog}: can't open '${srcName}': ${e.message}\n`);
      return false;
    }
    for (const d of entries) {
      if (d.name === '.' || d.name === '..') continue;
      if (!(await copyFile(p, `${src}/${d.name}`, `${dst}/${d.name}`, `${srcName}/${d.name}`, `${dstName}/${d.name}`, o))) ok = false;
    }
    return ok;
  }
  if (type === S_IFLNK) {
    try {
      const target = await p.sys.readlink(src);
      if (dstSt !== null || (await statOrNull(p, dst, false)) !== null) await p.sys.unlink(dst);
      await p.sys.symlink(target, dst);
      return true;
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `${o.prog}: can't create symlink '${dstName}': ${e.message}\n`);
      return false;
    }
  }
  if (type !== S_IFREG && o.noDereference) {
    await err(p, `${o.prog}: special files are not supported here: '${srcName}'\n`);
    return false;
  }
  let ifd: number;
  try {
    ifd = await p.sys.open(src, O_RDONLY);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `${o.prog}: can't open '${srcName}': ${e.message}\n`);
    return false;
  }
  try {
    let ofd: number;
    try {
      ofd = await p.sys.open(dst, O_WRONLY | O_CREAT | O_TRUNC, sst.mode & 0o777);
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (o.force && dstSt !== null) {
        try {
          await p.sys.unlink(dst);
          ofd = await p.sys.open(dst, O_WRONLY | O_CREAT | O_TRUNC, sst.mode & 0o777);
        } catch (e2) {
          if (!isErrno(e2)) throw e2;
          await err(p, `${o.prog}: can't create '${dstName}': ${e2.message}\n`);
          return false;
        }
      } else {
        await err(p, `${o.prog}: can't create '${dstName}': ${e.message}\n`);
        return false;
      }
    }
    try {
      for (;;) {
        let chunk: Uint8Array;
        try {
          chunk = await p.sys.read(ifd, 65536);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `${o.prog}: read error: ${e.message}\n`);
          return false;
        }
        if (chunk.length === 0) break;
        try {
          await p.sys.write(ofd, chunk);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `${o.prog}: write error: ${e.message}\n`);
          return false;
        }
      }
    } finally {
      await p.sys.close(ofd).catch(() => undefined);
    }
  } finally {
    await p.sys.close(ifd).catch(() => undefined);
  }
  if (o.verbose) await p.stdout.write(`'${srcName}' -> '${dstName}'\n`);
  return true;
}

export async function cpMain(p: Process): Promise<number> {
  const o = await getopt(p, 'cp', 'arRPLHpfinlsTudvt:');
  if (!o) return 1;
  const f = o.flags;
  const opts: CopyOpts = {
    recursive: f.has('r') || f.has('R') || f.has('a'),
    noDereference: f.has('a') || f.has('d') || f.has('P'),
    force: f.has('f'),
    verbose: f.has('v'),
    prog: 'cp',
  };
  const operands = [...o.rest];
  let dest = o.values.get('t');
  if (dest === undefined) {
    if (operands.length < 2) {
      await err(p, USAGE);
      return 1;
    }
    dest = operands.pop()!;
  }
  const destPath = resolvePath(p.cwd, dest);
  const dst = await statOrNull(p, destPath, true);
  const intoDir = dst !== null && (dst.mode & S_IFMT) === S_IFDIR && !f.has('T');
  if (operands.length > 1 && !intoDir) {
    await err(p, `cp: '${dest}' is not a directory\n`);
    return 1;
  }
  let rc = 0;
  for (const s of operands) {
    const name = intoDir ? `${dest.replace(/\/+$/, '')}/${basename(s)}` : dest;
    if (!(await copyFile(p, resolvePath(p.cwd, s), resolvePath(p.cwd, name), s, name, opts))) rc = 1;
  }
  return rc;
}
