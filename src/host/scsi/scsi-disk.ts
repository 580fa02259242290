// Models hw/scsi/scsi-disk.c (QEMU 7.2): scsi-hd and scsi-cd — the SCSI commands a disk or CD-ROM LU
// emulates over a BlockBackend, their properties and defaults, tray/medium state, and the
// rerror/werror handling of failed block I/O. Only the SCSI architecture model and device commands live
// here; addressing, UAs and REPORT LUNS are the bus's (scsi-bus.ts).
//
// Command flow: sendCommand() parses the already-split CDB (ScsiCommand) and either emulates it into
// an output buffer of exactly the allocation length (QEMU transfers min(max(4096, xfer), xfer) bytes,
// zero-padded: the truncating writer) or starts block I/O (READ/WRITE/WRITE AND VERIFY).

import { CHECK_CONDITION, GOOD } from './scsi.ts';
import { QEMU_HW_VERSION, ScsiDevice, writePadded, type ScsiReq } from './scsi-bus.ts';
import { OP, TYPE_DISK, TYPE_ROM, scsiCommandName, scsiDataCdbXfer } from './scsi-opcodes.ts';
import { SENSE, convertSense, senseFromErrno, type ScsiSense } from './scsi-sense.ts';
import type { BlockBackend, BlockErrno, BlockErrorPolicy } from '../block/block-backend.ts';

export type ScsiDiskKind = 'scsi-hd' | 'scsi-cd';

export interface ScsiDiskProps {
  drive?: BlockBackend | undefined;
  qdevId?: string | undefined;
  channel?: number;
  scsiId?: number;
  lun?: number;
  vendor?: string;
  product?: string;
  ver?: string;
  serial?: string | undefined;
  deviceId?: string | undefined;
  wwn?: bigint;
  portWwn?: bigint;
  portIndex?: number;
  removable?: boolean;
  dpofua?: boolean;
  logicalBlockSize?: number;
  physicalBlockSize?: number;
  minIoSize?: number;
  optIoSize?: number;
  /** Bytes; undefined = QEMU's default max(logical block size, 4 KiB). */
  discardGranularity?: number;
  maxUnmapSize?: number;
  maxIoSize?: number;
  rotationRate?: number;
  scsiVersion?: number;
  writeCache?: 'auto' | 'on' | 'off';
  rerror?: 'auto' | BlockErrorPolicy;
  werror?: 'auto' | BlockErrorPolicy;
  cyls?: number;
  heads?: number;
  secs?: number;
}

/** Hooks the machine wires: VM stop on rerror/werror=stop, and DEVICE_TRAY_MOVED. */
export interface ScsiDiskHooks {
  onStop?: (req: ScsiReq, retry: () => void) => void;
  onTrayMoved?: (open: boolean) => void;
}

const BDRV_SECTOR_SIZE = 512;
const CD_MAX_SECTORS = 2097152; // (1024 * 1024 * 1024 / 512) * 2 … as ide's CD_MAX_SECTORS
const MMC_PROFILE_NONE = 0x0000;
const MMC_PROFILE_CD_ROM = 0x0008;
const MMC_PROFILE_DVD_ROM = 0x0010;
const SCSI_MAX_INQUIRY_LEN = 256;
const INT_MAX = 0x7fffffff;

const MODE_PAGE_R_W_ERROR = 0x01;
const MODE_PAGE_HD_GEOMETRY = 0x04;
const MODE_PAGE_FLEXIBLE_DISK_GEOMETRY = 0x05;
const MODE_PAGE_CACHING = 0x08;
const MODE_PAGE_AUDIO_CTL = 0x0e;
const MODE_PAGE_CAPABILITIES = 0x2a;
const MODE_PAGE_ALLS = 0x3f;

/** Commands checked for a medium before anything else (all but these). */
const NO_MEDIUM_CHECK: ReadonlySet<number> = new Set([
  OP.INQUIRY,
  OP.MODE_SENSE,
  OP.MODE_SENSE_10,
  OP.RESERVE,
  OP.RESERVE_10,
  OP.RELEASE,
  OP.RELEASE_10,
  OP.START_STOP,
  OP.ALLOW_MEDIUM_REMOVAL,
  OP.GET_CONFIGURATION,
  OP.GET_EVENT_STATUS_NOTIFICATION,
  OP.MECHANISM_STATUS,
  OP.REQUEST_SENSE,
]);

/** scsi_disk_reqops_dispatch entries that use the DMA path; every other opcode is emulated. */
const DMA_OPS: ReadonlySet<number> = new Set([
  OP.READ_6,
  OP.READ_10,
  OP.READ_12,
  OP.READ_16,
  OP.WRITE_6,
  OP.WRITE_10,
  OP.WRITE_12,
  OP.WRITE_16,
  OP.WRITE_VERIFY_10,
  OP.WRITE_VERIFY_12,
  OP.WRITE_VERIFY_16,
]);

/** Parsed form of an emulated CDB (parse, then execute). */
type Emulated =
  | { kind: 'tur' }
  | { kind: 'inquiry' }
  | { kind: 'mode-sense' }
  | { kind: 'read-toc' }
  | { kind: 'reserve-release'; badBits: number }
  | { kind: 'start-stop'; start: boolean; loej: boolean; powerCondition: number }
  | { kind: 'prevent-allow'; prevent: boolean }
  | { kind: 'read-capacity-10' }
  | { kind: 'request-sense' }
  | { kind: 'mechanism-status' }
  | { kind: 'get-configuration' }
  | { kind: 'gesn' }
  | { kind: 'read-disc-information' }
  | { kind: 'read-dvd-structure' }
  | { kind: 'service-action-in-16'; sa: number }
  | { kind: 'synchronize-cache' }
  | { kind: 'seek-10' }
  | { kind: 'data-out'; what: 'mode-select' | 'mode-select-10' | 'unmap' | 'verify' | 'write-same' | 'format-unit' }
  | { kind: 'unknown' };

function parseEmulated(b: Uint8Array): Emulated {
  switch (b[0]) {
    case OP.TEST_UNIT_READY:
      return { kind: 'tur' };
    case OP.INQUIRY:
      return { kind: 'inquiry' };
    case OP.MODE_SENSE:
    case OP.MODE_SENSE_10:
      return { kind: 'mode-sense' };
    case OP.READ_TOC:
      return { kind: 'read-toc' };
    case OP.RESERVE:
    case OP.RELEASE:
      return { kind: 'reserve-release', badBits: b[1]! & 1 };
    case OP.RESERVE_10:
    case OP.RELEASE_10:
      return { kind: 'reserve-release', badBits: b[1]! & 3 };
    case OP.START_STOP:
      return { kind: 'start-stop', start: (b[4]! & 1) !== 0, loej: (b[4]! & 2) !== 0, powerCondition: b[4]! >> 4 };
    case OP.ALLOW_MEDIUM_REMOVAL:
      return { kind: 'prevent-allow', prevent: (b[4]! & 1) !== 0 };
    case OP.READ_CAPACITY_10:
      return { kind: 'read-capacity-10' };
    case OP.REQUEST_SENSE:
      return { kind: 'request-sense' };
    case OP.MECHANISM_STATUS:
      return { kind: 'mechanism-status' };
    case OP.GET_CONFIGURATION:
      return { kind: 'get-configuration' };
    case OP.GET_EVENT_STATUS_NOTIFICATION:
      return { kind: 'gesn' };
    case OP.READ_DISC_INFORMATION:
      return { kind: 'read-disc-information' };
    case OP.READ_DVD_STRUCTURE:
      return { kind: 'read-dvd-structure' };
    case OP.SERVICE_ACTION_IN_16:
      return { kind: 'service-action-in-16', sa: b[1]! & 31 };
    case OP.SYNCHRONIZE_CACHE:
      return { kind: 'synchronize-cache' };
    case OP.SEEK_10:
      return { kind: 'seek-10' };
    case OP.MODE_SELECT:
      return { kind: 'data-out', what: 'mode-select' };
    case OP.MODE_SELECT_10:
      return { kind: 'data-out', what: 'mode-select-10' };
    case OP.UNMAP:
      return { kind: 'data-out', what: 'unmap' };
    case OP.VERIFY_10:
    case OP.VERIFY_12:
    case OP.VERIFY_16:
      return { kind: 'data-out', what: 'verify' };
    case OP.WRITE_SAME_10:
    case OP.WRITE_SAME_16:
      return { kind: 'data-out', what: 'write-same' };
    case OP.FORMAT_UNIT:
      return { kind: 'data-out', what: 'format-unit' };
    default:
      return { kind: 'unknown' };
  }
}

const put16 = (o: Uint8Array, i: number, v: number): void => {
  o[i] = (v >>> 8) & 0xff;
  o[i + 1] = v & 0xff;
};
const put32 = (o: Uint8Array, i: number, v: number): void => {
  o[i] = (v >>> 24) & 0xff;
  o[i + 1] = (v >>> 16) & 0xff;
  o[i + 2] = (v >>> 8) & 0xff;
  o[i + 3] = v & 0xff;
};
const put64 = (o: Uint8Array, i: number, v: bigint | number): void => {
  const b = BigInt.asUintN(64, BigInt(v));
  put32(o, i, Number(b >> 32n));
  put32(o, i + 4, Number(b & 0xffffffffn));
};
const get16 = (b: Uint8Array, i: number): number => ((b[i]! << 8) | b[i + 1]!) >>> 0;
const get32 = (b: Uint8Array, i: number): number => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;

