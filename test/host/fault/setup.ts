// Ours: the fault-injection rig — the mini guest driver, QEMU's virtio-scsi-pci, the real SCSI bus
// and two scsi-hd LUs (hd0 on drive d0 at 0:0, hd1 on drive d1 at 1:0) over in-memory images, with a
// FaultInjector on both the bus and the HBA (test/host/virtio/end-to-end.test.ts is the same rig).
import { FlatGuestMemory } from '../../../src/platform/guest_memory.ts';
import { PciBus } from '../../../src/platform/pci_bus.ts';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { Rng } from '../../../src/sim/rng.ts';
import { realizeVirtioScsiPci, type VirtioScsiPci } from '../../../src/host/virtio/virtio-scsi-pci.ts';
import { QemuScsiBus } from '../../../src/host/scsi/scsi-bus.ts';
import { ScsiDisk, createScsiHd } from '../../../src/host/scsi/scsi-disk.ts';
import { FaultInjector } from '../../../src/host/fault.ts';
import type { BlockBackendOptions } from '../../../src/host/block/block-backend.ts';
import { MiniVirtioDriver } from '../../fakes/mini_virtio_driver.ts';
import { memoryBackend, type MemoryImage } from '../../fakes/memory_backend.ts';

export const MiB = 1 << 20;
export const TUR = [0, 0, 0, 0, 0, 0];

/** READ(10) / WRITE(10) of `blocks` 512-byte blocks at `lba`. */
export function rw10(op: 0x28 | 0x2a, lba: number, blocks: number): number[] {
  return [op, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0];
}

export interface FaultRig {
  loop: EventLoop;
  bus: QemuScsiBus;
  pci: VirtioScsiPci;
  drv: MiniVirtioDriver;
  inj: FaultInjector;
  hd0: ScsiDisk;
  hd1: ScsiDisk;
  d0: MemoryImage;
  d1: MemoryImage;
}

export function makeFaultRig(opts: { seed?: number; d0?: BlockBackendOptions; size?: number } = {}): FaultRig {
  const mem = new FlatGuestMemory(8 * MiB);
  const loop = new EventLoop();
  const pciBus = new PciBus();
  const bus = new QemuScsiBus({});
  const size = opts.size ?? 64 * MiB;
  const d0 = memoryBackend(loop, size, { name: 'd0', ...opts.d0 });
  const d1 = memoryBackend(loop, size, { name: 'd1' });
  const hd0 = createScsiHd({ drive: d0.blk, scsiId: 0, lun: 0, qdevId: 'hd0' });
  const hd1 = createScsiHd({ drive: d1.blk, scsiId: 1, lun: 0, qdevId: 'hd1' });
  if (!(hd0 instanceof ScsiDisk) || !(hd1 instanceof ScsiDisk)) throw new Error('realize');
  bus.attach(hd0);
  bus.attach(hd1);
  const drv = new MiniVirtioDriver(mem, loop, 4);
  drv.pci = pciBus;
  const r = realizeVirtioScsiPci({}, { mem, loop, msi: drv, bus, smpCpus: 2, log: () => {} });
  if (!r.ok) throw new Error(r.error);
  r.dev.attach(pciBus, 4);
  drv.probe();
  drv.init();
  const inj = new FaultInjector(loop, new Rng(opts.seed ?? 1));
  bus.faults = inj;
  r.dev.scsi.faults = inj;
  return { loop, bus, pci: r.dev, drv, inj, hd0, hd1, d0, d1 };
}

/** Consumes the power-on unit attention of both LUs. */
export async function clearUa(r: FaultRig): Promise<void> {
  await r.drv.doCommand(0, 0, TUR);
  await r.drv.doCommand(1, 0, TUR);
}

export const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
