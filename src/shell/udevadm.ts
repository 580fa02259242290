// Models src/udev/udevadm.c, udevadm-info.c and udevadm-test-builtin.c (systemd v252): `udevadm info` over the
// udev database in /run/udev/data, `udevadm test-builtin path_id`, and `settle`/`trigger` (which have nothing
// left to wait for once the kernel-side udev model has processed its events).
//
// Database format (written by the kernel-side udev model, read here), one file per device node,
// /run/udev/data/b<major>:<minor> or c<major>:<minor>, lines in this order:
//   S:<link relative to /dev>     one per symlink, in the order udev created them
//   L:<link priority>             optional, default 0
//   I:<usec initialized>          CLOCK_MONOTONIC µs when udev first processed the device
//   E:<KEY>=<value>               properties set by rules/builtins/programs, in the order they were set
//   G:<tag>                       tags (TAGS), in order
//   Q:<tag>                       current tags (CURRENT_TAGS), in order
//   V:1                           database version
// A device that no rule touched has no file (its `udevadm info` then shows only the kernel's properties).

import { isErrno, strerror } from '../kernel/errno.ts';
import { S_IFBLK, S_IFCHR, S_IFMT, type Syscalls } from '../kernel/syscalls.ts';
import { pathId, readTextFile } from './path_id.ts';
import type { CommandEntry, Process } from './process.ts';

export const UDEV_DB_DIR = '/run/udev/data';

/** Parsed udev database record. */
export interface UdevDbRecord {
  readonly links: string[];
  readonly linkPriority: number;
  readonly usecInitialized: number | null;
  readonly properties: [string, string][];
  readonly tags: string[];
  readonly currentTags: string[];
}

export function udevDbPath(type: 'b' | 'c', major: number, minor: number): string {
  return `${UDEV_DB_DIR}/${type}${major}:${minor}`;
}

export function parseUdevDb(text: string): UdevDbRecord {
  const rec: UdevDbRecord = { links: [], linkPriority: 0, usecInitialized: null, properties: [], tags: [], currentTags: [] };
  let prio = 0;
  let usec: number | null = null;
  for (const line of text.split('\n')) {
    if (line.length < 2 || line[1] !== ':') continue;
    const v = line.slice(2);
    switch (line[0]) {
      case 'S': rec.links.push(v); break;
      case 'L': prio = Number(v); break;
      case 'I': usec = Number(v); break;
      case 'E': { const eq = v.indexOf('='); if (eq > 0) rec.properties.push([v.slice(0, eq), v.slice(eq + 1)]); break; }
      case 'G': rec.tags.push(v); break;
      case 'Q': rec.currentTags.push(v); break;
      default: break;
    }
  }
  return { ...rec, linkPriority: prio, usecInitialized: usec };
}

/** Formats a record back into the database file text (used by the kernel-side udev model). */
export function formatUdevDb(rec: UdevDbRecord): string {
  let s = '';
  for (const l of rec.links) s += `S:${l}\n`;
  if (rec.linkPriority !== 0) s += `L:${rec.linkPriority}\n`;
  if (rec.usecInitialized !== null) s += `I:${rec.usecInitialized}\n`;
  for (const [k, v] of rec.properties) s += `E:${k}=${v}\n`;
  for (const t of rec.tags) s += `G:${t}\n`;
  for (const t of rec.currentTags) s += `Q:${t}\n`;
  return s + 'V:1\n';
}

/** The environment lines udevadm 252 logs at debug level when it loads its contexts in this guest. */
const TEST_BUILTIN_PROLOGUE = [
  ...['/etc/systemd/hwdb/hwdb.bin', '/etc/udev/hwdb.bin', '/usr/lib/systemd/hwdb/hwdb.bin', '/lib/systemd/hwdb/hwdb.bin',
    '/lib/udev/hwdb.bin'].map((f) => `Trying to open "${f}"...`),
  "hwdb.bin does not exist, please run 'systemd-hwdb update'",
  'Loading kernel module index.',
  'No filesystem is currently mounted on /sys/fs/cgroup.',
  `Failed to detect cgroup namespace: ${strerror('ENOMEDIUM')}`,
  'Found container virtualization none.',
  "Using default interface naming scheme 'v252'.",
  'Created link configuration context.',
];
const TEST_BUILTIN_EPILOGUE = ['Unload kernel module index.', 'Unloaded link configuration context.'];

/** A device as sd_device sees it: syspath plus the kernel's uevent properties. */
interface Device {
  readonly syspath: string;
  readonly devpath: string;
  readonly sysname: string;
  readonly subsystem: string | null;
  readonly driver: string | null;
  readonly uevent: Map<string, string>;
  readonly devType: 'b' | 'c' | null;
  readonly major: number;
  readonly minor: number;
}

