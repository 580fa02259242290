// Ours: sg_dd, sg_reset, sg_start, sg_prevent and eject against the golden sysfs fake, with the SG_IO
// answers, the SG_SCSI_RESET outcomes and the CD-ROM ioctls of the captured guest.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Errno } from '../../../src/kernel/errno.ts';
import type { Syscalls } from '../../../src/kernel/syscalls.ts';
import { CDROMEJECT, CDROM_LOCKDOOR } from '../../../src/kernel/uapi/cdrom.ts';
import { SG_GET_VERSION_NUM, SG_IO, SG_SCSI_RESET, SG_SET_RESERVED_SIZE, type SgIoHdrIn } from '../../../src/kernel/uapi/sg.ts';
import { ejectMain } from '../../../src/shell/eject.ts';
import { sgDd } from '../../../src/shell/sg_dd.ts';
import { sgPrevent } from '../../../src/shell/sg_prevent.ts';
import { sgReset } from '../../../src/shell/sg_reset.ts';
import { sgStart } from '../../../src/shell/sg_start.ts';
import { fixedSense, runTool, type GoldenSysfsKernel, type ScsiResponder } from '../../fakes/golden_sysfs_kernel.ts';
import { goldenWorld } from './golden_device.ts';

interface Step { cmd: string; rc: number; stdout: string; stderr: string }
const STEPS = JSON.parse(readFileSync(new URL('../../fixtures/golden_steps/sg_tools.json', import.meta.url), 'utf8')) as Record<string, Step>;

type IoctlHook = (path: string, request: number, arg: unknown) => unknown;

/**
 * The fake kernel plus the ioctls it does not answer itself (the hook returns undefined to pass on), and a
 * record of every ioctl and every CDB sent, per node.
 */
