// Models coreutils/tail.c (busybox 1.36): tail [-n [+]N] [-c [+]N] [FILE]… (no -f: files here do not grow).

import type { Process } from './process.ts';
import { Out, getopt, latin1, readInputs } from './applet.ts';

export async function tailMain(p: Process): Promise<number> {
  const argv = p.argv.slice(1).map((a) => (/^-\d+$/.test(a) ? `-n${a.slice(1)}` : a));
  const o = await getopt(p, 'tail', 'n:c:qvfF', argv);
  if (!o) return 1;
  const nArg = o.values.get('n') ?? '10';
  const cArg = o.values.get('c');
  const out = new Out(p, 'tail', true);
  const many = o.rest.length > 1 || o.flags.has('v');
  let first = true;
  const rc = await readInputs(p, 'tail', o.rest, (data, name) => {
    if (many && !o.flags.has('q')) out.print(`${first ? '' : '\n'}==> ${name === '-' ? 'standard input' : name} <==\n`);
    first = false;
    const s = latin1(data);
    if (cArg !== undefined) {
      const k = Number(cArg.replace('+', ''));
      out.print(cArg.startsWith('+') ? s.slice(Math.max(0, k - 1)) : k === 0 ? '' : s.slice(-k));
      return;
    }
    const lines = s.split(/(?<=\n)/);
    const k = Number(nArg.replace('+', ''));
    out.print((nArg.startsWith('+') ? lines.slice(Math.max(0, k - 1)) : k === 0 ? [] : lines.slice(-k)).join(''));
  });
  await out.flush();
  return out.failed ? 1 : rc;
}
