// Models coreutils/head.c (busybox 1.36): head [-n N] [-c N] [FILE]… with `==> F <==` headers for several files.

import type { Process } from './process.ts';
import { Out, getopt, latin1, readInputs } from './applet.ts';

export async function headMain(p: Process): Promise<number> {
  const argv = p.argv.slice(1).map((a) => (/^-\d+$/.test(a) ? `-n${a.slice(1)}` : a));
  const o = await getopt(p, 'head', 'n:c:qv', argv);
  if (!o) return 1;
  const n = Number(o.values.get('n') ?? 10);
  const c = o.values.get('c');
  const out = new Out(p, 'head', true);
  const many = o.rest.length > 1 || o.flags.has('v');
  let first = true;
  const rc = await readInputs(p, 'head', o.rest, (data, name) => {
    if (many && !o.flags.has('q')) out.print(`${first ? '' : '\n'}==> ${name === '-' ? 'standard input' : name} <==\n`);
    first = false;
    const s = latin1(data);
    if (c !== undefined) out.print(s.slice(0, Number(c)));
    else {
      let end = 0;
      for (let i = 0; i < n && end < s.length; i++) {
        const nl = s.indexOf('\n', end);
        end = nl < 0 ? s.length : nl + 1;
      }
      out.print(s.slice(0, end));
    }
  }, () => {
    // Stop reading once the first N bytes or lines are in, as head's streaming reads do.
    let lines = 0;
    return (chunk, total) => {
      if (c !== undefined) return total >= Number(c);
      for (const b of chunk) if (b === 10) lines++;
      return lines >= n;
    };
  });
  await out.flush();
  return out.failed ? 1 : rc;
}

