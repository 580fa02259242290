import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { SrDriver } from '../../src/highlevel/sr.ts';
import type { ScsiCd } from '../../src/highlevel/sr.ts';
import { CdromDeviceInfo, cdromErrno, cdromIoctl, errno, registerCdrom } from '../../src/highlevel/cdrom.ts';
import { SR_CAPABILITIES, srDops } from '../../src/highlevel/sr_ioctl.ts';
import { blockLayer } from '../../src/block/genhd.ts';
import { O_NONBLOCK, O_RDONLY, O_RDWR } from '../../src/kernel/syscalls.ts';
import * as u from '../../src/kernel/uapi/cdrom.ts';
import { SG_DXFER_FROM_DEV, SG_IO, sgIoHdr } from '../../src/kernel/uapi/sg.ts';
import type { SgIoHdrOut } from '../../src/kernel/uapi/sg.ts';
import type { Uevent } from '../../src/sysfs/core.ts';
import { cdSetup } from '../fakes/fake_cd_lld.ts';

const iso = new Uint8Array(readFileSync(new URL('../fixtures/seed_disk_and_cd_same_bus.cd.iso', import.meta.url)));

/** A booted CD drive at 0:0:0:1, the probe's commands and log lines dropped. */
async function bootCd(image: Uint8Array | null = iso) {
  const m = cdSetup(image);
  await m.run(m.scan());
  m.k.log.length = 0;
  m.st.cdbs.length = 0;
  const uevents: Uevent[] = [];
  m.k.dm.onUevent((ev) => {
    if (ev.subsystem === 'block') uevents.push(ev);
  });
  SrDriver.register(m.mod);
  await m.run(Promise.resolve());
  const cd = SrDriver.of(m.mod.hosts[0]!.devices.find((d) => d.lun === 1)!)!;
  const probeLog = [...m.k.log];
  const probeCdbs = [...m.st.cdbs];
  m.k.log.length = 0;
  m.st.cdbs.length = 0;
  const ops = (): string[] => m.st.cdbs.map((c) => c.split(' ')[1]!);
  const cdbs = (): string[] => m.st.cdbs.map((c) => c.slice(4));
  const take = (): string[] => {
    const o = ops();
    m.st.cdbs.length = 0;
    return o;
  };
  const open = (flags: number): Promise<number> => m.run(m.sys.open('/dev/sr0', flags));
  const close = (fd: number): Promise<void> => m.run(m.sys.close(fd));
  const ioctl = (fd: number, req: number, arg?: unknown): Promise<unknown> => m.run(m.sys.ioctl(fd, req, arg));
  return { ...m, cd: cd as ScsiCd, probeLog, probeCdbs, uevents, ops, cdbs, take, open, close, ioctl };
}

const NB = O_RDONLY | O_NONBLOCK;
// The revalidation of sr_revalidate_disk after a media change: TUR, multisession TOC, TOC header,
// track 1 entry (LBA), READ CAPACITY(10), READ DISC INFORMATION 2 + 34, READ TRACK INFORMATION (5/20/00
// in QEMU), lead-out TOC.
const REVALIDATE = ['00', '43', '43', '43', '25', '51', '51', '52', '43'];

describe('registration', () => {
  it('prints the banner once per kernel and starts sr with AUTO_CLOSE | USE_FFLAGS | LOCK', async () => {
    const m = await bootCd();
    expect(m.probeLog).toEqual([
      'sr 0:0:0:1: Power-on or device reset occurred',
      'sr 0:0:0:1: [sr0] scsi3-mmc drive: 16x/50x cd/rw xa/form2 cdda tray',
      'cdrom: Uniform CD-ROM driver Revision: 3.20',
      'sr 0:0:0:1: Attached scsi CD-ROM sr0',
    ]);
    expect(m.cd.cdi.options).toBe(u.CDO_AUTO_CLOSE | u.CDO_USE_FFLAGS | u.CDO_LOCK);
    // A second drive on the same kernel registers silently.
    registerCdrom(m.k, null, new CdromDeviceInfo(srDops, 'sr1', m.cd));
    expect(m.k.log.filter((l) => l.startsWith('cdrom:'))).toEqual([]);
  });

  it('sends the probe write-feature checks and the first event check (GESN only) of the capture', async () => {
    const m = await bootCd();
    const c = m.probeCdbs.map((x) => x.slice(4));
    expect(c[3]).toBe('46 00 00 28 00 00 00 00 10 00'); // GET CONFIGURATION from MRW (0x28), 16 bytes
    expect(c[4]).toBe('46 00 00 20 00 00 00 00 18 00'); // … from Random Writable (0x20), 24 bytes
    expect(c.at(-1)).toBe('4a 01 00 00 10 00 00 00 08 00'); // disk_add_events: GESN, no TUR
    expect(m.probeCdbs).toHaveLength(15);
  });

  it('reports the probe media change at the first look: new diskseq and a DISK_MEDIA_CHANGE uevent', async () => {
    const m = await bootCd();
    // allocDisk took diskseq 1; the first check's media change took 2 (with sda first: 2 → 3, the golden).
    expect(blockLayer(m.k).findDisk('sr0')!.diskseq).toBe(2);
    const change = m.uevents.filter((e) => e.action === 'change');
    expect(change.map((e) => e.env.filter(([k]) => k.startsWith('DISK_')))).toEqual([[['DISK_MEDIA_CHANGE', '1']]]);
  });
});

