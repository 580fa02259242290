// Models include/uapi/linux/cdrom.h (Linux 6.1): the Uniform CD-ROM ioctl ABI — request numbers,
// capability (CDC_*), option (CDO_*) and status (CDS_*) values, and the structures the ioctls fill in,
// as typed objects shared by the CD-ROM layer (src/highlevel/cdrom.ts) and the userland tools.
//
// Convention (as src/kernel/uapi/fs.ts): a request that answers with a number resolves to that
// number (CDROM_GET_CAPABILITY, CDROM_DRIVE_STATUS …); a request whose argument is a structure
// takes the input fields as `arg` and resolves to the filled-in structure.

/** ioctl request numbers (0x53xx: the 'S' group of cdrom.h, not _IO-encoded). */
export const CDROMPAUSE = 0x5301;
export const CDROMRESUME = 0x5302;
export const CDROMPLAYMSF = 0x5303;
export const CDROMPLAYTRKIND = 0x5304;
export const CDROMREADTOCHDR = 0x5305;
export const CDROMREADTOCENTRY = 0x5306;
export const CDROMSTOP = 0x5307;
export const CDROMSTART = 0x5308;
export const CDROMEJECT = 0x5309;
export const CDROMVOLCTRL = 0x530a;
export const CDROMSUBCHNL = 0x530b;
export const CDROMREADMODE2 = 0x530c;
export const CDROMREADMODE1 = 0x530d;
export const CDROMREADAUDIO = 0x530e;
export const CDROMEJECT_SW = 0x530f;
export const CDROMMULTISESSION = 0x5310;
export const CDROM_GET_MCN = 0x5311;
export const CDROM_GET_UPC = CDROM_GET_MCN;
export const CDROMRESET = 0x5312;
export const CDROMVOLREAD = 0x5313;
export const CDROMREADRAW = 0x5314;
export const CDROMREADCOOKED = 0x5315;
export const CDROMSEEK = 0x5316;
export const CDROMPLAYBLK = 0x5317;
export const CDROMREADALL = 0x5318;
export const CDROMCLOSETRAY = 0x5319;
export const CDROM_SET_OPTIONS = 0x5320;
export const CDROM_CLEAR_OPTIONS = 0x5321;
export const CDROM_SELECT_SPEED = 0x5322;
export const CDROM_SELECT_DISC = 0x5323;
export const CDROM_MEDIA_CHANGED = 0x5325;
export const CDROM_DRIVE_STATUS = 0x5326;
export const CDROM_DISC_STATUS = 0x5327;
export const CDROM_CHANGER_NSLOTS = 0x5328;
export const CDROM_LOCKDOOR = 0x5329;
export const CDROM_DEBUG = 0x5330;
export const CDROM_GET_CAPABILITY = 0x5331;
export const CDROM_SEND_PACKET = 0x5393;
export const CDROM_NEXT_WRITABLE = 0x5394;
export const CDROM_LAST_WRITTEN = 0x5395;
export const CDROM_TIMED_MEDIA_CHANGE = 0x5396;

/** Slot arguments of CDROM_DRIVE_STATUS / CDROM_MEDIA_CHANGED / CDROM_SELECT_DISC (INT_MAX − 1, INT_MAX). */
export const CDSL_NONE = 0x7ffffffe;
export const CDSL_CURRENT = 0x7fffffff;

/** Address formats of the TOC and multisession structures. */
export const CDROM_LBA = 0x01;
export const CDROM_MSF = 0x02;
/** cdte_ctrl bit of a data track; the lead-out's track number. */
export const CDROM_DATA_TRACK = 0x04;
export const CDROM_LEADOUT = 0xaa;

