// Models include/scsi/scsi_cmnd.h (Linux 6.1): one SCSI command in flight between the mid-layer and an
// LLD. Data lives in guest memory (a scatter-gather list of guest-physical ranges), as the LLD hands
// those addresses to the device; the sense buffer is kernel memory the LLD copies into.

import type { Gpa } from '../platform/guest_memory.ts';
import type { TimerHandle } from '../sim/event_loop.ts';
import type { ScsiDevice } from './scsi_device.ts';
import type { MlByte } from './scsi_error.ts';

export type DmaDirection = 'none' | 'to-dev' | 'from-dev';

export interface Sg {
  readonly addr: Gpa;
  readonly len: number;
}

export const SCSI_SENSE_BUFFERSIZE = 96;
export const MAX_COMMAND_SIZE = 32;

/** queuecommand return values. */
export const SCSI_MLQUEUE_HOST_BUSY = 0x1055;
export const SCSI_MLQUEUE_DEVICE_BUSY = 0x1056;

export class ScsiCmnd {
  device: ScsiDevice;
  readonly cmnd = new Uint8Array(MAX_COMMAND_SIZE);
  cmdLen = 0;
  dir: DmaDirection = 'none';
  sgl: Sg[] = [];
  /** Total bytes of the data phase. */
  length = 0;
  readonly senseBuffer = new Uint8Array(SCSI_SENSE_BUFFERSIZE);
  /** host byte << 16 | SAM status (driver byte unused since 5.x). */
  result = 0;
  resid = 0;
  /** blk-mq tag (printed as tag#N) and the hardware queue it was issued on. */
  tag = 0;
  hwq = 0;
  retries = 0;
  allowed = 0;
  /** Timeout in virtual ns (per request). */
  timeout = 0;
  /** When the command was first issued (virtual ns), for cmd_age. */
  jiffiesAtAlloc = 0;
  timer: TimerHandle | null = null;
  /** Called once the mid-layer has decided the command is finished. */
  complete: ((cmd: ScsiCmnd) => void) | null = null;
  /** Passthrough (internal or SG_IO) requests are never retried after CHECK CONDITION. */
  passthrough = false;
  /** LLD private area (≈ scsi_cmd_priv). */
  hostScribble: unknown = null;
  /** Mid-layer result byte from the sense decision (maps to the block status on failure). */
  ml: MlByte = 'none';
  /** Set by the mid-layer while the LLD owns the command. */
  inFlight = false;

  constructor(device: ScsiDevice) {
    this.device = device;
  }

  get cdb(): Uint8Array {
    return this.cmnd.subarray(0, this.cmdLen);
  }

  setCdb(cdb: ArrayLike<number>): void {
    this.cmnd.fill(0);
    this.cmnd.set(cdb);
    this.cmdLen = cdb.length;
  }
}
