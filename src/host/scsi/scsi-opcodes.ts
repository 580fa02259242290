// Models the opcode knowledge of scsi/utils.c and hw/scsi/scsi-bus.c (QEMU 7.2): one table gives each
// opcode its trace name (scsi_command_name), how its transfer length is found (scsi_req_xfer) and its
// direction (scsi_cmd_xfer_mode); CDB length and LBA come from the group (scsi_cdb_length, scsi_cmd_lba).

import type { XferMode } from './scsi.ts';

export const OP = {
  TEST_UNIT_READY: 0x00,
  REWIND: 0x01,
  REQUEST_SENSE: 0x03,
  FORMAT_UNIT: 0x04,
  READ_BLOCK_LIMITS: 0x05,
  REASSIGN_BLOCKS: 0x07,
  READ_6: 0x08,
  WRITE_6: 0x0a,
  SET_CAPACITY: 0x0b,
  READ_REVERSE: 0x0f,
  WRITE_FILEMARKS: 0x10,
  SPACE: 0x11,
  INQUIRY: 0x12,
  RECOVER_BUFFERED_DATA: 0x14,
  MODE_SELECT: 0x15,
  RESERVE: 0x16,
  RELEASE: 0x17,
  COPY: 0x18,
  ERASE: 0x19,
  MODE_SENSE: 0x1a,
  START_STOP: 0x1b,
  LOAD_UNLOAD: 0x1b, // SSC name of the same opcode
  RECEIVE_DIAGNOSTIC: 0x1c,
  SEND_DIAGNOSTIC: 0x1d,
  ALLOW_MEDIUM_REMOVAL: 0x1e,
  READ_CAPACITY_10: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  SEEK_10: 0x2b,
  WRITE_VERIFY_10: 0x2e,
  VERIFY_10: 0x2f,
  SEARCH_HIGH: 0x30,
  SEARCH_EQUAL: 0x31,
  SEARCH_LOW: 0x32,
  SET_LIMITS: 0x33,
  PRE_FETCH: 0x34,
  READ_POSITION: 0x34, // SSC name of the same opcode
  SYNCHRONIZE_CACHE: 0x35,
  LOCK_UNLOCK_CACHE: 0x36,
  READ_DEFECT_DATA: 0x37,
  MEDIUM_SCAN: 0x38,
  COMPARE: 0x39,
  COPY_VERIFY: 0x3a,
  WRITE_BUFFER: 0x3b,
  READ_BUFFER: 0x3c,
  UPDATE_BLOCK: 0x3d,
  READ_LONG_10: 0x3e,
  WRITE_LONG_10: 0x3f,
  CHANGE_DEFINITION: 0x40,
  WRITE_SAME_10: 0x41,
  UNMAP: 0x42,
  READ_TOC: 0x43,
  REPORT_DENSITY_SUPPORT: 0x44,
  GET_CONFIGURATION: 0x46,
  SANITIZE: 0x48,
  GET_EVENT_STATUS_NOTIFICATION: 0x4a,
  LOG_SELECT: 0x4c,
  LOG_SENSE: 0x4d,
  READ_DISC_INFORMATION: 0x51,
  RESERVE_TRACK: 0x53,
  MODE_SELECT_10: 0x55,
  RESERVE_10: 0x56,
  RELEASE_10: 0x57,
  MODE_SENSE_10: 0x5a,
  SEND_CUE_SHEET: 0x5d,
  PERSISTENT_RESERVE_IN: 0x5e,
  PERSISTENT_RESERVE_OUT: 0x5f,
  WRITE_FILEMARKS_16: 0x80,
  READ_REVERSE_16: 0x81,
  ALLOW_OVERWRITE: 0x82,
  EXTENDED_COPY: 0x83,
  ATA_PASSTHROUGH_16: 0x85,
  ACCESS_CONTROL_IN: 0x86,
  ACCESS_CONTROL_OUT: 0x87,
  READ_16: 0x88,
  COMPARE_AND_WRITE: 0x89,
  WRITE_16: 0x8a,
  WRITE_VERIFY_16: 0x8e,
  VERIFY_16: 0x8f,
  PRE_FETCH_16: 0x90,
  SYNCHRONIZE_CACHE_16: 0x91,
  SPACE_16: 0x91, // SSC name of the same opcode
  LOCATE_16: 0x92,
  WRITE_SAME_16: 0x93,
  ERASE_16: 0x93, // SSC name of the same opcode
  SERVICE_ACTION_IN_16: 0x9e,
  WRITE_LONG_16: 0x9f,
  REPORT_LUNS: 0xa0,
  ATA_PASSTHROUGH_12: 0xa1,
  MAINTENANCE_IN: 0xa3,
  MAINTENANCE_OUT: 0xa4,
  MOVE_MEDIUM: 0xa5,
  EXCHANGE_MEDIUM: 0xa6,
  SET_READ_AHEAD: 0xa7,
  READ_12: 0xa8,
  WRITE_12: 0xaa,
  SERVICE_ACTION_IN_12: 0xab,
  ERASE_12: 0xac,
  READ_DVD_STRUCTURE: 0xad,
  WRITE_VERIFY_12: 0xae,
  VERIFY_12: 0xaf,
  SEARCH_HIGH_12: 0xb0,
  SEARCH_EQUAL_12: 0xb1,
  SEARCH_LOW_12: 0xb2,
  SEND_VOLUME_TAG: 0xb6,
  READ_DEFECT_DATA_12: 0xb7,
  READ_ELEMENT_STATUS: 0xb8,
  SET_CD_SPEED: 0xbb,
  MECHANISM_STATUS: 0xbd,
  READ_CD: 0xbe,
  SEND_DVD_STRUCTURE: 0xbf,
} as const;

