// Ours (≈ fs/namei.c, fs/open.c, fs/read_write.c, fs/readdir.c, fs/namespace.c, reduced): path
// resolution across mounts and symlinks, permission checks, the file-descriptor table, and the
// `Syscalls` surface the guest userland uses.
//
// Path walk: component by component from `/` (or the cwd), entering mounted roots, following
// symlinks (relative to the link's directory, at most 40 — ELOOP), `..` taken physically after links
// are resolved, as Linux does. Root bypasses permission bits (CAP_DAC_OVERRIDE); the open behaviour of
// a node can still refuse (a sysfs attribute without show/store gives EACCES even to root).

import { Errno } from './errno.ts';
import { DevNode, DirNode, FileNode, FsNode, LinkNode, pathOf } from './fs.ts';
import type { FileOps } from './fs.ts';
import type { Cred, Dirent, Stat, Syscalls } from './syscalls.ts';
import { POSIX_FADV_VALID } from './syscalls.ts';
import {
  O_ACCMODE,
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_RDONLY,
  O_TRUNC,
  O_WRONLY,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
} from './syscalls.ts';

const MAX_SYMLINKS = 40;

/** Opens a device node (≈ chrdev_open / blkdev_open). Throws Errno (ENXIO, ENOMEDIUM …). */
export type DeviceOpener = (kind: 'chr' | 'blk', major: number, minor: number, flags: number) => FileOps | Promise<FileOps>;

/**
 * A mounted filesystem instance as its type describes it (≈ super_block + super_operations, reduced):
 * its root, the filesystem's own part of the /proc/mounts options (show_options, each with a leading
 * comma), and what to do at umount (kill_sb: release the block device).
 */
export interface SuperBlock {
  readonly root: DirNode;
  showOptions?(): string;
  kill?(): void | Promise<void>;
}

/** Mounts a filesystem type; returns the root directory of the new instance (or its SuperBlock). */
export type MountFn = (
  source: FsNode | null,
  flags: number,
  data: string | undefined,
) => Promise<DirNode | SuperBlock> | DirNode | SuperBlock;

/** mount(2) flags the VFS itself interprets (include/uapi/linux/mount.h). */
export const MS_RDONLY = 1;
export const MS_SILENT = 0x8000;

/** One line of the mount table (/proc/mounts). */
export interface MountRecord {
  readonly source: string;
  readonly target: string;
  readonly fstype: string;
  readonly flags: number;
  readonly sb: SuperBlock;
}

/** The parts of the kernel the VFS calls out to, supplied by the machine's kernel. */
export interface KernelServices {
  /** Virtual seconds since the epoch (for mtime and time()). */
  time(): number;
  uptime(): number;
  sleep(ns: number): Promise<void>;
  syslog(): string[];
  initModule(name: string, params: string): Promise<void>;
  deleteModule(name: string): Promise<void>;
  uname(): { sysname: string; nodename: string; release: string; version: string; machine: string };
  /** request_module: the kernel asks modprobe for a module alias (`fs-iso9660`); errors are ignored. */
  requestModule?(alias: string): Promise<void>;
}

interface OpenFile {
  readonly node: FsNode;
  readonly ops: FileOps;
  readonly flags: number;
  pos: number;
}

function typeBits(n: FsNode): number {
  switch (n.kind) {
    case 'dir':
      return S_IFDIR;
    case 'reg':
      return S_IFREG;
    case 'lnk':
      return S_IFLNK;
    case 'chr':
      return S_IFCHR;
    case 'blk':
      return S_IFBLK;
  }
}

/** Plain ramfs file behaviour over FileNode.data. */
function ramFileOps(node: FileNode, time: () => number): FileOps {
  return {
    read(pos, len) {
      return node.data.slice(pos, Math.min(node.data.length, pos + len));
    },
    write(pos, data) {
      const end = pos + data.length;
      if (end > node.data.length) {
        const grown = new Uint8Array(end);
        grown.set(node.data);
        node.data = grown;
      }
      node.data.set(data, pos);
      node.mtime = time();
      return data.length;
    },
    size: () => node.data.length,
  };
}

