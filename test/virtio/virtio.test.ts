import { describe, expect, it } from 'vitest';
import { DmaAllocator } from '../../src/kernel/dma.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import { FlatGuestMemory } from '../../src/platform/guest_memory.ts';
import { EventLoop } from '../../src/sim/event_loop.ts';
import type { VirtioConfigOps } from '../../src/virtio/virtio.ts';
import { VirtioBus, VirtioDevice, virtioCread32, virtioCread64, virtioCwrite32 } from '../../src/virtio/virtio.ts';
import { QEMU_SCSI_FEATURES } from '../fakes/fake_virtio_scsi_device.ts';
import { boot } from './harness.ts';

// Captured from a Linux 6.1 guest under QEMU 7.2 (golden seed_single_disk: /sys/bus/virtio/devices/virtio0/features).
const GOLDEN_FEATURES = '0110000000000000000000000000110010000000100000000000000000000000';
// Same with -device virtio-scsi-pci,hotplug=off (reference/virtio.md, captured).
const GOLDEN_FEATURES_NO_HOTPLUG = '0010000000000000000000000000110010000000100000000000000000000000';

describe('virtio core: probe and feature negotiation', () => {
  it('negotiates what Linux 6.1 negotiates with QEMU 7.2 (bits 1,2,28,29,32,40)', async () => {
    const b = await boot();
    const vdev = b.virtio.devices[0]!;
    expect(vdev.featuresAttr).toBe(GOLDEN_FEATURES);
    // what the device was told: the same set
    expect(b.fakes[0]!.driverFeatures).toBe(vdev.features);
    expect(vdev.statusAttr).toBe('0x0000000f');
    expect(b.fakes[0]!.status).toBe(0x0f);
  });

  it('drops HOTPLUG when the device does not offer it', async () => {
    const b = await boot({ fake: { features: QEMU_SCSI_FEATURES & ~(1n << 1n) } });
    expect(b.virtio.devices[0]!.featuresAttr).toBe(GOLDEN_FEATURES_NO_HOTPLUG);
  });

  it('exposes the sysfs values of virtio0 under 0000:00:04.0', async () => {
    const b = await boot();
    const vdev = b.virtio.devices[0]!;
    expect(vdev.name).toBe('virtio0');
    expect(vdev.deviceAttr).toBe('0x0008');
    expect(vdev.vendorAttr).toBe('0x1af4');
    expect(vdev.modalias).toBe('virtio:d00000008v00001AF4');
    expect(vdev.devPath).toBe('pci0000:00/0000:00:04.0/virtio0');
    expect(vdev.driver?.name).toBe('virtio_scsi');
    expect(b.pci.devices.find((d) => d.slot === 4)!.driver?.name).toBe('virtio-pci');
  });

  it('fails the probe with "device refuses features" when FEATURES_OK does not stick', async () => {
    const b = await boot({ fake: { refuseFeatures: true } });
    const vdev = b.virtio.devices[0]!;
    expect(vdev.driver).toBeNull();
    const lines = b.log.records.map((r) => r.text);
    // status read back: ACKNOWLEDGE|DRIVER = 3 (FEATURES_OK refused)
    expect(lines).toContain('virtio_scsi virtio0: virtio: device refuses features: 3');
    // FAILED (0x80) is added after the refusal
    expect(b.fakes[0]!.status & 0x80).toBe(0x80);
    // -ENODEV is a silent "does not match" for the driver core
    expect(lines.some((l) => l.includes('probe of virtio0 failed'))).toBe(false);
  });

  it('names controllers in PCI order: 00:04.0 is virtio0, 00:05.0 virtio1', async () => {
    const b = await boot({ slots: [5, 4] });
    expect(b.virtio.devices.map((d) => `${d.parent.name}=${d.name}`)).toEqual(['0000:00:04.0=virtio0', '0000:00:05.0=virtio1']);
  });

  it('reads and writes device config through the transport', async () => {
    const b = await boot();
    const vdev = b.virtio.devices[0]!;
    virtioCwrite32(vdev, 20, 96);
    virtioCwrite32(vdev, 24, 32);
    expect(virtioCread32(vdev, 20)).toBe(96);
    expect(virtioCread64(vdev, 20)).toBe(96n | (32n << 32n));
    expect([...b.fakes[0]!.dcfg.subarray(20, 28)]).toEqual([96, 0, 0, 0, 32, 0, 0, 0]);
  });
});

/** A transport that is only a status byte, for bus-level behaviour. */
function stubDevice(): VirtioDevice {
  let status = 0;
  const ops: VirtioConfigOps = {
    get: () => 0,
    set: () => {},
    generation: () => 0,
    getStatus: () => status,
    setStatus: (_v, s) => void (status = s),
    reset: () => void (status = 0),
    findVqs: () => [],
    delVqs: () => {},
    getFeatures: () => 1n << 32n,
    finalizeFeatures: () => 0,
    busName: () => 'stub',
  };
  const mem = new FlatGuestMemory(1 << 16);
  const dma = new DmaAllocator(mem, 0, 1 << 16);
  return new VirtioDevice({ id: { device: 8, vendor: 0x1af4 }, config: ops, parent: { name: 'stub', devPath: 'stub' }, mem, dma });
}

