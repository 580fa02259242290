// Ours (no upstream counterpart): the virtual clock and the one event loop every layer schedules on.
//
// Events are ordered by (time, sequence): two events due at the same virtual instant run in the order
// they were scheduled, so a run is a pure function of its inputs. Nothing here reads the real clock.
// `daemon` events (periodic pollers such as sr's media polling) do not keep the machine busy: the
// machine is idle when only daemon events remain.

export type Nanoseconds = number;
export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export interface Clock {
  now(): Nanoseconds;
}

export interface TimerHandle {
  readonly time: Nanoseconds;
  cancel(): void;
  readonly cancelled: boolean;
}

class Timer implements TimerHandle {
  cancelled = false;
  index = -1;
  readonly time: Nanoseconds;
  readonly seq: number;
  readonly fn: () => void;
  readonly daemon: boolean;
  readonly loop: EventLoop;
  constructor(time: Nanoseconds, seq: number, fn: () => void, daemon: boolean, loop: EventLoop) {
    this.time = time;
    this.seq = seq;
    this.fn = fn;
    this.daemon = daemon;
    this.loop = loop;
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.loop.remove(this);
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** Yields to the host JS engine for a full macrotask turn: every pending promise continuation runs. */
function macrotaskTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Yields until every pending promise continuation has run, much cheaper than a macrotask turn:
 * Node runs its nextTick queue only once V8's microtask queue is empty, so a promise resolved from
 * nextTick resumes the caller after whole promise chains have settled. That holds when the caller is
 * itself a promise continuation, which is why each run starts with one macrotask turn; every
 * MACROTASK_EVERY drains, a real turn also lets the host process do its I/O.
 */
function drainMicrotasks(): Promise<void> {
  if (++drains % MACROTASK_EVERY === 0) return macrotaskTurn();
  return new Promise((resolve) => process.nextTick(resolve));
}
const MACROTASK_EVERY = 1024;
let drains = 0;

export class EventLoop implements Clock {
  #now: Nanoseconds = 0;
  #seq = 0;
  #heap: Timer[] = [];
  #busy = 0; // non-daemon events in the heap
  #executed = 0;

  now(): Nanoseconds {
    return this.#now;
  }

  /** Lets every pending promise continuation and host task run once (a full macrotask turn). */
  yieldToHost(): Promise<void> {
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Number of events run so far (for tests and benchmarks). */
  get executed(): number {
    return this.#executed;
  }

  /** True when a non-daemon event is pending. */
  get busy(): boolean {
    return this.#busy > 0;
  }

  /** Time of the next pending event, daemons included; undefined when none. */
  get nextTime(): Nanoseconds | undefined {
    return this.#heap[0]?.time;
  }

  at(time: Nanoseconds, fn: () => void, opts?: { daemon?: boolean }): TimerHandle {
    const t = new Timer(Math.max(time, this.#now), this.#seq++, fn, opts?.daemon ?? false, this);
    this.#push(t);
    if (!t.daemon) this.#busy++;
    return t;
  }

  after(delay: Nanoseconds, fn: () => void, opts?: { daemon?: boolean }): TimerHandle {
    return this.at(this.#now + Math.max(0, delay), fn, opts);
  }

  /** Runs one due-or-next event synchronously; returns false when the heap is empty. */
  step(): boolean {
    const t = this.#pop();
    if (!t) return false;
    if (!t.daemon) this.#busy--;
    t.index = -1;
    if (t.time > this.#now) this.#now = t.time;
    this.#executed++;
    t.fn();
    return true;
  }

  /**
   * Runs events until only daemon events remain (or none), letting promise continuations run between
   * events, so `async` process-context code (scan, error handler, shell commands) makes progress.
   * `until` stops early once it returns true.
   */
  async runUntilIdle(until?: () => boolean): Promise<void> {
    await macrotaskTurn();
    for (;;) {
      if (until?.()) return;
      if (this.#busy === 0) return;
      this.step();
      await drainMicrotasks();
    }
  }

  /** Advances virtual time by `delta`, running every event (daemons too) due by then. */
  async advance(delta: Nanoseconds, until?: () => boolean): Promise<void> {
    const end = this.#now + delta;
    await macrotaskTurn();
    for (;;) {
      if (until?.()) return;
      const next = this.#heap[0];
      if (!next || next.time > end) break;
      this.step();
      await drainMicrotasks();
    }
    if (this.#now < end) this.#now = end;
    await drainMicrotasks();
  }

  remove(t: Timer): void {
    const i = t.index;
    if (i < 0) return;
    if (!t.daemon) this.#busy--;
    const last = this.#heap.pop()!;
    t.index = -1;
    if (i < this.#heap.length) {
      this.#heap[i] = last;
      last.index = i;
      this.#siftDown(i);
      this.#siftUp(last.index);
    }
  }

  #push(t: Timer): void {
    t.index = this.#heap.length;
    this.#heap.push(t);
    this.#siftUp(t.index);
  }

  #pop(): Timer | undefined {
    const h = this.#heap;
    const top = h[0];
    if (!top) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      last.index = 0;
      this.#siftDown(0);
    }
    return top;
  }

  #siftUp(i: number): void {
    const h = this.#heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!before(t, parent)) break;
      h[i] = parent;
      parent.index = i;
      i = p;
    }
    h[i] = t;
    t.index = i;
  }

  #siftDown(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!before(child, t)) break;
      h[i] = child;
      child.index = i;
      i = c;
    }
    h[i] = t;
    t.index = i;
  }
}
