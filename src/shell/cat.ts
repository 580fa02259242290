// Models coreutils/cat.c (busybox 1.36): cat [FILE|-]… — copies each file to stdout as it reads it;
// `can't open 'X': …` and `read error: …` for files that fail, `write error: …` when stdout fails.

import { isErrno } from '../kernel/errno.ts';
import { O_RDONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { err, getopt, resolvePath } from './applet.ts';

export async function catMain(p: Process): Promise<number> {
  const o = await getopt(p, 'cat', 'nbvteAu');
  if (!o) return 1;
  const files = o.rest.length > 0 ? o.rest : ['-'];
  let rc = 0;
  for (const f of files) {
    let fd: number | null = null;
    if (f !== '-') {
      try {
        fd = await p.sys.open(resolvePath(p.cwd, f), O_RDONLY);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `cat: can't open '${f}': ${e.message}\n`);
        rc = 1;
        continue;
      }
    }
    try {
      for (;;) {
        let chunk: Uint8Array;
        try {
          chunk = fd === null ? await p.stdin.read(65536) : await p.sys.read(fd, 65536);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `cat: read error: ${e.message}\n`);
          rc = 1;
          break;
        }
        if (chunk.length === 0) break;
        try {
          await p.stdout.write(chunk);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `cat: write error: ${e.message}\n`);
          return 1;
        }
      }
    } finally {
      if (fd !== null) await p.sys.close(fd);
    }
  }
  return rc;
}
