// Models util/throttle.c + block/throttle-groups.c (QEMU 7.2), reduced to one throttle group per
// BlockBackend (QEMU lets several BlockBackends share a group round-robin; here a group name is only
// recorded for query-block): the leaky-bucket I/O limits that block_set_io_throttle configures.
//
// The algorithm: six buckets (bytes and operations, each total / read / write). A bucket's level
// leaks at `avg` units per second of virtual time. A request may start when every bucket that applies
// to its direction is below its size — `avg / 10` without a burst rate, `max × burst_length` with one
// (plus a burst bucket of `max / 10` leaking at `max`) — and then adds its units (bytes, or 1 per
// operation, or bytes / iops_size) to those buckets. A request that may not start waits in its
// direction's FIFO queue; a timer set to when the fullest bucket will have leaked enough lets the queue
// head go (without checking again, as QEMU's timer callback does) and re-arms for the next one.
// Reads and writes queue separately. Reconfiguring resets the levels and lets each queue's head go;
// removing all limits lets every queued request go.

import type { EventLoop, TimerHandle } from '../../sim/event_loop.ts';
import type { BlockThrottleHook } from './block-backend.ts';

/** THROTTLE_VALUE_MAX */
export const THROTTLE_VALUE_MAX = 1_000_000_000_000_000;

/** The order of QEMU's BucketType. */
export const BUCKETS = ['bps', 'bps_rd', 'bps_wr', 'iops', 'iops_rd', 'iops_wr'] as const;
export type BucketName = (typeof BUCKETS)[number];

export interface BucketConfig {
  readonly avg: number;
  /** Burst rate (0: none). */
  readonly max: number;
  /** Seconds a burst at `max` may last (≥ 1). */
  readonly burstLength: number;
}

export interface ThrottleConfig {
  readonly buckets: Readonly<Record<BucketName, BucketConfig>>;
  /** iops_size: bytes counted as one operation (0: every request is one). */
  readonly opSize: number;
}

/** A configuration with every limit 0 (throttle_config_init). */
export function throttleConfigInit(): ThrottleConfig {
  const b = { avg: 0, max: 0, burstLength: 1 };
  return { buckets: { bps: b, bps_rd: b, bps_wr: b, iops: b, iops_rd: b, iops_wr: b }, opSize: 0 };
}

/** throttle_enabled: any average limit set. */
export function throttleEnabled(cfg: ThrottleConfig): boolean {
  return BUCKETS.some((n) => cfg.buckets[n].avg > 0);
}

/** throttle_is_valid: null, or QEMU's error text. */
export function throttleIsValid(cfg: ThrottleConfig): string | null {
  const b = cfg.buckets;
  const both = (t: BucketName, r: BucketName, w: BucketName, k: 'avg' | 'max'): boolean => b[t][k] !== 0 && (b[r][k] !== 0 || b[w][k] !== 0);
  if (both('bps', 'bps_rd', 'bps_wr', 'avg') || both('iops', 'iops_rd', 'iops_wr', 'avg') ||
      both('bps', 'bps_rd', 'bps_wr', 'max') || both('iops', 'iops_rd', 'iops_wr', 'max')) {
    return 'bps/iops/max total values and read/write values cannot be used at the same time';
  }
  if (cfg.opSize && !b.iops.avg && !b.iops_rd.avg && !b.iops_wr.avg) return 'iops size requires an iops value to be set';
  for (const n of BUCKETS) {
    const k = b[n];
    // The limits are unsigned in QEMU: a negative value is a huge one.
    if (k.avg < 0 || k.max < 0 || k.avg > THROTTLE_VALUE_MAX || k.max > THROTTLE_VALUE_MAX) {
      return `bps/iops/max values must be within [0, ${THROTTLE_VALUE_MAX}]`;
    }
    if (k.burstLength === 0) return 'the burst length cannot be 0';
    if (k.burstLength > 1 && !k.max) return 'burst length set without burst rate';
    if (k.max && !k.avg) return 'bps_max/iops_max require corresponding bps/iops values';
    if (k.max && k.max < k.avg) return 'bps_max/iops_max cannot be lower than bps/iops';
  }
  return null;
}

/** The buckets a request of each direction is counted against. */
const APPLIES: Readonly<Record<'read' | 'write', readonly BucketName[]>> = {
  read: ['bps', 'bps_rd', 'iops', 'iops_rd'],
  write: ['bps', 'bps_wr', 'iops', 'iops_wr'],
};

interface Level {
  level: number;
  burstLevel: number;
}

interface Waiter {
  readonly bytes: number;
  readonly start: () => void;
}

/** One BlockBackend's throttle state (ThrottleGroupMember + its ThrottleState). */
export class ThrottleGroupMember implements BlockThrottleHook {
  readonly #loop: EventLoop;
  #cfg: ThrottleConfig;
  /** The group's name (query-block `group`). */
  group: string;
  readonly #levels = new Map<BucketName, Level>(BUCKETS.map((n) => [n, { level: 0, burstLevel: 0 }]));
  #previousLeak: number;
  readonly #queues: [Waiter[], Waiter[]] = [[], []];
  readonly #timers: [TimerHandle | null, TimerHandle | null] = [null, null];

