// Models softmmu/qdev-monitor.c qdev_device_add_from_qdict (QEMU 7.2), with the parts of
// hw/core/qdev.c, hw/scsi/scsi-bus.c (address check and auto-assignment), hw/scsi/scsi-disk.c /
// scsi-generic.c realize checks, hw/virtio/virtio-scsi-pci.c and hw/core/qdev-properties-system.c
// (drive=) that decide whether a device can be created, and with which address.
//
// Written as pure functions over an immutable `QdevTree`, so the same code serves -device at start-up
// and device_add / device_del from the monitor later. Order of checks (QEMU's):
//   driver → bus (bus= or automatic) → id → properties in order (drive= lookup and attach)
//   → bus address check (scsi-id/lun/channel range, lun already used) → realize (PCI slot,
//   SCSI address auto-assignment, device checks: drive property not set, SG_IO, queues …).
//
// Bus naming (qbus_init_bus_name): a virtio-scsi-pci with id=X names its SCSI bus "X.0"; without an
// id it gets "scsi.N", N counting anonymous SCSI buses. Without bus=, a SCSI device goes on the SCSI
// bus found first depth-first from the root; QEMU keeps bus children newest first, so that is the
// most recently created controller's bus.

import type { DriveSpec } from './blockdev.ts';
import type { MachineType, PciBusState } from './hw/pc.ts';
import { pciPlug, pciUnplug } from './hw/pc.ts';
import type { QemuError, QemuOpts, QemuWarning } from './qemu-option.ts';
import { qemuError, qemuOptGet } from './qemu-option.ts';
import type { DeviceClass, PropValue } from './qdev-properties.ts';
import { DEVICE_CLASSES, qdevGetDeviceClass, setProperties } from './qdev-properties.ts';

export type ScsiDriver = 'scsi-hd' | 'scsi-cd' | 'scsi-tape' | 'scsi-block' | 'scsi-generic';
export type VirtioScsiDriver = 'virtio-scsi-pci' | 'virtio-scsi-pci-transitional' | 'virtio-scsi-pci-non-transitional';
export type BlockdevOnErrorProp = 'auto' | 'report' | 'ignore' | 'enospc' | 'stop';
export type OnOffAuto = 'auto' | 'on' | 'off';

export interface VirtioScsiPciSpec {
  readonly kind: 'virtio-scsi-pci';
  readonly driver: VirtioScsiDriver;
  readonly id: string | undefined;
  readonly slot: number;
  readonly fn: number;
  /** The SCSI bus this controller provides ("scsi0.0", or "scsi.0" when anonymous). */
  readonly scsiBus: string;
  /** Transitional (legacy + modern, PCI device 0x1004) or modern-only (0x1048). */
  readonly legacy: boolean;
  readonly modern: boolean;
  readonly pciDeviceId: number;
  /** Request queues, `auto` resolved (= vCPUs). */
  readonly numQueues: number;
  readonly virtqueueSize: number;
  readonly segMaxAdjust: boolean;
  readonly maxSectors: number;
  readonly cmdPerLun: number;
  readonly hotplug: boolean;
  readonly paramChange: boolean;
  /** MSI-X vectors (default num_queues + 3). */
  readonly vectors: number;
  readonly ioeventfd: boolean;
  readonly indirectDesc: boolean;
  readonly eventIdx: boolean;
  readonly packed: boolean;
  readonly queueReset: boolean;
  readonly iommuPlatform: boolean;
  readonly pagePerVq: boolean;
}

/** Device properties of scsi-hd/-cd/-block/-generic that the device model reads. */
export interface ScsiDeviceProps {
  readonly removable: boolean;
  readonly dpofua: boolean;
  readonly ver: string | undefined;
  readonly serial: string | undefined;
  readonly vendor: string | undefined;
  readonly product: string | undefined;
  readonly deviceId: string | undefined;
  readonly wwn: bigint;
  readonly portWwn: bigint;
  readonly portIndex: number;
  /** 0 = not set (backend default). */
  readonly logicalBlockSize: number;
  readonly physicalBlockSize: number;
  readonly minIoSize: number;
  readonly optIoSize: number;
  /** 0xffffffff = not set. */
  readonly discardGranularity: number;
  readonly writeCache: OnOffAuto;
  readonly rerror: BlockdevOnErrorProp;
  readonly werror: BlockdevOnErrorProp;
  readonly maxUnmapSize: bigint;
  readonly maxIoSize: bigint;
  readonly rotationRate: number;
  /** -1 = take from the device (scsi-block). */
  readonly scsiVersion: number;
  readonly bootindex: number | undefined;
  readonly ioTimeout: number;
  readonly shareRw: boolean;
  /** scsi-tape (ours): cartridge capacity in bytes, density code. */
  readonly capacity: number;
  readonly density: number;
}