function lbaToMsf(o: Uint8Array, i: number, lba: number): void {
  lba += 150;
  o[i] = Math.floor(lba / 75 / 60) & 0xff;
  o[i + 1] = Math.floor(lba / 75) % 60;
  o[i + 2] = lba % 75;
}

/** cdrom_read_toc (hw/block/cdrom.c): format 0; -1 for a bad start track. */
export function cdromReadToc(nbSectors: number, o: Uint8Array, msf: boolean, startTrack: number): number {
  if (startTrack > 1 && startTrack !== 0xaa) return -1;
  let q = 2;
  o[q++] = 1; // first track
  o[q++] = 1; // last track
  if (startTrack <= 1) {
    o[q++] = 0; // reserved
    o[q++] = 0x14; // ADR, control: data track
    o[q++] = 1; // track number
    o[q++] = 0; // reserved
    if (msf) {
      o[q++] = 0;
      lbaToMsf(o, q, 0);
      q += 3;
    } else {
      put32(o, q, 0);
      q += 4;
    }
  }
  o[q++] = 0; // lead-out: reserved
  o[q++] = 0x16; // ADR, control
  o[q++] = 0xaa; // track number: lead-out
  o[q++] = 0;
  if (msf) {
    o[q++] = 0;
    lbaToMsf(o, q, nbSectors);
    q += 3;
  } else {
    put32(o, q, nbSectors);
    q += 4;
  }
  put16(o, 0, q - 2);
  return q;
}

/** cdrom_read_toc_raw: format 2 (full TOC, one session: A0, A1, A2 and track 1 descriptors). */
export function cdromReadTocRaw(nbSectors: number, o: Uint8Array, msf: boolean): number {
  let q = 2;
  o[q++] = 1; // first session
  o[q++] = 1; // last session
  const desc = (point: number, tail: (at: number) => void): void => {
    o[q++] = 1; // session number
    o[q++] = 0x14; // data track
    o[q++] = 0; // track number
    o[q++] = point;
    o[q++] = 0; // min
    o[q++] = 0; // sec
    o[q++] = 0; // frame
    tail(q);
    q += 4;
  };
  desc(0xa0, (at) => {
    o[at] = 0;
    o[at + 1] = 1; // first track
    o[at + 2] = 0; // disc type
    o[at + 3] = 0;
  });
  desc(0xa1, (at) => {
    o[at] = 0;
    o[at + 1] = 1; // last track
    o[at + 2] = 0;
    o[at + 3] = 0;
  });
  desc(0xa2, (at) => {
    if (msf) {
      o[at] = 0;
      lbaToMsf(o, at + 1, nbSectors);
    } else put32(o, at, nbSectors);
  });
  desc(1, (at) => {
    if (msf) {
      o[at] = 0;
      lbaToMsf(o, at + 1, 0);
    } else put32(o, at, 0);
  });
  put16(o, 0, q - 2);
  return q;
}

/** hd_geometry_guess (hw/block/hd-geometry.c) for a raw image: MBR hint, else 16 heads × 63 sectors. */
function guessGeometry(blk: BlockBackend | undefined): { cyls: number; heads: number; secs: number } {
  const total = blk?.nbSectors ?? 0;
  const forSize = (): { cyls: number; heads: number; secs: number } => {
    const cyls = Math.min(16383, Math.max(2, Math.floor(total / (16 * 63))));
    return { cyls, heads: 16, secs: 63 };
  };
  const m = blk?.medium;
  if (!m || total === 0) return forSize();
  const mbr = new Uint8Array(512);
  try {
    m.fs.readSync(m.fd, mbr, 0, Math.min(512, m.size), 0);
  } catch {
    return forSize();
  }
  if (mbr[510] !== 0x55 || mbr[511] !== 0xaa) return forSize();
  for (let i = 0; i < 4; i++) {
    const p = 0x1be + 16 * i;
    const nrSects = get32(mbr, p + 12);
    const endHead = mbr[p + 5]!;
    if (nrSects && endHead) {
      const heads = endHead + 1;
      const secs = mbr[p + 6]! & 63;
      if (secs === 0) continue;
      const cyls = Math.floor(total / (heads * secs));
      if (cyls < 1 || cyls > 16383) continue;
      return heads > 16 ? forSize() : { cyls, heads, secs };
    }
  }
  return forSize();
}

// ---- removable medium: the tray / lock state machine, as data ----
//
// The tray state belongs to the device (QEMU keeps it in SCSIDiskState); whether a medium is inserted
// belongs to the BlockBackend and is only an input here. Every change of the tray state, from the guest
// (START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, GESN polls, a reported UA) or from the host (the
// BlockDevOps callbacks blockdev.c drives for eject / change / blockdev-open-tray / -close-tray, and a
// cold reset), is one row of CD_TRAY_TABLE: the first row whose event matches and whose `when` fields
// equal the current state decides the next state and the effects. The monitor commands are sequences
// of the host events (see QemuMachine's do_open_tray), exactly as QEMU's blockdev.c composes them.

/** The device's part of the removable-medium state. */
export interface TrayState {
  /** tray_open */
  readonly open: boolean;
  /** tray_locked: PREVENT MEDIUM REMOVAL is in force. */
  readonly locked: boolean;
  /** media_changed: once the 3A/00 UA is reported, a 28/00 UA follows. */
  readonly mediaChanged: boolean;
  /** media_event: GESN reports "new media" once. */
  readonly mediaEvent: boolean;
  /** eject_request: GESN reports "eject requested" once. */
  readonly ejectRequest: boolean;
}

/** What a row may test: the state plus whether the BlockBackend holds a medium. */
export type TrayGuard = Partial<TrayState & { readonly inserted: boolean }>;

export type TrayEvent =
  /** START STOP UNIT, LoEj=1 Start=0, power condition 0, on a removable device. */
  | 'guest-eject'
  /** START STOP UNIT, LoEj=1 Start=1, power condition 0, on a removable device. */
  | 'guest-load'
  /** PREVENT ALLOW MEDIUM REMOVAL with Prevent bit 0 set / clear. */
  | 'guest-prevent'
  | 'guest-allow'
  /** Any command that needs the medium (TEST UNIT READY, READ, READ CAPACITY, …). */
  | 'guest-medium-access'
  /** GET EVENT STATUS NOTIFICATION, polled, media class requested. */
  | 'guest-gesn-media'
  /** The bus reported a UA to the guest (scsi_disk_unit_attention_reported). */
  | 'ua-reported'
  /** change_media_cb(load=false / true): the host opened the tray (medium out or kept) / closed it. */
  | 'host-unload'
  | 'host-load'
  /** eject_request_cb(force=false / true): the host asked for the tray while the guest holds it locked. */
  | 'host-eject-request'
  | 'host-eject-request-force'
  /** Cold reset (scsi_disk_reset). */
  | 'reset';

/** GESN media event codes (MMC-6 table 155). */
export const GESN_MEDIA = { NO_CHANGE: 0, EJECT_REQUEST: 1, NEW_MEDIA: 2 } as const;
export type GesnMediaEvent = (typeof GESN_MEDIA)[keyof typeof GESN_MEDIA];

export interface TrayRow {
  readonly on: TrayEvent;
  /** Fields that must equal the current state; absent = any. */
  readonly when: TrayGuard;
  /** Fields the transition sets; absent = unchanged. */
  readonly next: Partial<TrayState>;
  /** The command fails with this sense and the state does not change. */
  readonly fail?: ScsiSense;
  /** A UA raised through scsi_device_set_ua (it replaces only a less important pending UA). */
  readonly ua?: ScsiSense;
  /** The media event code a GESN poll reports (its media status is trayMediaStatus()). */
  readonly gesn?: GesnMediaEvent;
  /** DEVICE_TRAY_MOVED with tray-open = this value. */
  readonly trayMoved?: boolean;
  /** Why (the behaviour this row keeps). */
  readonly note: string;
}

