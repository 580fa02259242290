// Models drivers/scsi/sr_ioctl.c + the cdrom_device_ops half of drivers/scsi/sr.c (Linux 6.1), with the
// scsi_ioctl.c helpers they lean on (scsi_test_unit_ready, ioctl_internal_command,
// scsi_set_medium_removal, scsi_send_start_stop): how sr carries out what the CD-ROM layer asks — MMC
// packets (sr_do_ioctl and its sense handling), tray moves, door locks, drive status from TEST UNIT
// READY and GET EVENT STATUS NOTIFICATION, the TOC, the MCN, the last session, and media events
// (sr_get_events / sr_check_events).

import type { DiskEvent } from '../block/genhd.ts';
import { KERN_INFO, KERN_WARNING } from '../kernel/kernel.ts';
import * as u from '../kernel/uapi/cdrom.ts';
import type { CdromTocentry } from '../kernel/uapi/cdrom.ts';
import type { ScsiMod } from '../midlayer/scsi.ts';
import { SENSE_KEY } from '../midlayer/scsi_common.ts';
import type { SenseHdr } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { sdevOnline } from '../midlayer/scsi_device_state.ts';
import { scsiExecute } from '../midlayer/scsi_lib.ts';
import type { ExecuteResult } from '../midlayer/scsi_lib.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { EDRIVE_CANT_DO_THIS, cdromGetMediaEvent, errno } from './cdrom.ts';
import type { CdromDeviceInfo, CdromDeviceOps, PacketCommand, PacketResult } from './cdrom.ts';
import { printSenseHdr } from './constants.ts';

/** What sr_ioctl needs of a ScsiCd (src/highlevel/sr.ts). */
export interface SrCd {
  readonly mod: ScsiMod;
  readonly sdev: ScsiDevice;
  readonly name: string;
  mediaPresent: boolean;
  /** sdev->locked: the last PREVENT ALLOW MEDIUM REMOVAL that succeeded was a prevent. */
  locked: boolean;
  /** Start of the last session (sr_cd_check) and the XA flag. */
  msOffset: number;
  xaFlag: boolean;
  getEventChanged: boolean;
  turChanged: boolean;
  turMismatch: number;
  ignoreGetEvent: boolean;
}

export const SR_TIMEOUT = 30;
export const MAX_RETRIES = 3;
const IOCTL_RETRIES = 3;
const IOCTL_TIMEOUT = 30;
/** scsi_ioctl.h: what ioctl_internal_command is given. */
const NORMAL_RETRIES = 5;
const IOCTL_NORMAL_TIMEOUT = 10;
const START_STOP_TIMEOUT = 60;

const ALLOW_MEDIUM_REMOVAL = 0x1e;

function cdOf(cdi: CdromDeviceInfo): SrCd {
  return cdi.handle as SrCd;
}

function srPrintk(cd: SrCd, level: number, text: string): void {
  sdevPrintk(cd.mod, level, cd.sdev, `[${cd.name}] ${text}`);
}

function sleep(cd: SrCd, seconds: number): Promise<void> {
  return new Promise((resolve) => cd.mod.kernel.loop.after(seconds * 1e9, resolve));
}

const isCheckCondition = (r: ExecuteResult): boolean => (r.result & 0xff) === 0x02;

/** COMMAND_SIZE: the CDB length its opcode's group implies (the packet's 12 bytes are cut to it). */
function commandSize(op: number): number {
  return [6, 10, 10, 12, 16, 12, 10, 10][op >> 5]!;
}

/** scsi_test_unit_ready: retried while the answer is a UNIT ATTENTION, which marks a removable device changed. */
export async function srTestUnitReady(mod: ScsiMod, sdev: ScsiDevice, timeout = SR_TIMEOUT, retries = MAX_RETRIES): Promise<ExecuteResult> {
  let r: ExecuteResult;
  do {
    r = await scsiExecute(mod, sdev, { cdb: [0, 0, 0, 0, 0, 0], dir: 'none', timeout, retries: 1 });
    if (sdev.removable && r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION) sdev.changed = true;
  } while (r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION && --retries > 0);
  return r;
}

