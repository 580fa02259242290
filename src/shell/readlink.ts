// Models coreutils/readlink.c and coreutils/realpath.c (busybox 1.36): readlink [-fnv] FILE and
// realpath FILE… — `-f` and realpath canonicalise through the kernel's realpath.

import { isErrno } from '../kernel/errno.ts';
import type { Process } from './process.ts';
import { Out, err, getopt, resolvePath } from './applet.ts';

export async function readlinkMain(p: Process): Promise<number> {
  const o = await getopt(p, 'readlink', 'fnvsq');
  if (!o) return 1;
  const file = o.rest[0];
  if (file === undefined) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: readlink [-fnv] FILE\n');
    return 1;
  }
  const path = resolvePath(p.cwd, file);
  let target: string;
  try {
    target = o.flags.has('f') ? await p.sys.realpath(path) : await p.sys.readlink(path);
  } catch (e) {
    if (!isErrno(e)) throw e;
    if (o.flags.has('v')) await err(p, `readlink: ${file}: ${e.message}\n`);
    return 1;
  }
  const out = new Out(p, 'readlink');
  out.print(o.flags.has('n') ? target : `${target}\n`);
  await out.flush();
  return out.failed ? 1 : 0;
}

export async function realpathMain(p: Process): Promise<number> {
  const files = p.argv.slice(1);
  if (files.length === 0) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: realpath FILE...\n');
    return 1;
  }
  const out = new Out(p, 'realpath');
  let rc = 0;
  for (const f of files) {
    try {
      out.print(`${await p.sys.realpath(resolvePath(p.cwd, f))}\n`);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out.flush();
      await err(p, `realpath: ${f}: ${e.message}\n`);
      rc = 1;
    }
  }
  await out.flush();
  return out.failed ? 1 : rc;
}
