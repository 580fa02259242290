// Models softmmu/vl.c (qemu_create_cli_devices) + hw/i386/pc.c (QEMU 7.2), reduced: turns a parsed
// command line (MachineSpec) into running device models — block backends for the drives, the board's
// PCI functions, virtio-scsi-pci controllers with their SCSI buses, and scsi-hd/scsi-cd devices on
// them — and keeps what the monitor needs to change it later.

import type { GuestMemory } from '../platform/guest_memory.ts';
import type { MsiSink } from '../platform/pci.ts';
import { PciBus } from '../platform/pci_bus.ts';
import type { EventLoop } from '../sim/event_loop.ts';
import { BlockBackend } from './block/block-backend.ts';
import type { SyncFs } from './block/block-backend.ts';
import type { DriveSpec } from './blockdev.ts';
import { PciStubFunction } from './hw/pci-stub.ts';
import type { QdevTree, ScsiDeviceSpec, VirtioScsiPciSpec } from './qdev-monitor.ts';
import { QemuScsiBus } from './scsi/scsi-bus.ts';
import { ScsiDisk, createScsiCd, createScsiHd } from './scsi/scsi-disk.ts';
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
  /** QEMU's stderr (`qemu-system-x86_64: …` lines become `vscsi: …`). */
  readonly stderr: (line: string) => void;
  readonly trace?: TraceSink | undefined;
}

export interface Hba {
  readonly spec: VirtioScsiPciSpec;
  readonly dev: VirtioScsiPci;
  readonly bus: QemuScsiBus;
}

export type RunState = 'running' | 'paused' | 'io-error' | 'shutdown';

export class QemuMachine {
  readonly spec: MachineSpec;
  readonly env: HostEnv;
  readonly pci = new PciBus();
  /** BlockBackends by drive id. */
  readonly blk = new Map<string, BlockBackend>();
  /** Controllers by the name of the SCSI bus they provide (`scsi0.0`). */
  readonly hbas = new Map<string, Hba>();
  /** SCSI devices with their resolved specs. */
  readonly scsi = new Map<ScsiDisk, ScsiDeviceSpec>();
  tree: QdevTree;
  runState: RunState = 'running';

  private constructor(spec: MachineSpec, env: HostEnv) {
    this.spec = spec;
    this.env = env;
    this.tree = spec.tree;
  }

  /** Creates everything on the command line, in QEMU's order; an error text when realize fails. */
  static create(spec: MachineSpec, env: HostEnv): QemuMachine | { error: string } {
    const m = new QemuMachine(spec, env);
    for (const d of spec.drives) {
      const err = m.addDrive(d);
      if (err) return { error: err };
    }
    for (const f of spec.pci) {
      const ctl = spec.devices.find((d): d is VirtioScsiPciSpec => d.kind === 'virtio-scsi-pci' && d.slot === f.slot && d.fn === f.fn);
      if (ctl) {
        const err = m.addController(ctl);
        if (err) return { error: err };
      } else m.pci.attach(f.slot, f.fn, new PciStubFunction(f.name, f.vendorId, f.deviceId, f.multifunction));
    }
    for (const d of spec.devices) {
      if (d.kind !== 'scsi') continue;
      const r = m.createScsiDevice(d);
      if ('error' in r) return r;
      const err = m.hbas.get(d.bus)!.bus.attach(r.disk);
      if (err) return { error: err };
    }
    return m;
  }

  addDrive(d: DriveSpec): string | null {
    const opts = {
      name: d.id,
      readOnly: d.readOnly,
      writeback: d.cache.writeback,
      direct: d.cache.direct,
      noFlush: d.cache.noFlush,
      rerror: d.rerror,
      werror: d.werror,
    };
    if (d.file === undefined) {
      this.blk.set(d.id, new BlockBackend(this.env.loop, opts));
      return null;
    }
    const blk = BlockBackend.open(this.env.loop, this.env.fs, d.file, opts);
    if (!(blk instanceof BlockBackend)) return `Could not open '${d.file}': ${blk.error}`;
    this.blk.set(d.id, blk);
    return null;
  }

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
    r.dev.attach(this.pci, spec.slot, spec.fn);
    this.hbas.set(spec.scsiBus, { spec, dev: r.dev, bus });
    return null;
  }

  /** Realizes a scsi-hd/scsi-cd from its resolved spec (not yet on the bus). */
  createScsiDevice(d: ScsiDeviceSpec): { disk: ScsiDisk } | { error: string } {
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
    const disk = d.driver === 'scsi-hd' ? createScsiHd(props) : createScsiCd(props);
    if (!(disk instanceof ScsiDisk)) return disk;
    this.scsi.set(disk, d);
    return { disk };
  }

  /** system_reset: every controller (and its SCSI bus) back to power-on state. */
  systemReset(): void {
    for (const h of this.hbas.values()) h.dev.reset();
  }
}
