// Models hw/virtio/virtio.c (QEMU 7.2): the device side of the split virtqueue and the VirtIODevice core
// (status, features, config space, ISR, notification decisions, virtio_error).
//
// The guest is not trusted. Every chain walk is bounded by the queue size (or the indirect table
// size), each descriptor is read exactly once into locals, every buffer is checked against guest RAM
// when it is "mapped", and any protocol violation goes through `virtioError`: the message is
// reported, the device is marked broken (no more pops, no more interrupts) and, for a VERSION_1
// device, NEEDS_RESET is raised with a config interrupt. Nothing here throws into the caller:
// GuestMemoryFault is caught at the boundary and turned into the matching QEMU message.

import type { GuestMemory } from '../../platform/guest_memory.ts';
import { GuestMemoryFault } from '../../platform/guest_memory.ts';
import {
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_CONFIG_S_FEATURES_OK,
  VIRTIO_CONFIG_S_NEEDS_RESET,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_BAD_FEATURE,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_VERSION_1,
  VIRTIO_RING_F_EVENT_IDX,
  bit,
  hasBit,
} from '../../protocol/virtio_config.ts';
import {
  VIRTQ_AVAIL_FLAGS,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_AVAIL_IDX,
  VIRTQ_DESC_ADDR,
  VIRTQ_DESC_FLAGS,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_DESC_LEN,
  VIRTQ_DESC_NEXT,
  VIRTQ_DESC_SIZE,
  VIRTQ_USED_FLAGS,
  VIRTQ_USED_F_NO_NOTIFY,
  VIRTQ_USED_IDX,
  availRingEntry,
  availUsedEvent,
  usedAvailEvent,
  usedRingEntry,
  vringNeedEvent,
} from '../../protocol/virtio_ring.ts';
import { VIRTIO_MSI_NO_VECTOR } from '../../protocol/virtio_pci.ts';

/** QEMU limits (include/hw/virtio/virtio.h). */
export const VIRTQUEUE_MAX_SIZE = 1024;
export const VIRTIO_QUEUE_MAX = 1024;
export const VIRTIO_NO_VECTOR = VIRTIO_MSI_NO_VECTOR;

/** Feature bits that exist only for the legacy interface; never offered through the modern window. */
export const VIRTIO_LEGACY_FEATURES = bit(VIRTIO_F_BAD_FEATURE) | bit(VIRTIO_F_NOTIFY_ON_EMPTY) | bit(VIRTIO_F_ANY_LAYOUT);

/** One line of QEMU's stderr, already prefixed (`qemu-system-x86_64: <msg>`). */
export type LineSink = (line: string) => void;
/** Trace hook: QEMU trace-event name and its arguments, in trace-events order. Only called when set. */
export type TraceSink = (event: string, args: Readonly<Record<string, number | bigint | string | boolean>>) => void;

/** A guest buffer the device has checked against RAM (QEMU maps it into an iovec). */
export interface Iov {
  readonly addr: number;
  readonly len: number;
}

/** A popped descriptor chain (VirtQueueElement): device-readable buffers then device-writable ones. */
export interface VirtQueueElement {
  readonly index: number;
  readonly outSg: Iov[];
  readonly inSg: Iov[];
}

/** What the transport (virtio-pci) does for the core: deliver a vector. */
export interface VirtioTransport {
  notify(vector: number): void;
}

export type VirtQueueHandler = (vq: VirtQueue) => void;

/** Copies up to `length` bytes from the scatter list starting at byte `offset` into `dst`. Returns bytes copied. */
export function iovToBuf(mem: GuestMemory, sg: readonly Iov[], offset: number, dst: Uint8Array, length = dst.length): number {
  let copied = 0;
  for (let i = 0; i < sg.length && copied < length; i++) {
    const e = sg[i]!;
    if (offset >= e.len) {
      offset -= e.len;
      continue;
    }
    const n = Math.min(e.len - offset, length - copied);
    mem.readInto(e.addr + offset, dst, copied, n);
    copied += n;
    offset = 0;
  }
  return copied;
}

