// Models findutils/find.c (busybox 1.36): find [PATH]… [-maxdepth N] [-mindepth N] [-type X]
// [-name PAT] [-iname PAT] [-path PAT] [-print] [!] — expressions ANDed; symlinks not followed.

import { isErrno } from '../kernel/errno.ts';
import type { Stat } from '../kernel/syscalls.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, err, resolvePath } from './applet.ts';
import { patternRegExp } from './sh.ts';

type Test = (path: string, name: string, st: Stat) => boolean;
const TYPES: Record<string, number> = { f: S_IFREG, d: S_IFDIR, l: S_IFLNK, b: S_IFBLK, c: S_IFCHR, p: S_IFIFO, s: S_IFSOCK };

const glob = (pat: string, slash: boolean, icase: boolean): RegExp => {
  const re = patternRegExp([{ s: pat, q: false, split: false }], slash);
  return icase ? new RegExp(re.source, 'is') : re;
};

export async function findMain(p: Process): Promise<number> {
  const args = p.argv.slice(1);
  const roots: string[] = [];
  while (args.length > 0 && !/^[-!(]/.test(args[0]!)) roots.push(args.shift()!);
  if (roots.length === 0) roots.push('.');
  let maxdepth = Infinity;
  let mindepth = 0;
  const tests: Test[] = [];
  let negate = false;
  while (args.length > 0) {
    const a = args.shift()!;
    const val = async (): Promise<string | null> => {
      const v = args.shift();
      if (v === undefined) await err(p, `find: missing argument to '${a}'\n`);
      return v ?? null;
    };
    let t: Test | null = null;
    if (a === '!' || a === '-not') {
      negate = !negate;
      continue;
    } else if (a === '-print' || a === '-a' || a === '-and') continue;
    else if (a === '-maxdepth' || a === '-mindepth') {
      const v = await val();
      if (v === null) return 1;
      if (a === '-maxdepth') maxdepth = Number(v);
      else mindepth = Number(v);
      continue;
    } else if (a === '-type') {
      const v = await val();
      if (v === null) return 1;
      const want = TYPES[v];
      if (want === undefined) {
        await err(p, `find: unknown argument to -type: ${v}\n`);
        return 1;
      }
      t = (_p, _n, st) => (st.mode & S_IFMT) === want;
    } else if (a === '-name' || a === '-iname') {
      const v = await val();
      if (v === null) return 1;
      const re = glob(v, false, a === '-iname');
      t = (_p, n) => re.test(n);
    } else if (a === '-path' || a === '-ipath' || a === '-wholename') {
      const v = await val();
      if (v === null) return 1;
      const re = glob(v, true, a === '-ipath');
      t = (path) => re.test(path);
    } else {
      await err(p, `find: unrecognized: ${a}\n`);
      return 1;
    }
    const neg = negate;
    const inner = t;
    tests.push(neg ? (x, y, z) => !inner(x, y, z) : inner);
    negate = false;
  }
  const out = new Out(p, 'find');
  let rc = 0;
  const walk = async (path: string, depth: number): Promise<void> => {
    let st: Stat;
    try {
      st = await p.sys.lstat(resolvePath(p.cwd, path));
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out.flush();
      await err(p, `find: ${path}: ${e.message}\n`);
      rc = 1;
      return;
    }
    const name = path === '/' ? '/' : path.replace(/\/+$/, '').slice(path.replace(/\/+$/, '').lastIndexOf('/') + 1);
    if (depth >= mindepth && tests.every((t) => t(path, name, st))) out.print(`${path}\n`);
    if ((st.mode & S_IFMT) !== S_IFDIR || depth >= maxdepth) return;
    let names: string[];
    try {
      names = (await p.sys.readdir(resolvePath(p.cwd, path))).map((d) => d.name);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out.flush();
      await err(p, `find: ${path}: ${e.message}\n`);
      rc = 1;
      return;
    }
    await out.flush(4096);
    for (const n of names) await walk(path.endsWith('/') ? path + n : `${path}/${n}`, depth + 1);
  };
  for (const r of roots) await walk(r, 0);
  await out.flush();
  return out.failed ? 1 : rc;
}
