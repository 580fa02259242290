// Models softmmu/vl.c (qemu_create_cli_devices) + hw/i386/pc.c + softmmu/runstate.c + the machine side of
// softmmu/qdev-monitor.c and blockdev.c (QEMU 7.2), reduced: turns a parsed command line (MachineSpec)
// into running device models — block backends for the drives, the board's PCI functions,
// virtio-scsi-pci controllers with their SCSI buses, scsi-hd/scsi-cd devices on them — and carries out
// what the monitor asks at run time: device_add / device_del (hot-plug through the HBA, PCI hot-plug
// through a guest callback standing in for ACPI), drive_add / drive_del, blockdev-add / blockdev-del,
// block_resize, stop / cont (with rerror/werror=stop parking requests until `cont`), system_reset and
// removable-medium changes, block_set_io_throttle (block/throttle-groups.ts) and the fault rules'
// monitor commands (ours). Every QMP event it raises is queued with its virtual time; every fault a
// rule injects is a `vscsi_fault_inject` trace event (ours).
//
// The pause gate: while the VM is not running, kicks of the virtio queues are held back and replayed
// on `cont` (QEMU stops the ioeventfd handlers with the vCPUs and re-reads the notifiers on resume);
// block I/O already in flight still completes, as QEMU's drain on vm_stop lets it.

import type { GuestMemory } from '../platform/guest_memory.ts';
import type { MsiSink } from '../platform/pci.ts';
import { PciBus } from '../platform/pci_bus.ts';
import type { EventLoop, Nanoseconds } from '../sim/event_loop.ts';
import { BlockBackend } from './block/block-backend.ts';
import { installBlkdebug } from './block/blkdebug.ts';
import { FaultInjector } from './fault.ts';
import type { FaultInjection } from './fault.ts';
import { ThrottleGroupMember, throttleConfigInit, throttleEnabled, throttleIsValid } from './block/throttle-groups.ts';
import type { BucketConfig, BucketName, ThrottleConfig } from './block/throttle-groups.ts';
import { Rng } from '../sim/rng.ts';
import type { BlockIoErrorEvent, SyncFs } from './block/block-backend.ts';
import type { DriveResult, DriveSpec, FileProbe, HostFile } from './blockdev.ts';
import { driveNew } from './blockdev.ts';
import { PciStubFunction } from './hw/pci-stub.ts';
import { qdevDeviceAdd, qdevDeviceDel } from './qdev-monitor.ts';
import type { DeviceSpec, QdevTree, ScsiDeviceSpec, VirtioScsiPciSpec } from './qdev-monitor.ts';
import type { QemuOpts, QemuWarning } from './qemu-option.ts';
import { idWellformed, qemuError } from './qemu-option.ts';
import { QemuScsiBus } from './scsi/scsi-bus.ts';
import { ScsiDisk, createScsiCd, createScsiHd } from './scsi/scsi-disk.ts';
import { ScsiTape, createScsiTape } from './scsi/scsi-tape.ts';
import type { ScsiDiskProps } from './scsi/scsi-disk.ts';
import { realizeVirtioScsiPci } from './virtio/virtio-scsi-pci.ts';
import type { VirtioScsiPci } from './virtio/virtio-scsi-pci.ts';
import type { TraceSink } from './virtio/virtio.ts';
import type { MachineSpec } from './vl.ts';

/** What the composition root gives the host side: the shared memory, the clock, interrupt delivery. */
export interface HostEnv {
  readonly loop: EventLoop;
  readonly mem: GuestMemory;
  readonly msi: MsiSink;
  /** Where drive images live (Node's fs from the CLI, memfs in tests). */
  readonly fs: SyncFs;
  /** What drive_add / blockdev-add learn about a path before opening it; derived from `fs` when absent. */
  readonly probe?: FileProbe | undefined;
  /** QEMU's stderr (`qemu-system-x86_64: …` lines become `vscsi: …`). */
  readonly stderr: (line: string) => void;
  readonly trace?: TraceSink | undefined;
  /** Seed of the device model's random choices (fault probabilities). */
  readonly seed?: number | undefined;
}

/** A SCSI LU the machine creates: scsi-hd/scsi-cd, or our scsi-tape. */
export type ScsiLu = ScsiDisk | ScsiTape;

/**
 * Whether the device's medium sits behind something the guest can lock: a CD's tray, or a tape
 * drive's cartridge slot (our addition — QEMU has no emulated tape). A locked one refuses an eject
 * that is not forced, and asks the guest to let go.
 */
export function hasTray(dev: ScsiLu): boolean {
  return dev.kind === 'scsi-cd' || dev.kind === 'scsi-tape';
}

export interface Hba {
  readonly spec: VirtioScsiPciSpec;
  readonly dev: VirtioScsiPci;
  readonly bus: QemuScsiBus;
}

/** The RunState values this machine can be in (qapi/run-state.json). */
export type RunState = 'running' | 'paused' | 'io-error' | 'prelaunch' | 'shutdown';

/** A QMP event as raised: its virtual time, name and data (fields in QAPI order). */
export interface QmpEvent {
  readonly ns: Nanoseconds;
  readonly event: string;
  readonly data?: Record<string, unknown> | undefined;
}

/** block_set_io_throttle's arguments (qapi BlockIOThrottle), limits as given (negative = invalid). */
export interface BlockIoThrottleArgs {
  readonly device?: string | undefined;
  readonly id?: string | undefined;
  readonly bps: number;
  readonly bps_rd: number;
  readonly bps_wr: number;
  readonly iops: number;
  readonly iops_rd: number;
  readonly iops_wr: number;
  /** Burst rates (`bps_max` …) and lengths (`bps_max_length` …), when given. */
  readonly max?: Partial<Record<BucketName, number>> | undefined;
  readonly maxLength?: Partial<Record<BucketName, number>> | undefined;
  readonly iopsSize?: number | undefined;
  readonly group?: string | undefined;
}

