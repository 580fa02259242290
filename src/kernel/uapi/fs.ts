// Models include/uapi/linux/fs.h and include/uapi/linux/hdreg.h (Linux 6.1): the block-device ioctl
// numbers (x86_64 encoding) shared by the block layer (which answers them) and the userland tools
// (blockdev, fdisk) that call them through Syscalls.ioctl.
//
// Convention of this project's ioctl: a GET request resolves to its value as a number (a bigint is
// tolerated from BLKGETSIZE64); a SET or action request takes its value as `arg` and resolves to 0.

export const BLKROSET = 0x125d;
export const BLKROGET = 0x125e;
export const BLKRRPART = 0x125f;
export const BLKGETSIZE = 0x1260;
export const BLKFLSBUF = 0x1261;
export const BLKRASET = 0x1262;
export const BLKRAGET = 0x1263;
export const BLKFRASET = 0x1264;
export const BLKFRAGET = 0x1265;
export const BLKSECTSET = 0x1266;
export const BLKSECTGET = 0x1267;
export const BLKSSZGET = 0x1268;
/** _IOR(0x12, 112, size_t) */
export const BLKBSZGET = 0x80081270;
/** _IOW(0x12, 113, size_t) */
export const BLKBSZSET = 0x40081271;
/** _IOR(0x12, 114, size_t) */
export const BLKGETSIZE64 = 0x80081272;
export const BLKIOMIN = 0x1278;
export const BLKIOOPT = 0x1279;
export const BLKALIGNOFF = 0x127a;
export const BLKPBSZGET = 0x127b;
export const BLKDISCARDZEROES = 0x127c;
export const BLKROTATIONAL = 0x127e;
/** _IOR(0x12, 128, __u64) */
export const BLKGETDISKSEQ = 0x80081280;

/** HDIO_GETGEO (hdreg.h): the BIOS-style geometry a disk driver reports (sd: scsicam_bios_param). */
export const HDIO_GETGEO = 0x0301;

/** struct hd_geometry, as HDIO_GETGEO resolves it. */
export interface HdGeometry {
  readonly heads: number;
  readonly sectors: number;
  readonly cylinders: number;
  /** First sector of the partition (0 for a whole disk). */
  readonly start: number;
}

/** A GET ioctl's value as a number (BLKGETSIZE64 may come back as a bigint). */
export function ioctlValue(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return 0;
}