function withIoctls(k: GoldenSysfsKernel, hook: IoctlHook): { sys: Syscalls; calls: [string, number, unknown][] } {
  const paths = new Map<number, string>();
  const calls: [string, number, unknown][] = [];
  const sys = new Proxy(k, {
    get(target, prop) {
      if (prop === 'open') {
        return async (path: string, flags: number, mode?: number): Promise<number> => {
          const fd = await (target.open as (p: string, f: number, m?: number) => Promise<number>)(path, flags, mode);
          paths.set(fd, path);
          return fd;
        };
      }
      if (prop === 'ioctl') {
        return async (fd: number, request: number, arg?: unknown): Promise<unknown> => {
          const path = paths.get(fd) ?? '?';
          calls.push([path, request, request === SG_IO ? Array.from((arg as SgIoHdrIn).cmdp) : arg]);
          const r = hook(path, request, arg);
          if (r instanceof Errno) throw r;
          if (r !== undefined) return r;
          return target.ioctl(fd, request, arg);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as Syscalls;
  return { sys, calls };
}

/** What the sg driver answers to the ioctls sg_dd makes besides SG_IO. */
const sgDriverIoctls: IoctlHook = (_path, request) => {
  if (request === SG_SET_RESERVED_SIZE) return 0;
  if (request === SG_GET_VERSION_NUM) return 30536;
  return undefined;
};

function respondWith(k: GoldenSysfsKernel, node: string, answer: (cdb: Uint8Array) => ReturnType<ScsiResponder> | undefined): void {
  const orig = k.responders.get(node)!;
  k.responders.set(node, (cdb, out) => answer(cdb) ?? orig(cdb, out));
}

describe('sg_dd', () => {
  it('error_injection sg_read_err_report: 256 ABORTED COMMAND answers, then "too many", rc 11 (golden)', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    w.kernel.addDev('/dev/null', 'c', 1, 3);
    // blkdebug's EIO at sector 65536 reaches the guest as ABORTED COMMAND / I/O PROCESS TERMINATED.
    respondWith(w.kernel, '/dev/sg0', (cdb) => (cdb[0] === 0x28 ? { kind: 'check', sense: fixedSense(0xb, 0x00, 0x06) } : undefined));
    const { sys, calls } = withIoctls(w.kernel, sgDriverIoctls);
    const golden = STEPS['error_injection.sg_read_err_report']!;
    const r = await runTool(sys, sgDd, ['sg_dd', 'if=/dev/sg0', 'of=/dev/null', 'bs=512', 'skip=65536', 'count=1', 'verbose=2']);
    expect(r.stderr).toBe(golden.stderr);
    expect(r.stdout).toBe('');
    expect(`rc=${r.rc}\n`).toBe(golden.stdout);
    const reads = calls.filter(([, req, a]) => req === SG_IO && (a as number[])[0] === 0x28);
    expect(reads).toHaveLength(256);
    // READ(10): opcode, flags, LBA 65536 (00 01 00 00), group, transfer length 1.
    expect(reads[0]![2]).toEqual([0x28, 0, 0x00, 0x01, 0x00, 0x00, 0, 0x00, 0x01, 0]);
  });

  it('copies blocks from an sg device into a file (READ(10) of bpt blocks at a time) and reports the records', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    const data = new Uint8Array(4 * 512).map((_, i) => i & 0xff);
    respondWith(w.kernel, '/dev/sg0', (cdb) => (cdb[0] === 0x28 ? { kind: 'good', data } : undefined));
    const written: Uint8Array[] = [];
    const { sys, calls } = withIoctls(w.kernel, sgDriverIoctls);
    const out = new Proxy(sys, {
      get(t, prop) {
        if (prop === 'open') return async () => 99;
        if (prop === 'stat') return async (path: string) => (path === '/tmp/o' ? Promise.reject(new Errno('ENOENT')) : t.stat(path));
        if (prop === 'write') return async (_fd: number, b: Uint8Array) => { written.push(b.slice()); return b.length; };
        if (prop === 'close') return async () => undefined;
        return Reflect.get(t, prop) as unknown;
      },
    });
    // of= is a new file: sg_dd opens it O_WRONLY|O_CREAT; if= goes through the real (fake) open.
    const mixed = new Proxy(sys, {
      get(t, prop) {
        if (prop === 'open') return async (path: string, flags: number) => (path === '/tmp/o' ? out.open(path, flags) : t.open(path, flags));
        if (prop === 'write' || prop === 'stat') return Reflect.get(out, prop) as unknown;
        if (prop === 'close') return async (fd: number) => (fd === 99 ? undefined : t.close(fd));
        return Reflect.get(t, prop) as unknown;
      },
    });
    const r = await runTool(mixed, sgDd, ['sg_dd', 'if=/dev/sg0', 'of=/tmp/o', 'bs=512', 'count=4', 'skip=8']);
    expect(r).toEqual({ rc: 0, stdout: '', stderr: '4+0 records in\n4+0 records out\n' });
    expect(Buffer.concat(written)).toEqual(Buffer.from(data));
    const reads = calls.filter(([, req, a]) => req === SG_IO && (a as number[])[0] === 0x28).map(([, , a]) => a);
    // LBA 8, 4 blocks.
    expect(reads).toEqual([[0x28, 0, 0, 0, 0, 8, 0, 0, 4, 0]]);
  });

  it('without count= on an sg device asks READ CAPACITY(10) and copies the whole device', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    w.kernel.addDev('/dev/null', 'c', 1, 3);
    respondWith(w.kernel, '/dev/sg0', (cdb) => (cdb[0] === 0x28 ? { kind: 'good', data: new Uint8Array(((cdb[7]! << 8) | cdb[8]!) * 512) } : undefined));
    const { sys, calls } = withIoctls(w.kernel, sgDriverIoctls);
    const r = await runTool(sys, sgDd, ['sg_dd', 'if=/dev/sg0', 'of=/dev/null', 'bs=512']);
    // The golden disk: 131072 blocks of 512 bytes, 128 blocks per READ.
    expect(r).toEqual({ rc: 0, stdout: '', stderr: '131072+0 records in\n131072+0 records out\n' });
    expect(calls.filter(([, req, a]) => req === SG_IO && (a as number[])[0] === 0x28)).toHaveLength(1024);
  });

  it('reports usage errors with sg3_utils texts and exit statuses', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    expect(await runTool(w.kernel, sgDd, ['sg_dd', 'if=/dev/sg0', 'iflag=bogus'])).toEqual({
      rc: 1, stdout: '', stderr: "unrecognised flag: bogus\nsg_dd: bad argument to 'iflag='\n",
    });
    expect(await runTool(w.kernel, sgDd, ['sg_dd', 'bs=512', 'if=/nope', 'of=.'])).toEqual({
      rc: 15, stdout: '', stderr: 'sg_dd: unable access /nope\n',
    });
    expect(await runTool(w.kernel, sgDd, ['sg_dd', 'bs=512', 'foo=1'])).toEqual({
      rc: 1, stdout: '', stderr: "Unrecognized option 'foo'\nFor more information use '--help'\n",
    });
  });
});

describe('sg_reset (eh_resets goldens)', () => {
  // virtio_scsi 6.1 has only a device-reset handler: the others are EIO from scsi_ioctl_reset.
  const resetHook: IoctlHook = (_p, request, arg) => {
    if (request !== SG_SCSI_RESET) return undefined;
    return (Number(arg) & 0xff) === 1 ? 0 : new Errno('EIO');
  };
  for (const [label, flag] of [['reset_device', '-d'], ['reset_target', '-t'], ['reset_bus', '-b'], ['reset_host', '-H']] as const) {
    it(`${label}: sg_reset -v ${flag}`, async () => {
      const golden = STEPS[`eh_resets.${label}`]!;
      const w = goldenWorld('seed_single_disk', 'boot');
      const { sys, calls } = withIoctls(w.kernel, resetHook);
      const r = await runTool(sys, sgReset, ['sg_reset', '-v', flag, '/dev/sg0']);
      // The golden line is `sg_reset …; echo rc=$?; cat …/state`: strip the two trailing lines.
      const m = /^([\s\S]*)rc=(\d+)\nrunning\n$/.exec(golden.stdout)!;
      expect(r).toEqual({ rc: Number(m[2]), stdout: m[1], stderr: golden.stderr });
      expect(calls.filter(([, req]) => req === SG_SCSI_RESET).map(([, , a]) => a)).toEqual([{ '-d': 1, '-t': 4, '-b': 2, '-H': 3 }[flag]]);
    });
  }

  it('--no-esc adds 0x100 and drops the "(or …)" from the completion line', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    const { sys, calls } = withIoctls(w.kernel, resetHook);
    const r = await runTool(sys, sgReset, ['sg_reset', '-v', '-N', '-d', '/dev/sg0']);
    expect(r).toEqual({ rc: 0, stdout: 'sg_reset: starting device reset\nsg_reset: completed device reset\n', stderr: '' });
    expect(calls.at(-1)![2]).toBe(0x101);
  });

  it('refuses two kinds of reset, and a missing device', async () => {
    const w = goldenWorld('seed_single_disk', 'boot');
    expect(await runTool(w.kernel, sgReset, ['sg_reset', '-d', '-t', '/dev/sg0'])).toEqual({
      rc: 1, stdout: '', stderr: 'Can only request one type of reset per invocation\n' });
    expect(await runTool(w.kernel, sgReset, ['sg_reset', '-d', '/dev/sg9'])).toEqual({
      rc: 1, stdout: '', stderr: 'sg_reset: open error: /dev/sg9: No such file or directory\n' });
  });
});

