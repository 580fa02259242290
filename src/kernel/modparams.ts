// Models kernel/params.c (Linux 6.1) for the SCSI stack's modules: the /sys/module/<mod>/parameters
// tables as data — each parameter's name, sysfs mode, and how its value shows and stores — taken
// from the module_param declarations of scsi.c, scsi_scan.c, scsi_devinfo.c, hosts.c (scsi_mod),
// sg.c, sr.c, and checked against the captures (shared/golden, `/sys/module/*/parameters`).
//
// Only parameters with a non-zero mode appear in sysfs, and a module without one has no
// `parameters` directory at all: sd_mod, st (buffer_kbs, max_sg_segs, try_*_io … are all mode 0),
// virtio_scsi and cdrom (debug, autoclose, lockdoor … mode 0) — the captures read ENOENT there.
// Values that the kernel reads again later live in a context the caller owns (ModParamCtx).

import { Errno } from './errno.ts';
import type { ScsiModParams } from '../midlayer/scsi.ts';
import type { AttrSpec } from '../sysfs/kernfs.ts';

/** Module-scope variables behind sg's and sr's parameters (defaults as compiled in). */
export interface ModParamVars {
  /** sg allow_dio (SG_ALLOW_DIO_DEF). */
  sgAllowDio: number;
  /** sg def_reserved_size (SG_DEF_RESERVED_SIZE = 32 KiB). */
  sgDefReservedSize: number;
  /** sg scatter_elem_sz (SG_SCATTER_SZ = 32 KiB). */
  sgScatterElemSz: number;
  /** sr_mod xa_test. */
  srXaTest: number;
  /**
   * scsi_mod.scan as text: param_set_copystring keeps what was written, newline and all, and the
   * scan code only compares its first letters; `ScsiModParams.scan` holds the meaning.
   */
  scsiScanText: string;
}

/** What the parameter files read and write: scsi_mod's live parameters and the drivers' variables. */
export interface ModParamCtx {
  readonly scsiMod: ScsiModParams;
  readonly vars: ModParamVars;
}

export interface ModParam {
  readonly name: string;
  /** sysfs permission bits (module_param's perm argument). */
  readonly mode: number;
  /** The text param_get_* prints, without the newline the attribute adds. */
  readonly value: (ctx: ModParamCtx) => string;
  /** param_set_*: parses what was written; throws Errno (EINVAL, ERANGE, ENOSPC) as the kernel fails. */
  readonly store?: (ctx: ModParamCtx, text: string) => void;
}

/** The compiled-in defaults of sg's and sr's variables, with scsi_mod.scan as given. */
export function modParamVars(scsiMod: ScsiModParams): ModParamVars {
  return { sgAllowDio: 0, sgDefReservedSize: 32768, sgScatterElemSz: 32768, srXaTest: 0, scsiScanText: scsiMod.scan };
}

/**
 * kstrto{int,uint,ull,ll} with base 0: one trailing newline allowed, optional sign, 0x hex or
 * leading-0 octal; EINVAL when it does not parse, ERANGE when it does not fit.
 */
function kstrto(text: string, min: bigint, max: bigint): bigint {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(t);
  if (!m) throw new Errno('EINVAL');
  const digits = m[2]!;
  const mag = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  // kstrtoull takes no '-' at all; the signed variants negate.
  if (m[1] === '-' && min === 0n) throw new Errno('EINVAL');
  const v = m[1] === '-' ? -mag : mag;
  if (v < min || v > max) throw new Errno('ERANGE');
  return v;
}

const INT: readonly [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const UINT: readonly [bigint, bigint] = [0n, 2n ** 32n - 1n];
const ULLONG: readonly [bigint, bigint] = [0n, 2n ** 64n - 1n];

/** A numeric parameter of a given C type, read and written through get/set on the context. */
function num(
  name: string,
  type: readonly [bigint, bigint],
  get: (ctx: ModParamCtx) => number,
  set: (ctx: ModParamCtx, v: number) => void,
): ModParam {
  return {
    name,
    mode: 0o644,
    value: (ctx) => String(get(ctx)),
    store: (ctx, text) => set(ctx, Number(kstrto(text, type[0], type[1]))),
  };
}

/** scsi_mod.scan: module_param_string, 20 bytes with the terminating NUL (scsi_scan_type[20]). */
const SCSI_SCAN_TYPE_SIZE = 20;

function scanMeaning(text: string): ScsiModParams['scan'] {
  if (text.startsWith('none')) return 'none';
  if (text.startsWith('manual')) return 'manual';
  if (text.startsWith('sync')) return 'sync';
  return 'async';
}

/** Every SCSI-stack module's visible parameters, in the order sysfs lists them (by name). */
export const MODULE_PARAMS: Readonly<Record<string, readonly ModParam[]>> = {
  scsi_mod: [
    // scsi_devinfo.c: ullong, S_IRUGO|S_IWUSR
    num('default_dev_flags', ULLONG, (c) => c.scsiMod.defaultDevFlags, (c, v) => (c.scsiMod.defaultDevFlags = v)),
    // hosts.c: int shost_eh_deadline (-1 = off)
    num('eh_deadline', INT, (c) => c.scsiMod.ehDeadline, (c, v) => (c.scsiMod.ehDeadline = v)),
    // scsi_scan.c: uint scsi_inq_timeout (seconds)
    num('inq_timeout', UINT, (c) => c.scsiMod.inqTimeout, (c, v) => (c.scsiMod.inqTimeout = v)),
    // scsi_scan.c: ullong max_scsi_luns
    num('max_luns', ULLONG, (c) => c.scsiMod.maxLuns, (c, v) => (c.scsiMod.maxLuns = v)),
    {
      name: 'scan',
      mode: 0o644,
      value: (c) => c.vars.scsiScanText,
      store: (c, text) => {
        if (text.length + 1 > SCSI_SCAN_TYPE_SIZE) throw new Errno('ENOSPC');
        c.vars.scsiScanText = text;
        c.scsiMod.scan = scanMeaning(text);
      },
    },
    // scsi.c: module_param(scsi_logging_level, int, …) over an unsigned variable (CONFIG_SCSI_LOGGING)
    num('scsi_logging_level', INT, (c) => c.scsiMod.scsiLoggingLevel, (c, v) => (c.scsiMod.scsiLoggingLevel = v)),
  ],
  sd_mod: [],
  sr_mod: [num('xa_test', INT, (c) => c.vars.srXaTest, (c, v) => (c.vars.srXaTest = v))],
  sg: [
    num('allow_dio', INT, (c) => c.vars.sgAllowDio, (c, v) => (c.vars.sgAllowDio = v)),
    num('def_reserved_size', INT, (c) => c.vars.sgDefReservedSize, (c, v) => (c.vars.sgDefReservedSize = v)),
    num('scatter_elem_sz', INT, (c) => c.vars.sgScatterElemSz, (c, v) => (c.vars.sgScatterElemSz = v)),
  ],
  st: [],
  virtio_scsi: [],
  cdrom: [],
};

/**
 * The files of /sys/module/<name>/parameters, ready for createFiles; an empty list means the
 * module has no `parameters` directory (don't create one). Unknown modules have none either.
 */
export function moduleParamFiles(name: string, ctx: ModParamCtx): AttrSpec[] {
  const params = MODULE_PARAMS[name] ?? [];
  return params
    .filter((p) => p.mode !== 0)
    .map((p) => {
      const store = p.store;
      return {
        name: p.name,
        mode: p.mode,
        show: () => `${p.value(ctx)}\n`,
        ...(store && p.mode & 0o222 ? { store: (text: string) => store(ctx, text) } : {}),
      };
    });
}