describe('CDROM ioctls on an O_NONBLOCK fd (what cdrom_id does)', () => {
  it('CDROM_GET_CAPABILITY: the QEMU drive mask, no command sent', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    m.take();
    const cap = await m.ioctl(fd, u.CDROM_GET_CAPABILITY);
    // SR_CAPABILITIES minus what page 0x2a (2a 14 3b 00 …, byte 6 0x2d/0x2f) and the features deny:
    // CD-R, CD-RW, DVD-R, DVD-RAM writing, MRW, MRW_W, RAM, and SELECT_DISC (not a changer).
    expect(cap).toBe(
      u.CDC_CLOSE_TRAY | u.CDC_OPEN_TRAY | u.CDC_LOCK | u.CDC_SELECT_SPEED | u.CDC_MULTI_SESSION | u.CDC_MCN |
        u.CDC_MEDIA_CHANGED | u.CDC_PLAY_AUDIO | u.CDC_RESET | u.CDC_DRIVE_STATUS | u.CDC_GENERIC_PACKET | u.CDC_DVD,
    );
    expect(cap).toBe(0x9bef);
    expect(SR_CAPABILITIES).toBe(0x3bfbff);
    expect(m.ops()).toEqual([]);
    await m.close(fd);
  });

  it('the first open consumes the pending media change and revalidates; it neither checks nor locks', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    // disk_clear_events: GESN + TUR (MEDIA_CHANGE being cleared), then sr_revalidate_disk.
    expect(m.take()).toEqual(['4a', '00', ...REVALIDATE]);
    expect(await m.ioctl(fd, u.CDROM_DRIVE_STATUS, u.CDSL_CURRENT)).toBe(u.CDS_DISC_OK);
    expect(m.take()).toEqual(['00']); // sr_drive_status: TUR good
    await m.close(fd);
    // The last close unlocks (CDC_LOCK, not kept locked: cdrom_release does not ask whether it was
    // locked), then blkdev_put's immediate MEDIA_CHANGE-clearing check.
    expect(m.cdbs()).toEqual(['1e 00 00 00 00 00', '4a 01 00 00 10 00 00 00 08 00', '00 00 00 00 00 00']);
  });

  it('cdrom_id --lock-media: CLEAR_OPTIONS(CDO_LOCK) then LOCKDOOR(1) keeps the tray locked after close', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    m.take();
    expect(await m.ioctl(fd, u.CDROM_CLEAR_OPTIONS, u.CDO_LOCK)).toBe(u.CDO_AUTO_CLOSE | u.CDO_USE_FFLAGS);
    expect(m.ops()).toEqual([]);
    expect(await m.ioctl(fd, u.CDROM_LOCKDOOR, 1)).toBe(0);
    expect(m.cdbs()).toEqual(['1e 00 00 00 01 00']); // PREVENT ALLOW MEDIUM REMOVAL: prevent
    m.take();
    await m.close(fd);
    // keeplocked: no ALLOW at the last close (the capture has one PREVENT and no ALLOW at coldplug).
    expect(m.take()).toEqual(['4a', '00']);
    expect(m.tray.locked).toBe(true);
    expect(m.cd.locked).toBe(true);
  });

  it('CDROM_DRIVE_STATUS: TRAY_OPEN and NO_DISC from the media event descriptor after a failed TUR', async () => {
    const m = await bootCd(null);
    const fd = await m.open(NB);
    m.take();
    expect(await m.ioctl(fd, u.CDROM_DRIVE_STATUS, u.CDSL_CURRENT)).toBe(u.CDS_NO_DISC);
    expect(m.take()).toEqual(['00', '4a']); // TUR → 2/3a/00, then GESN (media present 0, door closed)
    m.tray.open = true;
    expect(await m.ioctl(fd, u.CDROM_DRIVE_STATUS, u.CDSL_CURRENT)).toBe(u.CDS_TRAY_OPEN);
    expect(await m.ioctl(fd, u.CDROM_DRIVE_STATUS, u.CDSL_NONE)).toBe(u.CDS_TRAY_OPEN);
    await m.close(fd);
  });

  it('the TOC, disc status, multisession and MCN ioctls', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    m.take();
    expect(await m.ioctl(fd, u.CDROMREADTOCHDR)).toEqual({ cdthTrk0: 1, cdthTrk1: 1 });
    expect(m.cdbs()).toEqual(['43 00 00 00 00 00 00 00 0c 00']);
    m.take();
    const msf = (await m.ioctl(fd, u.CDROMREADTOCENTRY, { cdteTrack: 1, cdteFormat: u.CDROM_MSF })) as u.CdromTocentry;
    expect(m.cdbs()).toEqual(['43 02 00 00 00 00 01 00 0c 00']); // always asked in MSF
    expect(msf).toMatchObject({ cdteTrack: 1, cdteFormat: u.CDROM_MSF, cdteCtrl: 4, cdteAdr: 1, cdteDatamode: 1, cdteAddr: { minute: 0, second: 2, frame: 0 } });
    const lba = (await m.ioctl(fd, u.CDROMREADTOCENTRY, { cdteTrack: 0xaa, cdteFormat: u.CDROM_LBA })) as u.CdromTocentry;
    expect(lba.cdteAddr).toEqual({ lba: iso.length / 2048 }); // the lead-out, converted back from MSF
    await expect(m.ioctl(fd, u.CDROMREADTOCENTRY, { cdteTrack: 1, cdteFormat: 3 })).rejects.toMatchObject({ code: 'EINVAL' });
    m.take();
    expect(await m.ioctl(fd, u.CDROM_DISC_STATUS)).toBe(u.CDS_DATA_1);
    expect(m.take()).toEqual(['43', '43']);
    expect(await m.ioctl(fd, u.CDROMMULTISESSION, { addrFormat: u.CDROM_LBA })).toEqual({ addr: { lba: 0 }, xaFlag: 0, addrFormat: u.CDROM_LBA });
    expect(await m.ioctl(fd, u.CDROMMULTISESSION, { addrFormat: u.CDROM_MSF })).toEqual({ addr: { minute: 0, second: 2, frame: 0 }, xaFlag: 0, addrFormat: u.CDROM_MSF });
    expect(m.ops()).toEqual([]); // what sr_cd_check found at revalidation
    // READ SUB-CHANNEL (MCN) is not implemented by QEMU: INVALID COMMAND OPERATION CODE → EOPNOTSUPP.
    await expect(m.ioctl(fd, u.CDROM_GET_MCN)).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    expect(m.cdbs()).toEqual(['42 00 40 02 00 00 00 00 18 00']);
    expect(await m.ioctl(fd, u.CDROM_CHANGER_NSLOTS)).toBe(1);
    await m.close(fd);
  });

  it('options: SET returns the new set, unknown ones need the matching capability; EJECT_SW', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    expect(await m.ioctl(fd, u.CDROM_SET_OPTIONS, 0)).toBe(0xd);
    expect(await m.ioctl(fd, u.CDROM_SET_OPTIONS, u.CDO_CHECK_TYPE)).toBe(0x1d);
    expect(await m.ioctl(fd, u.CDROM_SET_OPTIONS, u.CDO_AUTO_EJECT)).toBe(0x1f); // = CDC_OPEN_TRAY: allowed
    expect(await m.ioctl(fd, u.CDROM_CLEAR_OPTIONS, u.CDO_AUTO_CLOSE | u.CDO_AUTO_EJECT | u.CDO_CHECK_TYPE)).toBe(0xc);
    expect(await m.ioctl(fd, u.CDROMEJECT_SW, 1)).toBe(0);
    expect(m.cd.cdi.options).toBe(0xf);
    await m.ioctl(fd, u.CDROM_LOCKDOOR, 1);
    await expect(m.ioctl(fd, u.CDROMEJECT_SW, 0)).rejects.toMatchObject({ code: 'EBUSY' });
    // CDROM_SELECT_DISC on a drive that is not a changer → ENOSYS from the layer → scsi_ioctl → EINVAL.
    await expect(m.ioctl(fd, u.CDROM_SELECT_DISC, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(m.ioctl(fd, 0x5399)).rejects.toMatchObject({ code: 'EINVAL' });
    await m.close(fd);
  });

  it('SG_IO still reaches the device through the sr node', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    m.take();
    const out = (await m.ioctl(fd, SG_IO, sgIoHdr(new Uint8Array([0x12, 0, 0, 0, 36, 0]), SG_DXFER_FROM_DEV, 36, 0))) as SgIoHdrOut;
    expect(out.dxferp[0]).toBe(0x05); // PDT 5
    expect(m.ops()).toEqual(['12']);
    await m.close(fd);
  });
});

