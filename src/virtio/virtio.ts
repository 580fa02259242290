// Models drivers/virtio/virtio.c (Linux 6.1): the virtio bus — devices named virtioN from an IDA,
// drivers matched by device id, the status handshake and feature negotiation around a driver's probe.
//
// register (register_virtio_device): take the lowest free index, reset, set ACKNOWLEDGE, then offer the
// device to the registered drivers. probe (virtio_dev_probe): DRIVER; driver features = the driver's
// table ∩ what the device offers, plus the device's transport bits 28..40 (the transport drops those
// the ring does not know); write them (finalize_features); for VERSION_1 set FEATURES_OK and check the
// device kept it ("virtio: device refuses features"); run the driver's probe; set DRIVER_OK if the
// driver did not; enable config-change callbacks. Any failure leaves FAILED in the status.
// remove (virtio_dev_remove): disable config callbacks, driver remove (which resets the device),
// then ACKNOWLEDGE again so the device can be re-probed.

import { KERN } from '../kernel/printk.ts';
import type { KernelLog } from '../kernel/printk.ts';
import type { DmaAllocator } from '../kernel/dma.ts';
import type { IrqAffinity } from '../kernel/pci.ts';
import type { GuestMemory } from '../platform/guest_memory.ts';
import {
  VIRTIO_CONFIG_S_ACKNOWLEDGE,
  VIRTIO_CONFIG_S_DRIVER,
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FAILED,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_F_VERSION_1,
  bit,
  hasBit,
} from '../protocol/virtio_config.ts';
import type { VirtQueue, VqCallback } from './virtio_ring.ts';
import type { Device } from '../sysfs/core.ts';


export const VIRTIO_TRANSPORT_F_START = 28;
export const VIRTIO_TRANSPORT_F_END = 41;
/** Matches any device or vendor id in a driver's id table. */
export const VIRTIO_DEV_ANY_ID = 0xffffffff;

const ENODEV = 19;

export interface VirtioDeviceId {
  readonly device: number;
  /** VIRTIO_DEV_ANY_ID when omitted. */
  readonly vendor?: number;
}

/** One entry of find_vqs: a name (`control`, `event`, `request`) and its callback (null: no interrupt). */
export interface VqInfo {
  readonly name: string;
  readonly callback: VqCallback | null;
}

/** struct virtio_config_ops: what a transport (virtio-pci) provides. Offsets are in device config. */
export interface VirtioConfigOps {
  get(vdev: VirtioDevice, offset: number, len: 1 | 2 | 4): number;
  set(vdev: VirtioDevice, offset: number, len: 1 | 2 | 4, value: number): void;
  generation(vdev: VirtioDevice): number;
  getStatus(vdev: VirtioDevice): number;
  setStatus(vdev: VirtioDevice, status: number): void;
  reset(vdev: VirtioDevice): void;
  /** Virtqueues in order, or -errno. */
  findVqs(vdev: VirtioDevice, infos: readonly VqInfo[], affinity?: IrqAffinity): VirtQueue[] | number;
  delVqs(vdev: VirtioDevice): void;
  getFeatures(vdev: VirtioDevice): bigint;
  /** Drops unknown transport bits, writes `vdev.features` to the device; 0 or -errno. */
  finalizeFeatures(vdev: VirtioDevice): number;
  busName(vdev: VirtioDevice): string;
}

/** struct virtio_driver */
export interface VirtioDriver {
  readonly name: string;
  readonly idTable: readonly VirtioDeviceId[];
  readonly featureTable: readonly number[];
  /** Features for legacy (pre-VERSION_1) devices; defaults to featureTable. */
  readonly featureTableLegacy?: readonly number[];
  validate?(vdev: VirtioDevice): number;
  /** 0 or -errno. May await (process context). */
  probe(vdev: VirtioDevice): number | Promise<number>;
  remove(vdev: VirtioDevice): void | Promise<void>;
  configChanged?(vdev: VirtioDevice): void;
}

/** The parent a transport hangs the virtio device under (sysfs: …/0000:00:04.0/virtio0). */
export interface VirtioParent {
  /** Device name of the parent: `0000:00:04.0`. */
  readonly name: string;
  /** Path under /sys/devices of the parent: `pci0000:00/0000:00:04.0`. */
  readonly devPath: string;
}

