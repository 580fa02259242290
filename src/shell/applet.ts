// Models libbb (busybox 1.36) helpers the applets share: path joining against the cwd, option parsing
// in getopt32's style, buffered standard output with busybox's `write error` report, and uid/gid names.

import { isErrno } from '../kernel/errno.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import { O_RDONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';

/** `p` against `cwd` (no symlink resolution: the kernel does that). */
export function resolvePath(cwd: string, p: string): string {
  if (p.startsWith('/')) return p;
  if (p === '' || p === '.') return cwd;
  return cwd.endsWith('/') ? cwd + p : `${cwd}/${p}`;
}

/** Lexical normalisation, as ash's logical `cd` does. */
export function normalizePath(p: string): string {
  const out: string[] = [];
  for (const c of p.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return `/${out.join('/')}`;
}

/** stdout as busybox's stdio uses it: collected, then written; a failed write is reported once. */
export class Out {
  readonly #p: Process;
  readonly #prog: string;
  readonly #bytes: boolean;
  #buf = '';
  failed = false;
  /** `bytes`: the text holds one char per byte (latin1), written back as those bytes. */
  constructor(p: Process, prog: string, bytes = false) {
    this.#p = p;
    this.#prog = prog;
    this.#bytes = bytes;
  }
  print(s: string): void {
    this.#buf += s;
  }
  /** Writes what is buffered (when it exceeds `threshold` bytes); false after a write error. */
  async flush(threshold = 0): Promise<boolean> {
    if (this.failed) return false;
    if (this.#buf.length === 0 || this.#buf.length < threshold) return true;
    const data = this.#buf;
    this.#buf = '';
    try {
      await this.#p.stdout.write(this.#bytes ? Uint8Array.from(data, (c) => c.charCodeAt(0) & 255) : data);
      return true;
    } catch (e) {
      if (!isErrno(e)) throw e;
      this.failed = true;
      await err(this.#p, `${this.#prog}: write error: ${e.message}\n`);
      return false;
    }
  }
}

export async function err(p: Process, text: string): Promise<void> {
  try {
    await p.stderr.write(text);
  } catch {
    // stderr is gone too
  }
}

export interface ParsedOpts {
  readonly flags: Set<string>;
  readonly values: Map<string, string>;
  readonly rest: string[];
}

/**
 * getopt32-style parsing: `spec` lists single-letter flags, a letter followed by ':' takes a value.
 * Options stop at `--` or the first operand. Returns null (after busybox's message) on a bad option.
 */
export async function getopt(p: Process, prog: string, spec: string, args = p.argv.slice(1)): Promise<ParsedOpts | null> {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const at = spec.indexOf(c);
      if (at < 0) {
        await err(p, `${prog}: invalid option -- '${c}'\n`);
        return null;
      }
      if (spec[at + 1] === ':') {
        const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
        if (v === undefined) {
          await err(p, `${prog}: option requires an argument -- '${c}'\n`);
          return null;
        }
        values.set(c, v);
        break;
      }
      flags.add(c);
    }
  }
  return { flags, values, rest: args.slice(i) };
}

/** Reads a whole file through the kernel. */
/** Largest input read whole: a character device never reaches end of file (/dev/zero). */
const READ_CAP = 256 * 1024 * 1024;

/**
 * Reads a file to its end, or until `enough` says the reader has what it needs (head on an endless
 * device), or READ_CAP bytes.
 */
export async function readFile(sys: Syscalls, path: string, enough?: (chunk: Uint8Array, total: number) => boolean): Promise<Uint8Array> {
  const fd = await sys.open(path, O_RDONLY);
  try {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = await sys.read(fd, 65536);
      if (b.length === 0) break;
      parts.push(b);
      total += b.length;
      if (total >= READ_CAP || enough?.(b, total)) break;
    }
    const outb = new Uint8Array(total);
    let o = 0;
    for (const b of parts) {
      outb.set(b, o);
      o += b.length;
    }
    return outb;
  } finally {
    await sys.close(fd);
  }
}

/** uid → name and gid → name from /etc/passwd and /etc/group (numbers when there is no entry). */
export async function idNames(sys: Syscalls): Promise<{ user(uid: number): string; group(gid: number): string; uidOf(name: string): number | undefined }> {
  const load = async (path: string): Promise<string[][]> => {
    try {
      return new TextDecoder()
        .decode(await readFile(sys, path))
        .split('\n')
        .filter((l) => l.includes(':'))
        .map((l) => l.split(':'));
    } catch {
      return [];
    }
  };
  const pw = await load('/etc/passwd');
  const gr = await load('/etc/group');
  const users = new Map(pw.map((f) => [Number(f[2]), f[0]!]));
  const groups = new Map(gr.map((f) => [Number(f[2]), f[0]!]));
  return {
    user: (uid) => users.get(uid) ?? String(uid),
    group: (gid) => groups.get(gid) ?? String(gid),
    uidOf: (name) => {
      const f = pw.find((x) => x[0] === name);
      return f ? Number(f[2]) : undefined;
    },
  };
}

export function basename(p: string): string {
  const t = p.replace(/\/+$/, '');
  if (t === '') return p.startsWith('/') ? '/' : '';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** Reads each named file (or stdin for none or `-`); errors print `prog: can't open 'F': …`. */
export async function readInputs(
  p: Process,
  prog: string,
  files: readonly string[],
  each: (data: Uint8Array, name: string) => Promise<void> | void,
  enough?: () => (chunk: Uint8Array, total: number) => boolean,
): Promise<number> {
  let rc = 0;
  for (const f of files.length > 0 ? files : ['-']) {
    let data: Uint8Array;
    try {
      data = f === '-' ? await p.stdin.readAll() : await readFile(p.sys, resolvePath(p.cwd, f), enough?.());
    } catch (e) {
      if (!isErrno(e)) throw e;
      await err(p, e.syscall === 'read' || e.code === 'EISDIR' ? `${prog}: read error: ${e.message}\n` : `${prog}: can't open '${f}': ${e.message}\n`);
      rc = 1;
      continue;
    }
    await each(data, f);
  }
  return rc;
}

export const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
};

/** bb_show_usage: the applet's one-line usage on stderr (this busybox has no verbose usage); exit 1. */
export async function showUsage(p: Process, applet: string, trivial: string): Promise<number> {
  await err(p, `BusyBox v1.36.1 multi-call binary.\n\nUsage: ${applet}${trivial === '' ? '' : ` ${trivial}`}\n`);
  return 1;
}

/** xatoi_positive / xatou: a decimal number or busybox's `invalid number` (null). */
export async function positiveArg(p: Process, prog: string, s: string): Promise<number | null> {
  if (/^\d+$/.test(s) && Number(s) <= 0x7fffffff) return Number(s);
  await err(p, `${prog}: invalid number '${s}'\n`);
  return null;
}
