// Models util-linux/mount.c and util-linux/umount.c (busybox 1.36): `mount [-t TYPE] [-o OPTS] DEV DIR`,
// bare `mount` listing /proc/mounts, `mount LABEL=…|UUID=…`, and `umount DIR|DEV`.
//
// mount: options become MS_* flags (busybox starts from MS_SILENT, so the kernel keeps quiet about
// unrecognised media); unknown options are passed to the filesystem as data. A regular-file source
// would need a loop device, which this guest does not have. A mount refused with EACCES/EROFS is
// retried read-only (silently, since MS_SILENT is set). Failures print `mounting DEV on DIR failed:
// <strerror>` and exit with mount(2)'s -1, i.e. status 255.

import { isErrno, strerror } from '../kernel/errno.ts';
import type { ErrnoCode } from '../kernel/errno.ts';
import { S_IFDIR, S_IFMT, S_IFREG } from '../kernel/syscalls.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import { err, readFile, resolvePath, normalizePath } from './applet.ts';
import { BLKID_FLAGS_CACHE, blkidProbeDevice } from './libblkid.ts';
import type { CommandEntry, Process } from './process.ts';

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_SYNCHRONOUS = 16;
const MS_REMOUNT = 32;
const MS_MANDLOCK = 64;
const MS_DIRSYNC = 128;
const MS_NOATIME = 1024;
const MS_NODIRATIME = 2048;
const MS_BIND = 4096;
const MS_MOVE = 8192;
const MS_SILENT = 0x8000;
const MS_RELATIME = 1 << 21;
const MS_STRICTATIME = 1 << 24;

/** busybox's mount_options table: a name sets (positive) or clears (negative, as ~flag) flags; 0 = ignored. */
const MOUNT_OPTIONS: Readonly<Record<string, { set?: number; clear?: number }>> = {
  loop: {},
  defaults: {},
  noauto: {},
  sw: {},
  swap: {},
  user: {},
  users: {},
  _netdev: {},
  nofail: {},
  sync: { set: MS_SYNCHRONOUS },
  async: { clear: MS_SYNCHRONOUS },
  dirsync: { set: MS_DIRSYNC },
  nosuid: { set: MS_NOSUID },
  suid: { clear: MS_NOSUID },
  dev: { clear: MS_NODEV },
  nodev: { set: MS_NODEV },
  exec: { clear: MS_NOEXEC },
  noexec: { set: MS_NOEXEC },
  mand: { set: MS_MANDLOCK },
  nomand: { clear: MS_MANDLOCK },
  atime: { clear: MS_NOATIME },
  noatime: { set: MS_NOATIME },
  diratime: { clear: MS_NODIRATIME },
  nodiratime: { set: MS_NODIRATIME },
  relatime: { set: MS_RELATIME },
  norelatime: { clear: MS_RELATIME },
  strictatime: { set: MS_STRICTATIME },
  loud: { clear: MS_SILENT },
  bind: { set: MS_BIND },
  move: { set: MS_MOVE },
  ro: { set: MS_RDONLY },
  rw: { clear: MS_RDONLY },
  remount: { set: MS_REMOUNT },
};

/** parse_mount_options: flags, and the options the kernel filesystem gets as data. */
function parseMountOptions(opts: string): { flags: number; data: string } {
  let flags = MS_SILENT;
  const rest: string[] = [];
  for (const o of opts.split(',')) {
    if (o === '') continue;
    const known = MOUNT_OPTIONS[o];
    if (!known) {
      rest.push(o);
      continue;
    }
    if (known.set) flags |= known.set;
    if (known.clear) flags &= ~known.clear;
  }
  return { flags, data: rest.join(',') };
}

export interface MountEntry {
  readonly fsname: string;
  readonly dir: string;
  readonly type: string;
  readonly opts: string;
}

/** getmntent over /proc/mounts (octal escapes `\040` decoded). */
export async function readMounts(sys: Syscalls): Promise<MountEntry[] | null> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readFile(sys, '/proc/mounts'));
  } catch (e) {
    if (!isErrno(e)) throw e;
    return null;
  }
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[0]!.startsWith('#')) continue;
    out.push({ fsname: unescape(f[0]!), dir: unescape(f[1]!), type: unescape(f[2]!), opts: unescape(f[3]!) });
  }
  return out;
}

