// Ours: a Syscalls fake for the SCSI userland tools — a read-only file tree (a golden snapshot's /sys, plus
// /dev nodes, /dev/disk links and /run/udev/data files given by the test) and an SG_IO responder per char node.

import { readFileSync } from 'node:fs';
import { Errno, type ErrnoCode } from '../../src/kernel/errno.ts';
import {
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type Dirent, type Stat, type Syscalls,
} from '../../src/kernel/syscalls.ts';
import { SG_IO, type SgIoHdrIn, type SgIoHdrOut } from '../../src/kernel/uapi/sg.ts';

export type Node =
  | { readonly t: 'd'; readonly mode: number }
  | { readonly t: 'f'; readonly mode: number; readonly data: Uint8Array | ErrnoCode }
  | { readonly t: 'l'; readonly target: string }
  | { readonly t: 'c' | 'b'; readonly mode: number; readonly major: number; readonly minor: number };

/** What a device answers to one CDB: data-in bytes (truncated to dxfer_len) or a CHECK CONDITION / host error. */
export type ScsiReply =
  | { readonly kind: 'good'; readonly data?: Uint8Array }
  | { readonly kind: 'check'; readonly sense: Uint8Array }
  | { readonly kind: 'host'; readonly hostStatus: number };

export type ScsiResponder = (cdb: Uint8Array, dataOut?: Uint8Array) => ScsiReply;

interface GoldenEntry { t: string; m?: string; v?: string; hex?: string; e?: string; target?: string }

export interface GoldenSnapshot {
  readonly sysfs: Record<string, GoldenEntry>;
  readonly commands: Record<string, { cmd: string; rc: number; stdout: string; stderr: string }>;
  readonly derived?: { dev_disk_links?: Record<string, string> };
}

export function loadGolden(name: string): { snapshots: Record<string, GoldenSnapshot> } {
  return JSON.parse(readFileSync(new URL(`../fixtures/golden/${name}.json`, import.meta.url), 'utf8')) as {
    snapshots: Record<string, GoldenSnapshot>;
  };
}

/** Fixed-format sense: response code 0x70, key, ASC/ASCQ. */
export function fixedSense(key: number, asc: number, ascq: number): Uint8Array {
  const s = new Uint8Array(18);
  s[0] = 0x70; s[2] = key; s[7] = 10; s[12] = asc; s[13] = ascq;
  return s;
}

const enc = new TextEncoder();

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function joinPath(base: string, rel: string): string {
  const parts = (rel.startsWith('/') ? rel : `${base}/${rel}`).split('/');
  const out: string[] = [];
  for (const s of parts) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop(); else out.push(s);
  }
  return '/' + out.join('/');
}

export class GoldenSysfsKernel implements Syscalls {
  readonly nodes = new Map<string, Node>();
  readonly responders = new Map<string, ScsiResponder>();
  readonly #fds = new Map<number, { path: string; node: Node }>();
  #nextFd = 3;

  constructor() { this.nodes.set('/', { t: 'd', mode: 0o755 }); }

