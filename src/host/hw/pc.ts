// Models hw/i386/pc_piix.c + pc_q35.c and the slot choice of hw/pci/pci.c do_pci_register_device
// (QEMU 7.2): which PCI functions the `pc` (i440FX) and `q35` machines create on their root bus
// before any -device, and where the next -device lands.
//
// `pc`: 00:00.0 i440FX host bridge, 00:01.0 PIIX3 ISA bridge, 00:01.1 PIIX3 IDE, [00:01.2 UHCI with
// -usb], 00:01.3 PIIX4 ACPI, then the default VGA (00:02.0) and the default NIC e1000 (00:03.0);
// -device PCI functions follow in command-line order, each in the lowest free slot (function 0).
// `q35`: 00:00.0 host bridge, VGA 00:01.0, e1000e 00:02.0, ICH9 LPC/SATA/SMBus at 00:1f.0/.2/.3.
// Defaults go away with -nodefaults, -vga none, or any -net/-netdev/-nic (vl.c clears default_net).
// Pure data: no device emulation lives here.

import type { QemuError } from '../qemu-option.ts';
import { qemuError } from '../qemu-option.ts';

export type MachineType = 'pc' | 'q35';

export interface PciFunctionSpec {
  readonly slot: number;
  readonly fn: number;
  /** QEMU's PCIDevice name (the QOM type name), as "in use by" messages print it. */
  readonly name: string;
  readonly id: string | undefined;
  readonly vendorId: number;
  readonly deviceId: number;
  /** Fixed board function (true) or created by -device / device_add (false). */
  readonly onboard: boolean;
  readonly multifunction: boolean;
}

/** The root PCI bus as an immutable value: occupied functions in devfn order. */
export interface PciBusState {
  readonly busName: 'pci.0' | 'pcie.0';
  /** Bus QOM type, as "can't go on X bus" messages print it. */
  readonly busType: 'PCI' | 'PCIE';
  readonly functions: readonly PciFunctionSpec[];
}

export interface BoardDefaults {
  readonly vga: boolean;
  readonly nic: boolean;
  readonly usb: boolean;
}

const fixed = (slot: number, fn: number, name: string, vendorId: number, deviceId: number, multi = false) =>
  ({ slot, fn, name, id: undefined, vendorId, deviceId, onboard: true, multifunction: multi }) satisfies PciFunctionSpec;

/** The board's own PCI functions for a machine type. */
export function boardPciFunctions(machine: MachineType, d: BoardDefaults): PciBusState {
  const fns: PciFunctionSpec[] = [];
  if (machine === 'pc') {
    fns.push(fixed(0, 0, 'i440FX', 0x8086, 0x1237));
    fns.push(fixed(1, 0, 'PIIX3', 0x8086, 0x7000, true));
    fns.push(fixed(1, 1, 'piix3-ide', 0x8086, 0x7010));
    if (d.usb) fns.push(fixed(1, 2, 'piix3-usb-uhci', 0x8086, 0x7020));
    fns.push(fixed(1, 3, 'PIIX4_PM', 0x8086, 0x7113));
    if (d.vga) fns.push(fixed(2, 0, 'VGA', 0x1234, 0x1111));
    if (d.nic) fns.push(fixed(3, 0, 'e1000', 0x8086, 0x100e));
  } else {
    fns.push(fixed(0, 0, 'mch', 0x8086, 0x29c0));
    if (d.vga) fns.push(fixed(1, 0, 'VGA', 0x1234, 0x1111));
    if (d.nic) fns.push(fixed(2, 0, 'e1000e', 0x8086, 0x10d3));
    if (d.usb) fns.push(fixed(0x1d, 0, 'ich9-usb-uhci1', 0x8086, 0x2934));
    fns.push(fixed(0x1f, 0, 'ICH9-LPC', 0x8086, 0x2918, true));
    fns.push(fixed(0x1f, 2, 'ich9-ahci', 0x8086, 0x2922));
    fns.push(fixed(0x1f, 3, 'ICH9-SMB', 0x8086, 0x2930));
  }
  return {
    busName: machine === 'pc' ? 'pci.0' : 'pcie.0',
    busType: machine === 'pc' ? 'PCI' : 'PCIE',
    functions: sortFns(fns),
  };
}

function sortFns(fns: PciFunctionSpec[]): PciFunctionSpec[] {
  return fns.sort((a, b) => a.slot * 8 + a.fn - (b.slot * 8 + b.fn));
}

function at(bus: PciBusState, slot: number, fn: number): PciFunctionSpec | undefined {
  return bus.functions.find((f) => f.slot === slot && f.fn === fn);
}

export interface PciPlug {
  readonly name: string;
  readonly id: string | undefined;
  /** devfn from `addr=`, or undefined for the first free slot. */
  readonly devfn: number | undefined;
  readonly multifunction: boolean;
  readonly vendorId: number;
  readonly deviceId: number;
}

/**
 * do_pci_register_device + pci_init_multifunction: places a function on the bus.
 * Returns the new bus state and the function, or QEMU's error.
 */
export function pciPlug(bus: PciBusState, p: PciPlug): { bus: PciBusState; fn: PciFunctionSpec } | QemuError {
  let slot: number;
  let fn: number;
  if (p.devfn === undefined) {
    let found = -1;
    for (let s = 0; s < 32; s++) {
      if (!at(bus, s, 0)) {
        found = s;
        break;
      }
    }
    if (found < 0) return qemuError(`PCI: no slot/function available for ${p.name}, all in use or reserved`);
    slot = found;
    fn = 0;
  } else {
    slot = p.devfn >> 3;
    fn = p.devfn & 7;
    const used = at(bus, slot, fn);
    if (used) {
      return qemuError(
        `PCI: slot ${slot} function ${fn} not available for ${p.name}, in use by ${used.name},id=${used.id ?? '(null)'}`,
      );
    }
  }
  const h = (n: number): string => n.toString(16);
  if (fn !== 0) {
    const f0 = at(bus, slot, 0);
    if (f0 && !f0.multifunction) {
      return qemuError(`PCI: single function device can't be populated in function ${h(slot)}.${h(fn)}`);
    }
  } else if (!p.multifunction) {
    const other = bus.functions.find((f) => f.slot === slot && f.fn !== 0);
    if (other) {
      return qemuError(
        `PCI: ${h(slot)}.0 indicates single function, but ${h(slot)}.${h(other.fn)} is already populated.`,
      );
    }
  }
  const spec: PciFunctionSpec = {
    slot, fn, name: p.name, id: p.id, vendorId: p.vendorId, deviceId: p.deviceId, onboard: false,
    multifunction: p.multifunction,
  };
  return { bus: { ...bus, functions: sortFns([...bus.functions, spec]) }, fn: spec };
}

/** Removes a function (device_del of a PCI device). */
export function pciUnplug(bus: PciBusState, slot: number, fn: number): PciBusState {
  return { ...bus, functions: bus.functions.filter((f) => !(f.slot === slot && f.fn === fn)) };
}
