// Models drivers/cdrom/cdrom.c (Linux 6.1): the Uniform CD-ROM layer — registration (the banner, the
// default options), the open/release policy (auto-close of an open tray, door locking for data opens,
// unlocking at the last close), media-change bookkeeping between the block layer and the ioctls, the
// generic CDROM* ioctls, and the MMC helpers it sends through the driver (GET CONFIGURATION feature and
// profile checks, GET EVENT STATUS NOTIFICATION).
//
// A driver (sr: src/highlevel/sr_ioctl.ts) fills a CdromDeviceOps table; the layer sends nothing except
// through it. The kernel's int conventions are kept where userland sees them: ops and cdromIoctl resolve
// to a number, 0 or positive on success (scsi_set_medium_removal's SCSI result passes through as a
// positive value, as in Linux) and −errno on failure; `cdromErrno` turns a negative answer into the Errno
// the syscall throws. -ENOSYS from cdromIoctl means "not a CD-ROM layer request": the driver then tries
// its own handler (sr: scsi_ioctl), as sr_block_ioctl does.
//
// Policy (cdrom_open / open_for_data / cdrom_release):
// - O_NONBLOCK opens with CDO_USE_FFLAGS set are "quick" opens: the driver's open only, no checks, no lock.
// - Other opens are for data: drive status (an open tray is closed when CDO_AUTO_CLOSE and the drive can
//   close it), status again, then the TOC must be readable (cdrom_count_tracks), the MMC-3 profile is read,
//   and the door is locked when CDO_LOCK. A write open needs a randomly writable medium (else -EROFS).
// - The last release unlocks the door unless CDROM_LOCKDOOR asked to keep it locked (keeplocked), and
//   ejects when CDO_AUTO_EJECT and the last open was for data.

import type { DiskEvent, Gendisk } from '../block/genhd.ts';
import { ERRNO, Errno } from '../kernel/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { KERN_INFO } from '../kernel/kernel.ts';
import * as u from '../kernel/uapi/cdrom.ts';
import type { CdromMcn, CdromMultisession, CdromTochdr, CdromTocentry, CdromTocentryIn } from '../kernel/uapi/cdrom.ts';
import type { SenseHdr } from '../midlayer/scsi_common.ts';

export const CDROM_REVISION = 'Revision: 3.20';

type ErrnoName = keyof typeof ERRNO;
/** -errno as the kernel returns it. */
export function errno(name: ErrnoName): number {
  return -ERRNO[name][0];
}
/** EDRIVE_CANT_DO_THIS (cdrom.h): the drive refused the command as unsupported. */
export const EDRIVE_CANT_DO_THIS: ErrnoName = 'EOPNOTSUPP';

/** The Errno for a negative kernel answer (undefined for success). */
export function cdromErrno(ret: number): Errno | undefined {
  if (ret >= 0) return undefined;
  const hit = (Object.keys(ERRNO) as ErrnoName[]).find((k) => ERRNO[k][0] === -ret);
  return new Errno(hit ?? 'EIO');
}

/** The cdrom module's parameters (autoclose=1, autoeject=0, lockdoor=1, check_media_type=0 by default). */
export interface CdromParams {
  autoclose: boolean;
  autoeject: boolean;
  lockdoor: boolean;
  checkMediaType: boolean;
}
export const CDROM_DEFAULT_PARAMS: Readonly<CdromParams> = { autoclose: true, autoeject: false, lockdoor: true, checkMediaType: false };

/** struct packet_command: an MMC command for the driver's generic_packet. */
export interface PacketCommand {
  readonly cmd: readonly number[];
  readonly dir: 'from-dev' | 'to-dev' | 'none';
  /** Data-in buffer size (the reply is zero-padded to it, as init_cdrom_command clears the buffer). */
  readonly buflen: number;
  readonly dataOut?: Uint8Array;
  /** Do not log failures (cgc.quiet). */
  readonly quiet?: boolean;
  /** Seconds; undefined → the driver's default. */
  readonly timeout?: number;
}