  /** Loads `snapshots.<name>.sysfs` and adds what the capture's roots leave out (/sys/class/block links). */
  static fromSnapshot(snap: GoldenSnapshot): GoldenSysfsKernel {
    const k = new GoldenSysfsKernel();
    for (const [path, e] of Object.entries(snap.sysfs)) {
      const mode = parseInt(e.m ?? '0644', 8);
      if (e.t === 'd') k.addDir(path, mode);
      else if (e.t === 'l') k.addLink(path, e.target ?? '');
      else if (e.t === 'f') {
        const data = e.e !== undefined ? (e.e as ErrnoCode)
          : e.hex !== undefined ? Uint8Array.from(Buffer.from(e.hex, 'hex'))
          : enc.encode(`${e.v ?? ''}\n`);
        k.addFile(path, data, mode);
      }
    }
    for (const p of [...k.nodes.keys()]) {
      const m = /^\/sys\/block\/([^/]+)$/.exec(p);
      const n = k.nodes.get(p);
      if (m && n?.t === 'l') k.addLink(`/sys/class/block/${m[1]!}`, n.target.replace(/^\.\.\//, '../../'));
    }
    for (const [link, target] of Object.entries(snap.derived?.dev_disk_links ?? {})) k.addLink(link, target);
    // /sys/dev/char is not among the capture's roots: derive it from every char device's `dev` attribute.
    for (const [p, n] of [...k.nodes]) {
      if (!p.startsWith('/sys/devices/') || !p.endsWith('/dev') || n.t !== 'f' || typeof n.data === 'string') continue;
      const dir = p.slice(0, -4);
      const sub = k.nodes.get(`${dir}/subsystem`);
      if (sub?.t !== 'l' || sub.target.endsWith('/block')) continue;
      const mm = new TextDecoder().decode(n.data).trim();
      k.addLink(`/sys/dev/char/${mm}`, `../../${dir.slice('/sys/'.length)}`);
    }
    return k;
  }

  addDir(path: string, mode = 0o755): void {
    if (path !== '/' && !this.nodes.has(parentOf(path))) this.addDir(parentOf(path));
    if (!this.nodes.has(path)) this.nodes.set(path, { t: 'd', mode });
  }
  addFile(path: string, data: Uint8Array | string | ErrnoCode, mode = 0o644): void {
    this.addDir(parentOf(path));
    const d = typeof data === 'string' && !/^E[A-Z0-9]+$/.test(data) ? enc.encode(data) : data;
    this.nodes.set(path, { t: 'f', mode, data: d as Uint8Array | ErrnoCode });
  }
  addLink(path: string, target: string): void {
    this.addDir(parentOf(path));
    this.nodes.set(path, { t: 'l', target });
  }
  addDev(path: string, type: 'c' | 'b', major: number, minor: number, responder?: ScsiResponder): void {
    this.addDir(parentOf(path));
    this.nodes.set(path, { t: type, mode: 0o600, major, minor });
    if (responder) this.responders.set(path, responder);
  }

  /** Resolves every link on the way; the last component too when `follow`. */
  resolve(path: string, follow: boolean, depth = 0): string {
    if (depth > 40) throw new Errno('ELOOP');
    const parts = joinPath('/', path).split('/').filter(Boolean);
    let cur = '/';
    for (let i = 0; i < parts.length; i++) {
      const next = cur === '/' ? `/${parts[i]!}` : `${cur}/${parts[i]!}`;
      const n = this.nodes.get(next);
      if (n === undefined) throw new Errno('ENOENT', '', path);
      const last = i === parts.length - 1;
      if (n.t === 'l' && (!last || follow)) {
        cur = this.resolve(joinPath(cur, n.target), true, depth + 1);
      } else {
        if (!last && n.t !== 'd') throw new Errno('ENOTDIR', '', path);
        cur = next;
      }
    }
    return cur;
  }

  #node(path: string, follow: boolean): [string, Node] {
    const r = this.resolve(path, follow);
    const n = this.nodes.get(r);
    if (n === undefined) throw new Errno('ENOENT', '', path);
    return [r, n];
  }

  #stat(n: Node): Stat {
    const type = n.t === 'd' ? S_IFDIR : n.t === 'l' ? S_IFLNK : n.t === 'c' ? S_IFCHR : n.t === 'b' ? S_IFBLK : S_IFREG;
    const mode = n.t === 'l' ? 0o777 : n.mode;
    const size = n.t === 'f' && typeof n.data !== 'string' ? n.data.length : n.t === 'l' ? n.target.length : 0;
    return {
      dev: 0, ino: 0, mode: type | mode, nlink: 1, uid: 0, gid: 0,
      rdevMajor: n.t === 'c' || n.t === 'b' ? n.major : 0, rdevMinor: n.t === 'c' || n.t === 'b' ? n.minor : 0,
      size, blksize: 4096, blocks: 0, mtime: 0, atime: 0, ctime: 0,
    };
  }