/** A machine-level error: QEMU's text, and its QMP error class when it is not GenericError. */
export interface MachineError {
  readonly message: string;
  readonly hints: readonly string[];
  readonly errorClass?: 'DeviceNotFound' | 'CommandNotFound' | undefined;
}

export type MachineResult = { ok: true; warnings: readonly QemuWarning[] } | { ok: false; error: MachineError; warnings: readonly QemuWarning[] };

/** One BlockBackend as query-block lists it (creation order). */
export interface BlkEntry {
  /** null for the board's empty default drives (floppy0, sd0). */
  blk: BlockBackend | null;
  /** BlockBackend name ('' = anonymous, e.g. created for `drive=<node-name>`). */
  name: string;
  /** Created by -drive / drive_add (has a DriveInfo): deleted with its device. */
  readonly legacy: boolean;
  /** Root node name: `#blockNNN` for -drive, the user's for blockdev-add. */
  node: string | undefined;
  dev: ScsiLu | undefined;
  /** Board default drives: their QOM path when a board device holds them. */
  readonly boardQdev?: string | undefined;
  readonly boardRemovable?: boolean | undefined;
}

/** A block node made by blockdev-add (or the root node of a -drive). */
export interface BlockNode {
  readonly name: string;
  readonly blk: BlockBackend;
  /** Made by blockdev-add (monitor-owned): only those may be blockdev-del'ed. */
  readonly monitorOwned: boolean;
}

/** The guest side of PCI hot-plug (ACPI PCI hotplug on `pc`): wired by the composition root. */
export interface PciHotplugHandler {
  /** A function appeared at slot.fn (the guest rescans). */
  plugged(slot: number, fn: number): void;
  /** The host asks the guest to release slot.fn; `release` completes the unplug. */
  unplugRequest(slot: number, fn: number, release: () => void): void;
}

/** strerror(ENOSPC): the BLOCK_IO_ERROR reason of a full disk. */
const STRERROR_ENOSPC = 'No space left on device';

/** The pc board's default drives (vl.c default_drive: floppy, SD card), absent with q35's floppy. */
const BOARD_DEFAULT_DRIVES: Record<MachineSpec['machine'], ReadonlyArray<{ name: string; qdev?: string }>> = {
  // The floppy controller (isa-fdc's drive) is the 19th device created unattached on pc-i440fx.
  pc: [{ name: 'floppy0', qdev: '/machine/unattached/device[18]' }, { name: 'sd0' }],
  q35: [{ name: 'sd0' }],
};