describe('open for data', () => {
  it('checks the drive twice, counts tracks, reads the profile, locks; the last close unlocks', async () => {
    const m = await bootCd();
    await m.close(await m.open(NB)); // consume the probe's media change
    m.take();
    const fd = await m.open(O_RDONLY);
    expect(m.cdbs()).toEqual([
      '4a 01 00 00 10 00 00 00 08 00', // disk_clear_events: GESN
      '00 00 00 00 00 00', // … and TUR
      '00 00 00 00 00 00', // open_for_data: drive status
      '00 00 00 00 00 00', // drive status again ("the door should be closed now")
      '43 00 00 00 00 00 00 00 0c 00', // cdrom_count_tracks: TOC header
      '43 02 00 00 00 00 01 00 0c 00', // track 1 entry, MSF
      '1e 00 00 00 01 00', // open_for_data ends with the CDO_LOCK lock: PREVENT
      '46 00 00 00 00 00 00 00 20 00', // then cdrom_mmc3_profile: GET CONFIGURATION, 32 bytes
    ]);
    expect(m.tray.locked).toBe(true);
    m.take();
    const fd2 = await m.open(O_RDONLY);
    m.take();
    await m.close(fd);
    expect(m.take()).toEqual(['4a', '00']); // not the last close: no ALLOW
    await m.close(fd2);
    expect(m.take()).toEqual(['1e', '4a', '00']);
    expect(m.tray.locked).toBe(false);
  });

  it('closes an open tray (CDO_AUTO_CLOSE) and opens', async () => {
    const m = await bootCd();
    await m.close(await m.open(NB));
    m.tray.open = true;
    m.take();
    const fd = await m.open(O_RDONLY);
    const c = m.cdbs();
    expect(c.slice(0, 7)).toEqual([
      '4a 01 00 00 10 00 00 00 08 00',
      '00 00 00 00 00 00', // TUR → 2/3a/00: no medium (tray open) — a media change …
      '00 00 00 00 00 00', // … so sr_revalidate_disk, which stops at its failing TUR
      '00 00 00 00 00 00', // drive status: TUR fails …
      '4a 01 00 00 10 00 00 00 08 00', // … GESN: door open → CDS_TRAY_OPEN
      '1b 00 00 00 03 00', // sr_tray_move: START STOP UNIT, LoEj + Start (close)
      '00 00 00 00 00 00', // status after closing
    ]);
    expect(m.tray.open).toBe(false);
    await m.close(fd);
  });

  it('an empty drive refuses a data open with ENOMEDIUM (and unlocks), an O_NONBLOCK open succeeds', async () => {
    const m = await bootCd(null);
    m.take();
    await expect(m.open(O_RDONLY)).rejects.toMatchObject({ code: 'ENOMEDIUM' });
    expect(m.ops().at(-1)).toBe('1e');
    expect(m.tray.locked).toBe(false);
    const fd = await m.open(NB);
    await m.close(fd);
  });

  it('a write open of a read-only drive gives EROFS (dd: Read-only file system)', async () => {
    const m = await bootCd();
    await expect(m.open(O_RDWR)).rejects.toMatchObject({ code: 'EROFS' });
    expect(m.cd.cdi.useCount).toBe(0);
    expect(m.tray.locked).toBe(false); // locked by open_for_data, unlocked on the way out
  });
});

