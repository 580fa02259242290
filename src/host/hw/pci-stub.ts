// Ours: the `pc` board's PCI functions we do not emulate (host bridge, PIIX3 ISA/IDE/ACPI, VGA, e1000,
// a seed's virtio-net-pci): a configuration space with QEMU's ids and class codes and no BARs, so the
// guest's enumeration sees the slots taken exactly where QEMU puts them.

import type { AccessSize } from '../../platform/pci.ts';
import type { BarInfo, PciSlotDevice } from '../../platform/pci_bus.ts';

/** Class codes (base, sub, prog-if) of the functions QEMU's `pc` machine creates, by QOM type. */
const CLASS_BY_NAME: Readonly<Record<string, number>> = {
  i440FX: 0x060000,
  PIIX3: 0x060100,
  'piix3-ide': 0x010180,
  PIIX4_PM: 0x068000,
  VGA: 0x030000,
  e1000: 0x020000,
  'mch': 0x060000,
  'ICH9-LPC': 0x060100,
  'ich9-ahci': 0x010601,
  'ICH9-SMB': 0x0c0500,
  e1000e: 0x020000,
  'virtio-net-pci': 0x020000,
  'piix3-usb-uhci': 0x0c0300,
};

export class PciStubFunction implements PciSlotDevice {
  readonly bars: readonly BarInfo[] = [];
  readonly #cfg = new Uint8Array(256);

  constructor(name: string, vendorId: number, deviceId: number, multifunction: boolean) {
    const v = new DataView(this.#cfg.buffer);
    v.setUint16(0x00, vendorId, true);
    v.setUint16(0x02, deviceId, true);
    const cls = CLASS_BY_NAME[name] ?? 0xff0000;
    this.#cfg[0x09] = cls & 0xff;
    v.setUint16(0x0a, cls >> 8, true);
    this.#cfg[0x0e] = multifunction ? 0x80 : 0x00;
    // QEMU's default subsystem for its own devices.
    v.setUint16(0x2c, 0x1af4, true);
    v.setUint16(0x2e, 0x1100, true);
  }

  configRead(offset: number, size: AccessSize): number {
    if (offset < 0 || offset + size > 256) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.#cfg[offset + i]!;
    return v;
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    // Only the command register and the interrupt line are writable on these stand-ins.
    if (offset === 0x04 && size >= 2) {
      this.#cfg[0x04] = value & 0xff;
      this.#cfg[0x05] = (value >> 8) & 0x07;
    } else if (offset === 0x3c && size === 1) this.#cfg[0x3c] = value & 0xff;
  }

  barRead(): number {
    return 0xffffffff;
  }

  barWrite(): void {}
}
