// Models drivers/scsi/scsi_common.c + include/scsi/scsi.h (Linux 6.1): LUN packing, peripheral type
// names, SCSI level from INQUIRY, and sense-buffer normalisation shared by the whole mid-layer.

/** Peripheral device types (SPC). */
export const TYPE_DISK = 0x00;
export const TYPE_TAPE = 0x01;
export const TYPE_PROCESSOR = 0x03;
export const TYPE_WORM = 0x04;
export const TYPE_ROM = 0x05;
export const TYPE_MOD = 0x07;
export const TYPE_MEDIUM_CHANGER = 0x08;
export const TYPE_RAID = 0x0c;
export const TYPE_ENCLOSURE = 0x0d;
export const TYPE_RBC = 0x0e;
export const TYPE_ZBC = 0x14;
export const TYPE_WLUN = 0x1e;
export const TYPE_NO_LUN = 0x7f;

/** scsi_device_type(): 17-character names, index = peripheral type. */
const TYPE_NAMES: Record<number, string> = {
  0x00: 'Direct-Access    ',
  0x01: 'Sequential-Access',
  0x02: 'Printer          ',
  0x03: 'Processor        ',
  0x04: 'WORM             ',
  0x05: 'CD-ROM           ',
  0x06: 'Scanner          ',
  0x07: 'Optical Device   ',
  0x08: 'Medium Changer   ',
  0x09: 'Communications   ',
  0x0a: 'ASC IT8          ',
  0x0b: 'ASC IT8          ',
  0x0c: 'RAID             ',
  0x0d: 'Enclosure        ',
  0x0e: 'Direct-Access-RBC',
  0x0f: 'Optical card     ',
  0x10: 'Bridge controller',
  0x11: 'Object storage   ',
  0x12: 'Automation/Drive ',
  0x13: 'Security Manager ',
  0x14: 'Direct-Access-ZBC',
  0x1e: 'Well-known LUN   ',
  0x1f: 'No Device        ',
};

export function scsiDeviceType(type: number): string {
  return TYPE_NAMES[type] ?? 'Unknown          ';
}

/** SCSI levels (include/scsi/scsi.h). */
export const SCSI_UNKNOWN = 0;
export const SCSI_1 = 1;
export const SCSI_1_CCS = 2;
export const SCSI_2 = 3;
export const SCSI_3 = 4;
export const SCSI_SPC_2 = 5;
export const SCSI_SPC_3 = 6;

/** scsi_level from INQUIRY bytes 2 and 3, as scsi_probe_lun computes it. */
export function scsiLevelFromInquiry(inq: Uint8Array): number {
  const ver = inq[2]! & 7;
  let level = ver;
  if (ver >= 2 || (ver === 1 && (inq[3]! & 0x0f) === 1)) level++;
  return level;
}

/**
 * scsilun_to_int: byte pairs (0,1), (2,3), … are 16-bit big-endian words; word k lands at bits 16k.
 * Returned as a number: LUNs from virtio-scsi stay far below 2^53.
 */
export function scsilunToInt(lun: Uint8Array, off = 0): number {
  let v = 0;
  for (let i = 0; i < 8; i += 2) {
    const word = ((lun[off + i]! << 8) | lun[off + i + 1]!) >>> 0;
    v += word * 2 ** (16 * (i / 2));
  }
  return v;
}

/** int_to_scsilun: the inverse of scsilunToInt. */
export function intToScsilun(lun: number, out: Uint8Array = new Uint8Array(8), off = 0): Uint8Array {
  let v = lun;
  for (let i = 0; i < 8; i += 2) {
    const word = v % 0x10000;
    out[off + i] = word >> 8;
    out[off + i + 1] = word & 0xff;
    v = Math.floor(v / 0x10000);
  }
  return out;
}

/** Normalised sense (scsi_normalize_sense): response code, key, ASC, ASCQ; null when not valid. */
export interface SenseHdr {
  readonly responseCode: number;
  readonly senseKey: number;
  readonly asc: number;
  readonly ascq: number;
  /** Descriptor format (0x72/0x73). */
  readonly descriptor: boolean;
}

export function normalizeSense(sense: Uint8Array, len: number): SenseHdr | null {
  if (len < 1) return null;
  const rc = sense[0]! & 0x7f;
  if ((rc & 0x70) !== 0x70) return null;
  if (rc >= 0x72) {
    return { responseCode: rc, senseKey: (sense[1] ?? 0) & 0xf, asc: len > 2 ? sense[2]! : 0, ascq: len > 3 ? sense[3]! : 0, descriptor: true };
  }
  return {
    responseCode: rc,
    senseKey: len > 2 ? sense[2]! & 0xf : 0,
    asc: len > 12 ? sense[12]! : 0,
    ascq: len > 13 ? sense[13]! : 0,
    descriptor: false,
  };
}

export const SENSE_KEY = {
  NO_SENSE: 0x0,
  RECOVERED_ERROR: 0x1,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6,
  DATA_PROTECT: 0x7,
  BLANK_CHECK: 0x8,
  COPY_ABORTED: 0xa,
  ABORTED_COMMAND: 0xb,
  VOLUME_OVERFLOW: 0xd,
  MISCOMPARE: 0xe,
} as const;

/** Host bytes (include/scsi/scsi_status.h); the index is the value. */
export const HOST_BYTE_NAMES = [
  'DID_OK',
  'DID_NO_CONNECT',
  'DID_BUS_BUSY',
  'DID_TIME_OUT',
  'DID_BAD_TARGET',
  'DID_ABORT',
  'DID_PARITY',
  'DID_ERROR',
  'DID_RESET',
  'DID_BAD_INTR',
  'DID_PASSTHROUGH',
  'DID_SOFT_ERROR',
  'DID_IMM_RETRY',
  'DID_REQUEUE',
  'DID_TRANSPORT_DISRUPTED',
  'DID_TRANSPORT_FAILFAST',
  'DID_TARGET_FAILURE',
  'DID_NEXUS_FAILURE',
  'DID_ALLOC_FAILURE',
  'DID_MEDIUM_ERROR',
  'DID_TRANSPORT_MARGINAL',
] as const;

export const DID_OK = 0x00;
export const DID_NO_CONNECT = 0x01;
export const DID_BUS_BUSY = 0x02;
export const DID_TIME_OUT = 0x03;
export const DID_BAD_TARGET = 0x04;
export const DID_ABORT = 0x05;
export const DID_PARITY = 0x06;
export const DID_ERROR = 0x07;
export const DID_RESET = 0x08;
export const DID_BAD_INTR = 0x09;
export const DID_PASSTHROUGH = 0x0a;
export const DID_SOFT_ERROR = 0x0b;
export const DID_IMM_RETRY = 0x0c;
export const DID_REQUEUE = 0x0d;
export const DID_TRANSPORT_DISRUPTED = 0x0e;
export const DID_TRANSPORT_FAILFAST = 0x0f;
export const DID_TARGET_FAILURE = 0x10;
export const DID_NEXUS_FAILURE = 0x11;
export const DID_ALLOC_FAILURE = 0x12;
export const DID_MEDIUM_ERROR = 0x13;
export const DID_TRANSPORT_MARGINAL = 0x14;

export const hostByte = (result: number): number => (result >>> 16) & 0xff;
export const statusByte = (result: number): number => result & 0xff;

/** `hostbyte=DID_BAD_TARGET` or `hostbyte=0x%02x` for unknown values, as scsi_print_result. */
export function hostByteName(hb: number): string {
  return HOST_BYTE_NAMES[hb] ?? `0x${hb.toString(16).padStart(2, '0')}`;
}
