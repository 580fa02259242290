// Models sys-utils/eject.c (util-linux 2.38): eject [-v] [-r|-s|-f|-q] [-t|-T|-i on|off|-a on|off|-c N|-x N|-X]
// [-n] [-d] [-m|-M] [-F] [-p] [DEVICE|MOUNTPOINT]. Resolves the name (/dev/NAME, LABEL=…, a mount point), goes
// to the whole disk, refuses devices that are not hot-pluggable, unmounts, then tries in order the CD-ROM
// eject (CDROM_LOCKDOOR 0 + CDROMEJECT), the SCSI eject through SG_IO (PREVENT ALLOW MEDIUM REMOVAL, START
// STOP UNIT start, START STOP UNIT LoEj), floppy and tape — messages and exit statuses as util-linux prints them.

import { isErrno } from '../kernel/errno.ts';
import { O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR, S_IFBLK, S_IFMT } from '../kernel/syscalls.ts';
import {
  CDO_AUTO_EJECT, CDROMCLOSETRAY, CDROMEJECT, CDROM_CLEAR_OPTIONS, CDROM_DRIVE_STATUS, CDROM_LOCKDOOR,
  CDROM_SELECT_DISC, CDROM_SELECT_SPEED, CDROM_SET_OPTIONS, CDS_DISC_OK, CDS_DRIVE_NOT_READY, CDS_NO_DISC,
  CDS_NO_INFO, CDS_TRAY_OPEN,
} from '../kernel/uapi/cdrom.ts';
import { BLKRRPART } from '../kernel/uapi/fs.ts';
import { MTIOCTOP, MTOFFL } from '../kernel/uapi/mtio.ts';
import { SG_DXFER_NONE, SG_GET_VERSION_NUM, SG_IO, sgIoHdr, type SgIoHdrOut } from '../kernel/uapi/sg.ts';
import { readFile } from './applet.ts';
import { readMounts, type MountEntry } from './mount.ts';
import type { CommandEntry, Process } from './process.ts';
import { getoptLong } from './sg_lib.ts';

const PROG = 'eject';
const VERSION_LINE = 'eject from util-linux 2.38.1\n';
const EJECT_DEFAULT_DEVICE = '/dev/cdrom';
/** <linux/fd.h> FDEJECT = _IO(2, 0x5a). */
const FDEJECT = 0x025a;
const DRIVER_SENSE = 0x08;
const PROC_CDROMINFO = '/proc/sys/dev/cdrom/info';
const HOTPLUG_SUBSYSTEMS = ['usb', 'ieee1394', 'pcmcia', 'mmc', 'ccw'] as const;

const USAGE = '\nUsage:\n' +
  ` ${PROG} [options] [<device>|<mountpoint>]\n` +
  '\nEject removable media.\n' +
  '\nOptions:\n' +
  ' -a, --auto <on|off>         turn auto-eject feature on or off\n' +
  ' -c, --changerslot <slot>    switch discs on a CD-ROM changer\n' +
  ' -d, --default               display default device\n' +
  ' -f, --floppy                eject floppy\n' +
  " -F, --force                 don't care about device type\n" +
  ' -i, --manualeject <on|off>  toggle manual eject protection on/off\n' +
  ' -m, --no-unmount            do not unmount device even if it is mounted\n' +
  ' -M, --no-partitions-unmount do not unmount another partitions\n' +
  " -n, --noop                  don't eject, just show device found\n" +
  ' -p, --proc                  use /proc/mounts instead of /etc/mtab\n' +
  ' -q, --tape                  eject tape\n' +
  ' -r, --cdrom                 eject CD-ROM\n' +
  ' -s, --scsi                  eject SCSI device\n' +
  ' -t, --trayclose             close tray\n' +
  ' -T, --traytoggle            toggle tray\n' +
  ' -v, --verbose               enable verbose output\n' +
  ' -x, --cdspeed <speed>       set CD-ROM max speed\n' +
  ' -X, --listspeed             list CD-ROM available speeds\n' +
  '\n' +
  `${' -h, --help'.padEnd(29)}display this help\n` +
  `${' -V, --version'.padEnd(29)}display version\n` +
  '\nBy default tries -r, -s, -f, and -q in order until success.\n' +
  '\nFor more details see eject(1).\n';