/** ioctl_internal_command: a no-data command; UNIT ATTENTION on removable media is no error. */
async function ioctlInternalCommand(cd: SrCd, cdb: number[], timeout: number, retries: number): Promise<number> {
  const sdev = cd.sdev;
  const r = await scsiExecute(cd.mod, sdev, { cdb, dir: 'none', timeout, retries });
  let result = r.result;
  const sshdr = r.sshdr;
  if (sshdr) {
    switch (sshdr.senseKey) {
      case SENSE_KEY.ILLEGAL_REQUEST:
        // A drive that cannot lock is remembered as such; other refusals are logged.
        if (cdb[0] === ALLOW_MEDIUM_REMOVAL) sdev.lockable = false;
        else sdevPrintk(cd.mod, KERN_INFO, sdev, `ioctl_internal_command: ILLEGAL REQUEST asc=0x${sshdr.asc.toString(16)} ascq=0x${sshdr.ascq.toString(16)}`);
        break;
      case SENSE_KEY.NOT_READY:
        if (sdev.removable) break;
        internalFailure(cd, result, sshdr);
        break;
      case SENSE_KEY.UNIT_ATTENTION:
        if (sdev.removable) {
          sdev.changed = true;
          result = 0;
          break;
        }
        internalFailure(cd, result, sshdr);
        break;
      default:
        internalFailure(cd, result, sshdr);
    }
  }
  return result;
}

function internalFailure(cd: SrCd, result: number, sshdr: SenseHdr): void {
  sdevPrintk(cd.mod, KERN_INFO, cd.sdev, `ioctl_internal_command return code = ${result.toString(16)}`);
  printSenseHdr(cd.mod, cd.sdev, null, -1, sshdr);
}

/** scsi_set_medium_removal: PREVENT ALLOW MEDIUM REMOVAL, only for a removable, lockable unit. */
export async function scsiSetMediumRemoval(cd: SrCd, prevent: boolean): Promise<number> {
  if (!cd.sdev.removable || !cd.sdev.lockable) return 0;
  const ret = await ioctlInternalCommand(cd, [ALLOW_MEDIUM_REMOVAL, 0, 0, 0, prevent ? 1 : 0, 0], IOCTL_NORMAL_TIMEOUT, NORMAL_RETRIES);
  if (ret === 0) cd.locked = prevent;
  return ret;
}

/** scsi_send_start_stop: START STOP UNIT with byte 4 = `data` (CDROMEJECT 2, CDROMCLOSETRAY 3 via scsi_ioctl). */
export function scsiSendStartStop(cd: SrCd, data: number): Promise<number> {
  return ioctlInternalCommand(cd, [0x1b, 0, 0, 0, data, 0], START_STOP_TIMEOUT, NORMAL_RETRIES);
}

/**
 * sr_do_ioctl: one packet; UNIT ATTENTION (a disc change) is retried up to 10 times, "becoming ready"
 * waits 2 s between tries; other failures become ENOMEDIUM / EOPNOTSUPP / EIO.
 */
export async function srDoIoctl(cd: SrCd, cgc: PacketCommand): Promise<PacketResult> {
  let retries = 0;
  for (;;) {
    if (!sdevOnline(cd.sdev.state)) return { stat: errno('ENODEV'), data: new Uint8Array(cgc.buflen), sshdr: null };
    const r = await scsiExecute(cd.mod, cd.sdev, {
      cdb: cgc.cmd.slice(0, commandSize(cgc.cmd[0] ?? 0)),
      dir: cgc.dir,
      length: cgc.buflen,
      ...(cgc.dataOut ? { dataOut: cgc.dataOut } : {}),
      timeout: cgc.timeout ?? IOCTL_TIMEOUT,
      retries: IOCTL_RETRIES,
    });
    const data = new Uint8Array(cgc.buflen);
    data.set(r.data.subarray(0, cgc.buflen));
    let stat = 0;
    if (isCheckCondition(r)) {
      const s = r.sshdr;
      switch (s?.senseKey) {
        case SENSE_KEY.UNIT_ATTENTION:
          cd.sdev.changed = true;
          if (!cgc.quiet) srPrintk(cd, KERN_INFO, 'disc change detected.');
          if (retries++ < 10) continue;
          stat = errno('ENOMEDIUM');
          break;
        case SENSE_KEY.NOT_READY:
          if (s.asc === 0x04 && s.ascq === 0x01) {
            if (!cgc.quiet) srPrintk(cd, KERN_INFO, 'CDROM not ready yet.');
            if (retries++ < 10) {
              await sleep(cd, 2);
              continue;
            }
            stat = errno('ENOMEDIUM');
            break;
          }
          if (!cgc.quiet) srPrintk(cd, KERN_INFO, 'CDROM not ready.  Make sure there is a disc in the drive.');
          stat = errno('ENOMEDIUM');
          break;
        case SENSE_KEY.ILLEGAL_REQUEST:
          stat = s.asc === 0x20 && s.ascq === 0x00 ? errno(EDRIVE_CANT_DO_THIS) : errno('EIO');
          break;
        default:
          stat = errno('EIO');
      }
    }
    return { stat, data, sshdr: r.sshdr };
  }
}

/** sr_packet: the CD-ROM layer's generic_packet. */
function srPacket(cdi: CdromDeviceInfo, cgc: PacketCommand): Promise<PacketResult> {
  return srDoIoctl(cdOf(cdi), cgc);
}