/** struct virtio_device */
export class VirtioDevice {
  /** virtio device id (VIRTIO_ID_SCSI = 8) and vendor (the PCI subsystem vendor). */
  readonly id: { readonly device: number; readonly vendor: number };
  readonly config: VirtioConfigOps;
  readonly parent: VirtioParent;
  /** Guest RAM and the allocator drivers take request headers and buffers from (kmalloc/dma_alloc). */
  readonly mem: GuestMemory;
  readonly dma: DmaAllocator;
  /** Assigned at registration; -1 before. */
  index = -1;
  /** Negotiated features (64 bits). */
  features = 0n;
  driver: VirtioDriver | null = null;
  /** Driver private data (dev->priv). */
  priv: unknown = null;
  /** Transport private data. */
  transport: unknown = null;
  vqs: VirtQueue[] = [];
  configEnabled = false;
  configChangePending = false;
  failed = false;
  /** The driver-core device in sysfs (…/0000:00:04.0/virtio0), set by whoever publishes the bus in sysfs. */
  sysdev: Device | null = null;
  #log: KernelLog | null = null;

  constructor(o: {
    id: { device: number; vendor: number };
    config: VirtioConfigOps;
    parent: VirtioParent;
    mem: GuestMemory;
    dma: DmaAllocator;
  }) {
    this.id = o.id;
    this.config = o.config;
    this.parent = o.parent;
    this.mem = o.mem;
    this.dma = o.dma;
  }

  /** `virtio0` */
  get name(): string {
    return `virtio${this.index}`;
  }

  /** sysfs `device`: `0x0008` */
  get deviceAttr(): string {
    return `0x${this.id.device.toString(16).padStart(4, '0')}`;
  }
  /** sysfs `vendor`: `0x1af4` */
  get vendorAttr(): string {
    return `0x${this.id.vendor.toString(16).padStart(4, '0')}`;
  }
  /** sysfs `status`: `0x0000000f` (read from the device each time). */
  get statusAttr(): string {
    return `0x${this.config.getStatus(this).toString(16).padStart(8, '0')}`;
  }
  /** sysfs `modalias`: `virtio:d00000008v00001AF4` */
  get modalias(): string {
    const h = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
    return `virtio:d${h(this.id.device)}v${h(this.id.vendor)}`;
  }
  /** sysfs `features`: 64 characters, character i is bit i. */
  get featuresAttr(): string {
    let s = '';
    for (let i = 0; i < 64; i++) s += hasBit(this.features, i) ? '1' : '0';
    return s;
  }
  /** /sys/devices path: `pci0000:00/0000:00:04.0/virtio0` */
  get devPath(): string {
    return `${this.parent.devPath}/${this.name}`;
  }

  /** dev_printk prefix: `virtio_scsi virtio0: ` (bus name when no driver is bound). */
  devPrintk(level: (typeof KERN)[keyof typeof KERN], text: string): void {
    this.#log?.printk(level, `${this.driver?.name ?? 'virtio'} ${this.name}: ${text}`);
  }

  /** Attaches the kernel log (done by the bus at registration). */
  setLog(log: KernelLog): void {
    this.#log = log;
  }

  /** virtio_find_vqs: one virtqueue per entry, in order; -errno on failure. */
  findVqs(infos: readonly VqInfo[], affinity?: IrqAffinity): VirtQueue[] | number {
    return this.config.findVqs(this, infos, affinity);
  }

  /** vdev->config->del_vqs */
  delVqs(): void {
    this.config.delVqs(this);
  }
}

export function virtioHasFeature(vdev: VirtioDevice, fbit: number): boolean {
  return hasBit(vdev.features, fbit);
}

export function virtioAddStatus(vdev: VirtioDevice, status: number): void {
  vdev.config.setStatus(vdev, vdev.config.getStatus(vdev) | status);
}

export function virtioResetDevice(vdev: VirtioDevice): void {
  vdev.config.reset(vdev);
}

/** virtio_device_ready: DRIVER_OK; the driver may use its queues from here on. */
export function virtioDeviceReady(vdev: VirtioDevice): void {
  const status = vdev.config.getStatus(vdev);
  if (status & VIRTIO_CONFIG_S_DRIVER_OK) vdev.devPrintk(KERN.WARNING, 'WARNING: DRIVER_OK already set');
  vdev.config.setStatus(vdev, status | VIRTIO_CONFIG_S_DRIVER_OK);
}

