// Models include/uapi/linux/bsg.h (Linux 6.1): struct sg_io_v4 — the SG_IO header a /dev/bsg node
// takes — as a typed object, shared by the bsg driver and the userland that calls it through
// Syscalls.ioctl; plus the few scsi/sg.h and scsi/scsi_ioctl.h requests bsg answers besides SG_IO.

/** sg_io_v4.guard: 'Q' tells a v4 header from a v3 one (whose interface_id is 'S'). */
export const BSG_GUARD = 0x51;

/** sg_io_v4.protocol */
export const BSG_PROTOCOL_SCSI = 0;

/** sg_io_v4.subprotocol (for BSG_PROTOCOL_SCSI). */
export const BSG_SUB_PROTOCOL_SCSI_CMD = 0;
export const BSG_SUB_PROTOCOL_SCSI_TMF = 1;
export const BSG_SUB_PROTOCOL_SCSI_TRANSPORT = 2;

/** sg_io_v4.flags bits. */
export const BSG_FLAG_Q_AT_TAIL = 0x10;
export const BSG_FLAG_Q_AT_HEAD = 0x20;

/** bsg's own ioctls, numbered in scsi/sg.h. */
export const SG_GET_COMMAND_Q = 0x2270;
export const SG_SET_COMMAND_Q = 0x2271;

/** scsi/scsi_ioctl.h requests bsg answers (the first two with 0, the last with EINVAL). */
export const SCSI_IOCTL_SEND_COMMAND = 1;
export const SCSI_IOCTL_GET_IDLUN = 0x5382;
export const SCSI_IOCTL_GET_BUS_NUMBER = 0x5386;

/** What SG_GET_VERSION_NUM returns on a bsg node (block/bsg.c; sg's own node says 30536). */
export const BSG_SG_VERSION_NUM = 30527;

/**
 * The input half of struct sg_io_v4. Pointers with a length (request/request_len,
 * dout_xferp/dout_xfer_len) become byte arrays; `response`/`max_response_len` become the one
 * number the caller's sense buffer can hold (0 = no buffer, as a NULL `response` is). Only flat
 * buffers are modelled: 6.1's SG_IO path maps dout_xferp/din_xferp as plain buffers whatever the
 * iovec counts say, so they are left out.
 */
export interface SgIoV4In {
  /** Must be 'Q' (0x51); anything else — a v3 header, say — fails with EINVAL. */
  readonly guard: number;
  readonly protocol: number;
  readonly subprotocol: number;
  /** The CDB; request_len is its length (at most 32 bytes, the scsi_cmnd CDB buffer). */
  readonly request: Uint8Array;
  /** Bytes of sense the caller accepts (max_response_len; 0 = response is NULL). */
  readonly maxResponseLen: number;
  /** Data-out: bytes to the device (dout_xfer_len = its length unless given). */
  readonly doutXferp?: Uint8Array;
  readonly doutXferLen: number;
  /** Data-in: bytes the caller's buffer holds. */
  readonly dinXferLen: number;
  /** Milliseconds; 0 = the node's SG_SET_TIMEOUT value, else 60 s; never below 7 s. */
  readonly timeout: number;
  readonly flags: number;
}

/** The output half of struct sg_io_v4 (fields scsi_bsg_sg_io_fn fills in). */
export interface SgIoV4Out {
  /** The data-in bytes the device returned (din_xfer_len - din_resid of them). */
  readonly dinXferp: Uint8Array;
  /** The sense bytes copied to `response` (response_len of them). */
  readonly response: Uint8Array;
  /** 0x08 (DRIVER_SENSE) when the status is CHECK CONDITION, else 0. */
  readonly driverStatus: number;
  /** The DID_* host byte. */
  readonly transportStatus: number;
  /** The SAM status byte. */
  readonly deviceStatus: number;
  /** SG_INFO_CHECK (1) when any of the three statuses is non-zero. */
  readonly info: number;
  readonly responseLen: number;
  readonly dinResid: number;
  readonly doutResid: number;
}

/** Builds an sg_io_v4 for one SCSI command with flat buffers (what sg3_utils' v4 path sends). */
export function sgIoV4(
  cdb: Uint8Array,
  opts: { dinXferLen?: number; dout?: Uint8Array; maxResponseLen?: number; timeoutMs?: number } = {},
): SgIoV4In {
  return {
    guard: BSG_GUARD,
    protocol: BSG_PROTOCOL_SCSI,
    subprotocol: BSG_SUB_PROTOCOL_SCSI_CMD,
    request: cdb,
    maxResponseLen: opts.maxResponseLen ?? 32,
    ...(opts.dout !== undefined ? { doutXferp: opts.dout } : {}),
    doutXferLen: opts.dout?.length ?? 0,
    dinXferLen: opts.dinXferLen ?? 0,
    timeout: opts.timeoutMs ?? 0,
    flags: 0,
  };
}