export class Vfs {
  readonly root: DirNode;
  readonly #fds = new Map<number, OpenFile>();
  readonly #fstypes = new Map<string, MountFn>();
  readonly #mounts: MountRecord[] = [];
  readonly #svc: KernelServices;
  #devOpener: DeviceOpener = () => {
    throw new Errno('ENXIO');
  };

  constructor(root: DirNode, svc: KernelServices) {
    this.root = root;
    this.#svc = svc;
  }

  setDeviceOpener(open: DeviceOpener): void {
    this.#devOpener = open;
  }

  registerFilesystem(name: string, mount: MountFn): void {
    this.#fstypes.set(name, mount);
  }

  /** Opens a device node from kernel side (≈ blkdev_get_by_dev), as a filesystem does for its source. */
  async openNode(node: DevNode, flags: number): Promise<FileOps> {
    return await this.#devOpener(node.kind, node.major, node.minor, flags);
  }

  /** Mounts made through mount(2), oldest first. */
  mounts(): readonly MountRecord[] {
    return this.#mounts;
  }

  /** /proc/mounts lines for those mounts (show_vfsmnt: `source target type ro|rw,relatime<fs options> 0 0`). */
  procMounts(): string {
    return this.#mounts
      .map((m) => `${m.source} ${m.target} ${m.fstype} ${m.flags & MS_RDONLY ? 'ro' : 'rw'},relatime${m.sb.showOptions?.() ?? ''} 0 0\n`)
      .join('');
  }

  /** A syscall view with the given credentials (each process/shell holds one). */
  syscalls(cred: Cred = { uid: 0, gid: 0 }, cwd: () => string = () => '/'): Syscalls {
    return new SyscallView(this, cred, cwd, this.#svc);
  }

  // ---- path walk -------------------------------------------------------------------------------

  /** Follows a mount stack from a directory to the root of what is mounted on it. */
  static enter(n: FsNode): FsNode {
    while (n instanceof DirNode && n.mounted) n = n.mounted;
    return n;
  }

  static up(dir: DirNode): DirNode {
    let d = dir;
    while (d.mountpoint) d = d.mountpoint;
    return d.parent ?? d;
  }

  lookup(path: string, cwd: string, cred: Cred, follow = true): FsNode {
    return this.#walk(path, cwd, cred, follow, { links: 0 });
  }

  /** Parent directory and final name of a path (for create/unlink/symlink/mkdir). */
  lookupParent(path: string, cwd: string, cred: Cred): { dir: DirNode; name: string } {
    const trimmed = path.replace(/\/+$/, '');
    const i = trimmed.lastIndexOf('/');
    const dirPath = i < 0 ? '.' : i === 0 ? '/' : trimmed.slice(0, i);
    const name = i < 0 ? trimmed : trimmed.slice(i + 1);
    if (name === '' || name === '.' || name === '..') throw new Errno('EEXIST');
    const dir = this.lookup(dirPath, cwd, cred);
    if (!(dir instanceof DirNode)) throw new Errno('ENOTDIR');
    this.#checkAccess(dir, cred, 0o3);
    return { dir, name };
  }

  #walk(path: string, cwd: string, cred: Cred, follow: boolean, st: { links: number }): FsNode {
    if (path === '') throw new Errno('ENOENT');
    let cur: FsNode = path.startsWith('/') ? Vfs.enter(this.root) : this.#walk(cwd, '/', cred, true, st);
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (!(cur instanceof DirNode)) throw new Errno('ENOTDIR');
      this.#checkAccess(cur, cred, 0o1);
      if (part === '..') {
        cur = Vfs.enter(Vfs.up(cur));
        continue;
      }
      const child = cur.get(part);
      if (!child) throw new Errno('ENOENT');
      const last = i === parts.length - 1;
      if (child instanceof LinkNode && (!last || follow)) {
        if (++st.links > MAX_SYMLINKS) throw new Errno('ELOOP');
        const target = child.readTarget();
        const base = pathOf(cur);
        cur = this.#walk(target, base, cred, true, st);
        continue;
      }
      cur = Vfs.enter(child);
    }
    // A trailing slash demands a directory.
    if (path.endsWith('/') && !(cur instanceof DirNode)) throw new Errno('ENOTDIR');
    return cur;
  }

  /** DAC check: `want` is rwx bits (4/2/1). Root passes (CAP_DAC_OVERRIDE), except exec on files without any x. */
  #checkAccess(n: FsNode, cred: Cred, want: number): void {
    if (cred.uid === 0) return;
    const m = n.mode;
    const bits = cred.uid === n.uid ? (m >> 6) & 7 : cred.gid === n.gid ? (m >> 3) & 7 : m & 7;
    if ((bits & want) !== want) throw new Errno('EACCES');
  }

  checkAccess(n: FsNode, cred: Cred, want: number): void {
    this.#checkAccess(n, cred, want);
  }

  // ---- file descriptors ------------------------------------------------------------------------

  async open(path: string, flags: number, mode: number, cwd: string, cred: Cred): Promise<number> {
    let node: FsNode;
    try {
      node = this.lookup(path, cwd, cred);
      if (flags & O_CREAT && flags & O_EXCL) throw new Errno('EEXIST');
    } catch (e) {
      if (!(e instanceof Errno) || e.code !== 'ENOENT' || !(flags & O_CREAT)) throw e;
      const { dir, name } = this.lookupParent(path, cwd, cred);
      if (dir.readonly) throw new Errno('EACCES');
      const f = new FileNode(name, mode & 0o7777 & ~0o022, this.#svc.time(), dir.dev);
      f.uid = cred.uid;
      f.gid = cred.gid;
      node = dir.add(f);
    }
    const acc = flags & O_ACCMODE;
    const wantsRead = acc === O_RDONLY || acc === 2;
    const wantsWrite = acc === O_WRONLY || acc === 2;
    if (node instanceof DirNode) {
      if (wantsWrite) throw new Errno('EISDIR');
    } else if (flags & O_DIRECTORY) throw new Errno('ENOTDIR');
    this.#checkAccess(node, cred, (wantsRead ? 4 : 0) | (wantsWrite ? 2 : 0));
    let ops: FileOps;
    if (node instanceof FileNode) {
      ops = node.ops ? node.ops() : ramFileOps(node, () => this.#svc.time());
      if ((wantsRead && !ops.read) || (wantsWrite && !ops.write)) throw new Errno('EACCES');
      if (!node.ops && flags & O_TRUNC && wantsWrite) node.data = new Uint8Array(0);
    } else if (node instanceof DevNode) {
      ops = await this.#devOpener(node.kind, node.major, node.minor, flags);
    } else {
      ops = {};
    }
    let fd = 3;
    while (this.#fds.has(fd)) fd++;
    this.#fds.set(fd, { node, ops, flags, pos: 0 });
    return fd;
  }

  file(fd: number): OpenFile {
    const f = this.#fds.get(fd);
    if (!f) throw new Errno('EBADF');
    return f;
  }

  async close(fd: number): Promise<void> {
    const f = this.file(fd);
    this.#fds.delete(fd);
    await f.ops.release?.();
  }

  async read(fd: number, length: number, position?: number): Promise<Uint8Array> {
    const f = this.file(fd);
    if ((f.flags & O_ACCMODE) === O_WRONLY) throw new Errno('EBADF');
    if (f.node instanceof DirNode) throw new Errno('EISDIR');
    if (!f.ops.read) throw new Errno('EINVAL');
    const pos = position ?? f.pos;
    const data = await f.ops.read(pos, length);
    if (position === undefined) f.pos = pos + data.length;
    return data;
  }

  async write(fd: number, data: Uint8Array, position?: number): Promise<number> {
    const f = this.file(fd);
    if ((f.flags & O_ACCMODE) === O_RDONLY) throw new Errno('EBADF');
    if (!f.ops.write) throw new Errno('EINVAL');
    let pos = position ?? f.pos;
    if (f.flags & O_APPEND && position === undefined) pos = f.ops.size?.() ?? 0;
    const n = await f.ops.write(pos, data);
    if (position === undefined) f.pos = pos + n;
    return n;
  }

  stat(node: FsNode): Stat {
    const dev = node instanceof DevNode ? node : null;
    const size = node instanceof FileNode ? node.size() : node.size();
    return {
      dev: node.dev,
      ino: node.ino,
      mode: typeBits(node) | (node.mode & 0o7777),
      nlink:
        node.nlink ?? (node instanceof DirNode ? 2 + node.subdirCount : 1),
      uid: node.uid,
      gid: node.gid,
      rdevMajor: dev?.major ?? 0,
      rdevMinor: dev?.minor ?? 0,
      size,
      blksize: 4096,
      // tmpfs and sysfs charge no blocks to directories, links and nodes; file data takes whole pages.
      blocks: node.blocks ?? (node instanceof FileNode && !node.ops ? Math.ceil(size / 4096) * 8 : 0),
      mtime: node.mtime,
      atime: node.mtime,
      ctime: node.mtime,
    };
  }

  readdir(node: FsNode): Dirent[] {
    if (!(node instanceof DirNode)) throw new Errno('ENOTDIR');
    return [...node.children.values()].map((c) => ({ name: c.name, type: typeBits(c) }));
  }

  async mount(source: string, target: string, fstype: string, flags: number, data: string | undefined, cred: Cred): Promise<void> {
    if (cred.uid !== 0) throw new Errno('EPERM');
    // get_fs_type: an unknown type is asked for as the module alias "fs-<type>" once.
    if (!this.#fstypes.has(fstype) && this.#svc.requestModule) await this.#svc.requestModule(`fs-${fstype}`).catch(() => undefined);
    const mount = this.#fstypes.get(fstype);
    if (!mount) throw new Errno('ENODEV');
    const dir = this.lookup(target, '/', cred);
    if (!(dir instanceof DirNode)) throw new Errno('ENOTDIR');
    let src: FsNode | null = null;
    try {
      src = this.lookup(source, '/', cred);
    } catch {
      src = null;
    }
    const made = await mount(src, flags, data);
    const sb: SuperBlock = made instanceof DirNode ? { root: made } : made;
    const root = sb.root;
    let top: DirNode = dir;
    while (top.mounted) top = top.mounted;
    top.mounted = root;
    root.mountpoint = top;
    this.#mounts.push({ source, target: pathOf(root), fstype, flags, sb });
  }

  async umount(target: string, cred: Cred): Promise<void> {
    if (cred.uid !== 0) throw new Errno('EPERM');
    const n = this.lookup(target, '/', cred);
    if (!(n instanceof DirNode) || !n.mountpoint) throw new Errno('EINVAL');
    n.mountpoint.mounted = null;
    n.mountpoint = null;
    const i = this.#mounts.findIndex((m) => m.sb.root === n);
    if (i >= 0) await this.#mounts.splice(i, 1)[0]!.sb.kill?.();
  }
}

class SyscallView implements Syscalls {
  readonly #vfs: Vfs;
  readonly #cred: Cred;
  readonly #cwd: () => string;
  readonly #svc: KernelServices;

  constructor(vfs: Vfs, cred: Cred, cwd: () => string, svc: KernelServices) {
    this.#vfs = vfs;
    this.#cred = cred;
    this.#cwd = cwd;
    this.#svc = svc;
  }

  async stat(path: string): Promise<Stat> {
    return this.#vfs.stat(this.#vfs.lookup(path, this.#cwd(), this.#cred, true));
  }
  async lstat(path: string): Promise<Stat> {
    return this.#vfs.stat(this.#vfs.lookup(path, this.#cwd(), this.#cred, false));
  }
  async readdir(path: string): Promise<Dirent[]> {
    const n = this.#vfs.lookup(path, this.#cwd(), this.#cred, true);
    this.#vfs.checkAccess(n, this.#cred, 4);
    return this.#vfs.readdir(n);
  }
  async readlink(path: string): Promise<string> {
    const n = this.#vfs.lookup(path, this.#cwd(), this.#cred, false);
    if (!(n instanceof LinkNode)) throw new Errno('EINVAL');
    return n.readTarget();
  }
  async realpath(path: string): Promise<string> {
    return pathOf(this.#vfs.lookup(path, this.#cwd(), this.#cred, true));
  }
  open(path: string, flags: number, mode = 0o666): Promise<number> {
    return this.#vfs.open(path, flags, mode, this.#cwd(), this.#cred);
  }
  close(fd: number): Promise<void> {
    return this.#vfs.close(fd);
  }
  read(fd: number, length: number, position?: number): Promise<Uint8Array> {
    return this.#vfs.read(fd, length, position);
  }
  write(fd: number, data: Uint8Array, position?: number): Promise<number> {
    return this.#vfs.write(fd, data, position);
  }
  async lseek(fd: number, offset: number, whence: 0 | 1 | 2): Promise<number> {
    const f = this.#vfs.file(fd);
    const base = whence === 0 ? 0 : whence === 1 ? f.pos : (f.ops.size?.() ?? f.node.size());
    const pos = base + offset;
    if (pos < 0) throw new Errno('EINVAL');
    f.pos = pos;
    return pos;
  }
  async fstat(fd: number): Promise<Stat> {
    const f = this.#vfs.file(fd);
    const st = this.#vfs.stat(f.node);
    return f.node instanceof DevNode && f.ops.size ? { ...st, size: f.node.kind === 'blk' ? 0 : st.size } : st;
  }
  async fsync(fd: number): Promise<void> {
    await this.#vfs.file(fd).ops.fsync?.();
  }
  async ioctl(fd: number, request: number, arg?: unknown): Promise<unknown> {
    const f = this.#vfs.file(fd);
    if (!f.ops.ioctl) throw new Errno('ENOTTY');
    return await f.ops.ioctl(request, arg);
  }
  async fadvise(fd: number, offset: number, len: number, advice: number): Promise<void> {
    const f = this.#vfs.file(fd);
    if (offset < 0 || len < 0 || !POSIX_FADV_VALID.has(advice)) throw new Errno('EINVAL');
    f.ops.fadvise?.(advice);
  }
  async mkdir(path: string, mode = 0o777): Promise<void> {
    const { dir, name } = this.#vfs.lookupParent(path, this.#cwd(), this.#cred);
    if (dir.get(name)) throw new Errno('EEXIST');
    if (dir.readonly) throw new Errno('EACCES');
    const d = dir.mkdir(name, mode & ~0o022, this.#svc.time());
    d.uid = this.#cred.uid;
    d.gid = this.#cred.gid;
  }
  async unlink(path: string): Promise<void> {
    const { dir, name } = this.#vfs.lookupParent(path, this.#cwd(), this.#cred);
    const n = dir.get(name);
    if (!n) throw new Errno('ENOENT');
    if (n instanceof DirNode) throw new Errno('EISDIR');
    if (dir.readonly) throw new Errno('EACCES');
    dir.remove(name);
  }
  async rmdir(path: string): Promise<void> {
    const { dir, name } = this.#vfs.lookupParent(path, this.#cwd(), this.#cred);
    const n = dir.get(name);
    if (!n) throw new Errno('ENOENT');
    if (!(n instanceof DirNode)) throw new Errno('ENOTDIR');
    if (n.children.size > 0) throw new Errno('ENOTEMPTY');
    if (n.mounted) throw new Errno('EBUSY');
    if (dir.readonly) throw new Errno('EACCES');
    dir.remove(name);
  }
  async symlink(target: string, path: string): Promise<void> {
    const { dir, name } = this.#vfs.lookupParent(path, this.#cwd(), this.#cred);
    if (dir.get(name)) throw new Errno('EEXIST');
    if (dir.readonly) throw new Errno('EACCES');
    dir.add(new LinkNode(name, target, this.#svc.time(), dir.dev));
  }
  async rename(from: string, to: string): Promise<void> {
    const a = this.#vfs.lookupParent(from, this.#cwd(), this.#cred);
    const b = this.#vfs.lookupParent(to, this.#cwd(), this.#cred);
    const n = a.dir.get(a.name);
    if (!n) throw new Errno('ENOENT');
    if (a.dir.readonly || b.dir.readonly) throw new Errno('EACCES');
    if (a.dir.dev !== b.dir.dev) throw new Errno('EXDEV');
    a.dir.remove(a.name);
    b.dir.remove(b.name);
    n.name = b.name;
    b.dir.add(n);
  }
  mount(source: string, target: string, fstype: string, flags: number, data?: string): Promise<void> {
    return this.#vfs.mount(source, target, fstype, flags, data, this.#cred);
  }
  async umount(target: string): Promise<void> {
    await this.#vfs.umount(target, this.#cred);
  }
  async syslog(): Promise<string[]> {
    return this.#svc.syslog();
  }
  async initModule(name: string, params: string): Promise<void> {
    if (this.#cred.uid !== 0) throw new Errno('EPERM');
    await this.#svc.initModule(name, params);
  }
  async deleteModule(name: string): Promise<void> {
    if (this.#cred.uid !== 0) throw new Errno('EPERM');
    await this.#svc.deleteModule(name);
  }
  nanosleep(ns: number): Promise<void> {
    return this.#svc.sleep(ns);
  }
  time(): number {
    return this.#svc.time();
  }
  uptime(): number {
    return this.#svc.uptime();
  }
  getcred(): Cred {
    return this.#cred;
  }
  withCred<T>(cred: Cred, fn: (sys: Syscalls) => Promise<T>): Promise<T> {
    return fn(new SyscallView(this.#vfs, cred, this.#cwd, this.#svc));
  }
  uname(): { sysname: string; nodename: string; release: string; version: string; machine: string } {
    return this.#svc.uname();
  }
}