  constructor(loop: EventLoop, group: string, cfg: ThrottleConfig) {
    this.#loop = loop;
    this.group = group;
    this.#cfg = cfg;
    this.#previousLeak = loop.now();
  }

  get config(): ThrottleConfig {
    return this.#cfg;
  }

  /** Requests waiting: [reads, writes]. */
  get pending(): [number, number] {
    return [this.#queues[0].length, this.#queues[1].length];
  }

  /** throttle_group_config: new limits, empty buckets, each queue's head restarted. */
  configure(cfg: ThrottleConfig): void {
    this.#cfg = cfg;
    for (const l of this.#levels.values()) {
      l.level = 0;
      l.burstLevel = 0;
    }
    this.#previousLeak = this.#loop.now();
    for (const w of [0, 1] as const) {
      if (!this.#timers[w]) continue;
      this.#timers[w]!.cancel();
      this.#timers[w] = null;
      this.#releaseHead(w);
    }
  }

  /** blk_io_limits_disable: everything queued goes, in order (reads first). */
  disable(): void {
    for (const w of [0, 1] as const) {
      this.#timers[w]?.cancel();
      this.#timers[w] = null;
      const q = this.#queues[w].splice(0);
      for (const r of q) r.start();
    }
  }

  intercept(isWrite: boolean, bytes: number, start: () => void): void {
    const w = isWrite ? 1 : 0;
    const q = this.#queues[w];
    if (q.length > 0 || this.#timers[w] !== null || this.#scheduleTimer(w)) {
      q.push({ bytes, start });
      return;
    }
    this.#account(w, bytes);
    start();
    this.#scheduleNext(w);
  }

  /** throttle_leak_bucket for every bucket, up to now. */
  #leak(): void {
    const now = this.#loop.now();
    const delta = now - this.#previousLeak;
    this.#previousLeak = now;
    if (delta <= 0) return;
    for (const n of BUCKETS) {
      const b = this.#cfg.buckets[n];
      const l = this.#levels.get(n)!;
      l.level = Math.max(l.level - (b.avg * delta) / 1e9, 0);
      if (b.burstLength > 1) l.burstLevel = Math.max(l.burstLevel - (b.max * delta) / 1e9, 0);
    }
  }

  /** throttle_compute_wait for one bucket: ns until it has room. */
  #bucketWait(n: BucketName): number {
    const b = this.#cfg.buckets[n];
    const l = this.#levels.get(n)!;
    if (!b.avg) return 0;
    let size: number;
    let burstSize = 0;
    if (!b.max) size = b.avg / 10;
    else {
      size = b.max * b.burstLength;
      burstSize = b.max / 10;
    }
    const extra = l.level - size;
    if (extra > 0) return Math.trunc((extra * 1e9) / b.avg);
    if (b.burstLength > 1) {
      const burstExtra = l.burstLevel - burstSize;
      if (burstExtra > 0) return Math.trunc((burstExtra * 1e9) / b.max);
    }
    return 0;
  }

  /** throttle_schedule_timer: true (and the timer armed) when direction `w` must wait. */
  #scheduleTimer(w: 0 | 1): boolean {
    this.#leak();
    const wait = Math.max(0, ...APPLIES[w ? 'write' : 'read'].map((n) => this.#bucketWait(n)));
    if (wait === 0) return false;
    this.#timers[w] ??= this.#loop.after(wait, () => {
      this.#timers[w] = null;
      this.#releaseHead(w);
    });
    return true;
  }

  /** The queue head goes without a new check (the timer said it may), then the next is scheduled. */
  #releaseHead(w: 0 | 1): void {
    const r = this.#queues[w].shift();
    if (!r) return;
    this.#account(w, r.bytes);
    r.start();
    this.#scheduleNext(w);
  }

  /** schedule_next_request: the next queued request goes now, or when the buckets allow. */
  #scheduleNext(w: 0 | 1): void {
    if (this.#queues[w].length === 0 || this.#timers[w] !== null) return;
    if (!this.#scheduleTimer(w)) this.#timers[w] = this.#loop.after(0, () => {
      this.#timers[w] = null;
      this.#releaseHead(w);
    });
  }

  /** throttle_account */
  #account(w: 0 | 1, bytes: number): void {
    const ops = this.#cfg.opSize ? bytes / this.#cfg.opSize : 1;
    for (const n of APPLIES[w ? 'write' : 'read']) {
      const units = n.startsWith('bps') ? bytes : ops;
      const l = this.#levels.get(n)!;
      l.level += units;
      if (this.#cfg.buckets[n].burstLength > 1) l.burstLevel += units;
    }
  }
}
