// Models drivers/virtio/virtio_pci_modern_dev.c (Linux 6.1): finding the virtio vendor capabilities in
// PCI configuration space, mapping the common, ISR, notify and device-config windows, and the
// register-level operations on the common config (features, status, generation, queue select/size/
// vector/addresses/enable, notify offsets).
//
// vp_modern_probe: a transitional device (0x1000-0x103f) takes its virtio id from the subsystem
// device id, a modern one from device - 0x1040; the vendor is the subsystem vendor. COMMON, ISR and
// NOTIFY capabilities are required; DEVICE is optional. Queue setup (setup_vq of virtio_pci_modern.c)
// uses these operations from virtio_pci_common.ts, next to the config ops table that calls it.

import type { PciDev } from '../kernel/pci.ts';
import type { AccessSize } from '../platform/pci.ts';
import { PCI_CAP_ID_VNDR } from '../platform/pci.ts';
import {
  VIRTIO_PCI_CAP_BAR,
  VIRTIO_PCI_CAP_CFG_TYPE,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_LENGTH,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_OFFSET,
  VIRTIO_PCI_COMMON_CFGGENERATION,
  VIRTIO_PCI_COMMON_DF,
  VIRTIO_PCI_COMMON_DFSELECT,
  VIRTIO_PCI_COMMON_GF,
  VIRTIO_PCI_COMMON_GFSELECT,
  VIRTIO_PCI_COMMON_MSIX,
  VIRTIO_PCI_COMMON_NUMQ,
  VIRTIO_PCI_COMMON_Q_AVAILHI,
  VIRTIO_PCI_COMMON_Q_AVAILLO,
  VIRTIO_PCI_COMMON_Q_DESCHI,
  VIRTIO_PCI_COMMON_Q_DESCLO,
  VIRTIO_PCI_COMMON_Q_ENABLE,
  VIRTIO_PCI_COMMON_Q_MSIX,
  VIRTIO_PCI_COMMON_Q_NOFF,
  VIRTIO_PCI_COMMON_Q_SELECT,
  VIRTIO_PCI_COMMON_Q_SIZE,
  VIRTIO_PCI_COMMON_Q_USEDHI,
  VIRTIO_PCI_COMMON_Q_USEDLO,
  VIRTIO_PCI_COMMON_STATUS,
  VIRTIO_PCI_NOTIFY_CAP_MULT,
} from '../protocol/virtio_pci.ts';

const ENODEV = 19;
const EINVAL = 22;
/** sizeof(struct virtio_pci_common_cfg) in 6.1 (up to queue_used_hi). */
const COMMON_CFG_SIZE = 0x38;
const PAGE_SIZE = 4096;

/** A mapped window: BAR number and offset of its start inside the BAR. */
export interface Window {
  readonly bar: number;
  readonly offset: number;
  readonly length: number;
}

/** struct virtio_pci_modern_device */
export class VpModernDevice {
  readonly pdev: PciDev;
  readonly common: Window;
  readonly isr: Window;
  readonly device: Window | null;
  readonly notify: Window;
  readonly notifyOffMultiplier: number;
  /** virtio id (8 for SCSI) and vendor (the PCI subsystem vendor). */
  readonly id: { readonly device: number; readonly vendor: number };

  constructor(o: {
    pdev: PciDev;
    common: Window;
    isr: Window;
    device: Window | null;
    notify: Window;
    notifyOffMultiplier: number;
    id: { device: number; vendor: number };
  }) {
    this.pdev = o.pdev;
    this.common = o.common;
    this.isr = o.isr;
    this.device = o.device;
    this.notify = o.notify;
    this.notifyOffMultiplier = o.notifyOffMultiplier;
    this.id = o.id;
  }

