// Models drivers/virtio/virtio_ring.c (Linux 6.1): the driver side of the split virtqueue.
//
// The driver owns the descriptor table and the available ring and only reads the used ring. It keeps
// a trusted shadow of every descriptor it wrote (addr, len, flags and the free-list link of each
// slot) and never reads its own writes back from shared memory, so a device scribbling on the table
// cannot corrupt the free list (rcore: "our trusted copy of desc that the device can't access").
//
// Adding (virtqueue_add_split): with VIRTIO_RING_F_INDIRECT_DESC and more than one sg, the chain is
// written into a separately allocated indirect table (entries linked i -> i+1, NEXT on all but the
// last, WRITE on device-writable ones) and the ring gets one descriptor {table, 16*n, INDIRECT};
// otherwise the chain takes n slots off the free list. The head goes into avail.ring[shadow % N] and
// avail.idx is bumped at once; kicking is separate (kickPrepare + notify) so callers can batch.
// After 65535 adds without a kick prepare the ring forces one, as Linux does.
//
// Notification suppression (virtio 1.2 §2.7.7, §2.7.10): with EVENT_IDX the driver publishes
// used_event and reads avail_event; without it, the NO_INTERRUPT / NO_NOTIFY flags. The callback loop
// `do { disableCb(); while (getBuf()) …; } while (!enableCb())` closes the race where a buffer is used
// between the last getBuf and re-enabling: enableCb reports it and the loop drains again.
//
// A device that returns a used id out of range, or an id that is not the head of an outstanding
// chain, is reported with Linux's BAD_RING text and the queue is marked broken; nothing is thrown.

import type { Gpa, GuestMemory } from '../platform/guest_memory.ts';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_AVAIL_FLAGS,
  VIRTQ_AVAIL_IDX,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  VIRTQ_USED_FLAGS,
  VIRTQ_USED_IDX,
  availRingEntry,
  availSize,
  availUsedEvent,
  usedAvailEvent,
  usedRingEntry,
  vringNeedEvent,
  vringSize,
} from '../protocol/virtio_ring.ts';
import type { DmaAllocator } from '../kernel/dma.ts';
import { PAGE_SIZE } from '../kernel/dma.ts';

/** One scatter-gather element: guest-physical address and length in bytes. */
export interface Sg {
  readonly addr: Gpa;
  readonly len: number;
}

export type VqCallback = (vq: VirtQueue) => void;

/** What the ring needs from its device: negotiated ring features and a place to log. */
export interface VringHost {
  readonly eventIdx: boolean;
  readonly indirect: boolean;
  /** dev_err on the virtio device (the caller adds the `driver virtioN: ` prefix). */
  devErr(text: string): void;
}

export interface UsedBuf {
  readonly token: unknown;
  /** Bytes the device says it wrote into the device-writable part. */
  readonly len: number;
}

const ENOSPC = 28;
const EIO = 5;
const ENOMEM = 12;
const EINVAL = 22;
const SPLIT_ALIGN = 64; // SMP_CACHE_BYTES on x86: virtio-pci modern rings are laid out with it

export interface CreateVirtqueueOptions {
  index: number;
  num: number;
  name: string;
  mem: GuestMemory;
  dma: DmaAllocator;
  host: VringHost;
  /** Writes the doorbell; false means the transport failed (queue becomes broken). */
  notify: (vq: VirtQueue) => boolean;
  callback: VqCallback | null;
  /** Halve `num` while the ring is bigger than a page and allocation fails (may_reduce_num). */
  mayReduceNum?: boolean;
  /**
   * 5.16's used-length check, reverted before 6.1 because QEMU reports data-out bytes in the used
   * length of writes. Off (default) is 6.1; on reports `used len … larger than in buflen` as BAD_RING.
   */
  validateUsedLen?: boolean;
}

/**
 * vring_create_virtqueue (split): allocates the contiguous desc/avail/used area with vring_size(num, 64)
 * and builds the queue. Returns a negative errno when `num` is not a power of two or memory runs out.
 */
