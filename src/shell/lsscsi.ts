// Models src/lsscsi.c (lsscsi 0.32): list SCSI devices (and hosts with -H) from sysfs, one line per logical
// unit, with device nodes found by matching major:minor in /dev and udev ids from /dev/disk/by-id.

import { isErrno } from '../kernel/errno.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, type Syscalls } from '../kernel/syscalls.ts';
import { readTextFile } from './path_id.ts';
import type { CommandEntry, Process } from './process.ts';

const SYSFS_ROOT = '/sys';
const BUS_SCSI_DEVS = '/bus/scsi/devices';
const SCSI_HOST = '/class/scsi_host/';
const DEV_DIR = '/dev';
const DEV_DISK_BYID_DIR = '/dev/disk/by-id';

/** scsi_device_types: the -c (classic) long names. */
const SCSI_DEVICE_TYPES = [
  'Direct-Access', 'Sequential-Access', 'Printer', 'Processor', 'Write-once', 'CD-ROM', 'Scanner',
  'Optical memory', 'Medium Changer', 'Communications', 'Unknown (0xa)', 'Unknown (0xb)', 'Storage array',
  'Enclosure', 'Simplified direct-access', 'Optical card read/writer', 'Bridge controller',
  'Object based storage', 'Automation Drive interface', 'Security manager', 'Zoned Block',
  'Reserved (0x15)', 'Reserved (0x16)', 'Reserved (0x17)', 'Reserved (0x18)', 'Reserved (0x19)',
  'Reserved (0x1a)', 'Reserved (0x1b)', 'Reserved (0x1c)', 'Reserved (0x1e)', 'Well known LU', 'No device',
] as const;

/** scsi_short_device_types: 7-character names of the default listing. */
const SCSI_SHORT_DEVICE_TYPES = [
  'disk   ', 'tape   ', 'printer', 'process', 'worm   ', 'cd/dvd ', 'scanner', 'optical', 'mediumx', 'comms  ',
  '(0xa)  ', '(0xb)  ', 'storage', 'enclosu', 'sim dsk', 'opti rd', 'bridge ', 'osd    ', 'adi    ', 'sec man',
  'zbc    ', '(0x15) ', '(0x16) ', '(0x17) ', '(0x18) ', '(0x19) ', '(0x1a) ', '(0x1b) ', '(0x1c) ', '(0x1e) ',
  'wlun   ', 'no dev ',
] as const;

interface Opts {
  classic: boolean;
  dev_maj_min: boolean;
  generic: boolean;
  hosts: boolean;
  kname: boolean;
  scsi_id: boolean;
  ssize: number;
  transport: boolean;
  verbose: number;
  brief: boolean;
  pdt: boolean;
  noNvme: boolean;
}

const pad = (s: string, n: number): string => s.padEnd(n, ' ');
const padL = (s: string, n: number): string => s.padStart(n, ' ');

/** get_value: first line of a sysfs attribute without its newline; null when it cannot be read. */
async function getValue(sys: Syscalls, dir: string, name: string): Promise<string | null> {
  const t = await readTextFile(sys, `${dir}/${name}`);
  if (t === null) return null;
  const nl = t.indexOf('\n');
  return nl >= 0 ? t.slice(0, nl) : t;
}

async function tryReaddir(sys: Syscalls, dir: string): Promise<{ name: string; type: number }[] | null> {
  try { return await sys.readdir(dir); } catch (e) { if (isErrno(e)) return null; throw e; }
}

async function tryRealpath(sys: Syscalls, p: string): Promise<string | null> {
  try { return await sys.realpath(p); } catch (e) { if (isErrno(e)) return null; throw e; }
}

function parseHctl(s: string): [number, number, number, bigint] | null {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(s);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3]), BigInt(m[4]!)] : null;
}

function cmpHctl(a: string, b: string): number {
  const l = parseHctl(a);
  const r = parseHctl(b);
  if (!l || !r) return 0;
  for (let i = 0; i < 3; i++) if (l[i] !== r[i]) return (l[i] as number) < (r[i] as number) ? -1 : 1;
  return l[3] === r[3] ? 0 : l[3] < r[3] ? -1 : 1;
}