  #cr(off: number, size: AccessSize): number {
    return this.pdev.barRead(this.common.bar, this.common.offset + off, size);
  }
  #cw(off: number, size: AccessSize, v: number): void {
    this.pdev.barWrite(this.common.bar, this.common.offset + off, size, v);
  }

  getFeatures(): bigint {
    this.#cw(VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    const lo = this.#cr(VIRTIO_PCI_COMMON_DF, 4) >>> 0;
    this.#cw(VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    const hi = this.#cr(VIRTIO_PCI_COMMON_DF, 4) >>> 0;
    return BigInt(lo) | (BigInt(hi) << 32n);
  }
  setFeatures(features: bigint): void {
    this.#cw(VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    this.#cw(VIRTIO_PCI_COMMON_GF, 4, Number(features & 0xffffffffn));
    this.#cw(VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    this.#cw(VIRTIO_PCI_COMMON_GF, 4, Number((features >> 32n) & 0xffffffffn));
  }
  generation(): number {
    return this.#cr(VIRTIO_PCI_COMMON_CFGGENERATION, 1);
  }
  getStatus(): number {
    return this.#cr(VIRTIO_PCI_COMMON_STATUS, 1);
  }
  setStatus(status: number): void {
    this.#cw(VIRTIO_PCI_COMMON_STATUS, 1, status & 0xff);
  }
  /** Writes the config-change vector and returns what the device kept. */
  configVector(vector: number): number {
    this.#cw(VIRTIO_PCI_COMMON_MSIX, 2, vector);
    return this.#cr(VIRTIO_PCI_COMMON_MSIX, 2);
  }
  /** Writes a queue's vector and returns what the device kept. */
  queueVector(index: number, vector: number): number {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    this.#cw(VIRTIO_PCI_COMMON_Q_MSIX, 2, vector);
    return this.#cr(VIRTIO_PCI_COMMON_Q_MSIX, 2);
  }
  getNumQueues(): number {
    return this.#cr(VIRTIO_PCI_COMMON_NUMQ, 2);
  }
  getQueueSize(index: number): number {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    return this.#cr(VIRTIO_PCI_COMMON_Q_SIZE, 2);
  }
  setQueueSize(index: number, size: number): void {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    this.#cw(VIRTIO_PCI_COMMON_Q_SIZE, 2, size);
  }
  getQueueEnable(index: number): boolean {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    return this.#cr(VIRTIO_PCI_COMMON_Q_ENABLE, 2) !== 0;
  }
  setQueueEnable(index: number, enable: boolean): void {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    this.#cw(VIRTIO_PCI_COMMON_Q_ENABLE, 2, enable ? 1 : 0);
  }
  queueAddress(index: number, desc: number, avail: number, used: number): void {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    const lo = (n: number): number => n % 0x1_0000_0000;
    const hi = (n: number): number => Math.floor(n / 0x1_0000_0000);
    this.#cw(VIRTIO_PCI_COMMON_Q_DESCLO, 4, lo(desc));
    this.#cw(VIRTIO_PCI_COMMON_Q_DESCHI, 4, hi(desc));
    this.#cw(VIRTIO_PCI_COMMON_Q_AVAILLO, 4, lo(avail));
    this.#cw(VIRTIO_PCI_COMMON_Q_AVAILHI, 4, hi(avail));
    this.#cw(VIRTIO_PCI_COMMON_Q_USEDLO, 4, lo(used));
    this.#cw(VIRTIO_PCI_COMMON_Q_USEDHI, 4, hi(used));
  }
  /** vp_modern_map_vq_notify: where a 16-bit write of the queue index kicks queue `index`. */
  vqNotifyOffset(index: number): number | null {
    this.#cw(VIRTIO_PCI_COMMON_Q_SELECT, 2, index);
    const off = this.#cr(VIRTIO_PCI_COMMON_Q_NOFF, 2) * this.notifyOffMultiplier;
    if (off + 2 > this.notify.length) return null;
    return this.notify.offset + off;
  }
  /** Reads (and so clears) the ISR byte. */
  readIsr(): number {
    return this.pdev.barRead(this.isr.bar, this.isr.offset, 1);
  }
  deviceRead(off: number, size: AccessSize): number {
    const d = this.device!;
    return this.pdev.barRead(d.bar, d.offset + off, size);
  }
  deviceWrite(off: number, size: AccessSize, v: number): void {
    const d = this.device!;
    this.pdev.barWrite(d.bar, d.offset + off, size, v);
  }
}