export const CD_TRAY_TABLE: readonly TrayRow[] = [
  // START STOP UNIT with LoEj
  { on: 'guest-eject', when: { open: false, locked: true, inserted: true }, next: {}, fail: SENSE.ILLEGAL_REQ_REMOVAL_PREVENTED,
    note: 'locked with a medium: 5/53/02, nothing moves' },
  { on: 'guest-eject', when: { open: false, locked: true, inserted: false }, next: {}, fail: SENSE.NOT_READY_REMOVAL_PREVENTED,
    note: 'locked and empty: 2/53/02, nothing moves' },
  { on: 'guest-eject', when: { open: false }, next: { open: true }, trayMoved: true,
    note: 'blk_eject opens the tray; no UA and no GESN event (the guest knows)' },
  { on: 'guest-eject', when: { open: true }, next: {}, note: 'already open (the lock is not checked)' },
  { on: 'guest-load', when: { open: true }, next: { open: false }, trayMoved: false,
    note: 'closes the tray even while locked; no UA and no GESN event' },
  { on: 'guest-load', when: { open: false }, next: {}, note: 'already closed' },
  // PREVENT ALLOW MEDIUM REMOVAL: the lock is independent of the tray position
  { on: 'guest-prevent', when: {}, next: { locked: true }, note: 'locks, open tray or not' },
  { on: 'guest-allow', when: {}, next: { locked: false }, note: 'unlocks; a pending eject request stays for GESN' },
  // the medium check every medium-bound command makes first
  { on: 'guest-medium-access', when: { open: true }, next: {}, fail: SENSE.NO_MEDIUM, note: 'tray open: 2/3A/00' },
  { on: 'guest-medium-access', when: { inserted: false }, next: {}, fail: SENSE.NO_MEDIUM, note: 'no medium: 2/3A/00' },
  { on: 'guest-medium-access', when: {}, next: {}, note: 'medium readable' },
  // GET EVENT STATUS NOTIFICATION, media class: a pending event is held back while the tray is open
  { on: 'guest-gesn-media', when: { open: true }, next: {}, gesn: GESN_MEDIA.NO_CHANGE, note: 'tray open: events wait' },
  { on: 'guest-gesn-media', when: { mediaEvent: true }, next: { mediaEvent: false }, gesn: GESN_MEDIA.NEW_MEDIA,
    note: 'new media, reported once (before an eject request)' },
  { on: 'guest-gesn-media', when: { ejectRequest: true }, next: { ejectRequest: false }, gesn: GESN_MEDIA.EJECT_REQUEST,
    note: 'eject requested, reported once' },
  { on: 'guest-gesn-media', when: {}, next: {}, gesn: GESN_MEDIA.NO_CHANGE, note: 'nothing pending' },
  // the UA sequence of a medium change: 3A/00 first, then 28/00
  { on: 'ua-reported', when: { mediaChanged: true }, next: { mediaChanged: false }, ua: SENSE.MEDIUM_CHANGED,
    note: 'the reported UA was the 3A/00 (or one that displaced it): 28/00 follows' },
  { on: 'ua-reported', when: {}, next: {}, note: 'no medium change pending' },
  // change_media_cb: both directions raise 3A/00 and a GESN "new media"; the lock is left alone
  { on: 'host-unload', when: { open: false }, next: { open: true, mediaChanged: false, mediaEvent: true, ejectRequest: false },
    ua: SENSE.UNIT_ATTENTION_NO_MEDIUM, trayMoved: true, note: 'host opens the tray' },
  { on: 'host-unload', when: { open: true }, next: { mediaChanged: false, mediaEvent: true, ejectRequest: false },
    ua: SENSE.UNIT_ATTENTION_NO_MEDIUM, note: 'already open: state flags only, no DEVICE_TRAY_MOVED' },
  { on: 'host-load', when: { open: true }, next: { open: false, mediaChanged: true, mediaEvent: true, ejectRequest: false },
    ua: SENSE.UNIT_ATTENTION_NO_MEDIUM, trayMoved: false, note: 'host closes the tray: 3A/00 now, 28/00 once reported' },
  { on: 'host-load', when: { open: false }, next: { mediaChanged: true, mediaEvent: true, ejectRequest: false },
    ua: SENSE.UNIT_ATTENTION_NO_MEDIUM, note: 'already closed: state flags only, no DEVICE_TRAY_MOVED' },
  // eject_request_cb
  { on: 'host-eject-request', when: {}, next: { ejectRequest: true }, note: 'ask the guest (GESN eject request)' },
  { on: 'host-eject-request-force', when: {}, next: { ejectRequest: true, locked: false }, note: 'ask, and drop the lock' },
  // scsi_disk_reset (the 29/00 comes from purging the requests, before this row)
  { on: 'reset', when: {}, next: { open: false, locked: false }, note: 'unlock and close; no DEVICE_TRAY_MOVED, pending events stay' },
];

/** The first row of CD_TRAY_TABLE that applies; the table is total, so one always does. */
export function trayRow(s: TrayState, inserted: boolean, ev: TrayEvent): TrayRow {
  const at: TrayState & { inserted: boolean } = { ...s, inserted };
  const row = CD_TRAY_TABLE.find((r) => r.on === ev && Object.entries(r.when).every(([k, v]) => at[k as keyof typeof at] === v));
  if (!row) throw new Error(`CD_TRAY_TABLE has no row for ${ev}`);
  return row;
}

/** The state after `row` (a failing row changes nothing). */
export function trayNext(s: TrayState, row: TrayRow): TrayState {
  return row.fail ? s : { ...s, ...row.next };
}

/** GESN media status byte: 1 tray open, 2 medium present (tray closed), 0 neither. */
export function trayMediaStatus(s: TrayState, inserted: boolean): number {
  return s.open ? 1 : inserted ? 2 : 0;
}

export const TRAY_INITIAL: TrayState = { open: false, locked: false, mediaChanged: false, mediaEvent: false, ejectRequest: false };

export class ScsiDisk extends ScsiDevice {
  readonly kind: ScsiDiskKind;
  readonly blk: BlockBackend | undefined;
  readonly vendor: string;
  readonly product: string;
  readonly version: string;
  readonly serial: string | undefined;
  readonly deviceId: string | undefined;
  readonly wwn: bigint;
  readonly portWwn: bigint;
  readonly portIndex: number;
  readonly removable: boolean;
  readonly dpofua: boolean;
  #blocksize: number;
  readonly physicalBlockSize: number;
  readonly minIoSize: number;
  readonly optIoSize: number;
  readonly discardGranularity: number;
  readonly maxUnmapSize: number;
  readonly maxIoSize: number;
  readonly rotationRate: number;
  readonly defaultScsiVersion: number;
  readonly cyls: number;
  readonly heads: number;
  readonly secs: number;
  readonly rerror: BlockErrorPolicy | undefined;
  readonly werror: BlockErrorPolicy | undefined;
  maxLba = 0;
  /** Tray, lock and pending medium events; changed only by #trayEvent (CD_TRAY_TABLE). */
  #tray: TrayState = TRAY_INITIAL;
  hooks: ScsiDiskHooks;
  /** Scratch for emulated data-in replies (allocation lengths are capped at 65536). */
  readonly #out = new Uint8Array(65536);

  constructor(kind: ScsiDiskKind, p: ScsiDiskProps, hooks: ScsiDiskHooks = {}) {
    super({ channel: p.channel ?? 0, id: p.scsiId ?? -1, lun: p.lun ?? -1, qdevId: p.qdevId });
    this.kind = kind;
    this.blk = p.drive;
    this.hooks = hooks;
    const cd = kind === 'scsi-cd';
    this.vendor = p.vendor ?? 'QEMU';
    this.product = p.product ?? (cd ? 'QEMU CD-ROM' : 'QEMU HARDDISK');
    this.version = p.ver ?? QEMU_HW_VERSION;
    this.serial = p.serial;
    this.deviceId = p.deviceId ?? (p.serial !== undefined ? p.serial.slice(0, 20) : p.drive?.name);
    this.wwn = p.wwn ?? 0n;
    this.portWwn = p.portWwn ?? 0n;
    this.portIndex = p.portIndex ?? 0;
    this.removable = cd || (p.removable ?? false);
    this.dpofua = !cd && (p.dpofua ?? false);
    const lbs = p.logicalBlockSize ?? 512;
    this.physicalBlockSize = p.physicalBlockSize ?? lbs;
    this.#blocksize = cd ? (p.physicalBlockSize ?? 2048) : lbs;
    this.minIoSize = p.minIoSize ?? 0;
    this.optIoSize = p.optIoSize ?? 0;
    this.discardGranularity = p.discardGranularity ?? Math.max(lbs, 4096);
    this.maxUnmapSize = p.maxUnmapSize ?? 1 << 30;
    this.maxIoSize = p.maxIoSize ?? INT_MAX;
    this.rotationRate = cd ? 0 : (p.rotationRate ?? 0);
    this.defaultScsiVersion = p.scsiVersion ?? 5;
    this.scsiVersion = this.defaultScsiVersion;
    const g = p.cyls && p.heads && p.secs ? { cyls: p.cyls, heads: p.heads, secs: p.secs } : guessGeometry(p.drive);
    this.cyls = g.cyls;
    this.heads = g.heads;
    this.secs = g.secs;
    this.rerror = p.rerror === 'auto' ? undefined : p.rerror;
    this.werror = p.werror === 'auto' ? undefined : p.werror;
    if (p.drive && p.writeCache && p.writeCache !== 'auto') p.drive.enableWriteCache = p.writeCache === 'on';
    if (p.drive && !cd) p.drive.onResize(() => this.reportChange(SENSE.CAPACITY_CHANGED));
    this.#computeMaxLba();
  }

  override get driveName(): string | undefined {
    return this.blk?.name;
  }

