// Ours: what a guest userland tool gets when it runs — argv, environment, standard streams and the
// system-call surface. Every command (busybox applets, lsscsi, sg3_utils, udevadm …) is a `Command`.

import type { Syscalls } from '../kernel/syscalls.ts';

export interface InputStream {
  /** Reads everything until end of input. */
  readAll(): Promise<Uint8Array>;
  /** Reads up to `n` bytes; an empty array means end of input. */
  read(n: number): Promise<Uint8Array>;
}

export interface OutputStream {
  write(data: string | Uint8Array): Promise<void>;
}

export interface Process {
  readonly sys: Syscalls;
  readonly argv: readonly string[];
  readonly env: ReadonlyMap<string, string>;
  readonly cwd: string;
  readonly stdin: InputStream;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
}

/** A command returns its exit status (0..255). */
export type Command = (p: Process) => Promise<number>;

/** Registry entry: the command and the names it answers to (a bare name and its /usr/bin, /sbin … paths). */
export interface CommandEntry {
  readonly name: string;
  readonly paths: readonly string[];
  readonly run: Command;
}