async function readlinkBase(sys: Syscalls, path: string): Promise<string | null> {
  try { const t = await sys.readlink(path); return t.slice(t.lastIndexOf('/') + 1); } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
}

async function deviceFromSyspath(sys: Syscalls, path: string): Promise<Device | null> {
  let syspath: string;
  try { syspath = await sys.realpath(path); } catch (e) { if (isErrno(e)) return null; throw e; }
  const ueventText = await readTextFile(sys, `${syspath}/uevent`);
  if (ueventText === null) return null;
  const uevent = new Map<string, string>();
  for (const line of ueventText.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) uevent.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const subsystem = await readlinkBase(sys, `${syspath}/subsystem`);
  const major = Number(uevent.get('MAJOR') ?? -1);
  const minor = Number(uevent.get('MINOR') ?? -1);
  return {
    syspath,
    devpath: syspath.replace(/^\/sys/, ''),
    sysname: syspath.slice(syspath.lastIndexOf('/') + 1).replace(/!/g, '/'),
    subsystem,
    driver: await readlinkBase(sys, `${syspath}/driver`),
    uevent,
    devType: major < 0 ? null : subsystem === 'block' ? 'b' : 'c',
    major,
    minor,
  };
}

/** sd_device_new_from_devname: stat the node, then /sys/dev/{block,char}/M:m. */
async function deviceFromName(sys: Syscalls, name: string): Promise<Device | null> {
  const path = name.startsWith('/') ? name : `/dev/${name}`;
  if (path.startsWith('/sys/')) return deviceFromSyspath(sys, path);
  let st;
  try { st = await sys.stat(path); } catch (e) { if (isErrno(e)) return null; throw e; }
  const fmt = st.mode & S_IFMT;
  if (fmt !== S_IFBLK && fmt !== S_IFCHR) return null;
  return deviceFromSyspath(sys, `/sys/dev/${fmt === S_IFBLK ? 'block' : 'char'}/${st.rdevMajor}:${st.rdevMinor}`);
}

async function readDb(sys: Syscalls, dev: Device): Promise<UdevDbRecord | null> {
  if (dev.devType === null) return null;
  const text = await readTextFile(sys, udevDbPath(dev.devType, dev.major, dev.minor));
  return text === null ? null : parseUdevDb(text);
}

/** All properties in the order udevadm prints them. */
function properties(dev: Device, db: UdevDbRecord | null): [string, string][] {
  const kernel = new Map(dev.uevent);
  if (kernel.has('DEVNAME')) kernel.set('DEVNAME', `/dev/${kernel.get('DEVNAME')!}`);
  if (dev.subsystem !== null) kernel.set('SUBSYSTEM', dev.subsystem);
  if (dev.driver !== null) kernel.set('DRIVER', dev.driver);
  const out: [string, string][] = [['DEVPATH', dev.devpath]];
  for (const k of [...kernel.keys()].sort()) out.push([k, kernel.get(k)!]);
  if (db !== null) {
    if (db.usecInitialized !== null) out.push(['USEC_INITIALIZED', String(db.usecInitialized)]);
    out.push(...db.properties);
    if (db.links.length > 0) out.push(['DEVLINKS', db.links.map((l) => `/dev/${l}`).join(' ')]);
    if (db.tags.length > 0) out.push(['TAGS', `:${db.tags.join(':')}:`]);
    if (db.currentTags.length > 0) out.push(['CURRENT_TAGS', `:${db.currentTags.join(':')}:`]);
  }
  return out;
}

function formatRecord(dev: Device, db: UdevDbRecord | null): string {
  let s = `P: ${dev.devpath}\n`;
  s += `M: ${dev.sysname}\n`;
  const num = /(\d+)$/.exec(dev.sysname);
  if (num) s += `R: ${num[1]!}\n`;
  if (dev.subsystem !== null) s += `U: ${dev.subsystem}\n`;
  const devtype = dev.uevent.get('DEVTYPE');
  if (devtype !== undefined) s += `T: ${devtype}\n`;
  if (dev.devType !== null) s += `D: ${dev.devType} ${dev.major}:${dev.minor}\n`;
  const devname = dev.uevent.get('DEVNAME');
  if (devname !== undefined) {
    s += `N: ${devname}\n`;
    s += `L: ${db?.linkPriority ?? 0}\n`;
  }
  for (const l of db?.links ?? []) s += `S: ${l}\n`;
  const seq = dev.uevent.get('DISKSEQ');
  if (seq !== undefined) s += `Q: ${seq}\n`;
  if (dev.driver !== null) s += `V: ${dev.driver}\n`;
  for (const [k, v] of properties(dev, db)) s += `E: ${k}=${v}\n`;
  return s + '\n';
}

