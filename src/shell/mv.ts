// Models coreutils/mv.c (busybox 1.36): mv [-finTv] SOURCE… DEST — rename(2), into DEST when it is a
// directory; across filesystems (EXDEV) a copy followed by removal of the source.

import { isErrno } from '../kernel/errno.ts';
import { S_IFDIR, S_IFMT } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { basename, err, getopt, resolvePath } from './applet.ts';
import { copyFile } from './cp.ts';

const USAGE = 'BusyBox v1.36.1 multi-call binary.\n\nUsage: mv [-fin] SOURCE DEST\nor: mv [-fin] SOURCE... DIRECTORY\n';

async function removeTree(p: Process, path: string): Promise<void> {
  const st = await p.sys.lstat(path);
  if ((st.mode & S_IFMT) === S_IFDIR) {
    for (const d of await p.sys.readdir(path)) if (d.name !== '.' && d.name !== '..') await removeTree(p, `${path}/${d.name}`);
    await p.sys.rmdir(path);
  } else await p.sys.unlink(path);
}

export async function mvMain(p: Process): Promise<number> {
  const o = await getopt(p, 'mv', 'finTvt:');
  if (!o) return 1;
  const operands = [...o.rest];
  let dest = o.values.get('t');
  if (dest === undefined) {
    if (operands.length < 2) {
      await err(p, USAGE);
      return 1;
    }
    dest = operands.pop()!;
  }
  let intoDir = false;
  try {
    intoDir = ((await p.sys.stat(resolvePath(p.cwd, dest))).mode & S_IFMT) === S_IFDIR && !o.flags.has('T');
  } catch (e) {
    if (!isErrno(e)) throw e;
  }
  if (operands.length > 1 && !intoDir) {
    await err(p, `mv: '${dest}' is not a directory\n`);
    return 1;
  }
  let rc = 0;
  for (const s of operands) {
    const name = intoDir ? `${dest.replace(/\/+$/, '')}/${basename(s)}` : dest;
    const from = resolvePath(p.cwd, s);
    const to = resolvePath(p.cwd, name);
    if (o.flags.has('n')) {
      try {
        await p.sys.lstat(to);
        continue;
      } catch (e) {
        if (!isErrno(e)) throw e;
      }
    }
    try {
      await p.sys.rename(from, to);
      if (o.flags.has('v')) await p.stdout.write(`'${s}' -> '${name}'\n`);
      continue;
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (e.code !== 'EXDEV') {
        await err(p, `mv: can't rename '${s}': ${e.message}\n`);
        rc = 1;
        continue;
      }
    }
    const copied = await copyFile(p, from, to, s, name, { recursive: true, noDereference: true, force: true, verbose: false, prog: 'mv' });
    if (!copied) {
      rc = 1;
      continue;
    }
    try {
      await removeTree(p, from);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `mv: can't remove '${s}': ${e.message}\n`);
      rc = 1;
    }
  }
  return rc;
}
