// Models drivers/scsi/scsi_error.c (Linux 6.1): what a completed command's result means —
// scsi_decide_disposition, scsi_check_sense and the UNIT ATTENTION reporting of scsi_report_sense —
// written as tables walked by small functions. The error-handler thread itself (scsi_unjam_host) is
// entered through `Disposition 'FAILED'`.

import { KERN_WARNING } from '../kernel/kernel.ts';
import {
  DID_ABORT,
  DID_BAD_TARGET,
  DID_BUS_BUSY,
  DID_ERROR,
  DID_IMM_RETRY,
  DID_NO_CONNECT,
  DID_OK,
  DID_PARITY,
  DID_PASSTHROUGH,
  DID_REQUEUE,
  DID_RESET,
  DID_SOFT_ERROR,
  DID_TIME_OUT,
  DID_TRANSPORT_DISRUPTED,
  DID_TRANSPORT_FAILFAST,
  DID_TRANSPORT_MARGINAL,
  SENSE_KEY,
  hostByte,
  normalizeSense,
  statusByte,
} from './scsi_common.ts';
import type { SenseHdr } from './scsi_common.ts';
import type { ScsiCmnd } from './scsi_cmnd.ts';
import type { ScsiDevice } from './scsi_device.ts';
import { sdevOnline } from './scsi_device_state.ts';

export type Disposition = 'SUCCESS' | 'NEEDS_RETRY' | 'ADD_TO_MLQUEUE' | 'FAILED' | 'MAYBE_RETRY';

/** Mid-layer result byte set by scsi_check_sense, mapped to a block status on failure. */
export type MlByte = 'none' | 'RESV_CONFLICT' | 'NOSPC' | 'MED_ERROR' | 'TGT_FAILURE';

/** SAM status bytes. */
export const SAM_STAT_GOOD = 0x00;
export const SAM_STAT_CHECK_CONDITION = 0x02;
export const SAM_STAT_CONDITION_MET = 0x04;
export const SAM_STAT_BUSY = 0x08;
export const SAM_STAT_INTERMEDIATE = 0x10;
export const SAM_STAT_INTERMEDIATE_CONDITION_MET = 0x14;
export const SAM_STAT_RESERVATION_CONFLICT = 0x18;
export const SAM_STAT_COMMAND_TERMINATED = 0x22;
export const SAM_STAT_TASK_SET_FULL = 0x28;
export const SAM_STAT_ACA_ACTIVE = 0x30;
export const SAM_STAT_TASK_ABORTED = 0x40;

/** Host byte → disposition, before the status byte is looked at (scsi_decide_disposition). */
const HOST_BYTE_DISPOSITION: ReadonlyMap<number, Disposition | 'CHECK_STATUS' | 'TIME_OUT'> = new Map([
  [DID_PASSTHROUGH, 'SUCCESS'],
  [DID_OK, 'CHECK_STATUS'],
  [DID_ABORT, 'SUCCESS'],
  [DID_NO_CONNECT, 'SUCCESS'],
  [DID_BAD_TARGET, 'SUCCESS'],
  [DID_SOFT_ERROR, 'MAYBE_RETRY'],
  [DID_TRANSPORT_DISRUPTED, 'MAYBE_RETRY'],
  [DID_BUS_BUSY, 'MAYBE_RETRY'],
  [DID_PARITY, 'MAYBE_RETRY'],
  [DID_ERROR, 'MAYBE_RETRY'],
  [DID_IMM_RETRY, 'NEEDS_RETRY'],
  [DID_REQUEUE, 'ADD_TO_MLQUEUE'],
  [DID_TRANSPORT_FAILFAST, 'SUCCESS'],
  [DID_TRANSPORT_MARGINAL, 'SUCCESS'],
  [DID_RESET, 'SUCCESS'],
  [DID_TIME_OUT, 'TIME_OUT'],
]);

/** Status byte → disposition when the host byte is DID_OK. */
const STATUS_DISPOSITION: ReadonlyMap<number, Disposition | 'CHECK_SENSE'> = new Map([
  [SAM_STAT_TASK_SET_FULL, 'ADD_TO_MLQUEUE'],
  [SAM_STAT_BUSY, 'ADD_TO_MLQUEUE'],
  [SAM_STAT_GOOD, 'SUCCESS'],
  [SAM_STAT_COMMAND_TERMINATED, 'SUCCESS'],
  [SAM_STAT_TASK_ABORTED, 'MAYBE_RETRY'],
  [SAM_STAT_CHECK_CONDITION, 'CHECK_SENSE'],
  [SAM_STAT_CONDITION_MET, 'SUCCESS'],
  [SAM_STAT_INTERMEDIATE, 'SUCCESS'],
  [SAM_STAT_INTERMEDIATE_CONDITION_MET, 'SUCCESS'],
  [SAM_STAT_ACA_ACTIVE, 'SUCCESS'],
  [SAM_STAT_RESERVATION_CONFLICT, 'SUCCESS'],
]);