export interface PacketResult {
  /** cgc.stat: 0 or −errno. */
  readonly stat: number;
  readonly data: Uint8Array;
  readonly sshdr: SenseHdr | null;
}

/** struct media_event_desc (GET EVENT STATUS NOTIFICATION, media class). */
export interface MediaEventDesc {
  readonly mediaEventCode: number;
  readonly doorOpen: boolean;
  readonly mediaPresent: boolean;
}

/** How a file opened the device (the FMODE bits cdrom_open looks at). */
export interface CdromOpenMode {
  /** O_NONBLOCK / O_NDELAY (FMODE_NDELAY). */
  readonly ndelay: boolean;
  /** Opened for writing (FMODE_WRITE). */
  readonly write: boolean;
}

/** struct cdrom_device_ops: what a CD-ROM driver provides. Every op may only fail with −errno. */
export interface CdromDeviceOps {
  /** The drive's possible capabilities; the per-drive `mask` removes what this unit lacks. */
  readonly capability: number;
  /** purpose 0: open for data; 1: quick open (ioctls only). */
  open(cdi: CdromDeviceInfo, purpose: 0 | 1): Promise<number>;
  release(cdi: CdromDeviceInfo): void;
  driveStatus(cdi: CdromDeviceInfo, slot: number): Promise<number>;
  /** `clearing`: the caller is consuming MEDIA_CHANGE (the driver may look harder, e.g. TUR). */
  checkEvents(cdi: CdromDeviceInfo, clearing: boolean, slot: number): Promise<DiskEvent[]>;
  /** open: true ejects, false closes the tray. */
  trayMove(cdi: CdromDeviceInfo, open: boolean): Promise<number>;
  lockDoor(cdi: CdromDeviceInfo, lock: boolean): Promise<number>;
  selectSpeed(cdi: CdromDeviceInfo, speed: number): Promise<number>;
  /** The start of the last session, as an LBA, and whether it is an XA disc. */
  getLastSession(cdi: CdromDeviceInfo): Promise<{ ret: number; lba: number; xaFlag: number }>;
  getMcn(cdi: CdromDeviceInfo): Promise<{ ret: number; mcn: string }>;
  reset(cdi: CdromDeviceInfo): Promise<number>;
  /** audio_ioctl(CDROMREADTOCHDR). */
  readTochdr(cdi: CdromDeviceInfo): Promise<{ ret: number; hdr: CdromTochdr }>;
  /** audio_ioctl(CDROMREADTOCENTRY). */
  readTocentry(cdi: CdromDeviceInfo, track: number, format: number): Promise<{ ret: number; entry: CdromTocentry }>;
  genericPacket(cdi: CdromDeviceInfo, cgc: PacketCommand): Promise<PacketResult>;
}

/** struct cdrom_device_info: one registered drive. */
export class CdromDeviceInfo {
  readonly ops: CdromDeviceOps;
  readonly name: string;
  /** The driver's private data (sr: its ScsiCd). */
  readonly handle: unknown;
  disk: Gendisk | null = null;
  /** Capabilities this unit lacks (CDC_*). */
  mask = 0;
  /** Maximum speed (×176 kB/s), from the capabilities page. */
  speed = 0;
  /** Changer slots (1: not a changer). */
  capacity = 1;
  /** CDO_* options. */
  options = 0;
  /** Media-changed flags of the two queues (bit 0: VFS, bit 1: ioctl). */
  mcFlags = 0;
  useCount = 0;
  /** CDROM_LOCKDOOR asked to keep the door locked across the last close. */
  keeplocked = false;
  openedForData = false;
  mediaWritten = false;
  /** The current MMC-3 profile (0xffff: unknown). */
  mmc3Profile = 0xffff;
  /** Events seen by the block layer's checks, not yet given to the block layer / the ioctls. */
  vfsEvents = new Set<DiskEvent>();
  ioctlEvents = new Set<DiskEvent>();
  debug = false;
  /** The mode of the latest open (for the auto-eject decision of the last release). */
  lastOpenMode: CdromOpenMode = { ndelay: false, write: false };

