// Ours: a small in-memory kernel for testing the guest userland — a Syscalls over a tree of inodes
// (regular files, directories, symlinks, char/block nodes whose major:minor live in a side table),
// sysfs-like attributes with show/store callbacks, DAC permission checks, a kernel log, and a
// virtual clock from src/sim. memfs has no device nodes and no credentials, so the tree is our own.

import { Errno } from '../../src/kernel/errno.ts';
import type { Cred, Dirent, Stat, Syscalls } from '../../src/kernel/syscalls.ts';
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
  S_IFMT,
  S_IFREG,
} from '../../src/kernel/syscalls.ts';
import type { EventLoop } from '../../src/sim/event_loop.ts';
import {
  BLKBSZGET,
  BLKFLSBUF,
  BLKGETSIZE,
  BLKGETSIZE64,
  BLKPBSZGET,
  BLKRAGET,
  BLKRASET,
  BLKROGET,
  BLKROSET,
  BLKRRPART,
  BLKSSZGET,
  HDIO_GETGEO,
} from '../../src/kernel/uapi/fs.ts';
import type { HdGeometry } from '../../src/kernel/uapi/fs.ts';

/** What the block ioctls of a fake block device answer (defaults: a 512-byte-sector disk). */
export interface BlockProps {
  logicalBlockSize?: number;
  physicalBlockSize?: number;
  ro?: boolean;
  /** BLKRAGET, in 512-byte sectors (256 = 128 KiB). */
  readAheadSectors?: number;
  /** HDIO_GETGEO's answer; absent: ENOTTY, as a driver without getgeo. */
  geometry?: HdGeometry;
  /** BLKRRPART fails with this errno (e.g. EBUSY). */
  rereadError?: 'EBUSY' | 'EINVAL';
  /** Counts of BLKRRPART / BLKFLSBUF calls that succeeded. */
  rereads?: number;
  flushes?: number;
}

interface Attr {
  show?: () => string;
  store?: (text: string) => void | Promise<void>;
}

interface Inode {
  readonly ino: number;
  mode: number; // S_IF* | permissions
  uid: number;
  gid: number;
  mtime: number;
  parent: Inode | null;
  data: Uint8Array; // regular file
  children: Map<string, Inode>; // directory
  target: string; // symlink
  attr: Attr | null;
}

interface OpenFile {
  readonly node: Inode;
  readonly flags: number;
  pos: number;
}

interface World {
  readonly loop: EventLoop;
  readonly epoch: number;
  readonly root: Inode;
  /** Device numbers of char/block nodes, by inode number. */
  readonly rdev: Map<number, [number, number]>;
  /** Contents of block devices, by inode number, and sectors that fail with EIO. */
  readonly blockData: Map<number, { data: Uint8Array; bad?: (offset: number, length: number) => boolean; props?: BlockProps }>;
  /** Module names the fake's init_module knows, and the loaded ones with their parameters. */
  readonly knownModules: Set<string>;
  readonly loadedModules: Map<string, string>;
  readonly fds: Map<number, OpenFile>;
  readonly log: string[];
  nextIno: number;
  nextFd: number;
  umask: number;
}

