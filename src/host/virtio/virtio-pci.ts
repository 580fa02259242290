// Models hw/virtio/virtio-pci.c (QEMU 7.2) with the bits of hw/pci/pci.c and hw/pci/msix.c it relies on:
// PCI configuration space with QEMU's capability chain, BAR sizing, the legacy I/O register block
// (BAR0), the MSI-X table and PBA (BAR1), and the modern regions in BAR4 (common cfg @0, ISR @0x1000,
// device cfg @0x2000, notify @0x3000 with multiplier 4).
//
// Kicks are not handled synchronously: a notify write schedules the queue's handler on the event loop
// after `notifyLatencyNs` (like QEMU's ioeventfd, repeated kicks before it runs coalesce into one).
// Interrupts leave as MSI-X messages through the MsiSink (masked vectors latch their pending bit).

import type { AccessSize, MsiSink } from '../../platform/pci.ts';
import type { BarInfo, PciSlotDevice } from '../../platform/pci_bus.ts';
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAPABILITY_LIST,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_VNDR,
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_VECTOR_CTRL_MASKBIT,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_PBA,
  PCI_MSIX_TABLE,
  PCI_REVISION_ID,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_VENDOR_ID,
} from '../../platform/pci.ts';
import type { EventLoop, Nanoseconds } from '../../sim/event_loop.ts';
import { VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_F_BAD_FEATURE, VIRTIO_F_VERSION_1, VIRTIO_PCI_VENDOR_ID, bit } from '../../protocol/virtio_config.ts';
import {
  VIRTIO_PCI_CAP_BAR,
  VIRTIO_PCI_CAP_CFG_TYPE,
  VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG,
  VIRTIO_PCI_CAP_ISR_CFG,
  VIRTIO_PCI_CAP_LEN,
  VIRTIO_PCI_CAP_LENGTH,
  VIRTIO_PCI_CAP_NOTIFY_CFG,
  VIRTIO_PCI_CAP_OFFSET,
  VIRTIO_PCI_CAP_PCI_CFG,
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
  VIRTIO_PCI_COMMON_Q_RESET,
  VIRTIO_PCI_COMMON_Q_SELECT,
  VIRTIO_PCI_COMMON_Q_SIZE,
  VIRTIO_PCI_COMMON_Q_USEDHI,
  VIRTIO_PCI_COMMON_Q_USEDLO,
  VIRTIO_PCI_COMMON_STATUS,
  VIRTIO_PCI_DEVICE_ID_MODERN_BASE,
} from '../../protocol/virtio_pci.ts';
import { vringSize } from '../../protocol/virtio_ring.ts';
import type { VirtIODevice, VirtioTransport } from './virtio.ts';
import { VIRTIO_LEGACY_FEATURES, VIRTIO_NO_VECTOR, VIRTIO_QUEUE_MAX, VIRTQUEUE_MAX_SIZE } from './virtio.ts';

/** Region layout of the modern BAR (virtio_pci_realize with page-per-vq=off). */
export const VIRTIO_PCI_MODERN_BAR = 4;
export const VIRTIO_PCI_MSIX_BAR = 1;
export const VIRTIO_PCI_LEGACY_BAR = 0;
export const VIRTIO_PCI_COMMON_OFFSET = 0x0000;
export const VIRTIO_PCI_ISR_OFFSET = 0x1000;
export const VIRTIO_PCI_DEVICE_OFFSET = 0x2000;
export const VIRTIO_PCI_NOTIFY_OFFSET = 0x3000;
export const VIRTIO_PCI_REGION_SIZE = 0x1000;
export const VIRTIO_PCI_NOTIFY_MULTIPLIER = 4;
export const VIRTIO_PCI_MODERN_BAR_SIZE = 0x4000;
/** msix_init_exclusive_bar: a 4 KiB BAR, table in the lower half, PBA at 2 KiB (for up to 128 vectors). */
export const VIRTIO_PCI_MSIX_BAR_SIZE = 0x1000;
export const VIRTIO_PCI_MSIX_PBA_OFFSET = 0x800;

