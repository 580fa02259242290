// Models include/applets.src.h (busybox 1.36): the applet table of the captured guest — which names
// exist and where they are installed. Other userland (lsscsi, sg3_utils, udev) is added by its owners.

import type { Process } from './process.ts';
import { CommandRegistry } from './registry.ts';
import { echoMain, printfMain, testMain } from './builtins.ts';
import { catMain } from './cat.ts';
import {
  basenameMain,
  dirnameMain,
  dmesgMain,
  envMain,
  falseMain,
  idMain,
  lnMain,
  mkdirMain,
  pwdMain,
  rmMain,
  seqMain,
  sleepMain,
  touchMain,
  trMain,
  trueMain,
  uniqMain,
} from './coreutils_misc.ts';
import { cutMain } from './cut.ts';
import { cpMain } from './cp.ts';
import { mvMain } from './mv.ts';
import { sedMain } from './sed.ts';
import { teeMain } from './tee.ts';
import { makeXargs } from './xargs.ts';
import { ddMain } from './dd.ts';
import { findMain } from './find.ts';
import { grepMain } from './grep.ts';
import { headMain } from './head.ts';
import { lsMain } from './ls.ts';
import { odMain } from './od.ts';
import { readlinkMain, realpathMain } from './readlink.ts';
import { sortMain } from './sort.ts';
import { statMain } from './stat.ts';
import { makeSh, makeSu } from './su.ts';
import { tailMain } from './tail.ts';
import { wcMain } from './wc.ts';
import { blockdevMain } from './blockdev.ts';
import { fdiskMain } from './fdisk.ts';
import { hexdumpMain } from './hexdump.ts';
import { insmodMain, lsmodMain, modprobeMain, rmmodMain } from './modutils.ts';
import { syncMain } from './sync.ts';
import { unameMain } from './uname.ts';

const named = (fn: (p: Process, prog: string) => Promise<number>, prog: string) => (p: Process) => fn(p, prog);

/** A registry holding every busybox applet of this userland; add the other tools to it. */
export function createBusyboxRegistry(): CommandRegistry {
  const r = new CommandRegistry();
  const bin = (name: string, run: (p: Process) => Promise<number>): void => {
    r.addCommand(name, run);
  };
  bin('echo', named(echoMain, 'echo'));
  bin('printf', named(printfMain, 'printf'));
  bin('test', named(testMain, 'test'));
  bin('[', named(testMain, '['));
  bin('cat', catMain);
  bin('ls', lsMain);
  bin('stat', statMain);
  bin('readlink', readlinkMain);
  bin('realpath', realpathMain);
  bin('find', findMain);
  bin('od', odMain);
  bin('head', headMain);
  bin('tail', tailMain);
  bin('grep', grepMain);
  bin('wc', wcMain);
  bin('cut', cutMain);
  bin('sort', sortMain);
  bin('uniq', uniqMain);
  bin('tr', trMain);
  bin('dd', ddMain);
  bin('sleep', sleepMain);
  bin('id', idMain);
  bin('dmesg', dmesgMain);
  bin('true', trueMain);
  bin('false', falseMain);
  bin('basename', basenameMain);
  bin('dirname', dirnameMain);
  bin('mkdir', mkdirMain);
  bin('rm', rmMain);
  bin('ln', lnMain);
  bin('touch', touchMain);
  bin('seq', seqMain);
  bin('sed', sedMain);
  bin('tee', teeMain);
  bin('cp', cpMain);
  bin('mv', mvMain);
  bin('xargs', makeXargs(r));
  bin('env', envMain);
  bin('pwd', pwdMain);
  bin('sh', makeSh(r));
  bin('ash', makeSh(r));
  bin('su', makeSu(r));
  registerStorageTools(r);
  return r;
}

/** The block-device and module applets (blockdev, fdisk, modprobe …), also for registries built elsewhere. */
export function registerStorageTools(r: CommandRegistry): CommandRegistry {
  const bin = (name: string, run: (p: Process) => Promise<number>): void => {
    r.addCommand(name, run);
  };
  bin('blockdev', blockdevMain);
  bin('fdisk', fdiskMain);
  bin('modprobe', modprobeMain);
  bin('insmod', insmodMain);
  bin('rmmod', rmmodMain);
  bin('lsmod', lsmodMain);
  bin('uname', unameMain);
  bin('sync', syncMain);
  bin('hexdump', named(hexdumpMain, 'hexdump'));
  bin('hd', named(hexdumpMain, 'hd'));
  return r;
}
