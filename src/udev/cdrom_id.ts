// Models src/udev/cdrom_id/cdrom_id.c (systemd v252): identify an optical drive and its medium.
//
// The algorithm: open the node (O_NONBLOCK, so an empty drive opens); take the drive's capabilities from the
// CD-ROM layer (CDROM_GET_CAPABILITY) and the presence of a medium (CDROM_DRIVE_STATUS); check through SG_IO
// that the unit talks MMC (INQUIRY, 36 bytes, PDT 5); read the feature list (GET CONFIGURATION: an 8-byte
// header for the current profile and the length, then the whole list; pre-MMC2 drives fall back to READ DISC
// INFORMATION); with a medium, count its tracks (READ TOC: header, all tracks, then the session format) and read
// its state (READ DISC INFORMATION, 32 bytes; rewritable DVDs are looked at more closely). Then lock or unlock
// the tray through the CD-ROM layer (CDROM_LOCKDOOR, which sends PREVENT ALLOW MEDIUM REMOVAL), or eject it
// (START STOP UNIT with LoEj), and print the ID_CDROM_* properties.

import { Errno, isErrno } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDONLY, type Syscalls } from '../kernel/syscalls.ts';
import { SG_DXFER_FROM_DEV, SG_DXFER_NONE, SG_INFO_OK, SG_INFO_OK_MASK, SG_IO, sgIoHdr, type SgIoHdrOut } from '../kernel/uapi/sg.ts';

// include/uapi/linux/cdrom.h: the CD-ROM layer's ioctls and values cdrom_id uses (re-exported for its callers).
import {
  CDC_CD_R, CDC_CD_RW, CDC_DVD, CDC_DVD_R, CDC_DVD_RAM, CDC_MRW, CDC_MRW_W, CDO_LOCK, CDROM_CLEAR_OPTIONS,
  CDROM_DRIVE_STATUS, CDROM_GET_CAPABILITY, CDROM_LOCKDOOR, CDS_DISC_OK, CDSL_CURRENT,
} from '../kernel/uapi/cdrom.ts';
export {
  CDC_CD_R, CDC_CD_RW, CDC_DVD, CDC_DVD_R, CDC_DVD_RAM, CDC_MRW, CDC_MRW_W, CDO_LOCK, CDROM_CLEAR_OPTIONS,
  CDROM_DRIVE_STATUS, CDROM_GET_CAPABILITY, CDROM_LOCKDOOR, CDS_DISC_OK, CDSL_CURRENT,
};
export { CDS_DRIVE_NOT_READY, CDS_NO_DISC, CDS_NO_INFO, CDS_TRAY_OPEN } from '../kernel/uapi/cdrom.ts';

/** MMC profile numbers (GET CONFIGURATION), plus cdrom_id's two pseudo-features for Mount Rainier. */
const F = {
  RW_NONREMOVABLE: 0x01, RW_REMOVABLE: 0x02, MO_SE: 0x03, MO_WO: 0x04, MO_AS: 0x05,
  CD_ROM: 0x08, CD_R: 0x09, CD_RW: 0x0a,
  DVD_ROM: 0x10, DVD_R: 0x11, DVD_RAM: 0x12, DVD_RW_RO: 0x13, DVD_RW_SEQ: 0x14, DVD_R_DL_SEQ: 0x15,
  DVD_R_DL_JR: 0x16, DVD_RW_DL: 0x17, DVD_R_DDR: 0x18, DVD_PLUS_RW: 0x1a, DVD_PLUS_R: 0x1b,
  DDCD_ROM: 0x20, DDCD_R: 0x21, DDCD_RW: 0x22, DVD_PLUS_RW_DL: 0x2a, DVD_PLUS_R_DL: 0x2b,
  BD: 0x40, BD_R_SRM: 0x41, BD_R_RRM: 0x42, BD_RE: 0x43,
  HDDVD: 0x50, HDDVD_R: 0x51, HDDVD_RAM: 0x52, HDDVD_RW: 0x53, HDDVD_R_DL: 0x58, HDDVD_RW_DL: 0x5a,
  MRW: 0x5b, MRW_W: 0x5c,
} as const;

