// Models include/uapi/linux/mtio.h (Linux 6.1): the magnetic-tape ioctl ABI — request numbers, the
// MTIOCTOP operations, the MTIOCGET status structure and its GMT_* bits, the MT_ST_* fields of mt_dsreg
// and of the MTSETDRVBUFFER options word — as typed objects shared by the st driver
// (src/highlevel/st.ts) and the userland tools (mt, tar, dd through read/write).
//
// Convention (as src/kernel/uapi/cdrom.ts): MTIOCTOP takes an `MtOp` as `arg` and resolves to 0;
// MTIOCGET and MTIOCPOS take no argument and resolve to the filled-in structure.

/** _IOW('m', 1, struct mtop): struct mtop is 8 bytes on x86_64 (short + padding + int). */
export const MTIOCTOP = 0x40086d01;
/** _IOR('m', 2, struct mtget): five longs and two ints, 48 bytes on x86_64. */
export const MTIOCGET = 0x80306d02;
/** _IOR('m', 3, struct mtpos): one long. */
export const MTIOCPOS = 0x80086d03;

/** struct mtop.mt_op values. */
export const MTRESET = 0;
export const MTFSF = 1;
export const MTBSF = 2;
export const MTFSR = 3;
export const MTBSR = 4;
export const MTWEOF = 5;
export const MTREW = 6;
export const MTOFFL = 7;
export const MTNOP = 8;
export const MTRETEN = 9;
export const MTBSFM = 10;
export const MTFSFM = 11;
export const MTEOM = 12;
export const MTERASE = 13;
export const MTRAS1 = 14;
export const MTRAS2 = 15;
export const MTRAS3 = 16;
export const MTSETBLK = 20;
export const MTSETDENSITY = 21;
export const MTSEEK = 22;
export const MTTELL = 23;
export const MTSETDRVBUFFER = 24;
export const MTFSS = 25;
export const MTBSS = 26;
export const MTWSM = 27;
export const MTLOCK = 28;
export const MTUNLOCK = 29;
export const MTLOAD = 30;
export const MTUNLOAD = 31;
export const MTCOMPRESSION = 32;
export const MTSETPART = 33;
export const MTMKPART = 34;
export const MTWEOFI = 35;

/** struct mtop: the operation and its count. */
export interface MtOp {
  readonly mtOp: number;
  readonly mtCount: number;
}

/** struct mtget, as MTIOCGET fills it in. */
export interface MtGet {
  /** MT_ISSCSI1 / MT_ISSCSI2 for st. */
  readonly mtType: number;
  /** st: the current partition. */
  readonly mtResid: number;
  /** Block size (MT_ST_BLKSIZE_*) and density (MT_ST_DENSITY_*). */
  readonly mtDsreg: number;
  /** GMT_* bits. */
  readonly mtGstat: number;
  /** Soft error count (MT_ST_SOFTERR_*). */
  readonly mtErreg: number;
  /** File number, -1 when unknown. */
  readonly mtFileno: number;
  /** Block number within the file, -1 when unknown. */
  readonly mtBlkno: number;
}

/** struct mtpos. */
export interface MtPos {
  readonly mtBlkno: number;
}

/** mt_type values of SCSI tapes. */
export const MT_ISSCSI1 = 0x71;
export const MT_ISSCSI2 = 0x72;
export const MT_ISONSTREAM_SC = 0x61;

/** mt_gstat bits (the GMT_*(x) macros test these). */
export const GMT_EOF = 0x80000000;
export const GMT_BOT = 0x40000000;
export const GMT_EOT = 0x20000000;
export const GMT_SM = 0x10000000;
export const GMT_EOD = 0x08000000;
export const GMT_WR_PROT = 0x04000000;
export const GMT_ONLINE = 0x01000000;
export const GMT_D_6250 = 0x00800000;
export const GMT_D_1600 = 0x00400000;
export const GMT_D_800 = 0x00200000;
export const GMT_DR_OPEN = 0x00040000;
export const GMT_IM_REP_EN = 0x00010000;
export const GMT_CLN = 0x00008000;

/** mt_dsreg and mt_erreg fields (SCSI tapes). */
export const MT_ST_BLKSIZE_SHIFT = 0;
export const MT_ST_BLKSIZE_MASK = 0xffffff;
export const MT_ST_DENSITY_SHIFT = 24;
export const MT_ST_DENSITY_MASK = 0xff000000;
export const MT_ST_SOFTERR_SHIFT = 0;
export const MT_ST_SOFTERR_MASK = 0xffff;

/** MTSETDRVBUFFER: the top four bits of mt_count select what the rest means. */
export const MT_ST_OPTIONS = 0xf0000000;
export const MT_ST_BOOLEANS = 0x10000000;
export const MT_ST_SETBOOLEANS = 0x30000000;
export const MT_ST_CLEARBOOLEANS = 0x40000000;
export const MT_ST_WRITE_THRESHOLD = 0x20000000;
export const MT_ST_DEF_BLKSIZE = 0x50000000;
export const MT_ST_DEF_OPTIONS = 0x60000000;
export const MT_ST_DEF_DENSITY = MT_ST_DEF_OPTIONS | 0x100000;
export const MT_ST_DEF_COMPRESSION = MT_ST_DEF_OPTIONS | 0x200000;
export const MT_ST_DEF_DRVBUFFER = MT_ST_DEF_OPTIONS | 0x300000;
/** The value field of a DEF_* option that withdraws the default. */
export const MT_ST_CLEAR_DEFAULT = 0xfffff;
export const MT_ST_TIMEOUTS = 0x70000000;
export const MT_ST_SET_TIMEOUT = MT_ST_TIMEOUTS | 0x000000;
export const MT_ST_SET_LONG_TIMEOUT = MT_ST_TIMEOUTS | 0x100000;
export const MT_ST_SET_CLN = 0x80000000;

/** The option bits (MT_ST_BOOLEANS and the sysfs `options` attribute). */
export const MT_ST_BUFFER_WRITES = 0x1;
export const MT_ST_ASYNC_WRITES = 0x2;
export const MT_ST_READ_AHEAD = 0x4;
export const MT_ST_DEBUGGING = 0x8;
export const MT_ST_TWO_FM = 0x10;
export const MT_ST_FAST_MTEOM = 0x20;
export const MT_ST_AUTO_LOCK = 0x40;
export const MT_ST_DEF_WRITES = 0x80;
export const MT_ST_CAN_BSR = 0x100;
export const MT_ST_NO_BLKLIMS = 0x200;
export const MT_ST_CAN_PARTITIONS = 0x400;
export const MT_ST_SCSI2LOGICAL = 0x800;
export const MT_ST_SYSV = 0x1000;
export const MT_ST_NOWAIT = 0x2000;
export const MT_ST_SILI = 0x4000;
export const MT_ST_NOWAIT_EOF = 0x8000;