/** Legacy register block (virtio_pci.h VIRTIO_PCI_*). */
const LEGACY_HOST_FEATURES = 0;
const LEGACY_GUEST_FEATURES = 4;
const LEGACY_QUEUE_PFN = 8;
const LEGACY_QUEUE_NUM = 12;
const LEGACY_QUEUE_SEL = 14;
const LEGACY_QUEUE_NOTIFY = 16;
const LEGACY_STATUS = 18;
const LEGACY_ISR = 19;
const LEGACY_MSI_CONFIG_VECTOR = 20;
const LEGACY_MSI_QUEUE_VECTOR = 22;
const LEGACY_QUEUE_ADDR_SHIFT = 12;
const LEGACY_VRING_ALIGN = 4096;

export interface VirtIOPCIProxyOptions {
  readonly vdev: VirtIODevice;
  readonly loop: EventLoop;
  readonly msi: MsiSink;
  /** Legacy INTx line level (used only while MSI-X is disabled). */
  readonly intx?: ((level: boolean) => void) | undefined;
  /** PCI class code (base << 16 | sub << 8 | prog-if). */
  readonly classCode: number;
  /** MSI-X table size (`vectors` property); 0 = no MSI-X. */
  readonly nvectors: number;
  readonly disableLegacy: boolean;
  readonly disableModern: boolean;
  /** Virtual time between a notify write and the queue handler running. */
  readonly notifyLatencyNs?: Nanoseconds | undefined;
}

interface ProxyQueue {
  num: number;
  enabled: boolean;
  reset: boolean;
  desc: [number, number];
  avail: [number, number];
  used: [number, number];
}

const CAP_VNDR_LEN = 16;
const CAP_NOTIFY_LEN = 20;
const CAP_PCI_CFG_LEN = 20;
const MSIX_CAP_LEN = 12;
const PCI_CONFIG_HEADER_SIZE = 0x40;

/** VirtIOPCIProxy: one PCI function carrying one virtio device. */
export class VirtIOPCIProxy implements PciSlotDevice, VirtioTransport {
  readonly vdev: VirtIODevice;
  readonly bars: readonly BarInfo[];
  readonly config = new Uint8Array(256);
  readonly #wmask = new Uint8Array(256);
  readonly #loop: EventLoop;
  readonly #msi: MsiSink;
  readonly #intx: ((level: boolean) => void) | undefined;
  readonly #latency: Nanoseconds;
  readonly #legacy: boolean;
  readonly #modern: boolean;
  readonly nvectors: number;
  readonly #msixCap: number;
  readonly #pciCfgCap: number;
  readonly #msixTable: Uint8Array;
  readonly #msixPba: Uint8Array;
  readonly #vectorUse: number[];
  #dfselect = 0;
  #gfselect = 0;
  readonly #guestFeatures: [number, number] = [0, 0];
  readonly #pq: ProxyQueue[] = [];
  readonly #kickPending: boolean[] = [];
  #intxLevel = false;

