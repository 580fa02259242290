// Models blockdev.c drive_new/blockdev_init (QEMU 7.2), with the few block.c / file-posix.c /
// raw-format.c checks that -drive reaches when it opens the image: validates -drive options into a
// typed DriveSpec, with QEMU's error texts and in QEMU's order of checks:
//   legacy renames (readonly) → cache= → legacy options (media, if, bus/unit) → auto id →
//   common options (aio, format, werror, rerror) → open (missing file, format probe, leftovers).
// Scope for now: if=none, raw images (given or probed), and blkdebug under them
// (`file=blkdebug:CONF:IMG`, or `driver=blkdebug,config=CONF,file=IMG` with `inject-error.N.key=`
// options; block/blkdebug.c's rules live in block/blkdebug.ts). qcow2 gives a clear "not supported
// yet" error; other interfaces (if=ide/scsi/virtio …) are refused likewise.

import type { QemuError, QemuOpts, QemuWarning } from './qemu-option.ts';
import { isHelpOption, parseBool, qemuError, validateOptValue } from './qemu-option.ts';
import type { BlkdebugError, BlkdebugRule, BlkdebugSpec } from './block/blkdebug.ts';
import { blkdebugRulesFromOptions, parseBlkdebugConfig, parseBlkdebugFilename } from './block/blkdebug.ts';

/** What the host filesystem says about a path (the simulator's view of stat + the first bytes). */
export interface HostFile {
  readonly kind: 'regular' | 'directory' | 'block-device' | 'char-device';
  readonly size: number;
  /** At least the first 512 bytes (fewer for a smaller file): enough for format probing. */
  readonly head: Uint8Array;
  /** The host device answers SG_IO (a real SCSI disk or /dev/sgN); false for files. */
  readonly sgio: boolean;
}

export interface FileProbe {
  /** undefined: the path does not exist (ENOENT). */
  probe(path: string): HostFile | undefined;
  /** The whole file as text (blkdebug config files); undefined when it cannot be read. */
  readText?(path: string): string | undefined;
}

export type ErrorAction = 'report' | 'ignore' | 'stop' | 'enospc';
export type ReadErrorAction = Exclude<ErrorAction, 'enospc'>;

export interface CacheFlags {
  readonly writeback: boolean;
  readonly direct: boolean;
  readonly noFlush: boolean;
}

export interface DriveSpec {
  /** BlockBackend name: the `id=` or the automatic `none0`, `none1` … */
  readonly id: string;
  readonly if: 'none';
  /** undefined: no medium (e.g. an empty CD drive). */
  readonly file: string | undefined;
  readonly format: 'raw';
  /** The format was guessed (no format=): QEMU restricts writes to block 0 then. */
  readonly formatProbed: boolean;
  readonly media: 'disk' | 'cdrom';
  /** readonly=on or media=cdrom. */
  readonly readOnly: boolean;
  readonly cache: CacheFlags;
  readonly rerror: ReadErrorAction;
  readonly werror: ErrorAction;
  readonly aio: 'threads' | 'native' | 'io_uring';
  readonly discard: 'ignore' | 'unmap';
  readonly detectZeroes: 'off' | 'on' | 'unmap';
  readonly snapshot: boolean;
  readonly copyOnRead: boolean;
  /** Image size in bytes (0 without medium). */
  readonly sizeBytes: number;
  readonly hostKind: HostFile['kind'] | undefined;
  readonly sgio: boolean;
  /**
   * A blkdebug node between the format and the image (`file` is then the image path): open the
   * image as usual, then `installBlkdebug(blk, drive.blkdebug)`. query-block shows `filename`.
   */
  readonly blkdebug?: BlkdebugSpec | undefined;
}

/** What drive_new needs to know about drives created before. */
export interface DriveRegistry {
  /** BlockBackend names in use. */
  readonly ids: ReadonlySet<string>;
  /** Units taken by if=none drives on bus 0 (drive_get), for automatic ids. */
  readonly noneUnits: ReadonlySet<number>;
}