  async stat(path: string): Promise<Stat> { return this.#stat(this.#node(path, true)[1]); }
  async lstat(path: string): Promise<Stat> { return this.#stat(this.#node(path, false)[1]); }
  async readdir(path: string): Promise<Dirent[]> {
    const [r, n] = this.#node(path, true);
    if (n.t !== 'd') throw new Errno('ENOTDIR', 'readdir', path);
    const pre = r === '/' ? '/' : `${r}/`;
    const out: Dirent[] = [];
    for (const [p, c] of this.nodes) {
      if (p.startsWith(pre) && p.length > pre.length && !p.slice(pre.length).includes('/')) {
        out.push({ name: p.slice(pre.length), type: this.#stat(c).mode & 0o170000 });
      }
    }
    return out;
  }
  async readlink(path: string): Promise<string> {
    const [, n] = this.#node(path, false);
    if (n.t !== 'l') throw new Errno('EINVAL', 'readlink', path);
    return n.target;
  }
  async realpath(path: string): Promise<string> { return this.#node(path, true)[0]; }
  async open(path: string): Promise<number> {
    const [r, n] = this.#node(path, true);
    if (n.t === 'f' && typeof n.data === 'string' && n.data === 'EACCES') throw new Errno('EACCES', 'open', path);
    const fd = this.#nextFd++;
    this.#fds.set(fd, { path: r, node: n });
    return fd;
  }
  async close(fd: number): Promise<void> {
    if (!this.#fds.delete(fd)) throw new Errno('EBADF');
  }
  async read(fd: number, length: number, position?: number): Promise<Uint8Array> {
    const f = this.#fds.get(fd);
    if (f === undefined) throw new Errno('EBADF');
    if (f.node.t === 'd') throw new Errno('EISDIR');
    if (f.node.t !== 'f') throw new Errno('EINVAL');
    if (typeof f.node.data === 'string') throw new Errno(f.node.data);
    const pos = position ?? 0;
    return f.node.data.slice(pos, pos + length);
  }
  async ioctl(fd: number, request: number, arg?: unknown): Promise<unknown> {
    const f = this.#fds.get(fd);
    if (f === undefined) throw new Errno('EBADF');
    const responder = this.responders.get(f.path);
    if (request !== SG_IO || responder === undefined) throw new Errno('ENOTTY', 'ioctl');
    const h = arg as SgIoHdrIn;
    const reply = responder(h.cmdp, h.dxferp);
    const base = { msgStatus: 0, duration: 0 };
    if (reply.kind === 'host') {
      return { ...base, dxferp: new Uint8Array(0), sbp: new Uint8Array(0), status: 0, maskedStatus: 0, sbLenWr: 0,
        hostStatus: reply.hostStatus, driverStatus: 0, resid: h.dxferLen, info: 1 } satisfies SgIoHdrOut;
    }
    if (reply.kind === 'check') {
      const sb = reply.sense.slice(0, h.mxSbLen);
      return { ...base, dxferp: new Uint8Array(0), sbp: sb, status: 2, maskedStatus: 1, sbLenWr: sb.length,
        hostStatus: 0, driverStatus: 8, resid: h.dxferLen, info: 1 } satisfies SgIoHdrOut;
    }
    const data = (reply.data ?? new Uint8Array(0)).slice(0, h.dxferLen);
    return { ...base, dxferp: data, sbp: new Uint8Array(0), status: 0, maskedStatus: 0, sbLenWr: 0, hostStatus: 0,
      driverStatus: 0, resid: h.dxferLen - data.length, info: 0 } satisfies SgIoHdrOut;
  }

  async write(): Promise<number> { throw new Errno('EROFS'); }
  async lseek(): Promise<number> { throw new Errno('ESPIPE'); }
  async fstat(fd: number): Promise<Stat> {
    const f = this.#fds.get(fd);
    if (f === undefined) throw new Errno('EBADF');
    return this.#stat(f.node);
  }
  async fsync(): Promise<void> {}
  async mkdir(): Promise<void> { throw new Errno('EROFS'); }
  async unlink(): Promise<void> { throw new Errno('EROFS'); }
  async rmdir(): Promise<void> { throw new Errno('EROFS'); }
  async symlink(): Promise<void> { throw new Errno('EROFS'); }
  async rename(): Promise<void> { throw new Errno('EROFS'); }
  async mount(): Promise<void> { throw new Errno('EPERM'); }
  async umount(): Promise<void> { throw new Errno('EPERM'); }
  async syslog(): Promise<string[]> { return []; }
  async initModule(): Promise<void> { throw new Errno('EPERM'); }
  async deleteModule(): Promise<void> { throw new Errno('EPERM'); }
  async nanosleep(): Promise<void> {}
  time(): number { return 0; }
  uptime(): number { return 0; }
  getcred(): { uid: number; gid: number } { return { uid: 0, gid: 0 }; }
  async withCred<T>(_c: { uid: number; gid: number }, fn: (sys: Syscalls) => Promise<T>): Promise<T> { return fn(this); }
  uname(): { sysname: string; nodename: string; release: string; version: string; machine: string } {
    return { sysname: 'Linux', nodename: 'guest', release: '6.1.0-56-amd64', version: '#1 SMP', machine: 'x86_64' };
  }
}

/** Runs a Command against the fake and collects its output. */
export async function runTool(
  sys: Syscalls,
  run: (p: import('../../src/shell/process.ts').Process) => Promise<number>,
  argv: string[],
): Promise<{ rc: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const dec = new TextDecoder();
  const rc = await run({
    sys, argv, env: new Map(), cwd: '/',
    stdin: { readAll: async () => new Uint8Array(0), read: async () => new Uint8Array(0) },
    stdout: { write: async (d) => { stdout += typeof d === 'string' ? d : dec.decode(d); } },
    stderr: { write: async (d) => { stderr += typeof d === 'string' ? d : dec.decode(d); } },
  });
  return { rc, stdout, stderr };
}