/** resolve_mount_spec: `LABEL=x` / `UUID=x` name the device whose filesystem carries them. */
async function resolveMountSpec(sys: Syscalls, spec: string): Promise<string> {
  const m = /^(LABEL|UUID)=(.*)$/.exec(spec);
  if (!m) return spec;
  for (const dev of await partitionDevices(sys)) {
    try {
      const r = await blkidProbeDevice(sys, dev, BLKID_FLAGS_CACHE);
      if (r.values.some((v) => v.name === m[1] && v.value === m[2])) return dev;
    } catch (e) {
      if (!isErrno(e)) throw e; // unreadable devices are skipped
    }
  }
  return spec;
}

/** Block devices by /proc/partitions order, as /dev/NAME. */
export async function partitionDevices(sys: Syscalls): Promise<string[]> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readFile(sys, '/proc/partitions'));
  } catch (e) {
    if (!isErrno(e)) throw e;
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length === 4 && /^\d+$/.test(f[0]!)) out.push(`/dev/${f[3]!}`);
  }
  return out;
}

/** Block-backed filesystem types, for a mount without -t (/etc/filesystems, then /proc/filesystems). */
async function blockBackedFilesystems(sys: Syscalls): Promise<string[]> {
  for (const path of ['/etc/filesystems', '/proc/filesystems']) {
    try {
      const text = new TextDecoder().decode(await readFile(sys, path));
      return text
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('nodev') && !l.startsWith('#') && !l.trim().startsWith('*'))
        .map((l) => l.trim());
    } catch (e) {
      if (!isErrno(e)) throw e; // try the next list
    }
  }
  return [];
}

interface Parsed {
  readonly opts: string[];
  readonly type: string | null;
  readonly flags: Set<string>;
  readonly operands: string[];
}

/** getopt32 with GNU permutation: options may follow operands; `-o` may repeat; `--opt` is `-o opt`. */
async function parseArgs(p: Process, prog: string, spec: string, usage: string): Promise<Parsed | null> {
  const opts: string[] = [];
  const flags = new Set<string>();
  const operands: string[] = [];
  let type: string | null = null;
  const args = p.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (prog === 'mount' && a.startsWith('--')) {
      opts.push(a.slice(2));
      continue;
    }
    if (!a.startsWith('-') || a === '-') {
      operands.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const at = spec.indexOf(c);
      if (at < 0) {
        await err(p, `${prog}: invalid option -- '${c}'\n${usage}`);
        return null;
      }
      if (spec[at + 1] === ':') {
        const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
        if (v === undefined) {
          await err(p, `${prog}: option requires an argument -- '${c}'\n${usage}`);
          return null;
        }
        if (c === 'o') opts.push(v);
        else if (c === 't') type = v;
        else flags.add(c);
        break;
      }
      flags.add(c);
    }
  }
  return { opts, type, flags, operands };
}

const MOUNT_USAGE = 'BusyBox v1.36.1 multi-call binary.\n\nUsage: mount [OPTIONS] [-o OPT] DEVICE NODE\n';
const UMOUNT_USAGE = 'BusyBox v1.36.1 multi-call binary.\n\nUsage: umount [-rlfda] [-t FSTYPE] FILESYSTEM|DIRECTORY\n';

function errnoOf(e: unknown): ErrnoCode {
  if (isErrno(e)) return e.code;
  throw e;
}

/** mount_it_now: one mount(2) with the read-only fallback; the errno of the last failure, or null. */
async function mountItNow(p: Process, fsname: string, dir: string, type: string, flags: number, data: string, noRoFallback: boolean): Promise<ErrnoCode | null> {
  for (;;) {
    let code: ErrnoCode;
    try {
      await p.sys.mount(resolvePath(p.cwd, fsname), resolvePath(p.cwd, dir), type, flags, data === '' ? undefined : data);
      return null;
    } catch (e) {
      code = errnoOf(e);
    }
    if (flags & MS_RDONLY || noRoFallback || (code !== 'EACCES' && code !== 'EROFS')) return code;
    if (!(flags & MS_SILENT)) await err(p, `mount: ${fsname} is write-protected, mounting read-only\n`);
    flags |= MS_RDONLY;
  }
}