export interface NodeOpts {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Modification time, seconds since the epoch (default: now on the virtual clock). */
  readonly mtime?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class FakeKernel implements Syscalls {
  readonly #w: World;
  readonly #cred: Cred;

  constructor(loop: EventLoop, opts: { epoch?: number } = {}, world?: World, cred: Cred = { uid: 0, gid: 0 }) {
    this.#cred = cred;
    if (world) {
      this.#w = world;
      return;
    }
    const root = newNode(1, S_IFDIR | 0o755, null, 0);
    this.#w = { loop, epoch: opts.epoch ?? 1_700_000_000, root, rdev: new Map(), blockData: new Map(), knownModules: new Set(), loadedModules: new Map(), fds: new Map(), log: [], nextIno: 2, nextFd: 3, umask: 0o022 };
    root.parent = root;
    this.mkdirp('/dev');
    this.mknod('/dev/null', 'c', 1, 3, { mode: 0o666 });
    this.mknod('/dev/zero', 'c', 1, 5, { mode: 0o666 });
    this.mkdirp('/tmp', { mode: 0o1777 });
    this.writeFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    this.writeFile('/etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  }

  // ---- building the tree (tests) ----

  #new(mode: number, parent: Inode, o: NodeOpts = {}): Inode {
    const n = newNode(this.#w.nextIno++, mode, parent, this.time());
    n.uid = o.uid ?? 0;
    n.gid = o.gid ?? 0;
    if (o.mtime !== undefined) n.mtime = o.mtime;
    return n;
  }

  #place(path: string, make: (parent: Inode) => Inode): Inode {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    const parent = this.mkdirp(`/${parts.join('/')}`);
    const n = make(parent);
    parent.children.set(name, n);
    parent.mtime = this.time();
    return n;
  }

  mkdirp(path: string, o: NodeOpts = {}): Inode {
    let cur = this.#w.root;
    for (const c of path.split('/').filter(Boolean)) {
      let next = cur.children.get(c);
      if (!next) {
        next = this.#new(S_IFDIR | (o.mode ?? 0o755), cur, o);
        cur.children.set(c, next);
      }
      cur = next;
    }
    return cur;
  }

  writeFile(path: string, content: string | Uint8Array, o: NodeOpts = {}): void {
    const n = this.#place(path, (p) => this.#new(S_IFREG | (o.mode ?? 0o644), p, o));
    n.data = typeof content === 'string' ? enc.encode(content) : content;
  }

  addSymlink(path: string, target: string): void {
    this.#place(path, (p) => this.#new(S_IFLNK | 0o777, p)).target = target;
  }

  mknod(path: string, type: 'c' | 'b', major: number, minor: number, o: NodeOpts = {}): void {
    const n = this.#place(path, (p) => this.#new((type === 'c' ? S_IFCHR : S_IFBLK) | (o.mode ?? 0o600), p, o));
    this.#w.rdev.set(n.ino, [major, minor]);
  }

  /** A block device node backed by `data`; `bad` makes reads of a range fail with EIO. */
  blockDevice(path: string, major: number, minor: number, data: Uint8Array, bad?: (offset: number, length: number) => boolean): void {
    this.mknod(path, 'b', major, minor);
    const n = this.#lookup(path, false);
    this.#w.blockData.set(n.ino, bad ? { data, bad } : { data });
  }

  /** Sets what the block ioctls of the block device at `path` answer; returns the live record. */
  blockProps(path: string, props: BlockProps): BlockProps {
    const b = this.#w.blockData.get(this.#lookup(path, true).ino);
    if (!b) throw new Error(`not a fake block device: ${path}`);
    b.props = props;
    return props;
  }

  /** Modules init_module accepts; /proc/modules lists the loaded ones (Linux's format). */
  moduleTable(names: readonly string[]): void {
    for (const n of names) this.#w.knownModules.add(n);
    this.attribute('/proc/modules', {
      show: () => [...this.#w.loadedModules.keys()].map((n) => `${n} 16384 0 - Live 0x0000000000000000\n`).join(''),
    });
  }

  /** Loaded modules and the parameters each was given. */
  get modules(): ReadonlyMap<string, string> {
    return this.#w.loadedModules;
  }

  /** A sysfs-like attribute: content from `show`, writes go to `store` (which may throw an Errno). */
  attribute(path: string, attr: Attr, o: NodeOpts = {}): void {
    const mode = o.mode ?? ((attr.show ? 0o444 : 0) | (attr.store ? 0o200 : 0));
    this.#place(path, (p) => this.#new(S_IFREG | mode, p, o)).attr = attr;
  }

  printk(line: string): void {
    this.#w.log.push(line);
  }

  // ---- path walk ----

  #lookup(path: string, follow: boolean, depth = 0): Inode {
    return this.#walk(path, follow, depth).node;
  }

  #mayExec(dir: Inode): boolean {
    return this.#perm(dir, 1);
  }

  #perm(n: Inode, bit: number): boolean {
    const c = this.#cred;
    if (c.uid === 0) return bit !== 1 || (n.mode & 0o111) !== 0 || (n.mode & S_IFMT) === S_IFDIR;
    const shift = n.uid === c.uid ? 6 : n.gid === c.gid ? 3 : 0;
    return ((n.mode >> shift) & bit) !== 0;
  }

