// Ours (≈ QEMU tests/qtest/libqos virtio-pci + virtio-scsi helpers): a minimal GUEST driver for testing
// the device model. It reaches the device only as a guest does: PCI configuration space, the BAR
// windows it programmed, guest memory, and MSI-X messages. Descriptors are used in order.
import type { FlatGuestMemory } from '../../src/platform/guest_memory.ts';
import type { MsiSink } from '../../src/platform/pci.ts';
import type { PciBus } from '../../src/platform/pci_bus.ts';
import type { EventLoop } from '../../src/sim/event_loop.ts';
import { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC, bit, hasBit, VIRTIO_F_VERSION_1, VIRTIO_F_RING_RESET } from '../../src/protocol/virtio_config.ts';
import * as P from '../../src/protocol/virtio_pci.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_SIZE, availRingEntry, availUsedEvent, usedAvailEvent, usedRingEntry, vringNeedEvent, VIRTQ_AVAIL_IDX, VIRTQ_USED_IDX, VIRTQ_AVAIL_FLAGS } from '../../src/protocol/virtio_ring.ts';
import { VIRTIO_SCSI_F_CHANGE, VIRTIO_SCSI_F_HOTPLUG, encodeLinuxLun } from '../../src/protocol/virtio_scsi.ts';

export const BAR0_IO = 0xc040;
export const BAR1_MMIO = 0xfebf1000;
export const BAR4_MMIO = 0xfe000000;
export const MSI_ADDRESS = 0xfee00000;
/** What Linux 6.1's virtio_scsi + virtio_pci modern accept. */
export const LINUX_FEATURES =
  bit(VIRTIO_SCSI_F_HOTPLUG) | bit(VIRTIO_SCSI_F_CHANGE) | bit(VIRTIO_RING_F_INDIRECT_DESC) | bit(VIRTIO_RING_F_EVENT_IDX) | bit(VIRTIO_F_VERSION_1) | bit(VIRTIO_F_RING_RESET);

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

export interface DriverQueue {
  size: number;
  desc: number;
  avail: number;
  used: number;
  availIdx: number;
  lastUsed: number;
  nextDesc: number;
}

export interface CmdResult {
  head: number;
  usedLen: number;
  senseLen: number;
  resid: number;
  statusQualifier: number;
  status: number;
  response: number;
  sense: Uint8Array;
  dataIn: Uint8Array;
  /** The whole response area as written (12 + sense_size bytes). */
  resp: Uint8Array;
}

export interface PendingCmd {
  q: number;
  head: number;
  resp: number;
  respLen: number;
  dataIn: number;
  dataInLen: number;
}

export class MiniVirtioDriver implements MsiSink {
  readonly mem: FlatGuestMemory;
  readonly loop: EventLoop;
  pci!: PciBus;
  readonly slot: number;
  readonly caps = new Map<number, { bar: number; offset: number; length: number; at: number }>();
  notifyMult = 0;
  features = 0n;
  readonly queues: DriverQueue[] = [];
  /** MSI data values received (= vector numbers as programmed). */
  readonly irqs: number[] = [];
  senseSize = 96;
  cdbSize = 32;
  #brk = 0x10000;
  #tag = 1n;
  /** Completed used entries seen by pollUsed but not yet claimed, per queue. */
  readonly #done: Array<Map<number, number>> = [];

  constructor(mem: FlatGuestMemory, loop: EventLoop, slot = 4) {
    this.mem = mem;
    this.loop = loop;
    this.slot = slot;
  }

  msi(address: number, data: number): void {
    if (address === MSI_ADDRESS) this.irqs.push(data);
  }

