// Models the firmware's PCI setup (SeaBIOS src/fw/pciinit.c, as QEMU 7.2's `pc` machine runs it) and
// Linux 6.1 drivers/pci/{probe,pci,bus,pci-driver}.c + msi/msi.c, reduced to bus 0 of a conventional PCI
// host bridge: find the functions, size and place their BARs, enable decoding, bind drivers, MSI-X.
//
// Firmware placement (SeaBIOS pci_bios_check_devices / pci_bios_map_devices): every BAR is sized by
// writing all-ones and reading back; BARs go into three regions (I/O, memory, prefetchable memory),
// each sorted by alignment (= size) with larger first and bus order among equals. The I/O region
// starts at 0xc000. The two memory regions sit just below 0xfec00000 (the IO-APIC): the one with the
// smaller alignment on top, the other below it. Memory BARs smaller than a page take a page. The
// interrupt line is PIIX's routing, pci_irqs[(pin - 1 + slot - 1) & 3] with pci_irqs = 10,10,11,11,
// and the command register gets I/O, memory and SERR enabled.
//
// The kernel then reads what the firmware left (probe.c), prints each function and BAR, and binds
// drivers by id. MSI-X (msi.c): vectors are allocated from the irq controller, the table in the BAR
// is programmed with each message, and hwirq numbers are pci_dev_id << 11 | entry (PCI-MSI domain).

import type { AccessSize } from '../platform/pci.ts';
import type { PciBus } from '../platform/pci_bus.ts';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAPABILITY_LIST,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_TABLE,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
  PCI_CAP_ID_MSIX,
  devfn,
  pciName,
} from '../platform/pci.ts';
import type { IrqController } from './irq.ts';
import { KERN } from './printk.ts';
import type { KernelLog } from './printk.ts';

export const PCI_ROM_ADDRESS = 0x30;
export const PCI_ROM_SLOT = 6;
const PCI_COMMAND_SERR = 0x100;
const PCI_DEVICE_MEM_MIN = 0x1000;
const IO_REGION_BASE = 0xc000;
const PCIMEM_END = 0xfec00000;
const PIIX_PCI_IRQS = [10, 10, 11, 11] as const;
export const PCI_ANY_ID = -1;

const ENODEV = 19;
const ENXIO = 6;
const ENOSPC = 28;
const EINVAL = 22;

export interface PciResource {
  /** 0..5 for BARs, 6 for the expansion ROM. */
  readonly index: number;
  readonly start: number;
  readonly size: number;
  readonly io: boolean;
  readonly is64: boolean;
  readonly prefetch: boolean;
}

export interface PciDeviceId {
  readonly vendor: number;
  /** PCI_ANY_ID (-1) matches every device id. */
  readonly device: number;
}

export interface PciDriver {
  readonly name: string;
  readonly idTable: readonly PciDeviceId[];
  /** 0 when bound, -errno otherwise. */
  probe(pdev: PciDev): number | Promise<number>;
  remove(pdev: PciDev): void | Promise<void>;
}

/** What pci_alloc_irq_vectors_affinity's irq_affinity carries: vectors kept out of the spreading. */
export interface IrqAffinity {
  preVectors: number;
  postVectors?: number;
}

type RegionType = 'io' | 'mem' | 'prefmem';

/** struct pci_dev, reduced. Values are those read from configuration space at scan time. */
export class PciDev {
  readonly slot: number;
  readonly fn: number;
  readonly bus = 0;
  readonly devfn: number;
  /** `0000:00:04.0` */
  readonly name: string;
  readonly vendor: number;
  readonly device: number;
  readonly subsystemVendor: number;
  readonly subsystemDevice: number;
  readonly revision: number;
  /** 24-bit class code: base << 16 | sub << 8 | prog-if. */
  readonly classCode: number;
  readonly headerType: number;
  readonly irqPin: number;
  /** Legacy interrupt line the firmware routed (sysfs `irq` while MSI-X is off). */
  readonly irq: number;
  readonly resources: ReadonlyArray<PciResource | undefined>;
  driver: PciDriver | null = null;
  driverData: unknown = null;
  enableCnt = 0;
  #msixIrqs: number[] = [];
  readonly #pci: PciSubsystem;

