// Ours: boots the guest's PCI + virtio stack against FakeVirtioScsiDevice(s), with a tiny virtio
// driver standing in for virtio_scsi (it only asks for the same queues).
import { DmaAllocator } from '../../src/kernel/dma.ts';
import { IrqController } from '../../src/kernel/irq.ts';
import { PciSubsystem } from '../../src/kernel/pci.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import { FlatGuestMemory } from '../../src/platform/guest_memory.ts';
import { PciBus } from '../../src/platform/pci_bus.ts';
import { EventLoop } from '../../src/sim/event_loop.ts';
import type { VirtioDevice, VirtioDriver } from '../../src/virtio/virtio.ts';
import { VirtioBus, virtioDeviceReady } from '../../src/virtio/virtio.ts';
import { virtioPciDriver } from '../../src/virtio/virtio_pci_common.ts';
import type { VirtQueue } from '../../src/virtio/virtio_ring.ts';
import type { FakeOptions } from '../fakes/fake_virtio_scsi_device.ts';
import { FakeVirtioScsiDevice } from '../fakes/fake_virtio_scsi_device.ts';

export interface Booted {
  loop: EventLoop;
  log: KernelLog;
  mem: FlatGuestMemory;
  dma: DmaAllocator;
  irq: IrqController;
  bus: PciBus;
  pci: PciSubsystem;
  virtio: VirtioBus;
  fakes: FakeVirtioScsiDevice[];
  /** Callbacks per virtio device index and queue index; tests replace them. */
  callbacks: Map<string, (vq: VirtQueue) => void>;
  vqs: Map<number, VirtQueue[]>;
  driver: VirtioDriver;
}

/** A stand-in for virtio_scsi: HOTPLUG + CHANGE, queues control/event/request×n, DRIVER_OK in probe. */
export function testDriver(b: Pick<Booted, 'callbacks' | 'vqs'>, requestQueues = 2): VirtioDriver {
  return {
    name: 'virtio_scsi',
    idTable: [{ device: 8 }],
    featureTable: [1, 2],
    probe(vdev: VirtioDevice) {
      const names = ['control', 'event', ...Array<string>(requestQueues).fill('request')];
      const r = vdev.findVqs(
        names.map((name, qi) => ({ name, callback: (vq: VirtQueue) => b.callbacks.get(`${vdev.index}:${qi}`)?.(vq) })),
        { preVectors: 2 },
      );
      if (typeof r === 'number') return r;
      b.vqs.set(vdev.index, r);
      virtioDeviceReady(vdev);
      return 0;
    },
    remove(vdev: VirtioDevice) {
      vdev.config.reset(vdev);
      vdev.delVqs();
    },
  };
}

export async function boot(opts: { slots?: number[]; fake?: FakeOptions; nrCpus?: number; requestQueues?: number } = {}): Promise<Booted> {
  const loop = new EventLoop();
  const log = new KernelLog(loop);
  const mem = new FlatGuestMemory(32 << 20);
  const dma = new DmaAllocator(mem, 16 << 20, 16 << 20);
  // CPU1 starts with one vector fewer in use, which puts config/event on CPU1, control on CPU0.
  const irq = new IrqController({ nrCpus: opts.nrCpus ?? 2, initialLoad: [1, 0] });
  const bus = new PciBus();
  const fakes: FakeVirtioScsiDevice[] = [];
  for (const slot of opts.slots ?? [4]) {
    const f = new FakeVirtioScsiDevice(mem, irq, opts.fake);
    bus.attach(slot, 0, f);
    fakes.push(f);
  }
  const pci = new PciSubsystem({ bus, log, irq });
  pci.firmwareInit();
  pci.scanBus();
  const virtio = new VirtioBus(log);
  await pci.registerDriver(virtioPciDriver({ mem, dma, irq, virtio, log }));
  const partial = { callbacks: new Map<string, (vq: VirtQueue) => void>(), vqs: new Map<number, VirtQueue[]>() };
  const driver = testDriver(partial, opts.requestQueues ?? 2);
  await virtio.registerVirtioDriver(driver);
  return { loop, log, mem, dma, irq, bus, pci, virtio, fakes, driver, ...partial };
}