/** The property suffix printed for each known feature (ID_CDROM_<name>, ID_CDROM_MEDIA_<name>). */
const FEATURE_NAME: ReadonlyMap<number, string> = new Map([
  [F.RW_NONREMOVABLE, 'RW_NONREMOVABLE'], [F.RW_REMOVABLE, 'RW_REMOVABLE'],
  [F.MO_SE, 'MO_SE'], [F.MO_WO, 'MO_WO'], [F.MO_AS, 'MO_AS'],
  [F.CD_ROM, 'CD'], [F.CD_R, 'CD_R'], [F.CD_RW, 'CD_RW'],
  [F.DVD_ROM, 'DVD'], [F.DVD_R, 'DVD_R'], [F.DVD_RAM, 'DVD_RAM'], [F.DVD_RW_RO, 'DVD_RW_RO'],
  [F.DVD_RW_SEQ, 'DVD_RW_SEQ'], [F.DVD_R_DL_SEQ, 'DVD_R_DL_SEQ'], [F.DVD_R_DL_JR, 'DVD_R_DL_JR'],
  [F.DVD_RW_DL, 'DVD_RW_DL'], [F.DVD_R_DDR, 'DVD_R_DDR'], [F.DVD_PLUS_RW, 'DVD_PLUS_RW'], [F.DVD_PLUS_R, 'DVD_PLUS_R'],
  [F.DDCD_ROM, 'DDCD'], [F.DDCD_R, 'DDCD_R'], [F.DDCD_RW, 'DDCD_RW'],
  [F.DVD_PLUS_RW_DL, 'DVD_PLUS_RW_DL'], [F.DVD_PLUS_R_DL, 'DVD_PLUS_R_DL'],
  [F.BD, 'BD'], [F.BD_R_SRM, 'BD_R_SRM'], [F.BD_R_RRM, 'BD_R_RRM'], [F.BD_RE, 'BD_RE'],
  [F.HDDVD, 'HDDVD'], [F.HDDVD_R, 'HDDVD_R'], [F.HDDVD_RAM, 'HDDVD_RAM'], [F.HDDVD_RW, 'HDDVD_RW'],
  [F.HDDVD_R_DL, 'HDDVD_R_DL'], [F.HDDVD_RW_DL, 'HDDVD_RW_DL'],
  [F.MRW, 'MRW'], [F.MRW_W, 'MRW_W'],
]);

/** Capability bits of the CD-ROM layer and the feature each one stands for, in cdrom_id's order. */
const CAPABILITY_FEATURES: readonly (readonly [number, number])[] = [
  [CDC_CD_R, F.CD_R], [CDC_CD_RW, F.CD_RW], [CDC_DVD, F.DVD_ROM], [CDC_DVD_R, F.DVD_R],
  [CDC_DVD_RAM, F.DVD_RAM], [CDC_MRW, F.MRW], [CDC_MRW_W, F.MRW_W],
];

const MEDIA_STATE = ['blank', 'appendable', 'complete', 'other'] as const;

/** GET CONFIGURATION's largest buffer (cdrom_id reads at most this much). */
const FEATURES_BUF = 65530;
/** The 10-byte TOC header buffer cdrom_id uses is 12 bytes long. */
const TOC_HEADER = 12;

export interface CdromIdOptions {
  readonly lockMedia?: boolean;
  readonly unlockMedia?: boolean;
  readonly ejectMedia?: boolean;
}

interface Ctx {
  readonly sys: Syscalls;
  readonly fd: number;
  features: number[];
  mediaFeature: number | null;
  hasMedia: boolean;
  mediaState: number | null;
  sessionNext: number;
  sessionCount: number;
  trackCount: number;
  trackCountData: number;
  trackCountAudio: number;
  sessionLastOffset: number;
}

/** scsi_cmd_run's result: 0, a negative errno (the ioctl failed), or KEY<<16|ASC<<8|ASCQ from the sense. */
type CmdResult = { readonly r: number; readonly data: Uint8Array };