/** sr_tray_move: START STOP UNIT, LoEj with Start (close) or without (eject). */
async function srTrayMove(cdi: CdromDeviceInfo, open: boolean): Promise<number> {
  return (await srDoIoctl(cdOf(cdi), { cmd: [0x1b, 0, 0, 0, open ? 0x02 : 0x03, 0], dir: 'none', buflen: 0 })).stat;
}

function srLockDoor(cdi: CdromDeviceInfo, lock: boolean): Promise<number> {
  return scsiSetMediumRemoval(cdOf(cdi), lock);
}

/**
 * sr_drive_status: TUR good → a disc; "becoming ready" → not ready; otherwise the media event
 * descriptor decides, then the sense (2/04/02 tray open, 2/04/xx a disc being formatted, 3a no disc).
 */
async function srDriveStatus(cdi: CdromDeviceInfo, slot: number): Promise<number> {
  const cd = cdOf(cdi);
  if (slot !== u.CDSL_CURRENT) return errno('EINVAL');
  const r = await srTestUnitReady(cd.mod, cd.sdev);
  if (r.result === 0) return u.CDS_DISC_OK;
  const s = r.sshdr;
  if (s?.senseKey === SENSE_KEY.NOT_READY && s.asc === 0x04 && s.ascq === 0x01) return u.CDS_DRIVE_NOT_READY;
  const med = await cdromGetMediaEvent(cdi);
  if (med) return med.mediaPresent ? u.CDS_DISC_OK : med.doorOpen ? u.CDS_TRAY_OPEN : u.CDS_NO_DISC;
  if (s?.senseKey === SENSE_KEY.NOT_READY && s.asc === 0x04 && s.ascq === 0x02) return u.CDS_TRAY_OPEN;
  if (s?.senseKey === SENSE_KEY.NOT_READY && s.asc === 0x04) return u.CDS_DISC_OK;
  return s && s.asc === 0x3a ? u.CDS_NO_DISC : u.CDS_TRAY_OPEN;
}

/** sr_read_tochdr: READ TOC format 0, 12 bytes; first and last track. */
async function srReadTochdr(cdi: CdromDeviceInfo): Promise<{ ret: number; hdr: u.CdromTochdr }> {
  const r = await srDoIoctl(cdOf(cdi), { cmd: [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0], dir: 'from-dev', buflen: 12, quiet: true });
  return { ret: r.stat, hdr: { cdthTrk0: r.data[2]!, cdthTrk1: r.data[3]! } };
}

/** sr_read_tocentry: READ TOC of one track (MSF when asked), 12 bytes. */
async function srReadTocentry(cdi: CdromDeviceInfo, track: number, format: number): Promise<{ ret: number; entry: CdromTocentry }> {
  const msf = format === u.CDROM_MSF;
  const r = await srDoIoctl(cdOf(cdi), { cmd: [0x43, msf ? 0x02 : 0, 0, 0, 0, 0, track & 0xff, 0, 12, 0], dir: 'from-dev', buflen: 12 });
  const b = r.data;
  const ctrl = b[5]! & 0x0f;
  const addr: u.CdromAddr = msf ? { minute: b[9]!, second: b[10]!, frame: b[11]! } : { lba: ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) | 0 };
  return { ret: r.stat, entry: { cdteTrack: track, cdteFormat: format, cdteAdr: b[5]! >> 4, cdteCtrl: ctrl, cdteAddr: addr, cdteDatamode: ctrl & 0x04 ? 1 : 0 } };
}

/** sr_get_mcn: READ SUB-CHANNEL, MCN format, 24 bytes; the 13 digits from byte 9. */
async function srGetMcn(cdi: CdromDeviceInfo): Promise<{ ret: number; mcn: string }> {
  const r = await srDoIoctl(cdOf(cdi), { cmd: [0x42, 0, 0x40, 0x02, 0, 0, 0, 0, 24, 0], dir: 'from-dev', buflen: 24 });
  const digits = r.data.subarray(9, 22);
  const end = digits.indexOf(0);
  return { ret: r.stat, mcn: new TextDecoder('latin1').decode(end >= 0 ? digits.subarray(0, end) : digits) };
}

/** sr_select_speed: SET CD SPEED in kB/s (177 per ×; 0 = the maximum). */
async function srSelectSpeed(cdi: CdromDeviceInfo, speed: number): Promise<number> {
  const x = Math.max(0, Math.min(speed, Math.floor(0xffff / 177)));
  const kbs = x === 0 ? 0xffff : x * 177;
  const r = await srDoIoctl(cdOf(cdi), { cmd: [0xbb, 0, (kbs >> 8) & 0xff, kbs & 0xff, 0, 0, 0, 0, 0, 0, 0, 0], dir: 'none', buflen: 0 });
  return r.stat ? errno('EIO') : 0;
}