export function createVirtqueue(o: CreateVirtqueueOptions): VirtQueue | number {
  let num = o.num;
  if (num === 0 || (num & (num - 1)) !== 0) {
    o.host.devErr(`Bad virtqueue length ${num}`);
    return -EINVAL;
  }
  let base: Gpa | null = null;
  for (; num > 0 && vringSize(num, SPLIT_ALIGN) > PAGE_SIZE; num /= 2) {
    base = o.dma.alloc(vringSize(num, SPLIT_ALIGN));
    if (base !== null) break;
    if (!o.mayReduceNum) return -ENOMEM;
  }
  if (num === 0) return -ENOMEM;
  if (base === null) base = o.dma.alloc(vringSize(num, SPLIT_ALIGN));
  if (base === null) return -ENOMEM;
  return new VirtQueue({ ...o, num }, base);
}

export class VirtQueue {
  readonly index: number;
  readonly name: string;
  /** Queue size N (a power of two). */
  readonly num: number;
  readonly descAddr: Gpa;
  readonly availAddr: Gpa;
  readonly usedAddr: Gpa;
  callback: VqCallback | null;
  /** Opaque per-transport data (virtio-pci keeps the notify address and MSI-X vector here). */
  priv: unknown = null;

  readonly #mem: GuestMemory;
  readonly #dma: DmaAllocator;
  readonly #host: VringHost;
  readonly #notify: (vq: VirtQueue) => boolean;
  readonly #event: boolean;
  readonly #indirect: boolean;
  readonly #validateLen: boolean;
  readonly #mask: number;
  readonly #ringBase: Gpa;

  // Trusted shadow of the descriptor table (desc_extra) and per-head state (desc_state).
  readonly #xAddr: Float64Array;
  readonly #xLen: Uint32Array;
  readonly #xFlags: Uint16Array;
  readonly #xNext: Uint16Array;
  readonly #token: unknown[];
  readonly #indirTable: Float64Array; // 0 = none
  readonly #inBytes: Float64Array; // device-writable bytes of the chain, for the used-len check

  #numFree: number;
  #freeHead = 0;
  #availIdxShadow = 0;
  #availFlagsShadow = 0;
  #numAdded = 0;
  #lastUsedIdx = 0;
  #broken = false;
  #eventTriggered = false;

