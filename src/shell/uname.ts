// Models coreutils/uname.c (busybox 1.36): `uname [-snrvmpioa]`. Fields print in a fixed order
// (kernel name, node, release, version, machine, processor, platform, OS) whatever the option order;
// processor and platform are "unknown", and -a leaves them out.

import type { Process } from './process.ts';
import { Out, getopt, showUsage } from './applet.ts';

const OS_NAME = 'GNU/Linux';

export async function unameMain(p: Process): Promise<number> {
  const parsed = await getopt(p, 'uname', 'snrvmpioa');
  if (!parsed || parsed.rest.length > 0) return showUsage(p, 'uname', '[-amnrspvio]');
  const f = parsed.flags;
  const u = p.sys.uname();
  const all = f.has('a');
  const unknown = all ? '' : 'unknown';
  const fields: [string, string][] = [
    ['s', u.sysname],
    ['n', u.nodename],
    ['r', u.release],
    ['v', u.version],
    ['m', u.machine],
    ['p', unknown],
    ['i', unknown],
    ['o', OS_NAME],
  ];
  const want = all ? new Set('snrvmpio') : f.size === 0 ? new Set('s') : f;
  const o = new Out(p, 'uname');
  o.print(`${fields
    .filter(([c, v]) => want.has(c) && v !== '')
    .map(([, v]) => v)
    .join(' ')}\n`);
  return (await o.flush()) ? 0 : 1;
}