  constructor(pci: PciSubsystem, slot: number, fn: number) {
    this.#pci = pci;
    this.slot = slot;
    this.fn = fn;
    this.devfn = devfn(slot, fn);
    this.name = pciName(0, slot, fn);
    this.vendor = this.configRead(PCI_VENDOR_ID, 2);
    this.device = this.configRead(PCI_DEVICE_ID, 2);
    this.revision = this.configRead(PCI_REVISION_ID, 1);
    this.classCode = this.configRead(PCI_CLASS_PROG - 1, 4) >>> 8;
    this.headerType = this.configRead(PCI_HEADER_TYPE, 1) & 0x7f;
    this.subsystemVendor = this.configRead(PCI_SUBSYSTEM_VENDOR_ID, 2);
    this.subsystemDevice = this.configRead(PCI_SUBSYSTEM_ID, 2);
    this.irqPin = this.configRead(PCI_INTERRUPT_PIN, 1);
    this.irq = this.irqPin ? this.configRead(PCI_INTERRUPT_LINE, 1) : 0;
    this.resources = readResources(this);
  }

  /** pci_dev_id: bus << 8 | devfn. */
  get devId(): number {
    return (this.bus << 8) | this.devfn;
  }

  configRead(offset: number, size: AccessSize): number {
    return this.#pci.bus.configRead(this.slot, this.fn, offset, size);
  }
  configWrite(offset: number, size: AccessSize, value: number): void {
    this.#pci.bus.configWrite(this.slot, this.fn, offset, size, value);
  }

  /** Reads a register inside BAR `bar` (I/O or memory space as the BAR says). 0xff… if unassigned. */
  barRead(bar: number, offset: number, size: AccessSize): number {
    const r = this.resources[bar];
    if (!r) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    return r.io ? this.#pci.bus.ioRead(r.start + offset, size) : this.#pci.bus.mmioRead(r.start + offset, size);
  }
  barWrite(bar: number, offset: number, size: AccessSize, value: number): void {
    const r = this.resources[bar];
    if (!r) return;
    if (r.io) this.#pci.bus.ioWrite(r.start + offset, size, value);
    else this.#pci.bus.mmioWrite(r.start + offset, size, value);
  }

