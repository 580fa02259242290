// Models hw/virtio/virtio-scsi-pci.c (QEMU 7.2): the virtio-scsi-pci proxy — its properties with
// QEMU 7.2's defaults for the current machine types, realize-time resolution (num_queues auto = vCPUs,
// vectors = num_queues + 3) and validation, and the wiring of the HBA to a PCI function.

import type { GuestMemory } from '../../platform/guest_memory.ts';
import type { MsiSink } from '../../platform/pci.ts';
import type { PciBus } from '../../platform/pci_bus.ts';
import type { EventLoop, Nanoseconds } from '../../sim/event_loop.ts';
import type { ScsiBus, ScsiBusDevice } from '../scsi/scsi.ts';
import type { VirtIOSCSIConf } from '../scsi/virtio-scsi.ts';
import { VIRTIO_SCSI_VQ_NUM_FIXED, VirtIOSCSI } from '../scsi/virtio-scsi.ts';
import type { LineSink, TraceSink } from './virtio.ts';
import { VIRTIO_QUEUE_MAX, VIRTQUEUE_MAX_SIZE } from './virtio.ts';
import { VirtIOPCIProxy } from './virtio-pci.ts';

/** PCI class of a SCSI controller (PCI_CLASS_STORAGE_SCSI, prog-if 0). */
export const PCI_CLASS_STORAGE_SCSI = 0x010000;
/** PCI_MSIX_MAX in QEMU's virtio_pci_optimal_num_queues. */
const PCI_MSIX_MAX = 2048;

export type OnOffAuto = 'on' | 'off' | 'auto';

/** User-settable properties (`-device virtio-scsi-pci,<name>=<value>`), camelCased. Absent = default. */
export interface VirtioScsiPciProps {
  /** 'auto' (default): one request queue per vCPU. */
  numQueues?: number | 'auto';
  virtqueueSize?: number;
  segMaxAdjust?: boolean;
  maxSectors?: number;
  cmdPerLun?: number;
  hotplug?: boolean;
  paramChange?: boolean;
  indirectDesc?: boolean;
  eventIdx?: boolean;
  notifyOnEmpty?: boolean;
  anyLayout?: boolean;
  queueReset?: boolean;
  /** MSI-X vectors; default num_queues + 3. */
  vectors?: number;
  disableLegacy?: OnOffAuto;
  disableModern?: boolean;
}

/** QEMU property names → our keys and their types (for the machine's option parser and `,help`). */
export const VIRTIO_SCSI_PCI_PROPERTIES: ReadonlyArray<{
  readonly name: string;
  readonly key: keyof VirtioScsiPciProps;
  readonly type: 'uint32' | 'bool' | 'OnOffAuto' | 'uint16';
  readonly defaultText: string;
}> = [
  { name: 'num_queues', key: 'numQueues', type: 'uint32', defaultText: '4294967295' },
  { name: 'virtqueue_size', key: 'virtqueueSize', type: 'uint32', defaultText: '256' },
  { name: 'seg_max_adjust', key: 'segMaxAdjust', type: 'bool', defaultText: 'true' },
  { name: 'max_sectors', key: 'maxSectors', type: 'uint32', defaultText: '65535' },
  { name: 'cmd_per_lun', key: 'cmdPerLun', type: 'uint32', defaultText: '128' },
  { name: 'hotplug', key: 'hotplug', type: 'bool', defaultText: 'true' },
  { name: 'param_change', key: 'paramChange', type: 'bool', defaultText: 'true' },
  { name: 'indirect_desc', key: 'indirectDesc', type: 'bool', defaultText: 'true' },
  { name: 'event_idx', key: 'eventIdx', type: 'bool', defaultText: 'true' },
  { name: 'notify_on_empty', key: 'notifyOnEmpty', type: 'bool', defaultText: 'true' },
  { name: 'any_layout', key: 'anyLayout', type: 'bool', defaultText: 'true' },
  { name: 'queue_reset', key: 'queueReset', type: 'bool', defaultText: 'true' },
  { name: 'vectors', key: 'vectors', type: 'uint32', defaultText: '4294967295' },
  { name: 'disable-legacy', key: 'disableLegacy', type: 'OnOffAuto', defaultText: 'auto' },
  { name: 'disable-modern', key: 'disableModern', type: 'bool', defaultText: 'false' },
];

/** What the machine provides. */
export interface VirtioScsiPciEnv {
  readonly mem: GuestMemory;
  readonly loop: EventLoop;
  readonly msi: MsiSink;
  /** The SCSI bus this HBA owns (its devices are found through it). */
  readonly bus: ScsiBus;
  /** -smp: vCPU count (num_queues=auto). */
  readonly smpCpus: number;
  /** True when plugged into a PCIe port that is not the root bus (disable-legacy=auto → on). */
  readonly pcieNonRoot?: boolean | undefined;
  readonly intx?: ((level: boolean) => void) | undefined;
  /** qemu-system-x86_64: … lines (virtio_error and friends). */
  readonly log?: LineSink | undefined;
  readonly trace?: TraceSink | undefined;
  readonly progName?: string | undefined;
  /** Virtual delay between a kick and its handling (default 1 µs). */
  readonly notifyLatencyNs?: Nanoseconds | undefined;
  /** qdev id, used as the device name in traces. */
  readonly id?: string | undefined;
}

