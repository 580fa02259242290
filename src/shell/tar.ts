// Models archival/tar.c + libarchive/get_header_tar.c, header_verbose_list.c, unsafe_prefix.c and
// chksum_and_xwrite_tar_header.c (busybox 1.36): `tar c|t|x [-v] [-f FILE] [-C DIR] [FILE]...` with
// ustar headers as busybox writes them ("ustar  " magic, octal fields with a dropped leading zero,
// uname/gname from /etc/passwd and /etc/group), the old-style first argument (`tar cvf F`), directory
// recursion, `-v` listings (`tar tv` prints busybox's long line), and leading-'/' stripping.
//
// One deliberate difference: busybox writes its archive unblocked (a 512-byte header, the data, the
// padding, 1024 zero bytes: each a separate write). On a variable-block tape each write is a record, and
// reading the final 1024-byte record with a 512-byte read fails (st: "Failed to read 1024 byte block
// with 512 byte transfer"). This tar blocks its I/O in 10240-byte records (20 blocks, GNU tar's default
// and the size of the last record busybox is documented to skip), so an archive written to /dev/nst0
// reads back; on a regular file the bytes are those of a GNU-blocked archive.

import { isErrno } from '../kernel/errno.ts';
import type { Stat, Syscalls } from '../kernel/syscalls.ts';
import { O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../kernel/syscalls.ts';
import { err, idNames, normalizePath, resolvePath, showUsage } from './applet.ts';
import { modeString } from './ls.ts';
import type { CommandEntry, Process } from './process.ts';

const TAR_BLOCK_SIZE = 512;
/** The record size of the archive I/O (blocking factor 20). */
export const TAR_RECORD_SIZE = 20 * TAR_BLOCK_SIZE;

const USAGE = 'c|x|t [-ZzJjahmvokO] [-f TARFILE] [-C DIR] [-T FILE] [-X FILE] [LONGOPT]... [FILE]...';

/** struct tar_header_t field offsets and sizes. */
const F = {
  name: [0, 100], mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12], chksum: [148, 8],
  typeflag: [156, 1], linkname: [157, 100], magic: [257, 8], uname: [265, 32], gname: [297, 32],
  devmajor: [329, 8], devminor: [337, 8], prefix: [345, 155],
} as const;
type Field = keyof typeof F;

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

function putString(h: Uint8Array, f: Field, s: string): void {
  const [off, len] = F[f];
  h.set(enc.encode(s).subarray(0, len), off);
}

/** putOctal: zero-padded octal filling the field; a leading zero is dropped so the field ends in NUL. */
function putOctal(h: Uint8Array, f: Field, value: number): void {
  const [, len] = F[f];
  let s = value.toString(8).padStart(len, '0');
  s = s.slice(s.length - len);
  if (s[0] === '0') s = s.slice(1);
  putString(h, f, s);
}

function getString(h: Uint8Array, f: Field): string {
  const [off, len] = F[f];
  const b = h.subarray(off, off + len);
  const z = b.indexOf(0);
  return dec.decode(z < 0 ? b : b.subarray(0, z));
}

function getOctal(h: Uint8Array, f: Field): number {
  const t = getString(h, f).trim();
  return t === '' ? 0 : parseInt(t, 8);
}

/** chksum_and_xwrite_tar_header: magic, then the checksum over the header with blanks in its field. */
function checksum(h: Uint8Array): void {
  putString(h, 'magic', 'ustar  ');
  h.fill(0x20, F.chksum[0], F.chksum[0] + F.chksum[1]);
  let sum = 0;
  for (const b of h) sum += b;
  const s = sum.toString(8).padStart(6, '0');
  h.set(enc.encode(s), F.chksum[0]);
  h[F.chksum[0] + 6] = 0;
}

/** strip_unsafe_prefix: leading '/' and '../' components (and anything up to a '/../'). */
function stripUnsafePrefix(name: string, warned: { done: boolean }, p: Process, out: Array<Promise<void>>): string {
  let cp = 0;
  for (;;) {
    if (name[cp] === '/') {
      cp++;
      continue;
    }
    if (name.startsWith('../', cp)) {
      cp += 3;
      continue;
    }
    const at = name.indexOf('/../', cp);
    if (at < 0) break;
    cp = at + 4;
  }
  if (cp > 0 && !warned.done) {
    warned.done = true;
    out.push(err(p, `tar: removing leading '${name.slice(0, cp)}' from member names\n`));
  }
  return name.slice(cp);
}