  constructor(ops: CdromDeviceOps, name: string, handle: unknown) {
    this.ops = ops;
    this.name = name;
    this.handle = handle;
  }

  /** CDROM_CAN: the driver supports it and this unit is not masked. */
  can(cap: number): boolean {
    return (this.ops.capability & ~this.mask & cap) !== 0;
  }

  /** CDROM_GET_CAPABILITY's answer. */
  get capabilities(): number {
    return this.ops.capability & ~this.mask;
  }
}

const bannerPrinted = new WeakSet<Kernel>();
const drives = new WeakMap<Kernel, CdromDeviceInfo[]>();

/** The registered drives of a kernel (cdrom_list), newest first as list_add leaves them. */
export function cdromList(kernel: Kernel): readonly CdromDeviceInfo[] {
  return drives.get(kernel) ?? [];
}

/**
 * register_cdrom: the banner on the first registration of the kernel, then the default options
 * (CDO_USE_FFLAGS, plus CDO_AUTO_CLOSE / CDO_AUTO_EJECT / CDO_LOCK / CDO_CHECK_TYPE per the module
 * parameters and what the drive can do).
 */
export function registerCdrom(kernel: Kernel, disk: Gendisk | null, cdi: CdromDeviceInfo, params: Readonly<CdromParams> = CDROM_DEFAULT_PARAMS): void {
  if (!bannerPrinted.has(kernel)) {
    bannerPrinted.add(kernel);
    kernel.printk(KERN_INFO, `cdrom: Uniform CD-ROM driver ${CDROM_REVISION}`);
  }
  cdi.disk = disk;
  cdi.mcFlags = 0;
  cdi.options = u.CDO_USE_FFLAGS;
  if (params.autoclose && cdi.can(u.CDC_CLOSE_TRAY)) cdi.options |= u.CDO_AUTO_CLOSE;
  if (params.autoeject && cdi.can(u.CDC_OPEN_TRAY)) cdi.options |= u.CDO_AUTO_EJECT;
  if (params.lockdoor) cdi.options |= u.CDO_LOCK;
  if (params.checkMediaType) cdi.options |= u.CDO_CHECK_TYPE;
  let list = drives.get(kernel);
  if (!list) drives.set(kernel, (list = []));
  list.unshift(cdi);
}

export function unregisterCdrom(kernel: Kernel, cdi: CdromDeviceInfo): void {
  const list = drives.get(kernel);
  const i = list?.indexOf(cdi) ?? -1;
  if (list && i >= 0) list.splice(i, 1);
}

/** init_cdrom_command + generic_packet: a data-in MMC command of `buflen` bytes. */
function packetIn(cdi: CdromDeviceInfo, cmd: number[], buflen: number, quiet = true): Promise<PacketResult> {
  const c = [...cmd];
  while (c.length < 12) c.push(0);
  return cdi.ops.genericPacket(cdi, { cmd: c, dir: buflen > 0 ? 'from-dev' : 'none', buflen, quiet });
}

const be16 = (b: Uint8Array, i: number): number => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);

/** cdrom_get_media_event: GET EVENT STATUS NOTIFICATION (immediate, media class, 8 bytes); null if unusable. */
export async function cdromGetMediaEvent(cdi: CdromDeviceInfo): Promise<MediaEventDesc | null> {
  const r = await packetIn(cdi, [0x4a, 1, 0, 0, 1 << 4, 0, 0, 0, 8], 8);
  if (r.stat !== 0) return null;
  const b = r.data;
  // Event header: be16 data length, NEA bit 7 and notification class in byte 2.
  if (be16(b, 0) < 4) return null;
  if (b[2]! & 0x80 || (b[2]! & 0x07) !== 0x4) return null;
  return { mediaEventCode: b[4]! & 0x0f, doorOpen: (b[5]! & 0x01) !== 0, mediaPresent: (b[5]! & 0x02) !== 0 };
}