  /** pci_find_capability: walks the list from 0x34 (bounded, as Linux's TTL of 48). */
  findCapability(capId: number): number {
    if (!(this.configRead(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST)) return 0;
    return this.findNextCapability(PCI_CAPABILITY_LIST, capId, true);
  }

  /** __pci_find_next_cap: next capability `capId` after the one at `pos` (or from the list head). */
  findNextCapability(pos: number, capId: number, fromHead = false): number {
    let p = this.configRead(fromHead ? pos : pos + 1, 1);
    for (let ttl = 48; ttl > 0 && p >= 0x40; ttl--) {
      p &= ~3;
      const id = this.configRead(p, 1);
      if (id === 0xff) break;
      if (id === capId) return p;
      p = this.configRead(p + 1, 1);
    }
    return 0;
  }

  /** pci_enable_device: turns on decoding for the resource types the device has. */
  enableDevice(): number {
    if (this.enableCnt++ > 0) return 0;
    let cmd = this.configRead(PCI_COMMAND, 2);
    for (const r of this.resources) if (r && r.index < PCI_ROM_SLOT) cmd |= r.io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY;
    this.configWrite(PCI_COMMAND, 2, cmd);
    return 0;
  }

  disableDevice(): void {
    if (this.enableCnt === 0 || --this.enableCnt > 0) return;
    this.configWrite(PCI_COMMAND, 2, this.configRead(PCI_COMMAND, 2) & ~PCI_COMMAND_MASTER);
  }

  /** pci_set_master */
  setMaster(): void {
    this.configWrite(PCI_COMMAND, 2, this.configRead(PCI_COMMAND, 2) | PCI_COMMAND_MASTER);
  }

  /** irqs of the enabled MSI-X vectors, in entry order (sysfs msi_irqs/). */
  get msixIrqs(): readonly number[] {
    return this.#msixIrqs;
  }
  get msixEnabled(): boolean {
    return this.#msixIrqs.length > 0;
  }

  /** MSI-X table size from the capability, 0 when the function has no MSI-X. */
  msixVecCount(): number {
    const pos = this.findCapability(PCI_CAP_ID_MSIX);
    return pos ? (this.configRead(pos + PCI_MSIX_FLAGS, 2) & 0x7ff) + 1 : 0;
  }

  /**
   * pci_alloc_irq_vectors_affinity(dev, min, max, PCI_IRQ_MSIX [| PCI_IRQ_AFFINITY], affd): number of
   * vectors enabled, or -errno. Vectors outside pre/post are spread over the CPUs (managed).
   */
  allocIrqVectors(min: number, max: number, affinity?: IrqAffinity): number {
    if (this.#msixIrqs.length > 0) return -EINVAL;
    const pos = this.findCapability(PCI_CAP_ID_MSIX);
    if (!pos) return -EINVAL;
    const tableSize = this.msixVecCount();
    const nvec = Math.min(max, tableSize);
    if (nvec < min) return -ENOSPC;
    const tableReg = this.configRead(pos + PCI_MSIX_TABLE, 4);
    const bir = tableReg & 7;
    const tableOff = tableReg & ~7;
    const ctrl = this.configRead(pos + PCI_MSIX_FLAGS, 2);
    // Enable with every entry masked while the table is written (msix_capability_init).
    this.configWrite(pos + PCI_MSIX_FLAGS, 2, ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    const irqc = this.#pci.irq;
    const pre = affinity?.preVectors ?? 0;
    const post = affinity?.postVectors ?? 0;
    const managed = affinity ? Math.max(0, nvec - pre - post) : 0;
    for (let i = 0; i < nvec; i++) {
      const k = i - pre;
      const cpu = affinity && k >= 0 && k < managed ? spreadCpu(k, managed, irqc.nrCpus) : undefined;
      const { irq, msg } = irqc.allocMsi({ chip: 'PCI-MSI', hwirq: (this.devId << 11) | i, ...(cpu !== undefined ? { cpu } : {}) });
      const e = tableOff + i * PCI_MSIX_ENTRY_SIZE;
      this.barWrite(bir, e, 4, msg.address);
      this.barWrite(bir, e + 4, 4, 0);
      this.barWrite(bir, e + 8, 4, msg.data);
      this.barWrite(bir, e + 12, 4, 0); // unmasked
      this.#msixIrqs.push(irq);
    }
    this.configWrite(PCI_COMMAND, 2, this.configRead(PCI_COMMAND, 2) | PCI_COMMAND_INTX_DISABLE);
    this.configWrite(pos + PCI_MSIX_FLAGS, 2, (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
    return nvec;
  }

  /** pci_irq_vector: the Linux irq number of MSI-X entry `nr`, or -EINVAL. */
  irqVector(nr: number): number {
    return this.#msixIrqs[nr] ?? -EINVAL;
  }

  /** pci_free_irq_vectors: disables MSI-X and releases the irq numbers. */
  freeIrqVectors(): void {
    if (this.#msixIrqs.length === 0) return;
    const pos = this.findCapability(PCI_CAP_ID_MSIX);
    if (pos) {
      const ctrl = this.configRead(pos + PCI_MSIX_FLAGS, 2);
      this.configWrite(pos + PCI_MSIX_FLAGS, 2, ctrl & ~PCI_MSIX_FLAGS_ENABLE);
    }
    for (const irq of this.#msixIrqs) this.#pci.irq.freeIrqDesc(irq);
    this.#msixIrqs = [];
    this.configWrite(PCI_COMMAND, 2, this.configRead(PCI_COMMAND, 2) & ~PCI_COMMAND_INTX_DISABLE);
  }
}

/** irq_create_affinity_masks, reduced to the first CPU of each vector's mask. */
function spreadCpu(k: number, nvec: number, ncpus: number): number {
  if (nvec >= ncpus) return k % ncpus;
  return Math.floor((k * ncpus) / nvec);
}

/** __pci_read_base for every BAR: sizes by writing all-ones with decoding off, as Linux does. */
function readResources(pdev: PciDev): Array<PciResource | undefined> {
  const out: Array<PciResource | undefined> = [];
  const cmd = pdev.configRead(PCI_COMMAND, 2);
  pdev.configWrite(PCI_COMMAND, 2, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  for (let i = 0; i < 6; i++) {
    const b = sizeBar(pdev, i);
    if (b) {
      out[i] = { index: i, start: b.base, size: b.size, io: b.io, is64: b.is64, prefetch: b.prefetch };
      if (b.is64) i++;
    }
  }
  const rom = sizeBar(pdev, PCI_ROM_SLOT);
  if (rom) out[PCI_ROM_SLOT] = { index: PCI_ROM_SLOT, start: rom.base, size: rom.size, io: false, is64: false, prefetch: true };
  pdev.configWrite(PCI_COMMAND, 2, cmd);
  return out;
}

interface SizedBar {
  base: number;
  size: number;
  io: boolean;
  is64: boolean;
  prefetch: boolean;
}

interface ConfigAccess {
  configRead(offset: number, size: AccessSize): number;
  configWrite(offset: number, size: AccessSize, value: number): void;
}

/** Sizing protocol (PCI 3.0 §6.2.5.1): write ~0, read the mask back, restore. Null for an absent BAR. */
function sizeBar(dev: ConfigAccess, bar: number): SizedBar | null {
  const off = bar === PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * bar;
  const old = dev.configRead(off, 4);
  if (bar === PCI_ROM_SLOT) {
    dev.configWrite(off, 4, 0xfffff800);
    const v = dev.configRead(off, 4);
    dev.configWrite(off, 4, old);
    const mask = (v & 0xfffff800) >>> 0;
    if (mask === 0) return null;
    return { base: (old & 0xfffff800) >>> 0, size: (~mask >>> 0) + 1, io: false, is64: false, prefetch: false };
  }
  dev.configWrite(off, 4, 0xffffffff);
  const v = dev.configRead(off, 4);
  dev.configWrite(off, 4, old);
  if (v === 0 || v === 0xffffffff) return null;
  const io = (v & PCI_BASE_ADDRESS_SPACE_IO) !== 0;
  if (io) {
    const mask = (v & 0xfffffffc) >>> 0;
    const size = ((~mask >>> 0) + 1) & 0xffff;
    return size ? { base: (old & 0xfffffffc) >>> 0, size, io, is64: false, prefetch: false } : null;
  }
  const is64 = (v & 0x6) === PCI_BASE_ADDRESS_MEM_TYPE_64;
  const prefetch = (v & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
  let size = (~(v & 0xfffffff0) >>> 0) + 1;
  let base = (old & 0xfffffff0) >>> 0;
  if (is64) {
    const oldHi = dev.configRead(off + 4, 4);
    dev.configWrite(off + 4, 4, 0xffffffff);
    const hi = dev.configRead(off + 4, 4);
    dev.configWrite(off + 4, 4, oldHi);
    base += oldHi * 0x1_0000_0000;
    // size = ~(hi:lo & mask) + 1 over 64 bits; exact while the BAR is below 2^53
    const maskLo = (v & 0xfffffff0) >>> 0;
    size = (0xffffffff - hi) * 0x1_0000_0000 + (0x1_0000_0000 - maskLo);
  }
  return size > 0 ? { base, size, io, is64, prefetch } : null;
}

export interface PciSubsystemOptions {
  bus: PciBus;
  log: KernelLog;
  irq: IrqController;
  /** Legacy INTx routing the firmware programs; default PIIX (i440fx `pc`). */
  intxRoute?: (slot: number, pin: number) => number;
  /** Print `pci 0000:00:04.0: [1af4:1004] type 00 class …` and the BAR lines at scan (default true). */
  verbose?: boolean;
}

export class PciSubsystem {
  readonly bus: PciBus;
  readonly irq: IrqController;
  readonly #log: KernelLog;
  readonly #route: (slot: number, pin: number) => number;
  readonly #verbose: boolean;
  readonly #devices: PciDev[] = [];
  readonly #drivers: PciDriver[] = [];
  /** Driver-core hooks (sysfs): a function appeared or went, a driver bound or unbound. */
  hooks: {
    deviceAdded?(pdev: PciDev): void;
    deviceRemoved?(pdev: PciDev): void;
    bound?(pdev: PciDev, drv: PciDriver): void;
    unbound?(pdev: PciDev): void;
  } = {};

  constructor(o: PciSubsystemOptions) {
    this.bus = o.bus;
    this.irq = o.irq;
    this.#log = o.log;
    this.#route = o.intxRoute ?? ((slot, pin) => PIIX_PCI_IRQS[(pin - 1 + slot - 1) & 3]!);
    this.#verbose = o.verbose ?? true;
  }

  get devices(): readonly PciDev[] {
    return this.#devices;
  }

  device(name: string): PciDev | undefined {
    return this.#devices.find((d) => d.name === name);
  }

  /** What SeaBIOS does before the kernel runs: size, place and enable every BAR on bus 0. */
  firmwareInit(): void {
    const entries: Record<RegionType, Array<{ slot: number; fn: number; bar: number; size: number; is64: boolean }>> = {
      io: [],
      mem: [],
      prefmem: [],
    };
    const fns = this.#present();
    for (const { slot, fn } of fns) {
      const acc = this.#access(slot, fn);
      for (let bar = 0; bar < 6; bar++) {
        const b = sizeBar(acc, bar);
        if (!b) continue;
        const type: RegionType = b.io ? 'io' : b.prefetch ? 'prefmem' : 'mem';
        const size = !b.io && b.size < PCI_DEVICE_MEM_MIN ? PCI_DEVICE_MEM_MIN : b.size;
        insertSorted(entries[type], { slot, fn, bar, size, is64: b.is64 });
        if (b.is64) bar++;
      }
      const rom = sizeBar(acc, PCI_ROM_SLOT);
      if (rom) insertSorted(entries.mem, { slot, fn, bar: PCI_ROM_SLOT, size: Math.max(rom.size, PCI_DEVICE_MEM_MIN), is64: false });
    }
    const sum = (t: RegionType): number => entries[t].reduce((s, e) => s + e.size, 0);
    const align = (t: RegionType): number => entries[t][0]?.size ?? 1;
    let top: RegionType = 'prefmem';
    let below: RegionType = 'mem';
    if (align('mem') < align('prefmem')) [top, below] = ['mem', 'prefmem'];
    const base: Record<RegionType, number> = { io: IO_REGION_BASE, mem: 0, prefmem: 0 };
    base[top] = alignDown(PCIMEM_END - sum(top), align(top));
    base[below] = alignDown(base[top] - sum(below), align(below));
    for (const t of ['io', 'mem', 'prefmem'] as const) {
      let at = base[t];
      for (const e of entries[t]) {
        const off = e.bar === PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * e.bar;
        const low = this.bus.configRead(e.slot, e.fn, off, 4);
        const keep = t === 'io' ? low & 0x3 : e.bar === PCI_ROM_SLOT ? 0 : low & 0xf;
        this.bus.configWrite(e.slot, e.fn, off, 4, (at % 0x1_0000_0000) | keep);
        if (e.is64) this.bus.configWrite(e.slot, e.fn, off + 4, 4, Math.floor(at / 0x1_0000_0000));
        at += e.size;
      }
    }
    for (const { slot, fn } of fns) {
      const pin = this.bus.configRead(slot, fn, PCI_INTERRUPT_PIN, 1);
      if (pin) this.bus.configWrite(slot, fn, PCI_INTERRUPT_LINE, 1, this.#route(slot, pin));
      const cmd = this.bus.configRead(slot, fn, PCI_COMMAND, 2);
      this.bus.configWrite(slot, fn, PCI_COMMAND, 2, cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_SERR);
    }
  }

  /** pci_scan_root_bus: reads every function on bus 0 in slot/function order and logs it. */
  scanBus(): readonly PciDev[] {
    for (const { slot, fn } of this.#present()) {
      if (this.#devices.some((d) => d.slot === slot && d.fn === fn)) continue;
      const pdev = new PciDev(this, slot, fn);
      this.#devices.push(pdev);
      if (this.#verbose) this.#logDevice(pdev);
      this.hooks.deviceAdded?.(pdev);
    }
    this.#devices.sort((a, b) => a.devfn - b.devfn);
    return this.#devices;
  }

  /** pci_register_driver: binds every unbound matching function (bus order). */
  async registerDriver(drv: PciDriver): Promise<void> {
    this.#drivers.push(drv);
    for (const pdev of this.#devices) if (!pdev.driver) await this.#tryProbe(drv, pdev);
  }

  /** pci_unregister_driver: unbinds in reverse bind order. */
  async unregisterDriver(drv: PciDriver): Promise<void> {
    const i = this.#drivers.indexOf(drv);
    if (i >= 0) this.#drivers.splice(i, 1);
    for (const pdev of [...this.#devices].reverse()) {
      if (pdev.driver !== drv) continue;
      await drv.remove(pdev);
      this.hooks.unbound?.(pdev);
      pdev.driver = null;
      pdev.driverData = null;
    }
  }

  /** pci_stop_and_remove_bus_device: unbinds the driver and forgets the function. */
  async removeDevice(pdev: PciDev): Promise<void> {
    if (pdev.driver) {
      await pdev.driver.remove(pdev);
      this.hooks.unbound?.(pdev);
      pdev.driver = null;
      pdev.driverData = null;
    }
    const i = this.#devices.indexOf(pdev);
    if (i >= 0) this.#devices.splice(i, 1);
    this.hooks.deviceRemoved?.(pdev);
  }

  /** device_attach for functions found after the drivers registered (boot order or a rescan). */
  async attachDrivers(): Promise<void> {
    for (const pdev of this.#devices) {
      if (pdev.driver) continue;
      for (const drv of this.#drivers) if (await this.#tryProbe(drv, pdev)) break;
    }
  }

  async #tryProbe(drv: PciDriver, pdev: PciDev): Promise<boolean> {
    const match = drv.idTable.some(
      (id) => id.vendor === pdev.vendor && (id.device === PCI_ANY_ID || id.device === pdev.device),
    );
    if (!match) return false;
    pdev.driver = drv;
    this.hooks.bound?.(pdev, drv);
    const rc = await drv.probe(pdev);
    if (rc !== 0) {
      this.hooks.unbound?.(pdev);
      pdev.driver = null;
      pdev.driverData = null;
      if (rc !== -ENODEV && rc !== -ENXIO) this.#log.printk(KERN.WARNING, `${drv.name}: probe of ${pdev.name} failed with error ${rc}`);
      return false;
    }
    return true;
  }

  #logDevice(pdev: PciDev): void {
    const h = (n: number, w: number): string => n.toString(16).padStart(w, '0');
    this.#log.printk(
      KERN.INFO,
      `pci ${pdev.name}: [${h(pdev.vendor, 4)}:${h(pdev.device, 4)}] type ${h(pdev.headerType, 2)} class 0x${h(pdev.classCode, 6)}`,
    );
    for (const r of pdev.resources) {
      if (!r) continue;
      const label = r.index === PCI_ROM_SLOT ? 'ROM' : `BAR ${r.index}`;
      this.#log.printk(KERN.INFO, `pci ${pdev.name}: ${label} ${formatResource(r)}`);
    }
  }

  #present(): Array<{ slot: number; fn: number }> {
    return this.bus.occupied().filter(({ slot, fn }) => this.bus.configRead(slot, fn, PCI_VENDOR_ID, 2) !== 0xffff);
  }

  #access(slot: number, fn: number): ConfigAccess {
    return {
      configRead: (o, s) => this.bus.configRead(slot, fn, o, s),
      configWrite: (o, s, v) => this.bus.configWrite(slot, fn, o, s, v),
    };
  }
}

/** %pR of a BAR: `[io  0xc040-0xc07f]`, `[mem 0xfe000000-0xfe003fff 64bit pref]`. */
export function formatResource(r: PciResource): string {
  const end = r.start + r.size - 1;
  const hex = (n: number, w: number): string => '0x' + n.toString(16).padStart(w, '0');
  if (r.io) return `[io  ${hex(r.start, 4)}-${hex(end, 4)}]`;
  return `[mem ${hex(r.start, 8)}-${hex(end, 8)}${r.is64 ? ' 64bit' : ''}${r.prefetch ? ' pref' : ''}]`;
}

function insertSorted<T extends { size: number }>(list: T[], e: T): void {
  let i = 0;
  while (i < list.length && list[i]!.size >= e.size) i++;
  list.splice(i, 0, e);
}

function alignDown(n: number, a: number): number {
  return Math.floor(n / a) * a;
}