/** virtio_pci_find_capability: the first vendor capability of `cfgType` whose BAR is a real resource. */
function findCapability(pdev: PciDev, cfgType: number): number {
  for (let pos = pdev.findCapability(PCI_CAP_ID_VNDR); pos > 0; pos = pdev.findNextCapability(pos, PCI_CAP_ID_VNDR)) {
    const type = pdev.configRead(pos + VIRTIO_PCI_CAP_CFG_TYPE, 1);
    const bar = pdev.configRead(pos + VIRTIO_PCI_CAP_BAR, 1);
    // Ignore structures with reserved BAR values
    if (bar >= 6) continue;
    if (type === cfgType && pdev.resources[bar] && pdev.resources[bar]!.size > 0) return pos;
  }
  return 0;
}

/**
 * vp_modern_map_capability: checks the capability against what the BAR holds and the minimum size the
 * driver needs; logs Linux's complaint and returns null when it does not fit.
 */
function mapCapability(pdev: PciDev, off: number, minlen: number, align: number, start: number, size: number, log: (t: string) => void): Window | null {
  const bar = pdev.configRead(off + VIRTIO_PCI_CAP_BAR, 1);
  let offset = pdev.configRead(off + VIRTIO_PCI_CAP_OFFSET, 4) >>> 0;
  let length = pdev.configRead(off + VIRTIO_PCI_CAP_LENGTH, 4) >>> 0;
  if (length <= start) {
    log(`virtio_pci: bad capability len ${length} (>${start} expected)`);
    return null;
  }
  if (length - start < minlen) {
    log(`virtio_pci: bad capability len ${length} (>=${minlen} expected)`);
    return null;
  }
  length -= start;
  if (start + offset < offset) {
    log(`virtio_pci: map wrap-around ${start} + ${offset}`);
    return null;
  }
  offset += start;
  if (offset & (align - 1)) {
    log(`virtio_pci: offset ${offset} not aligned to ${align}`);
    return null;
  }
  if (length > size) length = size;
  const res = pdev.resources[bar];
  if (!res || minlen + offset < minlen || minlen + offset > res.size) {
    log(`virtio_pci: map virtio ${minlen}@${offset} out of range on bar ${bar} length ${res?.size ?? 0}`);
    return null;
  }
  return { bar, offset, length: Math.min(length, res.size - offset) };
}

/** vp_modern_probe: a VpModernDevice, or -ENODEV (leave it to the legacy driver) / -EINVAL. */
export function vpModernProbe(pdev: PciDev, devErr: (t: string) => void, devInfo: (t: string) => void): VpModernDevice | number {
  if (pdev.device < 0x1000 || pdev.device > 0x107f) return -ENODEV;
  const id =
    pdev.device < 0x1040
      ? { device: pdev.subsystemDevice, vendor: pdev.subsystemVendor }
      : { device: pdev.device - 0x1040, vendor: pdev.subsystemVendor };
  const common = findCapability(pdev, VIRTIO_PCI_CAP_COMMON_CFG);
  if (!common) {
    devInfo('virtio_pci: leaving for legacy driver');
    return -ENODEV;
  }
  const isr = findCapability(pdev, VIRTIO_PCI_CAP_ISR_CFG);
  const notify = findCapability(pdev, VIRTIO_PCI_CAP_NOTIFY_CFG);
  if (!isr || !notify) {
    devErr(`virtio_pci: missing capabilities ${common}/${isr}/${notify}`);
    return -EINVAL;
  }
  const device = findCapability(pdev, VIRTIO_PCI_CAP_DEVICE_CFG);
  const commonW = mapCapability(pdev, common, COMMON_CFG_SIZE, 4, 0, COMMON_CFG_SIZE, devErr);
  const isrW = mapCapability(pdev, isr, 1, 1, 0, 1, devErr);
  const mult = pdev.configRead(notify + VIRTIO_PCI_NOTIFY_CAP_MULT, 4) >>> 0;
  const notifyW = mapCapability(pdev, notify, 2, 2, 0, 0xffffffff, devErr);
  if (!commonW || !isrW || !notifyW) return -EINVAL;
  const deviceW = device ? mapCapability(pdev, device, 0, 4, 0, PAGE_SIZE, devErr) : null;
  return new VpModernDevice({ pdev, common: commonW, isr: isrW, device: deviceW, notify: notifyW, notifyOffMultiplier: mult, id });
}
