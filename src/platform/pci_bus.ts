// Ours (≈ QEMU hw/pci/pci.c bus + address decoding): functions by slot/function, BAR windows decoded
// from what the guest programmed into configuration space.

import type { AccessSize, PciFunction } from './pci.ts';
import { PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MEMORY } from './pci.ts';

export interface BarInfo {
  readonly index: number;
  readonly size: number;
  readonly io: boolean;
  readonly is64: boolean;
}

/** A PCI function together with the sizes of its BAR decoders (hardware facts, numbers only). */
export interface PciSlotDevice extends PciFunction {
  readonly bars: readonly BarInfo[];
}

interface Window {
  base: number;
  size: number;
  io: boolean;
  dev: PciSlotDevice;
  bar: number;
}

export class PciBus {
  readonly #fns = new Map<number, PciSlotDevice>(); // key: slot << 3 | fn
  #windows: Window[] | null = null;

  attach(slot: number, fn: number, dev: PciSlotDevice): void {
    const key = (slot << 3) | fn;
    if (this.#fns.has(key)) throw new Error(`PCI slot ${slot}.${fn} already in use`);
    this.#fns.set(key, dev);
    this.#windows = null;
  }

  detach(slot: number, fn: number): void {
    this.#fns.delete((slot << 3) | fn);
    this.#windows = null;
  }

  has(slot: number, fn: number): boolean {
    return this.#fns.has((slot << 3) | fn);
  }

  /** Occupied (slot, fn) pairs in ascending order. */
  occupied(): Array<{ slot: number; fn: number }> {
    return [...this.#fns.keys()].sort((a, b) => a - b).map((k) => ({ slot: k >> 3, fn: k & 7 }));
  }

  configRead(slot: number, fn: number, offset: number, size: AccessSize): number {
    const dev = this.#fns.get((slot << 3) | fn);
    if (!dev) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return dev.configRead(offset, size);
  }

  configWrite(slot: number, fn: number, offset: number, size: AccessSize, value: number): void {
    const dev = this.#fns.get((slot << 3) | fn);
    if (!dev) return;
    dev.configWrite(offset, size, value);
    if (offset < 0x40) this.#windows = null; // BARs or command register may have changed
  }

  mmioRead(addr: number, size: AccessSize): number {
    const w = this.#decode(addr, false);
    return w ? w.dev.barRead(w.bar, addr - w.base, size) : size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
  }

  mmioWrite(addr: number, size: AccessSize, value: number): void {
    const w = this.#decode(addr, false);
    if (w) w.dev.barWrite(w.bar, addr - w.base, size, value);
  }

  ioRead(port: number, size: AccessSize): number {
    const w = this.#decode(port, true);
    return w ? w.dev.barRead(w.bar, port - w.base, size) : 0xffffffff;
  }

  ioWrite(port: number, size: AccessSize, value: number): void {
    const w = this.#decode(port, true);
    if (w) w.dev.barWrite(w.bar, port - w.base, size, value);
  }

  #decode(addr: number, io: boolean): Window | undefined {
    const ws = (this.#windows ??= this.#buildWindows());
    for (const w of ws) if (w.io === io && addr >= w.base && addr < w.base + w.size) return w;
    return undefined;
  }

  #buildWindows(): Window[] {
    const out: Window[] = [];
    for (const dev of this.#fns.values()) {
      const cmd = dev.configRead(PCI_COMMAND, 2);
      for (const b of dev.bars) {
        if (b.io ? !(cmd & PCI_COMMAND_IO) : !(cmd & PCI_COMMAND_MEMORY)) continue;
        const off = PCI_BASE_ADDRESS_0 + 4 * b.index;
        const lo = dev.configRead(off, 4);
        let base = (b.io ? lo & ~0x3 : lo & ~0xf) >>> 0;
        if (b.is64) base += dev.configRead(off + 4, 4) * 0x1_0000_0000;
        if (base === 0) continue;
        out.push({ base, size: b.size, io: b.io, dev, bar: b.index });
      }
    }
    return out;
  }
}
