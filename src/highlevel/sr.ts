// Models drivers/scsi/sr.c + sr_vendor.c + the parts of drivers/cdrom/cdrom.c that show (Linux 6.1):
// the SCSI CD-ROM driver — probe (srN, 11:N), the capability mode page and its `scsi3-mmc drive:`
// line, the Uniform CD-ROM banner, revalidation (multisession TOC, READ CAPACITY(10), last written
// sector), reads in 2048-byte blocks and media events (GET EVENT STATUS NOTIFICATION + TEST UNIT
// READY) for the block layer's poller. Tray, locking and the CDROM* ioctls come later; `ioctl`
// and `trayMove`/`lockDoor` are the hooks.

import { scsiIoctl } from '../midlayer/scsi_ioctl.ts';
import { Errno } from '../kernel/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { KERN_DEBUG, KERN_INFO } from '../kernel/kernel.ts';
import { bdevInit, invalidatePages } from '../block/bdev.ts';
import { setHwQueues } from '../block/blk_sysfs.ts';
import type { BlkRequest, BlkStatus, BlockDeviceOperations, BlockLayer, DiskEvent, Gendisk } from '../block/genhd.ts';
import { GENHD_FL_NO_PART, GENHD_FL_REMOVABLE } from '../block/genhd.ts';
import type { ScsiDriver, ScsiMod } from '../midlayer/scsi.ts';
import { ScsiCmnd } from '../midlayer/scsi_cmnd.ts';
import { SENSE_KEY, TYPE_ROM, TYPE_WORM, normalizeSense } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { scsiExecute, scsiQueueCommand } from '../midlayer/scsi_lib.ts';
import type { ExecuteResult } from '../midlayer/scsi_lib.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { printCommand, printResult, printSenseHdr } from './constants.ts';
import { driverAttach, scsiResultToBlkStatus } from './sd.ts';

export const SCSI_CDROM_MAJOR = 11;
const SR_DISKS = 256;
const SR_TIMEOUT = 30;
const MAX_RETRIES = 3;
const CDROM_REVISION = 'Revision: 3.20';
const LOADMECH = ['caddy', 'tray', 'pop-up', '', 'changer', 'cartridge changer', '', ''];

export class ScsiCd {
  readonly sdev: ScsiDevice;
  readonly index: number;
  readonly disk: Gendisk;
  /** Capacity in 2048-byte blocks (or 512 when the drive reports that). */
  capacity = 0x1fffff;
  sectorSize = 2048;
  mediaPresent = false;
  /** sdev->changed: set by a UNIT ATTENTION, consumed by the next event check. */
  changed = true;
  capabilities = { dvd: false, writer: false, eject: false, lock: false };
  openers = 0;

  constructor(sdev: ScsiDevice, index: number, disk: Gendisk) {
    this.sdev = sdev;
    this.index = index;
    this.disk = disk;
  }

  get name(): string {
    return this.disk.name;
  }
}

const banner = new WeakSet<Kernel>();

export class SrDriver implements ScsiDriver {
  readonly name = 'sr';
  readonly #mod: ScsiMod;
  readonly #layer: BlockLayer;
  readonly #indices = new Set<number>();

  constructor(mod: ScsiMod) {
    this.#mod = mod;
    this.#layer = bdevInit(mod.kernel);
  }

  /** init_sr: block major 11 and the driver in scsi_mod's table. */
  static register(mod: ScsiMod): SrDriver {
    const sr = new SrDriver(mod);
    sr.#layer.registerBlkdev(SCSI_CDROM_MAJOR, 'sr');
    mod.drivers.push(sr);
    driverAttach(mod, sr);
    return sr;
  }

  unregister(): void {
    const i = this.#mod.drivers.indexOf(this);
    if (i >= 0) this.#mod.drivers.splice(i, 1);
    this.#layer.unregisterBlkdev(SCSI_CDROM_MAJOR, 'sr');
  }

  static of(sdev: ScsiDevice): ScsiCd | undefined {
    return sdev.driverData instanceof ScsiCd ? sdev.driverData : undefined;
  }

  match(sdev: ScsiDevice): boolean {
    return sdev.type === TYPE_ROM || sdev.type === TYPE_WORM;
  }

  #printk(level: number, cd: ScsiCd, text: string): void {
    sdevPrintk(this.#mod, level, cd.sdev, `[${cd.name}] ${text}`);
  }