/** cdrom_mmc3_profile: GET CONFIGURATION from feature 0, 32 bytes; the current profile or 0xffff. */
export async function cdromMmc3Profile(cdi: CdromDeviceInfo): Promise<void> {
  const r = await packetIn(cdi, [0x46, 0, 0, 0, 0, 0, 0, 0, 32], 32);
  cdi.mmc3Profile = r.stat !== 0 ? 0xffff : be16(r.data, 6);
}

/** cdrom_is_mrw: 0 when the MRW feature (0x28) is listed (write: its Write bit), else non-zero. */
async function isMrw(cdi: CdromDeviceInfo): Promise<{ ret: number; write: boolean }> {
  const r = await packetIn(cdi, [0x46, 0, 0, 0x28, 0, 0, 0, 0, 16], 16);
  if (r.stat !== 0) return { ret: r.stat, write: false };
  // The first descriptor follows the 8-byte feature header.
  if (be16(r.data, 8) !== 0x28) return { ret: 1, write: false };
  // cdrom_mrw_probe_pc (MODE SENSE of the MRW page) is not modelled: no emulated drive reports MRW.
  return { ret: 0, write: (r.data[12]! & 0x01) !== 0 };
}

/** cdrom_is_random_writable: the Random Writable feature (0x20), current. */
async function isRandomWritable(cdi: CdromDeviceInfo): Promise<boolean> {
  const r = await packetIn(cdi, [0x46, 0, 0, 0x20, 0, 0, 0, 0, 24], 24);
  if (r.stat !== 0 || be16(r.data, 8) !== 0x20) return false;
  return (r.data[10]! & 0x01) !== 0;
}

/**
 * cdrom_probe_write_features: the MRW and random-writable checks, so that the mask (and the disk's
 * read-only state) is known at registration. The captured 6.1 kernel sends these at sr probe.
 */
export async function cdromProbeWriteFeatures(cdi: CdromDeviceInfo): Promise<void> {
  const mrw = await isMrw(cdi);
  const ramWrite = cdi.can(u.CDC_MO_DRIVE) ? true : await isRandomWritable(cdi);
  cdi.mask = mrw.ret === 0 ? cdi.mask & ~u.CDC_MRW : cdi.mask | u.CDC_MRW;
  cdi.mask = mrw.write ? cdi.mask & ~u.CDC_MRW_W : cdi.mask | u.CDC_MRW_W;
  cdi.mask = ramWrite ? cdi.mask & ~u.CDC_RAM : cdi.mask | u.CDC_RAM;
}

export interface Tracks {
  data: number;
  audio: number;
  cdi: number;
  xa: number;
  /** 0, or CDS_NO_DISC / CDS_NO_INFO when the TOC could not be read. */
  error: number;
}

/** cdrom_count_tracks: the TOC header, then each track's entry (MSF), sorted into data/audio/CD-i/XA. */
export async function cdromCountTracks(cdi: CdromDeviceInfo): Promise<Tracks> {
  const t: Tracks = { data: 0, audio: 0, cdi: 0, xa: 0, error: 0 };
  if (!cdi.can(u.CDC_PLAY_AUDIO)) {
    t.error = u.CDS_NO_INFO;
    return t;
  }
  const h = await cdi.ops.readTochdr(cdi);
  if (h.ret) {
    t.error = h.ret === errno('ENOMEDIUM') ? u.CDS_NO_DISC : u.CDS_NO_INFO;
    return t;
  }
  for (let i = h.hdr.cdthTrk0; i <= h.hdr.cdthTrk1; i++) {
    const e = await cdi.ops.readTocentry(cdi, i, u.CDROM_MSF);
    if (e.ret) {
      t.error = u.CDS_NO_INFO;
      return t;
    }
    if (e.entry.cdteCtrl & u.CDROM_DATA_TRACK) {
      if (e.entry.cdteFormat === 0x10) t.cdi++;
      else if (e.entry.cdteFormat === 0x20) t.xa++;
      else t.data++;
    } else t.audio++;
  }
  return t;
}

