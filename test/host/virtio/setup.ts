// Ours: builds a virtio-scsi-pci on a PCI bus with a fake SCSI bus and the mini guest driver.
import { FlatGuestMemory } from '../../../src/platform/guest_memory.ts';
import { PciBus } from '../../../src/platform/pci_bus.ts';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { realizeVirtioScsiPci, type VirtioScsiPci, type VirtioScsiPciProps } from '../../../src/host/virtio/virtio-scsi-pci.ts';
import { FakeDevice, FakeScsiBus, type FakeHandler } from '../../fakes/fake_scsi_bus.ts';
import { MiniVirtioDriver } from '../../fakes/mini_virtio_driver.ts';

export interface Rig {
  mem: FlatGuestMemory;
  loop: EventLoop;
  pci: PciBus;
  bus: FakeScsiBus;
  dev: VirtioScsiPci;
  drv: MiniVirtioDriver;
  log: string[];
  trace: Array<{ event: string; args: Readonly<Record<string, unknown>> }>;
}

export function makeRig(
  opts: {
    props?: VirtioScsiPciProps;
    devices?: FakeDevice[];
    handler?: FakeHandler;
    smp?: number;
    memSize?: number;
    traced?: boolean;
    intx?: (level: boolean) => void;
  } = {},
): Rig {
  const mem = new FlatGuestMemory(opts.memSize ?? 4 << 20);
  const loop = new EventLoop();
  const pci = new PciBus();
  const bus = new FakeScsiBus(loop, opts.devices ?? [new FakeDevice(0, 0)], opts.handler);
  const drv = new MiniVirtioDriver(mem, loop, 4);
  drv.pci = pci;
  const log: string[] = [];
  const trace: Rig['trace'] = [];
  const r = realizeVirtioScsiPci(opts.props ?? {}, {
    mem,
    loop,
    msi: drv,
    bus,
    smpCpus: opts.smp ?? 2,
    intx: opts.intx,
    log: (l) => log.push(l),
    trace: opts.traced ? (event, args) => trace.push({ event, args }) : undefined,
  });
  if (!r.ok) throw new Error(r.error);
  r.dev.attach(pci, 4);
  return { mem, loop, pci, bus, dev: r.dev, drv, log, trace };
}
