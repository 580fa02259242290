// Models kernel/printk/printk.c (Linux 6.1): the kernel log ring — records with a level and a
// timestamp from the virtual clock, and dmesg's default rendering `[%5lu.%06lu] text`.
//
// Prefixes such as `sd 0:0:0:0: [sda] ` (dev_printk) are built by the callers; this file only stores
// and renders records. Every line the guest kernel prints goes through `printk`.

import type { Clock } from '../sim/event_loop.ts';

/** Console log levels (include/linux/kern_levels.h). */
export const KERN = {
  EMERG: 0,
  ALERT: 1,
  CRIT: 2,
  ERR: 3,
  WARNING: 4,
  NOTICE: 5,
  INFO: 6,
  DEBUG: 7,
} as const;
export type LogLevel = (typeof KERN)[keyof typeof KERN];

export interface PrintkRecord {
  /** Sequence number, from 0, as /dev/kmsg numbers records. */
  readonly seq: number;
  readonly level: LogLevel;
  /** Virtual time of the call, in nanoseconds since boot. */
  readonly timeNs: number;
  /** One line, without the trailing newline. */
  readonly text: string;
}

export type PrintkListener = (rec: PrintkRecord) => void;

/** `[    1.234567] ` — seconds padded to 5, microseconds to 6 (printk.c print_time). */
export function formatTimestamp(timeNs: number): string {
  const us = Math.floor(timeNs / 1000);
  const sec = Math.floor(us / 1_000_000);
  const frac = us - sec * 1_000_000;
  return `[${String(sec).padStart(5, ' ')}.${String(frac).padStart(6, '0')}]`;
}

export function formatDmesgLine(rec: PrintkRecord): string {
  return `${formatTimestamp(rec.timeNs)} ${rec.text}`;
}

export class KernelLog {
  readonly #clock: Clock;
  readonly #records: PrintkRecord[] = [];
  readonly #listeners: PrintkListener[] = [];
  #seq = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Appends one record per line of `text` (a trailing newline is dropped, as the kernel does when
   * it ends a record). Listeners (console, trace, tests) see each record as it is stored.
   */
  printk(level: LogLevel, text: string): void {
    const body = text.endsWith('\n') ? text.slice(0, -1) : text;
    const timeNs = this.#clock.now();
    for (const line of body.split('\n')) {
      const rec: PrintkRecord = { seq: this.#seq++, level, timeNs, text: line };
      this.#records.push(rec);
      for (const l of this.#listeners) l(rec);
    }
  }

  get records(): readonly PrintkRecord[] {
    return this.#records;
  }

  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: PrintkListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** What `dmesg` prints: every record, one per line, each ending in `\n`. */
  dmesg(): string {
    let out = '';
    for (const r of this.#records) out += formatDmesgLine(r) + '\n';
    return out;
  }

  /** `dmesg -c` / `dmesg -C`: forget the stored records (sequence numbers keep counting). */
  clear(): void {
    this.#records.length = 0;
  }
}