  get type(): number {
    return this.kind === 'scsi-cd' ? TYPE_ROM : TYPE_DISK;
  }
  get blocksize(): number {
    return this.#blocksize;
  }

  // ---- medium / tray (BlockDevOps) ----

  get tray(): TrayState {
    return this.#tray;
  }
  /** Writable for tests that set a state up directly; the device itself moves only through #trayEvent. */
  get trayOpen(): boolean {
    return this.#tray.open;
  }
  set trayOpen(open: boolean) {
    this.#tray = { ...this.#tray, open };
  }
  get trayLocked(): boolean {
    return this.#tray.locked;
  }
  set trayLocked(locked: boolean) {
    this.#tray = { ...this.#tray, locked };
  }
  get mediaChanged(): boolean {
    return this.#tray.mediaChanged;
  }
  get mediaEvent(): boolean {
    return this.#tray.mediaEvent;
  }
  get ejectRequest(): boolean {
    return this.#tray.ejectRequest;
  }

  /** Runs one tray event through CD_TRAY_TABLE and carries out the row's effects but `fail` and `gesn`. */
  #trayEvent(ev: TrayEvent): TrayRow {
    const row = trayRow(this.#tray, this.blk?.inserted ?? false, ev);
    this.#tray = trayNext(this.#tray, row);
    if (row.ua) this.setUa(row.ua);
    if (row.trayMoved !== undefined) this.hooks.onTrayMoved?.(row.trayMoved);
    return row;
  }

  /** blk_is_available: a medium is inserted and the tray is closed. */
  get available(): boolean {
    return trayRow(this.#tray, this.blk?.inserted ?? false, 'guest-medium-access').fail === undefined;
  }

  #nbSectors(): number {
    return this.blk?.inserted ? this.blk.nbSectors : 0;
  }

  #computeMaxLba(): void {
    const n = Math.floor(this.#nbSectors() / (this.#blocksize / BDRV_SECTOR_SIZE));
    this.maxLba = n ? n - 1 : 0;
  }

  /** scsi_cd_change_media_cb: the monitor loaded (true) or unloaded (false) the medium. */
  changeMediaCb(load: boolean): void {
    this.#trayEvent(load ? 'host-load' : 'host-unload');
  }

  /** scsi_cd_eject_request_cb: the host asked to eject; `force` drops the guest's lock. */
  ejectRequestCb(force: boolean): void {
    this.#trayEvent(force ? 'host-eject-request-force' : 'host-eject-request');
  }

  isTrayOpen(): boolean {
    return this.trayOpen;
  }
  isMediumLocked(): boolean {
    return this.trayLocked;
  }

  override unitAttentionReported(): void {
    this.#trayEvent('ua-reported');
  }

  /** scsi_disk_reset (cold reset). */
  override reset(): void {
    this.purgeRequests(SENSE.RESET, true);
    this.#computeMaxLba();
    this.#trayEvent('reset');
    this.scsiVersion = this.defaultScsiVersion;
  }

  // ---- command entry ----