/** Archive output in whole records. */
class RecordWriter {
  readonly #write: (b: Uint8Array) => Promise<unknown>;
  #buf = new Uint8Array(TAR_RECORD_SIZE);
  #fill = 0;
  constructor(write: (b: Uint8Array) => Promise<unknown>) {
    this.#write = write;
  }
  async put(data: Uint8Array): Promise<void> {
    let at = 0;
    while (at < data.length) {
      const n = Math.min(TAR_RECORD_SIZE - this.#fill, data.length - at);
      this.#buf.set(data.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
      if (this.#fill === TAR_RECORD_SIZE) await this.#flush();
    }
  }
  /** The end of the archive: two zero blocks, then zeros to the end of the record. */
  async finish(): Promise<void> {
    await this.put(new Uint8Array(2 * TAR_BLOCK_SIZE));
    if (this.#fill > 0) {
      this.#buf.fill(0, this.#fill);
      this.#fill = TAR_RECORD_SIZE;
      await this.#flush();
    }
  }
  async #flush(): Promise<void> {
    const b = this.#buf;
    this.#buf = new Uint8Array(TAR_RECORD_SIZE);
    this.#fill = 0;
    await this.#write(b);
  }
}

/** Archive input: reads a record at a time, hands out exact byte counts. */
class RecordReader {
  readonly #read: (n: number) => Promise<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #at = 0;
  #eof = false;
  constructor(read: (n: number) => Promise<Uint8Array>) {
    this.#read = read;
  }
  /** Up to `n` bytes; fewer only at end of input. */
  async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (this.#at === this.#buf.length) {
        if (this.#eof) break;
        this.#buf = await this.#read(TAR_RECORD_SIZE);
        this.#at = 0;
        if (this.#buf.length === 0) {
          this.#eof = true;
          break;
        }
      }
      const k = Math.min(n - got, this.#buf.length - this.#at);
      out.set(this.#buf.subarray(this.#at, this.#at + k), got);
      this.#at += k;
      got += k;
    }
    return got === n ? out : out.slice(0, got);
  }
}

interface Opts {
  mode: 'c' | 't' | 'x';
  verbose: boolean;
  file: string;
  dir: string | null;
  toStdout: boolean;
  names: string[];
}

/** The old-style first argument (`tar cvf F …`) expands into dashed options taking their values in order. */
function expandOldStyle(args: readonly string[]): string[] {
  const first = args[0];
  if (first === undefined || first.startsWith('-')) return [...args];
  const out: string[] = [];
  let next = 1;
  for (const c of first) {
    if ('fCTX'.includes(c)) {
      out.push(`-${c}`);
      if (args[next] !== undefined) out.push(args[next++]!);
    } else out.push(`-${c}`);
  }
  return [...out, ...args.slice(next)];
}

async function parse(p: Process): Promise<Opts | number> {
  const args = expandOldStyle(p.argv.slice(1));
  const o: Opts = { mode: 'c', verbose: false, file: '-', dir: null, toStdout: false, names: [] };
  let mode: Opts['mode'] | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      o.names.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      o.names.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (c === 'c' || c === 't' || c === 'x') mode = c;
      else if (c === 'v') o.verbose = true;
      else if (c === 'O') o.toStdout = true;
      else if (c === 'f' || c === 'C') {
        const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
        if (v === undefined) {
          await err(p, `tar: option requires an argument -- '${c}'\n`);
          return showUsage(p, 'tar', USAGE);
        }
        if (c === 'f') o.file = v;
        else o.dir = v;
        break;
      } else if ('opmhk'.includes(c)) continue;
      else {
        await err(p, `tar: invalid option -- '${c}'\n`);
        return showUsage(p, 'tar', USAGE);
      }
    }
  }
  if (mode === null) return showUsage(p, 'tar', USAGE);
  o.mode = mode;
  return o;
}

export async function tarMain(p: Process): Promise<number> {
  const o = await parse(p);
  if (typeof o === 'number') return o;
  const sys = p.sys;
  const cwd = o.dir !== null ? normalizePath(resolvePath(p.cwd, o.dir)) : p.cwd;
  if (o.dir !== null) {
    try {
      const st = await sys.stat(cwd);
      if ((st.mode & S_IFMT) !== S_IFDIR) throw Object.assign(new Error(), { message: 'Not a directory' });
    } catch (e) {
      await err(p, `tar: can't change directory to '${o.dir}': ${(e as Error).message}\n`);
      return 1;
    }
  }
  const archivePath = o.file === '-' ? null : resolvePath(p.cwd, o.file);
  let fd: number | null = null;
  if (archivePath !== null) {
    try {
      fd = await sys.open(archivePath, o.mode === 'c' ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0o666);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `tar: can't open '${o.file}': ${e.message}\n`);
      return 1;
    }
  }
  try {
    if (o.mode === 'c') return await create(p, o, cwd, fd);
    return await extractOrList(p, o, cwd, fd);
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `tar: ${e.syscall === 'write' ? 'write' : 'read'} error: ${e.message}\n`);
    return 1;
  } finally {
    if (fd !== null) {
      try {
        await sys.close(fd);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `tar: close error: ${e.message}\n`);
      }
    }
  }
}