// Config space accessors (include/linux/virtio_config.h). 1/2/4-byte reads are single accesses;
// 8-byte reads and byte runs retry until the config generation is stable across the read.
export function virtioCread8(vdev: VirtioDevice, off: number): number {
  return vdev.config.get(vdev, off, 1);
}
export function virtioCread16(vdev: VirtioDevice, off: number): number {
  return vdev.config.get(vdev, off, 2);
}
export function virtioCread32(vdev: VirtioDevice, off: number): number {
  return vdev.config.get(vdev, off, 4);
}
export function virtioCread64(vdev: VirtioDevice, off: number): bigint {
  let v = 0n;
  readStable(vdev, () => {
    v = BigInt(vdev.config.get(vdev, off, 4)) | (BigInt(vdev.config.get(vdev, off + 4, 4)) << 32n);
  });
  return v;
}
export function virtioCreadBytes(vdev: VirtioDevice, off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  readStable(vdev, () => {
    for (let i = 0; i < len; i++) out[i] = vdev.config.get(vdev, off + i, 1);
  });
  return out;
}
export function virtioCwrite8(vdev: VirtioDevice, off: number, v: number): void {
  vdev.config.set(vdev, off, 1, v);
}
export function virtioCwrite16(vdev: VirtioDevice, off: number, v: number): void {
  vdev.config.set(vdev, off, 2, v);
}
export function virtioCwrite32(vdev: VirtioDevice, off: number, v: number): void {
  vdev.config.set(vdev, off, 4, v);
}

/** __virtio_cread_many's loop: re-read while the generation moved (bounded: a device can't hang us). */
function readStable(vdev: VirtioDevice, read: () => void): void {
  let gen = vdev.config.generation(vdev);
  for (let tries = 0; tries < 64; tries++) {
    const old = gen;
    read();
    gen = vdev.config.generation(vdev);
    if (gen === old) return;
  }
}

/** The virtio bus (`/sys/bus/virtio`): devices, drivers, and the index allocator. */
export class VirtioBus {
  readonly #log: KernelLog;
  readonly #devices: VirtioDevice[] = [];
  readonly #drivers: VirtioDriver[] = [];
  readonly #indices = new Set<number>();
  /** Driver-core hooks (sysfs): a device was added (before probing) or removed; a driver bound or unbound. */
  hooks: {
    deviceAdded?(vdev: VirtioDevice): void;
    deviceRemoved?(vdev: VirtioDevice): void;
    bound?(vdev: VirtioDevice): void;
    unbound?(vdev: VirtioDevice): void;
  } = {};

  constructor(log: KernelLog) {
    this.#log = log;
  }

  /** Registered devices in registration order. */
  get devices(): readonly VirtioDevice[] {
    return this.#devices;
  }
  get drivers(): readonly VirtioDriver[] {
    return this.#drivers;
  }