export interface ScsiDeviceSpec {
  readonly kind: 'scsi';
  readonly driver: ScsiDriver;
  /** What the user wrote (e.g. the `scsi-disk` alias). */
  readonly requestedDriver: string;
  readonly id: string | undefined;
  readonly bus: string;
  readonly channel: number;
  readonly scsiId: number;
  readonly lun: number;
  /** BlockBackend name of the drive, undefined for an empty scsi-cd. */
  readonly drive: string | undefined;
  /** scsi-block / scsi-generic on a host device that answers SG_IO (handled by a later issue). */
  readonly passthrough: boolean;
  readonly props: ScsiDeviceProps;
}

/** A PCI device we accept but do not emulate (virtio-net-pci from the seed): it only takes a slot. */
export interface InertPciDeviceSpec {
  readonly kind: 'inert-pci';
  readonly driver: string;
  readonly id: string | undefined;
  readonly slot: number;
  readonly fn: number;
}

export type DeviceSpec = VirtioScsiPciSpec | ScsiDeviceSpec | InertPciDeviceSpec;

/** The device tree as an immutable value. */
export interface QdevTree {
  readonly machine: MachineType;
  readonly cpus: number;
  readonly pci: PciBusState;
  /** Devices in creation order. */
  readonly devices: readonly DeviceSpec[];
  readonly drives: readonly DriveSpec[];
  /** drive id → what it is attached to (the device id, or its type for anonymous devices). */
  readonly driveOwner: ReadonlyMap<string, string>;
  /** Counter of automatic SCSI bus names (SCSIBus class automatic_ids). */
  readonly scsiAutoBusIds: number;
  /** Whether devices are being hot-plugged (device_add) rather than created at start-up. */
  readonly hotplugPhase: boolean;
}

export function qdevTreeNew(machine: MachineType, cpus: number, pci: PciBusState): QdevTree {
  return { machine, cpus, pci, devices: [], drives: [], driveOwner: new Map(), scsiAutoBusIds: 0, hotplugPhase: false };
}

export function qdevTreeAddDrive(tree: QdevTree, drive: DriveSpec): QdevTree {
  return { ...tree, drives: [...tree.drives, drive] };
}

export type DeviceAddResult =
  | { readonly ok: true; readonly tree: QdevTree; readonly device: DeviceSpec; readonly warnings: readonly QemuWarning[] }
  | { readonly ok: false; readonly error: QemuError; readonly warnings: readonly QemuWarning[] };

const SCSI_MAX_CHANNEL = 0;
const SCSI_MAX_TARGET = 255;
const SCSI_MAX_LUN = 16383;
const VIRTIO_QUEUE_MAX = 1024;
const VIRTIO_SCSI_VQ_NUM_FIXED = 2;
const VIRTQUEUE_MAX_SIZE = 1024;

/** %d of a uint32 property (QEMU prints these unsigned fields with %d). */
function asInt32(v: bigint): number {
  return Number(BigInt.asIntN(32, v));
}

function scsiDevices(tree: QdevTree): ScsiDeviceSpec[] {
  return tree.devices.filter((d): d is ScsiDeviceSpec => d.kind === 'scsi');
}

/**
 * Lookups over one `devices` array, so that adding a device to a tree with thousands costs the same
 * as adding it to an empty one. Built on first use; when a device is appended (withDevice) the index
 * moves to the new array and grows by that device, and the old array, should it be used again
 * (a device_add whose realize failed keeps the old tree), builds a fresh one.
 */
interface QdevIndex {
  /** The ids of the devices that have one. */
  readonly ids: Set<string>;
  /** The virtio-scsi controllers in creation order. */
  readonly controllers: VirtioScsiPciSpec[];
  /** SCSI devices per (bus, channel, scsi-id), in creation order. */
  readonly byTarget: Map<string, ScsiDeviceSpec[]>;
  /** The newest SCSI device at each (bus, channel, scsi-id, lun). */
  readonly byAddr: Map<string, ScsiDeviceSpec>;
}

