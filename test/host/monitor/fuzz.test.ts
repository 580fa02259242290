// Whatever a user types, the monitor answers with text: no exception escapes HMP or QMP.
import '../../seed.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MiB, makeMachine } from './setup.ts';

const ARGS =
  '-machine pc -drive file=/w/disk0.img,if=none,format=raw,id=d0 -drive file=/w/cd.iso,if=none,media=cdrom,id=cd0 ' +
  '-device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d0,id=hd0 -device scsi-cd,drive=cd0,id=cdrom0';
const IMAGES = { '/w/disk0.img': 4 * MiB, '/w/cd.iso': 1 * MiB, '/w/x.img': 1 * MiB };

const WORDS = ['d0', 'cd0', 'hd0', 'cdrom0', 'scsi0', 'scsi0.0', '/w/x.img', 'nope', '-f', '0', '1G', 'scsi-hd', 'virtio-scsi-pci', ''];
const COMMANDS = ['info status', 'info block', 'info pci', 'info qtree', 'device_add', 'device_del', 'drive_add 0', 'drive_del',
  'eject', 'change', 'block_resize', 'stop', 'cont', 'system_reset', 'help', 'info', 'bogus'];

describe('monitor robustness', () => {
  it('HMP lines built from command words and arguments never throw', () => {
    const r = makeMachine(ARGS, IMAGES);
    const line = fc.tuple(fc.constantFrom(...COMMANDS), fc.array(fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 12 })), { maxLength: 3 }),
      fc.array(fc.tuple(fc.constantFrom('drive', 'id', 'file', 'scsi-id', 'lun', 'bus', 'if', 'format'), fc.constantFrom(...WORDS)), { maxLength: 3 }))
      .map(([c, a, kv]) => [c, ...a, kv.map(([k, v]) => `${k}=${v}`).join(',')].join(' '));
    fc.assert(fc.property(line, (l) => {
      const res = r.mon.hmp(l);
      expect(typeof res.output).toBe('string');
    }));
  });

  it('QMP requests with arbitrary arguments always get a {"return"} or {"error"} reply', () => {
    const r = makeMachine(ARGS, IMAGES);
    const cmds = ['query-status', 'query-block', 'device_add', 'device_del', 'blockdev-add', 'blockdev-del', 'block_resize', 'eject',
      'blockdev-open-tray', 'blockdev-close-tray', 'blockdev-change-medium', 'stop', 'cont', 'system_reset', 'nope', '__com.redhat_drive_add'];
    const val = fc.oneof(fc.constantFrom(...WORDS), fc.integer(), fc.boolean(), fc.constant(null), fc.dictionary(fc.constantFrom('driver', 'filename'), fc.constantFrom(...WORDS)));
    const req = fc.record({
      execute: fc.constantFrom(...cmds),
      arguments: fc.dictionary(fc.constantFrom('id', 'device', 'driver', 'drive', 'node-name', 'size', 'force', 'filename', 'file', 'scsi-id'), val),
    });
    fc.assert(fc.property(fc.oneof(req.map((x) => JSON.stringify(x)), fc.string()), (text) => {
      const { reply } = r.mon.qmp(text);
      expect(reply).toMatch(/^\{"(return|error)": /);
    }));
  });
});