async function create(p: Process, o: Opts, cwd: string, fd: number | null): Promise<number> {
  const sys = p.sys;
  if (o.names.length === 0) {
    await err(p, 'tar: empty archive\n');
    return 1;
  }
  const ids = await idNames(sys);
  const w = new RecordWriter(async (b) => {
    try {
      if (fd === null) await p.stdout.write(b);
      else await sys.write(fd, b);
    } catch (e) {
      if (isErrno(e)) throw Object.assign(e, { syscall: 'write' });
      throw e;
    }
  });
  const verbose = async (line: string): Promise<void> => {
    if (fd === null) await err(p, line);
    else await p.stdout.write(line);
  };
  const warned = { done: false };
  let rc = 0;
  const add = async (fileName: string): Promise<void> => {
    const path = resolvePath(cwd, fileName);
    let st: Stat;
    try {
      st = await sys.lstat(path);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `tar: ${fileName}: ${e.message}\n`);
      rc = 1;
      return;
    }
    const notes: Array<Promise<void>> = [];
    const name = stripUnsafePrefix(fileName, warned, p, notes);
    await Promise.all(notes);
    if (name === '') {
      if ((st.mode & S_IFMT) === S_IFDIR) await recurse(fileName, path);
      return;
    }
    const type = st.mode & S_IFMT;
    const h = new Uint8Array(TAR_BLOCK_SIZE);
    putString(h, 'name', name);
    putOctal(h, 'mode', st.mode & 0o7777);
    putOctal(h, 'uid', st.uid);
    putOctal(h, 'gid', st.gid);
    h.fill(0x30, F.size[0], F.size[0] + F.size[1] - 1);
    putOctal(h, 'mtime', Math.max(0, st.mtime));
    putString(h, 'uname', ids.user(st.uid).slice(0, 31));
    putString(h, 'gname', ids.group(st.gid).slice(0, 31));
    let data: Uint8Array | null = null;
    if (type === S_IFDIR) {
      h[F.typeflag[0]] = 0x35;
      if (name.length < 100) putString(h, 'name', `${name}/`);
    } else if (type === S_IFLNK) {
      h[F.typeflag[0]] = 0x32;
      putString(h, 'linkname', await sys.readlink(path));
    } else if (type === S_IFREG) {
      h[F.typeflag[0]] = 0x30;
      try {
        data = await readAll(sys, path);
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `tar: can't open '${fileName}': ${e.message}\n`);
        rc = 1;
        return;
      }
      putOctal(h, 'size', data.length);
    } else {
      await err(p, `tar: ${fileName}: unknown file type\n`);
      rc = 1;
      return;
    }
    checksum(h);
    await w.put(h);
    if (data) {
      await w.put(data);
      const pad = -data.length & (TAR_BLOCK_SIZE - 1);
      if (pad) await w.put(new Uint8Array(pad));
    }
    if (o.verbose) await verbose(`${name}${type === S_IFDIR ? '/' : ''}\n`);
    if (type === S_IFDIR) await recurse(fileName, path);
  };
  const recurse = async (fileName: string, path: string): Promise<void> => {
    for (const d of await sys.readdir(path)) {
      if (d.name === '.' || d.name === '..') continue;
      await add(fileName.endsWith('/') ? `${fileName}${d.name}` : `${fileName}/${d.name}`);
    }
  };
  for (const n of o.names) await add(n);
  await w.finish();
  if (rc) await err(p, 'tar: error exit delayed from previous errors\n');
  return rc;
}

async function readAll(sys: Syscalls, path: string): Promise<Uint8Array> {
  const fd = await sys.open(path, O_RDONLY);
  try {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = await sys.read(fd, 65536);
      if (b.length === 0) break;
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const b of parts) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  } finally {
    await sys.close(fd);
  }
}