describe('virtio bus: virtioN numbering', () => {
  it('reuses the lowest free index after a removal (IDA)', async () => {
    const bus = new VirtioBus(new KernelLog(new EventLoop()));
    const devs = [stubDevice(), stubDevice(), stubDevice()];
    for (const d of devs) await bus.registerVirtioDevice(d);
    expect(devs.map((d) => d.name)).toEqual(['virtio0', 'virtio1', 'virtio2']);
    await bus.unregisterVirtioDevice(devs[1]!);
    const again = stubDevice();
    await bus.registerVirtioDevice(again);
    expect(again.name).toBe('virtio1');
    const next = stubDevice();
    await bus.registerVirtioDevice(next);
    expect(next.name).toBe('virtio3');
  });

  it('leaves a device ACKNOWLEDGEd after register, and again after its driver is removed', async () => {
    const bus = new VirtioBus(new KernelLog(new EventLoop()));
    const d = stubDevice();
    await bus.registerVirtioDevice(d);
    expect(d.config.getStatus(d)).toBe(1);
    const drv = { name: 'x', idTable: [{ device: 8 }], featureTable: [], probe: () => 0, remove: (v: VirtioDevice) => v.config.reset(v) };
    await bus.registerVirtioDriver(drv);
    // ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK (set by the core since probe did not)
    expect(d.statusAttr).toBe('0x0000000f');
    await bus.unregisterVirtioDriver(drv);
    expect(d.config.getStatus(d)).toBe(1);
    expect(d.driver).toBeNull();
  });
});

describe('virtio-pci transport: interrupts and queues', () => {
  it('falls back to one shared vq vector when the MSI-X table is too small', async () => {
    const b = await boot({ fake: { msixVectors: 2 } });
    expect(b.irq.showInterrupts()).toEqual([
      ' 24:          0          0   PCI-MSI 65536-edge      virtio0-config',
      ' 25:          0          0   PCI-MSI 65537-edge      virtio0-virtqueues',
    ]);
    // each queue was told to use vector 1
    const f = b.fakes[0]!;
    expect(f.queues.map((q) => q.msix)).toEqual([1, 1, 1, 1]);
    expect(f.queues.map((q) => q.enable)).toEqual([1, 1, 1, 1]);
    // and a completion on a request queue still reaches its callback through the shared vector
    const seen: string[] = [];
    b.callbacks.set('0:3', (vq) => seen.push(String(vq.getBuf()?.token)));
    const vq = b.vqs.get(0)![3]!;
    vq.addInbuf([{ addr: 0x100000, len: 8 }], 'r');
    vq.kick();
    expect(seen).toEqual(['r']);
  });

  it('programs each queue: size, addresses of the three rings, its own vector, enabled last', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    const vqs = b.vqs.get(0)!;
    expect(f.queues.map((q) => q.msix)).toEqual([1, 2, 3, 4]);
    expect(vqs.map((v) => [v.num, v.name])).toEqual([
      [256, 'control'],
      [256, 'event'],
      [256, 'request'],
      [256, 'request'],
    ]);
    for (let i = 0; i < 4; i++) {
      expect(f.queues[i]!.desc).toBe(vqs[i]!.descAddr);
      expect(f.queues[i]!.avail).toBe(vqs[i]!.descAddr + 4096); // 16 * 256
      expect(f.queues[i]!.used).toBe(vqs[i]!.descAddr + 4672); // ALIGN(4096 + 518, 64)
    }
  });

  it('refuses a queue size that is not a power of two', async () => {
    const b = await boot({ fake: { queueSize: 100 } });
    const lines = b.log.records.map((r) => r.text);
    expect(lines).toContain('virtio-pci 0000:00:04.0: bad queue size 100');
    expect(lines).toContain('virtio_scsi: probe of virtio0 failed with error -22');
    expect(b.virtio.devices[0]!.driver).toBeNull();
    // nothing left allocated: no irq lines, MSI-X disabled again
    expect(b.irq.showInterrupts()).toEqual([]);
    expect(b.fakes[0]!.msixEnabled).toBe(false);
  });

  it('unbinding the driver resets the device, frees vectors and rings, and leaves ACKNOWLEDGE', async () => {
    const b = await boot();
    const used = b.dma.bytesInUse;
    expect(used).toBeGreaterThan(0);
    await b.virtio.unregisterVirtioDriver(b.driver);
    expect(b.fakes[0]!.status).toBe(1);
    expect(b.irq.showInterrupts()).toEqual([]);
    expect(b.dma.bytesInUse).toBe(0);
    // rebinding gets the same irq numbers and vectors back
    await b.virtio.registerVirtioDriver(b.driver);
    expect(b.irq.showInterrupts()[0]).toBe(' 24:          0          0   PCI-MSI 65536-edge      virtio0-config');
    expect(b.virtio.devices[0]!.statusAttr).toBe('0x0000000f');
  });

  it('routes a config-change interrupt to the driver once probing is done', async () => {
    const b = await boot();
    const seen: string[] = [];
    (b.driver as { configChanged?: (v: VirtioDevice) => void }).configChanged = (v) => seen.push(v.name);
    b.fakes[0]!.configChange();
    expect(seen).toEqual(['virtio0']);
  });
});

describe('virtio config reads', () => {
  it('re-reads a multi-part value while the config generation changes', () => {
    const d = stubDevice();
    let gen = 0;
    let reads = 0;
    const ops = d.config as { get: VirtioConfigOps['get']; generation: VirtioConfigOps['generation'] };
    ops.generation = () => gen;
    ops.get = (_v, off) => {
      reads++;
      if (reads === 1) gen++; // the device changes config during the first pass
      return off === 0 ? 0x11111111 * reads : 0x22;
    };
    // pass 1 reads (lo=0x11111111, hi=0x22) with a generation change, pass 2 reads lo=0x33333333
    expect(virtioCread64(d, 0)).toBe(0x33333333n | (0x22n << 32n));
  });
});