/** open_for_data: close an open tray if allowed, require a disc and a readable TOC, open, lock. */
async function openForData(cdi: CdromDeviceInfo): Promise<number> {
  const ops = cdi.ops;
  let ret = await ops.driveStatus(cdi, u.CDSL_CURRENT);
  const fail = async (r: number): Promise<number> => {
    if (cdi.can(u.CDC_LOCK) && cdi.options & u.CDO_LOCK) await ops.lockDoor(cdi, false);
    return r;
  };
  if (ret === u.CDS_TRAY_OPEN) {
    if (!(cdi.can(u.CDC_CLOSE_TRAY) && cdi.options & u.CDO_AUTO_CLOSE)) return fail(errno('ENOMEDIUM'));
    // Why the tray would not close does not matter: without a disc the open fails anyway.
    if (await ops.trayMove(cdi, false)) return fail(errno('ENOMEDIUM'));
    ret = await ops.driveStatus(cdi, u.CDSL_CURRENT);
    if (ret === u.CDS_NO_DISC || ret === u.CDS_TRAY_OPEN) return fail(errno('ENOMEDIUM'));
  }
  // The door should be closed now; look for the disc (a second status query, as cdrom.c does).
  ret = await ops.driveStatus(cdi, u.CDSL_CURRENT);
  if (ret !== u.CDS_DISC_OK) return fail(errno('ENOMEDIUM'));
  const tracks = await cdromCountTracks(cdi);
  if (tracks.error === u.CDS_NO_DISC) return fail(errno('ENOMEDIUM'));
  if (tracks.data === 0 && cdi.options & u.CDO_CHECK_TYPE) return fail(errno('EMEDIUMTYPE'));
  ret = await ops.open(cdi, 0);
  if (ret) return fail(ret);
  if (cdi.can(u.CDC_LOCK) && cdi.options & u.CDO_LOCK) await ops.lockDoor(cdi, true);
  return 0;
}

/** cdrom_open_write (after cdrom_probe_write_features): 0 when a write open may proceed. */
function openWrite(cdi: CdromDeviceInfo): number {
  // Packet writing (MRW, DVD-RAM formats) is not modelled: only plain random-writable media pass.
  if (cdi.can(u.CDC_MRW_W) || cdi.can(u.CDC_DVD_RAM)) return 0;
  // cdrom_is_dvd_rw: DVD-RAM, DVD+RW and BD-RE profiles are writable in place.
  return [0x12, 0x1a, 0x43].includes(cdi.mmc3Profile) ? 0 : 1;
}

/** cdrom_open: 0 or −errno. */
export async function cdromOpen(cdi: CdromDeviceInfo, mode: CdromOpenMode): Promise<number> {
  cdi.useCount++;
  cdi.lastOpenMode = mode;
  let ret: number;
  if (mode.ndelay && cdi.options & u.CDO_USE_FFLAGS) {
    ret = await cdi.ops.open(cdi, 1);
  } else {
    ret = await openForData(cdi);
    if (ret === 0) {
      if (cdi.can(u.CDC_GENERIC_PACKET)) await cdromMmc3Profile(cdi);
      if (mode.write && (openWrite(cdi) || !cdi.can(u.CDC_RAM))) {
        if (cdi.can(u.CDC_LOCK) && cdi.options & u.CDO_LOCK) await cdi.ops.lockDoor(cdi, false);
        cdi.ops.release(cdi);
        ret = errno('EROFS');
      } else {
        if (mode.write) cdi.mediaWritten = false;
        cdi.openedForData = true;
      }
    }
  }
  if (ret) cdi.useCount--;
  return ret;
}