  constructor(o: CreateVirtqueueOptions, ringBase: Gpa) {
    this.index = o.index;
    this.name = o.name;
    this.num = o.num;
    this.callback = o.callback;
    this.#mem = o.mem;
    this.#dma = o.dma;
    this.#host = o.host;
    this.#notify = o.notify;
    this.#event = o.host.eventIdx;
    this.#indirect = o.host.indirect;
    this.#validateLen = o.validateUsedLen ?? false;
    this.#mask = o.num - 1;
    this.#ringBase = ringBase;
    this.descAddr = ringBase;
    this.availAddr = ringBase + VIRTQ_DESC_SIZE * o.num;
    this.usedAddr = Math.ceil((this.availAddr + availSize(o.num)) / SPLIT_ALIGN) * SPLIT_ALIGN;
    const n = o.num;
    this.#xAddr = new Float64Array(n);
    this.#xLen = new Uint32Array(n);
    this.#xFlags = new Uint16Array(n);
    this.#xNext = new Uint16Array(n);
    for (let i = 0; i < n - 1; i++) this.#xNext[i] = i + 1;
    this.#token = new Array<unknown>(n).fill(undefined);
    this.#indirTable = new Float64Array(n);
    this.#inBytes = new Float64Array(n);
    this.#numFree = n;
    if (!o.callback) {
      // No callback: ask the device not to interrupt (only the flag form exists without EVENT_IDX).
      this.#availFlagsShadow |= VIRTQ_AVAIL_F_NO_INTERRUPT;
      if (!this.#event) this.#mem.write16(this.availAddr + VIRTQ_AVAIL_FLAGS, this.#availFlagsShadow);
    }
  }

  get numFree(): number {
    return this.#numFree;
  }
  get broken(): boolean {
    return this.#broken;
  }
  /** virtqueue_get_vring_size */
  get vringSize(): number {
    return this.num;
  }
  /** The index the driver will read the next used entry from (free-running, 16 bits). */
  get lastUsedIdx(): number {
    return this.#lastUsedIdx;
  }
  /** Start of the DMA area holding desc, avail and used (what vring_del_virtqueue frees). */
  get ringBase(): Gpa {
    return this.#ringBase;
  }

  /** virtqueue_add_sgs with flat lists: `out` are device-readable, `inn` device-writable. 0 or -errno. */
  addSgs(out: readonly Sg[], inn: readonly Sg[], token: unknown): number {
    return this.#addSplit(out, inn, token);
  }
  addOutbuf(sgs: readonly Sg[], token: unknown): number {
    return this.#addSplit(sgs, EMPTY, token);
  }
  addInbuf(sgs: readonly Sg[], token: unknown): number {
    return this.#addSplit(EMPTY, sgs, token);
  }

  #addSplit(out: readonly Sg[], inn: readonly Sg[], token: unknown): number {
    if (token === undefined || token === null) throw new TypeError('virtqueue add: token must not be null');
    if (this.#broken) return -EIO;
    const totalSg = out.length + inn.length;
    if (totalSg === 0) throw new TypeError('virtqueue add: no buffers');
    const mem = this.#mem;
    const head = this.#freeHead;

    let table: Gpa | null = null;
    if (this.#indirect && totalSg > 1 && this.#numFree > 0) table = this.#dma.kmalloc(totalSg * VIRTQ_DESC_SIZE);
    const descsUsed = table !== null ? 1 : totalSg;
    if (this.#numFree < descsUsed) {
      // Historical Linux behaviour: poke the device when a request with outgoing data does not fit.
      if (out.length > 0) this.#notify(this);
      if (table !== null) this.#dma.kfree(table);
      return -ENOSPC;
    }

    let inBytes = 0;
    if (table !== null) {
      // Indirect table: entry k links to k+1; the last keeps next = totalSg but loses NEXT.
      for (let k = 0; k < totalSg; k++) {
        const sg = k < out.length ? out[k]! : inn[k - out.length]!;
        let flags = k < out.length ? VIRTQ_DESC_F_NEXT : VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
        if (k === totalSg - 1) flags &= ~VIRTQ_DESC_F_NEXT;
        if (k >= out.length) inBytes += sg.len;
        writeDesc(mem, table + k * VIRTQ_DESC_SIZE, sg.addr, sg.len, flags, k + 1);
      }
      this.#addDesc(head, table, totalSg * VIRTQ_DESC_SIZE, VIRTQ_DESC_F_INDIRECT);
      this.#freeHead = this.#xNext[head]!;
      this.#indirTable[head] = table;
    } else {
      let i = head;
      for (let k = 0; k < totalSg; k++) {
        const isIn = k >= out.length;
        const sg = isIn ? inn[k - out.length]! : out[k]!;
        if (isIn) inBytes += sg.len;
        const flags = VIRTQ_DESC_F_NEXT | (isIn ? VIRTQ_DESC_F_WRITE : 0);
        this.#addDesc(i, sg.addr, sg.len, k === totalSg - 1 ? flags & ~VIRTQ_DESC_F_NEXT : flags);
        i = this.#xNext[i]!;
      }
      this.#freeHead = i;
      this.#indirTable[head] = 0;
    }
    this.#numFree -= descsUsed;
    this.#token[head] = token;
    this.#inBytes[head] = inBytes;

    const slot = this.#availIdxShadow & this.#mask;
    mem.write16(this.availAddr + availRingEntry(slot), head);
    // (wmb) the ring entry is visible before the index that publishes it
    this.#availIdxShadow = (this.#availIdxShadow + 1) & 0xffff;
    mem.write16(this.availAddr + VIRTQ_AVAIL_IDX, this.#availIdxShadow);
    this.#numAdded++;
    if (this.#numAdded === 0xffff) this.kick();
    return 0;
  }

  /** Writes one main-ring descriptor and its shadow; `next` comes from the trusted free list. */
  #addDesc(i: number, addr: number, len: number, flags: number): void {
    writeDesc(this.#mem, this.descAddr + i * VIRTQ_DESC_SIZE, addr, len, flags, this.#xNext[i]!);
    this.#xAddr[i] = addr;
    this.#xLen[i] = len;
    this.#xFlags[i] = flags;
  }

  /** virtqueue_kick_prepare: does the device want a notification for what was added since last time? */
  kickPrepare(): boolean {
    // (mb) the avail index is visible before we read the device's suppression state
    const newIdx = this.#availIdxShadow;
    const old = (newIdx - this.#numAdded) & 0xffff;
    this.#numAdded = 0;
    if (this.#event) return vringNeedEvent(this.#mem.read16(this.usedAddr + usedAvailEvent(this.num)), newIdx, old);
    return (this.#mem.read16(this.usedAddr + VIRTQ_USED_FLAGS) & VIRTQ_USED_F_NO_NOTIFY) === 0;
  }

  /** virtqueue_notify: rings the doorbell. False when the queue is (or becomes) broken. */
  notify(): boolean {
    if (this.#broken) return false;
    if (!this.#notify(this)) {
      this.#broken = true;
      return false;
    }
    return true;
  }

  /** virtqueue_kick: kickPrepare, then notify if needed. */
  kick(): boolean {
    if (this.kickPrepare()) return this.notify();
    return true;
  }

  #moreUsed(): boolean {
    return this.#lastUsedIdx !== this.#mem.read16(this.usedAddr + VIRTQ_USED_IDX);
  }

  /** virtqueue_get_buf: the next used buffer in device order, or null (none, or the queue is broken). */
  getBuf(): UsedBuf | null {
    if (this.#broken) return null;
    if (!this.#moreUsed()) return null;
    // (rmb) the entry is read only after seeing the index that published it
    const entry = this.usedAddr + usedRingEntry(this.#lastUsedIdx & this.#mask);
    const id = this.#mem.read32(entry);
    const len = this.#mem.read32(entry + 4);
    if (id >= this.num) return this.#badRing(`id ${id} out of range`);
    const token = this.#token[id];
    if (token === undefined) return this.#badRing(`id ${id} is not a head!`);
    if (this.#validateLen && len > this.#inBytes[id]!)
      return this.#badRing(`used len ${len} is larger than in buflen ${this.#inBytes[id]!}`);
    this.#detachBuf(id);
    this.#lastUsedIdx = (this.#lastUsedIdx + 1) & 0xffff;
    // Expecting an interrupt for the next entry: tell the device where we are (store + mb).
    if ((this.#availFlagsShadow & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0)
      this.#mem.write16(this.availAddr + availUsedEvent(this.num), this.#lastUsedIdx);
    return { token, len };
  }

  #badRing(text: string): null {
    this.#host.devErr(`${this.name}:${text}`);
    this.#broken = true;
    return null;
  }

  /** detach_buf_split: returns the chain to the free list, walking the shadow, never shared memory. */
  #detachBuf(head: number): void {
    this.#token[head] = undefined;
    let i = head;
    while (this.#xFlags[i]! & VIRTQ_DESC_F_NEXT) {
      i = this.#xNext[i]!;
      this.#numFree++;
    }
    this.#xNext[i] = this.#freeHead;
    this.#freeHead = head;
    this.#numFree++;
    const table = this.#indirTable[head]!;
    if (table !== 0) {
      this.#dma.kfree(table);
      this.#indirTable[head] = 0;
    }
  }

  /** virtqueue_disable_cb: a hint to the device to stop interrupting. */
  disableCb(): void {
    // After an EVENT_IDX interrupt the device will not interrupt again until used_event moves.
    if (this.#eventTriggered) return;
    if ((this.#availFlagsShadow & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0) {
      this.#availFlagsShadow |= VIRTQ_AVAIL_F_NO_INTERRUPT;
      if (this.#event) this.#mem.write16(this.availAddr + availUsedEvent(this.num), 0);
      else this.#mem.write16(this.availAddr + VIRTQ_AVAIL_FLAGS, this.#availFlagsShadow);
    }
  }

  /** virtqueue_enable_cb_prepare: re-arms interrupts; returns the index to pass to `poll`. */
  enableCbPrepare(): number {
    if (this.#eventTriggered) this.#eventTriggered = false;
    if (this.#availFlagsShadow & VIRTQ_AVAIL_F_NO_INTERRUPT) {
      this.#availFlagsShadow &= ~VIRTQ_AVAIL_F_NO_INTERRUPT;
      if (!this.#event) this.#mem.write16(this.availAddr + VIRTQ_AVAIL_FLAGS, this.#availFlagsShadow);
    }
    const last = this.#lastUsedIdx;
    this.#mem.write16(this.availAddr + availUsedEvent(this.num), last);
    return last;
  }

  /** virtqueue_poll: true when buffers were used since `enableCbPrepare` returned `lastUsedIdx`. */
  poll(lastUsedIdx: number): boolean {
    if (this.#broken) return false;
    return (lastUsedIdx & 0xffff) !== this.#mem.read16(this.usedAddr + VIRTQ_USED_IDX);
  }

  /** virtqueue_enable_cb: false means more buffers arrived meanwhile — drain again. */
  enableCb(): boolean {
    return !this.poll(this.enableCbPrepare());
  }

  /** virtqueue_enable_cb_delayed: interrupt only after ~3/4 of the outstanding buffers are used. */
  enableCbDelayed(): boolean {
    if (this.#eventTriggered) this.#eventTriggered = false;
    if (this.#availFlagsShadow & VIRTQ_AVAIL_F_NO_INTERRUPT) {
      this.#availFlagsShadow &= ~VIRTQ_AVAIL_F_NO_INTERRUPT;
      if (!this.#event) this.#mem.write16(this.availAddr + VIRTQ_AVAIL_FLAGS, this.#availFlagsShadow);
    }
    const bufs = Math.floor((((this.#availIdxShadow - this.#lastUsedIdx) & 0xffff) * 3) / 4);
    this.#mem.write16(this.availAddr + availUsedEvent(this.num), (this.#lastUsedIdx + bufs) & 0xffff);
    const used = this.#mem.read16(this.usedAddr + VIRTQ_USED_IDX);
    return ((used - this.#lastUsedIdx) & 0xffff) <= bufs;
  }

  /** virtqueue_detach_unused_buf: after a reset, hands back a buffer the device never used. */
  detachUnusedBuf(): unknown | null {
    for (let i = 0; i < this.num; i++) {
      const token = this.#token[i];
      if (token === undefined) continue;
      this.#detachBuf(i);
      this.#availIdxShadow = (this.#availIdxShadow - 1) & 0xffff;
      this.#mem.write16(this.availAddr + VIRTQ_AVAIL_IDX, this.#availIdxShadow);
      return token;
    }
    return null;
  }

  /** vring_interrupt: runs the callback when there is work. Returns false for IRQ_NONE. */
  interrupt(): boolean {
    if (!this.#moreUsed()) return false;
    if (this.#broken) return true;
    if (this.#event) this.#eventTriggered = true;
    this.callback?.(this);
    return true;
  }

  /** virtio_break_device / __virtio_unbreak_device for this queue. */
  setBroken(broken: boolean): void {
    this.#broken = broken;
  }

  /** vring_del_virtqueue: frees the ring memory and any indirect tables still attached. */
  free(): void {
    for (let i = 0; i < this.num; i++) {
      const t = this.#indirTable[i]!;
      if (t !== 0) this.#dma.kfree(t);
      this.#indirTable[i] = 0;
      this.#token[i] = undefined;
    }
    this.#dma.free(this.#ringBase);
  }
}

const EMPTY: readonly Sg[] = [];
const TWO32 = 0x1_0000_0000;

function writeDesc(mem: GuestMemory, at: Gpa, addr: number, len: number, flags: number, next: number): void {
  mem.write32(at, addr % TWO32);
  mem.write32(at + 4, Math.floor(addr / TWO32));
  mem.write32(at + 8, len);
  mem.write16(at + 12, flags);
  mem.write16(at + 14, next);
}
