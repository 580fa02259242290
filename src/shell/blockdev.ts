// Models util-linux/blockdev.c (busybox 1.36): `blockdev OPTION DEVICE`, one block-device ioctl per
// call. The captured guest's blockdev is busybox's (called by bare name; the initramfs has no
// util-linux blockdev), so util-linux's --getpbsz, --getiomin, --report … are usage errors here.

import { isErrno } from '../kernel/errno.ts';
import { O_RDONLY } from '../kernel/syscalls.ts';
import {
  BLKBSZGET,
  BLKBSZSET,
  BLKFLSBUF,
  BLKGETSIZE,
  BLKGETSIZE64,
  BLKRAGET,
  BLKRASET,
  BLKROGET,
  BLKROSET,
  BLKRRPART,
  BLKSSZGET,
  ioctlValue,
} from '../kernel/uapi/fs.ts';
import type { Process } from './process.ts';
import { Out, err, positiveArg, resolvePath, showUsage } from './applet.ts';

/** How a command's value is passed and printed (bdcmd_flags). */
type Print = 'int' | 'ulong' | 'u64' | 'none';

interface BdCmd {
  readonly request: number;
  readonly print: Print;
  /** The ioctl argument, for the set commands. */
  readonly arg?: 'one' | 'zero' | 'user';
  /** --getsz: bytes → 512-byte sectors. */
  readonly scale512?: boolean;
}

const COMMANDS: { readonly [name: string]: BdCmd } = {
  setro: { request: BLKROSET, print: 'none', arg: 'one' },
  setrw: { request: BLKROSET, print: 'none', arg: 'zero' },
  getro: { request: BLKROGET, print: 'int' },
  getss: { request: BLKSSZGET, print: 'int' },
  getbsz: { request: BLKBSZGET, print: 'int' },
  setbsz: { request: BLKBSZSET, print: 'none', arg: 'user' },
  getsz: { request: BLKGETSIZE64, print: 'u64', scale512: true },
  getsize: { request: BLKGETSIZE, print: 'ulong' },
  getsize64: { request: BLKGETSIZE64, print: 'u64' },
  getra: { request: BLKRAGET, print: 'ulong' },
  setra: { request: BLKRASET, print: 'none', arg: 'user' },
  flushbufs: { request: BLKFLSBUF, print: 'none' },
  rereadpt: { request: BLKRRPART, print: 'none' },
};

const USAGE = 'OPTION BLOCKDEV';

export async function blockdevMain(p: Process): Promise<number> {
  const args = p.argv.slice(1);
  if (args.length < 2) return showUsage(p, 'blockdev', USAGE);
  const opt = args[0]!;
  const cmd = opt.startsWith('--') && Object.hasOwn(COMMANDS, opt.slice(2)) ? COMMANDS[opt.slice(2)] : undefined;
  if (!cmd) return showUsage(p, 'blockdev', USAGE);
  let i = 1;
  let value = cmd.arg === 'one' ? 1 : 0;
  if (cmd.arg === 'user') {
    const n = await positiveArg(p, 'blockdev', args[i++]!);
    if (n === null) return 1;
    value = n;
  }
  const dev = args[i];
  if (dev === undefined || i + 1 !== args.length) return showUsage(p, 'blockdev', USAGE);

  let fd: number;
  try {
    fd = await p.sys.open(resolvePath(p.cwd, dev), O_RDONLY);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `blockdev: can't open '${dev}': ${e.message}\n`);
    return 1;
  }
  let result: number;
  try {
    result = ioctlValue(await p.sys.ioctl(fd, cmd.request, cmd.arg ? value : undefined));
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `blockdev: ${dev}: ${e.message}\n`);
    await p.sys.close(fd).catch(() => undefined);
    return 1;
  }
  await p.sys.close(fd);
  if (cmd.scale512) result = Math.floor(result / 512);
  if (cmd.print === 'none') return 0;
  const o = new Out(p, 'blockdev');
  o.print(`${cmd.print === 'int' ? result | 0 : result}\n`);
  return (await o.flush()) ? 0 : 1;
}