/** Drive capabilities (cdrom_device_ops.capability, CDROM_GET_CAPABILITY). */
export const CDC_CLOSE_TRAY = 0x1;
export const CDC_OPEN_TRAY = 0x2;
export const CDC_LOCK = 0x4;
export const CDC_SELECT_SPEED = 0x8;
export const CDC_SELECT_DISC = 0x10;
export const CDC_MULTI_SESSION = 0x20;
export const CDC_MCN = 0x40;
export const CDC_MEDIA_CHANGED = 0x80;
export const CDC_PLAY_AUDIO = 0x100;
export const CDC_RESET = 0x200;
export const CDC_DRIVE_STATUS = 0x800;
export const CDC_GENERIC_PACKET = 0x1000;
export const CDC_CD_R = 0x2000;
export const CDC_CD_RW = 0x4000;
export const CDC_DVD = 0x8000;
export const CDC_DVD_R = 0x10000;
export const CDC_DVD_RAM = 0x20000;
export const CDC_MO_DRIVE = 0x40000;
export const CDC_MRW = 0x80000;
export const CDC_MRW_W = 0x100000;
export const CDC_RAM = 0x200000;

/** CDROM_DRIVE_STATUS answers. */
export const CDS_NO_INFO = 0;
export const CDS_NO_DISC = 1;
export const CDS_TRAY_OPEN = 2;
export const CDS_DRIVE_NOT_READY = 3;
export const CDS_DISC_OK = 4;
/** CDROM_DISC_STATUS answers (besides CDS_NO_INFO / CDS_NO_DISC). */
export const CDS_AUDIO = 100;
export const CDS_DATA_1 = 101;
export const CDS_DATA_2 = 102;
export const CDS_XA_2_1 = 103;
export const CDS_XA_2_2 = 104;
export const CDS_MIXED = 105;

/** Behaviour options (CDROM_SET_OPTIONS / CDROM_CLEAR_OPTIONS). */
export const CDO_AUTO_CLOSE = 0x1;
export const CDO_AUTO_EJECT = 0x2;
export const CDO_USE_FFLAGS = 0x4;
export const CDO_LOCK = 0x8;
export const CDO_CHECK_TYPE = 0x10;

/** union cdrom_addr: MSF or LBA, as `format` says. */
export type CdromAddr = { readonly minute: number; readonly second: number; readonly frame: number } | { readonly lba: number };

/** struct cdrom_tochdr (CDROMREADTOCHDR): first and last track numbers. */
export interface CdromTochdr {
  readonly cdthTrk0: number;
  readonly cdthTrk1: number;
}

/** struct cdrom_tocentry (CDROMREADTOCENTRY): in — track and format; out — the whole entry. */
export interface CdromTocentryIn {
  readonly cdteTrack: number;
  readonly cdteFormat: number;
}
export interface CdromTocentry extends CdromTocentryIn {
  readonly cdteAdr: number;
  readonly cdteCtrl: number;
  readonly cdteAddr: CdromAddr;
  readonly cdteDatamode: number;
}

/** struct cdrom_multisession (CDROMMULTISESSION): in — addr_format; out — start of the last session. */
export interface CdromMultisession {
  readonly addr: CdromAddr;
  readonly xaFlag: number;
  readonly addrFormat: number;
}

/** struct cdrom_mcn (CDROM_GET_MCN): the 13-digit Media Catalog Number. */
export interface CdromMcn {
  readonly mediumCatalogNumber: string;
}

/** CD frames per second, and the 2-second pregap that LBA 0 sits behind in MSF addressing. */
export const CD_FRAMES = 75;
export const CD_MSF_OFFSET = 150;

/** sanitize_format's conversions between the two address forms. */
export function lbaToMsf(lba: number): { minute: number; second: number; frame: number } {
  const f = lba + CD_MSF_OFFSET;
  return { minute: Math.floor(f / (60 * CD_FRAMES)), second: Math.floor(f / CD_FRAMES) % 60, frame: f % CD_FRAMES };
}

export function msfToLba(m: { minute: number; second: number; frame: number }): number {
  return m.frame + CD_FRAMES * (m.second - 2 + 60 * m.minute);
}