const be16 = (b: Uint8Array, i: number): number => (b[i]! << 8) | b[i + 1]!;
const be32 = (b: Uint8Array, i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

/** One MMC command through SG_IO; the data-in lands in a zeroed buffer of `len` bytes (as on cdrom_id's stack). */
async function scsiCmd(ctx: Ctx, cdb: readonly number[], len: number): Promise<CmdResult> {
  const data = new Uint8Array(len);
  let out: SgIoHdrOut;
  try {
    out = (await ctx.sys.ioctl(ctx.fd, SG_IO,
      sgIoHdr(new Uint8Array(cdb), len > 0 ? SG_DXFER_FROM_DEV : SG_DXFER_NONE, len, 0))) as SgIoHdrOut;
  } catch (e) {
    if (isErrno(e)) return { r: -1, data };
    throw e;
  }
  data.set(out.dxferp.subarray(0, len));
  if ((out.info & SG_INFO_OK_MASK) !== SG_INFO_OK) {
    if (out.maskedStatus & 0x01) {
      const s = out.sbp;
      const code = ((s[2]! & 0x0f) << 16) | ((s[12] ?? 0) << 8) | (s[13] ?? 0);
      if (code !== 0) return { r: code, data };
    }
    return { r: -1, data };
  }
  return { r: 0, data };
}

async function ioctlNumber(ctx: Ctx, request: number, arg: number): Promise<number | null> {
  try {
    const r = await ctx.sys.ioctl(ctx.fd, request, arg);
    return typeof r === 'number' ? r : 0;
  } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
}

function addFeature(ctx: Ctx, f: number): void {
  if (!ctx.features.includes(f)) ctx.features.push(f);
}

/** cd_capability_compat; false when the CD-ROM layer does not answer (cdrom_id then fails). */
async function capabilityCompat(ctx: Ctx): Promise<boolean> {
  const cap = await ioctlNumber(ctx, CDROM_GET_CAPABILITY, 0);
  if (cap === null) return false;
  for (const [bit, f] of CAPABILITY_FEATURES) if (cap & bit) addFeature(ctx, f);
  return true;
}

async function mediaCompat(ctx: Ctx): Promise<void> {
  if ((await ioctlNumber(ctx, CDROM_DRIVE_STATUS, CDSL_CURRENT)) === CDS_DISC_OK) ctx.hasMedia = true;
}

/** cd_inquiry: the unit must be an MMC device (peripheral type 5). */
async function inquiry(ctx: Ctx): Promise<boolean> {
  const { r, data } = await scsiCmd(ctx, [0x12, 0, 0, 0, 36, 0], 36);
  return r === 0 && (data[0]! & 0x1f) === 5;
}

/** cd_profiles_old_mmc: a drive without GET CONFIGURATION; READ DISC INFORMATION tells whether a disc is in. */
async function profilesOldMmc(ctx: Ctx): Promise<number> {
  let res = await scsiCmd(ctx, [0x51, 0, 0, 0, 0, 0, 0, 0, 2, 0], 2);
  if (res.r === 0) {
    const len = Math.min(be16(res.data, 0) + 2, 34);
    res = await scsiCmd(ctx, [0x51, 0, 0, 0, 0, 0, 0, 0, len, 0], len);
  }
  if (res.r !== 0) {
    if (!ctx.hasMedia) return -1;
    ctx.mediaFeature = F.CD_ROM;
    ctx.trackCount = 1;
    ctx.trackCountData = 1;
    return 1;
  }
  ctx.hasMedia = true;
  const erasable = (res.data[2]! & 0x10) !== 0;
  const discStatus = res.data[2]! & 0x03;
  if (erasable) ctx.mediaFeature = F.CD_RW;
  else if (discStatus < 2 && ctx.features.includes(F.CD_R)) ctx.mediaFeature = F.CD_R;
  else ctx.mediaFeature = F.CD_ROM;
  return 0;
}

/** cd_profiles: > 0 when a medium is in (its profile is the current one), 0 without, < 0 on failure. */
async function profiles(ctx: Ctx): Promise<number> {
  const head = await scsiCmd(ctx, [0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0], 8);
  if (head.r !== 0) {
    const key = (head.r >> 16) & 0xf;
    const asc = (head.r >> 8) & 0xff;
    if (head.r > 0 && key === 0x5 && (asc === 0x20 || asc === 0x24)) return profilesOldMmc(ctx);
    return -1;
  }
  const current = be16(head.data, 6);
  if (current > 0) {
    ctx.mediaFeature = current;
    ctx.hasMedia = true;
  } else ctx.hasMedia = false;
  let len = be32(head.data, 0);
  if (len > FEATURES_BUF || len <= 8) len = FEATURES_BUF;
  const full = await scsiCmd(ctx, [0x46, 0, 0, 0, 0, 0, 0, (len >> 8) & 0xff, len & 0xff, 0], len);
  if (full.r !== 0) return -1;
  const f = full.data;
  len = Math.min(be32(f, 0), FEATURES_BUF);
  for (let i = 8; i + 4 < len; i += 4 + f[i + 3]!) {
    if (be16(f, i) !== 0x0000) continue;
    // Feature 0 (Profile List): 4-byte descriptors, profile number first.
    const size = Math.min(f[i + 3]!, len - i - 4);
    for (let k = 0; k + 4 <= size; k += 4) addFeature(ctx, be16(f, i + 4 + k));
  }
  return ctx.hasMedia ? 1 : 0;
}

/** dvd_ram_media_update_state: 1 when the state is settled here. */
async function dvdRamMediaUpdateState(ctx: Ctx): Promise<number> {
  if (ctx.mediaFeature !== F.DVD_RAM) return 0;
  const st = await scsiCmd(ctx, [0xad, 0, 0, 0, 0, 0, 0, 0xc0, 0, 8, 0, 0], 8);
  if (st.r !== 0) return -1;
  if (st.data[4]! & 0x02) {
    ctx.mediaState = 2;
    return 1;
  }
  const fmt = await scsiCmd(ctx, [0x23, 0, 0, 0, 0, 0, 0, 0, 12, 0], 12);
  if (fmt.r !== 0) return -1;
  const len = fmt.data[3]!;
  if (len & 7 || len < 16) return -1;
  switch (fmt.data[8]! & 3) {
    case 1: return 1;
    case 2: return 0;
    case 3:
      ctx.hasMedia = false;
      return -1;
    default: return 0;
  }
}

/** dvd_media_update_state: a formatted rewritable DVD with nothing in blocks 0 and 16 is blank. */
async function dvdMediaUpdateState(ctx: Ctx): Promise<number> {
  const r = await dvdRamMediaUpdateState(ctx);
  if (r !== 0) return r;
  const rd = await scsiCmd(ctx, [0x28, 0, 0, 0, 0, 0, 0, 0, 32, 0], 32 * 2048);
  if (rd.r !== 0) {
    ctx.hasMedia = false;
    return -1;
  }
  const nonZero = (from: number): boolean => rd.data.subarray(from, from + 2048).some((b) => b !== 0);
  if (nonZero(16 * 2048) || nonZero(0)) return 0;
  ctx.mediaState = 0;
  return 0;
}

/** cd_media_info: READ DISC INFORMATION for the state and the session/track counts. */
async function mediaInfo(ctx: Ctx): Promise<void> {
  const { r, data: h } = await scsiCmd(ctx, [0x51, 0, 0, 0, 0, 0, 0, 0, 32, 0], 32);
  if (r !== 0) return;
  ctx.hasMedia = true;
  const state = h[2]! & 0x03;
  // A plain CD-ROM's state is not reported (some emulated drives claim "blank").
  if (ctx.mediaFeature !== F.CD_ROM) ctx.mediaState = state;
  if (ctx.mediaFeature === F.DVD_RW_RO && state === 1) ctx.mediaState = 0;
  const rewritable = [F.DVD_RW_RO, F.DVD_PLUS_RW, F.DVD_PLUS_RW_DL, F.DVD_RAM] as number[];
  if (ctx.mediaFeature !== null && rewritable.includes(ctx.mediaFeature) && (state === 2 || state === 3)) {
    if ((await dvdMediaUpdateState(ctx)) < 0) return;
  }
  if (ctx.mediaFeature !== F.DVD_RW_RO && (state === 0 || state === 1)) ctx.sessionNext = (h[10]! << 8) | h[5]!;
  ctx.sessionCount = (h[9]! << 8) | h[4]!;
  ctx.trackCount = (h[11]! << 8) | h[6]!;
}

/** cd_media_toc: data/audio track counts and the start of the last session. */
async function mediaToc(ctx: Ctx): Promise<void> {
  const head = await scsiCmd(ctx, [0x43, 0, 0, 0, 0, 0, 1, 0, TOC_HEADER, 0], TOC_HEADER);
  if (head.r !== 0) return;
  const len = be16(head.data, 0) + 2;
  if (len > 65536 || len < 8) return;
  let tracks = head.data[3]! - head.data[2]! + 1;
  const toc = await scsiCmd(ctx, [0x43, 0, 0, 0, 0, 0, head.data[2]!, (len >> 8) & 0xff, len & 0xff, 0], len);
  if (toc.r !== 0) return;
  for (let i = 4; i + 8 <= len && tracks > 0; i += 8, tracks--) {
    // CONTROL bit 2 of the track descriptor: data track.
    if (toc.data[i + 1]! & 0x04) ctx.trackCountData++;
    else ctx.trackCountAudio++;
  }
  const sess = await scsiCmd(ctx, [0x43, 0, 1, 0, 0, 0, 0, 0, TOC_HEADER, 0], TOC_HEADER);
  if (sess.r !== 0) return;
  ctx.sessionLastOffset = be32(sess.data, 8) * 2048;
}

async function mediaLock(ctx: Ctx, lock: boolean): Promise<void> {
  // Turn off the CD-ROM layer's own locking on open/close first, as cdrom_id does; failures are ignored.
  await ioctlNumber(ctx, CDROM_CLEAR_OPTIONS, CDO_LOCK);
  await ioctlNumber(ctx, CDROM_LOCKDOOR, lock ? 1 : 0);
}

function properties(ctx: Ctx): Array<[string, string]> {
  const out: Array<[string, string]> = [['ID_CDROM', '1']];
  const has = (...fs: number[]): boolean => fs.some((f) => ctx.features.includes(f));
  for (const f of ctx.features) {
    const name = FEATURE_NAME.get(f);
    if (name !== undefined) out.push([`ID_CDROM_${name}`, '1']);
  }
  if (has(F.MO_SE, F.MO_WO, F.MO_AS)) out.push(['ID_CDROM_MO', '1']);
  if (has(F.DVD_RW_RO, F.DVD_RW_SEQ)) out.push(['ID_CDROM_DVD_RW', '1']);
  if (has(F.DVD_R_DL_SEQ, F.DVD_R_DL_JR)) out.push(['ID_CDROM_DVD_R_DL', '1']);
  if (has(F.DVD_R_DDR)) out.push(['ID_CDROM_DVD_R', '1']);
  if (has(F.BD_R_SRM, F.BD_R_RRM)) out.push(['ID_CDROM_BD_R', '1']);
  if (ctx.hasMedia) {
    out.push(['ID_CDROM_MEDIA', '1']);
    const m = ctx.mediaFeature;
    const name = m === null ? undefined : FEATURE_NAME.get(m);
    if (name !== undefined) out.push([`ID_CDROM_MEDIA_${name}`, '1']);
    if (m === F.MO_SE || m === F.MO_WO || m === F.MO_AS) out.push(['ID_CDROM_MEDIA_MO', '1']);
    if (m === F.DVD_RW_RO || m === F.DVD_RW_SEQ) out.push(['ID_CDROM_MEDIA_DVD_RW', '1']);
    if (m === F.DVD_R_DL_SEQ || m === F.DVD_R_DL_JR) out.push(['ID_CDROM_MEDIA_DVD_R_DL', '1']);
    if (m === F.DVD_R_DDR) out.push(['ID_CDROM_MEDIA_DVD_R', '1']);
    if (m === F.BD_R_SRM || m === F.BD_R_RRM) out.push(['ID_CDROM_MEDIA_BD_R', '1']);
  }
  if (ctx.mediaState !== null) out.push(['ID_CDROM_MEDIA_STATE', MEDIA_STATE[ctx.mediaState]!]);
  if (ctx.sessionNext > 0) out.push(['ID_CDROM_MEDIA_SESSION_NEXT', String(ctx.sessionNext)]);
  if (ctx.sessionCount > 0) out.push(['ID_CDROM_MEDIA_SESSION_COUNT', String(ctx.sessionCount)]);
  if (ctx.sessionCount > 1 && ctx.sessionLastOffset > 0) {
    out.push(['ID_CDROM_MEDIA_SESSION_LAST_OFFSET', String(ctx.sessionLastOffset)]);
  }
  if (ctx.trackCount > 0) out.push(['ID_CDROM_MEDIA_TRACK_COUNT', String(ctx.trackCount)]);
  if (ctx.trackCountAudio > 0) out.push(['ID_CDROM_MEDIA_TRACK_COUNT_AUDIO', String(ctx.trackCountAudio)]);
  if (ctx.trackCountData > 0) out.push(['ID_CDROM_MEDIA_TRACK_COUNT_DATA', String(ctx.trackCountData)]);
  return out;
}

/**
 * cdrom_id on `devnode`: the properties it prints (in its order), [] when the device is gone (it exits 0
 * silently), or null when it fails (the CD-ROM layer does not answer, or the node cannot be opened).
 */
export async function cdromId(sys: Syscalls, devnode: string, opts: CdromIdOptions = {}): Promise<Array<[string, string]> | null> {
  let fd: number;
  try {
    fd = await sys.open(devnode, O_RDONLY | O_NONBLOCK);
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    return e.code === 'ENODEV' || e.code === 'ENXIO' || e.code === 'ENOENT' ? [] : null;
  }
  const ctx: Ctx = {
    sys, fd, features: [], mediaFeature: null, hasMedia: false, mediaState: null,
    sessionNext: 0, sessionCount: 0, trackCount: 0, trackCountData: 0, trackCountAudio: 0, sessionLastOffset: 0,
  };
  try {
    if (!(await capabilityCompat(ctx))) return null;
    await mediaCompat(ctx);
    if (await inquiry(ctx)) {
      if ((await profiles(ctx)) > 0) {
        await mediaToc(ctx);
        await mediaInfo(ctx);
      }
    }
    if (opts.lockMedia && ctx.hasMedia) await mediaLock(ctx, true);
    if (opts.unlockMedia && ctx.hasMedia) await mediaLock(ctx, false);
    if (opts.ejectMedia) {
      await mediaLock(ctx, false);
      await scsiCmd(ctx, [0x1b, 0, 0, 0, 0x02, 0], 0);
    }
    return properties(ctx);
  } finally {
    try {
      await sys.close(fd);
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
  }
}

/** Parses cdrom_id's command line as the rules write it (`--lock-media $devnode`, `--eject-media …`). */
export function parseCdromIdArgs(argv: readonly string[]): { opts: CdromIdOptions; devnode: string | null } {
  let lockMedia = false;
  let unlockMedia = false;
  let ejectMedia = false;
  let devnode: string | null = null;
  for (const a of argv) {
    if (a === '-l' || a === '--lock-media') lockMedia = true;
    else if (a === '-u' || a === '--unlock-media') unlockMedia = true;
    else if (a === '-e' || a === '--eject-media') ejectMedia = true;
    else if (!a.startsWith('-')) devnode = a;
  }
  return { opts: { lockMedia, unlockMedia, ejectMedia }, devnode };
}
