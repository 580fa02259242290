// Models include/scsi/scsi_host.h (Linux 6.1): the LLD's ops table (scsi_host_template) and the
// Scsi_Host it describes. Drivers fill a template at the bottom of their own file and register it;
// the mid-layer calls the optional hooks when present and never imports a driver.

import type { Device } from '../sysfs/core.ts';
import type { ScsiCmnd } from './scsi_cmnd.ts';
import type { ScsiDevice, ScsiTarget } from './scsi_device.ts';
import type { ShostState } from './scsi_device_state.ts';
import type { SbitmapTags } from './blk_mq_tag.ts';

export type EhResult = 'SUCCESS' | 'FAILED' | 'FAST_IO_FAIL';
export type EhTimerResult = 'reset-timer' | 'done';

export interface ScsiHostTemplate<P = unknown> {
  readonly name: string;
  readonly procName: string;
  readonly thisId: number;
  readonly canQueue: number;
  readonly cmdPerLun: number;
  readonly sgTablesize: number;
  readonly maxSectors?: number;
  /** 0, or SCSI_MLQUEUE_HOST_BUSY / SCSI_MLQUEUE_DEVICE_BUSY to have the command requeued. */
  queuecommand(host: ScsiHost<P>, cmd: ScsiCmnd): number;
  ehAbortHandler?(cmd: ScsiCmnd): Promise<EhResult>;
  ehDeviceResetHandler?(cmd: ScsiCmnd): Promise<EhResult>;
  ehTargetResetHandler?(cmd: ScsiCmnd): Promise<EhResult>;
  ehBusResetHandler?(cmd: ScsiCmnd): Promise<EhResult>;
  ehHostResetHandler?(cmd: ScsiCmnd): Promise<EhResult>;
  ehTimedOut?(cmd: ScsiCmnd): EhTimerResult;
  slaveAlloc?(sdev: ScsiDevice): void;
  slaveConfigure?(sdev: ScsiDevice): void;
  slaveDestroy?(sdev: ScsiDevice): void;
  targetAlloc?(starget: ScsiTarget): void;
  changeQueueDepth?(sdev: ScsiDevice, depth: number): number;
  /** sysfs host_reset (`adapter`/`firmware`): an errno name to fail with, or undefined on success. */
  hostReset?(host: ScsiHost<P>, type: 'adapter' | 'firmware'): Promise<'EOPNOTSUPP' | 'EIO' | undefined>;
  /** Host-wide scan hook (scsi_host_template.scan_start/scan_finished are not used by virtio). */
  readonly trackQueueDepth?: boolean;
}

export class ScsiHost<P = unknown> {
  readonly hostNo: number;
  readonly template: ScsiHostTemplate<P>;
  hostdata: P;
  state: ShostState = 'created';
  maxChannel = 0;
  maxId = 8;
  maxLun = 8;
  maxCmdLen = 12;
  canQueue: number;
  cmdPerLun: number;
  sgTablesize: number;
  maxSectors: number;
  nrHwQueues = 1;
  uniqueId = 0;
  thisId: number;
  /** Commands owned by the LLD right now (host_busy). */
  hostBusy = 0;
  hostFailed = 0;
  ehDeadline = -1;
  /** Bus device (hostN, bus scsi) and class device (scsi_host/hostN). */
  readonly shostGendev: Device;
  readonly shostDev: Device;
  /** Targets by "channel:id", devices in __devices list order. */
  readonly targets = new Map<string, ScsiTarget>();
  readonly devices: ScsiDevice[] = [];
  /** The same devices by "channel:id:lun" (each list in `devices` order), kept with `devices` (scsi_scan.ts). */
  readonly devicesByAddr = new Map<string, ScsiDevice[]>();
  /** Serialises scans (scan_mutex). */
  scanLock: Promise<void> = Promise.resolve();
  asyncScan = false;
  /** blk-mq tag allocator per hardware queue (see blk_mq_tag.ts). */
  readonly tags: SbitmapTags[] = [];
  /** Where a hardware queue's allocation hint starts (the kernel seeds it at random; we seed it). */
  tagHintSeed: (hwq: number) => number = () => 0;

  constructor(hostNo: number, template: ScsiHostTemplate<P>, hostdata: P, gendev: Device, classdev: Device) {
    this.hostNo = hostNo;
    this.template = template;
    this.hostdata = hostdata;
    this.canQueue = template.canQueue;
    this.cmdPerLun = template.cmdPerLun;
    this.sgTablesize = template.sgTablesize;
    this.maxSectors = template.maxSectors ?? 1024;
    this.thisId = template.thisId;
    this.shostGendev = gendev;
    this.shostDev = classdev;
  }
}
