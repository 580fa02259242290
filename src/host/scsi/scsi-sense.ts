// Models scsi/utils.c + include/scsi/constants.h (QEMU 7.2): sense keys, the predefined sense codes,
// building fixed/descriptor sense, and the host errno → SCSI status/sense mapping.

export interface ScsiSense {
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
}

export const SENSE_KEY = {
  NO_SENSE: 0x00,
  RECOVERED_ERROR: 0x01,
  NOT_READY: 0x02,
  MEDIUM_ERROR: 0x03,
  HARDWARE_ERROR: 0x04,
  ILLEGAL_REQUEST: 0x05,
  UNIT_ATTENTION: 0x06,
  DATA_PROTECT: 0x07,
  BLANK_CHECK: 0x08,
  ABORTED_COMMAND: 0x0b,
  VOLUME_OVERFLOW: 0x0d,
} as const;

/** Fixed-format sense length QEMU builds (SCSI_SENSE_LEN). */
export const SCSI_SENSE_LEN = 18;
/** Size of a request's / device's sense buffer (SCSI_SENSE_BUF_SIZE). */
export const SCSI_SENSE_BUF_SIZE = 252;

const K = SENSE_KEY;
const s = (key: number, asc: number, ascq: number): ScsiSense => Object.freeze({ key, asc, ascq });

/** QEMU's predefined sense codes (sense_code_*). */
export const SENSE = {
  NO_SENSE: s(K.NO_SENSE, 0x00, 0x00),
  LUN_NOT_READY: s(K.NOT_READY, 0x04, 0x03),
  NO_MEDIUM: s(K.NOT_READY, 0x3a, 0x00),
  NOT_READY_REMOVAL_PREVENTED: s(K.NOT_READY, 0x53, 0x02),
  TARGET_FAILURE: s(K.HARDWARE_ERROR, 0x44, 0x00),
  INVALID_OPCODE: s(K.ILLEGAL_REQUEST, 0x20, 0x00),
  LBA_OUT_OF_RANGE: s(K.ILLEGAL_REQUEST, 0x21, 0x00),
  INVALID_FIELD: s(K.ILLEGAL_REQUEST, 0x24, 0x00),
  INVALID_PARAM: s(K.ILLEGAL_REQUEST, 0x26, 0x00),
  INVALID_PARAM_VALUE: s(K.ILLEGAL_REQUEST, 0x26, 0x01),
  INVALID_PARAM_LEN: s(K.ILLEGAL_REQUEST, 0x1a, 0x00),
  LUN_NOT_SUPPORTED: s(K.ILLEGAL_REQUEST, 0x25, 0x00),
  SAVING_PARAMS_NOT_SUPPORTED: s(K.ILLEGAL_REQUEST, 0x39, 0x00),
  INCOMPATIBLE_FORMAT: s(K.ILLEGAL_REQUEST, 0x30, 0x00),
  ILLEGAL_REQ_REMOVAL_PREVENTED: s(K.ILLEGAL_REQUEST, 0x53, 0x02),
  INVALID_TAG: s(K.ILLEGAL_REQUEST, 0x4b, 0x01),
  IO_ERROR: s(K.ABORTED_COMMAND, 0x00, 0x06),
  I_T_NEXUS_LOSS: s(K.ABORTED_COMMAND, 0x29, 0x07),
  LUN_FAILURE: s(K.ABORTED_COMMAND, 0x3e, 0x01),
  OVERLAPPED_COMMANDS: s(K.ABORTED_COMMAND, 0x4e, 0x00),
  LUN_COMM_FAILURE: s(K.ABORTED_COMMAND, 0x08, 0x00),
  LUN_NOT_RESPONDING: s(K.ABORTED_COMMAND, 0x05, 0x00),
  COMMAND_TIMEOUT: s(K.ABORTED_COMMAND, 0x2e, 0x02),
  COMMAND_ABORTED: s(K.ABORTED_COMMAND, 0x2f, 0x02),
  READ_ERROR: s(K.MEDIUM_ERROR, 0x11, 0x00),
  NOT_READY: s(K.NOT_READY, 0x04, 0x00),
  CAPACITY_CHANGED: s(K.UNIT_ATTENTION, 0x2a, 0x09),
  RESET: s(K.UNIT_ATTENTION, 0x29, 0x00),
  SCSI_BUS_RESET: s(K.UNIT_ATTENTION, 0x29, 0x02),
  UNIT_ATTENTION_NO_MEDIUM: s(K.UNIT_ATTENTION, 0x3a, 0x00),
  MEDIUM_CHANGED: s(K.UNIT_ATTENTION, 0x28, 0x00),
  REPORTED_LUNS_CHANGED: s(K.UNIT_ATTENTION, 0x3f, 0x0e),
  DEVICE_INTERNAL_RESET: s(K.UNIT_ATTENTION, 0x29, 0x04),
  WRITE_PROTECTED: s(K.DATA_PROTECT, 0x27, 0x00),
  SPACE_ALLOC_FAILED: s(K.DATA_PROTECT, 0x27, 0x07),
} as const;

