// Models include/scsi/sg.h (Linux 6.1): the SCSI generic (sg) ioctl ABI as a typed object, shared by the
// sg driver (which implements SG_IO) and the userland tools (which call it through Syscalls.ioctl).

/** ioctl request numbers (0x22xx, sg.h). */
export const SG_SET_TIMEOUT = 0x2201;
export const SG_GET_TIMEOUT = 0x2202;
export const SG_EMULATED_HOST = 0x2203;
export const SG_GET_RESERVED_SIZE = 0x2272;
export const SG_SET_RESERVED_SIZE = 0x2275;
export const SG_GET_SCSI_ID = 0x2276;
export const SG_GET_SG_TABLESIZE = 0x227f;
export const SG_GET_VERSION_NUM = 0x2282;
export const SG_SCSI_RESET = 0x2284;
export const SG_IO = 0x2285;

/** sg_io_hdr.dxfer_direction. */
export const SG_DXFER_NONE = -1;
export const SG_DXFER_TO_DEV = -2;
export const SG_DXFER_FROM_DEV = -3;
export const SG_DXFER_TO_FROM_DEV = -4;
export const SG_DXFER_UNKNOWN = -5;
export type SgDxferDirection = -1 | -2 | -3 | -4 | -5;

/** sg_io_hdr.flags bits. */
export const SG_FLAG_DIRECT_IO = 0x1;
export const SG_FLAG_UNUSED_LUN_INHIBIT = 0x2;
export const SG_FLAG_MMAP_IO = 0x4;
export const SG_FLAG_Q_AT_TAIL = 0x10;
export const SG_FLAG_Q_AT_HEAD = 0x20;
export const SG_FLAG_NO_DXFER = 0x10000;

/** sg_io_hdr.info bits. */
export const SG_INFO_OK_MASK = 0x1;
export const SG_INFO_OK = 0x0;
export const SG_INFO_CHECK = 0x1;
export const SG_INFO_DIRECT_IO_MASK = 0x6;
export const SG_INFO_INDIRECT_IO = 0x0;
export const SG_INFO_DIRECT_IO = 0x2;
export const SG_INFO_MIXED_IO = 0x4;

/** SG_SCSI_RESET argument values. */
export const SG_SCSI_RESET_NOTHING = 0;
export const SG_SCSI_RESET_DEVICE = 1;
export const SG_SCSI_RESET_BUS = 2;
export const SG_SCSI_RESET_HOST = 3;
export const SG_SCSI_RESET_TARGET = 4;
export const SG_SCSI_RESET_NO_ESCALATE = 0x100;

/** sg driver version reported by SG_GET_VERSION_NUM (3.5.36). */
export const SG_VERSION_NUM = 30536;
/** Default SG_IO timeout when the caller passes 0 (sg_io_hdr.timeout is in ms). */
export const SG_DEFAULT_TIMEOUT_MS = 60_000;
/** Largest sense buffer the midlayer keeps (SCSI_SENSE_BUFFERSIZE). */
export const SCSI_SENSE_BUFFERSIZE = 96;

/** What the caller fills in: the input half of struct sg_io_hdr (interface_id 'S'). */
export interface SgIoHdrIn {
  /** 'S' (0x53) for the v3 interface; anything else fails with ENOSYS. */
  readonly interfaceId: number;
  readonly dxferDirection: SgDxferDirection;
  /** The CDB; its length is cmd_len (6..252, else EMSGSIZE — reported as EINVAL here). */
  readonly cmdp: Uint8Array;
  /** Largest sense length the caller accepts (mx_sb_len). */
  readonly mxSbLen: number;
  /** Bytes to transfer (dxfer_len). */
  readonly dxferLen: number;
  /** Data-out buffer for TO_DEV (dxferp); ignored otherwise. */
  readonly dxferp?: Uint8Array;
  /** Milliseconds; 0 means the sg default. */
  readonly timeout: number;
  readonly flags: number;
  readonly packId: number;
}

/** What the kernel fills in: the output half of struct sg_io_hdr. */
export interface SgIoHdrOut {
  /** Data-in for FROM_DEV: exactly dxfer_len - resid bytes that the device returned. */
  readonly dxferp: Uint8Array;
  /** The sense bytes written (sb_len_wr of them). */
  readonly sbp: Uint8Array;
  /** SAM status byte. */
  readonly status: number;
  /** (status >> 1) & 0x7f. */
  readonly maskedStatus: number;
  readonly msgStatus: number;
  readonly sbLenWr: number;
  /** DID_* host byte. */
  readonly hostStatus: number;
  /** DRIVER_* byte (DRIVER_SENSE 0x08 when sense was returned). */
  readonly driverStatus: number;
  readonly resid: number;
  /** Milliseconds (virtual). */
  readonly duration: number;
  readonly info: number;
}

/** SG_GET_SCSI_ID result (struct sg_scsi_id). */
export interface SgScsiId {
  readonly hostNo: number;
  readonly channel: number;
  readonly scsiId: number;
  readonly lun: number;
  readonly scsiType: number;
  readonly hCmdPerLun: number;
  readonly dQueueDepth: number;
}

/** Builds sg_io_hdr input with the defaults sg3_utils uses. */
export function sgIoHdr(
  cdb: Uint8Array,
  dir: SgDxferDirection,
  dxferLen: number,
  timeoutMs: number,
  dataOut?: Uint8Array,
): SgIoHdrIn {
  return {
    interfaceId: 0x53,
    dxferDirection: dir,
    cmdp: cdb,
    mxSbLen: 64,
    dxferLen,
    ...(dataOut !== undefined ? { dxferp: dataOut } : {}),
    timeout: timeoutMs,
    flags: 0,
    packId: 0,
  };
}