describe('eject and locking between openers', () => {
  it('CDROMEJECT through sr bypasses the layer: a START STOP UNIT the locked drive refuses (5/53/02)', async () => {
    const m = await bootCd();
    const holder = await m.open(NB);
    await m.ioctl(holder, u.CDROM_LOCKDOOR, 1); // udev's lock
    const other = await m.open(NB);
    m.take();
    const ret = await m.ioctl(other, u.CDROMEJECT);
    expect(m.cdbs()).toEqual(['1b 00 00 00 02 00']);
    expect(ret).toBe(2); // scsi_ioctl passes the SCSI result (CHECK CONDITION) through
    expect(m.k.log).toEqual(['sr 0:0:0:1: ioctl_internal_command: ILLEGAL REQUEST asc=0x53 ascq=0x2']);
    expect(m.tray.open).toBe(false);
    // util-linux eject unlocks first (CDROM_LOCKDOOR 0, allowed for root), then the eject works.
    m.take();
    expect(await m.ioctl(other, u.CDROM_LOCKDOOR, 0)).toBe(0);
    expect(await m.ioctl(other, u.CDROMEJECT)).toBe(0);
    expect(m.cdbs()).toEqual(['1e 00 00 00 00 00', '1b 00 00 00 02 00']);
    expect(m.tray.open).toBe(true);
    await m.close(other);
    await m.close(holder);
  });

  it('the layer’s own CDROMEJECT: EBUSY under another opener or while kept locked, else unlock + eject', async () => {
    const m = await bootCd();
    const a = await m.open(NB);
    const b = await m.open(NB);
    const ctx = { capSysAdmin: true };
    m.take();
    expect(await m.run(cdromIoctl(m.cd.cdi, u.CDROMEJECT, 0, ctx))).toBe(errno('EBUSY'));
    await m.close(b);
    await m.run(cdromIoctl(m.cd.cdi, u.CDROM_LOCKDOOR, 1, ctx));
    m.take();
    expect(await m.run(cdromIoctl(m.cd.cdi, u.CDROMEJECT, 0, ctx))).toBe(errno('EBUSY'));
    expect(m.ops()).toEqual([]);
    m.cd.cdi.keeplocked = false;
    expect(await m.run(cdromIoctl(m.cd.cdi, u.CDROMEJECT, 0, ctx))).toBe(0);
    expect(m.cdbs()).toEqual(['1e 00 00 00 00 00', '1b 00 00 00 02 00']);
    expect(m.tray.open).toBe(true);
    await m.close(a);
  });

  it('CDROM_LOCKDOOR 0 under another opener: EBUSY unless CAP_SYS_ADMIN', async () => {
    const m = await bootCd();
    const a = await m.open(NB);
    const b = await m.open(NB);
    m.take();
    expect(await m.run(cdromIoctl(m.cd.cdi, u.CDROM_LOCKDOOR, 0, { capSysAdmin: false }))).toBe(errno('EBUSY'));
    expect(m.ops()).toEqual([]);
    expect(await m.run(cdromIoctl(m.cd.cdi, u.CDROM_LOCKDOOR, 0, { capSysAdmin: true }))).toBe(0);
    expect(m.ops()).toEqual(['1e']);
    await m.close(b);
    await m.close(a);
  });

  it('CDROMCLOSETRAY goes to scsi_ioctl: START STOP UNIT with LoEj + Start', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    m.tray.open = true;
    m.take();
    expect(await m.ioctl(fd, u.CDROMCLOSETRAY)).toBe(0);
    expect(m.cdbs()).toEqual(['1b 00 00 00 03 00']);
    expect(m.tray.open).toBe(false);
    await m.close(fd);
  });
});