export type RealizeResult =
  | { readonly ok: true; readonly dev: VirtioScsiPci }
  /** `abort`: QEMU would abort() without a message (virtqueue_size above 1024). */
  | { readonly ok: false; readonly error: string; readonly abort?: boolean };

/** The realized device: a PCI function (proxy) carrying the HBA (scsi). */
export class VirtioScsiPci {
  readonly proxy: VirtIOPCIProxy;
  readonly scsi: VirtIOSCSI;
  readonly conf: VirtIOSCSIConf;
  readonly nvectors: number;

  constructor(proxy: VirtIOPCIProxy, scsi: VirtIOSCSI, conf: VirtIOSCSIConf) {
    this.proxy = proxy;
    this.scsi = scsi;
    this.conf = conf;
    this.nvectors = proxy.nvectors;
  }

  /** Plugs the function into the PCI bus at slot.fn. */
  attach(pci: PciBus, slot: number, fn = 0): void {
    pci.attach(slot, fn, this.proxy);
  }

  /** After the SCSI bus attached and cold-reset `dev` (device_add). */
  hotplug(dev: ScsiBusDevice): void {
    this.scsi.hotplug(dev);
  }

  /** Before the SCSI bus detaches `dev` (device_del). */
  hotUnplug(dev: ScsiBusDevice): void {
    this.scsi.hotUnplug(dev);
  }

  /** The bus's change callback (block_resize: 2A/09). */
  paramChange(dev: ScsiBusDevice, asc: number, ascq: number): void {
    this.scsi.paramChange(dev, asc, ascq);
  }

  /** Machine reset (system_reset): the device and the transport. */
  reset(): void {
    this.proxy.reset();
  }
}

/** Resolves properties the way QEMU 7.2's realize does; an error text when QEMU would refuse. */
export function resolveVirtioScsiConf(props: VirtioScsiPciProps, smpCpus: number): VirtIOSCSIConf | { error: string; abort?: boolean } {
  let numQueues = props.numQueues ?? 'auto';
  if (numQueues === 'auto') {
    // virtio_pci_optimal_num_queues: one per vCPU, bounded by MSI-X and queue limits.
    numQueues = Math.min(smpCpus, PCI_MSIX_MAX - VIRTIO_SCSI_VQ_NUM_FIXED - 1, VIRTIO_QUEUE_MAX - VIRTIO_SCSI_VQ_NUM_FIXED);
  }
  const limit = VIRTIO_QUEUE_MAX - VIRTIO_SCSI_VQ_NUM_FIXED;
  if (numQueues === 0 || numQueues > limit) {
    return { error: `Invalid number of queues (= ${numQueues}), must be a positive integer less than ${limit}.` };
  }
  const virtqueueSize = props.virtqueueSize ?? 256;
  if (virtqueueSize <= 2) return { error: `invalid virtqueue_size property (= ${virtqueueSize}), must be > 2` };
  if (virtqueueSize > VIRTQUEUE_MAX_SIZE) return { error: '', abort: true };
  return {
    numQueues,
    virtqueueSize,
    segMaxAdjust: props.segMaxAdjust ?? true,
    maxSectors: props.maxSectors ?? 0xffff,
    cmdPerLun: props.cmdPerLun ?? 128,
    hotplug: props.hotplug ?? true,
    paramChange: props.paramChange ?? true,
    indirectDesc: props.indirectDesc ?? true,
    eventIdx: props.eventIdx ?? true,
    notifyOnEmpty: props.notifyOnEmpty ?? true,
    anyLayout: props.anyLayout ?? true,
    queueReset: props.queueReset ?? true,
  };
}

/** virtio_scsi_pci_realize + virtio_pci_realize: builds the HBA and its PCI function. */
export function realizeVirtioScsiPci(props: VirtioScsiPciProps, env: VirtioScsiPciEnv): RealizeResult {
  const conf = resolveVirtioScsiConf(props, env.smpCpus);
  if ('error' in conf) return conf.abort ? { ok: false, error: conf.error, abort: true } : { ok: false, error: conf.error };
  const dl = props.disableLegacy ?? 'auto';
  const disableLegacy = dl === 'on' || (dl === 'auto' && env.pcieNonRoot === true);
  const disableModern = props.disableModern ?? false;
  if (disableLegacy && disableModern) {
    return { ok: false, error: 'device cannot work as neither modern nor legacy mode is enabled' };
  }
  const nvectors = props.vectors ?? conf.numQueues + VIRTIO_SCSI_VQ_NUM_FIXED + 1;
  const scsi = new VirtIOSCSI({
    mem: env.mem,
    bus: env.bus,
    conf,
    name: env.id ?? 'virtio-scsi',
    log: env.log,
    trace: env.trace,
    progName: env.progName,
  });
  const proxy = new VirtIOPCIProxy({
    vdev: scsi,
    loop: env.loop,
    msi: env.msi,
    intx: env.intx,
    classCode: PCI_CLASS_STORAGE_SCSI,
    nvectors,
    disableLegacy,
    disableModern,
    notifyLatencyNs: env.notifyLatencyNs,
  });
  return { ok: true, dev: new VirtioScsiPci(proxy, scsi, conf) };
}