describe('sg_start / sg_prevent', () => {
  it('sg_start --eject while the tray is locked: ILLEGAL REQUEST 5/53/02, exit status 5', async () => {
    const w = goldenWorld('seed_disk_and_cd_same_bus', 'boot');
    respondWith(w.kernel, '/dev/sg1', (cdb) => (cdb[0] === 0x1b ? { kind: 'check', sense: fixedSense(0x5, 0x53, 0x02) } : undefined));
    const { sys, calls } = withIoctls(w.kernel, () => undefined);
    expect(await runTool(sys, sgStart, ['sg_start', '--eject', '/dev/sg1'])).toEqual({
      rc: 5, stdout: '', stderr: 'Illegal request\nSTART STOP UNIT command failed\nsg_start failed: Illegal request\n' });
    // START STOP UNIT with LoEj=1, Start=0.
    expect(calls.at(-1)![2]).toEqual([0x1b, 0, 0, 0, 0x02, 0]);
    expect(await runTool(sys, sgStart, ['sg_start', '-v', '--eject', '/dev/sg1'])).toEqual({
      rc: 5, stdout: '',
      stderr: '    start stop unit cdb: [1b 00 00 00 02 00]\nstart stop unit:\nFixed format, current; Sense key: Illegal Request\n' +
        'Additional sense: Medium removal prevented\nIllegal request\nSTART STOP UNIT command failed\n' });
  });

  it('sg_start --load / --stop / default start build the cdbs sg3_utils builds', async () => {
    const w = goldenWorld('seed_disk_and_cd_same_bus', 'boot');
    respondWith(w.kernel, '/dev/sg1', (cdb) => (cdb[0] === 0x1b ? { kind: 'good' } : undefined));
    const { sys, calls } = withIoctls(w.kernel, () => undefined);
    for (const [args, byte4] of [[['--load'], 0x03], [['--stop'], 0x00], [[], 0x01], [['--start', '--immed'], 0x01]] as const) {
      expect(await runTool(sys, sgStart, ['sg_start', ...args, '/dev/sg1'])).toEqual({ rc: 0, stdout: '', stderr: '' });
      expect((calls.at(-1)![2] as number[])[4]).toBe(byte4);
    }
    expect((calls.at(-1)![2] as number[])[1]).toBe(1); // IMMED
    expect(await runTool(sys, sgStart, ['sg_start', '--load', '--eject', '/dev/sg1'])).toEqual({
      rc: 31, stdout: '', stderr: "Ambiguous to give both '--load' and '--eject'\n" });
  });

  it('sg_prevent --allow and --prevent=N send PREVENT ALLOW MEDIUM REMOVAL with that code', async () => {
    const w = goldenWorld('seed_disk_and_cd_same_bus', 'boot');
    respondWith(w.kernel, '/dev/sg1', (cdb) => (cdb[0] === 0x1e ? { kind: 'good' } : undefined));
    const { sys, calls } = withIoctls(w.kernel, () => undefined);
    expect(await runTool(sys, sgPrevent, ['sg_prevent', '--allow', '/dev/sg1'])).toEqual({ rc: 0, stdout: '', stderr: '' });
    expect(calls.at(-1)![2]).toEqual([0x1e, 0, 0, 0, 0, 0]);
    expect(await runTool(sys, sgPrevent, ['sg_prevent', '-v', '--prevent=3', '/dev/sg1'])).toEqual({
      rc: 0, stdout: '', stderr: '    prevent allow medium removal cdb: [1e 00 00 00 03 00]\n' });
    expect(await runTool(sys, sgPrevent, ['sg_prevent', '--prevent=4', '/dev/sg1'])).toEqual({
      rc: 1, stdout: '', stderr: "bad argument to '--prevent'\n" });
  });
});