/** SCSI peripheral device types used by the parser and the devices. */
export const TYPE_DISK = 0x00;
export const TYPE_TAPE = 0x01;
export const TYPE_ROM = 0x05;
export const TYPE_NOT_PRESENT = 0x1f;
export const TYPE_INACTIVE = 0x20;
export const TYPE_NO_LUN = 0x7f;

/** How the transfer length of an opcode is derived (scsi_req_xfer's cases). */
type XferRule =
  | 'cdb' // scsi_cdb_xfer by group
  | 'zero'
  | 'verify' // BYTCHK: 0 → none, bit 2 → one block, else the block count
  | 'write-same' // one block unless byte 1 bit 0
  | 'eight'
  | 'six'
  | 'set-streaming'
  | 'blocks-6' // 0 means 256 blocks
  | 'blocks'
  | 'format-unit'
  | 'be16@3'
  | 'be24@6'
  | 'be32@5'
  | 'get-performance'
  | 'rom-be16@8'
  | 'ata-12'
  | 'ata-16';

type Dir = 'to-dev' | 'from-dev' | 'ata';

interface OpInfo {
  readonly name: string;
  readonly xfer: XferRule;
  readonly dir: Dir;
}

function op(name: string, xfer: XferRule = 'cdb', dir: Dir = 'from-dev'): OpInfo {
  return { name, xfer, dir };
}

