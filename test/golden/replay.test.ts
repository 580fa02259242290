// Ours: unit tests of the golden replay's scoring rules (test/golden/replay.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { captureOrder, comparableSysfs, matchingLines, norm, normUdevSets, snapshotCommands } from './replay.ts';

describe('matchingLines counts what difflib.SequenceMatcher(autojunk=False) counts', () => {
  // Values from Python 3's difflib: sum(b.size for b in SequenceMatcher(a=list(a), b=list(b), autojunk=False).get_matching_blocks())
  it.each([
    ['abcxyzab', 'xyzabcab', 5],
    ['aaabbb', 'ababab', 4],
    ['abcd', 'dcba', 1],
    ['', 'abc', 0],
    ['abxcd', 'abcd', 4],
  ])('%s vs %s', (a, b, want) => {
    expect(matchingLines([...a], [...b])).toBe(want);
  });

  it('is at most the shorter length, and the full length against itself', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('a', 'b', 'c')), fc.array(fc.constantFrom('a', 'b', 'c')), (a, b) => {
      expect(matchingLines(a, b)).toBeLessThanOrEqual(Math.min(a.length, b.length));
      expect(matchingLines(a, a)).toBe(a.length);
    }));
  });
});

describe('norm', () => {
  it('drops what a replay cannot reproduce', () => {
    expect(norm('[   16.909518] sr 0:0:0:1: tag#192 x\n')).toBe('sr 0:0:0:1: tag#N x\n');
    expect(norm('crw-------    1 root     root       21,   0 Nov 14 22:13 sg0')).toBe('crw-------    1 root     root       21,   0 DATE sg0');
    expect(norm('-r--r--r--    1 root     root            14 Nov 14  2023 README.TXT')).toBe('-r--r--r--    1 root     root            14 DATE README.TXT');
    expect(norm('E: USEC_INITIALIZED=4711')).toBe('E: USEC_INITIALIZED=N');
    expect(norm('2026-11-25T22:40:33.141900Z qemu-system-x86_64: -device x: y')).toBe('PROG: -device x: y');
    expect(norm('vscsi: -device x: y')).toBe('PROG: -device x: y');
  });

  it('sorts udev link and tag sets (their order is hash order in udev 252)', () => {
    const a = 'N: sda\nS: disk/by-path/p\nS: disk/by-diskseq/1\nQ: 1\nE: DEVLINKS=/dev/b /dev/a\nE: TAGS=:uaccess:seat:\nE: CURRENT_TAGS=:uaccess:seat:';
    const b = 'N: sda\nS: disk/by-diskseq/1\nS: disk/by-path/p\nQ: 1\nE: DEVLINKS=/dev/a /dev/b\nE: TAGS=:seat:uaccess:\nE: CURRENT_TAGS=:seat:uaccess:';
    expect(normUdevSets(a)).toBe(normUdevSets(b));
    expect(normUdevSets(a)).toBe(b);
    // A different set stays different.
    expect(normUdevSets('S: a\nS: b')).not.toBe(normUdevSets('S: a\nS: c'));
  });
});

describe('what is compared', () => {
  it('skips volatile and unreadable sysfs entries', () => {
    expect(comparableSysfs('/sys/block/sda/device/iorequest_cnt', { t: 'f', v: '0x10' })).toBe(false);
    expect(comparableSysfs('/sys/module/sg/parameters/allow_dio', { t: 'f', v: '0' })).toBe(false);
    expect(comparableSysfs('/sys/devices/pci0000:00/0000:00:04.0/resource', { t: 'f', skipped: true })).toBe(false);
    expect(comparableSysfs('/sys/devices/x/power/runtime_status', { t: 'f', v: 'unsupported' })).toBe(false);
    expect(comparableSysfs('/sys/class/scsi_host', { t: 'd' })).toBe(false);
    expect(comparableSysfs('/sys/block/sda/device/vendor', { t: 'f', v: 'QEMU    ' })).toBe(true);
    expect(comparableSysfs('/sys/block/sda/device/inquiry', { t: 'f', hex: '00', len: 1 })).toBe(true);
    expect(comparableSysfs('/sys/bus/scsi/drivers_probe', { t: 'f', e: 'EACCES', wo: true })).toBe(true);
    expect(comparableSysfs('/sys/block/sda', { t: 'l', target: '../devices/x' })).toBe(true);
  });

  it('runs snapshot commands in the capture order, without proc_interrupts and path_id builtins', () => {
    const c = (cmd: string): { cmd: string; rc: number; stdout: string } => ({ cmd, rc: 0, stdout: '' });
    const labels = snapshotCommands({
      sysfs: {},
      commands: {
        'sda.udev_info': c('udevadm info'), 'sr0.path_id': c('udevadm test-builtin path_id /sys/class/block/sr0'),
        'sg1.sg_inq': c('sg_inq'), lsscsi: c('lsscsi'), proc_interrupts: c('cat /proc/interrupts'), 'sg0.udev_info': c('u'),
        'sg0.sg_inq': c('sg_inq'), 'bsg_0:0:0:0.path_id': c('x'), ls_dev: c('ls -l /dev'), 'sr0.blockdev': c('b'), 'sda.blockdev': c('b'),
      },
    }).map(([l]) => l);
    expect(labels).toEqual(['ls_dev', 'lsscsi', 'sg0.sg_inq', 'sg0.udev_info', 'sg1.sg_inq', 'sda.udev_info', 'sda.blockdev', 'sr0.blockdev', 'bsg_0:0:0:0.path_id']);
    expect(captureOrder('ls_dev')).toEqual([0, 0, '', 0]);
  });
});