/** size2string: three significant figures in powers of 1000 (or 1024). */
export function size2string(size: bigint, units10: boolean): string {
  const div = units10 ? 1000n : 1024n;
  const names = units10 ? ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'] : ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];
  let i = 0;
  let rem = 0n;
  let tmp = '';
  if (size >= div) {
    while (size >= div && i < names.length - 1) {
      rem = size % div;
      size /= div;
      i++;
    }
    let sf = size;
    let j = 0;
    for (; sf * 10n < 1000n; j++) sf *= 10n;
    if (j) {
      const frac = (rem * 1000n) / div;
      tmp = `.${frac.toString().padStart(3, '0')}`.slice(0, j + 1);
    }
  }
  return `${size}${tmp}${names[i]!}`;
}

/** collect_dev_nodes + get_dev_node: the /dev entry (not a link, not in a subdirectory) with that number. */
async function getDevNode(sys: Syscalls, wd: string, type: number): Promise<string | null> {
  const dev = await getValue(sys, wd, 'dev');
  if (dev === null) return null;
  const [ma, mi] = dev.split(':').map(Number);
  for (const ent of (await tryReaddir(sys, DEV_DIR)) ?? []) {
    const path = `${DEV_DIR}/${ent.name}`;
    try {
      const st = await sys.lstat(path);
      if ((st.mode & S_IFMT) === type && st.rdevMajor === ma && st.rdevMinor === mi) return path;
    } catch (e) { if (!isErrno(e)) throw e; }
  }
  return null;
}

/** lookup_dev(/dev/disk/by-id, "scsi-", node): the by-id name (prefix removed) whose target has node's rdev. */
async function getDiskScsiId(sys: Syscalls, devNode: string): Promise<string | null> {
  let rdev: [number, number];
  try { const st = await sys.stat(devNode); rdev = [st.rdevMajor, st.rdevMinor]; } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
  for (const pfx of ['scsi-', 'dm-uuid-mpath-', 'usb-']) {
    for (const ent of (await tryReaddir(sys, DEV_DISK_BYID_DIR)) ?? []) {
      try {
        const st = await sys.stat(`${DEV_DISK_BYID_DIR}/${ent.name}`);
        if (st.rdevMajor === rdev[0] && st.rdevMinor === rdev[1] && ent.name.startsWith(pfx)) {
          return ent.name.slice(pfx.length);
        }
      } catch (e) { if (!isErrno(e)) throw e; }
    }
  }
  return null;
}

const isDirOrLink = (t: number): boolean => t === S_IFDIR || t === S_IFLNK;

/** non_sg_scan: the first `block`, `tape`, `scsi_tape:stN`, `scsi_changer` … entry of an LU directory. */
async function nonSgScan(sys: Syscalls, dir: string): Promise<{ name: string; isBlock: boolean; isDir: boolean } | null> {
  for (const e of (await tryReaddir(sys, dir)) ?? []) {
    if (!isDirOrLink(e.type)) continue;
    const n = e.name;
    if (n.startsWith('scsi_changer') || n === 'tape' || n.startsWith('onstream_tape:os') ||
      (n.startsWith('scsi_tape:st') && /\d$/.test(n))) return { name: n, isBlock: false, isDir: e.type === S_IFDIR };
    if (n.startsWith('block')) return { name: n, isBlock: true, isDir: e.type === S_IFDIR };
  }
  return null;
}

