import { describe, expect, it } from 'vitest';
import { DmaAllocator } from '../../src/kernel/dma.ts';
import { IrqController } from '../../src/kernel/irq.ts';
import { PciSubsystem } from '../../src/kernel/pci.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import { FlatGuestMemory } from '../../src/platform/guest_memory.ts';
import type { AccessSize } from '../../src/platform/pci.ts';
import type { BarInfo, PciSlotDevice } from '../../src/platform/pci_bus.ts';
import { PciBus } from '../../src/platform/pci_bus.ts';
import { EventLoop } from '../../src/sim/event_loop.ts';
import { VirtioBus } from '../../src/virtio/virtio.ts';
import { virtioPciDriver } from '../../src/virtio/virtio_pci_common.ts';
import { FakeVirtioScsiDevice } from '../fakes/fake_virtio_scsi_device.ts';
import { testDriver } from '../virtio/harness.ts';

interface StubBar {
  index: number;
  size: number;
  io?: boolean;
  is64?: boolean;
  pref?: boolean;
}

/** A PCI function that is only ids and BAR decoders (QEMU's i440fx/PIIX, std VGA, e1000 for the layout). */
class StubFunction implements PciSlotDevice {
  readonly bars: BarInfo[];
  readonly #cfg = new Uint8Array(256);
  readonly #stub: StubBar[];
  readonly #rom: number;
  constructor(vendor: number, device: number, cls: number, stub: StubBar[], rom = 0, pin = 0) {
    this.#stub = stub;
    this.#rom = rom;
    this.bars = stub.map((b) => ({ index: b.index, size: b.size, io: !!b.io, is64: !!b.is64 }));
    const v = new DataView(this.#cfg.buffer);
    v.setUint16(0, vendor, true);
    v.setUint16(2, device, true);
    v.setUint32(8, cls << 8, true);
    this.#cfg[0x3d] = pin;
    for (const b of stub) v.setUint32(0x10 + 4 * b.index, this.#typeBits(b), true);
  }
  #typeBits(b: StubBar): number {
    return b.io ? 1 : (b.is64 ? 4 : 0) | (b.pref ? 8 : 0);
  }
  configRead(off: number, size: AccessSize): number {
    const v = new DataView(this.#cfg.buffer);
    return size === 1 ? v.getUint8(off) : size === 2 ? v.getUint16(off, true) : v.getUint32(off, true);
  }
  configWrite(off: number, size: AccessSize, value: number): void {
    const v = new DataView(this.#cfg.buffer);
    if (off >= 0x10 && off < 0x28 && size === 4) {
      const b = this.#stub.find((s) => 0x10 + 4 * s.index === off);
      if (b) v.setUint32(off, ((value & ~(b.size - 1)) | this.#typeBits(b)) >>> 0, true);
      return;
    }
    if (off === 0x30 && size === 4) {
      v.setUint32(off, this.#rom ? (value & ~(this.#rom - 1) & 0xfffff801) >>> 0 : 0, true);
      return;
    }
    if (size === 1) v.setUint8(off, value);
    else if (size === 2) v.setUint16(off, value, true);
    else v.setUint32(off, value, true);
  }
  barRead(): number {
    return 0;
  }
  barWrite(): void {}
}

/** QEMU 7.2 `-machine pc` with its default VGA and NIC, and virtio-scsi-pci at 00:04.0 (+00:05.0). */
async function pcMachine(virtioSlots: number[]) {
  const loop = new EventLoop();
  const log = new KernelLog(loop);
  const mem = new FlatGuestMemory(32 << 20);
  const irq = new IrqController({ nrCpus: 2, initialLoad: [1, 0] });
  const bus = new PciBus();
  bus.attach(0, 0, new StubFunction(0x8086, 0x1237, 0x060000, []));
  bus.attach(1, 0, new StubFunction(0x8086, 0x7000, 0x060100, []));
  bus.attach(1, 1, new StubFunction(0x8086, 0x7010, 0x010180, [{ index: 4, size: 16, io: true }]));
  bus.attach(1, 3, new StubFunction(0x8086, 0x7113, 0x068000, [], 0, 1));
  bus.attach(2, 0, new StubFunction(0x1234, 0x1111, 0x030000, [{ index: 0, size: 16 << 20, pref: true }, { index: 2, size: 4096 }], 0x10000));
  bus.attach(3, 0, new StubFunction(0x8086, 0x100e, 0x020000, [{ index: 0, size: 0x20000 }, { index: 1, size: 0x40, io: true }], 0x40000, 1));
  const fakes = virtioSlots.map((s) => {
    const f = new FakeVirtioScsiDevice(mem, irq);
    bus.attach(s, 0, f);
    return f;
  });
  const pci = new PciSubsystem({ bus, log, irq });
  pci.firmwareInit();
  pci.scanBus();
  const virtio = new VirtioBus(log);
  await pci.registerDriver(virtioPciDriver({ mem, dma: new DmaAllocator(mem, 16 << 20, 16 << 20), irq, virtio, log }));
  await virtio.registerVirtioDriver(testDriver({ callbacks: new Map(), vqs: new Map() }));
  return { log, pci, fakes, irq };
}

describe('PCI enumeration and SeaBIOS BAR placement', () => {
  it('places BARs where SeaBIOS put them (golden seed_single_disk dmesg)', async () => {
    const m = await pcMachine([4]);
    const lines = m.log.records.map((r) => r.text);
    // Copied from the golden's dmesg: the lines our model is responsible for.
    for (const l of [
      'pci 0000:00:01.1: BAR 4 [io  0xc080-0xc08f]',
      'pci 0000:00:02.0: [1234:1111] type 00 class 0x030000',
      'pci 0000:00:02.0: BAR 0 [mem 0xfd000000-0xfdffffff pref]',
      'pci 0000:00:02.0: BAR 2 [mem 0xfebf0000-0xfebf0fff]',
      'pci 0000:00:02.0: ROM [mem 0xfebe0000-0xfebeffff pref]',
      'pci 0000:00:03.0: BAR 0 [mem 0xfebc0000-0xfebdffff]',
      'pci 0000:00:03.0: BAR 1 [io  0xc000-0xc03f]',
      'pci 0000:00:03.0: ROM [mem 0xfeb80000-0xfebbffff pref]',
      'pci 0000:00:04.0: [1af4:1004] type 00 class 0x010000',
      'pci 0000:00:04.0: BAR 0 [io  0xc040-0xc07f]',
      'pci 0000:00:04.0: BAR 1 [mem 0xfebf1000-0xfebf1fff]',
      'pci 0000:00:04.0: BAR 4 [mem 0xfe000000-0xfe003fff 64bit pref]',
    ])
      expect(lines).toContain(l);
  });

  it('leaves 00:04.0 configuration space byte-identical to the capture after virtio probe', async () => {
    const m = await pcMachine([4]);
    // /sys/devices/pci0000:00/0000:00:04.0/config from the golden (256 bytes): ids, command 0x0507
    // (I/O, memory, bus master, SERR, INTx disabled), BARs, irq line 11, caps, MSI-X enabled (0x8004).
    const golden =
      'f41a041007051000000000010000000041c000000010bffe00000000000000000c0000fe0000000000000000f41a0800' +
      '000000009800000000000000' +
      '0b010000090010010400000000000000001000000940100304000000001000000010000009501004040000000020000000100000' +
      '0960140204000000003000000010000004000000097014050000000000000000000000000000000011840480010000000108' +
      '0000' +
      '0'.repeat(2 * (256 - 0xa4));
    const f = m.fakes[0]!;
    let hex = '';
    for (let i = 0; i < 256; i++) hex += f.configRead(i, 1).toString(16).padStart(2, '0');
    expect(hex).toBe(golden);
  });

  it('places a second controller at 00:05.0 after the first (golden seed_two_buses)', async () => {
    const m = await pcMachine([4, 5]);
    const lines = m.log.records.map((r) => r.text);
    expect(lines).toContain('pci 0000:00:05.0: BAR 0 [io  0xc080-0xc0bf]');
    expect(lines).toContain('pci 0000:00:05.0: BAR 1 [mem 0xfebf2000-0xfebf2fff]');
    expect(lines).toContain('pci 0000:00:05.0: BAR 4 [mem 0xfe004000-0xfe007fff 64bit pref]');
    expect(lines).toContain('pci 0000:00:01.1: BAR 4 [io  0xc0c0-0xc0cf]');
    // legacy line: PIIX routing gives 11 to slot 4 and 10 to slot 5 (sysfs irq)
    expect(m.pci.device('0000:00:04.0')!.irq).toBe(11);
    expect(m.pci.device('0000:00:05.0')!.irq).toBe(10);
    // msi_irqs/ of each function
    expect(m.pci.device('0000:00:04.0')!.msixIrqs).toEqual([24, 25, 26, 27, 28]);
    expect(m.pci.device('0000:00:05.0')!.msixIrqs).toEqual([29, 30, 31, 32, 33]);
  });

  it('binds virtio-pci only to 1af4 functions', async () => {
    const m = await pcMachine([4]);
    expect(m.pci.devices.map((d) => `${d.name}:${d.driver?.name ?? '-'}`)).toEqual([
      '0000:00:00.0:-',
      '0000:00:01.0:-',
      '0000:00:01.1:-',
      '0000:00:01.3:-',
      '0000:00:02.0:-',
      '0000:00:03.0:-',
      '0000:00:04.0:virtio-pci',
    ]);
  });
});
