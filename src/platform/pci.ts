// Ours (≈ QEMU hw/pci/pci.c seen from both sides): a PCI function is a register window of numbers.
//
// The host registers functions on the bus; the guest reaches them only through configuration
// space reads/writes (by bus/device/function) and memory/I-O accesses to the BAR windows it
// programmed. No object crosses: only offsets, sizes and values.

export type AccessSize = 1 | 2 | 4 | 8;

/** What a device model exposes on the PCI bus (implemented on the host side). */
export interface PciFunction {
  /** Configuration space, 256 bytes (conventional PCI). */
  configRead(offset: number, size: AccessSize): number;
  configWrite(offset: number, size: AccessSize, value: number): void;
  /** BAR window accesses; `offset` is relative to the BAR's base. 8-byte accesses carry a bigint as number pairs are not needed here. */
  barRead(bar: number, offset: number, size: AccessSize): number;
  barWrite(bar: number, offset: number, size: AccessSize, value: number): void;
}

/** devfn as Linux packs it: slot << 3 | function. */
export function devfn(slot: number, fn: number): number {
  return ((slot & 0x1f) << 3) | (fn & 7);
}

/** "0000:00:04.0" */
export function pciName(bus: number, slot: number, fn: number, domain = 0): string {
  const h = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  return `${h(domain, 4)}:${h(bus, 2)}:${h(slot, 2)}.${fn}`;
}

// Configuration-space offsets (PCI Local Bus 3.0 §6.1; Linux include/uapi/linux/pci_regs.h).
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_CAP_ID_MSIX = 0x11;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_MSIX_FLAGS = 2; // within the MSI-X capability
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_TABLE = 4;
export const PCI_MSIX_PBA = 8;
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_VECTOR_CTRL_MASKBIT = 1;

/** Delivers message-signalled interrupts: a device writes `data` to `address`. */
export interface MsiSink {
  msi(address: number, data: number): void;
}