/** cdrom_release: the last close unlocks (unless kept locked) and may eject. */
export async function cdromRelease(cdi: CdromDeviceInfo, mode: CdromOpenMode = cdi.lastOpenMode): Promise<void> {
  if (cdi.useCount > 0) cdi.useCount--;
  if (cdi.useCount === 0 && cdi.ops.capability & u.CDC_LOCK && !cdi.keeplocked) await cdi.ops.lockDoor(cdi, false);
  const openedForData = !(cdi.options & u.CDO_USE_FFLAGS) || !mode.ndelay;
  cdi.ops.release(cdi);
  if (cdi.useCount === 0) {
    cdi.openedForData = false;
    if (openedForData && cdi.options & u.CDO_AUTO_EJECT && cdi.can(u.CDC_OPEN_TRAY)) await cdi.ops.trayMove(cdi, true);
  }
}

/** cdrom_update_events: ask the driver, remember what it saw for both consumers. */
async function updateEvents(cdi: CdromDeviceInfo, clearing: boolean): Promise<void> {
  const ev = await cdi.ops.checkEvents(cdi, clearing, u.CDSL_CURRENT);
  for (const e of ev) {
    cdi.vfsEvents.add(e);
    cdi.ioctlEvents.add(e);
  }
}

/** cdrom_check_events: the block layer's check (sr_block_check_events). */
export async function cdromCheckEvents(cdi: CdromDeviceInfo, clearing: boolean): Promise<DiskEvent[]> {
  await updateEvents(cdi, clearing);
  const ev = [...cdi.vfsEvents];
  cdi.vfsEvents.clear();
  return ev;
}

/** media_changed for the ioctl queue: 1 if a change happened since the ioctl last asked. */
async function mediaChanged(cdi: CdromDeviceInfo, queue: 0 | 1): Promise<number> {
  const bit = 1 << queue;
  let ret = cdi.mcFlags & bit ? 1 : 0;
  if (!cdi.can(u.CDC_MEDIA_CHANGED)) return ret;
  await updateEvents(cdi, true);
  const changed = cdi.ioctlEvents.has('media_change');
  cdi.ioctlEvents.clear();
  if (changed) {
    cdi.mcFlags = 0x3;
    ret |= 1;
    cdi.mediaWritten = false;
  }
  cdi.mcFlags &= ~bit;
  return ret;
}

/** sanitize_format: convert an LBA answer into the format the caller asked for. */
function sanitizeAddr(lba: number, requested: number): u.CdromAddr {
  return requested === u.CDROM_MSF ? u.lbaToMsf(lba) : { lba };
}

/** What a CDROM* ioctl may consult about its caller. */
export interface CdromIoctlContext {
  /** capable(CAP_SYS_ADMIN): root. */
  readonly capSysAdmin: boolean;
  /** invalidate_bdev (CDROMRESET). */
  readonly invalidate?: () => void;
}

/** The structure an ioctl fills in, or the kernel's int answer. */
export type CdromIoctlAnswer = number | CdromTochdr | CdromTocentry | CdromMultisession | CdromMcn;

/** cdrom_ioctl_lock_door: also records keeplocked; only root may unlock under other openers. */
async function ioctlLockDoor(cdi: CdromDeviceInfo, lock: boolean, ctx: CdromIoctlContext): Promise<number> {
  if (!cdi.can(u.CDC_LOCK)) return errno(EDRIVE_CANT_DO_THIS);
  cdi.keeplocked = lock;
  if (cdi.useCount !== 1 && !lock && !ctx.capSysAdmin) return errno('EBUSY');
  return cdi.ops.lockDoor(cdi, lock);
}

/** cdrom_ioctl_eject: only the sole opener, and not while kept locked; unlock, then open the tray. */
async function ioctlEject(cdi: CdromDeviceInfo): Promise<number> {
  if (!cdi.can(u.CDC_OPEN_TRAY)) return errno('ENOSYS');
  if (cdi.useCount !== 1 || cdi.keeplocked) return errno('EBUSY');
  if (cdi.can(u.CDC_LOCK)) {
    const ret = await cdi.ops.lockDoor(cdi, false);
    if (ret) return ret;
  }
  return cdi.ops.trayMove(cdi, true);
}