  #checkCondition(req: ScsiReq, sense: ScsiSense): void {
    this.bus?.trace?.('scsi_disk_check_condition', { tag: req.tag32, key: sense.key, asc: sense.asc, ascq: sense.ascq });
    this.bus!.buildSense(req, sense);
    this.bus!.complete(req, CHECK_CONDITION);
  }

  sendCommand(req: ScsiReq): number {
    return DMA_OPS.has(req.cmd.buf[0]!) ? this.#dmaCommand(req) : this.#emulateCommand(req);
  }

  readData(req: ScsiReq): void {
    if (DMA_OPS.has(req.cmd.buf[0]!)) this.#dmaReadData(req);
    else this.#emulateReadData(req);
  }

  writeData(req: ScsiReq): void {
    if (DMA_OPS.has(req.cmd.buf[0]!)) this.#dmaWriteData(req);
    else this.#emulateWriteData(req);
  }

  // ---- emulated commands (scsi_disk_emulate_command) ----

  #emulateCommand(req: ScsiReq): number {
    const b = req.cmd.buf;
    const bus = this.bus!;
    const t = bus.trace;
    const noMedium = NO_MEDIUM_CHECK.has(b[0]!) ? undefined : this.#trayEvent('guest-medium-access').fail;
    if (noMedium) {
      this.#checkCondition(req, noMedium);
      return 0;
    }
    const xfer = req.cmd.xfer;
    if (xfer > 65536) return this.#illegal(req);
    const buflen = Math.max(4096, xfer);
    const toDev = req.cmd.mode === 'to-dev';
    const out = toDev ? new Uint8Array(buflen) : this.#out;
    if (!toDev) out.fill(0, 0, buflen);
    const e = parseEmulated(b);
    switch (e.kind) {
      case 'tur':
        break;
      case 'inquiry':
        if (this.#inquiry(req, out) < 0) return this.#illegal(req);
        break;
      case 'mode-sense':
        if (this.#modeSense(req, out) < 0) return this.#illegal(req);
        break;
      case 'read-toc':
        if (this.#readToc(req, out) < 0) return this.#illegal(req);
        break;
      case 'reserve-release':
        if (e.badBits) return this.#illegal(req);
        break;
      case 'start-stop':
        if (this.#startStop(req, e) < 0) return 0;
        break;
      case 'prevent-allow':
        this.#trayEvent(e.prevent ? 'guest-prevent' : 'guest-allow');
        break;
      case 'read-capacity-10': {
        const nb = this.#nbSectors();
        if (!nb) {
          this.#checkCondition(req, SENSE.LUN_NOT_READY);
          return 0;
        }
        if ((b[8]! & 1) === 0 && req.cmd.lba) return this.#illegal(req);
        const last = Math.floor(nb / (this.#blocksize / BDRV_SECTOR_SIZE)) - 1;
        this.maxLba = last;
        put32(out, 0, Math.min(last, 0xffffffff)); // RETURNED LOGICAL BLOCK ADDRESS, clipped
        out[6] = (this.#blocksize >> 8) & 0xff; // block length (bits 8-15 only, as QEMU)
        break;
      }
      case 'request-sense':
        convertSense(null, 0, out, buflen, (b[1]! & 1) === 0);
        break;
      case 'mechanism-status':
        if (this.type !== TYPE_ROM) return this.#illegal(req);
        out[5] = 1; // number of slots: CD-ROM
        break;
      case 'get-configuration':
        if (this.#getConfiguration(out) < 0) return this.#illegal(req);
        break;
      case 'gesn':
        if (this.#gesn(req, out) < 0) return this.#illegal(req);
        break;
      case 'read-disc-information':
        if (this.#readDiscInformation(req, out) < 0) return this.#illegal(req);
        break;
      case 'read-dvd-structure':
        if (this.#readDvdStructure(req, out) < 0) return this.#illegal(req);
        break;
      case 'service-action-in-16': {
        if (e.sa !== 0x10) {
          t?.('scsi_disk_emulate_command_SAI_unsupported', {});
          return this.#illegal(req);
        }
        t?.('scsi_disk_emulate_command_SAI_16', {});
        const nb = this.#nbSectors();
        if (!nb) {
          this.#checkCondition(req, SENSE.LUN_NOT_READY);
          return 0;
        }
        if ((b[14]! & 1) === 0 && req.cmd.lba) return this.#illegal(req);
        const last = Math.floor(nb / (this.#blocksize / BDRV_SECTOR_SIZE)) - 1;
        this.maxLba = last;
        put64(out, 0, last); // RETURNED LOGICAL BLOCK ADDRESS
        out[10] = (this.#blocksize >> 8) & 0xff; // LOGICAL BLOCK LENGTH (bits 8-15)
        out[13] = Math.log2(Math.max(1, this.physicalBlockSize / this.#blocksize)) | 0; // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT
        if (this.discardGranularity) out[14] = 0x80; // LBPME
        break;
      }
      case 'synchronize-cache':
        req.aio = this.blk!.flush(aioComplete, req);
        return 0;
      case 'seek-10':
        t?.('scsi_disk_emulate_command_SEEK_10', { lba: req.cmd.lba });
        if (req.cmd.lba > this.maxLba) {
          this.#checkCondition(req, SENSE.LBA_OUT_OF_RANGE);
          return 0;
        }
        break;
      case 'data-out':
        switch (e.what) {
          case 'mode-select':
            t?.('scsi_disk_emulate_command_MODE_SELECT', { xfer });
            break;
          case 'mode-select-10':
            t?.('scsi_disk_emulate_command_MODE_SELECT_10', { xfer });
            break;
          case 'unmap':
            t?.('scsi_disk_emulate_command_UNMAP', { xfer });
            break;
          case 'verify':
            t?.('scsi_disk_emulate_command_VERIFY', { bytchk: (b[1]! >> 1) & 3 });
            if (b[1]! & 6) return this.#illegal(req);
            break;
          case 'write-same':
            t?.('scsi_disk_emulate_command_WRITE_SAME', { cmd: b[0] === OP.WRITE_SAME_10 ? 10 : 16, xfer });
            break;
          case 'format-unit':
            t?.('scsi_disk_emulate_command_FORMAT_UNIT', { xfer });
            break;
        }
        break;
      case 'unknown':
        t?.('scsi_disk_emulate_command_UNKNOWN', { cmd: b[0]!, name: scsiCommandName(b[0]!) });
        this.#checkCondition(req, SENSE.INVALID_OPCODE);
        return 0;
    }
    req.buf = out;
    req.len = Math.min(buflen, xfer);
    if (req.len === 0) bus.complete(req, GOOD);
    return toDev ? -req.len : req.len;
  }

  #illegal(req: ScsiReq): number {
    if (req.status === -1) this.#checkCondition(req, SENSE.INVALID_FIELD);
    return 0;
  }

  #emulateReadData(req: ScsiReq): void {
    const n = req.len;
    if (n) {
      this.bus?.trace?.('scsi_disk_emulate_read_data', { buflen: n });
      req.len = 0;
      req.started = true;
      this.bus!.reqData(req, req.buf!, n);
      return;
    }
    this.bus!.complete(req, GOOD);
  }

  #emulateWriteData(req: ScsiReq): void {
    const n = req.len;
    if (n) {
      this.bus?.trace?.('scsi_disk_emulate_write_data', { buflen: n });
      req.len = 0;
      this.bus!.reqData(req, req.buf!, n);
      return;
    }
    const inbuf = req.buf!;
    switch (req.cmd.buf[0]) {
      case OP.MODE_SELECT:
      case OP.MODE_SELECT_10:
        this.#modeSelect(req, inbuf);
        break;
      case OP.UNMAP:
        this.#unmap(req, inbuf);
        break;
      case OP.VERIFY_10:
      case OP.VERIFY_12:
      case OP.VERIFY_16:
        if (req.status === -1) this.#checkCondition(req, SENSE.INVALID_FIELD);
        break;
      case OP.WRITE_SAME_10:
      case OP.WRITE_SAME_16:
        this.#writeSame(req, inbuf);
        break;
      default: // FORMAT UNIT
        this.bus!.complete(req, GOOD);
    }
  }

  // ---- INQUIRY ----

  #inquiry(req: ScsiReq, out: Uint8Array): number {
    const b = req.cmd.buf;
    if (b[1]! & 0x1) return this.#vpdPage(req, out);
    if (b[2] !== 0) return -1;
    const buflen = Math.min(req.cmd.xfer, SCSI_MAX_INQUIRY_LEN);
    out[0] = this.type & 0x1f; // PERIPHERAL DEVICE TYPE
    out[1] = this.removable ? 0x80 : 0; // RMB
    writePadded(out, 16, 16, this.product, 0x20); // PRODUCT IDENTIFICATION
    writePadded(out, 8, 8, this.vendor, 0x20); // T10 VENDOR IDENTIFICATION
    writePadded(out, 32, 4, this.version.slice(0, 4), 0); // PRODUCT REVISION LEVEL
    out[2] = this.defaultScsiVersion; // VERSION
    out[3] = 0x12; // HiSup, RESPONSE DATA FORMAT 2
    out[4] = buflen > 36 ? (buflen - 5) & 0xff : 31; // ADDITIONAL LENGTH
    out[7] = 0x10 | (this.bus?.info.tcq ? 0x02 : 0); // Sync, CmdQue
    return buflen;
  }

  #vpdPage(req: ScsiReq, out: Uint8Array): number {
    const page = req.cmd.buf[2]!;
    const t = this.bus?.trace;
    const xfer = req.cmd.xfer;
    let n = 0;
    out[n++] = this.type & 0x1f;
    out[n++] = page;
    out[n++] = 0;
    out[n++] = 0;
    const start = n;
    switch (page) {
      case 0x00:
        t?.('scsi_disk_emulate_vpd_page_00', { xfer });
        out[n++] = 0x00;
        if (this.serial !== undefined) out[n++] = 0x80;
        out[n++] = 0x83;
        if (this.type === TYPE_DISK) {
          out[n++] = 0xb0;
          out[n++] = 0xb1;
          out[n++] = 0xb2;
        }
        break;
      case 0x80: {
        if (this.serial === undefined) {
          t?.('scsi_disk_emulate_vpd_page_80_not_supported', {});
          return -1;
        }
        t?.('scsi_disk_emulate_vpd_page_80', { xfer });
        const s = this.serial.slice(0, 36);
        writePadded(out, n, s.length, s, 0);
        n += s.length;
        break;
      }
      case 0x83: {
        t?.('scsi_disk_emulate_vpd_page_83', { xfer });
        const id = (this.deviceId ?? '').slice(0, 255 - 8);
        if (id.length) {
          out[n++] = 0x2; // code set: ASCII
          out[n++] = 0; // designator type: vendor specific
          out[n++] = 0;
          out[n++] = id.length;
          writePadded(out, n, id.length, id, 0);
          n += id.length;
        }
        if (this.wwn) {
          out[n++] = 0x1; // binary
          out[n++] = 0x3; // NAA
          out[n++] = 0;
          out[n++] = 8;
          put64(out, n, this.wwn);
          n += 8;
        }
        if (this.portWwn) {
          out[n++] = 0x61; // SAS, binary
          out[n++] = 0x93; // PIV, target port, NAA
          out[n++] = 0;
          out[n++] = 8;
          put64(out, n, this.portWwn);
          n += 8;
        }
        if (this.portIndex) {
          out[n++] = 0x61; // SAS, binary
          out[n++] = 0x94; // PIV, target port, relative target port
          out[n++] = 0;
          out[n++] = 4;
          put16(out, n + 2, this.portIndex);
          n += 4;
        }
        break;
      }
      case 0xb0: {
        if (this.type === TYPE_ROM) {
          t?.('scsi_disk_emulate_vpd_page_b0_not_supported', {});
          return -1;
        }
        const bs = this.#blocksize;
        let maxIo = Math.floor(this.maxIoSize / bs);
        const blkMax = Math.floor((this.blk?.maxTransfer ?? 0) / bs);
        maxIo = blkMax && maxIo ? Math.min(blkMax, maxIo) : blkMax || maxIo;
        const minIo = Math.floor(this.minIoSize / bs);
        const optIo = Math.floor(this.optIoSize / bs);
        const p = n; // scsi_emulate_block_limits writes from byte 4
        out[p] = 1; // WSNZ
        put16(out, p + 2, maxIo ? Math.min(minIo, maxIo) : minIo); // OPTIMAL TRANSFER LENGTH GRANULARITY
        if (maxIo) put32(out, p + 4, maxIo); // MAXIMUM TRANSFER LENGTH
        put32(out, p + 8, maxIo ? Math.min(optIo, maxIo) : optIo); // OPTIMAL TRANSFER LENGTH
        put32(out, p + 16, Math.floor(this.maxUnmapSize / bs)); // MAXIMUM UNMAP LBA COUNT
        put32(out, p + 20, 255); // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
        put32(out, p + 24, Math.floor(this.discardGranularity / bs)); // OPTIMAL UNMAP GRANULARITY
        put32(out, p + 36, maxIo); // MAXIMUM WRITE SAME LENGTH (low 32 bits)
        n += 0x3c;
        break;
      }
      case 0xb1:
        n = 0x40;
        put16(out, 4, this.rotationRate); // MEDIUM ROTATION RATE
        break;
      case 0xb2:
        n = 8;
        out[5] = 0xe0; // LBPU, LBPWS, LBPWS10
        out[6] = this.discardGranularity ? 2 : 1; // PROVISIONING TYPE: thin / resource
        break;
      default:
        return -1;
    }
    out[start - 1] = (n - start) & 0xff; // PAGE LENGTH
    return n;
  }

  // ---- MODE SENSE / MODE SELECT ----

  /** mode_sense_page: writes page `page` at `out[off]`; returns its length or -1. */
  #modeSensePage(page: number, out: Uint8Array, off: number, pc: number): number {
    const disk = this.type === TYPE_DISK;
    const p = off + 2;
    let length: number;
    switch (page) {
      case MODE_PAGE_HD_GEOMETRY: {
        if (!disk) return -1;
        length = 0x16;
        if (pc === 1) break;
        const c = this.cyls;
        out[p] = (c >> 16) & 0xff; // number of cylinders
        out[p + 1] = (c >> 8) & 0xff;
        out[p + 2] = c & 0xff;
        out[p + 3] = this.heads & 0xff; // number of heads
        out[p + 4] = (c >> 16) & 0xff; // write precompensation start (disabled)
        out[p + 5] = (c >> 8) & 0xff;
        out[p + 6] = c & 0xff;
        out[p + 7] = (c >> 16) & 0xff; // reduced write current start (disabled)
        out[p + 8] = (c >> 8) & 0xff;
        out[p + 9] = c & 0xff;
        out[p + 11] = 200; // device step rate: 200 ns
        out[p + 12] = 0xff; // landing zone cylinder
        out[p + 13] = 0xff;
        out[p + 14] = 0xff;
        put16(out, p + 18, 5400); // medium rotation rate
        break;
      }
      case MODE_PAGE_FLEXIBLE_DISK_GEOMETRY: {
        if (!disk) return -1;
        length = 0x1e;
        if (pc === 1) break;
        const c = this.cyls;
        put16(out, p, 5000); // transfer rate: 5 Mbit/s
        out[p + 2] = this.heads & 0xff;
        out[p + 3] = this.secs & 0xff;
        out[p + 4] = (this.#blocksize >> 8) & 0xff; // data bytes per sector
        out[p + 6] = (c >> 8) & 0xff; // number of cylinders
        out[p + 7] = c & 0xff;
        out[p + 8] = (c >> 8) & 0xff; // write precompensation start
        out[p + 9] = c & 0xff;
        out[p + 10] = (c >> 8) & 0xff; // reduced write current start
        out[p + 11] = c & 0xff;
        out[p + 13] = 1; // device step rate: 100 µs
        out[p + 14] = 1; // step pulse width: 1 µs
        out[p + 16] = 1; // head settle delay: 100 µs
        out[p + 17] = 1; // motor on delay: 0.1 s
        out[p + 18] = 1; // motor off delay: 0.1 s
        put16(out, p + 26, 5400); // medium rotation rate
        break;
      }
      case MODE_PAGE_CACHING:
        length = 0x12;
        if (pc === 1 || (this.blk?.enableWriteCache ?? false)) out[p] = 4; // WCE
        break;
      case MODE_PAGE_R_W_ERROR:
        length = 10;
        if (pc === 1) {
          if (!disk) out[p] = 0x80; // AWRE changeable on CD
          break;
        }
        out[p] = 0x80; // AWRE
        if (!disk) out[p + 1] = 0x20; // read retry count
        break;
      case MODE_PAGE_AUDIO_CTL:
        if (disk) return -1;
        length = 14;
        break;
      case MODE_PAGE_CAPABILITIES:
        if (disk) return -1;
        length = 0x14;
        if (pc === 1) break;
        out[p] = 0x3b; // CD-R & CD-RW read
        out[p + 1] = 0; // no writing
        out[p + 2] = 0x7f; // audio, composite, digital out, mode 2 form 1&2, multi session
        out[p + 3] = 0xff; // CD-DA, accurate, R-W, C2, ISRC, UPC, bar code
        out[p + 4] = 0x2d | (this.trayLocked ? 2 : 0); // lock supported, jumper, eject, tray (+locked)
        out[p + 5] = 0;
        put16(out, p + 6, 50 * 176); // max read speed: 50x
        put16(out, p + 8, 2); // volume levels
        put16(out, p + 10, 2048); // buffer size: 2 MB
        put16(out, p + 12, 16 * 176); // current read speed: 16x
        put16(out, p + 16, 16 * 176); // max write speed
        put16(out, p + 18, 16 * 176); // current write speed
        break;
      default:
        return -1;
    }
    out[off] = page;
    out[off + 1] = length;
    return length + 2;
  }

  #modeSense(req: ScsiReq, out: Uint8Array): number {
    const b = req.cmd.buf;
    let dbd = (b[1]! & 0x8) !== 0;
    const page = b[2]! & 0x3f;
    const pc = (b[2]! & 0xc0) >> 6;
    const six = b[0] === OP.MODE_SENSE;
    this.bus?.trace?.('scsi_disk_emulate_mode_sense', { cmd: six ? 6 : 10, page, xfer: req.cmd.xfer, page_control: pc });
    let devSpecific = 0;
    if (this.type === TYPE_DISK) {
      devSpecific = this.dpofua ? 0x10 : 0; // DPOFUA
      if (!(this.blk?.writable ?? false)) devSpecific |= 0x80; // WP
    } else {
      dbd = true; // MMC: no block descriptors
    }
    let p: number;
    if (six) {
      out[2] = devSpecific;
      p = 4;
    } else {
      out[3] = devSpecific;
      p = 8;
    }
    let nb = this.#nbSectors();
    if (!dbd && nb) {
      if (six) out[3] = 8; // block descriptor length
      else out[7] = 8;
      nb = Math.floor(nb / (this.#blocksize / BDRV_SECTOR_SIZE));
      if (nb > 0xffffff) nb = 0;
      out[p + 1] = (nb >> 16) & 0xff; // number of blocks
      out[p + 2] = (nb >> 8) & 0xff;
      out[p + 3] = nb & 0xff;
      out[p + 6] = (this.#blocksize >> 8) & 0xff; // block length (bits 8-15)
      p += 8;
    }
    if (pc === 3) {
      this.#checkCondition(req, SENSE.SAVING_PARAMS_NOT_SUPPORTED);
      return -1;
    }
    if (page === MODE_PAGE_ALLS) {
      for (let pg = 0; pg <= 0x3e; pg++) {
        const l = this.#modeSensePage(pg, out, p, pc);
        if (l > 0) p += l;
      }
    } else {
      const l = this.#modeSensePage(page, out, p, pc);
      if (l < 0) return -1;
      p += l;
    }
    if (six) out[0] = (p - 1) & 0xff; // MODE DATA LENGTH
    else put16(out, 0, p - 2);
    return p;
  }

  #checkModeSelect(page: number, inbuf: Uint8Array, at: number, inlen: number): boolean {
    if (inlen + 2 > 256 || page === MODE_PAGE_ALLS) return false;
    const cur = new Uint8Array(256);
    const chg = new Uint8Array(256);
    const len = this.#modeSensePage(page, cur, 0, 0);
    if (len < 0 || len !== inlen + 2) return false;
    this.#modeSensePage(page, chg, 0, 1);
    for (let i = 2; i < len; i++) if (((cur[i]! ^ (inbuf[at + i - 2] ?? 0)) & ~chg[i]!) !== 0) return false;
    return true;
  }

  #modeSelectPages(req: ScsiReq, inbuf: Uint8Array, p: number, len: number, change: boolean): boolean {
    while (len > 0) {
      const page = inbuf[p]! & 0x3f;
      let subpage: number;
      let pageLen: number;
      if (inbuf[p]! & 0x40) {
        if (len < 4) return this.#fail(req, SENSE.INVALID_PARAM_LEN);
        subpage = inbuf[p + 1]!;
        pageLen = get16(inbuf, p + 2);
        p += 4;
        len -= 4;
      } else {
        if (len < 2) return this.#fail(req, SENSE.INVALID_PARAM_LEN);
        subpage = 0;
        pageLen = inbuf[p + 1]!;
        p += 2;
        len -= 2;
      }
      if (subpage) return this.#fail(req, SENSE.INVALID_PARAM);
      if (pageLen > len) return this.#fail(req, SENSE.INVALID_PARAM_LEN);
      if (!change) {
        if (!this.#checkModeSelect(page, inbuf, p, pageLen)) return this.#fail(req, SENSE.INVALID_PARAM);
      } else if (page === MODE_PAGE_CACHING && this.blk) {
        this.blk.enableWriteCache = (inbuf[p]! & 4) !== 0;
      }
      p += pageLen;
      len -= pageLen;
    }
    return true;
  }

  #fail(req: ScsiReq, sense: ScsiSense): false {
    this.#checkCondition(req, sense);
    return false;
  }

  #modeSelect(req: ScsiReq, inbuf: Uint8Array): void {
    const b = req.cmd.buf;
    const six = b[0] === OP.MODE_SELECT;
    let len = req.cmd.xfer;
    const hdr = six ? 4 : 8;
    if ((b[1]! & 0x11) !== 0x10) {
      this.#checkCondition(req, SENSE.INVALID_FIELD); // only PF=1, SP=0
      return;
    }
    if (len < hdr) {
      this.#checkCondition(req, SENSE.INVALID_PARAM_LEN);
      return;
    }
    const bdLen = six ? inbuf[3]! : get16(inbuf, 6);
    len -= hdr;
    let p = hdr;
    if (len < bdLen) {
      this.#checkCondition(req, SENSE.INVALID_PARAM_LEN);
      return;
    }
    if (bdLen !== 0 && bdLen !== 8) {
      this.#checkCondition(req, SENSE.INVALID_PARAM);
      return;
    }
    if (bdLen) {
      const bs = (inbuf[p + 5]! << 16) | (inbuf[p + 6]! << 8) | inbuf[p + 7]!;
      if (bs && !(bs & ~0xfe00) && bs !== this.#blocksize) {
        this.#blocksize = bs;
        this.bus?.trace?.('scsi_disk_mode_select_set_blocksize', { blocksize: bs });
      }
    }
    len -= bdLen;
    p += bdLen;
    if (!this.#modeSelectPages(req, inbuf, p, len, false)) return;
    this.#modeSelectPages(req, inbuf, p, len, true);
    if (!(this.blk?.enableWriteCache ?? true)) {
      req.aio = this.blk!.flush(aioComplete, req);
      return;
    }
    this.bus!.complete(req, GOOD);
  }

  // ---- UNMAP / WRITE SAME ----

  #checkLbaRange(lba: number, n: number): boolean {
    return lba + n <= this.maxLba + 1;
  }

  #unmap(req: ScsiReq, p: Uint8Array): void {
    const len = req.cmd.xfer;
    if (req.cmd.buf[1]! & 1) {
      this.#checkCondition(req, SENSE.INVALID_FIELD); // ANCHOR
      return;
    }
    if (len < 8 || len < get16(p, 0) + 2 || len < get16(p, 2) + 8 || get16(p, 2) & 15) {
      this.#checkCondition(req, SENSE.INVALID_PARAM_LEN);
      return;
    }
    if (!this.blk?.writable) {
      this.#checkCondition(req, SENSE.WRITE_PROTECTED);
      return;
    }
    req.unmapCount = get16(p, 2) >> 4;
    req.unmapPos = 8;
    this.unmapNext(req);
  }

  /** scsi_unmap_complete_noio: one descriptor at a time. */
  unmapNext(req: ScsiReq): void {
    if (req.unmapCount > 0) {
      const p = req.buf!;
      const lba = get32(p, req.unmapPos) * 0x1_0000_0000 + get32(p, req.unmapPos + 4);
      const n = get32(p, req.unmapPos + 8);
      if (!this.#checkLbaRange(lba, n)) {
        this.#checkCondition(req, SENSE.LBA_OUT_OF_RANGE);
        return;
      }
      req.unmapCount--;
      req.unmapPos += 16;
      req.aio = this.blk!.discard(lba * this.#blocksize, n * this.#blocksize, unmapComplete, req);
      return;
    }
    this.bus!.complete(req, GOOD);
  }

  #writeSame(req: ScsiReq, inbuf: Uint8Array): void {
    const b = req.cmd.buf;
    const n = scsiDataCdbXfer(b);
    if (n === 0 || b[1]! & 0x16) {
      this.#checkCondition(req, SENSE.INVALID_FIELD);
      return;
    }
    if (!this.blk?.writable) {
      this.#checkCondition(req, SENSE.WRITE_PROTECTED);
      return;
    }
    if (!this.#checkLbaRange(req.cmd.lba, n)) {
      this.#checkCondition(req, SENSE.LBA_OUT_OF_RANGE);
      return;
    }
    const bs = this.#blocksize;
    let zero = true;
    for (let i = 0; i < bs; i++) if (inbuf[i]) zero = false;
    if (b[1]! & 0x1 || zero) {
      req.aio = this.blk.writeZeroes(req.cmd.lba * bs, n * bs, aioComplete, req);
      return;
    }
    const data = new Uint8Array(n * bs);
    for (let i = 0; i < data.length; i += bs) data.set(inbuf.subarray(0, bs), i);
    req.aio = this.blk.write(req.cmd.lba * bs, data, aioComplete, req);
  }

  // ---- START STOP UNIT ----

  #startStop(req: ScsiReq, e: { start: boolean; loej: boolean; powerCondition: number }): number {
    if (e.powerCondition) return 0; // only power condition 0 loads or ejects
    if (!this.removable || !e.loej) return 0;
    const row = this.#trayEvent(e.start ? 'guest-load' : 'guest-eject');
    if (row.fail) {
      this.#checkCondition(req, row.fail);
      return -1;
    }
    return 0;
  }

  // ---- CD-ROM ----

  #readToc(req: ScsiReq, out: Uint8Array): number {
    const b = req.cmd.buf;
    const msf = (b[1]! & 2) !== 0;
    const format = b[2]! & 0xf;
    const startTrack = b[6]!;
    this.bus?.trace?.('scsi_disk_emulate_read_toc', { start_track: startTrack, format, msf: msf ? 1 : 0 });
    const nb = Math.floor(this.#nbSectors() / (this.#blocksize / BDRV_SECTOR_SIZE));
    switch (format) {
      case 0:
        return cdromReadToc(nb, out, msf, startTrack);
      case 1:
        out[1] = 0x0a; // TOC data length
        out[2] = 0x01; // first complete session
        out[3] = 0x01; // last complete session
        return 12;
      case 2:
        return cdromReadTocRaw(nb, out, msf);
      default:
        return -1;
    }
  }

  #mediaIsDvd(): boolean {
    return this.type === TYPE_ROM && this.available && this.#nbSectors() > CD_MAX_SECTORS;
  }
  #mediaIsCd(): boolean {
    return this.type === TYPE_ROM && this.available && this.#nbSectors() <= CD_MAX_SECTORS;
  }

  #getConfiguration(out: Uint8Array): number {
    if (this.type !== TYPE_ROM) return -1;
    const current = this.#mediaIsDvd() ? MMC_PROFILE_DVD_ROM : this.#mediaIsCd() ? MMC_PROFILE_CD_ROM : MMC_PROFILE_NONE;
    put32(out, 0, 36); // DATA LENGTH
    put16(out, 6, current); // CURRENT PROFILE
    out[10] = 0x03; // feature 0 (profile list): persistent, current
    out[11] = 8; // additional length: two profiles
    put16(out, 12, MMC_PROFILE_DVD_ROM);
    out[14] = current === MMC_PROFILE_DVD_ROM ? 1 : 0; // CurrentP
    put16(out, 16, MMC_PROFILE_CD_ROM);
    out[18] = current === MMC_PROFILE_CD_ROM ? 1 : 0;
    put16(out, 20, 1); // feature 1: core
    out[22] = 0x08 | 0x03; // version 2, persistent, current
    out[23] = 8;
    put32(out, 24, 1); // physical interface standard: SCSI
    out[28] = 1; // DBE
    put16(out, 32, 3); // feature 3: removable medium
    out[34] = 0x08 | 0x03;
    out[35] = 4;
    out[36] = 0x39; // tray loading mechanism, eject, lock
    return 40;
  }

  #gesn(req: ScsiReq, out: Uint8Array): number {
    const b = req.cmd.buf;
    if (this.type !== TYPE_ROM) return -1;
    if ((b[1]! & 1) === 0) return -1; // asynchronous mode not supported
    let size = 4;
    out[3] = 1 << 4; // supported event classes: media
    if (b[4]! & (1 << 4)) {
      out[2] = 4; // notification class: media
      const status = trayMediaStatus(this.#tray, this.blk?.inserted ?? false); // before the row consumes an event
      out[4] = this.#trayEvent('guest-gesn-media').gesn ?? GESN_MEDIA.NO_CHANGE; // media event code
      out[5] = status; // media status: tray open / media present
      size += 4;
    } else {
      out[2] = 0x80; // NEA: no event available
    }
    put16(out, 0, size - 4); // EVENT DATA LENGTH
    return size;
  }

  #readDiscInformation(req: ScsiReq, out: Uint8Array): number {
    if (this.type !== TYPE_ROM) return -1;
    if ((req.cmd.buf[1]! & 7) !== 0) {
      this.#checkCondition(req, SENSE.INVALID_FIELD);
      return -1;
    }
    out[1] = 32; // disc information length
    out[2] = 0xe; // last session complete, disc finalized
    out[3] = 1; // first track on disc
    out[4] = 1; // number of sessions
    out[5] = 1; // first track in last session
    out[6] = 1; // last track in last session
    out[7] = 0x20; // unrestricted use
    return 34;
  }

  #readDvdStructure(req: ScsiReq, out: Uint8Array): number {
    const CAPS: readonly number[] = [2048 + 4, 4 + 4, 0, 188 + 4, 2048 + 4];
    const b = req.cmd.buf;
    const layer = b[6]!;
    const format = b[7]!;
    if (this.type !== TYPE_ROM) return -1;
    if (b[1] !== 0) {
      this.#checkCondition(req, SENSE.INVALID_FIELD);
      return -1;
    }
    let size = -1;
    if (format !== 0xff) {
      const noMedium = this.#trayEvent('guest-medium-access').fail;
      if (noMedium) {
        this.#checkCondition(req, noMedium);
        return -1;
      }
      if (this.#mediaIsCd()) {
        this.#checkCondition(req, SENSE.INCOMPATIBLE_FORMAT);
        return -1;
      }
      if (format >= CAPS.length) return -1;
      size = CAPS[format]!;
      out.fill(0, 0, size);
    }
    switch (format) {
      case 0x00: {
        if (layer !== 0) return -1;
        const nb = this.#nbSectors();
        out[4] = 1; // DVD-ROM, part version 1
        out[5] = 0xf; // 120 mm disc
        out[6] = 1; // one layer, read-only
        put32(out, 12, Math.floor(nb / 4) - 1); // end sector
        put32(out, 16, Math.floor(nb / 4) - 1); // layer 0 end sector
        break;
      }
      case 0x01:
      case 0x04:
        break;
      case 0xff:
        size = 4;
        CAPS.forEach((c, i) => {
          if (!c) return;
          out[size] = i;
          out[size + 1] = 0x40; // readable, not writable
          put16(out, size + 2, c);
          size += 4;
        });
        break;
      default:
        return -1;
    }
    put16(out, 0, size - 2);
    return size;
  }

  // ---- DMA commands (scsi_disk_dma_command) ----

  #dmaCommand(req: ScsiReq): number {
    const b = req.cmd.buf;
    const t = this.bus?.trace;
    const noMedium = this.#trayEvent('guest-medium-access').fail;
    if (noMedium) {
      this.#checkCondition(req, noMedium);
      return 0;
    }
    const len = scsiDataCdbXfer(b);
    const op = b[0]!;
    const isRead = op === OP.READ_6 || op === OP.READ_10 || op === OP.READ_12 || op === OP.READ_16;
    if (isRead) {
      t?.('scsi_disk_dma_command_READ', { lba: req.cmd.lba, len });
    } else {
      if (!this.blk!.writable) {
        this.#checkCondition(req, SENSE.WRITE_PROTECTED);
        return 0;
      }
      t?.('scsi_disk_dma_command_WRITE', { cmd: (op & 0xe) === 0xe ? 'And Verify ' : '', lba: req.cmd.lba, len });
    }
    if (this.scsiVersion > 2 && b[1]! & 0xe0) {
      this.#checkCondition(req, SENSE.INVALID_FIELD);
      return 0;
    }
    if (!this.#checkLbaRange(req.cmd.lba, len)) {
      this.#checkCondition(req, SENSE.LBA_OUT_OF_RANGE);
      return 0;
    }
    const spb = this.#blocksize / BDRV_SECTOR_SIZE;
    req.sector = req.cmd.lba * spb;
    req.sectorCount = len * spb;
    // need_fua_emulation: FUA on READ/WRITE(10/12/16), always on WRITE AND VERIFY
    req.needFua = (op & 0xe) === 0xe || (op !== OP.READ_6 && op !== OP.WRITE_6 && (b[1]! & 8) !== 0);
    if (req.sectorCount === 0) this.bus!.complete(req, GOOD);
    const bytes = req.sectorCount * BDRV_SECTOR_SIZE;
    return req.cmd.mode === 'to-dev' ? -bytes : bytes;
  }

  #dmaReadData(req: ScsiReq): void {
    if (req.sectorCount === 0) {
      this.bus!.complete(req, GOOD);
      return;
    }
    if (req.cmd.mode === 'to-dev') {
      this.#rwComplete(req, 'EINVAL');
      return;
    }
    if (!this.available) {
      this.#rwComplete(req, 'ENOMEDIUM');
      return;
    }
    const first = !req.started;
    req.started = true;
    if (first && req.needFua) {
      req.aio = this.blk!.flush(readAfterFlush, req);
      return;
    }
    this.doRead(req);
  }

  /** scsi_do_read: the whole transfer in one backend read, then into the guest's buffers. */
  doRead(req: ScsiReq): void {
    const bytes = req.sectorCount * BDRV_SECTOR_SIZE;
    req.buf = new Uint8Array(bytes);
    req.aio = this.blk!.read(req.sector * BDRV_SECTOR_SIZE, req.buf, dmaComplete, req);
  }

  #dmaWriteData(req: ScsiReq): void {
    if (req.cmd.mode !== 'to-dev') {
      this.#rwComplete(req, 'EINVAL');
      return;
    }
    if (!this.available) {
      this.#rwComplete(req, 'ENOMEDIUM');
      return;
    }
    req.started = true;
    const bytes = req.sectorCount * BDRV_SECTOR_SIZE;
    const data = new Uint8Array(bytes);
    const n = Math.min(bytes, req.sg.size);
    req.sg.read(0, data, 0, n);
    req.buf = data;
    req.aio = this.blk!.write(req.sector * BDRV_SECTOR_SIZE, data, dmaComplete, req);
  }

  /** scsi_dma_complete_noio. */
  dmaDone(req: ScsiReq, err: BlockErrno | null): void {
    req.aio = null;
    if (req.ioCanceled) return;
    if (err && this.#handleRwError(req, err)) return;
    if (req.cmd.mode === 'from-dev') {
      const n = Math.min(req.buf!.length, req.sg.size);
      req.sg.write(0, req.buf!, 0, n);
      req.residual -= n;
    } else {
      req.residual -= Math.min(req.buf!.length, req.sg.size);
    }
    req.sector += req.sectorCount;
    req.sectorCount = 0;
    if (req.cmd.mode === 'to-dev') this.#writeDoFua(req);
    else this.bus!.complete(req, GOOD);
  }

  #writeDoFua(req: ScsiReq): void {
    if (req.needFua) {
      req.needFua = false;
      req.aio = this.blk!.flush(aioComplete, req);
      return;
    }
    this.bus!.complete(req, GOOD);
  }

  /** A failure before any I/O was issued (scsi_read/write_complete_noio with an errno). */
  #rwComplete(req: ScsiReq, err: BlockErrno): void {
    if (this.#handleRwError(req, err)) return;
    this.bus!.complete(req, GOOD);
  }

  /** scsi_aio_complete: flush / write-zeroes / MODE SELECT flush finished. */
  aioDone(req: ScsiReq, err: BlockErrno | null): void {
    req.aio = null;
    if (req.ioCanceled) return;
    if (err && this.#handleRwError(req, err)) return;
    this.bus!.complete(req, GOOD);
  }

  /**
   * scsi_handle_rw_error: true when the request was completed (report) or parked (stop); false when
   * the error is ignored and the request goes on as if it had succeeded.
   */
  #handleRwError(req: ScsiReq, errno: BlockErrno): boolean {
    const isRead = req.cmd.mode === 'from-dev';
    const blk = this.blk!;
    const { status, sense } = senseFromErrno(errno);
    const policy = isRead ? this.rerror : this.werror;
    let action = policy ? policyAction(policy, errno) : blk.getErrorAction(isRead, errno);
    if (action === 'stop' && !this.hooks.onStop) action = 'report';
    blk.errorAction(action, isRead, errno);
    switch (action) {
      case 'report':
        if (status === CHECK_CONDITION && sense) this.#checkCondition(req, sense);
        else this.bus!.complete(req, status);
        return true;
      case 'ignore':
        return false;
      case 'stop':
        req.retry = true;
        this.hooks.onStop!(req, () => {
          if (!req.retry || req.ioCanceled) return;
          req.retry = false;
          this.bus!.continueReq(req);
        });
        return true;
    }
  }
}

