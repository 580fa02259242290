// Ours: builds a bus + devices + test HBA for the host SCSI tests.
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { QemuScsiBus } from '../../../src/host/scsi/scsi-bus.ts';
import { ScsiDisk, createScsiCd, createScsiHd, type ScsiDiskHooks, type ScsiDiskProps } from '../../../src/host/scsi/scsi-disk.ts';
import type { BlockBackendOptions } from '../../../src/host/block/block-backend.ts';
import { TestHba } from '../../fakes/test_hba.ts';
import { fixtureBackend, memoryBackend, type MemoryImage } from '../../fakes/memory_backend.ts';

export const MiB = 1024 * 1024;

export interface Rig {
  loop: EventLoop;
  bus: QemuScsiBus;
  hba: TestHba;
  events: Array<[string, Record<string, number | string>]>;
}

export function rig(): Rig {
  const loop = new EventLoop();
  const events: Array<[string, Record<string, number | string>]> = [];
  const bus = new QemuScsiBus({ trace: (e, a) => events.push([e, a]) });
  return { loop, bus, hba: new TestHba(bus), events };
}

export function addHd(
  r: Rig,
  opts: { size?: number; drive?: BlockBackendOptions; props?: Partial<ScsiDiskProps>; hooks?: ScsiDiskHooks } = {},
): { disk: ScsiDisk; image: MemoryImage } {
  const image = memoryBackend(r.loop, opts.size ?? 64 * MiB, { name: 'scsi0', ...opts.drive });
  const d = createScsiHd({ drive: image.blk, scsiId: 0, lun: 0, qdevId: 'hd0', ...opts.props }, opts.hooks);
  if (!(d instanceof ScsiDisk)) throw new Error(d.error);
  const err = r.bus.attach(d);
  if (err) throw new Error(err);
  return { disk: d, image };
}

export function addCd(r: Rig, opts: { props?: Partial<ScsiDiskProps>; hooks?: ScsiDiskHooks } = {}): { disk: ScsiDisk; image: MemoryImage } {
  const image = fixtureBackend(r.loop, 'seed_disk_and_cd_same_bus.cd.iso', { name: 'cd0', readOnly: true });
  const d = createScsiCd({ drive: image.blk, scsiId: 0, lun: 1, qdevId: 'cd0', ...opts.props }, opts.hooks);
  if (!(d instanceof ScsiDisk)) throw new Error(d.error);
  const err = r.bus.attach(d);
  if (err) throw new Error(err);
  return { disk: d, image };
}

/** Fixed-format sense with key/asc/ascq, as QEMU builds it. */
export function fixedSense(key: number, asc: number, ascq: number): number[] {
  const s = new Array<number>(18).fill(0);
  s[0] = 0x70;
  s[2] = key;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return s;
}