  /** register_virtio_device: index, reset, ACKNOWLEDGE, then probe by a matching driver. 0 or -errno. */
  async registerVirtioDevice(vdev: VirtioDevice): Promise<number> {
    let idx = 0;
    while (this.#indices.has(idx)) idx++;
    this.#indices.add(idx);
    vdev.index = idx;
    vdev.setLog(this.#log);
    vdev.configEnabled = false;
    vdev.configChangePending = false;
    // Start from a reset, in case a previous driver left the device in some state.
    virtioResetDevice(vdev);
    virtioAddStatus(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    this.#devices.push(vdev);
    this.hooks.deviceAdded?.(vdev);
    for (const drv of this.#drivers) if (await this.#tryProbe(drv, vdev)) break;
    return 0;
  }

  /** unregister_virtio_device: unbinds, then frees the index for reuse. */
  async unregisterVirtioDevice(vdev: VirtioDevice): Promise<void> {
    if (vdev.driver) await this.#remove(vdev);
    this.hooks.deviceRemoved?.(vdev);
    const i = this.#devices.indexOf(vdev);
    if (i >= 0) this.#devices.splice(i, 1);
    this.#indices.delete(vdev.index);
  }

  /** register_virtio_driver: probes every unbound matching device in registration order. */
  async registerVirtioDriver(drv: VirtioDriver): Promise<number> {
    this.#drivers.push(drv);
    for (const vdev of this.#devices) if (!vdev.driver) await this.#tryProbe(drv, vdev);
    return 0;
  }

  /** unregister_virtio_driver: removes it from its devices, last bound first. */
  async unregisterVirtioDriver(drv: VirtioDriver): Promise<void> {
    const i = this.#drivers.indexOf(drv);
    if (i >= 0) this.#drivers.splice(i, 1);
    for (const vdev of [...this.#devices].reverse()) if (vdev.driver === drv) await this.#remove(vdev);
  }

  /** virtio_config_changed: called by the transport's config interrupt. */
  configChanged(vdev: VirtioDevice): void {
    if (!vdev.configEnabled) {
      vdev.configChangePending = true;
      return;
    }
    vdev.driver?.configChanged?.(vdev);
  }

  async #tryProbe(drv: VirtioDriver, vdev: VirtioDevice): Promise<boolean> {
    if (!matches(drv, vdev)) return false;
    vdev.driver = drv;
    // driver_sysfs_add comes before the driver's probe, as in really_probe.
    this.hooks.bound?.(vdev);
    const rc = await this.#probe(drv, vdev);
    if (rc !== 0) {
      this.hooks.unbound?.(vdev);
      virtioAddStatus(vdev, VIRTIO_CONFIG_S_FAILED);
      vdev.failed = true;
      vdev.driver = null;
      if (rc !== -ENODEV)
        this.#log.printk(KERN.WARNING, `${drv.name}: probe of ${vdev.name} failed with error ${rc}`);
      return false;
    }
    return true;
  }

  async #probe(drv: VirtioDriver, vdev: VirtioDevice): Promise<number> {
    const cfg = vdev.config;
    virtioAddStatus(vdev, VIRTIO_CONFIG_S_DRIVER);
    const deviceFeatures = cfg.getFeatures(vdev);
    let driverFeatures = 0n;
    for (const f of drv.featureTable) driverFeatures |= bit(f);
    let legacy = driverFeatures;
    if (drv.featureTableLegacy) {
      legacy = 0n;
      for (const f of drv.featureTableLegacy) legacy |= bit(f);
    }
    vdev.features = deviceFeatures & (hasBit(deviceFeatures, VIRTIO_F_VERSION_1) ? driverFeatures : legacy);
    // Transport features are always passed on; the transport decides which it keeps.
    for (let i = VIRTIO_TRANSPORT_F_START; i < VIRTIO_TRANSPORT_F_END; i++)
      if (hasBit(deviceFeatures, i)) vdev.features |= bit(i);
    let err = cfg.finalizeFeatures(vdev);
    if (err) return err;
    if (drv.validate) {
      const before = vdev.features;
      err = drv.validate(vdev);
      if (err) return err;
      if (before !== vdev.features) {
        err = cfg.finalizeFeatures(vdev);
        if (err) return err;
      }
    }
    err = this.#featuresOk(vdev);
    if (err) return err;
    err = await drv.probe(vdev);
    if (err) return err;
    // If the driver's probe did not do it, mark the device DRIVER_OK ourselves.
    if (!(cfg.getStatus(vdev) & VIRTIO_CONFIG_S_DRIVER_OK)) virtioDeviceReady(vdev);
    vdev.configEnabled = true;
    if (vdev.configChangePending) {
      vdev.configChangePending = false;
      drv.configChanged?.(vdev);
    }
    return 0;
  }

  /** virtio_features_ok: FEATURES_OK must stick for a VERSION_1 device. */
  #featuresOk(vdev: VirtioDevice): number {
    if (!virtioHasFeature(vdev, VIRTIO_F_VERSION_1)) return 0;
    virtioAddStatus(vdev, VIRTIO_CONFIG_S_FEATURES_OK);
    const status = vdev.config.getStatus(vdev);
    if (!(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
      vdev.devPrintk(KERN.ERR, `virtio: device refuses features: ${status.toString(16)}`);
      return -ENODEV;
    }
    return 0;
  }

  async #remove(vdev: VirtioDevice): Promise<void> {
    const drv = vdev.driver;
    if (!drv) return;
    vdev.configEnabled = false;
    await drv.remove(vdev);
    this.hooks.unbound?.(vdev);
    // The driver should have reset the device.
    if (vdev.config.getStatus(vdev) !== 0) vdev.devPrintk(KERN.WARNING, 'WARNING: device not reset by remove');
    vdev.driver = null;
    vdev.priv = null;
    virtioAddStatus(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
  }
}

function matches(drv: VirtioDriver, vdev: VirtioDevice): boolean {
  for (const id of drv.idTable) {
    if (id.device !== VIRTIO_DEV_ANY_ID && id.device !== vdev.id.device) continue;
    const vendor = id.vendor ?? VIRTIO_DEV_ANY_ID;
    if (vendor === VIRTIO_DEV_ANY_ID || vendor === vdev.id.vendor) return true;
  }
  return false;
}