export interface SenseDecision {
  readonly disposition: Disposition;
  readonly ml: MlByte;
}

/** ILLEGAL REQUEST ASCs that mark the target as failing the request (not worth retrying). */
const ILLEGAL_REQUEST_TGT_FAILURE_ASC = new Set([0x20, 0x21, 0x22, 0x24, 0x26, 0x27]);

/**
 * scsi_check_sense for a command with valid sense. `fromEh` marks commands the EH sent itself.
 * TEST UNIT READY outside the EH always succeeds here: the caller looks at the sense.
 */
export function checkSense(cmd: ScsiCmnd, sshdr: SenseHdr, fromEh = false): SenseDecision {
  const sdev = cmd.device;
  const ok = (ml: MlByte = 'none'): SenseDecision => ({ disposition: 'SUCCESS', ml });
  if (sshdr.responseCode === 0x71 || sshdr.responseCode === 0x73) return { disposition: 'NEEDS_RETRY', ml: 'none' };
  if (cmd.cmnd[0] === 0x00 && !fromEh) return ok();
  if (!sshdr.descriptor && (cmd.senseBuffer[2]! & 0xe0) !== 0) return ok();
  switch (sshdr.senseKey) {
    case SENSE_KEY.NO_SENSE:
    case SENSE_KEY.RECOVERED_ERROR:
      return ok();
    case SENSE_KEY.ABORTED_COMMAND:
      if (sshdr.asc === 0x10) return ok();
      return { disposition: 'NEEDS_RETRY', ml: 'none' };
    case SENSE_KEY.NOT_READY:
    case SENSE_KEY.UNIT_ATTENTION:
      if (sdev.expectingCcUa && !(sshdr.asc === 0x28 && sshdr.ascq === 0)) {
        sdev.expectingCcUa = false;
        return { disposition: 'NEEDS_RETRY', ml: 'none' };
      }
      if (sdev.target.expectingLunChange && sshdr.asc === 0x3f && sshdr.ascq === 0x0e) return { disposition: 'NEEDS_RETRY', ml: 'none' };
      if (sshdr.asc === 0x04 && sshdr.ascq === 0x01) return { disposition: 'NEEDS_RETRY', ml: 'none' };
      if (sdev.allowRestart && sshdr.asc === 0x04 && sshdr.ascq === 0x02) return { disposition: 'FAILED', ml: 'none' };
      return ok();
    case SENSE_KEY.DATA_PROTECT:
      return ok(sshdr.asc === 0x27 && sshdr.ascq === 0x07 ? 'NOSPC' : 'TGT_FAILURE');
    case SENSE_KEY.COPY_ABORTED:
    case SENSE_KEY.VOLUME_OVERFLOW:
    case SENSE_KEY.MISCOMPARE:
    case SENSE_KEY.BLANK_CHECK:
      return ok('TGT_FAILURE');
    case SENSE_KEY.MEDIUM_ERROR:
      if (sshdr.asc === 0x11 || sshdr.asc === 0x13 || sshdr.asc === 0x14) return ok('MED_ERROR');
      return { disposition: 'NEEDS_RETRY', ml: 'none' };
    case SENSE_KEY.HARDWARE_ERROR:
      return ok('TGT_FAILURE');
    case SENSE_KEY.ILLEGAL_REQUEST:
      return ok(ILLEGAL_REQUEST_TGT_FAILURE_ASC.has(sshdr.asc) ? 'TGT_FAILURE' : 'none');
    default:
      return ok();
  }
}

export interface DispositionResult {
  readonly disposition: Disposition;
  readonly ml: MlByte;
  /** The result, possibly rewritten (DID_PASSTHROUGH cleared). */
  readonly result: number;
}