/** Copies `length` bytes of `src` into the scatter list at byte `offset`. Returns bytes copied. */
export function iovFromBuf(
  mem: GuestMemory,
  sg: readonly Iov[],
  offset: number,
  src: Uint8Array,
  srcOffset = 0,
  length = src.length - srcOffset,
): number {
  let copied = 0;
  for (let i = 0; i < sg.length && copied < length; i++) {
    const e = sg[i]!;
    if (offset >= e.len) {
      offset -= e.len;
      continue;
    }
    const n = Math.min(e.len - offset, length - copied);
    mem.writeBytes(e.addr + offset, src.subarray(srcOffset + copied, srcOffset + copied + n));
    copied += n;
    offset = 0;
  }
  return copied;
}

export function iovSize(sg: readonly Iov[]): number {
  let n = 0;
  for (let i = 0; i < sg.length; i++) n += sg[i]!.len;
  return n;
}

/** The device's view of one split virtqueue (QEMU's VirtQueue + VRing). */
export class VirtQueue {
  readonly vdev: VirtIODevice;
  readonly queueIndex: number;
  num: number;
  numDefault: number;
  desc = 0;
  avail = 0;
  used = 0;
  /** Guest-physical rings validated against RAM (QEMU's region caches). */
  mapped = false;
  lastAvailIdx = 0;
  shadowAvailIdx = 0;
  usedIdx = 0;
  signalledUsed = 0;
  signalledUsedValid = false;
  notification = true;
  inuse = 0;
  vector = VIRTIO_NO_VECTOR;
  readonly handleOutput: VirtQueueHandler | null;

  constructor(vdev: VirtIODevice, index: number, num: number, handler: VirtQueueHandler | null) {
    this.vdev = vdev;
    this.queueIndex = index;
    this.num = num;
    this.numDefault = num;
    this.handleOutput = handler;
  }

  /** __virtio_queue_reset */
  reset(): void {
    this.desc = this.avail = this.used = 0;
    this.mapped = false;
    this.lastAvailIdx = this.shadowAvailIdx = this.usedIdx = 0;
    this.signalledUsed = 0;
    this.signalledUsedValid = false;
    this.notification = true;
    this.inuse = 0;
    this.vector = VIRTIO_NO_VECTOR;
    this.num = this.numDefault;
  }

  get mem(): GuestMemory {
    return this.vdev.mem;
  }

