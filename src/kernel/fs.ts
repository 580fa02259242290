// Ours (≈ the inode layer of fs/ + fs/ramfs + fs/kernfs, reduced): the in-memory nodes every guest
// filesystem is made of. rootfs, devtmpfs and tmpfs are trees of these nodes; sysfs and procfs build
// theirs from kernel objects and attach behaviour (show/store, generators) to file nodes.
//
// Why not memfs: the guest needs device nodes with major/minor, per-node open behaviour (sysfs
// attributes call into the mid-layer, /dev/sda goes to the block layer) and mount points of
// different filesystem types; memfs models a host filesystem and has none of these. memfs still backs
// the host side's drive images in tests.

import { Errno } from './errno.ts';

export type NodeKind = 'dir' | 'reg' | 'lnk' | 'chr' | 'blk';

/** What an open file does (≈ struct file_operations, reduced). Positions are byte offsets. */
export interface FileOps {
  read?(pos: number, len: number): Uint8Array | Promise<Uint8Array>;
  write?(pos: number, data: Uint8Array): number | Promise<number>;
  ioctl?(request: number, arg: unknown): unknown;
  fsync?(): void | Promise<void>;
  /** posix_fadvise's advice for the open file (generic_fadvise when absent: accepted, no effect). */
  fadvise?(advice: number): void;
  release?(): void | Promise<void>;
  /** Current size, for SEEK_END and fstat of device files. */
  size?(): number;
}

let nextIno = 1;

export abstract class FsNode {
  readonly ino = nextIno++;
  abstract readonly kind: NodeKind;
  name: string;
  parent: DirNode | null = null;
  mode: number;
  uid = 0;
  gid = 0;
  mtime: number;
  /** Filesystem instance id (st_dev). */
  dev: number;
  /** Link count the filesystem reports (isofs: 1, or Rock Ridge PX); null = counted by the VFS. */
  nlink: number | null = null;
  /** st_blocks (512-byte units) when the filesystem reports its own; null = the default rule. */
  blocks: number | null = null;

  constructor(name: string, mode: number, mtime: number, dev: number) {
    this.name = name;
    this.mode = mode;
    this.mtime = mtime;
    this.dev = dev;
  }

  abstract size(): number;
}

/** Directory sizes as the filesystem reports them (tmpfs: 20 bytes per entry plus two, sysfs/proc 0). */
export type DirSizeRule = 'tmpfs' | 'zero';

export class DirNode extends FsNode {
  readonly kind = 'dir';
  readonly children = new Map<string, FsNode>();
  /** Root of a filesystem mounted on this directory. */
  mounted: DirNode | null = null;
  /** For a filesystem root: the directory it is mounted on. */
  mountpoint: DirNode | null = null;
  sizeRule: DirSizeRule;
  /** Filesystem refuses create/unlink from userland (sysfs, proc). */
  readonly: boolean;
  /** How many children are directories (st_nlink − 2), kept by add/remove so stat need not count. */
  #subdirs = 0;

  constructor(name: string, mode: number, mtime: number, dev: number, sizeRule: DirSizeRule = 'tmpfs', readonly = false) {
    super(name, mode, mtime, dev);
    this.sizeRule = sizeRule;
    this.readonly = readonly;
  }

  size(): number {
    return this.sizeRule === 'tmpfs' ? 40 + 20 * this.children.size : 0;
  }

  /** Number of children that are directories. */
  get subdirCount(): number {
    return this.#subdirs;
  }

  get(name: string): FsNode | undefined {
    return this.children.get(name);
  }

  /** Adds a child; replaces nothing (EEXIST). */
  add<T extends FsNode>(node: T): T {
    if (this.children.has(node.name)) throw new Errno('EEXIST');
    node.parent = this;
    node.dev = this.dev;
    this.children.set(node.name, node);
    if (node instanceof DirNode) this.#subdirs++;
    return node;
  }

  remove(name: string): FsNode | undefined {
    const n = this.children.get(name);
    if (n) {
      this.children.delete(name);
      if (n instanceof DirNode) this.#subdirs--;
      n.parent = null;
    }
    return n;
  }

  /** Creates (or returns) a directory child. */
  mkdir(name: string, mode = 0o755, mtime = this.mtime): DirNode {
    const existing = this.children.get(name);
    if (existing instanceof DirNode) return existing;
    if (existing) throw new Errno('EEXIST');
    return this.add(new DirNode(name, mode, mtime, this.dev, this.sizeRule, this.readonly));
  }
}

/** The contents of every empty file until its first write: one shared zero-length array (sysfs makes thousands). */
const NO_DATA = new Uint8Array(0);

/** A regular file: either plain bytes (ramfs) or behaviour (sysfs attribute, proc file). */
export class FileNode extends FsNode {
  readonly kind = 'reg';
  data: Uint8Array;
  /** Behaviour on open; when absent the node is a plain ramfs file over `data`. */
  ops: (() => FileOps) | null;
  /** Size reported by stat for files with ops (sysfs: 4096, proc: 0). */
  statSize: number;

  constructor(name: string, mode: number, mtime: number, dev: number, ops: (() => FileOps) | null = null, statSize = 0) {
    super(name, mode, mtime, dev);
    this.data = NO_DATA;
    this.ops = ops;
    this.statSize = statSize;
  }

  size(): number {
    return this.ops ? this.statSize : this.data.length;
  }
}

export class LinkNode extends FsNode {
  readonly kind = 'lnk';
  /** Fixed target, or computed on each readlink (sysfs links follow their kobject). */
  readonly target: string | (() => string);

  constructor(name: string, target: string | (() => string), mtime: number, dev: number) {
    super(name, 0o777, mtime, dev);
    this.target = target;
  }

  readTarget(): string {
    return typeof this.target === 'string' ? this.target : this.target();
  }

  size(): number {
    return this.readTarget().length;
  }
}

export class DevNode extends FsNode {
  readonly kind: 'chr' | 'blk';
  readonly major: number;
  readonly minor: number;

  constructor(name: string, kind: 'chr' | 'blk', major: number, minor: number, mode: number, mtime: number, dev: number) {
    super(name, mode, mtime, dev);
    this.kind = kind;
    this.major = major;
    this.minor = minor;
  }

  size(): number {
    return 0;
  }
}

/** Absolute path of a node, crossing mount points. */
export function pathOf(node: FsNode): string {
  const parts: string[] = [];
  let n: FsNode | null = node;
  for (;;) {
    if (n instanceof DirNode && n.mountpoint) {
      n = n.mountpoint;
      continue;
    }
    if (!n || !n.parent) break;
    parts.push(n.name);
    n = n.parent;
  }
  return '/' + parts.reverse().join('/');
}

const encoder = new TextEncoder();
export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}