const qdevIndexes = new WeakMap<readonly DeviceSpec[], QdevIndex>();

function scsiTargetKey(bus: string, channel: number, id: number): string {
  return `${bus}\u0000${channel}:${id}`;
}

function indexAdd(x: QdevIndex, d: DeviceSpec): void {
  if (d.id !== undefined) x.ids.add(d.id);
  if (d.kind === 'virtio-scsi-pci') x.controllers.push(d);
  else if (d.kind === 'scsi') {
    const tk = scsiTargetKey(d.bus, d.channel, d.scsiId);
    const onTarget = x.byTarget.get(tk);
    if (onTarget) onTarget.push(d);
    else x.byTarget.set(tk, [d]);
    x.byAddr.set(`${tk}:${d.lun}`, d);
  }
}

function qdevIndex(devices: readonly DeviceSpec[]): QdevIndex {
  let x = qdevIndexes.get(devices);
  if (!x) {
    x = { ids: new Set(), controllers: [], byTarget: new Map(), byAddr: new Map() };
    for (const d of devices) indexAdd(x, d);
    qdevIndexes.set(devices, x);
  }
  return x;
}

/** `[...devices, d]`, taking the index of `devices` along when it has one. */
function withDevice(devices: readonly DeviceSpec[], d: DeviceSpec): readonly DeviceSpec[] {
  const next = [...devices, d];
  const x = qdevIndexes.get(devices);
  if (x) {
    qdevIndexes.delete(devices);
    indexAdd(x, d);
    qdevIndexes.set(next, x);
  }
  return next;
}

function controllers(tree: QdevTree): readonly VirtioScsiPciSpec[] {
  return qdevIndex(tree.devices).controllers;
}

/** The ids of the tree's devices (device_add's `Duplicate ID` check). Read-only. */
export function qdevDeviceIds(tree: QdevTree): ReadonlySet<string> {
  return qdevIndex(tree.devices).ids;
}

/** do_scsi_device_find(include_unrealized=false): exact LUN match first, else the first device on (channel, id). */
export function scsiDeviceFind(
  tree: QdevTree,
  bus: string,
  channel: number,
  id: number,
  lun: number,
): ScsiDeviceSpec | undefined {
  // Newest first, as QEMU walks bus children: the newest device at that LUN, else the newest on the target.
  const x = qdevIndex(tree.devices);
  const tk = scsiTargetKey(bus, channel, id);
  const exact = x.byAddr.get(`${tk}:${lun}`);
  if (exact) return exact;
  const onTarget = x.byTarget.get(tk);
  return onTarget?.[onTarget.length - 1];
}

interface BusInfo {
  readonly name: string;
  /** QOM bus type, for "can't go on X bus". */
  readonly type: 'SCSI' | 'PCI' | 'PCIE' | 'ISA' | 'IDE' | 'System';
}

/** Every bus of the tree, in the depth-first order qbus_find_recursive visits them. */
function allBuses(tree: QdevTree): BusInfo[] {
  const out: BusInfo[] = [{ name: 'main-system-bus', type: 'System' }, { name: tree.pci.busName, type: tree.pci.busType }];
  // PCI children newest first: the controllers' SCSI buses.
  for (const c of [...controllers(tree)].reverse()) out.push({ name: c.scsiBus, type: 'SCSI' });
  out.push({ name: 'isa.0', type: 'ISA' });
  const ideBuses = tree.machine === 'pc' ? 2 : 6;
  for (let i = 0; i < ideBuses; i++) out.push({ name: `ide.${i}`, type: 'IDE' });
  return out;
}

function busAccepts(busType: BusInfo['type'], wanted: 'SCSI' | 'PCI'): boolean {
  if (wanted === 'PCI') return busType === 'PCI' || busType === 'PCIE';
  return busType === wanted;
}

/** qbus_find (first path element only) or qbus_find_recursive by type. */
function findBus(tree: QdevTree, cls: DeviceClass, path: string | undefined, driver: string): BusInfo | QemuError {
  if (path !== undefined) {
    const elem = path.replace(/^\/+/, '').split('/')[0] ?? '';
    const bus = allBuses(tree).find((b) => b.name === elem);
    if (!bus || path.includes('/')) return qemuError(`Bus '${elem}' not found`);
    if (!busAccepts(bus.type, cls.busType)) return qemuError(`Device '${driver}' can't go on ${bus.type} bus`);
    return bus;
  }
  const bus = allBuses(tree).find((b) => busAccepts(b.type, cls.busType));
  if (!bus) return qemuError(`No '${cls.busType}' bus found for device '${driver}'`);
  return bus;
}

