// Ours: the `pc` board's PCI functions we do not emulate (host bridge, PIIX3 ISA/IDE/ACPI, VGA, e1000, a
// seed's virtio-net-pci): configuration space with QEMU's ids, class codes, BAR decoders, option ROM
// and interrupt pin, so that the guest's enumeration and the firmware's BAR placement see the bus as
// QEMU builds it (the virtio-scsi-pci BARs land where the captures show them). Accesses to the BARs
// themselves read as all-ones and are ignored.

import type { AccessSize } from '../../platform/pci.ts';
import type { BarInfo, PciSlotDevice } from '../../platform/pci_bus.ts';

interface StubBar {
  readonly index: number;
  readonly size: number;
  readonly io?: boolean;
  readonly is64?: boolean;
  readonly pref?: boolean;
}

interface StubLayout {
  readonly cls: number;
  readonly bars: readonly StubBar[];
  /** Expansion ROM size (0: none). */
  readonly rom: number;
  /** Interrupt pin (1 = INTA). */
  readonly pin: number;
}

/** What QEMU 7.2 gives each board function (hw/pci-host/i440fx.c, hw/isa/piix3.c, hw/ide/piix.c, hw/acpi/piix4.c, hw/display/vga-pci.c, hw/net/e1000.c). */
const LAYOUT_BY_NAME: Readonly<Record<string, StubLayout>> = {
  i440FX: { cls: 0x060000, bars: [], rom: 0, pin: 0 },
  PIIX3: { cls: 0x060100, bars: [], rom: 0, pin: 0 },
  'piix3-ide': { cls: 0x010180, bars: [{ index: 4, size: 16, io: true }], rom: 0, pin: 0 },
  PIIX4_PM: { cls: 0x068000, bars: [], rom: 0, pin: 1 },
  VGA: { cls: 0x030000, bars: [{ index: 0, size: 16 << 20, pref: true }, { index: 2, size: 4096 }], rom: 0x10000, pin: 0 },
  e1000: { cls: 0x020000, bars: [{ index: 0, size: 0x20000 }, { index: 1, size: 0x40, io: true }], rom: 0x40000, pin: 1 },
  'virtio-net-pci': {
    cls: 0x020000,
    bars: [{ index: 0, size: 0x20, io: true }, { index: 1, size: 0x1000 }, { index: 4, size: 0x4000, is64: true, pref: true }],
    rom: 0x40000,
    pin: 1,
  },
  'piix3-usb-uhci': { cls: 0x0c0300, bars: [{ index: 4, size: 0x20, io: true }], rom: 0, pin: 4 },
  mch: { cls: 0x060000, bars: [], rom: 0, pin: 0 },
  'ICH9-LPC': { cls: 0x060100, bars: [], rom: 0, pin: 0 },
  'ich9-ahci': { cls: 0x010601, bars: [{ index: 4, size: 0x20, io: true }, { index: 5, size: 0x1000 }], rom: 0, pin: 1 },
  'ICH9-SMB': { cls: 0x0c0500, bars: [{ index: 4, size: 0x40, io: true }], rom: 0, pin: 1 },
  e1000e: { cls: 0x020000, bars: [{ index: 0, size: 0x20000 }, { index: 1, size: 0x20000 }, { index: 2, size: 0x20, io: true }, { index: 3, size: 0x4000 }], rom: 0x40000, pin: 1 },
};

export class PciStubFunction implements PciSlotDevice {
  readonly bars: readonly BarInfo[];
  readonly #cfg = new Uint8Array(256);
  readonly #view = new DataView(this.#cfg.buffer);
  readonly #layout: StubLayout;

  constructor(name: string, vendorId: number, deviceId: number, multifunction: boolean) {
    this.#layout = LAYOUT_BY_NAME[name] ?? { cls: 0xff0000, bars: [], rom: 0, pin: 0 };
    const l = this.#layout;
    this.bars = l.bars.map((b) => ({ index: b.index, size: b.size, io: !!b.io, is64: !!b.is64 }));
    const v = this.#view;
    v.setUint16(0x00, vendorId, true);
    v.setUint16(0x02, deviceId, true);
    v.setUint32(0x08, (l.cls << 8) >>> 0, true);
    this.#cfg[0x0e] = multifunction ? 0x80 : 0x00;
    // QEMU's default subsystem for its own devices.
    v.setUint16(0x2c, 0x1af4, true);
    v.setUint16(0x2e, 0x1100, true);
    this.#cfg[0x3d] = l.pin;
    for (const b of l.bars) v.setUint32(0x10 + 4 * b.index, PciStubFunction.#typeBits(b), true);
  }

  static #typeBits(b: StubBar): number {
    return b.io ? 1 : (b.is64 ? 4 : 0) | (b.pref ? 8 : 0);
  }

  configRead(offset: number, size: AccessSize): number {
    if (offset < 0 || offset + size > 256) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    const v = this.#view;
    return size === 1 ? v.getUint8(offset) : size === 2 ? v.getUint16(offset, true) : v.getUint32(offset, true);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    const v = this.#view;
    const l = this.#layout;
    if (offset >= 0x10 && offset < 0x28 && size === 4) {
      const b = l.bars.find((s) => 0x10 + 4 * s.index === offset);
      if (b) v.setUint32(offset, ((value & ~(b.size - 1)) | PciStubFunction.#typeBits(b)) >>> 0, true);
      else {
        const hi = l.bars.find((s) => s.is64 && 0x10 + 4 * (s.index + 1) === offset);
        if (hi) v.setUint32(offset, value >>> 0, true);
      }
      return;
    }
    if (offset === 0x30 && size === 4) {
      v.setUint32(offset, l.rom ? ((value & ~(l.rom - 1) & 0xfffff801) >>> 0) : 0, true);
      return;
    }
    // Command register and interrupt line: the writable bits a firmware touches.
    if (offset === 0x04 && size >= 2) v.setUint16(0x04, value & 0x0747, true);
    else if (offset === 0x3c && size === 1) this.#cfg[0x3c] = value & 0xff;
  }

  barRead(): number {
    return 0xffffffff;
  }

  barWrite(): void {}
}
