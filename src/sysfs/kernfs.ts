// Models fs/kernfs + fs/sysfs (Linux 6.1), reduced: directories, attributes with show/store and
// Linux modes, binary attributes, and symlinks whose relative targets are computed from where the
// two directories are, as sysfs_create_link does.
//
// An attribute is read as a seq_file: show() runs once at the first read of an open file and the
// text is served from that buffer. A write calls store() with the bytes of that one write(2); its
// result is what the writer sees (a count, or an Errno such as EINVAL).

import { Errno } from '../kernel/errno.ts';
import { DirNode, FileNode, LinkNode, bytes, pathOf } from '../kernel/fs.ts';
import type { FileOps, FsNode } from '../kernel/fs.ts';

export const SYSFS_DEV = 0x16;
const PAGE_SIZE = 4096;

export type Show = () => string;
/** Returns nothing on success (the whole buffer is consumed); throws Errno to fail. May be async. */
export type Store = (text: string) => void | Promise<void>;

export interface AttrSpec {
  readonly name: string;
  /** Linux permission bits, e.g. 0o444, 0o644, 0o200. */
  readonly mode: number;
  readonly show?: Show;
  readonly store?: Store;
}

export interface BinAttrSpec {
  readonly name: string;
  readonly mode: number;
  /** Stat size (sysfs bin attributes report their declared size, 0 when unknown). */
  readonly size: number;
  readonly read?: () => Uint8Array;
  readonly write?: (pos: number, data: Uint8Array) => number;
}

const decoder = new TextDecoder();

/** Clock used for node mtimes; the kernel sets it once at boot. */
let clock: () => number = () => 0;
export function setSysfsClock(now: () => number): void {
  clock = now;
}

export function sysfsRoot(): DirNode {
  return new DirNode('', 0o755, clock(), SYSFS_DEV, 'zero', true);
}

export function createDir(parent: DirNode, name: string, mode = 0o755): DirNode {
  const existing = parent.get(name);
  if (existing instanceof DirNode) return existing;
  if (existing) throw new Errno('EEXIST');
  return parent.add(new DirNode(name, mode, clock(), SYSFS_DEV, 'zero', true));
}

function attrOps(spec: AttrSpec): FileOps {
  let buffer: Uint8Array | null = null;
  const ops: FileOps = {};
  if (spec.show) {
    const show = spec.show;
    ops.read = (pos, len) => {
      buffer ??= bytes(show().slice(0, PAGE_SIZE));
      return buffer.slice(pos, Math.min(buffer.length, pos + len));
    };
  }
  if (spec.store) {
    const store = spec.store;
    ops.write = async (_pos, data) => {
      if (data.length >= PAGE_SIZE) throw new Errno('EINVAL');
      await store(decoder.decode(data));
      return data.length;
    };
  }
  return ops;
}

export function createFile(dir: DirNode, spec: AttrSpec): FileNode {
  dir.remove(spec.name);
  const node = new FileNode(spec.name, spec.mode, clock(), SYSFS_DEV, () => attrOps(spec), PAGE_SIZE);
  return dir.add(node);
}

export function createFiles(dir: DirNode, specs: readonly AttrSpec[]): void {
  for (const s of specs) createFile(dir, s);
}

export function createBinFile(dir: DirNode, spec: BinAttrSpec): FileNode {
  dir.remove(spec.name);
  const ops = (): FileOps => {
    let data: Uint8Array | null = null;
    const o: FileOps = {};
    if (spec.read) {
      const read = spec.read;
      o.read = (pos, len) => {
        data ??= read();
        return data.slice(pos, Math.min(data.length, pos + len));
      };
    }
    if (spec.write) {
      const write = spec.write;
      o.write = (pos, d) => write(pos, d);
    }
    return o;
  };
  return dir.add(new FileNode(spec.name, spec.mode, clock(), SYSFS_DEV, ops, spec.size));
}

/**
 * Relative path from directory `from` to node `to` (both absolute), as sysfs link targets are written
 * (kernfs_get_target_path): the common ancestor is searched among the target's parents, so a link
 * to an ancestor still names it (`device -> ../../../host0`).
 */
export function relativePath(from: string, to: string): string {
  const a = from.split('/').filter(Boolean);
  const b = to.split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const ups = a.slice(i).map(() => '..');
  return [...ups, ...b.slice(i)].join('/') || '.';
}

/** A symlink in `dir` named `name` pointing at `target`; the relative text follows both if they move. */
export function createLink(dir: DirNode, name: string, target: FsNode): LinkNode {
  dir.remove(name);
  return dir.add(new LinkNode(name, () => relativePath(pathOf(dir), pathOf(target)), clock(), SYSFS_DEV));
}

export function removeNode(dir: DirNode, name: string): void {
  dir.remove(name);
}

/** Removes a directory from its parent (the whole subtree goes with it, as kernfs_remove). */
export function removeDir(dir: DirNode): void {
  dir.parent?.remove(dir.name);
}