  alloc(len: number, align = 16): number {
    let a = Math.ceil(this.#brk / align) * align;
    if (a + len > this.mem.size) a = 0x10000; // wrap: old buffers are done by then
    this.#brk = a + len;
    this.mem.fill(a, len, 0);
    return a;
  }

  // ---- PCI ----
  cfgRead(off: number, size: 1 | 2 | 4): number {
    return this.pci.configRead(this.slot, 0, off, size);
  }
  cfgWrite(off: number, size: 1 | 2 | 4, v: number): void {
    this.pci.configWrite(this.slot, 0, off, size, v);
  }
  /** Writes all ones to a BAR and reads the size mask back (then restores it). */
  barSizeMask(bar: number): number {
    const off = 0x10 + 4 * bar;
    const old = this.cfgRead(off, 4);
    this.cfgWrite(off, 4, 0xffffffff);
    const m = this.cfgRead(off, 4);
    this.cfgWrite(off, 4, old);
    return m;
  }

  /** Enumerate: program BARs, enable decoding, walk capabilities, enable MSI-X. */
  probe(): void {
    this.cfgWrite(0x10, 4, BAR0_IO);
    this.cfgWrite(0x14, 4, BAR1_MMIO);
    this.cfgWrite(0x20, 4, BAR4_MMIO);
    this.cfgWrite(0x24, 4, 0);
    this.cfgWrite(0x04, 2, 0x0007);
    let p = this.cfgRead(0x34, 1);
    let msix = 0;
    for (let guard = 0; p && guard < 48; guard++) {
      const id = this.cfgRead(p, 1);
      if (id === 0x09) {
        const type = this.cfgRead(p + 3, 1);
        if (!this.caps.has(type)) {
          this.caps.set(type, { bar: this.cfgRead(p + 4, 1), offset: this.cfgRead(p + 8, 4), length: this.cfgRead(p + 12, 4), at: p });
        }
        if (type === P.VIRTIO_PCI_CAP_NOTIFY_CFG) this.notifyMult = this.cfgRead(p + 16, 4);
      } else if (id === 0x11) msix = p;
      p = this.cfgRead(p + 1, 1);
    }
    if (msix) {
      const n = (this.cfgRead(msix + 2, 2) & 0x7ff) + 1;
      for (let v = 0; v < n; v++) {
        const e = BAR1_MMIO + 16 * v;
        this.pci.mmioWrite(e, 4, MSI_ADDRESS);
        this.pci.mmioWrite(e + 4, 4, 0);
        this.pci.mmioWrite(e + 8, 4, v);
        this.pci.mmioWrite(e + 12, 4, 0);
      }
      this.cfgWrite(msix + 2, 2, 0x8000 | (this.cfgRead(msix + 2, 2) & 0x7ff));
    }
  }

  #region(type: number): number {
    const c = this.caps.get(type);
    if (!c) throw new Error(`no virtio capability ${type}`);
    return BAR4_MMIO + c.offset;
  }
  cr(off: number, size: 1 | 2 | 4): number {
    return this.pci.mmioRead(this.#region(P.VIRTIO_PCI_CAP_COMMON_CFG) + off, size);
  }
  cw(off: number, size: 1 | 2 | 4, v: number): void {
    this.pci.mmioWrite(this.#region(P.VIRTIO_PCI_CAP_COMMON_CFG) + off, size, v);
  }
  devRead(off: number, size: 1 | 2 | 4): number {
    return this.pci.mmioRead(this.#region(P.VIRTIO_PCI_CAP_DEVICE_CFG) + off, size);
  }
  devWrite(off: number, size: 1 | 2 | 4, v: number): void {
    this.pci.mmioWrite(this.#region(P.VIRTIO_PCI_CAP_DEVICE_CFG) + off, size, v);
  }
  isr(): number {
    return this.pci.mmioRead(this.#region(P.VIRTIO_PCI_CAP_ISR_CFG), 1);
  }
  status(): number {
    return this.cr(P.VIRTIO_PCI_COMMON_STATUS, 1);
  }
  deviceFeatures(): bigint {
    this.cw(P.VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
    const lo = this.cr(P.VIRTIO_PCI_COMMON_DF, 4);
    this.cw(P.VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
    const hi = this.cr(P.VIRTIO_PCI_COMMON_DF, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** reset, ACK, DRIVER, features (∩ wanted), FEATURES_OK; returns the negotiated set. */
  negotiate(wanted: bigint = LINUX_FEATURES): bigint {
    this.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, 0);
    this.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE);
    this.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    const f = this.deviceFeatures() & wanted;
    this.cw(P.VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    this.cw(P.VIRTIO_PCI_COMMON_GF, 4, Number(f & 0xffffffffn));
    this.cw(P.VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    this.cw(P.VIRTIO_PCI_COMMON_GF, 4, Number(f >> 32n));
    this.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
    this.features = f;
    return f;
  }

  /** Sets up every queue the device has, Linux layout (align 64), vector = 1 + queue index, config vector 0. */
  setupQueues(opts: { size?: number } = {}): void {
    this.cw(P.VIRTIO_PCI_COMMON_MSIX, 2, 0);
    const n = this.cr(P.VIRTIO_PCI_COMMON_NUMQ, 2);
    for (let q = 0; q < n; q++) {
      this.cw(P.VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
      let size = this.cr(P.VIRTIO_PCI_COMMON_Q_SIZE, 2);
      if (opts.size) {
        this.cw(P.VIRTIO_PCI_COMMON_Q_SIZE, 2, opts.size);
        size = opts.size;
      }
      const desc = this.alloc(16 * size, 4096);
      const avail = desc + 16 * size;
      const used = Math.ceil((avail + 6 + 2 * size) / 64) * 64;
      this.alloc(used + 6 + 8 * size - desc - 16 * size, 1);
      this.cw(P.VIRTIO_PCI_COMMON_Q_MSIX, 2, q + 1);
      this.cw(P.VIRTIO_PCI_COMMON_Q_DESCLO, 4, desc);
      this.cw(P.VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
      this.cw(P.VIRTIO_PCI_COMMON_Q_AVAILLO, 4, avail);
      this.cw(P.VIRTIO_PCI_COMMON_Q_AVAILHI, 4, 0);
      this.cw(P.VIRTIO_PCI_COMMON_Q_USEDLO, 4, used);
      this.cw(P.VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
      this.cw(P.VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
      this.queues[q] = { size, desc, avail, used, availIdx: 0, lastUsed: 0, nextDesc: 0 };
      this.#done[q] = new Map();
    }
  }

  driverOk(): void {
    this.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, this.status() | VIRTIO_CONFIG_S_DRIVER_OK);
  }

  /** The whole bring-up, as Linux does it. */
  init(wanted: bigint = LINUX_FEATURES, opts: { size?: number } = {}): bigint {
    this.probe();
    const f = this.negotiate(wanted);
    this.setupQueues(opts);
    this.driverOk();
    return f;
  }

  // ---- rings ----
  /** Writes a chain (optionally through an indirect table) and makes it available; returns the head. */
  addChain(q: number, bufs: Buf[], indirect = false): number {
    const vq = this.queues[q]!;
    const writeDesc = (table: number, i: number, b: Buf, next: number | null): void => {
      const d = table + i * VIRTQ_DESC_SIZE;
      this.mem.write64(d, BigInt(b.addr));
      this.mem.write32(d + 8, b.len);
      this.mem.write16(d + 12, (b.write ? VIRTQ_DESC_F_WRITE : 0) | (next !== null ? VIRTQ_DESC_F_NEXT : 0));
      this.mem.write16(d + 14, next ?? 0);
    };
    let head: number;
    if (indirect) {
      const table = this.alloc(16 * bufs.length);
      bufs.forEach((b, i) => writeDesc(table, i, b, i + 1 < bufs.length ? i + 1 : null));
      head = vq.nextDesc;
      vq.nextDesc = (vq.nextDesc + 1) % vq.size;
      const d = vq.desc + head * VIRTQ_DESC_SIZE;
      this.mem.write64(d, BigInt(table));
      this.mem.write32(d + 8, 16 * bufs.length);
      this.mem.write16(d + 12, VIRTQ_DESC_F_INDIRECT);
      this.mem.write16(d + 14, 0);
    } else {
      head = vq.nextDesc;
      const ids = bufs.map((_, i) => (head + i) % vq.size);
      vq.nextDesc = (head + bufs.length) % vq.size;
      bufs.forEach((b, i) => writeDesc(vq.desc, ids[i]!, b, i + 1 < bufs.length ? ids[i + 1]! : null));
    }
    this.publish(q, head);
    return head;
  }

  /** avail.ring[idx % N] = head; avail.idx++ */
  publish(q: number, head: number): void {
    const vq = this.queues[q]!;
    this.mem.write16(vq.avail + availRingEntry(vq.availIdx % vq.size), head);
    vq.availIdx = (vq.availIdx + 1) & 0xffff;
    this.mem.write16(vq.avail + VIRTQ_AVAIL_IDX, vq.availIdx);
  }

  /** Should the driver kick (virtqueue_kick_prepare) after adding `added` chains? */
  kickPrepare(q: number, added: number): boolean {
    const vq = this.queues[q]!;
    if (hasBit(this.features, VIRTIO_RING_F_EVENT_IDX)) {
      return vringNeedEvent(this.mem.read16(vq.used + usedAvailEvent(vq.size)), vq.availIdx, (vq.availIdx - added) & 0xffff);
    }
    return !(this.mem.read16(vq.used) & 1);
  }

  kick(q: number): void {
    this.pci.mmioWrite(this.#region(P.VIRTIO_PCI_CAP_NOTIFY_CFG) + q * this.notifyMult, 2, q);
  }

  setAvailFlags(q: number, flags: number): void {
    this.mem.write16(this.queues[q]!.avail + VIRTQ_AVAIL_FLAGS, flags);
  }
  setUsedEvent(q: number, v: number): void {
    const vq = this.queues[q]!;
    this.mem.write16(vq.avail + availUsedEvent(vq.size), v);
  }
  usedIdx(q: number): number {
    return this.mem.read16(this.queues[q]!.used + VIRTQ_USED_IDX);
  }

  /** New used entries since the last call ({id, len}), in ring order; used_event follows like Linux. */
  pollUsed(q: number): Array<{ id: number; len: number }> {
    const vq = this.queues[q]!;
    const out: Array<{ id: number; len: number }> = [];
    const idx = this.usedIdx(q);
    while (vq.lastUsed !== idx) {
      const e = vq.used + usedRingEntry(vq.lastUsed % vq.size);
      out.push({ id: this.mem.read32(e), len: this.mem.read32(e + 4) });
      vq.lastUsed = (vq.lastUsed + 1) & 0xffff;
    }
    if (hasBit(this.features, VIRTIO_RING_F_EVENT_IDX)) this.setUsedEvent(q, vq.lastUsed);
    for (const u of out) this.#done[q]!.set(u.id, u.len);
    return out;
  }

  /** Runs the loop until chain `head` of queue `q` is used; its used length, or undefined if it never is. */
  async waitUsed(q: number, head: number): Promise<number | undefined> {
    const done = this.#done[q]!;
    await this.loop.runUntilIdle(() => {
      this.pollUsed(q);
      return done.has(head);
    });
    this.pollUsed(q);
    const len = done.get(head);
    done.delete(head);
    return len;
  }

  // ---- virtio-scsi ----
  nextTag(): bigint {
    return this.#tag++;
  }

  /** Builds and submits a command without waiting (request queue `q`, default the first). */
  startCommand(target: number, lun: number, cdb: number[] | Uint8Array, dataOut?: Uint8Array, dataInLen = 0, opts: { q?: number; tag?: bigint; indirect?: boolean; kick?: boolean } = {}): PendingCmd & { tag: bigint } {
    const q = opts.q ?? 2;
    const tag = opts.tag ?? this.nextTag();
    const hdrLen = 19 + this.cdbSize;
    const hdr = this.alloc(hdrLen);
    this.mem.writeBytes(hdr, encodeLinuxLun(target, lun));
    this.mem.write64(hdr + 8, tag);
    this.mem.writeBytes(hdr + 19, Uint8Array.from(cdb).subarray(0, this.cdbSize));
    const respLen = 12 + this.senseSize;
    const resp = this.alloc(respLen);
    const bufs: Buf[] = [{ addr: hdr, len: hdrLen }];
    if (dataOut && dataOut.length) {
      const a = this.alloc(dataOut.length);
      this.mem.writeBytes(a, dataOut);
      bufs.push({ addr: a, len: dataOut.length });
    }
    bufs.push({ addr: resp, len: respLen, write: true });
    const dataIn = dataInLen ? this.alloc(dataInLen) : 0;
    if (dataInLen) bufs.push({ addr: dataIn, len: dataInLen, write: true });
    const head = this.addChain(q, bufs, opts.indirect ?? hasBit(this.features, VIRTIO_RING_F_INDIRECT_DESC));
    if (opts.kick !== false) this.kick(q);
    return { q, head, resp, respLen, dataIn, dataInLen, tag };
  }

  async finish(p: PendingCmd): Promise<CmdResult | undefined> {
    const usedLen = await this.waitUsed(p.q, p.head);
    if (usedLen === undefined) return undefined;
    return this.readResult(p, usedLen);
  }

  readResult(p: PendingCmd, usedLen: number): CmdResult {
    const r = this.mem.readBytes(p.resp, p.respLen);
    const dv = new DataView(r.buffer);
    const senseLen = dv.getUint32(0, true);
    return {
      head: p.head,
      usedLen,
      senseLen,
      resid: dv.getUint32(4, true),
      statusQualifier: dv.getUint16(8, true),
      status: r[10]!,
      response: r[11]!,
      sense: r.slice(12, 12 + Math.min(senseLen, p.respLen - 12)),
      dataIn: p.dataInLen ? this.mem.readBytes(p.dataIn, p.dataInLen) : new Uint8Array(0),
      resp: r,
    };
  }

  async doCommand(target: number, lun: number, cdb: number[] | Uint8Array, dataOut?: Uint8Array, dataInLen = 0, opts: { q?: number; indirect?: boolean } = {}): Promise<CmdResult | undefined> {
    return this.finish(this.startCommand(target, lun, cdb, dataOut, dataInLen, opts));
  }

  /** A TMF on the control queue: response byte and used length. */
  async tmf(subtype: number, target: number, lun: number, tag = 0n): Promise<{ response: number; usedLen: number } | undefined> {
    const req = this.alloc(24);
    this.mem.write32(req, 0);
    this.mem.write32(req + 4, subtype);
    this.mem.writeBytes(req + 8, encodeLinuxLun(target, lun));
    this.mem.write64(req + 16, tag);
    const resp = this.alloc(1);
    this.mem.write8(resp, 0xee);
    const head = this.addChain(0, [{ addr: req, len: 24 }, { addr: resp, len: 1, write: true }], hasBit(this.features, VIRTIO_RING_F_INDIRECT_DESC));
    this.kick(0);
    const usedLen = await this.waitUsed(0, head);
    if (usedLen === undefined) return undefined;
    return { response: this.mem.read8(resp), usedLen };
  }

  /** Posts `n` 16-byte event buffers (one writable descriptor each) and kicks; returns their addresses by head. */
  postEventBuffers(n: number, kick = true): Map<number, number> {
    const out = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const a = this.alloc(16);
      this.mem.fill(a, 16, 0xee);
      out.set(this.addChain(1, [{ addr: a, len: 16, write: true }]), a);
    }
    if (kick) this.kick(1);
    return out;
  }
}