export async function mountMain(p: Process): Promise<number> {
  const parsed = await parseArgs(p, 'mount', 'o:t:rwanfvsiO:T:', MOUNT_USAGE);
  if (!parsed) return 1;
  if (parsed.operands.length > 2) {
    await err(p, MOUNT_USAGE);
    return 1;
  }
  const cmdopts = [...parsed.opts];
  if (parsed.flags.has('r')) cmdopts.push('ro');
  if (parsed.flags.has('w')) cmdopts.push('rw');
  const [src, target] = parsed.operands;

  if (src === undefined) {
    if (parsed.flags.has('a')) {
      await err(p, "mount: can't read '/etc/fstab': No such file or directory\n");
      return 1;
    }
    const mounts = await readMounts(p.sys);
    if (!mounts) {
      await err(p, 'mount: no /proc/mounts\n');
      return 1;
    }
    let out = '';
    for (const m of mounts) if (parsed.type === null || m.type === parsed.type) out += `${m.fsname} on ${m.dir} type ${m.type} (${m.opts})\n`;
    await p.stdout.write(out);
    return 0;
  }
  if (target === undefined) {
    // One operand: looked up in /etc/fstab, which this guest does not have.
    await err(p, "mount: can't read '/etc/fstab': No such file or directory\n");
    return 1;
  }

  const fsname = await resolveMountSpec(p.sys, src);
  const parsedOpts = parseMountOptions(cmdopts.join(','));
  let flags = parsedOpts.flags;
  const data = parsedOpts.data;
  let type = parsed.type === 'auto' ? null : parsed.type;

  try {
    const st = await p.sys.stat(resolvePath(p.cwd, fsname));
    if (!(flags & (MS_REMOUNT | MS_BIND | MS_MOVE))) {
      if ((st.mode & S_IFMT) === S_IFREG) {
        // set_loop: no /dev/loop* here.
        await err(p, "mount: can't setup loop device: No such file or directory\n");
        return 255;
      }
      if ((st.mode & S_IFMT) === S_IFDIR && type === null) flags |= MS_BIND;
    }
  } catch (e) {
    // A source that does not exist is not an error yet: the kernel decides (proc, sysfs …).
    if (!isErrno(e)) throw e;
  }

  const noRoFallback = parsed.flags.has('w');
  let code: ErrnoCode | null = 'ENOENT';
  if (type !== null || flags & (MS_REMOUNT | MS_BIND | MS_MOVE)) {
    for (const t of (type ?? '').split(',')) {
      code = await mountItNow(p, fsname, target, t, flags, data, noRoFallback);
      if (code === null) break;
    }
  } else {
    for (const t of await blockBackedFilesystems(p.sys)) {
      type = t;
      code = await mountItNow(p, fsname, target, t, flags, data, noRoFallback);
      if (code === null) break;
    }
  }
  if (code === null) return 0;
  if (code === 'EPERM') {
    await err(p, 'mount: permission denied (are you root?)\n');
    return 1;
  }
  await err(p, `mount: mounting ${fsname} on ${target} failed: ${strerror(code)}\n`);
  return 255;
}

export async function umountMain(p: Process): Promise<number> {
  const parsed = await parseArgs(p, 'umount', 'fldnrat:cvi', UMOUNT_USAGE);
  if (!parsed) return 1;
  const mounts = await readMounts(p.sys);
  if (parsed.flags.has('a') && !mounts) {
    await err(p, "umount: can't open '/proc/mounts'\n");
    return 1;
  }
  // Newest first, as busybox builds its list.
  const byType = (mounts ?? []).filter((m) => parsed.type === null || parsed.type.split(',').includes(m.type)).reverse();
  const targets: string[] = parsed.flags.has('a') ? byType.map((m) => m.dir) : parsed.operands;
  if (!parsed.flags.has('a') && targets.length === 0) {
    await err(p, UMOUNT_USAGE);
    return 1;
  }
  let status = 0;
  for (const t of targets) {
    let zapit = t;
    let path: string | null = null;
    try {
      path = await p.sys.realpath(resolvePath(p.cwd, t));
    } catch (e) {
      if (!isErrno(e)) throw e;
      path = null;
    }
    if (path !== null) {
      const m = byType.find((x) => x.dir === path || x.fsname === path);
      if (m) zapit = m.dir;
    }
    try {
      await p.sys.umount(normalizePath(resolvePath(p.cwd, zapit)));
    } catch (e) {
      status = 1;
      await err(p, `umount: can't unmount ${zapit}: ${strerror(errnoOf(e))}\n`);
    }
  }
  return status;
}

export const mountEntry: CommandEntry = {
  name: 'mount',
  paths: ['/bin/mount', '/sbin/mount', '/usr/bin/mount', '/usr/sbin/mount'],
  run: mountMain,
};

export const umountEntry: CommandEntry = {
  name: 'umount',
  paths: ['/bin/umount', '/sbin/umount', '/usr/bin/umount', '/usr/sbin/umount'],
  run: umountMain,
};
