// Models drivers/scsi/scsi_devinfo.c + include/scsi/scsi_devinfo.h (Linux 6.1): the BLIST flags as
// data — bit number and the name sysfs `blacklist` prints — and the device-info lookup.

/** Flag names by bit (scsi_devinfo_tbl: the names are the BLIST_ suffixes); unused bits omitted. */
export const BLIST_BITS = {
  NOLUN: 0,
  FORCELUN: 1,
  BORKEN: 2,
  KEY: 3,
  SINGLELUN: 4,
  NOTQ: 5,
  SPARSELUN: 6,
  MAX5LUN: 7,
  ISROM: 8,
  LARGELUN: 9,
  INQUIRY_36: 10,
  IGN_MEDIA_CHANGE: 11,
  NOSTARTONADD: 12,
  NO_VPD_SIZE: 13,
  REPORTLUN2: 17,
  NOREPORTLUN: 18,
  NOT_LOCKABLE: 19,
  NO_ULD_ATTACH: 20,
  SELECT_NO_ATN: 21,
  RETRY_HWERROR: 22,
  MAX_512: 23,
  NO_DIF: 25,
  SKIP_VPD_PAGES: 26,
  TRY_VPD_PAGES: 28,
  NO_RSOC: 29,
  MAX_1024: 30,
  UNMAP_LIMIT_WS: 31,
  RETRY_ITF: 32,
  RETRY_ASC_C1: 33,
} as const;

export type BlistName = keyof typeof BLIST_BITS;

export const blist = (name: BlistName): bigint => 1n << BigInt(BLIST_BITS[name]);

export function hasBlist(flags: bigint, name: BlistName): boolean {
  return (flags & blist(name)) !== 0n;
}

/** sysfs `blacklist`: the names of the set flags in bit order, separated by spaces. */
export function blistNames(flags: bigint): string {
  return (Object.entries(BLIST_BITS) as Array<[BlistName, number]>)
    .filter(([, bit]) => (flags >> BigInt(bit)) & 1n)
    .map(([n]) => n)
    .join(' ');
}

interface DevinfoEntry {
  readonly vendor: string;
  readonly model: string;
  readonly flags: bigint;
}

/**
 * The built-in table (scsi_static_device_list) has no entry for QEMU's devices; entries for the
 * emulated vendors we model would go here. Matching: vendor compared on its full width, model as a
 * prefix, as scsi_dev_info_list_find does for non-compatible entries.
 */
const STATIC_DEVICE_LIST: readonly DevinfoEntry[] = [];

/** scsi_get_device_flags: the table entry, else the LLD-provided flags, else default_dev_flags. */
export function getDeviceFlags(vendor: string, model: string, lldFlags: bigint, defaultFlags: bigint): bigint {
  const e = STATIC_DEVICE_LIST.find((x) => vendor.trimEnd() === x.vendor && model.startsWith(x.model));
  if (e) return e.flags;
  return lldFlags !== 0n ? lldFlags : defaultFlags;
}
