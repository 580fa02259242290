// Ours: the shell's file descriptors — what fd 0/1/2 of a command are connected to: a kernel file
// (through Syscalls, so a write to a sysfs attribute is one write(2) and its errno reaches the
// writer), a pipe between two commands, a here-document, or the record of the command line the user
// typed (what the CLI prints).

import { Errno } from '../kernel/errno.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import type { InputStream, OutputStream } from './process.ts';

const enc = new TextEncoder();

export function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? enc.encode(data) : data;
}

/** Raised in a writer whose pipe reader has gone away: the process dies of SIGPIPE, silently. */
export class SigPipe extends Error {
  constructor() {
    super('SIGPIPE');
  }
}

/** One open file description as the shell sees it; either direction may be refused with EBADF. */
export interface Channel extends InputStream, OutputStream {
  /** Called when the last shell fd referring to it is dropped after a command. */
  close(): Promise<void>;
}

async function readAllFrom(ch: { read(n: number): Promise<Uint8Array> }): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const b = await ch.read(65536);
    if (b.length === 0) break;
    parts.push(b);
    total += b.length;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** What one command line produced: each stream alone, and both as a terminal showed them. */
export interface LineResult {
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved in the order they were written (background jobs included). */
  readonly tty: string;
  readonly rc: number;
}

/**
 * A finished line's record. `tty` is an accessor rather than an own field so the record's own
 * enumerable shape stays `{stdout, stderr, rc}`: code that spreads or deep-compares records keeps
 * working, and whoever wants the terminal view asks for it by name.
 */
class FinishedLine implements LineResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly rc: number;
  readonly #tty: string;
  constructor(stdout: string, stderr: string, tty: string, rc: number) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.rc = rc;
    this.#tty = tty;
  }
  get tty(): string {
    return this.#tty;
  }
}

/** Text collected for one command line (or for output written between lines). */
export class LineRecord {
  stdout = '';
  stderr = '';
  /** Both streams in write order, as a terminal attached to fds 1 and 2 would show them. */
  tty = '';
  readonly #dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  append(which: 'stdout' | 'stderr', data: string | Uint8Array): void {
    const text = typeof data === 'string' ? data : this.#dec[which].decode(data, { stream: true });
    this[which] += text;
    this.tty += text;
  }
  /** Moves text written earlier (between lines) in front of this record's own. */
  prepend(earlier: { readonly stdout: string; readonly stderr: string; readonly tty: string }): void {
    this.stdout = earlier.stdout + this.stdout;
    this.stderr = earlier.stderr + this.stderr;
    this.tty = earlier.tty + this.tty;
  }
  result(rc: number): LineResult {
    return new FinishedLine(this.stdout, this.stderr, this.tty, rc);
  }
}

/** Writes into a record chosen at write time (so background jobs write to the line that is running). */
export class RecordChannel implements Channel {
  readonly which: 'stdout' | 'stderr';
  readonly target: () => LineRecord;
  /** True for a job's channel that follows the current line rather than one fixed line. */
  readonly floating: boolean;
  constructor(target: () => LineRecord, which: 'stdout' | 'stderr', floating = false) {
    this.target = target;
    this.which = which;
    this.floating = floating;
  }
  async write(data: string | Uint8Array): Promise<void> {
    this.target().append(this.which, data);
  }
  async read(): Promise<Uint8Array> {
    throw new Errno('EBADF', 'read');
  }
  readAll(): Promise<Uint8Array> {
    return readAllFrom(this);
  }
  async close(): Promise<void> {}
}

/** An input that is already known (here-document, empty stdin). */
export class BytesChannel implements Channel {
  #data: Uint8Array;
  #pos = 0;
  constructor(data: string | Uint8Array) {
    this.#data = toBytes(data);
  }
  async read(n: number): Promise<Uint8Array> {
    const b = this.#data.subarray(this.#pos, this.#pos + n);
    this.#pos += b.length;
    return b;
  }
  readAll(): Promise<Uint8Array> {
    return readAllFrom(this);
  }
  async write(): Promise<void> {
    throw new Errno('EBADF', 'write');
  }
  async close(): Promise<void> {}
}

/** A file opened in the kernel by a redirection. Each write is one write(2). */
export class KernelChannel implements Channel {
  readonly sys: Syscalls;
  readonly fd: number;
  #closed = false;
  constructor(sys: Syscalls, fd: number) {
    this.sys = sys;
    this.fd = fd;
  }
  read(n: number): Promise<Uint8Array> {
    return this.sys.read(this.fd, n);
  }
  readAll(): Promise<Uint8Array> {
    return readAllFrom(this);
  }
  async write(data: string | Uint8Array): Promise<void> {
    let b = toBytes(data);
    while (b.length > 0) {
      const n = await this.sys.write(this.fd, b);
      if (n <= 0) throw new Errno('EIO', 'write');
      b = b.subarray(n);
    }
  }
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.sys.close(this.fd);
    } catch {
      // close(2) errors after a redirection are not reported by ash
    }
  }
}

/** A pipe: unbounded buffer, EOF when the writer closes, SIGPIPE when the reader has gone. */
export class Pipe {
  #chunks: Uint8Array[] = [];
  #writerOpen = true;
  #readerOpen = true;
  #wake: (() => void) | null = null;

  readonly reader: Channel = {
    read: (n) => this.#read(n),
    readAll: () => readAllFrom({ read: (n: number) => this.#read(n) }),
    write: async () => {
      throw new Errno('EBADF', 'write');
    },
    close: async () => {
      this.#readerOpen = false;
      this.#chunks = [];
    },
  };

  readonly writer: Channel = {
    read: async () => {
      throw new Errno('EBADF', 'read');
    },
    readAll: async () => {
      throw new Errno('EBADF', 'read');
    },
    write: async (data) => {
      if (!this.#readerOpen) throw new SigPipe();
      const b = toBytes(data);
      if (b.length === 0) return;
      this.#chunks.push(b.slice());
      this.#notify();
    },
    close: async () => {
      this.#writerOpen = false;
      this.#notify();
    },
  };

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async #read(n: number): Promise<Uint8Array> {
    while (this.#chunks.length === 0 && this.#writerOpen) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const first = this.#chunks[0];
    if (!first) return new Uint8Array(0);
    if (first.length <= n) {
      this.#chunks.shift();
      return first;
    }
    this.#chunks[0] = first.subarray(n);
    return first.subarray(0, n);
  }
}