function policyAction(policy: BlockErrorPolicy, errno: string): 'report' | 'ignore' | 'stop' {
  if (policy === 'enospc') return errno === 'ENOSPC' ? 'stop' : 'report';
  return policy;
}

// Static completion functions: the request is the opaque, no per-request closures.
function dmaComplete(req: ScsiReq, err: BlockErrno | null): void {
  (req.dev as ScsiDisk).dmaDone(req, err);
}
function aioComplete(req: ScsiReq, err: BlockErrno | null): void {
  (req.dev as ScsiDisk).aioDone(req, err);
}
function readAfterFlush(req: ScsiReq, err: BlockErrno | null): void {
  const disk = req.dev as ScsiDisk;
  req.aio = null;
  if (req.ioCanceled) return;
  if (err) {
    disk.aioDone(req, err);
    return;
  }
  disk.doRead(req);
}
function unmapComplete(req: ScsiReq, err: BlockErrno | null): void {
  const disk = req.dev as ScsiDisk;
  req.aio = null;
  if (req.ioCanceled) return;
  if (err) {
    disk.aioDone(req, err);
    return;
  }
  disk.unmapNext(req);
}

/** Realize errors QEMU reports for scsi-hd / scsi-cd properties, or null. */
export function checkScsiDiskProps(kind: ScsiDiskKind, p: ScsiDiskProps): string | null {
  if (kind === 'scsi-hd' && !p.drive) return 'drive property not set';
  if (kind === 'scsi-hd' && !p.removable && p.drive && !p.drive.inserted) return 'Device needs media, but drive is empty';
  const lbs = p.logicalBlockSize ?? 512;
  const pbs = p.physicalBlockSize ?? lbs;
  if (lbs > pbs) return 'logical_block_size > physical_block_size not supported';
  if (p.minIoSize && p.minIoSize % lbs) return 'min_io_size must be a multiple of logical_block_size';
  if (p.minIoSize && p.minIoSize / lbs > 65535) return 'min_io_size must not exceed 65535 logical blocks';
  if (p.optIoSize && p.optIoSize % lbs) return 'opt_io_size must be a multiple of logical_block_size';
  if (p.discardGranularity && p.discardGranularity % lbs) return 'discard_granularity must be a multiple of logical_block_size';
  return null;
}

/** -device scsi-hd: the device or QEMU's realize error text. */
export function createScsiHd(p: ScsiDiskProps, hooks: ScsiDiskHooks = {}): ScsiDisk | { error: string } {
  const err = checkScsiDiskProps('scsi-hd', p);
  return err ? { error: err } : new ScsiDisk('scsi-hd', p, hooks);
}

/** -device scsi-cd (the drive may be empty, or absent). */
export function createScsiCd(p: ScsiDiskProps, hooks: ScsiDiskHooks = {}): ScsiDisk | { error: string } {
  const err = checkScsiDiskProps('scsi-cd', p);
  return err ? { error: err } : new ScsiDisk('scsi-cd', p, hooks);
}