/** Sequential-access sense codes (SSC-3 / SPC-3 Annex D) for scsi-tape, which QEMU does not have. */
export const SENSE_SSC = {
  FILEMARK_DETECTED: s(K.NO_SENSE, 0x00, 0x01),
  /** Early warning on write (with EOM); with VOLUME OVERFLOW at the physical end. */
  EOP_EOM_DETECTED: s(K.NO_SENSE, 0x00, 0x02),
  BOP_BOM_DETECTED: s(K.NO_SENSE, 0x00, 0x04),
  END_OF_DATA: s(K.BLANK_CHECK, 0x00, 0x05),
  VOLUME_OVERFLOW: s(K.VOLUME_OVERFLOW, 0x00, 0x02),
  UNRECOVERED_READ_ERROR: s(K.MEDIUM_ERROR, 0x11, 0x00),
  WRITE_ERROR: s(K.MEDIUM_ERROR, 0x0c, 0x00),
  SEQUENTIAL_POSITIONING_ERROR: s(K.MEDIUM_ERROR, 0x3b, 0x00),
} as const;

export function senseEquals(a: ScsiSense, b: ScsiSense): boolean {
  return a.key === b.key && a.asc === b.asc && a.ascq === b.ascq;
}

/**
 * scsi_build_sense_buf: fixed (0x70, 18 bytes) or descriptor (0x72, 8 bytes) sense, truncated to `size`.
 * Bytes of `out` past the returned length are left alone.
 */
export function buildSenseBuf(out: Uint8Array, size: number, sense: ScsiSense, fixed: boolean): number {
  const full = fixed ? SCSI_SENSE_LEN : 8;
  const len = Math.max(0, Math.min(full, size, out.length));
  for (let i = 0; i < len; i++) out[i] = 0;
  const put = (i: number, v: number): void => {
    if (i < len) out[i] = v;
  };
  if (fixed) {
    put(0, 0x70); // response code: current, fixed format
    put(2, sense.key);
    put(7, 10); // additional sense length
    put(12, sense.asc);
    put(13, sense.ascq);
  } else {
    put(0, 0x72); // response code: current, descriptor format
    put(1, sense.key);
    put(2, sense.asc);
    put(3, sense.ascq);
  }
  return len;
}

/** The fixed-format bits a sequential-access device adds to a sense code (SPC-3 4.5.3). */
export interface SenseFlags {
  readonly filemark?: boolean;
  readonly eom?: boolean;
  readonly ili?: boolean;
  /** Sets VALID and the INFORMATION field (a residue; negative values as 32-bit two's complement). */
  readonly information?: number;
}

/** Fixed-format sense (18 bytes) with FILEMARK/EOM/ILI and the INFORMATION field. */
export function buildSenseFlags(out: Uint8Array, sense: ScsiSense, f: SenseFlags): number {
  const len = buildSenseBuf(out, SCSI_SENSE_LEN, sense, true);
  out[2] = (out[2]! & 0x0f) | (f.filemark ? 0x80 : 0) | (f.eom ? 0x40 : 0) | (f.ili ? 0x20 : 0);
  if (f.information !== undefined) {
    const v = f.information >>> 0;
    out[0] = out[0]! | 0x80; // VALID
    out[3] = v >>> 24;
    out[4] = (v >>> 16) & 0xff;
    out[5] = (v >>> 8) & 0xff;
    out[6] = v & 0xff;
  }
  return len;
}

/** scsi_build_sense: always fixed format, SCSI_SENSE_LEN bytes. */
export function buildSense(out: Uint8Array, sense: ScsiSense): number {
  return buildSenseBuf(out, SCSI_SENSE_LEN, sense, true);
}

/** scsi_parse_sense_buf: key/asc/ascq out of fixed or descriptor sense (IO_ERROR when too short). */
export function parseSenseBuf(buf: Uint8Array, len: number): ScsiSense {
  if (len <= 0) return SENSE.IO_ERROR;
  const fixedIn = ((buf[0] ?? 0) & 2) === 0;
  if (fixedIn) {
    if (len < 14) return SENSE.IO_ERROR;
    return { key: (buf[2] ?? 0) & 0xff, asc: buf[12] ?? 0, ascq: buf[13] ?? 0 };
  }
  if (len < 4) return SENSE.IO_ERROR;
  return { key: buf[1] ?? 0, asc: buf[2] ?? 0, ascq: buf[3] ?? 0 };
}