async function ioctlMultisession(cdi: CdromDeviceInfo, arg: unknown): Promise<CdromIoctlAnswer> {
  if (!(cdi.ops.capability & u.CDC_MULTI_SESSION)) return errno('ENOSYS');
  const requested = Number((arg as { addrFormat?: number } | null)?.addrFormat ?? -1);
  if (requested !== u.CDROM_MSF && requested !== u.CDROM_LBA) return errno('EINVAL');
  const s = await cdi.ops.getLastSession(cdi);
  if (s.ret) return s.ret;
  return { addr: sanitizeAddr(s.lba, requested), xaFlag: s.xaFlag, addrFormat: requested };
}

async function ioctlTocentry(cdi: CdromDeviceInfo, arg: unknown): Promise<CdromIoctlAnswer> {
  const a = (arg ?? {}) as Partial<CdromTocentryIn>;
  const requested = Number(a.cdteFormat ?? -1);
  if (requested !== u.CDROM_MSF && requested !== u.CDROM_LBA) return errno('EINVAL');
  // The driver is always asked in MSF; the answer is converted back (cdrom_read_tocentry).
  const r = await cdi.ops.readTocentry(cdi, Number(a.cdteTrack ?? 0), u.CDROM_MSF);
  if (r.ret) return r.ret;
  const addr = r.entry.cdteAddr;
  const lba = 'lba' in addr ? addr.lba : u.msfToLba(addr);
  return { ...r.entry, cdteFormat: requested, cdteAddr: sanitizeAddr(lba, requested) };
}

/**
 * cdrom_ioctl: the CD-ROM layer's ioctls. Resolves to the answer (a number or the filled structure),
 * −errno on failure, −ENOSYS when the request is not the layer's.
 */