const INFO_QUERIES = ['name', 'symlink', 'path', 'property', 'env', 'all'] as const;

async function info(p: Process, args: readonly string[]): Promise<number> {
  let query = 'all';
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let m: RegExpExecArray | null;
    if ((m = /^--query=(.*)$/.exec(a))) query = m[1]!;
    else if (a === '-q' || a === '--query') query = args[++i] ?? '';
    else if (/^-q./.test(a)) query = a.slice(2);
    else if ((m = /^--(name|path)=(.*)$/.exec(a))) names.push(m[2]!);
    else if (a === '-n' || a === '--name' || a === '-p' || a === '--path') names.push(args[++i] ?? '');
    else if (/^-[np]./.test(a)) names.push(a.slice(2));
    else if (a.startsWith('-')) {
      await p.stderr.write(`udevadm: unrecognized option '${a}'\n`);
      return 1;
    } else names.push(a);
  }
  if (!(INFO_QUERIES as readonly string[]).includes(query)) {
    await p.stderr.write(`unknown query type\n`);
    return 1;
  }
  if (names.length === 0) {
    await p.stderr.write('A device name or path is required\n');
    return 1;
  }
  for (const name of names) {
    const dev = await deviceFromName(p.sys, name);
    if (dev === null) {
      await p.stderr.write(`Unknown device "${name}": No such device\n`);
      return 1;
    }
    const db = await readDb(p.sys, dev);
    switch (query) {
      case 'all': await p.stdout.write(formatRecord(dev, db)); break;
      case 'property': case 'env':
        await p.stdout.write(properties(dev, db).map(([k, v]) => `${k}=${v}\n`).join(''));
        break;
      case 'path': await p.stdout.write(`${dev.devpath}\n`); break;
      case 'name': {
        const n = dev.uevent.get('DEVNAME');
        if (n === undefined) { await p.stderr.write('No device node found\n'); return 1; }
        await p.stdout.write(`${n}\n`);
        break;
      }
      case 'symlink': await p.stdout.write(`${(db?.links ?? []).join(' ')}\n`); break;
    }
  }
  return 0;
}

async function testBuiltin(p: Process, args: readonly string[]): Promise<number> {
  const [builtin, syspath] = args;
  if (builtin === undefined) {
    await p.stderr.write('Command missing.\n');
    return 1;
  }
  if (builtin !== 'path_id') {
    await p.stderr.write(`Invalid builtin command: ${builtin}\n`);
    return 1;
  }
  if (syspath === undefined) {
    await p.stderr.write('syspath missing.\n');
    return 1;
  }
  await p.stderr.write(TEST_BUILTIN_PROLOGUE.map((l) => `${l}\n`).join(''));
  const path = syspath.startsWith('/sys') ? syspath : `/sys${syspath}`;
  const dev = await deviceFromSyspath(p.sys, path);
  let rc = 0;
  if (dev === null) {
    await p.stderr.write(`Failed to open device '${path}': No such device\n`);
    rc = 2;
  } else {
    const r = await pathId(p.sys, dev.syspath);
    if (r.ok) {
      await p.stdout.write(`ID_PATH=${r.props.ID_PATH}\nID_PATH_TAG=${r.props.ID_PATH_TAG}\n`);
    } else {
      await p.stderr.write(`Builtin command '${builtin}' fails: ${strerror(r.error)}\n`);
      rc = 1;
    }
  }
  await p.stderr.write(TEST_BUILTIN_EPILOGUE.map((l) => `${l}\n`).join(''));
  return rc;
}

export async function udevadm(p: Process): Promise<number> {
  const [, verb, ...rest] = p.argv;
  switch (verb) {
    case 'info': return info(p, rest);
    case 'test-builtin': return testBuiltin(p, rest);
    case 'settle': case 'trigger': case 'control': return 0;
    case '--version': case '-V': await p.stdout.write('252\n'); return 0;
    case undefined:
      await p.stderr.write('udevadm: missing or unknown command\n');
      return 1;
    default:
      await p.stderr.write(`udevadm: missing or unknown command\n`);
      return 1;
  }
}

export const udevadmEntry: CommandEntry = {
  name: 'udevadm',
  paths: ['/bin/udevadm', '/sbin/udevadm', '/usr/bin/udevadm', '/usr/sbin/udevadm'],
  run: udevadm,
};