async function oneClassicSdevEntry(p: Process, dirName: string, devname: string, op: Opts): Promise<string> {
  const buff = `${dirName}/${devname}`;
  const h = parseHctl(devname) ?? [-1, -1, -1, -1n];
  let s = `Host: scsi${h[0]} Channel: ${String(h[1]).padStart(2, '0')} Target: ${String(h[2]).padStart(2, '0')} ` +
    `Lun: ${h[3].toString().padStart(2, '0')}\n`;
  const v = await getValue(p.sys, buff, 'vendor');
  s += v !== null ? `  Vendor: ${pad(v, 8)}` : '  Vendor: ?       ';
  const m = await getValue(p.sys, buff, 'model');
  s += m !== null ? ` Model: ${pad(m, 16)}` : ' Model: ?               ';
  const r = await getValue(p.sys, buff, 'rev');
  s += r !== null ? ` Rev: ${pad(r, 4)}` : ' Rev: ?   ';
  s += '\n';
  const t = await getValue(p.sys, buff, 'type');
  const type = t === null ? NaN : parseInt(t, 10);
  s += `  Type:   ${pad(t === null ? '?' : Number.isNaN(type) ? '??' : type < 0 || type > 31 ? '???' : SCSI_DEVICE_TYPES[type]!, 33)}`;
  const l = await getValue(p.sys, buff, 'scsi_level');
  const lvl = l === null ? NaN : parseInt(l, 10);
  s += l === null ? 'ANSI SCSI revision: ?\n' : Number.isNaN(lvl) ? 'ANSI SCSI revision: ??\n'
    : lvl === 0 ? 'ANSI SCSI revision: none\n'
    : `ANSI SCSI revision: ${(lvl - 1 ? lvl - 1 : 1).toString(16).padStart(2, '0')}\n`;
  if (op.generic) {
    const wd = await tryRealpath(p.sys, `${buff}/generic`);
    if (wd !== null) s += `${op.kname ? `${DEV_DIR}/${wd.slice(wd.lastIndexOf('/') + 1)}` : (await getDevNode(p.sys, wd, S_IFCHR)) ?? '-'}\n`;
    else s += '-\n';
  }
  if (op.verbose) s += `  dir: ${buff}\n`;
  return s;
}

async function oneSdevEntry(p: Process, dirName: string, devname: string, op: Opts): Promise<string> {
  if (op.classic) return oneClassicSdevEntry(p, dirName, devname, op);
  const sys = p.sys;
  const buff = `${dirName}/${devname}`;
  const label = `[${devname}]`;
  let s = label.length >= 13 ? `${label} ` : pad(label, 13);
  const t = await getValue(sys, buff, 'type');
  const type = t === null ? NaN : parseInt(t, 10);
  if (op.pdt) s += pad(!Number.isNaN(type) && type >= 0 && type < 32 ? `0x${type.toString(16)}` : '-1', 8);
  else if (op.brief) { /* nothing */ } else if (t === null) s += 'type?   ';
  else if (Number.isNaN(type)) s += 'type??  ';
  else if (type < 0 || type > 31) s += 'type??? ';
  else s += `${SCSI_SHORT_DEVICE_TYPES[type]!} `;
  if (op.transport) {
    // transport_tport: no FC/SAS/iSCSI/SPI/SRP/USB/ATA transport exists under virtio-scsi or scsi_debug.
    s += ' '.repeat(32);
  } else if (!op.brief) {
    const v = await getValue(sys, buff, 'vendor');
    s += v !== null ? `${pad(v, 8)} ` : 'vendor?  ';
    const m = await getValue(sys, buff, 'model');
    s += m !== null ? `${pad(m, 16)} ` : 'model?           ';
    const r = await getValue(sys, buff, 'rev');
    s += r !== null ? `${pad(r, 4)}  ` : 'rev?  ';
  }
  const ns = await nonSgScan(sys, buff);
  let blockDir: string | null = null;
  if (ns !== null) {
    let wd: string | null = `${buff}/${ns.name}`;
    if (ns.isDir) {
      const first = ((await tryReaddir(sys, wd)) ?? [])[0];
      if (first === undefined) { s += 'unexpected scan_for_first error'; wd = null; } else wd = `${wd}/${first.name}`;
    }
    if (wd !== null) wd = await tryRealpath(sys, wd);
    if (wd !== null) {
      if (ns.isBlock) blockDir = wd;
      const node = op.kname ? `${DEV_DIR}/${wd.slice(wd.lastIndexOf('/') + 1)}`
        : (await getDevNode(sys, wd, ns.isBlock ? S_IFBLK : S_IFCHR)) ?? '-       ';
      s += pad(node, 9);
      if (op.dev_maj_min) {
        const d = await getValue(sys, wd, 'dev');
        s += d !== null ? `[${d}]` : '[dev?]';
      }
      if (op.scsi_id) s += `  ${(await getDiskScsiId(sys, node)) ?? '-'}`;
    }
  } else {
    s += op.scsi_id ? `${pad('-', 9)}  -` : pad('-', 9);
  }
  if (op.generic) {
    const wd = await tryRealpath(sys, `${buff}/generic`);
    if (wd !== null) {
      const node = op.kname ? `${DEV_DIR}/${wd.slice(wd.lastIndexOf('/') + 1)}` : (await getDevNode(sys, wd, S_IFCHR)) ?? '-';
      s += `  ${pad(node, 9)}`;
      if (op.dev_maj_min) {
        const d = await getValue(sys, wd, 'dev');
        s += d !== null ? `[${d}]` : '[dev?]';
      }
    } else s += `  ${pad('-', 9)}`;
  }
  if (op.ssize) {
    const size = blockDir !== null ? await getValue(sys, blockDir, 'size') : null;
    const n = size !== null ? BigInt(size.trim() || '0') : 0n;
    if (size === null || n === 0n) s += `  ${padL('-', 6)}`;
    else if (op.ssize > 2) s += `  ${padL(n.toString(), 12)}`;
    else s += `  ${padL(size2string(n << 9n, (op.ssize & 1) === 1), 6)}`;
  }
  s += '\n';
  if (op.verbose > 0) s += `  dir: ${buff}  [${(await tryRealpath(sys, buff)) ?? ''}]\n`;
  return s;
}