export type DriveResult =
  | { readonly ok: true; readonly drive: DriveSpec; readonly unit: number; readonly warnings: readonly QemuWarning[];
      /** Lines printed as they are (QEMU's raw-probe WARNING is a plain fprintf). */
      readonly notices: readonly string[] }
  | { readonly ok: false; readonly error: QemuError;
      /** error_report lines printed before the error (blkdebug config `FILE:LINE: msg`), without program name. */
      readonly reports?: readonly string[] };

const IF_NAMES = ['none', 'ide', 'scsi', 'floppy', 'pflash', 'mtd', 'sd', 'virtio', 'xen'] as const;

/** Keys of qemu_legacy_drive_opts and qemu_common_drive_opts (the ones we read or accept). */
const LEGACY_KEYS: Record<string, 'string' | 'bool' | 'number'> = {
  bus: 'number', unit: 'number', index: 'number', media: 'string', if: 'string', file: 'string',
  'read-only': 'bool', rerror: 'string', werror: 'string', 'copy-on-read': 'bool',
};
const COMMON_KEYS: Record<string, 'string' | 'bool' | 'number'> = {
  snapshot: 'bool', aio: 'string', format: 'string', 'cache.writeback': 'bool', 'cache.direct': 'bool',
  'cache.no-flush': 'bool', 'auto-read-only': 'bool', discard: 'string', 'detect-zeroes': 'string',
  'stats-account-invalid': 'bool', 'stats-account-failed': 'bool', 'force-share': 'bool', driver: 'string',
};

/** Formats QEMU 7.2 knows but we do not emulate yet (bdrv_find_format succeeds in QEMU). */
const KNOWN_UNSUPPORTED_FORMATS = new Set([
  'qcow2', 'qcow', 'qed', 'vmdk', 'vdi', 'vpc', 'vhdx', 'vvfat', 'luks', 'bochs', 'cloop', 'dmg', 'parallels',
  'blkverify', 'quorum', 'throttle', 'copy-on-read', 'compress', 'null-co', 'null-aio', 'nbd',
  'iscsi', 'nfs', 'ssh', 'http', 'https', 'host_device', 'host_cdrom', 'file', 'preallocate', 'snapshot-access',
]);

const QCOW_MAGIC = [0x51, 0x46, 0x49, 0xfb]; // "QFI\xfb"

function notSupportedYet(what: string): QemuError {
  return qemuError(`${what} is not supported yet by this simulator`);
}

/** The text of a blkdebug config file, or undefined when it cannot be opened. */
function readConfigText(fs: FileProbe, path: string): string | undefined {
  if (fs.readText) return fs.readText(path);
  const f = fs.probe(path);
  if (!f || f.kind !== 'regular' || f.size > f.head.length) return undefined;
  return new TextDecoder().decode(f.head.subarray(0, f.size));
}

/** blkdebug_open's rule reading: config file (if any), then the runtime `inject-error.*` options. */
function blkdebugRules(
  fs: FileProbe, config: string | undefined, kv: ReadonlyMap<string, string>,
): { rules: BlkdebugRule[]; consumed: string[] } | BlkdebugError {
  let rules: BlkdebugRule[] = [];
  if (config !== undefined) {
    const text = readConfigText(fs, config);
    if (text === undefined) {
      const host = fs.probe(config);
      const why = host === undefined ? 'No such file or directory' : host.kind === 'directory' ? 'Is a directory' : 'Permission denied';
      return { error: `Could not read blkdebug config file: ${why}`, reports: [] };
    }
    const r = parseBlkdebugConfig(text, config);
    if ('error' in r) return r;
    rules = r;
  }
  const extra = blkdebugRulesFromOptions(kv);
  if ('error' in extra) return extra;
  return { rules: [...rules, ...extra.rules], consumed: extra.consumed };
}

function blkdebugFailure(e: BlkdebugError): DriveResult {
  return { ok: false, error: qemuError(e.error), reports: e.reports };
}

/** bdrv_parse_cache_mode */
function parseCacheMode(mode: string): CacheFlags | undefined {
  switch (mode) {
    case 'off':
    case 'none':
      return { writeback: true, direct: true, noFlush: false };
    case 'directsync':
      return { writeback: false, direct: true, noFlush: false };
    case 'writeback':
      return { writeback: true, direct: false, noFlush: false };
    case 'unsafe':
      return { writeback: true, direct: false, noFlush: true };
    case 'writethrough':
      return { writeback: false, direct: false, noFlush: false };
    default:
      return undefined;
  }
}