/** scsi_decide_disposition; `maybe_retry` is resolved against cmd.retries/allowed here. */
export function decideDisposition(cmd: ScsiCmnd, report: (sdev: ScsiDevice, sshdr: SenseHdr) => void): DispositionResult {
  const sdev = cmd.device;
  let result = cmd.result;
  if (!sdevOnline(sdev.state)) return { disposition: 'SUCCESS', ml: 'none', result };
  const hb = hostByte(result);
  let d = HOST_BYTE_DISPOSITION.get(hb) ?? 'FAILED';
  let ml: MlByte = 'none';
  if (hb === DID_PASSTHROUGH) result &= 0xff00ffff;
  if (hb === DID_ERROR && statusByte(result) === SAM_STAT_RESERVATION_CONFLICT) d = 'CHECK_STATUS';
  if (d === 'TIME_OUT') {
    const op = cmd.cmnd[0];
    d = op === 0x00 || op === 0x12 ? 'SUCCESS' : 'FAILED';
  }
  if (d === 'CHECK_STATUS') {
    const st = STATUS_DISPOSITION.get(statusByte(result)) ?? 'FAILED';
    if (st === 'CHECK_SENSE') {
      const sshdr = normalizeSense(cmd.senseBuffer, cmd.senseBuffer.length);
      if (!sshdr) d = 'FAILED';
      else {
        report(sdev, sshdr);
        const s = checkSense(cmd, sshdr);
        d = s.disposition === 'NEEDS_RETRY' ? 'MAYBE_RETRY' : s.disposition;
        ml = s.ml;
      }
    } else d = st;
    if (statusByte(result) === SAM_STAT_RESERVATION_CONFLICT) ml = 'RESV_CONFLICT';
  }
  if (d === 'MAYBE_RETRY') {
    const noRetry = cmd.passthrough && (statusByte(result) === SAM_STAT_CHECK_CONDITION || hb === DID_TIME_OUT);
    d = !noRetry && (cmd.allowed === -1 || ++cmd.retries <= cmd.allowed) ? 'NEEDS_RETRY' : 'SUCCESS';
  }
  return { disposition: d as Disposition, ml, result };
}

/** One row of scsi_report_sense: the UA message and the uevent variable. */
interface UaRule {
  readonly asc: number;
  /** undefined: any ASCQ. */
  readonly ascq?: number;
  readonly message: string;
  readonly uevent?: string;
  readonly setsExpectingLunChange?: boolean;
}

/** Source: scsi_report_sense (drivers/scsi/scsi_error.c); first match wins. */
export const UA_RULES: readonly UaRule[] = [
  { asc: 0x3f, ascq: 0x03, message: 'Inquiry data has changed', uevent: 'INQUIRY_DATA_HAS_CHANGED' },
  {
    asc: 0x3f,
    ascq: 0x0e,
    message: 'LUN assignments on this target have changed. The Linux SCSI layer does not automatically remap LUN assignments.',
    uevent: 'REPORTED_LUNS_DATA_HAS_CHANGED',
    setsExpectingLunChange: true,
  },
  { asc: 0x3f, message: 'Operating parameters on this target have changed. The Linux SCSI layer does not automatically adjust these parameters.' },
  {
    asc: 0x38,
    ascq: 0x07,
    message: 'Warning! Received an indication that the LUN reached a thin provisioning soft threshold.',
    uevent: 'THIN_PROVISIONING_SOFT_THRESHOLD_REACHED',
  },
  { asc: 0x29, message: 'Power-on or device reset occurred', uevent: 'POWER_ON_RESET_OCCURRED' },
  { asc: 0x2a, ascq: 0x01, message: 'Mode parameters changed', uevent: 'MODE_PARAMETERS_CHANGED' },
  { asc: 0x2a, ascq: 0x06, message: 'Asymmetric access state changed', uevent: 'ASYMMETRIC_ACCESS_STATE_CHANGED' },
  { asc: 0x2a, ascq: 0x09, message: 'Capacity data has changed', uevent: 'CAPACITY_DATA_HAS_CHANGED' },
  { asc: 0x2a, message: 'Parameters changed' },
];

export function uaRule(sshdr: SenseHdr): UaRule | undefined {
  if (sshdr.senseKey !== SENSE_KEY.UNIT_ATTENTION) return undefined;
  return UA_RULES.find((r) => r.asc === sshdr.asc && (r.ascq === undefined || r.ascq === sshdr.ascq));
}

/** Level of the UA messages (sdev_printk(KERN_WARNING, …)). */
export const UA_LOG_LEVEL = KERN_WARNING;