async function listSdevices(p: Process, op: Opts): Promise<void> {
  const dir = `${SYSFS_ROOT}${BUS_SCSI_DEVS}`;
  const ents = await tryReaddir(p.sys, dir);
  if (ents === null) {
    if (op.verbose > 0) {
      await p.stderr.write(`list_sdevices: scandir: ${dir}: No such file or directory\n`);
      await p.stdout.write('SCSI mid level module may not be loaded\n');
    }
    if (op.classic) await p.stdout.write('Attached devices: none\n');
    return;
  }
  const names = ents.map((e) => e.name).filter((n) => !n.includes('mt') && !n.includes('ot') && !n.includes('gen') &&
    !n.startsWith('host') && !n.startsWith('target') && n.includes(':')).sort(cmpHctl);
  if (op.classic) await p.stdout.write(`Attached devices: ${names.length ? '' : 'none'}\n`);
  for (const n of names) await p.stdout.write(await oneSdevEntry(p, dir, n, op));
}

async function listShosts(p: Process, op: Opts): Promise<void> {
  const dir = `${SYSFS_ROOT}${SCSI_HOST}`;
  const ents = await tryReaddir(p.sys, dir);
  if (ents === null) {
    await p.stderr.write(`list_shosts: scandir: ${dir}: No such file or directory\n`);
    return;
  }
  const hostNum = (n: string): number => Number(/^host(\d+)/.exec(n)?.[1] ?? -1);
  const names = ents.map((e) => e.name).filter((n) => n.startsWith('host')).sort((a, b) => hostNum(a) - hostNum(b));
  if (op.classic) await p.stdout.write(`Attached hosts: ${names.length ? '' : 'none'}\n`);
  for (const n of names) {
    if (op.classic) { await p.stdout.write("  <'--classic' not supported for hosts>\n"); continue; }
    const id = /^host(\d+)/.exec(n);
    let s = id ? `[${id[1]!}]  ` : '[?]  ';
    const buff = `${dir}/${n}`;
    const proc = await getValue(p.sys, buff, 'proc_name');
    if (proc !== null && !proc.startsWith('<NULL>') && !proc.startsWith('(null)')) s += `  ${pad(proc, 12)}  `;
    else {
      const drv = await tryRealpath(p.sys, `${buff}/device/../driver`);
      s += drv !== null ? `  ${pad(drv.slice(drv.lastIndexOf('/') + 1), 12)}  ` : '  proc_name=????  ';
    }
    s += '\n';
    if (op.verbose > 0) s += `  dir: ${buff}\n  device dir: ${(await tryRealpath(p.sys, `${buff}/device`)) ?? ''}\n`;
    await p.stdout.write(s);
  }
}