  #availIdx(): number {
    this.shadowAvailIdx = this.mem.read16(this.avail + VIRTQ_AVAIL_IDX);
    return this.shadowAvailIdx;
  }

  /** virtio_queue_empty: no chain the device has not popped yet. */
  empty(): boolean {
    if (!this.mapped || this.vdev.broken) return true;
    if (this.shadowAvailIdx !== this.lastAvailIdx) return false;
    return this.#availIdx() === this.lastAvailIdx;
  }

  /** virtio_queue_set_notification */
  setNotification(enable: boolean): void {
    this.notification = enable;
    if (!this.mapped) return;
    if (this.vdev.hasFeature(VIRTIO_RING_F_EVENT_IDX)) {
      this.mem.write16(this.used + usedAvailEvent(this.num), this.#availIdx());
    } else {
      const flags = this.mem.read16(this.used + VIRTQ_USED_FLAGS);
      this.mem.write16(this.used + VIRTQ_USED_FLAGS, enable ? flags & ~VIRTQ_USED_F_NO_NOTIFY : flags | VIRTQ_USED_F_NO_NOTIFY);
    }
  }

  /**
   * virtqueue_pop (split): the next available chain, or null when the queue is empty or the chain
   * broke a rule (then the device is already marked broken).
   */
  pop(): VirtQueueElement | null {
    const vdev = this.vdev;
    if (vdev.broken || !this.mapped) return null;
    try {
      return this.#pop();
    } catch (e) {
      if (!(e instanceof GuestMemoryFault)) throw e;
      vdev.virtioError('virtio: bogus descriptor or out of resources');
      return null;
    }
  }

  #pop(): VirtQueueElement | null {
    const vdev = this.vdev;
    const mem = this.mem;
    const num = this.num;
    if (this.empty()) return null;
    const pending = (this.shadowAvailIdx - this.lastAvailIdx) & 0xffff;
    if (pending > num) {
      vdev.virtioError(`Guest moved used index from ${this.lastAvailIdx} to ${this.shadowAvailIdx}`);
      return null;
    }
    if (this.inuse >= num) {
      vdev.virtioError('Virtqueue size exceeded');
      return null;
    }
    const head = mem.read16(this.avail + availRingEntry(this.lastAvailIdx % num));
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    if (head >= num) {
      vdev.virtioError(`Guest says index ${head} is available`);
      return null;
    }
    if (vdev.hasFeature(VIRTIO_RING_F_EVENT_IDX)) {
      mem.write16(this.used + usedAvailEvent(num), this.lastAvailIdx);
    }

    let table = this.desc;
    let max = num;
    let i = head;
    // One read per descriptor, into locals.
    let addr = readDescAddr(mem, table, i);
    let len = mem.read32(table + i * VIRTQ_DESC_SIZE + VIRTQ_DESC_LEN);
    let flags = mem.read16(table + i * VIRTQ_DESC_SIZE + VIRTQ_DESC_FLAGS);
    let next = mem.read16(table + i * VIRTQ_DESC_SIZE + VIRTQ_DESC_NEXT);

    if (flags & VIRTQ_DESC_F_INDIRECT) {
      if (len === 0 || len % VIRTQ_DESC_SIZE !== 0) {
        vdev.virtioError('Invalid size for indirect buffer table');
        return null;
      }
      if (!mem.valid(addr, len)) {
        vdev.virtioError('Cannot map indirect buffer');
        return null;
      }
      table = addr;
      max = len / VIRTQ_DESC_SIZE;
      i = 0;
      addr = readDescAddr(mem, table, 0);
      len = mem.read32(table + VIRTQ_DESC_LEN);
      flags = mem.read16(table + VIRTQ_DESC_FLAGS);
      next = mem.read16(table + VIRTQ_DESC_NEXT);
    }

    const outSg: Iov[] = [];
    const inSg: Iov[] = [];
    for (;;) {
      if (len === 0) {
        vdev.virtioError('virtio: zero sized buffers are not allowed');
        return null;
      }
      if (flags & VIRTQ_DESC_F_WRITE) {
        if (outSg.length + inSg.length >= VIRTQUEUE_MAX_SIZE) {
          vdev.virtioError('virtio: too many write descriptors in indirect table');
          return null;
        }
        if (!mem.valid(addr, len)) {
          vdev.virtioError('virtio: bogus descriptor or out of resources');
          return null;
        }
        inSg.push({ addr, len });
      } else {
        if (inSg.length > 0) {
          vdev.virtioError('Incorrect order for descriptors');
          return null;
        }
        if (outSg.length >= VIRTQUEUE_MAX_SIZE) {
          vdev.virtioError('virtio: too many write descriptors in indirect table');
          return null;
        }
        if (!mem.valid(addr, len)) {
          vdev.virtioError('virtio: bogus descriptor or out of resources');
          return null;
        }
        outSg.push({ addr, len });
      }
      if (outSg.length + inSg.length > max) {
        vdev.virtioError('Looped descriptor');
        return null;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      if (next >= max) {
        vdev.virtioError(`Desc next is ${next}`);
        return null;
      }
      i = next;
      const d = table + i * VIRTQ_DESC_SIZE;
      addr = readDescAddr(mem, table, i);
      len = mem.read32(d + VIRTQ_DESC_LEN);
      flags = mem.read16(d + VIRTQ_DESC_FLAGS);
      next = mem.read16(d + VIRTQ_DESC_NEXT);
    }

    this.inuse++;
    if (vdev.trace) vdev.trace('virtqueue_pop', { vq: this.queueIndex, elem: head, in_num: inSg.length, out_num: outSg.length });
    return { index: head, outSg, inSg };
  }

  /** virtqueue_push: fill one used entry and publish it (used.idx bump). */
  push(elem: VirtQueueElement, len: number): void {
    if (this.vdev.broken || !this.mapped) {
      // QEMU still writes rings of a broken device; nothing useful can follow, so only account for it.
      if (this.inuse > 0) this.inuse--;
      return;
    }
    try {
      const mem = this.mem;
      const slot = this.used + usedRingEntry(this.usedIdx % this.num);
      mem.write32(slot, elem.index);
      mem.write32(slot + 4, len >>> 0);
      const old = this.usedIdx;
      const nw = (old + 1) & 0xffff;
      mem.write16(this.used + VIRTQ_USED_IDX, nw);
      this.usedIdx = nw;
      if (this.inuse > 0) this.inuse--;
      // As virtqueue_split_flush: a wrap past the last signalled index invalidates it.
      if (((nw - this.signalledUsed) << 16 >> 16) < ((nw - old) & 0xffff)) this.signalledUsedValid = false;
    } catch (e) {
      if (!(e instanceof GuestMemoryFault)) throw e;
      this.vdev.virtioError('Cannot map used');
    }
  }

  /** virtqueue_detach_element: the element is dropped without a used entry. */
  detach(_elem: VirtQueueElement): void {
    if (this.inuse > 0) this.inuse--;
  }

  /** virtio_split_should_notify */
  shouldNotify(): boolean {
    const vdev = this.vdev;
    const mem = this.mem;
    if (vdev.hasFeature(VIRTIO_F_NOTIFY_ON_EMPTY) && this.inuse === 0 && this.empty()) return true;
    if (!vdev.hasFeature(VIRTIO_RING_F_EVENT_IDX)) {
      return !(mem.read16(this.avail + VIRTQ_AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    const valid = this.signalledUsedValid;
    this.signalledUsedValid = true;
    const old = this.signalledUsed;
    const nw = (this.signalledUsed = this.usedIdx);
    return !valid || vringNeedEvent(mem.read16(this.avail + availUsedEvent(this.num)), nw, old);
  }

  /** Sets the ring addresses and validates them against RAM (virtio_queue_set_rings + region caches). */
  setRings(desc: number, avail: number, used: number): void {
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.mapRings();
  }

  /** virtio_init_region_cache */
  mapRings(): void {
    this.mapped = false;
    if (this.desc === 0) return;
    const mem = this.mem;
    const ev = this.vdev.hasFeature(VIRTIO_RING_F_EVENT_IDX) ? 2 : 0;
    if (!mem.valid(this.desc, this.num * VIRTQ_DESC_SIZE)) {
      this.vdev.virtioError('Cannot map desc');
      return;
    }
    if (!mem.valid(this.used, 4 + 8 * this.num + ev)) {
      this.vdev.virtioError('Cannot map used');
      return;
    }
    if (!mem.valid(this.avail, 4 + 2 * this.num + ev)) {
      this.vdev.virtioError('Cannot map avail');
      return;
    }
    this.mapped = true;
  }
}

function readDescAddr(mem: GuestMemory, table: number, i: number): number {
  const a = mem.read64(table + i * VIRTQ_DESC_SIZE + VIRTQ_DESC_ADDR);
  // RAM is below 4 GiB: an address that does not fit a double exactly cannot be valid anyway.
  return a > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(a);
}

export interface VirtIODeviceOptions {
  readonly mem: GuestMemory;
  readonly name: string;
  readonly deviceId: number;
  readonly configLen: number;
  /** Host features before the transport adds VERSION_1 / BAD_FEATURE. */
  readonly hostFeatures: bigint;
  readonly log?: LineSink | undefined;
  readonly trace?: TraceSink | undefined;
  /** Program name in front of each message; QEMU's own by default. */
  readonly progName?: string | undefined;
}

/**
 * VirtIODevice: state shared by every virtio device. A concrete device extends it and overrides
 * getConfig/setConfig/resetDevice/setFeaturesHook.
 */
export class VirtIODevice {
  readonly mem: GuestMemory;
  readonly name: string;
  readonly deviceId: number;
  readonly configLen: number;
  readonly config: Uint8Array;
  hostFeatures: bigint;
  guestFeatures = 0n;
  status = 0;
  isr = 0;
  queueSel = 0;
  configVector = VIRTIO_NO_VECTOR;
  generation = 0;
  broken = false;
  readonly vqs: VirtQueue[] = [];
  transport: VirtioTransport | null = null;
  readonly log: LineSink | undefined;
  readonly trace: TraceSink | undefined;
  readonly #prog: string;

  constructor(o: VirtIODeviceOptions) {
    this.mem = o.mem;
    this.name = o.name;
    this.deviceId = o.deviceId;
    this.configLen = o.configLen;
    this.config = new Uint8Array(o.configLen);
    this.hostFeatures = o.hostFeatures;
    this.log = o.log;
    this.trace = o.trace;
    this.#prog = o.progName ?? 'qemu-system-x86_64';
  }

  /** virtio_add_queue */
  addQueue(size: number, handler: VirtQueueHandler | null): VirtQueue {
    const vq = new VirtQueue(this, this.vqs.length, size, handler);
    this.vqs.push(vq);
    return vq;
  }

  hasFeature(n: number): boolean {
    return hasBit(this.guestFeatures, n);
  }

  hostHasFeature(n: number): boolean {
    return hasBit(this.hostFeatures, n);
  }

  /** error_report */
  errorReport(msg: string): void {
    this.log?.(`${this.#prog}: ${msg}`);
  }

  /** virtio_error: report, then NEEDS_RESET + config interrupt (VERSION_1), then broken. */
  virtioError(msg: string): void {
    this.errorReport(msg);
    if (this.hasFeature(VIRTIO_F_VERSION_1)) {
      this.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
      this.notifyConfig();
    }
    this.broken = true;
  }

  /** virtio_set_features: refused once FEATURES_OK is set; unknown bits dropped. Returns false when refused or trimmed. */
  setFeatures(val: bigint): boolean {
    if (this.status & VIRTIO_CONFIG_S_FEATURES_OK) return false;
    const bad = (val & ~this.hostFeatures) !== 0n;
    this.guestFeatures = val & this.hostFeatures;
    if (hasBit(val, VIRTIO_RING_F_EVENT_IDX)) {
      // EVENT_IDX changes how large the ring regions are.
      for (const vq of this.vqs) if (vq.desc !== 0) vq.mapRings();
    }
    return !bad;
  }

  /** virtio_set_status: FEATURES_OK is validated (no device-specific check for virtio-scsi). */
  setStatus(val: number): void {
    if (this.trace) this.trace('virtio_set_status', { vdev: this.name, val });
    this.status = val & 0xff;
  }

  /** virtio_reset */
  reset(): void {
    this.resetDevice();
    this.broken = false;
    this.guestFeatures = 0n;
    this.queueSel = 0;
    this.status = 0;
    this.isr = 0;
    this.configVector = VIRTIO_NO_VECTOR;
    this.notifyVector(this.configVector);
    for (const vq of this.vqs) vq.reset();
  }

  /** Device-specific reset (VirtioDeviceClass.reset). */
  resetDevice(): void {}
  /** Refreshes `this.config` from device state (get_config). */
  getConfig(): void {}
  /** Takes driver writes out of `this.config` (set_config). */
  setConfig(): void {}

  /** virtio_notify_vector */
  notifyVector(vector: number): void {
    if (this.broken) return;
    this.transport?.notify(vector);
  }

  /** virtio_notify: a used-buffer interrupt if the driver wants one. */
  notify(vq: VirtQueue): void {
    if (this.broken || !vq.mapped) return;
    let want: boolean;
    try {
      want = vq.shouldNotify();
    } catch (e) {
      if (!(e instanceof GuestMemoryFault)) throw e;
      return;
    }
    if (!want) return;
    if (this.trace) this.trace('virtio_notify', { vdev: this.name, vq: vq.queueIndex });
    this.isr |= 1;
    this.notifyVector(vq.vector);
  }

  /** virtio_notify_config */
  notifyConfig(): void {
    if (!(this.status & VIRTIO_CONFIG_S_DRIVER_OK)) return;
    this.isr |= 3;
    this.generation = (this.generation + 1) & 0xff;
    this.notifyVector(this.configVector);
  }

  /** virtio_queue_notify: the guest kicked queue `n` (called by the transport, on the event loop). */
  queueNotify(n: number): void {
    const vq = this.vqs[n];
    if (!vq || vq.desc === 0 || this.broken) return;
    if (this.trace) this.trace('virtio_queue_notify', { vdev: this.name, n, vq: n });
    if (!vq.handleOutput) return;
    try {
      vq.handleOutput(vq);
    } catch (e) {
      if (!(e instanceof GuestMemoryFault)) throw e;
      this.virtioError('virtio: bogus descriptor or out of resources');
    }
  }

  /** Reads `size` bytes (1, 2, 4) of device config at `addr`, little-endian; all ones past the end. */
  configRead(addr: number, size: number): number {
    this.getConfig();
    if (addr < 0 || addr + size > this.configLen) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[addr + i]!;
    return v;
  }

  configWrite(addr: number, size: number, value: number): void {
    if (addr < 0 || addr + size > this.configLen) return;
    for (let i = 0; i < size; i++) this.config[addr + i] = Math.floor(value / 256 ** i) & 0xff;
    this.setConfig();
  }
}