describe('media change', () => {
  it('an eject is seen by the check after the close: DISK_MEDIA_CHANGE uevent and a new diskseq', async () => {
    const m = await bootCd();
    const disk = blockLayer(m.k).findDisk('sr0')!;
    const fd = await m.open(NB);
    const seq = disk.diskseq;
    m.uevents.length = 0;
    await m.ioctl(fd, u.CDROMEJECT);
    await m.close(fd);
    expect(m.tray.open).toBe(true);
    expect(m.uevents.map((e) => [e.action, e.env.find(([k]) => k === 'DISK_MEDIA_CHANGE')?.[1]])).toEqual([['change', '1']]);
    expect(disk.diskseq).toBe(seq + 1);
    expect(m.cd.mediaPresent).toBe(false);
  });

  it('a new medium is found by the poll (uevent), revalidated by the next open, and reported once by CDROM_MEDIA_CHANGED', async () => {
    const m = await bootCd();
    const layer = blockLayer(m.k);
    const disk = layer.findDisk('sr0')!;
    const fd = await m.open(NB);
    // The ioctl queue has not been asked since the probe's change: 1 once, then 0.
    expect(await m.ioctl(fd, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT)).toBe(1);
    expect(await m.ioctl(fd, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT)).toBe(0);
    await m.close(fd);
    const half = new Uint8Array(iso.length / 2);
    half.set(iso.subarray(0, half.length));
    m.changeMedium(half);
    m.uevents.length = 0;
    const seq = disk.diskseq;
    m.take();
    layer.setEventsDflPollMsecs(2000);
    await m.k.loop.advance(2_100_000_000);
    // The flush when the interval is set, then the first poll: GESN only each time (the first one gets
    // the UNIT ATTENTION 6/28/00 → media change; the poll finds nothing new).
    expect(m.take()).toEqual(['4a', '4a']);
    expect(m.uevents.map((e) => e.env.filter(([k]) => k.startsWith('DISK_')))).toEqual([[['DISK_MEDIA_CHANGE', '1']]]);
    expect(disk.diskseq).toBe(seq + 1);
    const f2 = await m.open(NB);
    expect(m.take()).toEqual(['4a', '00', ...REVALIDATE]); // the pending change revalidates
    expect(disk.capacity).toBe(half.length / 512);
    expect(await m.ioctl(f2, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT)).toBe(1);
    expect(m.take()).toEqual(['4a', '00']);
    expect(await m.ioctl(f2, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT)).toBe(0);
    await m.close(f2);
    layer.setEventsDflPollMsecs(0);
  });

  it('the host eject button becomes a DISK_EJECT_REQUEST uevent', async () => {
    const m = await bootCd();
    await m.close(await m.open(NB));
    m.uevents.length = 0;
    m.tray.ejectRequest = true;
    blockLayer(m.k).setEventsDflPollMsecs(2000);
    await m.k.loop.advance(2_100_000_000);
    blockLayer(m.k).setEventsDflPollMsecs(0);
    expect(m.uevents.map((e) => e.env.filter(([k]) => k.startsWith('DISK_')))).toEqual([[['DISK_EJECT_REQUEST', '1']]]);
  });
});