/** header_verbose_list: mode, user/group, size, date, name (and the link target). */
function verboseLine(h: Uint8Array, name: string, type: string, mode: number, size: number): string {
  const user = getString(h, 'uname') || String(getOctal(h, 'uid'));
  const group = getString(h, 'gname') || String(getOctal(h, 'gid'));
  const d = new Date(getOctal(h, 'mtime') * 1000);
  const two = (n: number): string => String(n).padStart(2, '0');
  const date = `${String(d.getUTCFullYear()).padStart(4, ' ')}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const ftype = type === '5' ? 0o040000 : type === '2' ? 0o120000 : 0o100000;
  let line = `${modeString(ftype | mode)} ${user}/${group} ${String(size).padStart(9, ' ')} ${date} ${name}`;
  if (type === '2') line += ` -> ${getString(h, 'linkname')}`;
  else if (type === '1') line += ` link to ${getString(h, 'linkname')}`;
  return `${line}\n`;
}

async function extractOrList(p: Process, o: Opts, cwd: string, fd: number | null): Promise<number> {
  const sys = p.sys;
  const r = new RecordReader(async (n) => {
    try {
      return fd === null ? await p.stdin.read(n) : await sys.read(fd, n);
    } catch (e) {
      if (isErrno(e)) throw Object.assign(e, { syscall: 'read' });
      throw e;
    }
  });
  const warned = { done: false };
  let offset = 0;
  let sawEmpty = false;
  for (;;) {
    const h = await r.take(TAR_BLOCK_SIZE);
    if (h.length === 0) {
      // End of input ends the archive; only an empty archive is worth a word (and still exits 0).
      if (offset === 0) await err(p, 'tar: short read\n');
      break;
    }
    if (h.length < TAR_BLOCK_SIZE) {
      await err(p, 'tar: short read\n');
      return 1;
    }
    offset += TAR_BLOCK_SIZE;
    if (h[F.name[0]] === 0 && h[F.prefix[0]] === 0) {
      if (sawEmpty) {
        // The second empty header: read on to the end of the input (on a tape, through its filemark).
        while ((await r.take(TAR_BLOCK_SIZE)).length === TAR_BLOCK_SIZE) continue;
        break;
      }
      sawEmpty = true;
      continue;
    }
    sawEmpty = false;
    const magic = getString(h, 'magic');
    if (!magic.startsWith('ustar')) {
      await err(p, 'tar: invalid tar magic\n');
      return 1;
    }
    let sum = 0;
    for (let i = 0; i < TAR_BLOCK_SIZE; i++) sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : h[i]!;
    if (sum !== getOctal(h, 'chksum')) {
      await err(p, 'tar: invalid tar header checksum\n');
      return 1;
    }
    const type = String.fromCharCode(h[F.typeflag[0]]!) || '0';
    const prefix = getString(h, 'prefix');
    let name = prefix ? `${prefix}/${getString(h, 'name')}` : getString(h, 'name');
    const notes: Array<Promise<void>> = [];
    name = stripUnsafePrefix(name, warned, p, notes);
    await Promise.all(notes);
    const size = type === '0' || type === '\0' || type === '7' ? getOctal(h, 'size') : 0;
    const mode = getOctal(h, 'mode') & 0o7777;
    const data = await r.take(size + (-size & (TAR_BLOCK_SIZE - 1)));
    if (data.length < size) {
      await err(p, 'tar: short read\n');
      return 1;
    }
    const wanted = o.names.length === 0 || o.names.some((n) => name === n || name.startsWith(n.endsWith('/') ? n : `${n}/`) || name === `${n}/`);
    if (!wanted) continue;
    if (o.mode === 't') {
      await p.stdout.write(o.verbose ? verboseLine(h, name, type, mode, size) : `${name}\n`);
      continue;
    }
    if (o.verbose) await p.stdout.write(`${name}\n`);
    if (o.toStdout) {
      if (type === '0' || type === '\0') await p.stdout.write(data.subarray(0, size));
      continue;
    }
    const path = resolvePath(cwd, name.replace(/\/+$/, ''));
    try {
      if (type === '5') {
        try {
          await sys.mkdir(path, mode);
        } catch (e) {
          if (!isErrno(e) || e.code !== 'EEXIST') throw e;
        }
      } else if (type === '2') {
        try {
          await sys.unlink(path);
        } catch {
          // nothing there yet
        }
        await sys.symlink(getString(h, 'linkname'), path);
      } else {
        const out = await sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
        try {
          if (size > 0) await sys.write(out, data.slice(0, size));
        } finally {
          await sys.close(out);
        }
      }
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, `tar: can't open '${name}': ${e.message}\n`);
      return 1;
    }
  }
  return 0;
}

export const tarEntry: CommandEntry = { name: 'tar', paths: ['/bin/tar', '/usr/bin/tar'], run: tarMain };
