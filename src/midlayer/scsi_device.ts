// Models include/scsi/scsi_device.h (Linux 6.1): the target and logical-unit objects and what the scan
// records about each LU.

import type { Device } from '../sysfs/core.ts';
import type { ScsiCmnd } from './scsi_cmnd.ts';
import type { SdevState } from './scsi_device_state.ts';
import type { ScsiHost } from './scsi_host.ts';

export type StargetState = 'created' | 'running' | 'remove' | 'created-remove' | 'del';

export class ScsiTarget {
  readonly host: ScsiHost;
  readonly channel: number;
  readonly id: number;
  readonly dev: Device;
  state: StargetState = 'created';
  scsiLevel: number;
  /** LUs attached to this target (visible or not). */
  readonly devices: ScsiDevice[] = [];
  expectingLunChange = false;
  pdt1fForNoLun = false;
  noReportLuns = false;
  /** Holders keeping the target alive during a scan (scsi_target_reap bookkeeping). */
  reapRef = 0;

  constructor(host: ScsiHost, channel: number, id: number, dev: Device, scsiLevel: number) {
    this.host = host;
    this.channel = channel;
    this.id = id;
    this.dev = dev;
    this.scsiLevel = scsiLevel;
  }
}

/** What an upper-level driver (sd, sr, st) or class interface (sg) attaches to a device. */
export interface ScsiDriverBinding {
  readonly name: string;
}

export class ScsiDevice {
  readonly host: ScsiHost;
  readonly target: ScsiTarget;
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  readonly sdevGendev: Device;
  readonly sdevDev: Device;
  state: SdevState = 'created';
  inquiry: Uint8Array = new Uint8Array(0);
  inquiryLen = 0;
  vendor = 'null';
  model = 'null';
  rev = 'null';
  type = -1;
  scsiLevel = 0;
  removable = false;
  lockable = false;
  inqPeriphQual = 0;
  taggedSupported = false;
  simpleTags = false;
  queueDepth: number;
  maxQueueDepth: number;
  bflags = 0n;
  lunInCdb = false;
  use10ForRw = true;
  use10ForMs = false;
  skipMsPage8 = false;
  skipMsPage3f = false;
  noReportOpcodes = false;
  tryVpdPages = false;
  skipVpdPages = false;
  allowRestart = false;
  expectingCcUa = false;
  wasReset = false;
  changed = false;
  offlineAlready = false;
  /** Cached VPD pages by page code (scsi_attach_vpd). */
  readonly vpd = new Map<number, Uint8Array>();
  /** Request timeout and EH timeout, virtual ns. */
  timeout: number;
  ehTimeout: number;
  iorequestCnt = 0;
  iodoneCnt = 0;
  ioerrCnt = 0;
  iotmoCnt = 0;
  deviceBusy = 0;
  deviceBlocked = 0;
  queueRampUpPeriod = 120_000;
  /** True once added to sysfs (scsi_sysfs_add_sdev). */
  isVisible = false;
  /** Name of the gendisk on this LU's request queue (sda, sr0), set by sd/sr: scmd_name() in logs. */
  diskName: string | null = null;
  /** Upper-level driver bound (sd/sr/st) and its per-device data. */
  driver: ScsiDriverBinding | null = null;
  driverData: unknown = null;
  /** Class-interface data (sg) keyed by interface name. */
  readonly interfaceData = new Map<string, unknown>();
  /** Outstanding commands, for EH and removal. */
  readonly inflight = new Set<ScsiCmnd>();

  constructor(host: ScsiHost, target: ScsiTarget, lun: number, gendev: Device, classdev: Device, queueDepth: number, timeoutNs: number, ehTimeoutNs: number) {
    this.host = host;
    this.target = target;
    this.channel = target.channel;
    this.id = target.id;
    this.lun = lun;
    this.sdevGendev = gendev;
    this.sdevDev = classdev;
    this.queueDepth = queueDepth;
    this.maxQueueDepth = queueDepth;
    this.timeout = timeoutNs;
    this.ehTimeout = ehTimeoutNs;
  }

  /** "H:C:T:L" as used for device names. */
  get hctl(): string {
    return `${this.host.hostNo}:${this.channel}:${this.id}:${this.lun}`;
  }
}