  #exec(cd: ScsiCd, cdb: number[], inLen: number, retries = MAX_RETRIES): Promise<ExecuteResult> {
    return scsiExecute(this.#mod, cd.sdev, { cdb, dir: inLen > 0 ? 'from-dev' : 'none', length: inLen, timeout: SR_TIMEOUT, retries });
  }

  /** scsi_test_unit_ready: retried while the answer is a UNIT ATTENTION (which marks a change). */
  async #testUnitReady(cd: ScsiCd): Promise<ExecuteResult> {
    let r: ExecuteResult;
    let retries = MAX_RETRIES;
    do {
      r = await this.#exec(cd, [0, 0, 0, 0, 0, 0], 0);
      if (r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION) cd.changed = true;
    } while (r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION && --retries > 0);
    return r;
  }

  async probe(sdev: ScsiDevice): Promise<'ok' | 'ENODEV'> {
    if (!this.match(sdev)) return 'ENODEV';
    let index = 0;
    while (this.#indices.has(index)) index++;
    if (index >= SR_DISKS) return 'ENODEV';
    sdev.driver = { name: 'sr' };
    this.#indices.add(index);
    const fops = this.#fops();
    const disk = this.#layer.allocDisk(`sr${index}`, SCSI_CDROM_MAJOR, index, 1, fops);
    disk.flags = GENHD_FL_REMOVABLE | GENHD_FL_NO_PART;
    disk.events = ['media_change', 'eject_request'];
    const cd = new ScsiCd(sdev, index, disk);
    disk.privateData = cd;
    sdev.driverData = cd;
    const l = disk.limits;
    l.maxHwSectors = sdev.host.maxSectors;
    l.maxSectors = Math.min(l.maxHwSectors, 2560);
    l.maxSegments = Math.min(sdev.host.sgTablesize, 2048);
    l.tagDepth = Math.min(sdev.host.canQueue, 256) || 256;
    setHwQueues(l, sdev.host.nrHwQueues);
    await this.#getCapabilities(cd);
    this.#registerCdrom(cd);
    await this.#mmcProbe(cd);
    await this.revalidate(cd);
    disk.ro = !cd.capabilities.writer;
    await this.#layer.deviceAddDisk(sdev.sdevGendev, disk);
    // disk_add_events: the block layer's first look at the events.
    await this.#getEvents(cd);
    sdevPrintk(this.#mod, KERN_DEBUG, sdev, `Attached scsi CD-ROM ${cd.name}`);
    return 'ok';
  }

  async remove(sdev: ScsiDevice): Promise<void> {
    const cd = SrDriver.of(sdev);
    if (!cd) return;
    this.#layer.delGendisk(cd.disk);
    this.#indices.delete(cd.index);
    sdev.driverData = null;
  }

  async rescan(sdev: ScsiDevice): Promise<void> {
    const cd = SrDriver.of(sdev);
    if (cd) await this.revalidate(cd);
  }

  /** get_capabilities: TUR (eats the UA), MODE SENSE(6) page 0x2a, the `scsi3-mmc drive:` line. */
  async #getCapabilities(cd: ScsiCd): Promise<void> {
    await this.#testUnitReady(cd);
    const r = await this.#exec(cd, [0x1a, 0, 0x2a, 0, 128, 0], 128);
    const b = r.data;
    const n = 4 + (b[3] ?? 0);
    if (r.result !== 0 || b.length < n + 16 || (b[n]! & 0x3f) !== 0x2a) {
      this.#printk(KERN_INFO, cd, 'scsi-1 drive');
      return;
    }
    const speed = Math.floor(((b[n + 8]! << 8) | b[n + 9]!) / 176);
    const maxSpeed = Math.floor(((b[n + 14]! << 8) | b[n + 15]!) / 176);
    const flags =
      (b[n + 3]! & 0x01 ? 'writer ' : '') +
      (b[n + 3]! & 0x20 ? 'dvd-ram ' : '') +
      (b[n + 2]! & 0x02 ? 'cd/rw ' : '') +
      (b[n + 4]! & 0x20 ? 'xa/form2 ' : '') +
      (b[n + 5]! & 0x01 ? 'cdda ' : '') +
      LOADMECH[b[n + 6]! >> 5]!;
    this.#printk(KERN_INFO, cd, `scsi3-mmc drive: ${maxSpeed}x/${speed}x ${flags}`);
    cd.capabilities = { dvd: (b[n + 2]! & 0x08) !== 0, writer: (b[n + 3]! & 0x21) !== 0, eject: (b[n + 6]! & 0x08) !== 0, lock: (b[n + 6]! & 0x01) !== 0 };
  }

  /** register_cdrom: the banner, once per kernel. */
  #registerCdrom(_cd: ScsiCd): void {
    const k = this.#mod.kernel;
    if (banner.has(k)) return;
    banner.add(k);
    k.printk(KERN_INFO, `cdrom: Uniform CD-ROM driver ${CDROM_REVISION}`);
  }

  /** The MMC write-capability checks of the captured kernel: MRW (0x28) and random-writable (0x20) features. */
  async #mmcProbe(cd: ScsiCd): Promise<void> {
    await this.#exec(cd, [0x46, 0, 0, 0x28, 0, 0, 0, 0, 16, 0], 16);
    await this.#exec(cd, [0x46, 0, 0, 0x20, 0, 0, 0, 0, 24, 0], 24);
  }

  /** sr_revalidate_disk: nothing more when not ready; else the TOC checks and get_sectorsize. */
  async revalidate(cd: ScsiCd): Promise<void> {
    const tur = await this.#testUnitReady(cd);
    cd.mediaPresent = tur.result === 0 || (tur.sshdr !== null && tur.sshdr.asc !== 0x3a);
    if (tur.result !== 0) return;
    await this.#cdCheck(cd);
    await this.#getSectorsize(cd);
  }

  /** sr_cd_check: the multisession TOC, then the TOC header and the first track's entry. */
  async #cdCheck(cd: ScsiCd): Promise<void> {
    const r = await this.#exec(cd, [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40], 12);
    if (r.result === 0 && ((r.data[0]! << 8) | r.data[1]!) < 0x0a) this.#printk(KERN_INFO, cd, "Hmm, seems the drive doesn't support multisession CD's");
    await this.#exec(cd, [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0], 12);
    await this.#exec(cd, [0x43, 0, 0, 0, 0, 0, 1, 0, 12, 0], 12);
  }

  /** get_sectorsize: READ CAPACITY(10), then cdrom_get_last_written (disc info, track info or TOC lead-out). */
  async #getSectorsize(cd: ScsiCd): Promise<void> {
    let r: ExecuteResult;
    let tries = 3;
    do r = await this.#exec(cd, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8);
    while (r.result !== 0 && --tries > 0);
    let sectorSize: number;
    if (r.result !== 0) {
      cd.capacity = 0x1fffff;
      sectorSize = 2048;
    } else {
      const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
      cd.capacity = dv.getUint32(0) + 1;
      const last = await this.#getLastWritten(cd);
      if (last !== null) cd.capacity = Math.max(cd.capacity, last);
      sectorSize = dv.getUint32(4);
    }
    if (sectorSize === 0 || sectorSize === 2340 || sectorSize === 2352) sectorSize = 2048;
    if (sectorSize !== 2048 && sectorSize !== 512) {
      this.#printk(KERN_INFO, cd, `unsupported sector size ${sectorSize}.`);
      cd.capacity = 0;
      sectorSize = 2048;
    }
    cd.sectorSize = sectorSize;
    cd.disk.limits.logicalBlockSize = sectorSize;
    cd.disk.limits.physicalBlockSize = sectorSize;
    cd.disk.limits.ioMin = sectorSize;
    this.#layer.setCapacityAndNotify(cd.disk, cd.capacity * (sectorSize / 512));
  }

  async #getLastWritten(cd: ScsiCd): Promise<number | null> {
    const di2 = await this.#exec(cd, [0x51, 0, 0, 0, 0, 0, 0, 0, 2, 0], 2);
    if (di2.result !== 0) return null;
    const len = Math.min(((di2.data[0]! << 8) | di2.data[1]!) + 2, 34);
    const di = await this.#exec(cd, [0x51, 0, 0, 0, 0, 0, 0, 0, len, 0], len);
    if (di.result !== 0) return null;
    const lastTrack = di.data[6] ?? 1;
    const ti = await this.#exec(cd, [0x52, 1, 0, 0, (lastTrack >> 8) & 0xff, lastTrack & 0xff, 0, 0, 8, 0], 8);
    if (ti.result === 0 && ti.data.length >= 8) return null;
    // use_toc: the lead-out's start (MSF) is the first sector past the data.
    const toc = await this.#exec(cd, [0x43, 2, 0, 0, 0, 0, 0xaa, 0, 12, 0], 12);
    if (toc.result !== 0) return null;
    const d = toc.data;
    return (d[9]! * 60 + d[10]!) * 75 + d[11]! - 150;
  }

  /** sr_get_events: GET EVENT STATUS NOTIFICATION (media class), polled. */
  async #getEvents(cd: ScsiCd): Promise<DiskEvent[]> {
    const r = await this.#exec(cd, [0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0], 8);
    if (r.sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION) return ['media_change'];
    if (r.result !== 0 || r.data.length < 8) return [];
    const b = r.data;
    if (b[2]! & 0x80 || (b[2]! & 7) !== 4) return [];
    const code = b[4]! & 0x0f;
    if (code === 1) return ['eject_request'];
    if (code === 2 || code === 3) return ['media_change'];
    return [];
  }

  /** sr_check_events: GESN, then TUR to learn whether a medium is there. */
  async checkEvents(cd: ScsiCd): Promise<DiskEvent[]> {
    const events = new Set(await this.#getEvents(cd));
    const last = cd.mediaPresent;
    const tur = await this.#testUnitReady(cd);
    cd.mediaPresent = tur.result === 0 || (tur.sshdr !== null && tur.sshdr.asc !== 0x3a);
    if (last !== cd.mediaPresent) cd.changed = true;
    if (cd.changed) {
      events.add('media_change');
      cd.changed = false;
    }
    return [...events];
  }

  #fops(): BlockDeviceOperations {
    return {
      submit: (disk, req) => this.#queueRq(disk.privateData as ScsiCd, req),
      checkEvents: (disk) => this.checkEvents(disk.privateData as ScsiCd),
      open: async (disk) => {
        const cd = disk.privateData as ScsiCd;
        const ev = await this.#layer.checkEvents(disk, true);
        if (ev.includes('media_change')) {
          invalidatePages(disk);
          await this.revalidate(cd);
        }
        if (!cd.mediaPresent) throw new Errno('ENOMEDIUM');
        // cdrom_open → open_for_data: drive status, TOC, MMC profile.
        await this.#exec(cd, [0, 0, 0, 0, 0, 0], 0);
        await this.#exec(cd, [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0], 12);
        await this.#exec(cd, [0x43, 2, 0, 0, 0, 0, 1, 0, 12, 0], 12);
        await this.#exec(cd, [0x46, 0, 0, 0, 0, 0, 0, 0, 32, 0], 32);
        cd.openers++;
      },
      release: (disk) => {
        (disk.privateData as ScsiCd).openers--;
      },
      ioctl: (disk, request, arg) => scsiIoctl(this.#mod, (disk.privateData as ScsiCd).sdev, request, arg),
    };
  }

  /** sr_init_command: READ(10) in 2048-byte blocks; misaligned requests are refused. */
  #queueRq(cd: ScsiCd, req: BlkRequest): Promise<BlkStatus> {
    const per = cd.sectorSize / 512;
    if (req.op !== 'READ') return Promise.resolve(req.op === 'FLUSH' ? 'OK' : 'IOERR');
    if (req.sector % per || req.nrSectors % per) return Promise.resolve('IOERR');
    const lba = req.sector / per;
    const blocks = req.nrSectors / per;
    const cmd = new ScsiCmnd(cd.sdev);
    cmd.setCdb([0x28, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0]);
    cmd.dir = 'from-dev';
    cmd.sgl = req.buf !== null ? [{ addr: req.buf, len: req.nrSectors * 512 }] : [];
    cmd.length = req.nrSectors * 512;
    cmd.timeout = cd.disk.limits.timeoutMs * 1e6;
    cmd.allowed = MAX_RETRIES;
    cmd.jiffiesAtAlloc = this.#mod.kernel.loop.now();
    return new Promise((resolve) => {
      cmd.complete = (c) => {
        if (c.result === 0) return resolve('OK');
        const sshdr = normalizeSense(c.senseBuffer, c.senseBuffer.length);
        if (sshdr?.senseKey === SENSE_KEY.UNIT_ATTENTION) cd.changed = true;
        if (!req.quiet) {
          printResult(this.#mod, c, cd.name, 'FAILED');
          if (sshdr) printSenseHdr(this.#mod, c.device, cd.name, c.tag, sshdr);
          printCommand(this.#mod, c, cd.name);
        }
        resolve(scsiResultToBlkStatus(c));
      };
      scsiQueueCommand(this.#mod, cmd);
    });
  }
}