/** sr_get_events: GET EVENT STATUS NOTIFICATION (polled, media class, 8 bytes). */
export async function srGetEvents(cd: SrCd): Promise<DiskEvent[]> {
  const r = await scsiExecute(cd.mod, cd.sdev, { cdb: [0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0], dir: 'from-dev', length: 8, timeout: SR_TIMEOUT, retries: MAX_RETRIES });
  if (r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION) return ['media_change'];
  const b = r.data;
  if (r.result !== 0 || b.length < 8 || ((b[0]! << 8) | b[1]!) < 4) return [];
  if (b[2]! & 0x80 || (b[2]! & 0x07) !== 0x4) return [];
  const code = b[4]! & 0x0f;
  if (code === 1) return ['eject_request'];
  if (code === 2 || code === 3) return ['media_change'];
  return [];
}

/**
 * sr_check_events: GESN always; a change remembered in sdev->changed is reported; only when MEDIA_CHANGE
 * is being cleared does a TUR tell whether a medium is there. GESN media changes that TUR never
 * confirms more than 8 times in a row make sr ignore GESN for media changes from then on.
 */
export async function srCheckEvents(cd: SrCd, clearing: boolean): Promise<DiskEvent[]> {
  const events = new Set(await srGetEvents(cd));
  cd.getEventChanged ||= events.has('media_change');
  const sdev = cd.sdev;
  if (cd.ignoreGetEvent) events.delete('media_change');
  else {
    if (sdev.changed) {
      events.add('media_change');
      sdev.changed = false;
      cd.turChanged = true;
    }
    if (!clearing) return [...events];
  }
  const last = cd.mediaPresent;
  const tur = await srTestUnitReady(cd.mod, sdev);
  cd.mediaPresent = tur.result === 0 || (tur.sshdr !== null && tur.sshdr.asc !== 0x3a);
  if (last !== cd.mediaPresent) sdev.changed = true;
  if (sdev.changed) {
    events.add('media_change');
    sdev.changed = false;
    cd.turChanged = true;
  }
  if (cd.ignoreGetEvent) return [...events];
  if (!cd.turChanged) {
    if (cd.getEventChanged) {
      if (cd.turMismatch++ > 8) {
        srPrintk(cd, KERN_WARNING, 'GET_EVENT and TUR disagree continuously, suppress GET_EVENT events');
        cd.ignoreGetEvent = true;
      }
    } else cd.turMismatch = 0;
  }
  cd.turChanged = false;
  cd.getEventChanged = false;
  return [...events];
}

/** SR_CAPABILITIES: everything sr can do for a drive that reports it. */
export const SR_CAPABILITIES =
  u.CDC_CLOSE_TRAY | u.CDC_OPEN_TRAY | u.CDC_LOCK | u.CDC_SELECT_SPEED | u.CDC_SELECT_DISC | u.CDC_MULTI_SESSION |
  u.CDC_MCN | u.CDC_MEDIA_CHANGED | u.CDC_PLAY_AUDIO | u.CDC_RESET | u.CDC_DRIVE_STATUS | u.CDC_CD_R | u.CDC_CD_RW |
  u.CDC_DVD | u.CDC_DVD_R | u.CDC_DVD_RAM | u.CDC_GENERIC_PACKET | u.CDC_MRW | u.CDC_MRW_W | u.CDC_RAM;

/** sr_dops: sr's table for the CD-ROM layer. */
export const srDops: CdromDeviceOps = {
  capability: SR_CAPABILITIES,
  // sr_open: only refuses a device that went offline.
  open: async (cdi) => (sdevOnline(cdOf(cdi).sdev.state) ? 0 : errno('ENXIO')),
  release: () => {},
  driveStatus: srDriveStatus,
  checkEvents: (cdi, clearing, slot) => (slot === u.CDSL_CURRENT ? srCheckEvents(cdOf(cdi), clearing) : Promise.resolve([])),
  trayMove: srTrayMove,
  lockDoor: srLockDoor,
  selectSpeed: srSelectSpeed,
  // sr_get_last_session: what sr_cd_check found.
  getLastSession: async (cdi) => {
    const cd = cdOf(cdi);
    return { ret: 0, lba: cd.msOffset, xaFlag: cd.xaFlag || cd.msOffset > 0 ? 1 : 0 };
  },
  getMcn: srGetMcn,
  // sr_reset: nothing to do.
  reset: async () => 0,
  readTochdr: srReadTochdr,
  readTocentry: srReadTocentry,
  genericPacket: srPacket,
};