const O = OP;
/** The one opcode table. Names are QEMU's scsi_command_name; opcodes absent here print `*UNKNOWN*`. */
const TABLE: ReadonlyMap<number, OpInfo> = new Map<number, OpInfo>([
  [O.TEST_UNIT_READY, op('TEST_UNIT_READY', 'zero')],
  [O.REWIND, op('REWIND', 'zero')],
  [O.REQUEST_SENSE, op('REQUEST_SENSE')],
  [O.FORMAT_UNIT, op('FORMAT_UNIT', 'format-unit', 'to-dev')],
  [O.READ_BLOCK_LIMITS, op('READ_BLOCK_LIMITS', 'six')],
  [O.REASSIGN_BLOCKS, op('REASSIGN_BLOCKS/INITIALIZE ELEMENT STATUS', 'cdb', 'to-dev')],
  [O.READ_6, op('READ_6', 'blocks-6')],
  [O.WRITE_6, op('WRITE_6', 'blocks-6', 'to-dev')],
  [O.SET_CAPACITY, op('SET_CAPACITY', 'zero')],
  [O.READ_REVERSE, op('READ_REVERSE', 'blocks-6')],
  [O.WRITE_FILEMARKS, op('WRITE_FILEMARKS', 'zero')],
  [O.SPACE, op('SPACE', 'zero')],
  [O.INQUIRY, op('INQUIRY', 'be16@3')],
  [O.RECOVER_BUFFERED_DATA, op('RECOVER_BUFFERED_DATA')],
  [O.MAINTENANCE_IN, op('MAINTENANCE_IN', 'rom-be16@8')],
  [O.MAINTENANCE_OUT, op('MAINTENANCE_OUT', 'rom-be16@8', 'to-dev')],
  [O.MODE_SELECT, op('MODE_SELECT', 'cdb', 'to-dev')],
  [O.RESERVE, op('RESERVE', 'zero')],
  [O.RELEASE, op('RELEASE', 'zero')],
  [O.COPY, op('COPY', 'cdb', 'to-dev')],
  [O.ERASE, op('ERASE', 'zero')],
  [O.MODE_SENSE, op('MODE_SENSE')],
  [O.START_STOP, op('START_STOP/LOAD_UNLOAD', 'zero')],
  [O.RECEIVE_DIAGNOSTIC, op('RECEIVE_DIAGNOSTIC', 'be16@3')],
  [O.SEND_DIAGNOSTIC, op('SEND_DIAGNOSTIC', 'be16@3', 'to-dev')],
  [O.ALLOW_MEDIUM_REMOVAL, op('ALLOW_MEDIUM_REMOVAL', 'zero')],
  [O.READ_CAPACITY_10, op('READ_CAPACITY_10', 'eight')],
  [O.READ_10, op('READ_10', 'blocks')],
  [O.WRITE_10, op('WRITE_10', 'blocks', 'to-dev')],
  [O.SEEK_10, op('SEEK_10/POSITION_TO_ELEMENT', 'zero')],
  [O.WRITE_VERIFY_10, op('WRITE_VERIFY_10', 'blocks', 'to-dev')],
  [O.VERIFY_10, op('VERIFY_10', 'verify', 'to-dev')],
  [O.SEARCH_HIGH, op('SEARCH_HIGH', 'cdb', 'to-dev')],
  [O.SEARCH_EQUAL, op('SEARCH_EQUAL', 'cdb', 'to-dev')],
  [O.SEARCH_LOW, op('SEARCH_LOW', 'cdb', 'to-dev')],
  [O.SET_LIMITS, op('SET_LIMITS', 'zero')],
  [O.PRE_FETCH, op('PRE_FETCH/READ_POSITION', 'zero')],
  [O.SYNCHRONIZE_CACHE, op('SYNCHRONIZE_CACHE', 'zero')],
  [O.LOCK_UNLOCK_CACHE, op('LOCK_UNLOCK_CACHE', 'zero')],
  [O.READ_DEFECT_DATA, op('READ_DEFECT_DATA/INITIALIZE_ELEMENT_STATUS_WITH_RANGE')],
  [O.MEDIUM_SCAN, op('MEDIUM_SCAN', 'cdb', 'to-dev')],
  [O.COMPARE, op('COMPARE', 'cdb', 'to-dev')],
  [O.COPY_VERIFY, op('COPY_VERIFY', 'cdb', 'to-dev')],
  [O.WRITE_BUFFER, op('WRITE_BUFFER', 'be24@6', 'to-dev')],
  [O.READ_BUFFER, op('READ_BUFFER', 'be24@6')],
  [O.UPDATE_BLOCK, op('UPDATE_BLOCK', 'zero', 'to-dev')],
  [O.READ_LONG_10, op('READ_LONG_10')],
  [O.WRITE_LONG_10, op('WRITE_LONG_10', 'zero', 'to-dev')],
  [O.CHANGE_DEFINITION, op('CHANGE_DEFINITION', 'cdb', 'to-dev')],
  [O.WRITE_SAME_10, op('WRITE_SAME_10', 'write-same', 'to-dev')],
  [O.UNMAP, op('UNMAP', 'cdb', 'to-dev')],
  [O.READ_TOC, op('READ_TOC')],
  [O.REPORT_DENSITY_SUPPORT, op('REPORT_DENSITY_SUPPORT')],
  [O.SANITIZE, op('SANITIZE')],
  [O.GET_CONFIGURATION, op('GET_CONFIGURATION')],
  [O.LOG_SELECT, op('LOG_SELECT', 'cdb', 'to-dev')],
  [O.LOG_SENSE, op('LOG_SENSE')],
  [O.MODE_SELECT_10, op('MODE_SELECT_10', 'cdb', 'to-dev')],
  [O.RESERVE_10, op('RESERVE_10')],
  [O.RELEASE_10, op('RELEASE_10')],
  [O.MODE_SENSE_10, op('MODE_SENSE_10')],
  [O.PERSISTENT_RESERVE_IN, op('PERSISTENT_RESERVE_IN')],
  [O.PERSISTENT_RESERVE_OUT, op('PERSISTENT_RESERVE_OUT', 'be32@5', 'to-dev')],
  [O.WRITE_FILEMARKS_16, op('WRITE_FILEMARKS_16', 'zero')],
  [O.EXTENDED_COPY, op('EXTENDED_COPY')],
  [O.ATA_PASSTHROUGH_16, op('ATA_PASSTHROUGH_16', 'ata-16', 'ata')],
  [O.ACCESS_CONTROL_IN, op('ACCESS_CONTROL_IN')],
  [O.ACCESS_CONTROL_OUT, op('ACCESS_CONTROL_OUT')],
  [O.READ_16, op('READ_16', 'blocks')],
  [O.COMPARE_AND_WRITE, op('COMPARE_AND_WRITE')],
  [O.WRITE_16, op('WRITE_16', 'blocks', 'to-dev')],
  [O.WRITE_VERIFY_16, op('WRITE_VERIFY_16', 'blocks', 'to-dev')],
  [O.VERIFY_16, op('VERIFY_16', 'verify', 'to-dev')],
  [O.PRE_FETCH_16, op('PRE_FETCH_16', 'zero')],
  [O.SYNCHRONIZE_CACHE_16, op('SPACE_16/SYNCHRONIZE_CACHE_16', 'zero')],
  [O.LOCATE_16, op('LOCATE_16', 'zero')],
  [O.WRITE_SAME_16, op('ERASE_16/WRITE_SAME_16', 'write-same', 'to-dev')],
  [O.SERVICE_ACTION_IN_16, op('SERVICE_ACTION_IN_16')],
  [O.WRITE_LONG_16, op('WRITE_LONG_16')],
  [O.REPORT_LUNS, op('REPORT_LUNS')],
  [O.ATA_PASSTHROUGH_12, op('BLANK/ATA_PASSTHROUGH_12', 'ata-12', 'ata')],
  [O.MOVE_MEDIUM, op('MOVE_MEDIUM')],
  [O.EXCHANGE_MEDIUM, op('EXCHANGE MEDIUM')],
  [O.READ_12, op('READ_12', 'blocks')],
  [O.WRITE_12, op('WRITE_12', 'blocks', 'to-dev')],
  [O.ERASE_12, op('ERASE_12/GET_PERFORMANCE', 'get-performance')],
  [O.SERVICE_ACTION_IN_12, op('SERVICE_ACTION_IN_12')],
  [O.WRITE_VERIFY_12, op('WRITE_VERIFY_12', 'blocks', 'to-dev')],
  [O.VERIFY_12, op('VERIFY_12', 'verify', 'to-dev')],
  [O.SEARCH_HIGH_12, op('SEARCH_HIGH_12', 'cdb', 'to-dev')],
  [O.SEARCH_EQUAL_12, op('SEARCH_EQUAL_12', 'cdb', 'to-dev')],
  [O.SEARCH_LOW_12, op('SEARCH_LOW_12', 'cdb', 'to-dev')],
  [O.READ_ELEMENT_STATUS, op('READ_ELEMENT_STATUS')],
  [O.SEND_VOLUME_TAG, op('SEND_VOLUME_TAG/SET_STREAMING', 'set-streaming', 'to-dev')],
  [O.READ_CD, op('READ_CD', 'be24@6')],
  [O.READ_DEFECT_DATA_12, op('READ_DEFECT_DATA_12')],
  [O.READ_DVD_STRUCTURE, op('READ_DVD_STRUCTURE', 'rom-be16@8')],
  [O.RESERVE_TRACK, op('RESERVE_TRACK', 'zero')],
  [O.SEND_CUE_SHEET, op('SEND_CUE_SHEET', 'be24@6', 'to-dev')],
  [O.SEND_DVD_STRUCTURE, op('SEND_DVD_STRUCTURE', 'rom-be16@8', 'to-dev')],
  [O.SET_CD_SPEED, op('SET_CD_SPEED', 'zero')],
  [O.SET_READ_AHEAD, op('SET_READ_AHEAD', 'zero')],
  [O.ALLOW_OVERWRITE, op('ALLOW_OVERWRITE', 'zero')],
  [O.MECHANISM_STATUS, op('MECHANISM_STATUS', 'rom-be16@8')],
  [O.GET_EVENT_STATUS_NOTIFICATION, op('GET_EVENT_STATUS_NOTIFICATION')],
  [O.READ_DISC_INFORMATION, op('READ_DISC_INFORMATION')],
]);