function num(v: PropValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : 0;
}

function strOrUndef(v: PropValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function scsiProps(p: Map<string, PropValue>): ScsiDeviceProps {
  const b = (k: string): boolean => p.get(k) === true;
  const big = (k: string, d: bigint): bigint => {
    const v = p.get(k);
    return typeof v === 'bigint' ? v : d;
  };
  const bi = p.get('bootindex');
  return {
    removable: b('removable'),
    dpofua: b('dpofua'),
    ver: strOrUndef(p.get('ver')),
    serial: strOrUndef(p.get('serial')),
    vendor: strOrUndef(p.get('vendor')),
    product: strOrUndef(p.get('product')),
    deviceId: strOrUndef(p.get('device_id')),
    wwn: big('wwn', 0n),
    portWwn: big('port_wwn', 0n),
    portIndex: num(p.get('port_index')),
    logicalBlockSize: num(p.get('logical_block_size')),
    physicalBlockSize: num(p.get('physical_block_size')),
    minIoSize: num(p.get('min_io_size')),
    optIoSize: num(p.get('opt_io_size')),
    discardGranularity: Number(big('discard_granularity', 0xffff_ffffn)),
    writeCache: (strOrUndef(p.get('write-cache')) ?? 'auto') as OnOffAuto,
    rerror: (strOrUndef(p.get('rerror')) ?? 'auto') as BlockdevOnErrorProp,
    werror: (strOrUndef(p.get('werror')) ?? 'auto') as BlockdevOnErrorProp,
    maxUnmapSize: big('max_unmap_size', 1n << 30n),
    maxIoSize: big('max_io_size', 0x7fff_ffffn),
    rotationRate: num(p.get('rotation_rate')),
    scsiVersion: p.has('scsi_version') ? Number(p.get('scsi_version')) : 5,
    bootindex: typeof bi === 'bigint' ? Number(bi) : undefined,
    ioTimeout: p.has('io_timeout') ? num(p.get('io_timeout')) : 30,
    shareRw: b('share-rw'),
    capacity: Number(big('capacity', 64n * 1024n * 1024n)),
    density: p.has('density') ? num(p.get('density')) : 0x58,
  };
}

/** blkconf_blocksizes checks, for the values the user set. */
function checkBlocksizes(s: ScsiDeviceProps): QemuError | undefined {
  const logical = s.logicalBlockSize || 512;
  const physical = s.physicalBlockSize || logical;
  if (logical > physical) return qemuError('logical_block_size > physical_block_size not supported');
  if (s.minIoSize % logical !== 0) return qemuError('min_io_size must be a multiple of logical_block_size');
  if (s.minIoSize / logical > 65535) return qemuError('min_io_size must not exceed 65535 logical blocks');
  if (s.optIoSize % logical !== 0) return qemuError('opt_io_size must be a multiple of logical_block_size');
  if (s.discardGranularity !== 0xffff_ffff && s.discardGranularity !== 0 && s.discardGranularity % logical !== 0) {
    return qemuError('discard_granularity must be a multiple of logical_block_size');
  }
  return undefined;
}

/**
 * qdev_device_add_from_qdict: validates and creates one device. `opts` are the parsed -device /
 * device_add options (driver as the implied first key). Returns the new tree or QEMU's error.
 */
export function qdevDeviceAdd(tree: QdevTree, opts: QemuOpts): DeviceAddResult {
  const warnings: QemuWarning[] = [];
  const fail = (error: QemuError): DeviceAddResult => ({ ok: false, error, warnings });

  let driver = qemuOptGet(opts, 'driver');
  if (driver === undefined) return fail(qemuError("Parameter 'driver' is missing"));
  const requestedDriver = driver;

  // Last value per key wins (qemu_opts_to_qdict); driver/bus/id are not properties.
  const given = new Map<string, string>();
  for (const o of opts.opts) if (o.name !== 'driver' && o.name !== 'bus') given.set(o.name, o.value);
  const props = [...given].map(([name, value]) => ({ name, value }));

  // `scsi-disk`: removed in QEMU 6.0; accepted here as the seed's QEMU did (CONTRACT.md).
  let typenameForMessages: string | undefined;
  if (driver === 'scsi-disk') {
    warnings.push({ message: "'scsi-disk' is deprecated, please use 'scsi-hd' or 'scsi-cd' instead", extra: [] });
    const d = tree.drives.find((x) => x.id === given.get('drive'));
    driver = d?.media === 'cdrom' ? 'scsi-cd' : 'scsi-hd';
    typenameForMessages = 'scsi-disk';
  }

  const found = qdevGetDeviceClass(driver);
  if ('message' in found) return fail(found);
  let cls = found;
  driver = cls.name;
  if (typenameForMessages) cls = { ...cls, name: typenameForMessages };

  const bus = findBus(tree, cls, qemuOptGet(opts, 'bus'), requestedDriver === 'scsi-disk' ? 'scsi-disk' : driver);
  if ('message' in bus) return fail(bus);

  const id = opts.id;
  if (id !== undefined && qdevIndex(tree.devices).ids.has(id)) return fail(qemuError(`Duplicate device ID '${id}'`));

  const set = setProperties(cls, props);
  if ('message' in set) return fail(set as QemuError);
  const values = set as Map<string, PropValue>;

  // drive= (set_drive_helper): lookup, then attach.
  let drive: DriveSpec | undefined;
  const driveName = given.get('drive');
  if (driveName !== undefined && driveName !== '') {
    drive = tree.drives.find((d) => d.id === driveName);
    if (!drive) return fail(qemuError(`Property '${cls.name}.drive' can't find value '${driveName}'`));
    if (tree.driveOwner.has(driveName)) {
      return fail(qemuError(`Drive '${driveName}' is already in use by another device`));
    }
  }

  if (cls.busType === 'PCI') return addPciDevice(tree, driver, id, values, warnings);
  return addScsiDevice(tree, driver as ScsiDriver, requestedDriver, cls.name, id, bus.name, values, drive, warnings);
}

function addPciDevice(
  tree: QdevTree,
  driver: string,
  id: string | undefined,
  values: Map<string, PropValue>,
  warnings: QemuWarning[],
): DeviceAddResult {
  const fail = (error: QemuError): DeviceAddResult => ({ ok: false, error, warnings });
  const addr = values.get('addr');
  const devfn = typeof addr === 'bigint' && addr >= 0n ? Number(addr) : undefined;
  const multifunction = values.get('multifunction') === true;

  if (!driver.startsWith('virtio-scsi-pci')) {
    const plugged = pciPlug(tree.pci, { name: driver, id, devfn, multifunction, vendorId: 0x1af4, deviceId: 0x1000 });
    if ('message' in plugged) return fail(plugged);
    const device: InertPciDeviceSpec = { kind: 'inert-pci', driver, id, slot: plugged.fn.slot, fn: plugged.fn.fn };
    return { ok: true, tree: { ...tree, pci: plugged.bus, devices: withDevice(tree.devices, device) }, device, warnings };
  }

  // virtio_scsi_pci_realize → virtio_pci_realize → virtio_scsi_common_realize
  const u32 = (k: string): number => Number(values.get(k) as bigint);
  let numQueues = u32('num_queues');
  if (numQueues === 0xffff_ffff) numQueues = Math.min(tree.cpus, VIRTIO_QUEUE_MAX - VIRTIO_SCSI_VQ_NUM_FIXED);
  let vectors = u32('vectors');
  if (vectors === 0xffff_ffff) vectors = numQueues + VIRTIO_SCSI_VQ_NUM_FIXED + 1;

  let legacy: boolean;
  let modern: boolean;
  if (driver === 'virtio-scsi-pci-transitional') [legacy, modern] = [true, true];
  else if (driver === 'virtio-scsi-pci-non-transitional') [legacy, modern] = [false, true];
  else {
    const dl = values.get('disable-legacy') as OnOffAuto;
    // auto: legacy stays on for conventional PCI and the PCIe root complex (both machines here).
    legacy = dl !== 'on';
    modern = values.get('disable-modern') !== true;
  }
  if (!legacy && !modern) return fail(qemuError('device cannot work as neither modern nor legacy mode is enabled'));

  if (numQueues === 0 || numQueues > VIRTIO_QUEUE_MAX - VIRTIO_SCSI_VQ_NUM_FIXED) {
    return fail(
      qemuError(
        `Invalid number of queues (= ${numQueues}), must be a positive integer less than ${VIRTIO_QUEUE_MAX - VIRTIO_SCSI_VQ_NUM_FIXED}.`,
      ),
    );
  }
  const virtqueueSize = u32('virtqueue_size');
  if (virtqueueSize <= 2) {
    return fail(qemuError(`invalid virtqueue_size property (= ${virtqueueSize}), must be > 2`));
  }
  if (virtqueueSize > VIRTQUEUE_MAX_SIZE) {
    // QEMU aborts in virtio_add_queue here; a simulator refuses instead.
    return fail(qemuError(`invalid virtqueue_size property (= ${virtqueueSize}), must be <= ${VIRTQUEUE_MAX_SIZE}`));
  }

  const pciDeviceId = legacy ? 0x1004 : 0x1048;
  const plugged = pciPlug(tree.pci, { name: driver, id, devfn, multifunction, vendorId: 0x1af4, deviceId: pciDeviceId });
  if ('message' in plugged) return fail(plugged);

  let scsiAutoBusIds = tree.scsiAutoBusIds;
  const scsiBus = id !== undefined ? `${id}.0` : `scsi.${scsiAutoBusIds++}`;
  const b = (k: string): boolean => values.get(k) === true;
  const device: VirtioScsiPciSpec = {
    kind: 'virtio-scsi-pci', driver: driver as VirtioScsiDriver, id, slot: plugged.fn.slot, fn: plugged.fn.fn, scsiBus,
    legacy, modern, pciDeviceId, numQueues, virtqueueSize, segMaxAdjust: b('seg_max_adjust'),
    maxSectors: u32('max_sectors'), cmdPerLun: u32('cmd_per_lun'), hotplug: b('hotplug'),
    paramChange: b('param_change'), vectors, ioeventfd: b('ioeventfd'), indirectDesc: b('indirect_desc'),
    eventIdx: b('event_idx'), packed: b('packed'), queueReset: b('queue_reset'), iommuPlatform: b('iommu_platform'),
    pagePerVq: b('page-per-vq'),
  };
  return {
    ok: true,
    tree: { ...tree, pci: plugged.bus, devices: withDevice(tree.devices, device), scsiAutoBusIds },
    device,
    warnings,
  };
}

function addScsiDevice(
  tree: QdevTree,
  driver: ScsiDriver,
  requestedDriver: string,
  typename: string,
  id: string | undefined,
  bus: string,
  values: Map<string, PropValue>,
  drive: DriveSpec | undefined,
  warnings: QemuWarning[],
): DeviceAddResult {
  const fail = (error: QemuError): DeviceAddResult => ({ ok: false, error, warnings });
  const channel = values.get('channel') as bigint;
  const scsiIdProp = values.get('scsi-id') as bigint;
  const lunProp = values.get('lun') as bigint;
  const UNSET = 0xffff_ffffn;

  // scsi_bus_check_address
  if (channel > BigInt(SCSI_MAX_CHANNEL)) return fail(qemuError(`bad scsi channel id: ${asInt32(channel)}`));
  if (scsiIdProp !== UNSET && scsiIdProp > BigInt(SCSI_MAX_TARGET)) {
    return fail(qemuError(`bad scsi device id: ${asInt32(scsiIdProp)}`));
  }
  if (lunProp !== UNSET && lunProp > BigInt(SCSI_MAX_LUN)) return fail(qemuError(`bad scsi device lun: ${asInt32(lunProp)}`));
  const ch = Number(channel);
  if (scsiIdProp !== UNSET && lunProp !== UNSET) {
    const d = scsiDeviceFind(tree, bus, ch, Number(scsiIdProp), Number(lunProp));
    if (d && d.lun === Number(lunProp)) return fail(qemuError(`lun already used by '${d.id ?? '(null)'}'`));
  }

  // scsi_qdev_realize: address auto-assignment
  let scsiId: number;
  let lun: number;
  if (scsiIdProp === UNSET) {
    lun = lunProp === UNSET ? 0 : Number(lunProp);
    let t = -1;
    let d: ScsiDeviceSpec | undefined;
    do {
      d = scsiDeviceFind(tree, bus, ch, ++t, lun);
    } while (d && d.lun === lun && t < SCSI_MAX_TARGET);
    if (d && d.lun === lun) return fail(qemuError('no free target'));
    scsiId = t;
  } else {
    scsiId = Number(scsiIdProp);
    if (lunProp === UNSET) {
      let l = -1;
      let d: ScsiDeviceSpec | undefined;
      do {
        d = scsiDeviceFind(tree, bus, ch, scsiId, ++l);
      } while (d && d.lun === l && l < SCSI_MAX_LUN);
      if (d && d.lun === l) return fail(qemuError('no free lun'));
      lun = l;
    } else lun = Number(lunProp);
  }

  // The device's own realize.
  const props = scsiProps(values);
  let passthrough = false;
  if (driver === 'scsi-hd' || driver === 'scsi-cd') {
    if (!drive && driver === 'scsi-hd') return fail(qemuError('drive property not set'));
    if (drive && drive.file === undefined && driver === 'scsi-hd' && !props.removable) {
      return fail(qemuError('Device needs media, but drive is empty'));
    }
    const bs = checkBlocksizes(props);
    if (bs) return fail(bs);
  } else if (driver === 'scsi-tape') {
    // Ours: a tape drive needs its drive (an empty one is a drive without a cartridge).
    if (!drive) return fail(qemuError('drive property not set'));
    if (props.capacity < 4096) return fail(qemuError(`capacity must be at least 4096 bytes, not ${props.capacity}`));
  } else {
    if (!drive) return fail(qemuError('drive property not set'));
    if (driver === 'scsi-generic') {
      if (drive.werror !== 'enospc' && drive.werror !== 'report') {
        return fail(qemuError("Device doesn't support drive option werror"));
      }
      if (drive.rerror !== 'report') return fail(qemuError("Device doesn't support drive option rerror"));
    }
    if (driver === 'scsi-block' && props.rotationRate !== 0) {
      warnings.push({ message: "scsi-block 'rotation_rate' is deprecated", extra: [] });
    }
    if (!drive.sgio) {
      // blk_ioctl(SG_GET_VERSION_NUM): the file driver has no ioctl (ENOTSUP); a host device
      // that is not SCSI answers ENOTTY.
      const why = drive.hostKind === 'regular' || drive.hostKind === undefined
        ? 'Operation not supported'
        : 'Inappropriate ioctl for device';
      return fail(qemuError(`cannot get SG_IO version number: ${why}`, 'Is this a SCSI device?'));
    }
    passthrough = true;
  }

  const device: ScsiDeviceSpec = {
    kind: 'scsi', driver, requestedDriver, id, bus, channel: ch, scsiId, lun, drive: drive?.id, passthrough, props,
  };
  const driveOwner = new Map(tree.driveOwner);
  if (drive) driveOwner.set(drive.id, id ?? typename);
  return { ok: true, tree: { ...tree, devices: withDevice(tree.devices, device), driveOwner }, device, warnings };
}

/**
 * device_del, done at once (the guest-visible unplug sequence belongs to the HBA model): removes
 * the device, its drive attachment, and for a controller every device on its SCSI bus.
 */
export function qdevDeviceDel(tree: QdevTree, id: string): { ok: true; tree: QdevTree; removed: DeviceSpec[] } | { ok: false; error: QemuError } {
  const dev = tree.devices.find((d) => d.id === id);
  if (!dev) return { ok: false, error: qemuError(`Device '${id}' not found`) };
  const removed: DeviceSpec[] = [dev];
  if (dev.kind === 'virtio-scsi-pci') removed.push(...scsiDevices(tree).filter((d) => d.bus === dev.scsiBus));
  const driveOwner = new Map(tree.driveOwner);
  for (const r of removed) if (r.kind === 'scsi' && r.drive !== undefined) driveOwner.delete(r.drive);
  const pci = dev.kind === 'scsi' ? tree.pci : pciUnplug(tree.pci, dev.slot, dev.fn);
  return { ok: true, tree: { ...tree, pci, devices: tree.devices.filter((d) => !removed.includes(d)), driveOwner }, removed };
}

/** True when `driver` names a device we know (used by `-device X,help`). */
export function isKnownDriver(driver: string): boolean {
  return DEVICE_CLASSES.has(driver) || !('message' in qdevGetDeviceClass(driver));
}
