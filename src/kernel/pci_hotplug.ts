// Models drivers/pci/hotplug/acpiphp_glue.c + the resource assignment of drivers/pci/setup-bus.c
// (Linux 6.1), reduced: when QEMU's ACPI hot-plug controller reports a new function on the root bus,
// give its BARs room in the bus windows (I/O above what is used, memory below what is used), route its
// interrupt pin, enable decoding, then let the PCI core scan it and bind drivers. Removal unbinds and
// forgets the function.

import type { PciSubsystem } from './pci.ts';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
} from '../platform/pci.ts';

/** PIIX3's PCI interrupt routing (PIRQA..D → 10, 10, 11, 11 as SeaBIOS programs it). */
const PIIX_PCI_IRQS = [10, 10, 11, 11];

interface Bar {
  index: number;
  size: number;
  io: boolean;
  is64: boolean;
}

function sizeBars(pci: PciSubsystem, slot: number, fn: number): Bar[] {
  const bus = pci.bus;
  const bars: Bar[] = [];
  for (let i = 0; i < 6; i++) {
    const off = PCI_BASE_ADDRESS_0 + 4 * i;
    const orig = bus.configRead(slot, fn, off, 4);
    bus.configWrite(slot, fn, off, 4, 0xffffffff);
    const mask = bus.configRead(slot, fn, off, 4);
    bus.configWrite(slot, fn, off, 4, orig);
    if (mask === 0 || mask === 0xffffffff) continue;
    const io = (orig & PCI_BASE_ADDRESS_SPACE_IO) !== 0;
    const is64 = !io && (orig & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64;
    const size = ((~(mask & (io ? ~0x3 : ~0xf)) >>> 0) + 1) >>> 0;
    bars.push({ index: i, size, io, is64 });
    if (is64) i++;
  }
  return bars;
}

/** Assigns the BARs of a hot-plugged function and turns on decoding; returns false if it is absent. */
export function assignHotplugResources(pci: PciSubsystem, slot: number, fn: number): boolean {
  const bus = pci.bus;
  if (bus.configRead(slot, fn, 0, 2) === 0xffff) return false;
  let ioTop = 0xc000;
  let memBottom = 0xfec00000;
  for (const d of pci.devices) {
    for (const r of d.resources) {
      if (!r) continue;
      if (r.io) ioTop = Math.max(ioTop, r.start + r.size);
      else memBottom = Math.min(memBottom, r.start);
    }
  }
  for (const b of sizeBars(pci, slot, fn)) {
    const off = PCI_BASE_ADDRESS_0 + 4 * b.index;
    const low = bus.configRead(slot, fn, off, 4);
    if (b.io) {
      const at = Math.ceil(ioTop / b.size) * b.size;
      bus.configWrite(slot, fn, off, 4, at | (low & 0x3));
      ioTop = at + b.size;
    } else {
      const at = Math.floor((memBottom - b.size) / b.size) * b.size;
      bus.configWrite(slot, fn, off, 4, (at % 0x1_0000_0000) | (low & 0xf));
      if (b.is64) bus.configWrite(slot, fn, off + 4, 4, Math.floor(at / 0x1_0000_0000));
      memBottom = at;
    }
  }
  const pin = bus.configRead(slot, fn, PCI_INTERRUPT_PIN, 1);
  if (pin) bus.configWrite(slot, fn, PCI_INTERRUPT_LINE, 1, PIIX_PCI_IRQS[(pin - 1 + slot - 1) & 3]!);
  const cmd = bus.configRead(slot, fn, PCI_COMMAND, 2);
  bus.configWrite(slot, fn, PCI_COMMAND, 2, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
  return true;
}

/** acpiphp: a function appeared — resources, scan, drivers. */
export async function pciHotplugAdd(pci: PciSubsystem, slot: number, fn: number): Promise<void> {
  if (!assignHotplugResources(pci, slot, fn)) return;
  pci.scanBus();
  await pci.attachDrivers();
}

/** acpiphp eject: unbind and forget the function, then tell the platform it may go. */
export async function pciHotplugRemove(pci: PciSubsystem, slot: number, fn: number): Promise<void> {
  const pdev = pci.devices.find((d) => d.slot === slot && d.fn === fn);
  if (pdev) await pci.removeDevice(pdev);
}