/** scsi_convert_sense: copies or converts `inLen` bytes of sense into `out` (NO SENSE when empty). */
export function convertSense(
  inBuf: Uint8Array | null,
  inLen: number,
  out: Uint8Array,
  len: number,
  fixed: boolean,
): number {
  if (!inBuf || inLen === 0) return buildSenseBuf(out, len, SENSE.NO_SENSE, fixed);
  const fixedIn = ((inBuf[0] ?? 0) & 2) === 0;
  if (fixed === fixedIn) {
    const n = Math.max(0, Math.min(len, inLen, out.length));
    out.set(inBuf.subarray(0, n), 0);
    return n;
  }
  return buildSenseBuf(out, len, parseSenseBuf(inBuf, inLen), fixed);
}

/** SAM status codes used by the errno mapping (the full list lives in scsi.ts). */
const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
const RESERVATION_CONFLICT = 0x18;
const TASK_SET_FULL = 0x28;

export interface StatusAndSense {
  readonly status: number;
  /** Sense to build when status is CHECK CONDITION, else null. */
  readonly sense: ScsiSense | null;
}

const cc = (sense: ScsiSense): StatusAndSense => Object.freeze({ status: CHECK_CONDITION, sense });
const ERRNO_SENSE: Readonly<Record<string, StatusAndSense>> = {
  EDOM: { status: TASK_SET_FULL, sense: null },
  EBADE: { status: RESERVATION_CONFLICT, sense: null },
  ENODATA: cc(SENSE.READ_ERROR),
  EREMOTEIO: cc(SENSE.TARGET_FAILURE),
  ENOMEDIUM: cc(SENSE.NO_MEDIUM),
  ENOMEM: cc(SENSE.TARGET_FAILURE),
  EINVAL: cc(SENSE.INVALID_FIELD),
  ENOSPC: cc(SENSE.SPACE_ALLOC_FAILED),
};
const STATUS_GOOD: StatusAndSense = Object.freeze({ status: GOOD, sense: null });
const STATUS_IO_ERROR = cc(SENSE.IO_ERROR);

/** scsi_sense_from_errno: a host errno name ('EIO', …; null = success) → status + sense. */
export function senseFromErrno(errno: string | null): StatusAndSense {
  if (errno === null) return STATUS_GOOD;
  return ERRNO_SENSE[errno] ?? STATUS_IO_ERROR;
}

/** scsi_sense_is_guest_recoverable: errors the guest handles itself (no rerror/werror policy). */
export function senseIsGuestRecoverable(key: number, asc: number, ascq: number): boolean {
  switch (key) {
    case K.NO_SENSE:
    case K.RECOVERED_ERROR:
    case K.UNIT_ATTENTION:
    case K.ABORTED_COMMAND:
      return true;
    case K.NOT_READY:
    case K.ILLEGAL_REQUEST:
    case K.DATA_PROTECT:
      break;
    default:
      return false;
  }
  const code = (asc << 8) | ascq;
  return (
    code === 0x1a00 ||
    code === 0x2000 ||
    code === 0x2400 ||
    code === 0x2500 ||
    code === 0x2600 ||
    code === 0x2104 ||
    code === 0x2105 ||
    code === 0x2106 ||
    code === 0x550e ||
    code === 0x0401 ||
    code === 0x0402
  );
}

/**
 * scsi_ua_precedence: lower is more important. A pending UA is only replaced by one of higher
 * precedence (hw/scsi/scsi-bus.c); anything that is not a UNIT ATTENTION ranks last.
 */
export function uaPrecedence(sense: ScsiSense): number {
  if (sense.key !== K.UNIT_ATTENTION) return Number.MAX_SAFE_INTEGER;
  if (sense.asc === 0x29 && sense.ascq === 0x04) return 1; // DEVICE INTERNAL RESET, with POWER ON
  if (sense.asc === 0x3f && sense.ascq === 0x01) return 2; // MICROCODE CHANGED, with BUS RESET
  if (sense.asc === 0x29 && (sense.ascq === 0x05 || sense.ascq === 0x06)) {
    // these two rank with "all others"
  } else if (sense.asc === 0x29 && sense.ascq <= 0x07) {
    return sense.ascq;
  } else if (sense.asc === 0x2f && sense.ascq === 0x01) {
    return 8;
  }
  return (sense.asc << 8) | sense.ascq;
}
