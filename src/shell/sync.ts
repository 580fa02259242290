// Models coreutils/sync.c (busybox 1.36, FEATURE_SYNC_FANCY): `sync` writes back everything
// (sync(2)); `sync [-d|-f] FILE...` fsyncs each named file.

import { isErrno } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { err, getopt, resolvePath, showUsage } from './applet.ts';

export async function syncMain(p: Process): Promise<number> {
  const parsed = await getopt(p, 'sync', 'df');
  if (!parsed || (parsed.flags.has('d') && parsed.flags.has('f'))) return showUsage(p, 'sync', '[-df] [FILE]...');
  if (parsed.rest.length === 0) {
    await p.sys.sync?.();
    return 0;
  }
  let rc = 0;
  for (const f of parsed.rest) {
    let fd: number;
    try {
      fd = await p.sys.open(resolvePath(p.cwd, f), O_RDONLY | O_NONBLOCK);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `sync: can't open '${f}': ${e.message}\n`);
      rc = 1;
      continue;
    }
    try {
      await p.sys.fsync(fd);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `sync: ${f}: ${e.message}\n`);
      rc = 1;
    } finally {
      await p.sys.close(fd).catch(() => undefined);
    }
  }
  return rc;
}