  constructor(o: VirtIOPCIProxyOptions) {
    this.vdev = o.vdev;
    this.#loop = o.loop;
    this.#msi = o.msi;
    this.#intx = o.intx;
    this.#latency = o.notifyLatencyNs ?? 1_000;
    this.#legacy = !o.disableLegacy;
    this.#modern = !o.disableModern;
    this.nvectors = o.nvectors;
    this.#msixTable = new Uint8Array(Math.max(1, o.nvectors) * PCI_MSIX_ENTRY_SIZE);
    this.#msixPba = new Uint8Array(Math.ceil(Math.max(1, o.nvectors) / 64) * 8);
    this.#vectorUse = new Array<number>(o.nvectors).fill(0);
    for (let v = 0; v < o.nvectors; v++) this.#msixTable[v * PCI_MSIX_ENTRY_SIZE + 12] = PCI_MSIX_ENTRY_VECTOR_CTRL_MASKBIT;
    for (let i = 0; i < VIRTIO_QUEUE_MAX && i < o.vdev.vqs.length; i++) {
      this.#pq.push({ num: 0, enabled: false, reset: false, desc: [0, 0], avail: [0, 0], used: [0, 0] });
      this.#kickPending.push(false);
    }

    // virtio_pci_pre_plugged: VERSION_1 for a modern interface, BAD_FEATURE always.
    if (this.#modern) o.vdev.hostFeatures |= bit(VIRTIO_F_VERSION_1);
    o.vdev.hostFeatures |= bit(VIRTIO_F_BAD_FEATURE);
    o.vdev.transport = this;

    const c = this.config;
    const w = this.#wmask;
    // pci_init_wmask: command IO|MEMORY|MASTER|SERR|INTX_DISABLE, cache line, interrupt line, all of 0x40..0xff.
    put16(w, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x100 | PCI_COMMAND_INTX_DISABLE);
    w[0x0c] = 0xff;
    w[PCI_INTERRUPT_LINE] = 0xff;
    w.fill(0xff, PCI_CONFIG_HEADER_SIZE);

    put16(c, PCI_VENDOR_ID, VIRTIO_PCI_VENDOR_ID);
    // Transitional devices keep the legacy id (0x1000 + device id - 1 for SCSI = 0x1004); modern-only ones 0x1040 + id.
    put16(c, PCI_DEVICE_ID, this.#legacy ? legacyPciDeviceId(o.vdev.deviceId) : VIRTIO_PCI_DEVICE_ID_MODERN_BASE + o.vdev.deviceId);
    c[PCI_REVISION_ID] = this.#legacy ? 0 : 1;
    c[PCI_CLASS_PROG] = o.classCode & 0xff;
    put16(c, PCI_CLASS_DEVICE, (o.classCode >> 8) & 0xffff);
    put16(c, PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR_ID);
    put16(c, PCI_SUBSYSTEM_ID, this.#legacy ? o.vdev.deviceId : 0x1100);
    c[PCI_INTERRUPT_PIN] = 1;

    const bars: BarInfo[] = [];
    if (this.#legacy) {
      const size = pow2ceil(20 + 4 + o.vdev.configLen);
      bars.push({ index: VIRTIO_PCI_LEGACY_BAR, size, io: true, is64: false });
      put32(c, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_SPACE_IO);
      put32(w, PCI_BASE_ADDRESS_0, ~(size - 1) & ~0x3);
    }
    if (o.nvectors > 0) {
      bars.push({ index: VIRTIO_PCI_MSIX_BAR, size: VIRTIO_PCI_MSIX_BAR_SIZE, io: false, is64: false });
      put32(w, PCI_BASE_ADDRESS_0 + 4, ~(VIRTIO_PCI_MSIX_BAR_SIZE - 1));
    }
    if (this.#modern) {
      bars.push({ index: VIRTIO_PCI_MODERN_BAR, size: VIRTIO_PCI_MODERN_BAR_SIZE, io: false, is64: true });
      const off = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MODERN_BAR;
      put32(c, off, PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH);
      put32(w, off, ~(VIRTIO_PCI_MODERN_BAR_SIZE - 1));
      put32(w, off + 4, 0xffffffff);
    }
    this.bars = bars;

    // Capabilities, in the order QEMU adds them (each new one goes to the head of the list).
    let free = PCI_CONFIG_HEADER_SIZE;
    const addCap = (id: number, len: number): number => {
      const at = free;
      free += len;
      c[at] = id;
      c[at + 1] = c[PCI_CAPABILITY_LIST]!;
      c[PCI_CAPABILITY_LIST] = at;
      put16(c, PCI_STATUS, get16(c, PCI_STATUS) | PCI_STATUS_CAP_LIST);
      w.fill(0, at, at + len);
      return at;
    };
    const vndr = (type: number, len: number, offset: number, length: number): number => {
      const at = addCap(PCI_CAP_ID_VNDR, len);
      c[at + VIRTIO_PCI_CAP_LEN] = len;
      c[at + VIRTIO_PCI_CAP_CFG_TYPE] = type;
      c[at + VIRTIO_PCI_CAP_BAR] = type === VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_MODERN_BAR;
      put32(c, at + VIRTIO_PCI_CAP_OFFSET, offset);
      put32(c, at + VIRTIO_PCI_CAP_LENGTH, length);
      return at;
    };
    let pciCfg = 0;
    if (this.#modern) {
      vndr(VIRTIO_PCI_CAP_COMMON_CFG, CAP_VNDR_LEN, VIRTIO_PCI_COMMON_OFFSET, VIRTIO_PCI_REGION_SIZE);
      vndr(VIRTIO_PCI_CAP_ISR_CFG, CAP_VNDR_LEN, VIRTIO_PCI_ISR_OFFSET, VIRTIO_PCI_REGION_SIZE);
      vndr(VIRTIO_PCI_CAP_DEVICE_CFG, CAP_VNDR_LEN, VIRTIO_PCI_DEVICE_OFFSET, VIRTIO_PCI_REGION_SIZE);
      const n = vndr(VIRTIO_PCI_CAP_NOTIFY_CFG, CAP_NOTIFY_LEN, VIRTIO_PCI_NOTIFY_OFFSET, VIRTIO_PCI_REGION_SIZE);
      put32(c, n + 16, VIRTIO_PCI_NOTIFY_MULTIPLIER);
      pciCfg = vndr(VIRTIO_PCI_CAP_PCI_CFG, CAP_PCI_CFG_LEN, 0, 0);
      // The window's bar, offset, length and data are for the driver to write.
      w[pciCfg + VIRTIO_PCI_CAP_BAR] = 0xff;
      w.fill(0xff, pciCfg + VIRTIO_PCI_CAP_OFFSET, pciCfg + CAP_PCI_CFG_LEN);
    }
    this.#pciCfgCap = pciCfg;
    let msix = 0;
    if (o.nvectors > 0) {
      msix = addCap(PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
      put16(c, msix + PCI_MSIX_FLAGS, o.nvectors - 1);
      put32(c, msix + PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_BAR);
      put32(c, msix + PCI_MSIX_PBA, VIRTIO_PCI_MSIX_PBA_OFFSET | VIRTIO_PCI_MSIX_BAR);
      w[msix + PCI_MSIX_FLAGS + 1] = (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
    }
    this.#msixCap = msix;
  }

  // ---- PCI configuration space ---------------------------------------------------------------

  configRead(offset: number, size: AccessSize): number {
    if (offset < 0 || offset + size > 256) return allOnes(size);
    const cfg = this.#pciCfgCap;
    if (cfg && size <= 4 && rangesOverlap(offset, size, cfg + 16, 4)) this.#pciCfgAccess(false);
    return getN(this.config, offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    if (offset < 0 || offset + size > 256) return;
    const wasMsix = this.#msixEnabled();
    const wasMasked = this.#msixFunctionMasked();
    for (let i = 0; i < size; i++) {
      const a = offset + i;
      const b = Math.floor(value / 256 ** i) & 0xff;
      const m = this.#wmask[a]!;
      this.config[a] = (this.config[a]! & ~m) | (b & m);
    }
    if (offset < PCI_CONFIG_HEADER_SIZE && this.bars.length) this.#fixBars();
    // virtio_write_config: clearing bus mastering stops the device.
    if (rangesOverlap(offset, size, PCI_COMMAND, 1) && !(this.config[PCI_COMMAND]! & PCI_COMMAND_MASTER)) {
      this.vdev.setStatus(this.vdev.status & ~VIRTIO_CONFIG_S_DRIVER_OK);
    }
    const cfg = this.#pciCfgCap;
    if (cfg && rangesOverlap(offset, size, cfg + 16, 4)) this.#pciCfgAccess(true);
    if (this.#msixCap && rangesOverlap(offset, size, this.#msixCap + PCI_MSIX_FLAGS, 2)) {
      if (wasMsix !== this.#msixEnabled() || wasMasked !== this.#msixFunctionMasked()) {
        for (let v = 0; v < this.nvectors; v++) this.#msixMaskUpdate(v, true);
      }
      this.#updateIntx();
    }
  }

  /** Keeps the read-only type bits of each BAR (I/O space bit, 64-bit/prefetch bits). */
  #fixBars(): void {
    for (const b of this.bars) {
      const off = PCI_BASE_ADDRESS_0 + 4 * b.index;
      const low = b.io ? PCI_BASE_ADDRESS_SPACE_IO : b.is64 ? PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH : 0;
      this.config[off] = (this.config[off]! & ~(b.io ? 0x3 : 0xf)) | low;
    }
  }

  /** VIRTIO_PCI_CAP_PCI_CFG: a window into the modern BAR through configuration space. */
  #pciCfgAccess(write: boolean): void {
    const cap = this.#pciCfgCap;
    const c = this.config;
    const bar = c[cap + VIRTIO_PCI_CAP_BAR]!;
    const off = get32(c, cap + VIRTIO_PCI_CAP_OFFSET);
    const len = get32(c, cap + VIRTIO_PCI_CAP_LENGTH);
    if (bar !== VIRTIO_PCI_MODERN_BAR || (len !== 1 && len !== 2 && len !== 4)) return;
    if (off + len > VIRTIO_PCI_MODERN_BAR_SIZE) return;
    if (write) this.barWrite(bar, off, len, getN(c, cap + 16, len));
    else putN(c, cap + 16, len, this.barRead(bar, off, len));
  }

  // ---- BAR windows ---------------------------------------------------------------------------

  barRead(bar: number, offset: number, size: AccessSize): number {
    if (size === 8) return this.barRead(bar, offset, 4) + this.barRead(bar, offset + 4, 4) * 0x1_0000_0000;
    if (bar === VIRTIO_PCI_MODERN_BAR && this.#modern) {
      if (offset < VIRTIO_PCI_ISR_OFFSET) return this.#commonRead(offset, size);
      if (offset < VIRTIO_PCI_DEVICE_OFFSET) return this.#isrRead();
      if (offset < VIRTIO_PCI_NOTIFY_OFFSET) return this.vdev.configRead(offset - VIRTIO_PCI_DEVICE_OFFSET, size);
      return 0;
    }
    if (bar === VIRTIO_PCI_MSIX_BAR && this.nvectors > 0) {
      if (offset < VIRTIO_PCI_MSIX_PBA_OFFSET) {
        return offset + size <= this.#msixTable.length ? getN(this.#msixTable, offset, size) : 0;
      }
      const p = offset - VIRTIO_PCI_MSIX_PBA_OFFSET;
      return p + size <= this.#msixPba.length ? getN(this.#msixPba, p, size) : 0;
    }
    if (bar === VIRTIO_PCI_LEGACY_BAR && this.#legacy) return this.#legacyRead(offset, size);
    return allOnes(size);
  }

  barWrite(bar: number, offset: number, size: AccessSize, value: number): void {
    if (size === 8) {
      this.barWrite(bar, offset, 4, value % 0x1_0000_0000);
      this.barWrite(bar, offset + 4, 4, Math.floor(value / 0x1_0000_0000));
      return;
    }
    if (bar === VIRTIO_PCI_MODERN_BAR && this.#modern) {
      if (offset < VIRTIO_PCI_ISR_OFFSET) this.#commonWrite(offset, value & sizeMask(size));
      else if (offset < VIRTIO_PCI_DEVICE_OFFSET) return;
      else if (offset < VIRTIO_PCI_NOTIFY_OFFSET) this.vdev.configWrite(offset - VIRTIO_PCI_DEVICE_OFFSET, size, value);
      else this.#kick(Math.floor((offset - VIRTIO_PCI_NOTIFY_OFFSET) / VIRTIO_PCI_NOTIFY_MULTIPLIER));
      return;
    }
    if (bar === VIRTIO_PCI_MSIX_BAR && this.nvectors > 0) {
      if (offset >= VIRTIO_PCI_MSIX_PBA_OFFSET || offset + size > this.#msixTable.length) return; // PBA is read-only
      const vector = Math.floor(offset / PCI_MSIX_ENTRY_SIZE);
      const wasMasked = this.#msixIsMasked(vector);
      putN(this.#msixTable, offset, size, value);
      this.#msixMaskUpdate(vector, wasMasked);
      return;
    }
    if (bar === VIRTIO_PCI_LEGACY_BAR && this.#legacy) this.#legacyWrite(offset, size, value);
  }

  // ---- common configuration (virtio_pci_common_read / _write) --------------------------------

  #commonRead(offset: number, size: AccessSize): number {
    const vdev = this.vdev;
    const sel = vdev.queueSel;
    const pq = this.#pq[sel];
    const vq = vdev.vqs[sel];
    let val = 0;
    switch (offset) {
      case VIRTIO_PCI_COMMON_DFSELECT:
        val = this.#dfselect;
        break;
      case VIRTIO_PCI_COMMON_DF:
        if (this.#dfselect <= 1) {
          const f = vdev.hostFeatures & ~VIRTIO_LEGACY_FEATURES;
          val = Number((f >> BigInt(32 * this.#dfselect)) & 0xffffffffn);
        }
        break;
      case VIRTIO_PCI_COMMON_GFSELECT:
        val = this.#gfselect;
        break;
      case VIRTIO_PCI_COMMON_GF:
        if (this.#gfselect <= 1) val = this.#guestFeatures[this.#gfselect]!;
        break;
      case VIRTIO_PCI_COMMON_MSIX:
        val = vdev.configVector;
        break;
      case VIRTIO_PCI_COMMON_NUMQ:
        for (let i = 0; i < vdev.vqs.length; i++) if (vdev.vqs[i]!.num) val = i + 1;
        break;
      case VIRTIO_PCI_COMMON_STATUS:
        val = vdev.status;
        break;
      case VIRTIO_PCI_COMMON_CFGGENERATION:
        val = vdev.generation;
        break;
      case VIRTIO_PCI_COMMON_Q_SELECT:
        val = sel;
        break;
      case VIRTIO_PCI_COMMON_Q_SIZE:
        val = vq ? vq.num : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_MSIX:
        val = vq ? vq.vector : VIRTIO_NO_VECTOR;
        break;
      case VIRTIO_PCI_COMMON_Q_ENABLE:
        val = pq?.enabled ? 1 : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_NOFF:
        val = sel; // notify_off = queue index
        break;
      case VIRTIO_PCI_COMMON_Q_DESCLO:
        val = pq ? pq.desc[0] : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_DESCHI:
        val = pq ? pq.desc[1] : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_AVAILLO:
        val = pq ? pq.avail[0] : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_AVAILHI:
        val = pq ? pq.avail[1] : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_USEDLO:
        val = pq ? pq.used[0] : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_USEDHI:
        val = pq ? pq.used[1] : 0;
        break;
      case VIRTIO_PCI_COMMON_Q_RESET:
        val = pq?.reset ? 1 : 0;
        break;
      default:
        val = 0;
    }
    return (val & sizeMask(size)) >>> 0;
  }

  #commonWrite(offset: number, val: number): void {
    const vdev = this.vdev;
    const sel = vdev.queueSel;
    const pq = this.#pq[sel];
    const vq = vdev.vqs[sel];
    switch (offset) {
      case VIRTIO_PCI_COMMON_DFSELECT:
        this.#dfselect = val;
        break;
      case VIRTIO_PCI_COMMON_GFSELECT:
        this.#gfselect = val;
        break;
      case VIRTIO_PCI_COMMON_GF:
        if (this.#gfselect <= 1) {
          this.#guestFeatures[this.#gfselect] = val >>> 0;
          vdev.setFeatures((BigInt(this.#guestFeatures[1]) << 32n) | BigInt(this.#guestFeatures[0]));
        }
        break;
      case VIRTIO_PCI_COMMON_MSIX:
        vdev.configVector = this.#reassignVector(vdev.configVector, val);
        break;
      case VIRTIO_PCI_COMMON_STATUS:
        this.#setStatus(val & 0xff);
        break;
      case VIRTIO_PCI_COMMON_Q_SELECT:
        if (val < VIRTIO_QUEUE_MAX) vdev.queueSel = val;
        break;
      case VIRTIO_PCI_COMMON_Q_SIZE:
        if (pq && vq) {
          pq.num = val;
          setQueueNum(vq, val);
        }
        break;
      case VIRTIO_PCI_COMMON_Q_MSIX:
        if (vq) vq.vector = this.#reassignVector(vq.vector, val);
        break;
      case VIRTIO_PCI_COMMON_Q_ENABLE:
        if (!pq || !vq) break;
        if (val === 1) {
          if (pq.num) setQueueNum(vq, pq.num);
          vq.setRings(join64(pq.desc), join64(pq.avail), join64(pq.used));
          pq.enabled = true;
        } else {
          vdev.virtioError(`wrong value for queue_enable ${val.toString(16)}`);
        }
        break;
      case VIRTIO_PCI_COMMON_Q_DESCLO:
        if (pq) pq.desc[0] = val >>> 0;
        break;
      case VIRTIO_PCI_COMMON_Q_DESCHI:
        if (pq) pq.desc[1] = val >>> 0;
        break;
      case VIRTIO_PCI_COMMON_Q_AVAILLO:
        if (pq) pq.avail[0] = val >>> 0;
        break;
      case VIRTIO_PCI_COMMON_Q_AVAILHI:
        if (pq) pq.avail[1] = val >>> 0;
        break;
      case VIRTIO_PCI_COMMON_Q_USEDLO:
        if (pq) pq.used[0] = val >>> 0;
        break;
      case VIRTIO_PCI_COMMON_Q_USEDHI:
        if (pq) pq.used[1] = val >>> 0;
        break;
      case VIRTIO_PCI_COMMON_Q_RESET:
        if (val === 1 && pq && vq) {
          pq.reset = true;
          vq.reset();
          pq.reset = false;
          pq.enabled = false;
        }
        break;
      default:
        break;
    }
  }

  #setStatus(val: number): void {
    const vdev = this.vdev;
    vdev.setStatus(val);
    if (vdev.status === 0) this.reset();
  }

  /** virtio_pci_reset: the device, then the transport's own queue registers and vector use. */
  reset(): void {
    this.vdev.reset();
    this.#vectorUse.fill(0);
    for (const q of this.#pq) {
      q.num = 0;
      q.enabled = false;
      q.desc = [0, 0];
      q.avail = [0, 0];
      q.used = [0, 0];
    }
    this.#kickPending.fill(false);
    this.#dfselect = this.#gfselect = 0;
    this.#guestFeatures[0] = this.#guestFeatures[1] = 0;
    this.#updateIntx();
  }

  #isrRead(): number {
    const v = this.vdev.isr;
    this.vdev.isr = 0;
    this.#updateIntx();
    return v;
  }

  /** A notify write: the handler runs later on the loop; kicks before it runs coalesce. */
  #kick(queue: number): void {
    if (queue >= VIRTIO_QUEUE_MAX || queue >= this.#kickPending.length) return;
    if (this.#kickPending[queue]) return;
    this.#kickPending[queue] = true;
    this.#loop.after(this.#latency, () => {
      this.#kickPending[queue] = false;
      this.vdev.queueNotify(queue);
    });
  }

  // ---- legacy I/O block ------------------------------------------------------------------------

  #legacyConfigOffset(): number {
    return this.#msixEnabled() ? 24 : 20;
  }

  #legacyRead(offset: number, size: AccessSize): number {
    const vdev = this.vdev;
    const vq = vdev.vqs[vdev.queueSel];
    const cfg = this.#legacyConfigOffset();
    if (offset >= cfg) return vdev.configRead(offset - cfg, size);
    switch (offset) {
      case LEGACY_HOST_FEATURES:
        return Number(vdev.hostFeatures & 0xffffffffn);
      case LEGACY_GUEST_FEATURES:
        return Number(vdev.guestFeatures & 0xffffffffn);
      case LEGACY_QUEUE_PFN:
        return vq ? Math.floor(vq.desc / 2 ** LEGACY_QUEUE_ADDR_SHIFT) : 0;
      case LEGACY_QUEUE_NUM:
        return vq ? vq.num : 0;
      case LEGACY_QUEUE_SEL:
        return vdev.queueSel;
      case LEGACY_STATUS:
        return vdev.status;
      case LEGACY_ISR:
        return this.#isrRead();
      case LEGACY_MSI_CONFIG_VECTOR:
        return vdev.configVector;
      case LEGACY_MSI_QUEUE_VECTOR:
        return vq ? vq.vector : VIRTIO_NO_VECTOR;
      default:
        return 0;
    }
  }

  #legacyWrite(offset: number, size: AccessSize, value: number): void {
    const vdev = this.vdev;
    const vq = vdev.vqs[vdev.queueSel];
    const cfg = this.#legacyConfigOffset();
    if (offset >= cfg) {
      vdev.configWrite(offset - cfg, size, value);
      return;
    }
    switch (offset) {
      case LEGACY_GUEST_FEATURES: {
        let f = BigInt(value >>> 0);
        if (f & bit(VIRTIO_F_BAD_FEATURE)) f = 0n; // virtio-scsi has no bad_features hook
        vdev.setFeatures(f);
        break;
      }
      case LEGACY_QUEUE_PFN: {
        const pa = (value >>> 0) * 2 ** LEGACY_QUEUE_ADDR_SHIFT;
        if (pa === 0) this.reset();
        else if (vq) {
          const avail = pa + 16 * vq.num;
          const usedOff = vringSize(vq.num, LEGACY_VRING_ALIGN) - (6 + 8 * vq.num);
          vq.setRings(pa, avail, pa + usedOff);
        }
        break;
      }
      case LEGACY_QUEUE_SEL:
        if ((value & 0xffff) < VIRTIO_QUEUE_MAX) vdev.queueSel = value & 0xffff;
        break;
      case LEGACY_QUEUE_NOTIFY:
        this.#kick(value & 0xffff);
        break;
      case LEGACY_STATUS:
        this.#setStatus(value & 0xff);
        break;
      case LEGACY_MSI_CONFIG_VECTOR:
        vdev.configVector = this.#reassignVector(vdev.configVector, value & 0xffff);
        break;
      case LEGACY_MSI_QUEUE_VECTOR:
        if (vq) vq.vector = this.#reassignVector(vq.vector, value & 0xffff);
        break;
      default:
        break;
    }
  }

  // ---- MSI-X (hw/pci/msix.c) -------------------------------------------------------------------

  /** msix_vector_unuse(old) + msix_vector_use(new); an out-of-range vector reads back as NO_VECTOR. */
  #reassignVector(old: number, val: number): number {
    if (old !== VIRTIO_NO_VECTOR && old < this.nvectors && this.#vectorUse[old]! > 0) this.#vectorUse[old]!--;
    if (val >= this.nvectors) return VIRTIO_NO_VECTOR;
    this.#vectorUse[val]!++;
    return val;
  }

  #msixEnabled(): boolean {
    return this.#msixCap !== 0 && (get16(this.config, this.#msixCap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  #msixFunctionMasked(): boolean {
    return this.#msixCap !== 0 && (get16(this.config, this.#msixCap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_MASKALL) !== 0;
  }

  #msixIsMasked(vector: number): boolean {
    const ctrl = this.#msixTable[vector * PCI_MSIX_ENTRY_SIZE + 12]! & PCI_MSIX_ENTRY_VECTOR_CTRL_MASKBIT;
    return !this.#msixEnabled() || this.#msixFunctionMasked() || ctrl !== 0;
  }

  #msixMaskUpdate(vector: number, wasMasked: boolean): void {
    if (vector >= this.nvectors) return;
    if (!wasMasked || this.#msixIsMasked(vector)) return;
    const byte = vector >> 3;
    const m = 1 << (vector & 7);
    if (!(this.#msixPba[byte]! & m)) return;
    this.#msixPba[byte]! &= ~m;
    this.#msixNotify(vector);
  }

  #msixNotify(vector: number): void {
    if (vector >= this.nvectors || this.#vectorUse[vector] === 0) return;
    if (this.#msixIsMasked(vector)) {
      this.#msixPba[vector >> 3]! |= 1 << (vector & 7);
      return;
    }
    const e = vector * PCI_MSIX_ENTRY_SIZE;
    const address = get32(this.#msixTable, e) + get32(this.#msixTable, e + 4) * 0x1_0000_0000;
    this.#msi.msi(address, get32(this.#msixTable, e + 8));
  }

  /** Pending bit of a vector (tests, and `info pci`-like dumps). */
  msixPending(vector: number): boolean {
    return vector < this.nvectors && (this.#msixPba[vector >> 3]! & (1 << (vector & 7))) !== 0;
  }

  /** VirtioTransport.notify (virtio_pci_notify) */
  notify(vector: number): void {
    if (this.#msixEnabled()) {
      if (vector !== VIRTIO_NO_VECTOR) this.#msixNotify(vector);
    } else {
      this.#updateIntx();
    }
  }

  #updateIntx(): void {
    const level = !this.#msixEnabled() && (this.vdev.isr & 1) !== 0 && !(get16(this.config, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    if (level !== this.#intxLevel) {
      this.#intxLevel = level;
      this.#intx?.(level);
    }
  }
}

/** virtio_queue_set_num: a size can neither appear nor vanish, nor exceed QEMU's maximum. */
function setQueueNum(vq: { num: number }, num: number): void {
  if (!!num !== !!vq.num || num > VIRTQUEUE_MAX_SIZE || num < 0) return;
  vq.num = num;
}

/** Legacy PCI device ids: 0x1000 + (virtio id - 1) for the ids that predate virtio 1.0. */
export function legacyPciDeviceId(virtioId: number): number {
  const table: Record<number, number> = { 1: 0x1000, 2: 0x1001, 3: 0x1003, 4: 0x1005, 5: 0x1002, 8: 0x1004, 9: 0x1009 };
  return table[virtioId] ?? 0x1040 + virtioId;
}

function pow2ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function join64(v: readonly [number, number]): number {
  return v[0] + v[1] * 0x1_0000_0000;
}

function sizeMask(size: number): number {
  return size >= 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
}

function allOnes(size: number): number {
  return sizeMask(size);
}

function rangesOverlap(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}

function get16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function getN(b: Uint8Array, o: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (b[o + i] ?? 0);
  return v;
}

function putN(b: Uint8Array, o: number, size: number, v: number): void {
  for (let i = 0; i < size; i++) b[o + i] = Math.floor(v / 256 ** i) & 0xff;
}