/** A FileProbe over a SyncFs (regular files only; Node's fs answers EISDIR on read for directories). */
function probeFromFs(fs: SyncFs): FileProbe {
  return {
    probe(path: string): HostFile | undefined {
      let fd: number;
      try {
        fd = fs.openSync(path, 'r');
      } catch {
        return undefined;
      }
      try {
        const size = Number(fs.fstatSync(fd).size);
        const head = new Uint8Array(Math.min(512, size));
        try {
          fs.readSync(fd, head, 0, head.length, 0);
        } catch {
          return { kind: 'directory', size, head: new Uint8Array(0), sgio: false };
        }
        return { kind: 'regular', size, head, sgio: false };
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

export class QemuMachine {
  readonly spec: MachineSpec;
  readonly env: HostEnv;
  readonly pci = new PciBus();
  /** Fault rules of the device models (-fault, the monitor, the library). */
  readonly faults: FaultInjector;
  /** BlockBackends by drive id (and blockdev-add nodes by node name, for drive= lookups). */
  readonly blk = new Map<string, BlockBackend>();
  /** Controllers by the name of the SCSI bus they provide (`scsi0.0`). */
  readonly hbas = new Map<string, Hba>();
  /** SCSI devices with their resolved specs. */
  readonly scsi = new Map<ScsiLu, ScsiDeviceSpec>();
  /** query-block's list, in creation order. */
  readonly blkEntries: BlkEntry[] = [];
  readonly nodes = new Map<string, BlockNode>();
  /** QMP events not yet drained. */
  readonly events: QmpEvent[] = [];
  tree: QdevTree;
  runState: RunState = 'running';
  pciHotplug: PciHotplugHandler | null = null;
  /** Called after system_reset reset the devices (the composition root reboots the guest). */
  onSystemReset: (() => void) | null = null;
  /** Called on `quit`. */
  onQuit: (() => void) | null = null;
  /** Controllers whose PCI unplug waits for the guest. */
  readonly pendingUnplug = new Set<string>();
  readonly #probe: FileProbe;
  readonly #anonPaths = new Map<DeviceSpec, string>();
  #anonCount = 0;
  #nodeCount = 0;
  /** Units taken by if=none drives (automatic `noneN` ids). */
  readonly #noneUnits = new Set<number>();
  /** Requests parked by rerror/werror=stop, re-issued on `cont`. */
  #parked: Array<() => void> = [];
  /** Kicks held back while stopped: [hba, queue]. */
  #heldKicks: Array<[VirtioScsiPci, number]> = [];
  /** I/O limits of the throttled BlockBackends (block_set_io_throttle). */
  readonly throttles = new Map<BlockBackend, ThrottleGroupMember>();

  private constructor(spec: MachineSpec, env: HostEnv) {
    this.spec = spec;
    this.env = env;
    this.tree = spec.tree;
    this.#probe = env.probe ?? probeFromFs(env.fs);
    // Each command-line if=none drive took the lowest free unit on bus 0 (explicit unit= aside).
    for (let i = 0; i < spec.drives.length; i++) this.#noneUnits.add(i);
    this.faults = new FaultInjector(env.loop, new Rng(env.seed ?? 1).fork('faults'));
    this.faults.onInject = (i) => this.#traceFault(i);
  }

  /** Ours: each injected fault is a `vscsi_fault_inject` trace event (rule, where, target, lun, code). */
  #traceFault(i: FaultInjection): void {
    const trace = this.env.trace;
    if (!trace) return;
    // FaultInjection.what: `T:L 0xOP` (command), `tmf S T:L`, `event E T:L` or `event E -`.
    const m = /^(?:(?:tmf|event) (\d+) )?(?:(\d+):(\d+)|-)(?: 0x([0-9a-f]+))?$/.exec(i.what);
    const code = m?.[4] !== undefined ? parseInt(m[4], 16) : Number(m?.[1] ?? 0);
    trace('vscsi_fault_inject', {
      rule: i.rule.id,
      on: i.on,
      target: m?.[2] !== undefined ? Number(m[2]) : -1,
      lun: m?.[3] !== undefined ? Number(m[3]) : -1,
      opcode: code,
    });
  }

  /** Creates everything on the command line, in QEMU's order; an error text when realize fails. */
  static create(spec: MachineSpec, env: HostEnv): QemuMachine | { error: string } {
    const m = new QemuMachine(spec, env);
    for (const f of spec.faults ?? []) {
      const r = m.faults.add(f);
      if ('error' in r) return { error: r.error };
    }
    for (const d of spec.drives) {
      const err = m.addDrive(d);
      if (err) return { error: err };
    }
    for (const b of BOARD_DEFAULT_DRIVES[spec.machine]) {
      m.blkEntries.push({ blk: null, name: b.name, legacy: true, node: undefined, dev: undefined, boardQdev: b.qdev, boardRemovable: true });
    }
    for (const f of spec.pci) {
      const ctl = spec.devices.find((d): d is VirtioScsiPciSpec => d.kind === 'virtio-scsi-pci' && d.slot === f.slot && d.fn === f.fn);
      if (ctl) {
        const err = m.addController(ctl);
        if (err) return { error: err };
      } else m.pci.attach(f.slot, f.fn, new PciStubFunction(f.name, f.vendorId, f.deviceId, f.multifunction));
    }
    for (const d of spec.devices) {
      if (d.id === undefined) m.#anonPaths.set(d, `/machine/peripheral-anon/device[${m.#anonCount++}]`);
      if (d.kind !== 'scsi') continue;
      const r = m.createScsiDevice(d);
      if ('error' in r) return r;
      const err = m.hbas.get(d.bus)!.bus.attach(r.disk);
      if (err) return { error: err };
    }
    return m;
  }

  // ---- events and run state ----------------------------------------------------------------------

  /** Queues a QMP event at the current virtual time. */
  emit(event: string, data?: Record<string, unknown>): void {
    this.events.push({ ns: this.env.loop.now(), event, data });
  }

  /** Takes every queued event. */
  drainEvents(): QmpEvent[] {
    return this.events.splice(0, this.events.length);
  }

  get running(): boolean {
    return this.runState === 'running';
  }

  /** vm_stop: pauses the VM in `state`; STOP is raised only when it was running. */
  vmStop(state: 'paused' | 'io-error'): void {
    if (this.runState !== 'running') return;
    this.runState = state;
    this.emit('STOP');
  }

  /** qmp_stop */
  stop(): void {
    this.vmStop('paused');
  }

  /**
   * qmp_cont: io-status of every backend back to ok, then vm_start (RESUME), parked requests
   * re-issued, held kicks replayed.
   */
  cont(): MachineError | null {
    if (this.runState === 'shutdown') return { message: 'Resetting the Virtual Machine is required', hints: [] };
    for (const e of this.blkEntries) e.blk?.resetIoStatus();
    if (this.runState === 'running') return null;
    this.runState = 'running';
    this.emit('RESUME');
    const parked = this.#parked;
    this.#parked = [];
    const kicks = this.#heldKicks;
    this.#heldKicks = [];
    // scsi_dma_restart_cb runs as a bottom half after the state change.
    this.env.loop.after(0, () => {
      for (const retry of parked) retry();
      for (const [dev, n] of kicks) dev.scsi.queueNotify(n);
    });
    return null;
  }

  /** qmp_system_reset: every controller (and its SCSI bus) back to power-on state, RESET event. */
  systemReset(): void {
    for (const h of this.hbas.values()) h.dev.reset();
    this.#parked = [];
    this.#heldKicks = [];
    this.emit('RESET', { guest: false, reason: 'host-qmp-system-reset' });
    // main_loop_should_exit: a VM reset while stopped waits in prelaunch for `cont`.
    if (this.runState !== 'running' && this.runState !== 'shutdown') this.runState = 'prelaunch';
    this.onSystemReset?.();
  }

  /** qmp_quit */
  quit(): void {
    this.runState = 'shutdown';
    this.emit('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
    this.onQuit?.();
  }

  // ---- drives ------------------------------------------------------------------------------------

  #nextNodeName(): string {
    // id_generate(ID_BLOCK): one counter for every automatic node name ("#block%03d"). A -drive
    // opens its file node first, then the format node on top, which becomes the root.
    this.#nodeCount++;
    return `#block${String(this.#nodeCount++).padStart(3, '0')}`;
  }

  addDrive(d: DriveSpec): string | null {
    const node = d.file === undefined ? undefined : this.#nextNodeName();
    const opts = {
      name: d.id,
      nodeName: node,
      readOnly: d.readOnly,
      writeback: d.cache.writeback,
      direct: d.cache.direct,
      noFlush: d.cache.noFlush,
      rerror: d.rerror,
      werror: d.werror,
    };
    let blk: BlockBackend;
    if (d.file === undefined) blk = new BlockBackend(this.env.loop, opts);
    else {
      const b = BlockBackend.open(this.env.loop, this.env.fs, d.file, opts);
      if (!(b instanceof BlockBackend)) return `Could not open '${d.file}': ${b.error}`;
      blk = b;
    }
    // blkdebug sits between the device and the image, failing what its rules match.
    if (d.blkdebug) installBlkdebug(blk, d.blkdebug);
    this.#wireBackend(blk);
    this.blk.set(d.id, blk);
    this.blkEntries.push({ blk, name: d.id, legacy: true, node, dev: undefined });
    if (node !== undefined) this.nodes.set(node, { name: node, blk, monitorOwned: false });
    return null;
  }

  #wireBackend(blk: BlockBackend): void {
    blk.onIoError = (ev) => this.#blockIoError(blk, ev);
  }

  /**
   * blk_iostatus_is_enabled: a SCSI device enabled it at realize (blk_iostatus_enable) and the
   * BlockBackend's policies can stop the VM — werror enospc or stop, or rerror stop — whichever
   * direction failed.
   */
  iostatusIsEnabled(blk: BlockBackend): boolean {
    const held = this.blkEntries.some((e) => e.blk === blk && e.dev !== undefined);
    return held && (blk.werror === 'enospc' || blk.werror === 'stop' || blk.rerror === 'stop');
  }

  #blockIoError(blk: BlockBackend, ev: BlockIoErrorEvent): void {
    // qapi BLOCK_IO_ERROR: device, node-name?, operation, action, nospace?, reason. `nospace` is
    // there exactly when the I/O status is enabled (send_qmp_error_event), so a read error on a
    // drive with werror=enospc carries it too.
    const data: Record<string, unknown> = { device: ev.device };
    if (ev.nodeName !== undefined) data['node-name'] = ev.nodeName;
    data['operation'] = ev.operation;
    data['action'] = ev.action;
    if (this.iostatusIsEnabled(blk)) data['nospace'] = ev.nospace ?? ev.reason === STRERROR_ENOSPC;
    data['reason'] = ev.reason;
    this.emit('BLOCK_IO_ERROR', data);
  }

  /** The entry of a BlockBackend name (not anonymous ones). */
  blkByName(name: string): BlkEntry | undefined {
    return name === '' ? undefined : this.blkEntries.find((e) => e.name === name);
  }

  /**
   * drive_add's drive_new (blockdev.ts validates, with if=none): creates the BlockBackend and records
   * the drive in the device tree, so device_add can use it.
   */
  driveAdd(all: QemuOpts): DriveResult {
    const ids = new Set<string>([...this.blkEntries.map((e) => e.name).filter((n) => n !== ''), ...this.nodes.keys()]);
    const r = driveNew(all, { ids, noneUnits: this.#noneUnits }, this.#probe);
    if (!r.ok) return r;
    const err = this.addDrive(r.drive);
    if (err) return { ok: false, error: qemuError(err) };
    this.#noneUnits.add(r.unit);
    this.tree = { ...this.tree, drives: [...this.tree.drives, r.drive] };
    return r;
  }

  /** hmp_drive_del */
  driveDel(id: string): MachineError | null {
    const node = this.nodes.get(id);
    if (node) return this.blockdevDel(id);
    const e = this.blkByName(id);
    if (!e || !e.blk) return { message: `Device '${id}' not found`, hints: [] };
    if (!e.legacy) return { message: 'Deleting device added with blockdev-add is not supported', hints: [] };
    // blk_remove_bs, then the BlockBackend becomes anonymous; it lives on while a device holds it.
    e.blk.removeMedium();
    if (e.node !== undefined) this.nodes.delete(e.node);
    e.node = undefined;
    this.blk.delete(id);
    this.tree = {
      ...this.tree,
      drives: this.tree.drives.filter((d) => d.id !== id),
      driveOwner: new Map([...this.tree.driveOwner].filter(([k]) => k !== id)),
    };
    if (e.dev) e.name = '';
    else this.blkEntries.splice(this.blkEntries.indexOf(e), 1);
    return null;
  }

  /**
   * qmp_blockdev_add for the drivers we have: `raw` over a `file` child, or a bare `file` node.
   * `opts` is the QMP argument object.
   */
  blockdevAdd(opts: Record<string, unknown>): MachineError | null {
    const nodeName = opts['node-name'];
    if (typeof nodeName !== 'string') return { message: "'node-name' must be specified for the root node", hints: [] };
    const driver = opts['driver'];
    if (typeof driver !== 'string') return { message: "Parameter 'driver' is missing", hints: [] };
    let filename: unknown;
    if (driver === 'raw') {
      const file = opts['file'];
      if (typeof file === 'string') {
        const n = this.nodes.get(file);
        if (!n) return { message: `Cannot find device='' nor node-name='${file}'`, hints: [] };
        return { message: `Node '${file}' is already in use by the simulator; use a file child`, hints: [] };
      }
      if (!file || typeof file !== 'object') return { message: "Parameter 'file' is missing", hints: [] };
      const f = file as Record<string, unknown>;
      if (f['driver'] !== 'file') {
        return typeof f['driver'] === 'string'
          ? { message: `The '${f['driver']}' protocol is not supported yet by this simulator`, hints: [] }
          : { message: "Parameter 'driver' is missing", hints: [] };
      }
      filename = f['filename'];
    } else if (driver === 'file') {
      filename = opts['filename'];
    } else return { message: `The '${driver}' format is not supported yet by this simulator`, hints: [] };
    if (typeof filename !== 'string') return { message: "Parameter 'filename' is missing", hints: [] };
    // bdrv_assign_node_name
    if (!idWellformed(nodeName)) return { message: `Invalid node-name: '${nodeName}'`, hints: [] };
    if (this.blkByName(nodeName)) return { message: `node-name=${nodeName} is conflicting with a device id`, hints: [] };
    if (this.nodes.has(nodeName)) return { message: `Duplicate nodes with node-name='${nodeName}'`, hints: [] };
    const ro = opts['read-only'] === true;
    const cache = (opts['cache'] ?? {}) as Record<string, unknown>;
    if (driver === 'raw') this.#nodeCount++; // the file child takes an automatic name
    const b = BlockBackend.open(this.env.loop, this.env.fs, filename, {
      name: undefined,
      nodeName,
      readOnly: ro,
      writeback: true,
      direct: cache['direct'] === true,
      noFlush: cache['no-flush'] === true,
    });
    if (!(b instanceof BlockBackend)) {
      const why = b.error === 'ENOENT' ? 'No such file or directory' : b.error === 'EISDIR' ? 'Is a directory' : b.error;
      return { message: `Could not open '${filename}': ${why}`, hints: [] };
    }
    this.#wireBackend(b);
    this.nodes.set(nodeName, { name: nodeName, blk: b, monitorOwned: true });
    this.blk.set(nodeName, b);
    const size = b.size;
    const drive: DriveSpec = {
      id: nodeName, if: 'none', file: filename, format: 'raw', formatProbed: false, media: 'disk', readOnly: ro,
      cache: { writeback: true, direct: cache['direct'] === true, noFlush: cache['no-flush'] === true },
      rerror: 'report', werror: 'enospc', aio: 'threads', discard: 'ignore', detectZeroes: 'off', snapshot: false,
      copyOnRead: false, sizeBytes: size, hostKind: 'regular', sgio: false,
    };
    this.tree = { ...this.tree, drives: [...this.tree.drives, drive] };
    return null;
  }

  /** qmp_blockdev_del */
  blockdevDel(nodeName: string): MachineError | null {
    const n = this.nodes.get(nodeName);
    if (!n) return { message: `Failed to find node with node-name='${nodeName}'`, hints: [] };
    if (this.blkEntries.some((e) => e.blk === n.blk)) return { message: `Node ${nodeName} is in use`, hints: [] };
    if (!n.monitorOwned) return { message: `Node ${nodeName} is not owned by the monitor`, hints: [] };
    n.blk.removeMedium();
    this.nodes.delete(nodeName);
    this.blk.delete(nodeName);
    this.tree = { ...this.tree, drives: this.tree.drives.filter((d) => d.id !== nodeName) };
    return null;
  }

  /** bdrv_lookup_bs(device, node_name) */
  #lookupBs(device: string | undefined, nodeName: string | undefined): BlockBackend | MachineError {
    if (device !== undefined) {
      const e = this.blkByName(device);
      if (e) return e.blk?.inserted ? e.blk : { message: `Device '${device}' has no medium`, hints: [] };
    }
    if (nodeName !== undefined) {
      const n = this.nodes.get(nodeName);
      if (n) return n.blk;
    }
    return { message: `Cannot find device='${device ?? ''}' nor node-name='${nodeName ?? ''}'`, hints: [] };
  }

  /** qmp_block_resize: the new size reaches scsi-disk's resize callback (2A/09, PARAM_CHANGE). */
  blockResize(device: string | undefined, nodeName: string | undefined, size: number): MachineError | null {
    const blk = this.#lookupBs(device, nodeName);
    if (!(blk instanceof BlockBackend)) return blk;
    if (size < 0) return { message: "Parameter 'size' expects a >0 size", hints: [] };
    if (blk.readOnly) return { message: 'Cannot manipulate a read-only node', hints: [] };
    const err = blk.resize(size);
    if (err) return { message: `Could not resize file: ${err}`, hints: [] };
    return null;
  }

  /**
   * qmp_block_set_io_throttle: the BlockBackend by exactly one of `device` / `id`, the limits
   * checked (throttle_is_valid), then enabled, updated, or — all zero — removed, which lets every
   * waiting request go.
   */
  blockSetIoThrottle(a: BlockIoThrottleArgs): MachineError | null {
    if ((a.device === undefined) === (a.id === undefined)) return { message: "Need exactly one of 'device' and 'id'", hints: [] };
    const e = this.#getBlk(a.device, a.id);
    if ('message' in e) return e;
    const blk = e.blk;
    if (!blk?.inserted) return { message: 'Device has no medium', hints: [] };
    const init = throttleConfigInit();
    const avg: Record<BucketName, number> = { bps: a.bps, bps_rd: a.bps_rd, bps_wr: a.bps_wr, iops: a.iops, iops_rd: a.iops_rd, iops_wr: a.iops_wr };
    const buckets = {} as Record<BucketName, BucketConfig>;
    for (const n of Object.keys(init.buckets) as BucketName[]) {
      buckets[n] = { avg: avg[n], max: a.max?.[n] ?? 0, burstLength: a.maxLength?.[n] ?? 1 };
    }
    const cfg: ThrottleConfig = { buckets, opSize: a.iopsSize ?? 0 };
    const err = throttleIsValid(cfg);
    if (err) return { message: err, hints: [] };
    const cur = this.throttles.get(blk);
    if (throttleEnabled(cfg)) {
      if (!cur) {
        const t = new ThrottleGroupMember(this.env.loop, a.group ?? a.device ?? a.id ?? '', cfg);
        this.throttles.set(blk, t);
        blk.throttle = t;
      } else {
        if (a.group !== undefined) cur.group = a.group;
        cur.configure(cfg);
      }
    } else if (cur) {
      this.throttles.delete(blk);
      blk.throttle = null;
      cur.disable();
    }
    return null;
  }

  // ---- removable media ---------------------------------------------------------------------------

  /** qmp_get_blk: by BlockBackend name or by qdev id. */
  #getBlk(device: string | undefined, id: string | undefined): BlkEntry | MachineError {
    if (id !== undefined) {
      const dev = [...this.scsi].find(([, s]) => s.id === id)?.[0];
      if (!dev) return { message: `Device '${id}' not found`, hints: [], errorClass: 'DeviceNotFound' };
      const e = this.blkEntries.find((x) => x.dev === dev);
      if (!e) return { message: `Device '${id}' does not have a block device backend`, hints: [] };
      return e;
    }
    const e = device === undefined ? undefined : this.blkByName(device);
    if (!e) return { message: `Device '${device ?? ''}' not found`, hints: [], errorClass: 'DeviceNotFound' };
    return e;
  }

  #isRemovable(e: BlkEntry): boolean {
    return e.dev ? e.dev.removable : (e.boardRemovable ?? false);
  }

  /** do_open_tray: 0, or an errno-like code with the error. */
  #openTray(name: string, e: BlkEntry, force: boolean): { rc: 0 | 'ENOTSUP' | 'ENOSYS' | 'EINPROGRESS'; error?: MachineError } {
    if (!this.#isRemovable(e)) return { rc: 'ENOTSUP', error: { message: `Device '${name}' is not removable`, hints: [] } };
    const dev = e.dev;
    if (!dev || !hasTray(dev)) {
      return { rc: 'ENOSYS', error: { message: `Device '${name}' does not have a tray`, hints: [] } };
    }
    if (dev.isTrayOpen()) return { rc: 0 };
    const locked = dev.isMediumLocked();
    if (locked) dev.ejectRequestCb(force);
    if (!locked || force) dev.changeMediaCb(false);
    if (locked && !force) {
      return {
        rc: 'EINPROGRESS',
        error: { message: `Device '${name}' is locked and force was not specified, wait for tray to open and try again`, hints: [] },
      };
    }
    return { rc: 0 };
  }

  /** blockdev_remove_medium */
  #removeMedium(name: string, e: BlkEntry): MachineError | null {
    if (e.dev && !this.#isRemovable(e)) return { message: `Device '${name}' is not removable`, hints: [] };
    const tray = e.dev !== undefined && hasTray(e.dev);
    if (e.dev && tray && !e.dev.isTrayOpen()) return { message: `Tray of device '${name}' is not open`, hints: [] };
    if (!e.blk?.inserted) return null;
    e.blk.removeMedium();
    if (e.node !== undefined) this.nodes.delete(e.node);
    e.node = undefined;
    if (!tray) e.dev?.changeMediaCb(false);
    return null;
  }

  /** qmp_eject */
  eject(device: string | undefined, id: string | undefined, force: boolean): MachineError | null {
    const e = this.#getBlk(device, id);
    if ('message' in e) return e;
    const name = id ?? device ?? '';
    const r = this.#openTray(name, e, force);
    if (r.rc !== 0 && r.rc !== 'ENOSYS') return r.error!;
    return this.#removeMedium(name, e);
  }

  /** qmp_blockdev_open_tray */
  openTray(device: string | undefined, id: string | undefined, force: boolean): MachineError | null {
    const e = this.#getBlk(device, id);
    if ('message' in e) return e;
    const r = this.#openTray(id ?? device ?? '', e, force);
    // A locked tray: the request went to the guest; QMP reports success (-EINPROGRESS is not an error).
    if (r.rc === 0 || r.rc === 'EINPROGRESS') return null;
    return r.error!;
  }

  /** qmp_blockdev_close_tray */
  closeTray(device: string | undefined, id: string | undefined): MachineError | null {
    const e = this.#getBlk(device, id);
    if ('message' in e) return e;
    const dev = e.dev;
    if (!dev || !hasTray(dev) || !dev.isTrayOpen()) return null;
    dev.changeMediaCb(true);
    return null;
  }

  /** qmp_blockdev_change_medium */
  changeMedium(device: string | undefined, id: string | undefined, filename: string, format: string | undefined, force: boolean, readOnlyMode: 'retain' | 'read-only' | 'read-write' | undefined): MachineError | null {
    const e = this.#getBlk(device, id);
    if ('message' in e) return e;
    const name = id ?? device ?? '';
    if (format !== undefined && format !== 'raw') {
      return { message: `The '${format}' format is not supported yet by this simulator`, hints: [] };
    }
    const probe = this.#probe.probe(filename);
    if (!probe) return { message: `Could not open '${filename}': No such file or directory`, hints: [] };
    const r = this.#openTray(name, e, force);
    if (r.rc !== 0 && r.rc !== 'ENOSYS') return r.error!;
    const rm = this.#removeMedium(name, e);
    if (rm) return rm;
    if (!e.blk) return { message: `Device '${name}' is not removable`, hints: [] };
    if (readOnlyMode === 'read-only') e.blk.readOnly = true;
    else if (readOnlyMode === 'read-write') e.blk.readOnly = false;
    const err = e.blk.insertMedium(this.env.fs, filename);
    if (err) return { message: `Could not open '${filename}': ${err}`, hints: [] };
    e.node = this.#nextNodeName();
    this.nodes.set(e.node, { name: e.node, blk: e.blk, monitorOwned: false });
    const dev = e.dev;
    if (dev && hasTray(dev)) {
      if (dev.isTrayOpen()) dev.changeMediaCb(true);
    } else dev?.changeMediaCb(true);
    return null;
  }

  // ---- devices -----------------------------------------------------------------------------------

  addController(spec: VirtioScsiPciSpec): string | null {
    const env = this.env;
    const bus = new QemuScsiBus({ trace: env.trace });
    const r = realizeVirtioScsiPci(
      {
        numQueues: spec.numQueues,
        virtqueueSize: spec.virtqueueSize,
        segMaxAdjust: spec.segMaxAdjust,
        maxSectors: spec.maxSectors,
        cmdPerLun: spec.cmdPerLun,
        hotplug: spec.hotplug,
        paramChange: spec.paramChange,
        indirectDesc: spec.indirectDesc,
        eventIdx: spec.eventIdx,
        queueReset: spec.queueReset,
        vectors: spec.vectors,
        disableLegacy: spec.legacy ? 'off' : 'on',
        disableModern: !spec.modern,
      },
      { mem: env.mem, loop: env.loop, msi: env.msi, bus, smpCpus: this.spec.cpus, log: env.stderr, trace: env.trace, id: spec.id },
    );
    if (!r.ok) return r.error;
    bus.onChange = (dev, sense) => r.dev.paramChange(dev, sense.asc, sense.ascq);
    this.#gateKicks(r.dev);
    r.dev.attach(this.pci, spec.slot, spec.fn);
    this.hbas.set(spec.scsiBus, { spec, dev: r.dev, bus });
    // One fault injector for the machine, consulted by every SCSI bus and virtio-scsi HBA.
    bus.faults = this.faults;
    r.dev.scsi.faults = this.faults;
    return null;
  }

  /** The pause gate: kicks that arrive while the VM is stopped wait for `cont`. */
  #gateKicks(dev: VirtioScsiPci): void {
    const vdev = dev.scsi;
    const handle = vdev.queueNotify.bind(vdev);
    vdev.queueNotify = (n: number): void => {
      if (this.running) handle(n);
      else if (!this.#heldKicks.some(([d, q]) => d === dev && q === n)) this.#heldKicks.push([dev, n]);
    };
  }

  /** Realizes a scsi-hd/scsi-cd from its resolved spec (not yet on the bus). */
  createScsiDevice(d: ScsiDeviceSpec): { disk: ScsiLu } | { error: string } {
    if (d.driver === 'scsi-tape') {
      // Ours (scsi-tape.ts): eject/change reach the drive through its changeMediaCb, as for a removable disk.
      const p = d.props;
      const drive = d.drive !== undefined ? this.blk.get(d.drive) : undefined;
      const tape = createScsiTape({
        drive, qdevId: d.id, channel: d.channel, scsiId: d.scsiId, lun: d.lun, capacity: p.capacity, density: p.density,
        ...(p.ver !== undefined ? { ver: p.ver } : {}),
        ...(p.vendor !== undefined ? { vendor: p.vendor } : {}),
        ...(p.product !== undefined ? { product: p.product } : {}),
        ...(p.serial !== undefined ? { serial: p.serial } : {}),
      });
      if (!(tape instanceof ScsiTape)) return tape;
      this.scsi.set(tape, d);
      const te = this.blkEntries.find((x) => x.blk !== null && x.blk === drive);
      if (te) te.dev = tape;
      else if (drive) this.blkEntries.push({ blk: drive, name: '', legacy: false, node: [...this.nodes.values()].find((n) => n.blk === drive)?.name, dev: tape });
      return { disk: tape };
    }
    if (d.driver !== 'scsi-hd' && d.driver !== 'scsi-cd') return { error: `'${d.driver}' passthrough is not supported yet` };
    const p = d.props;
    const props: ScsiDiskProps = {
      drive: d.drive !== undefined ? this.blk.get(d.drive) : undefined,
      qdevId: d.id,
      channel: d.channel,
      scsiId: d.scsiId,
      lun: d.lun,
      removable: p.removable,
      dpofua: p.dpofua,
      wwn: p.wwn,
      portWwn: p.portWwn,
      portIndex: p.portIndex,
      rotationRate: p.rotationRate,
      scsiVersion: p.scsiVersion,
      writeCache: p.writeCache,
      rerror: p.rerror,
      werror: p.werror,
      maxUnmapSize: Number(p.maxUnmapSize),
      maxIoSize: Number(p.maxIoSize),
      ...(p.ver !== undefined ? { ver: p.ver } : {}),
      ...(p.vendor !== undefined ? { vendor: p.vendor } : {}),
      ...(p.product !== undefined ? { product: p.product } : {}),
      ...(p.serial !== undefined ? { serial: p.serial } : {}),
      ...(p.deviceId !== undefined ? { deviceId: p.deviceId } : {}),
      ...(p.logicalBlockSize ? { logicalBlockSize: p.logicalBlockSize } : {}),
      ...(p.physicalBlockSize ? { physicalBlockSize: p.physicalBlockSize } : {}),
      ...(p.minIoSize ? { minIoSize: p.minIoSize } : {}),
      ...(p.optIoSize ? { optIoSize: p.optIoSize } : {}),
      ...(p.discardGranularity !== 0xffffffff ? { discardGranularity: p.discardGranularity } : {}),
    };
    const ref: { disk?: ScsiDisk } = {};
    const hooks = {
      onStop: (_req: unknown, retry: () => void): void => {
        this.#parked.push(retry);
        this.vmStop('io-error');
      },
      onTrayMoved: (open: boolean): void => {
        const e = this.blkEntries.find((x) => x.dev !== undefined && x.dev === ref.disk);
        this.emit('DEVICE_TRAY_MOVED', { device: e?.name ?? '', id: this.qdevName(d), 'tray-open': open });
      },
    };
    const made = d.driver === 'scsi-hd' ? createScsiHd(props, hooks) : createScsiCd(props, hooks);
    if (!(made instanceof ScsiDisk)) return made;
    ref.disk = made;
    // blkconf_apply_backend_options: the device's rerror/werror, unless `auto`, become the
    // BlockBackend's own (blk_set_on_error) — query-block and BLOCK_IO_ERROR follow them.
    if (props.drive) {
      if (p.rerror !== 'auto') props.drive.rerror = p.rerror;
      if (p.werror !== 'auto') props.drive.werror = p.werror;
    }
    this.scsi.set(made, d);
    const e = this.blkEntries.find((x) => x.blk !== null && x.blk === props.drive);
    if (e) e.dev = made;
    else if (props.drive) {
      // drive=<node-name>: an anonymous BlockBackend is created for the device.
      const node = [...this.nodes.values()].find((n) => n.blk === props.drive);
      this.blkEntries.push({ blk: props.drive, name: '', legacy: false, node: node?.name, dev: made });
    }
    return { disk: made };
  }

  /** The device's qdev id, or its QOM path when it has none (blk_get_attached_dev_id). */
  qdevName(d: DeviceSpec): string {
    return d.id ?? this.#anonPaths.get(d) ?? '';
  }

  /** The canonical QOM path of a user-created device. */
  qomPath(d: DeviceSpec): string {
    return d.id !== undefined ? `/machine/peripheral/${d.id}` : (this.#anonPaths.get(d) ?? '');
  }

  /**
   * qmp_device_add: validates with qdev-monitor.ts, then realizes and plugs — a SCSI device through
   * its HBA (TRANSPORT_RESET/RESCAN when the guest negotiated HOTPLUG), a controller into its PCI slot
   * (the guest is told through the hot-plug handler).
   */
  deviceAdd(opts: QemuOpts): MachineResult {
    const r = qdevDeviceAdd({ ...this.tree, hotplugPhase: true }, opts);
    if (!r.ok) return { ok: false, error: { message: r.error.message, hints: r.error.hints }, warnings: r.warnings };
    const d = r.device;
    const fail = (message: string): MachineResult => ({ ok: false, error: { message, hints: [] }, warnings: r.warnings });
    if (d.kind === 'scsi') {
      const hba = this.hbas.get(d.bus);
      if (!hba) return fail(`Bus '${d.bus}' not found`);
      const made = this.createScsiDevice(d);
      if ('error' in made) return fail(made.error);
      const err = hba.bus.hotplug(made.disk);
      if (err) {
        this.#forgetDisk(made.disk);
        return fail(err);
      }
      hba.dev.hotplug(made.disk);
    } else if (d.kind === 'virtio-scsi-pci') {
      const err = this.addController(d);
      if (err) return fail(err);
      this.pciHotplug?.plugged(d.slot, d.fn);
    } else {
      const f = r.tree.pci.functions.find((x) => x.slot === d.slot && x.fn === d.fn);
      this.pci.attach(d.slot, d.fn, new PciStubFunction(d.driver, f?.vendorId ?? 0x1af4, f?.deviceId ?? 0x1000, false));
      this.pciHotplug?.plugged(d.slot, d.fn);
    }
    if (d.id === undefined) this.#anonPaths.set(d, `/machine/peripheral-anon/device[${this.#anonCount++}]`);
    this.tree = { ...r.tree, hotplugPhase: true };
    return { ok: true, warnings: r.warnings };
  }

  #forgetDisk(disk: ScsiLu): void {
    this.scsi.delete(disk);
    const e = this.blkEntries.find((x) => x.dev === disk);
    if (!e) return;
    if (e.legacy) e.dev = undefined;
    else this.blkEntries.splice(this.blkEntries.indexOf(e), 1);
  }

  /**
   * A SCSI device leaves: its requests are purged, its anonymous BlockBackend goes away and a -drive
   * one is deleted with it (blockdev_mark_auto_del).
   */
  #finalizeDisk(disk: ScsiLu): void {
    this.scsi.delete(disk);
    const e = this.blkEntries.find((x) => x.dev === disk);
    if (!e) return;
    this.blkEntries.splice(this.blkEntries.indexOf(e), 1);
    if (e.legacy && e.blk) {
      this.throttles.get(e.blk)?.disable();
      this.throttles.delete(e.blk);
      e.blk.removeMedium();
      if (e.node !== undefined) this.nodes.delete(e.node);
      if (e.name !== '') this.blk.delete(e.name);
      this.tree = { ...this.tree, drives: this.tree.drives.filter((x) => x.id !== e.name) };
    }
  }

  #deviceDeleted(d: DeviceSpec): void {
    const data: Record<string, unknown> = {};
    if (d.id !== undefined) data['device'] = d.id;
    data['path'] = this.qomPath(d);
    this.emit('DEVICE_DELETED', data);
  }

  /**
   * qmp_device_del: a SCSI device is unplugged at once (virtio-scsi REMOVED event, then unrealize,
   * then DEVICE_DELETED); a controller's unplug needs the guest to release the slot first.
   */
  deviceDel(id: string): MachineError | null {
    let key = id;
    const m = /^\/machine\/peripheral\/(.+)$/.exec(id);
    if (m) key = m[1]!;
    const d = this.tree.devices.find((x) => x.id === key) ?? (id.startsWith('/') ? this.tree.devices.find((x) => this.#anonPaths.get(x) === id) : undefined);
    if (!d) return { message: `Device '${id}' not found`, hints: [], errorClass: 'DeviceNotFound' };
    if (d.kind === 'scsi') {
      const disk = [...this.scsi].find(([, s]) => s === d)?.[0];
      const hba = this.hbas.get(d.bus);
      if (disk && hba) {
        hba.dev.hotUnplug(disk);
        hba.bus.detach(disk);
        this.#finalizeDisk(disk);
      }
      const del = qdevDeviceDel(this.tree, d.id ?? '');
      this.tree = del.ok ? del.tree : { ...this.tree, devices: this.tree.devices.filter((x) => x !== d) };
      this.#deviceDeleted(d);
      return null;
    }
    if (this.pendingUnplug.has(this.qomPath(d))) {
      return { message: `Device ${id} is already in the process of unplug`, hints: [] };
    }
    const release = (): void => this.#pciRelease(d);
    if (this.pciHotplug) {
      this.pendingUnplug.add(this.qomPath(d));
      this.pciHotplug.unplugRequest(d.slot, d.fn, release);
    } else release();
    return null;
  }

  /** The guest ejected the slot (ACPI _EJ0): the controller and everything on its bus go. */
  #pciRelease(d: Exclude<DeviceSpec, ScsiDeviceSpec>): void {
    if (!this.tree.devices.includes(d)) return;
    this.pendingUnplug.delete(this.qomPath(d));
    const children: ScsiDeviceSpec[] = [];
    if (d.kind === 'virtio-scsi-pci') {
      const hba = this.hbas.get(d.scsiBus);
      for (const [disk, s] of [...this.scsi]) {
        if (s.bus !== d.scsiBus) continue;
        hba?.bus.detach(disk);
        this.#finalizeDisk(disk);
        children.push(s);
      }
      this.hbas.delete(d.scsiBus);
      this.#heldKicks = this.#heldKicks.filter(([dev]) => dev !== hba?.dev);
    }
    this.pci.detach(d.slot, d.fn);
    if (d.id !== undefined) {
      const del = qdevDeviceDel(this.tree, d.id);
      if (del.ok) this.tree = del.tree;
    } else this.tree = { ...this.tree, devices: this.tree.devices.filter((x) => x !== d && !children.includes(x as ScsiDeviceSpec)) };
    for (const c of children) this.#deviceDeleted(c);
    this.#deviceDeleted(d);
  }

  /** Every controller. */
  controllers(): Hba[] {
    return [...this.hbas.values()];
  }
}