/** parse_block_error_action */
function parseErrorAction(buf: string, isRead: boolean): ErrorAction | QemuError {
  if (buf === 'ignore' || buf === 'stop' || buf === 'report') return buf;
  if (!isRead && buf === 'enospc') return 'enospc';
  return qemuError(`'${buf}' invalid ${isRead ? 'read' : 'write'} error action`);
}

function hasQcowMagic(head: Uint8Array): boolean {
  return QCOW_MAGIC.every((b, i) => head[i] === b);
}

/** `path` has a `proto:` prefix the way path_has_protocol sees it (a ':' before any '/' or '\'). */
function protocolOf(path: string): string | undefined {
  const m = /^([^:/\\]*):/.exec(path);
  return m ? m[1] : undefined;
}

/**
 * drive_new(all_opts, IF_NONE default): validates one -drive (or HMP drive_add / RHEL's
 * __com.redhat_drive_add) against the drives already created and the host files.
 */
export function driveNew(all: QemuOpts, reg: DriveRegistry, fs: FileProbe): DriveResult {
  // Last value of each key wins (qemu_opts_to_qdict).
  const kv = new Map<string, string>();
  for (const o of all.opts) kv.set(o.name, o.value);

  // Legacy renames; only `readonly` → `read-only` matters here (the throttling ones are accepted as is).
  if (kv.has('readonly')) {
    if (kv.has('read-only')) {
      return { ok: false, error: qemuError("'read-only' and its alias 'readonly' can't be used at the same time") };
    }
    kv.set('read-only', kv.get('readonly')!);
    kv.delete('readonly');
  }

  let cache: CacheFlags = { writeback: true, direct: false, noFlush: false };
  const cacheMode = kv.get('cache');
  if (cacheMode !== undefined) {
    const c = parseCacheMode(cacheMode);
    if (!c) return { ok: false, error: qemuError('invalid cache option') };
    cache = c;
    kv.delete('cache');
  }

  // qemu_opts_absorb_qdict(legacy_opts): typed validation of the legacy keys.
  for (const [k, t] of Object.entries(LEGACY_KEYS)) {
    const v = kv.get(k);
    if (v === undefined) continue;
    const err = validateOptValue({ name: k, type: t }, v);
    if (err) return { ok: false, error: err };
  }

  let media: 'disk' | 'cdrom' = 'disk';
  let readOnly = false;
  const mediaStr = kv.get('media');
  if (mediaStr !== undefined) {
    if (mediaStr === 'disk') media = 'disk';
    else if (mediaStr === 'cdrom') {
      media = 'cdrom';
      readOnly = true;
    } else return { ok: false, error: qemuError(`'${mediaStr}' invalid media`) };
  }
  readOnly ||= parseBool(kv.get('read-only') ?? 'off') === true;
  let copyOnRead = parseBool(kv.get('copy-on-read') ?? 'off') === true;
  const notices: string[] = [];
  const warnings: QemuWarning[] = [];
  if (readOnly && copyOnRead) {
    warnings.push({ message: 'disabling copy-on-read on read-only drive', extra: [] });
    copyOnRead = false;
  }

  const ifStr = kv.get('if');
  if (ifStr !== undefined) {
    if (!(IF_NAMES as readonly string[]).includes(ifStr)) {
      return { ok: false, error: qemuError(`unsupported bus type '${ifStr}'`) };
    }
    if (ifStr !== 'none') return { ok: false, error: notSupportedYet(`if=${ifStr}`) };
  }

  // Address: for if=none only bus 0 and the unit matter (they only feed the automatic id).
  const busId = Number(kv.get('bus') ?? 0);
  let unit = kv.has('unit') ? Number(kv.get('unit')) : -1;
  const index = kv.has('index') ? Number(kv.get('index')) : -1;
  if (index !== -1) {
    if (busId !== 0 || unit !== -1) return { ok: false, error: qemuError('index cannot be used with bus and unit') };
    unit = index; // IF_NONE has no max_devs: index maps to unit on bus 0
  }
  if (unit === -1) {
    unit = 0;
    while (busId === 0 && reg.noneUnits.has(unit)) unit++;
  }
  if (busId === 0 && reg.noneUnits.has(unit)) {
    return { ok: false, error: qemuError(`drive with bus=${busId}, unit=${unit} (index=${index}) exists`) };
  }
  const id = all.id ?? `none${unit}`;

  // blockdev_init: common options.
  for (const [k, t] of Object.entries(COMMON_KEYS)) {
    const v = kv.get(k);
    if (v === undefined) continue;
    const err = validateOptValue({ name: k, type: t }, v);
    if (err) return { ok: false, error: err };
  }
  for (const k of ['cache.writeback', 'cache.direct', 'cache.no-flush'] as const) {
    const v = kv.get(k);
    if (v === undefined) continue;
    const b = parseBool(v)!;
    cache = {
      ...cache,
      ...(k === 'cache.writeback' ? { writeback: b } : k === 'cache.direct' ? { direct: b } : { noFlush: b }),
    };
  }
  const snapshot = parseBool(kv.get('snapshot') ?? 'off') === true;

  const aioStr = kv.get('aio') ?? 'threads';
  if (aioStr !== 'threads' && aioStr !== 'native' && aioStr !== 'io_uring') {
    return { ok: false, error: qemuError('invalid aio option') };
  }

  let driver = kv.get('driver');
  const format = kv.get('format');
  if (format !== undefined) {
    if (isHelpOption(format)) return { ok: false, error: notSupportedYet('format=help') };
    if (driver !== undefined) return { ok: false, error: qemuError("Cannot specify both 'driver' and 'format'") };
    driver = format;
  }

  let werror: ErrorAction = 'enospc';
  const werrorStr = kv.get('werror');
  if (werrorStr !== undefined) {
    const a = parseErrorAction(werrorStr, false);
    if (typeof a === 'object') return { ok: false, error: a };
    werror = a;
  }
  let rerror: ReadErrorAction = 'report';
  const rerrorStr = kv.get('rerror');
  if (rerrorStr !== undefined) {
    const a = parseErrorAction(rerrorStr, true);
    if (typeof a === 'object') return { ok: false, error: a };
    rerror = a as ReadErrorAction;
  }

  let detectZeroes: DriveSpec['detectZeroes'] = 'off';
  const dz = kv.get('detect-zeroes');
  if (dz !== undefined) {
    if (dz !== 'off' && dz !== 'on' && dz !== 'unmap') {
      return { ok: false, error: qemuError(`Parameter 'detect-zeroes' does not accept value '${dz}'`) };
    }
    detectZeroes = dz;
  }

  if (reg.ids.has(id)) return { ok: false, error: qemuError(`Device with id '${id}' already exists`) };

  // Everything not consumed so far goes to bdrv_open, which refuses what the driver does not know.
  const consumed = new Set([...Object.keys(LEGACY_KEYS), ...Object.keys(COMMON_KEYS), 'cache', 'readonly']);
  const leftovers = [...kv.keys()].filter((k) => !consumed.has(k) && !k.startsWith('throttling.') &&
    !['iops', 'iops_rd', 'iops_wr', 'bps', 'bps_rd', 'bps_wr', 'iops_max', 'iops_rd_max', 'iops_wr_max', 'bps_max',
      'bps_rd_max', 'bps_wr_max', 'iops_size', 'group'].includes(k));

  let file = kv.get('file');
  if (file === '') file = undefined;

  // No file and no other open options: an empty drive (no medium).
  if (file === undefined && driver === undefined && leftovers.length === 0) {
    return {
      ok: true, unit, warnings, notices,
      drive: {
        id, if: 'none', file: undefined, format: 'raw', formatProbed: false, media, readOnly, cache, rerror, werror,
        aio: aioStr, discard: 'ignore', detectZeroes, snapshot, copyOnRead, sizeBytes: 0, hostKind: undefined,
        sgio: false,
      },
    };
  }

  let blkdebug: BlkdebugSpec | undefined;
  let leftoverKeys = leftovers;
  if (driver === 'blkdebug') {
    // blkdebug as the root node: `file=` (or image.filename / x-image) is its image, `config=` its rules.
    const imageName = kv.get('image.filename') ?? kv.get('x-image') ?? file;
    const parsed = imageName === undefined ? undefined : parseBlkdebugFilename(imageName);
    if (parsed && 'error' in parsed) return blkdebugFailure(parsed);
    const cfg = kv.get('config') ?? parsed?.config;
    const r = blkdebugRules(fs, cfg, kv);
    if ('error' in r) return blkdebugFailure(r);
    if (imageName === undefined || parsed === undefined) {
      return { ok: false, error: qemuError('A block device must be specified for "image"') };
    }
    const known = new Set(['config', 'image.filename', 'x-image', 'align', ...r.consumed]);
    leftoverKeys = leftovers.filter((k) => !known.has(k));
    if (leftoverKeys.length > 0) {
      return { ok: false, error: qemuError(`Block protocol 'blkdebug' doesn't support the option '${leftoverKeys[0]}'`) };
    }
    blkdebug = { filename: imageName, configPath: cfg, image: parsed.image, rules: r.rules, formatAbove: false };
    file = parsed.image;
    driver = 'raw';
  } else if (driver !== undefined && driver !== 'raw') {
    if (KNOWN_UNSUPPORTED_FORMATS.has(driver)) return { ok: false, error: notSupportedYet(`The '${driver}' format`) };
    return { ok: false, error: qemuError(`Unknown driver '${driver}'`) };
  }
  if (file === undefined) return { ok: false, error: qemuError("The 'raw' block driver requires a file name") };
  const proto = blkdebug ? undefined : protocolOf(file);
  if (proto === 'blkdebug') {
    // file=blkdebug:[CONF]:IMG — the format node (raw) sits above blkdebug and fires its events.
    const parsed = parseBlkdebugFilename(file);
    if ('error' in parsed) return blkdebugFailure(parsed);
    const r = blkdebugRules(fs, parsed.config, new Map());
    if ('error' in r) return blkdebugFailure(r);
    blkdebug = { filename: file, configPath: parsed.config, image: parsed.image, rules: r.rules, formatAbove: true };
    file = parsed.image;
  } else if (proto !== undefined) {
    if (KNOWN_UNSUPPORTED_FORMATS.has(proto)) return { ok: false, error: notSupportedYet(`The '${proto}' protocol`) };
    return { ok: false, error: qemuError(`Unknown protocol '${proto}'`) };
  }

  const host = fs.probe(file);
  if (!host) return { ok: false, error: qemuError(`Could not open '${file}': No such file or directory`) };
  if (host.kind === 'directory') return { ok: false, error: qemuError(`Could not open '${file}': Is a directory`) };

  let discard: DriveSpec['discard'] = 'ignore';
  const discardStr = kv.get('discard');
  if (discardStr !== undefined) {
    if (discardStr === 'ignore' || discardStr === 'off') discard = 'ignore';
    else if (discardStr === 'unmap' || discardStr === 'on') discard = 'unmap';
    else return { ok: false, error: qemuError('Invalid discard option') };
  }
  if (aioStr === 'native' && !cache.direct) {
    return {
      ok: false,
      error: qemuError('aio=native was specified, but it requires cache.direct=on, which was not specified.'),
    };
  }

  const probed = driver === undefined;
  const shownName = blkdebug?.filename ?? file;
  if (probed) {
    if (hasQcowMagic(host.head)) return { ok: false, error: notSupportedYet("The 'qcow2' format") };
  }
  if (leftoverKeys.length > 0) {
    return { ok: false, error: qemuError(`Block format 'raw' does not support the option '${leftoverKeys[0]}'`) };
  }
  if (probed && !readOnly) {
    // raw_open's probing warning: a plain fprintf, continuation lines indented by 9 spaces.
    notices.push(
      `WARNING: Image format was not specified for '${shownName}' and probing guessed raw.`,
      '         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.',
      "         Specify the 'raw' format explicitly to remove the restrictions.",
    );
  }
  return {
    ok: true, unit, warnings, notices,
    drive: {
      id, if: 'none', file, format: 'raw', formatProbed: probed, media, readOnly, cache, rerror, werror, aio: aioStr,
      discard, detectZeroes, snapshot, copyOnRead, sizeBytes: host.size, hostKind: host.kind, sgio: host.sgio,
      ...(blkdebug ? { blkdebug } : {}),
    },
  };
}