export async function cdromIoctl(cdi: CdromDeviceInfo, cmd: number, arg: unknown, ctx: CdromIoctlContext): Promise<CdromIoctlAnswer> {
  const n = (): number => Number(arg ?? 0);
  switch (cmd) {
    case u.CDROMMULTISESSION:
      return ioctlMultisession(cdi, arg);
    case u.CDROMEJECT:
      return ioctlEject(cdi);
    case u.CDROMCLOSETRAY:
      if (!cdi.can(u.CDC_CLOSE_TRAY)) return errno('ENOSYS');
      return cdi.ops.trayMove(cdi, false);
    case u.CDROMEJECT_SW:
      if (!cdi.can(u.CDC_OPEN_TRAY)) return errno('ENOSYS');
      if (cdi.keeplocked) return errno('EBUSY');
      cdi.options &= ~(u.CDO_AUTO_CLOSE | u.CDO_AUTO_EJECT);
      if (n()) cdi.options |= u.CDO_AUTO_CLOSE | u.CDO_AUTO_EJECT;
      return 0;
    case u.CDROM_MEDIA_CHANGED:
      if (!cdi.can(u.CDC_MEDIA_CHANGED)) return errno('ENOSYS');
      if (!cdi.can(u.CDC_SELECT_DISC) || n() === u.CDSL_CURRENT) return mediaChanged(cdi, 1);
      if (n() >= cdi.capacity) return errno('EINVAL');
      return errno('ENOSYS'); // changers are not modelled
    case u.CDROM_SET_OPTIONS: {
      const v = n();
      switch (v) {
        case u.CDO_USE_FFLAGS:
        case u.CDO_CHECK_TYPE:
          break;
        case u.CDO_LOCK:
          if (!cdi.can(u.CDC_LOCK)) return errno('ENOSYS');
          break;
        case 0:
          return cdi.options;
        default:
          // The remaining options share their bit with the capability they need (AUTO_CLOSE/CLOSE_TRAY…).
          if (!cdi.can(v)) return errno('ENOSYS');
      }
      cdi.options |= v;
      return cdi.options;
    }
    case u.CDROM_CLEAR_OPTIONS:
      cdi.options &= ~n();
      return cdi.options;
    case u.CDROM_SELECT_SPEED:
      if (!cdi.can(u.CDC_SELECT_SPEED)) return errno('ENOSYS');
      return cdi.ops.selectSpeed(cdi, n());
    case u.CDROM_SELECT_DISC:
      if (!cdi.can(u.CDC_SELECT_DISC)) return errno('ENOSYS');
      return errno('ENOSYS'); // changers are not modelled
    case u.CDROMRESET:
      if (!ctx.capSysAdmin) return errno('EACCES');
      if (!cdi.can(u.CDC_RESET)) return errno('ENOSYS');
      ctx.invalidate?.();
      return cdi.ops.reset(cdi);
    case u.CDROM_LOCKDOOR:
      return ioctlLockDoor(cdi, n() !== 0, ctx);
    case u.CDROM_DEBUG:
      if (!ctx.capSysAdmin) return errno('EACCES');
      cdi.debug = n() !== 0;
      return cdi.debug ? 1 : 0;
    case u.CDROM_GET_CAPABILITY:
      return cdi.capabilities;
    case u.CDROM_GET_MCN: {
      if (!(cdi.ops.capability & u.CDC_MCN)) return errno('ENOSYS');
      const r = await cdi.ops.getMcn(cdi);
      return r.ret ? r.ret : { mediumCatalogNumber: r.mcn };
    }
    case u.CDROM_DRIVE_STATUS:
      if (!(cdi.ops.capability & u.CDC_DRIVE_STATUS)) return errno('ENOSYS');
      if (!cdi.can(u.CDC_SELECT_DISC) || n() === u.CDSL_CURRENT || n() === u.CDSL_NONE) return cdi.ops.driveStatus(cdi, u.CDSL_CURRENT);
      if (n() >= cdi.capacity) return errno('EINVAL');
      return errno('ENOSYS'); // changers are not modelled
    case u.CDROM_DISC_STATUS:
      return discStatus(cdi);
    case u.CDROM_CHANGER_NSLOTS:
      return cdi.capacity;
  }
  // mmc_ioctl: the requests built on generic_packet (only START/STOP are modelled).
  if (cdi.can(u.CDC_GENERIC_PACKET) && (cmd === u.CDROMSTART || cmd === u.CDROMSTOP)) {
    const r = await cdi.ops.genericPacket(cdi, { cmd: [0x1b, 1, 0, 0, cmd === u.CDROMSTART ? 1 : 0, 0], dir: 'none', buflen: 0 });
    return r.stat;
  }
  switch (cmd) {
    case u.CDROMREADTOCHDR: {
      if (!cdi.can(u.CDC_PLAY_AUDIO)) return errno('ENOSYS');
      const r = await cdi.ops.readTochdr(cdi);
      return r.ret ? r.ret : r.hdr;
    }
    case u.CDROMREADTOCENTRY:
      if (!cdi.can(u.CDC_PLAY_AUDIO)) return errno('ENOSYS');
      return ioctlTocentry(cdi, arg);
  }
  return errno('ENOSYS');
}

/** cdrom_ioctl_disc_status: what kind of disc, from its tracks. */
async function discStatus(cdi: CdromDeviceInfo): Promise<number> {
  const t = await cdromCountTracks(cdi);
  if (t.error) return t.error;
  if (t.audio > 0) return !t.data && !t.cdi && !t.xa ? u.CDS_AUDIO : u.CDS_MIXED;
  if (t.cdi > 0) return u.CDS_XA_2_2;
  if (t.xa > 0) return u.CDS_XA_2_1;
  if (t.data > 0) return u.CDS_DATA_1;
  return u.CDS_NO_INFO;
}