describe('GESN and TUR disagreeing', () => {
  it('after more than 8 GESN media changes that TUR never confirms, sr stops trusting GESN', async () => {
    const m = await bootCd();
    const fd = await m.open(NB);
    await m.ioctl(fd, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT);
    const answers: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      m.tray.mediaEvent = true; // the drive claims "new media" every time
      answers.push(await m.ioctl(fd, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT));
    }
    expect(answers).toEqual(new Array(10).fill(1));
    expect(m.k.log).toEqual(['sr 0:0:0:1: [sr0] GET_EVENT and TUR disagree continuously, suppress GET_EVENT events']);
    m.tray.mediaEvent = true;
    expect(await m.ioctl(fd, u.CDROM_MEDIA_CHANGED, u.CDSL_CURRENT)).toBe(0);
    await m.close(fd);
  });
});

describe('invariants', () => {
  it('any sequence of opens, locks and closes leaves the use count, the lock and the tray consistent', async () => {
    type Step = { kind: 'open'; nb: boolean } | { kind: 'close'; i: number } | { kind: 'lock'; on: boolean };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('open' as const), nb: fc.boolean() }),
      fc.record({ kind: fc.constant('close' as const), i: fc.nat(4) }),
      fc.record({ kind: fc.constant('lock' as const), on: fc.boolean() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 8 }), async (steps) => {
        const m = await bootCd();
        const fds: number[] = [];
        for (const s of steps) {
          if (s.kind === 'open') fds.push(await m.open(s.nb ? NB : O_RDONLY));
          else if (s.kind === 'close' && fds.length > 0) await m.close(fds.splice(s.i % fds.length, 1)[0]!);
          else if (s.kind === 'lock' && fds.length > 0) await m.ioctl(fds[0]!, u.CDROM_LOCKDOOR, s.on ? 1 : 0);
          expect(m.cd.cdi.useCount).toBe(fds.length);
          // The kernel's idea of the lock (sdev->locked) always matches the drive's.
          expect(m.cd.locked).toBe(m.tray.locked);
        }
        for (const fd of fds) await m.close(fd);
        expect(m.cd.cdi.useCount).toBe(0);
        // After the last close the door is locked only if CDROM_LOCKDOOR asked for it.
        expect(m.tray.locked).toBe(m.cd.cdi.keeplocked);
        expect(cdromErrno(0)).toBeUndefined();
      }),
      { numRuns: 25 },
    );
  });
});
