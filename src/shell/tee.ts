// Models coreutils/tee.c (busybox 1.36): tee [-ai] [FILE]… — copies stdin to stdout and to each FILE
// (truncated, or appended with -a); a FILE that cannot be opened is reported and the copy goes on (exit 1).

import { isErrno } from '../kernel/errno.ts';
import { O_APPEND, O_CREAT, O_TRUNC, O_WRONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { err, getopt, resolvePath } from './applet.ts';

export async function teeMain(p: Process): Promise<number> {
  const o = await getopt(p, 'tee', 'ai');
  if (!o) return 1;
  let rc = 0;
  const fds: { fd: number; name: string }[] = [];
  for (const f of o.rest) {
    if (f === '-') continue;
    try {
      const flags = O_WRONLY | O_CREAT | (o.flags.has('a') ? O_APPEND : O_TRUNC);
      fds.push({ fd: await p.sys.open(resolvePath(p.cwd, f), flags, 0o666), name: f });
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `tee: can't open '${f}': ${e.message}\n`);
      rc = 1;
    }
  }
  let stdoutOk = true;
  try {
    for (;;) {
      const chunk = await p.stdin.read(65536);
      if (chunk.length === 0) break;
      if (stdoutOk) {
        try {
          await p.stdout.write(chunk);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `tee: standard output: ${e.message}\n`);
          stdoutOk = false;
          rc = 1;
        }
      }
      for (const f of fds) {
        try {
          await p.sys.write(f.fd, chunk);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `tee: ${f.name}: ${e.message}\n`);
          rc = 1;
        }
      }
    }
  } finally {
    for (const f of fds) await p.sys.close(f.fd).catch(() => undefined);
  }
  return rc;
}