/** errx/err: the run ends with this message on stderr and exit status 1. */
class Exit extends Error {
  readonly status: number;
  constructor(status: number) {
    super('exit');
    this.status = status;
  }
}

interface Ctl {
  device: string;
  fd: number;
  a: boolean; c: boolean; d: boolean; F: boolean; f: boolean; i: boolean; M: boolean; m: boolean; n: boolean;
  p: boolean; q: boolean; r: boolean; s: boolean; T: boolean; t: boolean; v: boolean; X: boolean; x: boolean;
  aArg: boolean; iArg: boolean; cArg: number; xArg: number;
  forceExclusive: boolean;
  mtab: MountEntry[] | null;
}

export async function ejectMain(p: Process): Promise<number> {
  let out = '';
  const flushOut = async (): Promise<void> => {
    if (out === '') return;
    const s = out;
    out = '';
    try { await p.stdout.write(s); } catch { /* close_stdout would report; nothing to add here */ }
  };
  const stderr = async (s: string): Promise<void> => {
    await flushOut(); // stdout is line-buffered on a terminal and flushed before exit anyway: keep the order
    try { await p.stderr.write(s); } catch { /* stderr gone */ }
  };
  const info = (s: string): void => { out += `${PROG}: ${s}\n`; };
  const errx = async (s: string): Promise<never> => {
    await stderr(`${PROG}: ${s}\n`);
    throw new Exit(1);
  };
  /** err(): the message and strerror(errno); errno 0 ("Success") when no call failed. */
  const errno = async (s: string, e: unknown): Promise<never> => {
    if (e !== null && !isErrno(e)) throw e;
    await stderr(`${PROG}: ${s}: ${e === null ? 'Success' : e.message}\n`);
    throw new Exit(1);
  };
  const warnx = async (s: string): Promise<void> => stderr(`${PROG}: ${s}\n`);

  const ctl: Ctl = {
    device: '', fd: -1, a: false, c: false, d: false, F: false, f: false, i: false, M: false, m: false, n: false,
    p: false, q: false, r: false, s: false, T: false, t: false, v: false, X: false, x: false,
    aArg: false, iArg: false, cArg: 0, xArg: 0, forceExclusive: false, mtab: null,
  };
  const verbose = (s: string): void => { if (ctl.v) info(s); };
  const sys = p.sys;

  const exists = async (path: string): Promise<boolean> => {
    try { await sys.stat(path); return true; } catch (e) { if (!isErrno(e)) throw e; return false; }
  };
  const realpathOr = async (path: string): Promise<string> => {
    try { return await sys.realpath(path); } catch (e) { if (!isErrno(e)) throw e; return path; }
  };
  /** ul_path_read: one read of up to a page (sysfs attributes, /proc files). */
  const readText = async (path: string): Promise<string | null> => {
    let fd: number;
    try { fd = await sys.open(path, O_RDONLY); } catch (e) { if (!isErrno(e)) throw e; return null; }
    try {
      return new TextDecoder().decode(await sys.read(fd, 4096));
    } catch (e) {
      if (!isErrno(e)) throw e;
      return null;
    } finally {
      await sys.close(fd).catch(() => undefined);
    }
  };
  /** The errno of the last failed ioctl (what err() reports after eject_cdrom). */
  let lastErr: unknown = null;
  const ioctl = async (request: number, arg?: unknown): Promise<{ ok: true; v: unknown } | { ok: false; e: unknown }> => {
    try {
      return { ok: true, v: await sys.ioctl(ctl.fd, request, arg) };
    } catch (e) {
      if (!isErrno(e)) throw e;
      lastErr = e;
      return { ok: false, e };
    }
  };

  /** find_device: NAME itself when it starts with '.' or '/' and exists, else /dev/NAME when that exists. */
  const findDevice = async (name: string): Promise<string | null> => {
    if ((name.startsWith('.') || name.startsWith('/')) && (await exists(name))) return name;
    const d = `/dev/${name}`;
    return (await exists(d)) ? d : null;
  };
  /** mnt_resolve_spec: tags through /dev/disk/by-*, paths canonicalised (kept as given when that fails). */
  const resolveSpec = async (spec: string): Promise<string | null> => {
    const m = /^(LABEL|UUID|PARTUUID|PARTLABEL)=(.*)$/.exec(spec);
    if (m) {
      const link = `/dev/disk/by-${m[1]!.toLowerCase()}/${m[2]!.replace(/^"(.*)"$/, '$1')}`;
      return (await exists(link)) ? realpathOr(link) : null;
    }
    return spec === '' ? null : realpathOr(spec);
  };
  /** device_get_mountpoint: by source, else by target (then the source becomes the device). */
  const getMountpoint = async (): Promise<string | null> => {
    if (ctl.mtab === null) {
      ctl.mtab = await readMounts(sys);
      if (ctl.mtab === null) await errx('failed to parse mount table');
    }
    const table = [...(ctl.mtab ?? [])].reverse();
    const canon = await realpathOr(ctl.device);
    let fs = table.find((e) => e.fsname === ctl.device || e.fsname === canon);
    if (!fs) {
      fs = table.find((e) => e.dir === ctl.device || e.dir === canon);
      if (fs) ctl.device = fs.fsname;
    }
    return fs ? fs.dir : null;
  };
  const sysBlockDir = async (major: number, minor: number): Promise<string | null> => {
    const link = `/sys/dev/block/${major}:${minor}`;
    return (await exists(link)) ? realpathOr(link) : null;
  };
  /** get_disk_devname: the whole disk's /dev name when DEVICE is a partition, else null. */
  const diskDevname = async (device: string): Promise<string | null> => {
    let st;
    try { st = await sys.stat(device); } catch (e) { if (!isErrno(e)) throw e; return null; }
    const dir = await sysBlockDir(st.rdevMajor, st.rdevMinor);
    if (dir === null) return null;
    if (!(await exists(`${dir}/partition`))) return null;
    const parent = dir.slice(0, dir.lastIndexOf('/'));
    return findDevice(parent.slice(parent.lastIndexOf('/') + 1));
  };
  const devnoDir = async (): Promise<string | null> => {
    const name = ctl.device.slice(ctl.device.lastIndexOf('/') + 1);
    const dev = await readText(`/sys/block/${name}/dev`);
    if (dev === null) return null;
    const [ma, mi] = dev.trim().split(':').map(Number);
    return sysBlockDir(ma ?? 0, mi ?? 0);
  };
  /** sysfs_blkdev_is_hotpluggable: removable=1, or a hot-pluggable bus on the way up. */
  const isHotpluggable = async (): Promise<boolean> => {
    const dir = await devnoDir();
    if (dir === null) return false;
    if ((await readText(`${dir}/removable`))?.trim() === '1') return true;
    for (let d = dir; d.startsWith('/sys/devices/') && d.length > '/sys/devices'.length; d = d.slice(0, d.lastIndexOf('/'))) {
      try {
        const target = await sys.readlink(`${d}/subsystem`);
        const sub = target.slice(target.lastIndexOf('/') + 1);
        if ((HOTPLUG_SUBSYSTEMS as readonly string[]).includes(sub)) return true;
      } catch (e) {
        if (!isErrno(e)) throw e;
      }
    }
    return false;
  };
  const umountOne = async (name: string): Promise<void> => {
    verbose(`${name}: unmounting`);
    try {
      await sys.umount(name);
      ctl.mtab = null;
    } catch (e) {
      if (!isErrno(e)) throw e;
      await stderr(`umount: can't unmount ${name}: ${e.message}\n`);
      await errx(`unmount of \`${name}' failed\n`);
    }
  };
  /** umount_partitions: unmounts (or with -M counts) the mounted partitions of the whole disk. */
  const umountPartitions = async (): Promise<number> => {
    const dir = await devnoDir();
    if (dir === null) return 0;
    let count = 0;
    let entries;
    try { entries = await sys.readdir(dir); } catch (e) { if (!isErrno(e)) throw e; return 0; }
    const base = ctl.device.slice(ctl.device.lastIndexOf('/') + 1);
    for (const d of entries) {
      if (!d.name.startsWith(base) || !(await exists(`${dir}/${d.name}/partition`))) continue;
      const dev = await findDevice(d.name);
      if (dev === null) continue;
      const saved = ctl.device;
      ctl.device = dev;
      const mnt = await getMountpoint();
      const found = ctl.device;
      ctl.device = saved;
      if (mnt !== null) {
        verbose(`${found}: mounted on ${mnt}`);
        if (!ctl.M) await umountOne(mnt);
        count++;
      }
    }
    return count;
  };
  const openDevice = async (): Promise<void> => {
    const extra = !ctl.F && ctl.forceExclusive ? O_EXCL : 0;
    try {
      ctl.fd = await sys.open(ctl.device, O_RDWR | O_NONBLOCK | extra);
    } catch {
      try {
        ctl.fd = await sys.open(ctl.device, O_RDONLY | O_NONBLOCK | extra);
      } catch (e) {
        await errno(`cannot open ${ctl.device}`, e);
      }
    }
  };
  const closeTray = async (): Promise<void> => {
    const r = await ioctl(CDROMCLOSETRAY);
    if (!r.ok) await errno('CD-ROM tray close command failed', r.e);
  };
  const ejectCdrom = async (): Promise<boolean> => {
    if (!(await ioctl(CDROM_LOCKDOOR, 0)).ok) return false;
    return (await ioctl(CDROMEJECT)).ok;
  };
  const ejectScsi = async (): Promise<boolean> => {
    const v = await ioctl(SG_GET_VERSION_NUM);
    if (!v.ok || Number(v.v) < 30000) {
      verbose('not an sg device, or old sg driver');
      return false;
    }
    const send = async (cdb: number[]): Promise<SgIoHdrOut | null> => {
      const hdr = { ...sgIoHdr(Uint8Array.from(cdb), SG_DXFER_NONE, 0, 10000), mxSbLen: 32 };
      const r = await ioctl(SG_IO, hdr);
      return r.ok ? (r.v as SgIoHdrOut) : null;
    };
    let h = await send([0x1e, 0, 0, 0, 0, 0]);
    if (!h || h.hostStatus || h.driverStatus) return false;
    h = await send([0x1b, 0, 0, 0, 1, 0]);
    if (!h || h.hostStatus) return false;
    // No medium (ASC 3a) is not an error for the start.
    if (h.driverStatus !== 0 && !(h.driverStatus === DRIVER_SENSE && h.sbp[12] === 0x3a)) return false;
    h = await send([0x1b, 0, 0, 0, 2, 0]);
    if (!h || h.hostStatus || h.driverStatus) return false;
    await ioctl(BLKRRPART);
    return true;
  };
  const selectSpeed = async (): Promise<void> => {
    const r = await ioctl(CDROM_SELECT_SPEED, ctl.xArg);
    if (!r.ok) await errno('CD-ROM select speed command failed', r.e);
  };
  const readSpeed = async (devname: string): Promise<number> => {
    const text = await readText(PROC_CDROMINFO);
    if (text === null) {
      try { await readFile(sys, PROC_CDROMINFO); } catch (e) { await errno(`cannot open ${PROC_CDROMINFO}`, e); }
      return 0;
    }
    const name = devname.slice(devname.lastIndexOf('/') + 1);
    let drive = -1;
    for (const line of text.split('\n')) {
      if (drive === -1) {
        if (line.startsWith('drive name:')) {
          const names = line.slice(11).split(/[\t ]+/).filter(Boolean);
          drive = names.findIndex((n) => n.startsWith(name));
          if (drive < 0) await errx(`${PROC_CDROMINFO}: failed to finding CD-ROM name`);
        }
      } else if (line.startsWith('drive speed:')) {
        const v = line.slice(12).trim().split(/\s+/)[drive] ?? '';
        if (/^-?\d+$/.test(v)) return Number(v);
        await errx(`${PROC_CDROMINFO}: failed to read speed`);
      }
    }
    return errx('failed to read speed');
  };
  const setDeviceSpeed = async (): Promise<void> => {
    if (!ctl.x) return;
    verbose(ctl.xArg === 0 ? 'setting CD-ROM speed to auto' : `setting CD-ROM speed to ${ctl.xArg}X`);
    await openDevice();
    await selectSpeed();
    throw new Exit(0);
  };

  try {
    const parsed = getoptLong(p.argv.slice(1), {
      short: 'a:c:i:x:dfFhnqrstTXvVpmM',
      long: {
        auto: ['a', true], cdrom: ['r', false], cdspeed: ['x', true], changerslot: ['c', true], default: ['d', false],
        floppy: ['f', false], force: ['F', false], help: ['h', false], listspeed: ['X', false],
        manualeject: ['i', true], noop: ['n', false], 'no-unmount': ['m', false], 'no-partitions-unmount': ['M', false],
        proc: ['p', false], scsi: ['s', false], tape: ['q', false], trayclose: ['t', false], traytoggle: ['T', false],
        verbose: ['v', false], version: ['V', false],
      },
    });
    if (!parsed.ok) {
      await stderr(`${PROG}: ${parsed.message}\nTry '${PROG} --help' for more information.\n`);
      return 1;
    }
    const onOff = async (v: string): Promise<boolean> => {
      if (v === 'on' || v === '1') return true;
      if (v === 'off' || v === '0') return false;
      return errx(`argument error: '${v}'`);
    };
    const ulong = async (v: string, msg: string): Promise<number> => {
      if (/^\d+$/.test(v.trim())) return Number(v.trim());
      return errx(`${msg}: '${v}'`);
    };
    for (const [c, v] of parsed.opts) {
      switch (c) {
        case 'a': ctl.a = true; ctl.aArg = await onOff(v ?? ''); break;
        case 'c': ctl.c = true; ctl.cArg = await ulong(v ?? '', 'invalid argument to --changerslot/-c option'); break;
        case 'x': ctl.x = true; ctl.xArg = await ulong(v ?? '', 'invalid argument to --cdspeed/-x option'); break;
        case 'i': ctl.i = true; ctl.iArg = await onOff(v ?? ''); break;
        case 'h':
          out += USAGE;
          await flushOut();
          return 0;
        case 'V':
          out += VERSION_LINE;
          await flushOut();
          return 0;
        case 'd': case 'f': case 'F': case 'm': case 'M': case 'n': case 'p': case 'q': case 'r': case 's':
        case 't': case 'T': case 'X': case 'v':
          ctl[c] = true;
          break;
      }
    }
    if (parsed.rest.length > 1) await errx('too many arguments');
    if (ctl.d) {
      info(`default device: \`${EJECT_DEFAULT_DEVICE}'`);
      await flushOut();
      return 0;
    }
    let resolved: string | null;
    if (parsed.rest.length === 0) {
      resolved = await realpathOr(EJECT_DEFAULT_DEVICE);
      verbose(`using default device \`${resolved}'`);
    } else {
      let name = parsed.rest[0]!;
      if (name.endsWith('/')) name = name.slice(0, -1);
      resolved = await resolveSpec((await findDevice(name)) ?? name);
    }
    if (resolved === null) await errx('unable to find device');
    ctl.device = resolved ?? '';
    verbose(`device name is \`${ctl.device}'`);
    const mountpoint = await getMountpoint();
    verbose(mountpoint !== null ? `${ctl.device}: mounted on ${mountpoint}` : `${ctl.device}: not mounted`);
    const disk = await diskDevname(ctl.device);
    if (disk !== null) {
      verbose(`${ctl.device}: disc device: ${disk} (disk device will be used for eject)`);
      ctl.device = disk;
    } else {
      let isBlk = false;
      try { isBlk = ((await sys.stat(ctl.device)).mode & S_IFMT) === S_IFBLK; } catch (e) { if (!isErrno(e)) throw e; }
      if (!isBlk) await errx(`${ctl.device}: not found mountpoint or device with the given name`);
      verbose(`${ctl.device}: is whole-disk device`);
    }
    if (!ctl.F && !(await isHotpluggable())) await errx(`${ctl.device}: is not hot-pluggable device`);

    if (ctl.n) {
      info(`device is \`${ctl.device}'`);
      verbose('exiting due to -n/--noop option');
    } else if (ctl.i) {
      await openDevice();
      const r = await ioctl(CDROM_LOCKDOOR, ctl.iArg ? 1 : 0);
      if (!r.ok) {
        const code = isErrno(r.e) ? r.e.code : '';
        if (code === 'EOPNOTSUPP') await errx('CD-ROM door lock is not supported');
        if (code === 'EBUSY') await errx('other users have the drive open and not CAP_SYS_ADMIN');
        await errno('CD-ROM lock door command failed', r.e);
      }
      info(ctl.iArg ? 'CD-Drive may NOT be ejected with device button' : 'CD-Drive may be ejected with device button');
    } else if (ctl.a) {
      verbose(`${ctl.device}: ${ctl.aArg ? 'enabling' : 'disabling'} auto-eject mode`);
      await openDevice();
      const r = await ioctl(ctl.aArg ? CDROM_SET_OPTIONS : CDROM_CLEAR_OPTIONS, CDO_AUTO_EJECT);
      if (!r.ok) await errno('CD-ROM auto-eject command failed', r.e);
    } else if (ctl.t) {
      verbose(`${ctl.device}: closing tray`);
      await openDevice();
      await closeTray();
      await setDeviceSpeed();
    } else if (ctl.T) {
      verbose(`${ctl.device}: toggling tray`);
      await openDevice();
      const st = await ioctl(CDROM_DRIVE_STATUS);
      const status = st.ok ? Number(st.v) : -1;
      if (status === CDS_TRAY_OPEN) await closeTray();
      else if (status === CDS_NO_DISC || status === CDS_DISC_OK) {
        if (!(await ejectCdrom())) await errno('CD-ROM eject command failed', lastErr);
      } else if (status === CDS_NO_INFO) await warnx('no CD-ROM information available');
      else if (status === CDS_DRIVE_NOT_READY) await warnx('CD-ROM drive is not ready');
      else await errno('CD-ROM status command failed', st.ok ? null : st.e);
      await setDeviceSpeed();
    } else if (ctl.X) {
      verbose(`${ctl.device}: listing CD-ROM speed`);
      await openDevice();
      await selectSpeed();
      const max = await readSpeed(ctl.device);
      let curr = 0;
      let line = '';
      while (curr < max) {
        ctl.xArg = curr + 1;
        await selectSpeed();
        curr = await readSpeed(ctl.device);
        if (ctl.xArg < curr) line += `${curr} `;
        else curr = ctl.xArg + 1;
      }
      out += `${line}\n`;
    } else {
      if (!ctl.c) await setDeviceSpeed();
      if (!ctl.m) {
        const ct = await umountPartitions();
        if (ct === 0 && mountpoint !== null) await umountOne(mountpoint);
        if (ctl.M) {
          if (ct === 1 && mountpoint !== null) await umountOne(mountpoint);
          else if (ct) await errx(`error: ${ctl.device}: device in use`);
        }
        ctl.forceExclusive = true;
      }
      if (ctl.c) {
        verbose(`${ctl.device}: selecting CD-ROM disc #${ctl.cArg}`);
        await openDevice();
        const r = await ioctl(CDROM_SELECT_DISC, ctl.cArg);
        if (!r.ok) await errno('CD-ROM select disc command failed', r.e);
        await setDeviceSpeed();
      } else {
        if (!ctl.r && !ctl.s && !ctl.f && !ctl.q) ctl.r = ctl.s = ctl.f = ctl.q = true;
        await openDevice();
        let worked = false;
        if (ctl.r) {
          verbose(`${ctl.device}: trying to eject using CD-ROM eject command`);
          worked = await ejectCdrom();
          verbose(worked ? 'CD-ROM eject command succeeded' : 'CD-ROM eject command failed');
        }
        if (ctl.s && !worked) {
          verbose(`${ctl.device}: trying to eject using SCSI commands`);
          worked = await ejectScsi();
          verbose(worked ? 'SCSI eject succeeded' : 'SCSI eject failed');
        }
        if (ctl.f && !worked) {
          verbose(`${ctl.device}: trying to eject using floppy eject command`);
          worked = (await ioctl(FDEJECT)).ok;
          verbose(worked ? 'floppy eject command succeeded' : 'floppy eject command failed');
        }
        if (ctl.q && !worked) {
          verbose(`${ctl.device}: trying to eject using tape offline command`);
          worked = (await ioctl(MTIOCTOP, { mtOp: MTOFFL, mtCount: 0 })).ok;
          verbose(worked ? 'tape offline command succeeded' : 'tape offline command failed');
        }
        if (!worked) await errx('unable to eject');
      }
    }
    await flushOut();
    return 0;
  } catch (e) {
    if (e instanceof Exit) {
      await flushOut();
      return e.status;
    }
    throw e;
  } finally {
    if (ctl.fd >= 0) await sys.close(ctl.fd).catch(() => undefined);
  }

}

export const ejectEntry: CommandEntry = { name: 'eject', paths: ['/usr/bin/eject', '/bin/eject'], run: ejectMain };