  #walk(path: string, follow: boolean, depth = 0): { node: Inode; parts: string[] } {
    if (depth > 40) throw new Errno('ELOOP');
    if (!path.startsWith('/')) path = `/${path}`;
    let cur = this.#w.root;
    let parts: string[] = [];
    const comps = path.split('/').filter((c) => c !== '' && c !== '.');
    for (let i = 0; i < comps.length; i++) {
      const c = comps[i]!;
      if ((cur.mode & S_IFMT) !== S_IFDIR) throw new Errno('ENOTDIR');
      if (!this.#mayExec(cur)) throw new Errno('EACCES');
      if (c === '..') {
        cur = cur.parent ?? cur;
        parts = parts.slice(0, -1);
        continue;
      }
      const next = cur.children.get(c);
      if (!next) throw new Errno('ENOENT');
      const last = i === comps.length - 1;
      if ((next.mode & S_IFMT) === S_IFLNK && (!last || follow)) {
        const base = next.target.startsWith('/') ? '' : `/${parts.join('/')}`;
        const r = this.#walk(`${base}/${next.target}`, true, depth + 1);
        cur = r.node;
        parts = r.parts;
        continue;
      }
      cur = next;
      parts.push(c);
    }
    return { node: cur, parts };
  }

  #parentOf(path: string): { dir: Inode; name: string } {
    const comps = path.split('/').filter(Boolean);
    const name = comps.pop();
    if (name === undefined) throw new Errno('EEXIST');
    const dir = this.#lookup(`/${comps.join('/')}`, true);
    if ((dir.mode & S_IFMT) !== S_IFDIR) throw new Errno('ENOTDIR');
    return { dir, name };
  }

  #statOf(n: Inode): Stat {
    const type = n.mode & S_IFMT;
    const rdev = this.#w.rdev.get(n.ino) ?? [0, 0];
    const dirs = [...n.children.values()].filter((c) => (c.mode & S_IFMT) === S_IFDIR).length;
    const size =
      type === S_IFDIR ? 40 + 20 * n.children.size : type === S_IFLNK ? n.target.length : n.attr ? 4096 : type === S_IFREG ? n.data.length : 0;
    return {
      dev: 1,
      ino: n.ino,
      mode: n.mode,
      nlink: type === S_IFDIR ? 2 + dirs : 1,
      uid: n.uid,
      gid: n.gid,
      rdevMajor: rdev[0],
      rdevMinor: rdev[1],
      size,
      blksize: 4096,
      blocks: type === S_IFREG && !n.attr ? Math.ceil(n.data.length / 4096) * 8 : 0,
      mtime: n.mtime,
      atime: n.mtime,
      ctime: n.mtime,
    };
  }

  #file(fd: number): OpenFile {
    const f = this.#w.fds.get(fd);
    if (!f) throw new Errno('EBADF');
    return f;
  }

  // ---- Syscalls ----

  async stat(path: string): Promise<Stat> {
    return this.#statOf(this.#lookup(path, true));
  }
  async lstat(path: string): Promise<Stat> {
    return this.#statOf(this.#lookup(path, false));
  }
  async readdir(path: string): Promise<Dirent[]> {
    const n = this.#lookup(path, true);
    if ((n.mode & S_IFMT) !== S_IFDIR) throw new Errno('ENOTDIR');
    if (!this.#perm(n, 4)) throw new Errno('EACCES');
    return [...n.children].map(([name, c]) => ({ name, type: c.mode & S_IFMT }));
  }
  async readlink(path: string): Promise<string> {
    const n = this.#lookup(path, false);
    if ((n.mode & S_IFMT) !== S_IFLNK) throw new Errno('EINVAL');
    return n.target;
  }
  async realpath(path: string): Promise<string> {
    return `/${this.#walk(path, true).parts.join('/')}`;
  }
  async open(path: string, flags: number, mode = 0o666): Promise<number> {
    let node: Inode;
    try {
      node = this.#lookup(path, true);
      if (flags & O_CREAT && flags & O_EXCL) throw new Errno('EEXIST');
    } catch (e) {
      if (!(e instanceof Errno) || e.code !== 'ENOENT' || !(flags & O_CREAT)) throw e;
      const { dir, name } = this.#parentOf(path);
      if (!this.#perm(dir, 2)) throw new Errno('EACCES');
      node = this.#new(S_IFREG | (mode & ~this.#w.umask & 0o7777), dir, { uid: this.#cred.uid, gid: this.#cred.gid });
      dir.children.set(name, node);
    }
    const acc = flags & O_ACCMODE;
    const type = node.mode & S_IFMT;
    if (type === S_IFDIR && acc !== O_RDONLY) throw new Errno('EISDIR');
    if (flags & O_DIRECTORY && type !== S_IFDIR) throw new Errno('ENOTDIR');
    const wantR = acc !== O_WRONLY;
    const wantW = acc !== O_RDONLY;
    if (node.attr) {
      // kernfs: no show → no reading, no store → no writing, whoever you are
      if ((wantR && (!node.attr.show || !this.#perm(node, 4))) || (wantW && (!node.attr.store || !this.#perm(node, 2)))) throw new Errno('EACCES');
    } else if ((wantR && !this.#perm(node, 4)) || (wantW && !this.#perm(node, 2))) throw new Errno('EACCES');
    if (flags & O_TRUNC && type === S_IFREG && !node.attr && wantW) {
      node.data = new Uint8Array(0);
      node.mtime = this.time();
    }
    const fd = this.#w.nextFd++;
    this.#w.fds.set(fd, { node, flags, pos: 0 });
    return fd;
  }
  async close(fd: number): Promise<void> {
    this.#file(fd);
    this.#w.fds.delete(fd);
  }
  async read(fd: number, length: number, position?: number): Promise<Uint8Array> {
    const f = this.#file(fd);
    if ((f.flags & O_ACCMODE) === O_WRONLY) throw new Errno('EBADF');
    const n = f.node;
    const at = position ?? f.pos;
    let src: Uint8Array;
    const type = n.mode & S_IFMT;
    if (type === S_IFDIR) throw new Errno('EISDIR');
    if (n.attr) src = enc.encode(n.attr.show!());
    else if (type === S_IFCHR) {
      const [maj, min] = this.#w.rdev.get(n.ino) ?? [0, 0];
      if (maj === 1 && min === 5) src = new Uint8Array(at + length);
      else if (maj === 1 && min === 3) src = new Uint8Array(0);
      else throw new Errno('ENXIO');
    } else if (type === S_IFBLK) {
      const b = this.#w.blockData.get(n.ino);
      if (!b) throw new Errno('ENXIO');
      if (b.bad?.(at, length)) throw new Errno('EIO');
      src = b.data;
    } else src = n.data;
    const out = src.slice(at, at + length);
    if (position === undefined) f.pos = at + out.length;
    return out;
  }
  async write(fd: number, data: Uint8Array, position?: number): Promise<number> {
    const f = this.#file(fd);
    if ((f.flags & O_ACCMODE) === O_RDONLY) throw new Errno('EBADF');
    const n = f.node;
    const type = n.mode & S_IFMT;
    if (n.attr) {
      await n.attr.store!(dec.decode(data));
      return data.length;
    }
    if (type === S_IFCHR) return data.length;
    const target = type === S_IFBLK ? this.#w.blockData.get(n.ino)?.data : null;
    if (type === S_IFBLK && !target) throw new Errno('ENXIO');
    const at = position ?? (f.flags & O_APPEND ? n.data.length : f.pos);
    if (target) {
      if (at + data.length > target.length) throw new Errno('ENOSPC');
      target.set(data, at);
    } else {
      if (at + data.length > n.data.length) {
        const grown = new Uint8Array(at + data.length);
        grown.set(n.data);
        n.data = grown;
      }
      n.data.set(data, at);
      n.mtime = this.time();
    }
    if (position === undefined) f.pos = at + data.length;
    return data.length;
  }
  async lseek(fd: number, offset: number, whence: 0 | 1 | 2): Promise<number> {
    const f = this.#file(fd);
    const size = this.#statOf(f.node).size;
    const blk = this.#w.blockData.get(f.node.ino);
    const end = blk ? blk.data.length : size;
    const pos = whence === 0 ? offset : whence === 1 ? f.pos + offset : end + offset;
    if (pos < 0) throw new Errno('EINVAL');
    f.pos = pos;
    return pos;
  }
  async fstat(fd: number): Promise<Stat> {
    return this.#statOf(this.#file(fd).node);
  }
  async fsync(fd: number): Promise<void> {
    this.#file(fd);
  }
  async ioctl(fd: number, request: number, arg?: unknown): Promise<unknown> {
    const f = this.#file(fd);
    const b = this.#w.blockData.get(f.node.ino);
    if (!b) throw new Errno('ENOTTY');
    const pr = (b.props ??= {});
    switch (request) {
      case BLKGETSIZE64:
        return b.data.length;
      case BLKGETSIZE:
        return Math.floor(b.data.length / 512);
      case BLKSSZGET:
        return pr.logicalBlockSize ?? 512;
      case BLKPBSZGET:
        return pr.physicalBlockSize ?? pr.logicalBlockSize ?? 512;
      case BLKBSZGET:
        return 4096;
      case BLKROGET:
        return pr.ro ? 1 : 0;
      case BLKROSET:
        pr.ro = Number(arg) !== 0;
        return 0;
      case BLKRAGET:
        return pr.readAheadSectors ?? 256;
      case BLKRASET:
        pr.readAheadSectors = Number(arg);
        return 0;
      case BLKFLSBUF:
        pr.flushes = (pr.flushes ?? 0) + 1;
        return 0;
      case BLKRRPART:
        if (pr.rereadError) throw new Errno(pr.rereadError);
        pr.rereads = (pr.rereads ?? 0) + 1;
        return 0;
      case HDIO_GETGEO:
        if (!pr.geometry) throw new Errno('ENOTTY');
        return { ...pr.geometry };
      default:
        throw new Errno('ENOTTY');
    }
  }
  async mkdir(path: string, mode = 0o777): Promise<void> {
    const { dir, name } = this.#parentOf(path);
    if (dir.children.has(name)) throw new Errno('EEXIST');
    if (!this.#perm(dir, 2)) throw new Errno('EACCES');
    dir.children.set(name, this.#new(S_IFDIR | (mode & ~this.#w.umask), dir, this.#cred));
  }
  async unlink(path: string): Promise<void> {
    const { dir, name } = this.#parentOf(path);
    const n = dir.children.get(name);
    if (!n) throw new Errno('ENOENT');
    if ((n.mode & S_IFMT) === S_IFDIR) throw new Errno('EISDIR');
    if (!this.#perm(dir, 2)) throw new Errno('EACCES');
    dir.children.delete(name);
  }
  async rmdir(path: string): Promise<void> {
    const { dir, name } = this.#parentOf(path);
    const n = dir.children.get(name);
    if (!n) throw new Errno('ENOENT');
    if ((n.mode & S_IFMT) !== S_IFDIR) throw new Errno('ENOTDIR');
    if (n.children.size > 0) throw new Errno('ENOTEMPTY');
    dir.children.delete(name);
  }
  async symlink(target: string, path: string): Promise<void> {
    const { dir, name } = this.#parentOf(path);
    if (dir.children.has(name)) throw new Errno('EEXIST');
    const n = this.#new(S_IFLNK | 0o777, dir, this.#cred);
    n.target = target;
    dir.children.set(name, n);
  }
  async rename(from: string, to: string): Promise<void> {
    const a = this.#parentOf(from);
    const n = a.dir.children.get(a.name);
    if (!n) throw new Errno('ENOENT');
    const b = this.#parentOf(to);
    a.dir.children.delete(a.name);
    b.dir.children.set(b.name, n);
    n.parent = b.dir;
  }
  async mount(): Promise<void> {
    throw new Errno('ENODEV');
  }
  async umount(): Promise<void> {
    throw new Errno('EINVAL');
  }
  async syslog(): Promise<string[]> {
    return [...this.#w.log];
  }
  async initModule(name: string, params: string): Promise<void> {
    if (!this.#w.knownModules.has(name)) throw new Errno('ENOENT');
    if (this.#w.loadedModules.has(name)) throw new Errno('EEXIST');
    this.#w.loadedModules.set(name, params);
  }
  async deleteModule(name: string): Promise<void> {
    if (!this.#w.loadedModules.has(name)) throw new Errno('ENOENT');
    this.#w.loadedModules.delete(name);
  }
  nanosleep(ns: number): Promise<void> {
    return new Promise((resolve) => this.#w.loop.after(ns, resolve));
  }
  time(): number {
    return this.#w.epoch + Math.floor(this.#w.loop.now() / 1e9);
  }
  uptime(): number {
    return this.#w.loop.now() / 1e9;
  }
  getcred(): Cred {
    return this.#cred;
  }
  withCred<T>(cred: Cred, fn: (sys: Syscalls) => Promise<T>): Promise<T> {
    return fn(new FakeKernel(this.#w.loop, {}, this.#w, cred));
  }
  uname(): { sysname: string; nodename: string; release: string; version: string; machine: string } {
    return { sysname: 'Linux', nodename: '(none)', release: '6.1.0-56-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1', machine: 'x86_64' };
  }
}

function newNode(ino: number, mode: number, parent: Inode | null, mtime: number): Inode {
  return { ino, mode, uid: 0, gid: 0, mtime, parent, data: new Uint8Array(0), children: new Map(), target: '', attr: null };
}