/** scsi_command_name: the name QEMU's traces print for an opcode. */
export function scsiCommandName(opcode: number): string {
  return TABLE.get(opcode)?.name ?? '*UNKNOWN*';
}

/** scsi_cdb_length: 6/10/12/16 by group, -1 for groups 3, 6, 7 (reserved / vendor specific). */
export function scsiCdbLength(opcode: number): number {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return -1;
  }
}

const be16 = (b: Uint8Array, i: number): number => ((b[i]! << 8) | b[i + 1]!) >>> 0;
const be32 = (b: Uint8Array, i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/** scsi_cdb_xfer: the group's transfer-length field. */
export function scsiCdbXfer(b: Uint8Array): number {
  switch (b[0]! >> 5) {
    case 0:
      return b[4]!;
    case 1:
    case 2:
      return be16(b, 7);
    case 4:
      return be32(b, 10);
    case 5:
      return be32(b, 6);
    default:
      return -1;
  }
}

/** scsi_data_cdb_xfer: block count of a READ/WRITE-style CDB (0 in a 6-byte CDB means 256). */
export function scsiDataCdbXfer(b: Uint8Array): number {
  if (b[0]! >> 5 === 0 && b[4] === 0) return 256;
  return scsiCdbXfer(b);
}

/** scsi_cmd_lba: the group's LBA field, -1 where the group has none. */
export function scsiCmdLba(b: Uint8Array): number {
  switch (b[0]! >> 5) {
    case 0:
      return be32(b, 0) & 0x1fffff;
    case 1:
    case 2:
    case 5:
      return be32(b, 2);
    case 4:
      return be32(b, 2) * 0x1_0000_0000 + be32(b, 6);
    default:
      return -1;
  }
}

/** SCSICommand: a parsed CDB. `buf` is 16 bytes, zero past `len`, as QEMU's cmd.buf. */
export interface ScsiCommand {
  buf: Uint8Array;
  len: number;
  xfer: number;
  mode: XferMode;
  lba: number;
}

export function emptyCommand(): ScsiCommand {
  return { buf: new Uint8Array(16), len: 0, xfer: 0, mode: 'none', lba: -1 };
}

function ataUnit(b: Uint8Array, blocksize: number): number {
  const byteBlock = (b[2]! >> 2) & 1;
  const type = (b[2]! >> 4) & 1;
  return byteBlock ? (type ? blocksize : 512) : 1;
}

function getPerformanceLength(numDesc: number, type: number, dataType: number): number {
  switch (type) {
    case 0:
      return (dataType & 3) === 0 ? 16 * numDesc + 8 : 6 * numDesc + 8;
    case 1:
    case 4:
    case 5:
      return 8 * numDesc + 8;
    case 2:
      return 2048 * numDesc + 8;
    case 3:
      return 16 * numDesc + 8;
    default:
      return 8;
  }
}

function xferOf(rule: XferRule, b: Uint8Array, devType: number, bs: number): number {
  const cdbX = scsiCdbXfer(b);
  switch (rule) {
    case 'cdb':
      return cdbX;
    case 'zero':
      return 0;
    case 'verify':
      if ((b[1]! & 2) === 0) return 0;
      return ((b[1]! & 4) !== 0 ? 1 : cdbX) * bs;
    case 'write-same':
      return b[1]! & 1 ? 0 : bs;
    case 'eight':
      return 8;
    case 'six':
      return 6;
    case 'set-streaming':
      return devType === TYPE_ROM ? b[10]! | (b[9]! << 8) : b[9]! | (b[8]! << 8);
    case 'blocks-6':
      return (cdbX === 0 ? 256 : cdbX) * bs;
    case 'blocks':
      return cdbX * bs;
    case 'format-unit':
      if (devType === TYPE_ROM && b[1]! & 16) return 12;
      return (b[1]! & 16) === 0 ? 0 : b[1]! & 32 ? 8 : 4;
    case 'be16@3':
      return b[4]! | (b[3]! << 8);
    case 'be24@6':
      return b[8]! | (b[7]! << 8) | (b[6]! << 16);
    case 'be32@5':
      return be32(b, 5);
    case 'get-performance':
      return devType === TYPE_ROM ? getPerformanceLength(b[9]! | (b[8]! << 8), b[10]!, b[1]! & 0x1f) : cdbX;
    case 'rom-be16@8':
      return devType === TYPE_ROM ? b[9]! | (b[8]! << 8) : cdbX;
    case 'ata-12': {
      if (devType === TYPE_ROM) return 0; // MMC BLANK
      const l = b[2]! & 3;
      return (l === 1 ? b[3]! : l === 2 ? b[4]! : 0) * ataUnit(b, bs);
    }
    case 'ata-16': {
      const ext = b[1]! & 1;
      const l = b[2]! & 3;
      const x = l === 1 ? b[4]! | (ext ? b[3]! << 8 : 0) : l === 2 ? b[6]! | (ext ? b[5]! << 8 : 0) : 0;
      return x * ataUnit(b, bs);
    }
  }
}

const be24 = (b: Uint8Array, i: number): number => (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;

/**
 * scsi_req_stream_xfer: the sequential-access commands whose transfer length differs from the
 * generic rule (a 24-bit count, in blocks of the current block length when FIXED is set; READ
 * POSITION by service action). null: the generic rule applies; 'bad': an unknown READ POSITION form.
 */
function streamXfer(b: Uint8Array, blocksize: number, cmd: ScsiCommand): number | null | 'bad' {
  const fixed = (b[1]! & 1) !== 0;
  switch (b[0]) {
    case OP.ERASE_12:
    case OP.ERASE_16:
      return 0;
    case OP.READ_6:
    case OP.READ_REVERSE:
    case OP.RECOVER_BUFFERED_DATA:
    case OP.WRITE_6:
      return be24(b, 2) * (fixed ? blocksize : 1);
    case OP.READ_16:
    case OP.READ_REVERSE_16:
    case OP.VERIFY_16:
    case OP.WRITE_16:
      return be24(b, 12) * (fixed ? blocksize : 1);
    case OP.REWIND:
    case OP.LOAD_UNLOAD:
      cmd.len = 6;
      return 0;
    case OP.SPACE_16:
      return be16(b, 12);
    case OP.READ_POSITION:
      switch (b[1]! & 0x1f) {
        case 0x00: // short form, block id
        case 0x01: // short form, vendor specific
          return 20;
        case 0x06: // long form
          return 32;
        case 0x08: // extended form
          return be16(b, 7);
        default:
          return 'bad';
      }
    case OP.FORMAT_UNIT:
      return be16(b, 3);
    default:
      return null;
  }
}

/**
 * scsi_req_parse_cdb: fills `cmd` from `cdb` (tapes first through scsi_req_stream_xfer). Returns false
 * when the group has no defined length, the CDB is shorter than it, or a tape's READ POSITION form
 * is unknown (QEMU then answers INVALID OPCODE).
 */
export function parseCdb(cdb: Uint8Array, devType: number, blocksize: number, cmd: ScsiCommand): boolean {
  cmd.lba = -1;
  if (cdb.length === 0) return false;
  const len = scsiCdbLength(cdb[0]!);
  if (len < 0 || len > cdb.length) return false;
  const b = cmd.buf;
  b.fill(0);
  b.set(cdb.subarray(0, len), 0);
  cmd.len = len;
  const info = TABLE.get(b[0]!);
  let xfer: number;
  if (devType === TYPE_TAPE) {
    const x = streamXfer(b, blocksize, cmd);
    if (x === 'bad') return false;
    xfer = x ?? xferOf(info?.xfer ?? 'cdb', b, devType, blocksize);
  } else xfer = xferOf(info?.xfer ?? 'cdb', b, devType, blocksize);
  cmd.xfer = xfer;
  if (!xfer) cmd.mode = 'none';
  else if (info?.dir === 'to-dev') cmd.mode = 'to-dev';
  else if (info?.dir === 'ata') cmd.mode = b[2]! & 0x8 ? 'from-dev' : 'to-dev';
  else cmd.mode = 'from-dev';
  cmd.lba = scsiCmdLba(b);
  return true;
}

/** QEMU's numeric SCSIXferMode, as traces print it (dir 0/1/2). */
export function xferModeNumber(mode: XferMode): number {
  return mode === 'none' ? 0 : mode === 'from-dev' ? 1 : 2;
}