describe('eject (util-linux 2.38)', () => {
  const cdWorld = (): GoldenSysfsKernel => {
    const w = goldenWorld('seed_disk_and_cd_same_bus', 'boot');
    w.kernel.addFile('/proc/mounts', '');
    return w.kernel;
  };

  it('eject -v /dev/sr0: unlock (CDROM_LOCKDOOR 0) then CDROMEJECT, with the verbose trail', async () => {
    const { sys, calls } = withIoctls(cdWorld(), (_p, request) => (request === CDROM_LOCKDOOR || request === CDROMEJECT ? 0 : undefined));
    const r = await runTool(sys, ejectMain, ['eject', '-v', '/dev/sr0']);
    expect(r).toEqual({
      rc: 0, stderr: '',
      stdout: "eject: device name is `/dev/sr0'\neject: /dev/sr0: not mounted\neject: /dev/sr0: is whole-disk device\n" +
        'eject: /dev/sr0: trying to eject using CD-ROM eject command\neject: CD-ROM eject command succeeded\n',
    });
    expect(calls.map(([p, req, a]) => [p, req, a])).toEqual([['/dev/sr0', CDROM_LOCKDOOR, 0], ['/dev/sr0', CDROMEJECT, undefined]]);
  });

  it('falls back to the SCSI eject (PREVENT ALLOW, START, LoEj) when the CD-ROM eject fails', async () => {
    const { sys, calls } = withIoctls(cdWorld(), (_p, request) => {
      if (request === CDROM_LOCKDOOR) return new Errno('EINVAL');
      if (request === SG_GET_VERSION_NUM) return 30536;
      return undefined;
    });
    // The golden CD answers PREVENT ALLOW and START STOP UNIT with GOOD.
    const k = (sys as unknown as { responders: GoldenSysfsKernel['responders'] }).responders;
    const orig = k.get('/dev/sr0')!;
    k.set('/dev/sr0', (cdb, out) => (cdb[0] === 0x1e || cdb[0] === 0x1b ? { kind: 'good' } : orig(cdb, out)));
    const r = await runTool(sys, ejectMain, ['eject', '-v', 'sr0']);
    expect(r.rc).toBe(0);
    expect(r.stdout.split('\n').slice(3)).toEqual([
      'eject: /dev/sr0: trying to eject using CD-ROM eject command', 'eject: CD-ROM eject command failed',
      'eject: /dev/sr0: trying to eject using SCSI commands', 'eject: SCSI eject succeeded', '']);
    expect(calls.filter(([, req]) => req === SG_IO).map(([, , a]) => a)).toEqual([
      [0x1e, 0, 0, 0, 0, 0], [0x1b, 0, 0, 0, 1, 0], [0x1b, 0, 0, 0, 2, 0]]);
  });

  it('refuses what is not a block device, and fixed disks', async () => {
    const k = cdWorld();
    expect(await runTool(k, ejectMain, ['eject', '/dev/sg0'])).toEqual({
      rc: 1, stdout: '', stderr: 'eject: /dev/sg0: not found mountpoint or device with the given name\n' });
    expect(await runTool(k, ejectMain, ['eject', '/dev/sr7'])).toEqual({
      rc: 1, stdout: '', stderr: 'eject: /dev/sr7: not found mountpoint or device with the given name\n' });
    expect(await runTool(k, ejectMain, ['eject', '/dev/sda'])).toEqual({
      rc: 1, stdout: '', stderr: 'eject: /dev/sda: is not hot-pluggable device\n' });
    expect(await runTool(k, ejectMain, ['eject', '-n', 'sr0'])).toEqual({ rc: 0, stdout: "eject: device is `/dev/sr0'\n", stderr: '' });
    expect(await runTool(k, ejectMain, ['eject', '-z'])).toEqual({
      rc: 1, stdout: '', stderr: "eject: invalid option -- 'z'\nTry 'eject --help' for more information.\n" });
  });
});