/** The NVMe half of lsscsi: this guest has no NVMe, so only the verbose diagnostics show. */
async function listNvme(p: Process, op: Opts, fn: 'list_ndevices' | 'list_nhosts'): Promise<void> {
  if (op.noNvme) return;
  if ((await tryReaddir(p.sys, `${SYSFS_ROOT}/class/nvme/`)) === null && op.verbose > 0) {
    await p.stderr.write(`${fn}: scandir: ${SYSFS_ROOT}/class/nvme/: No such file or directory\n`);
    await p.stdout.write('NVMe module may not be loaded\n');
  }
}

const USAGE = 'Usage: lsscsi   [--brief] [--classic] [--controllers] [--device] [--generic]\n' +
  '\t\t[--help] [--hosts] [--kname] [--list] [--lunhex] [--long]\n' +
  '\t\t[--long-unit] [--no-nvme] [--pdt] [--protection] [--prot-mode]\n' +
  '\t\t[--scsi_id] [--size] [--sz-lbs] [--sysfsroot=PATH] [--transport]\n' +
  '\t\t[--unit] [--verbose] [--version] [--wwn]  [<h:c:t:l>]\n';

const LONG: Record<string, string> = {
  brief: 'b', classic: 'c', controllers: 'C', device: 'd', generic: 'g', help: 'h', hosts: 'H', kname: 'k',
  'no-nvme': 'N', no_nvme: 'N', pdt: 'D', scsi_id: 'i', 'scsi-id': 'i', size: 's', transport: 't', verbose: 'v',
  version: 'V',
};

export async function lsscsi(p: Process): Promise<number> {
  const op: Opts = { classic: false, dev_maj_min: false, generic: false, hosts: false, kname: false, scsi_id: false,
    ssize: 0, transport: false, verbose: 0, brief: false, pdt: false, noNvme: false };
  for (const a of p.argv.slice(1)) {
    let letters: string[];
    if (a.startsWith('--')) {
      const l = LONG[a.slice(2)];
      if (l === undefined) {
        await p.stderr.write(`lsscsi: unrecognized option '${a}'\n\n${USAGE}`);
        return 1;
      }
      letters = [l];
    } else if (a.startsWith('-') && a.length > 1) letters = [...a.slice(1)];
    else continue; // <h:c:t:l> filters are not modelled
    for (const c of letters) {
      switch (c) {
        case 'b': op.brief = true; break;
        case 'c': op.classic = true; break;
        case 'd': op.dev_maj_min = true; break;
        case 'g': op.generic = true; break;
        case 'H': case 'C': op.hosts = true; break;
        case 'i': op.scsi_id = true; break;
        case 'k': op.kname = true; break;
        case 's': op.ssize++; break;
        case 't': op.transport = true; break;
        case 'v': op.verbose++; break;
        case 'D': op.pdt = true; break;
        case 'N': op.noNvme = true; break;
        case 'h': await p.stderr.write(USAGE); return 0;
        case 'V': await p.stderr.write('version: 0.32  2021/05/05 [svn: r167]\n'); return 0;
        default:
          await p.stderr.write(`lsscsi: invalid option -- '${c}'\n\n${USAGE}`);
          return 1;
      }
    }
  }
  if (op.hosts) {
    await listShosts(p, op);
    await listNvme(p, op, 'list_nhosts');
  } else {
    await listSdevices(p, op);
    await listNvme(p, op, 'list_ndevices');
  }
  return 0;
}

export const lsscsiEntry: CommandEntry = { name: 'lsscsi', paths: ['/usr/bin/lsscsi', '/bin/lsscsi'], run: lsscsi };
