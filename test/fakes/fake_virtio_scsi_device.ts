// Ours: a small fake virtio-scsi PCI function for testing the guest's virtio stack. It has QEMU's
// config-space layout (BAR0 I/O, BAR1 MSI-X, BAR4 64-bit modern regions, the same capability chain),
// uses descriptors strictly in order and answers each chain through a closure. Not the device model.
import type { Gpa, GuestMemory } from '../../src/platform/guest_memory.ts';
import type { AccessSize, MsiSink } from '../../src/platform/pci.ts';
import type { BarInfo, PciSlotDevice } from '../../src/platform/pci_bus.ts';
import { vringNeedEvent } from '../../src/protocol/virtio_ring.ts';

export type Handler = (out: Uint8Array, inLen: number, queue: number) => Uint8Array;
/** QEMU 7.2 virtio-scsi-pci offer on the modern interface: 1,2,24,27,28,29,32,40. */
export const QEMU_SCSI_FEATURES = [1, 2, 24, 27, 28, 29, 32, 40].reduce((f, b) => f | (1n << BigInt(b)), 0n);
interface Q { size: number; msix: number; enable: number; desc: number; avail: number; used: number; lastAvail: number; usedIdx: number }
interface Pending { head: number; out: Uint8Array; inSgs: Array<{ addr: Gpa; len: number }> }
export interface FakeOptions { features?: bigint; queueSize?: number; numQueues?: number; msixVectors?: number; refuseFeatures?: boolean; config?: Uint8Array }

export class FakeVirtioScsiDevice implements PciSlotDevice {
  readonly bars: readonly BarInfo[] = [
    { index: 0, size: 0x40, io: true, is64: false },
    { index: 1, size: 0x1000, io: false, is64: false },
    { index: 4, size: 0x4000, io: false, is64: true },
  ];
  readonly cfg = new Uint8Array(256);
  readonly dcfg: Uint8Array;
  readonly queues: Q[];
  readonly pending: Pending[][];
  readonly kicks: number[];
  readonly msixTable: Uint32Array;
  handler: Handler = () => new Uint8Array(0);
  autoComplete = true;
  interrupts = 0;
  status = 0;
  driverFeatures = 0n;
  #dfsel = 0; #gfsel = 0; #configMsix = 0xffff; #qsel = 0; #isr = 0;
  readonly #mem: GuestMemory; readonly #sink: MsiSink; readonly #o: FakeOptions;

  constructor(mem: GuestMemory, sink: MsiSink, o: FakeOptions = {}) {
    this.#mem = mem; this.#sink = sink; this.#o = o;
    const nq = o.numQueues ?? 4; // control, event, 2 request queues (QEMU: -smp 2)
    this.queues = Array.from({ length: nq }, () => ({ size: o.queueSize ?? 256, msix: 0xffff, enable: 0, desc: 0, avail: 0, used: 0, lastAvail: 0, usedIdx: 0 }));
    this.pending = this.queues.map(() => []);
    this.kicks = this.queues.map(() => 0);
    this.msixTable = new Uint32Array(4 * (o.msixVectors ?? nq + 1)).map((_, i) => (i % 4 === 3 ? 1 : 0));
    this.dcfg = o.config ?? new Uint8Array(36);
    const c = new DataView(this.cfg.buffer);
    // ids as QEMU's transitional virtio-scsi-pci (1af4:1004, subsystem 1af4:0008, class 010000, INTA)
    c.setUint32(0x00, 0x10041af4, true); c.setUint16(0x06, 0x0010, true); c.setUint32(0x08, 0x01000000, true);
    c.setUint32(0x10, 0x1, true); c.setUint32(0x20, 0xc, true); c.setUint32(0x2c, 0x00081af4, true);
    this.cfg[0x34] = 0x98; this.cfg[0x3d] = 1;
    // vendor caps: [at, next, len, type, offset-in-BAR4]; then PCI_CFG and MSI-X (5 → table size)
    for (const [at, next, len, type, off] of [[0x40, 0, 16, 1, 0], [0x50, 0x40, 16, 3, 0x1000], [0x60, 0x50, 16, 4, 0x2000], [0x70, 0x60, 20, 2, 0x3000]] as const) {
      this.cfg.set([9, next, len, type, 4], at); c.setUint32(at + 8, off, true); c.setUint32(at + 12, 0x1000, true);
    }
    c.setUint32(0x80, 4, true); this.cfg.set([9, 0x70, 20, 5], 0x84);
    this.cfg.set([0x11, 0x84], 0x98); c.setUint16(0x9a, this.msixTable.length / 4 - 1, true);
    c.setUint32(0x9c, 1, true); c.setUint32(0xa0, 0x801, true);
  }

  configRead(off: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.cfg[off + i] ?? 0);
    return v;
  }
  configWrite(off: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const a = off + i; const b = Math.floor(value / 256 ** i) & 0xff;
      if (a === 0x04 || a === 0x05 || a === 0x3c || a === 0x9b) this.cfg[a] = b;
      else if (a >= 0x10 && a < 0x28) {
        const bar = (a - 0x10) >> 2; const byte = (a - 0x10) & 3;
        const mask = bar === 0 ? 0xffffffc0 : bar === 1 ? 0xfffff000 : bar === 4 ? 0xffffc000 : bar === 5 ? 0xffffffff : 0;
        const low = bar === 0 ? 1 : bar === 4 ? 0xc : 0;
        this.cfg[a] = ((b & (mask >>> (8 * byte))) | (low >>> (8 * byte))) & 0xff;
      }
    }
  }

  get msixEnabled(): boolean { return (this.cfg[0x9b]! & 0x80) !== 0 }

  barRead(bar: number, off: number, size: AccessSize): number {
    if (bar === 1) return off < 0x800 ? this.msixTable[off >> 2] ?? 0 : 0;
    if (bar !== 4) return 0;
    if (off >= 0x2000 && off < 0x3000) {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.dcfg[off - 0x2000 + i] ?? 0);
      return v;
    }
    if (off === 0x1000) { const v = this.#isr; this.#isr = 0; return v }
    const q = this.queues[this.#qsel];
    const f = this.#o.features ?? QEMU_SCSI_FEATURES;
    switch (off) {
      case 0x00: return this.#dfsel; case 0x04: return this.#dfsel > 1 ? 0 : Number((f >> BigInt(32 * this.#dfsel)) & 0xffffffffn);
      case 0x08: return this.#gfsel; case 0x10: return this.#configMsix; case 0x12: return this.queues.length;
      case 0x14: return this.status; case 0x15: return 0; case 0x16: return this.#qsel;
      case 0x18: return q?.size ?? 0; case 0x1a: return q?.msix ?? 0xffff; case 0x1c: return q?.enable ?? 0;
      case 0x1e: return this.#qsel;
      default: return 0;
    }
  }
  barWrite(bar: number, off: number, size: AccessSize, v: number): void {
    if (bar === 1) { if (off < 0x800) this.msixTable[off >> 2] = v; return }
    if (bar !== 4) return;
    if (off >= 0x2000 && off < 0x3000) { for (let i = 0; i < size; i++) this.dcfg[off - 0x2000 + i] = (v >>> (8 * i)) & 0xff; return }
    if (off >= 0x3000) { this.kick(v); return }
    const q = this.queues[this.#qsel];
    switch (off) {
      case 0x00: this.#dfsel = v; return; case 0x08: this.#gfsel = v; return;
      case 0x0c: { const sh = BigInt(32 * this.#gfsel); this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << sh)) | (BigInt(v >>> 0) << sh); return }
      case 0x10: this.#configMsix = v < this.msixTable.length / 4 || v === 0xffff ? v : 0xffff; return;
      case 0x14: this.#setStatus(v); return; case 0x16: this.#qsel = v; return;
    }
    if (!q) return;
    if (off === 0x18) q.size = v; else if (off === 0x1a) q.msix = v < this.msixTable.length / 4 || v === 0xffff ? v : 0xffff;
    else if (off === 0x1c) q.enable = v; else if (off === 0x20) q.desc = v; else if (off === 0x28) q.avail = v; else if (off === 0x30) q.used = v;
  }

  #setStatus(v: number): void {
    if (v === 0) { for (const q of this.queues) Object.assign(q, { msix: 0xffff, enable: 0, lastAvail: 0, usedIdx: 0 }); this.pending.forEach((p) => (p.length = 0)); this.driverFeatures = 0n }
    this.status = this.#o.refuseFeatures ? v & ~8 : v;
  }

  get eventIdx(): boolean { return (this.driverFeatures & (1n << 29n)) !== 0n }

  kick(qi: number): void {
    if (!this.queues[qi]) return;
    this.kicks[qi]!++;
    if (this.autoComplete) { this.pop(qi); this.complete(qi) }
  }

  /** Takes every newly available chain into `pending` (in order); returns how many. */
  pop(qi: number): number {
    const q = this.queues[qi]!; const m = this.#mem; let n = 0;
    while (q.lastAvail !== m.read16(q.avail + 2)) {
      const head = m.read16(q.avail + 4 + 2 * (q.lastAvail % q.size));
      q.lastAvail = (q.lastAvail + 1) & 0xffff; n++;
      const outParts: Uint8Array[] = []; const inSgs: Pending['inSgs'] = [];
      let table = q.desc; let i = head; let max = q.size;
      for (let ttl = 0; ttl < max; ttl++) {
        const d = table + 16 * i; const addr = m.read32(d) + m.read32(d + 4) * 2 ** 32; const len = m.read32(d + 8); const fl = m.read16(d + 12);
        if (fl & 4) { table = addr; max = len / 16; i = 0; ttl = -1; continue }
        if (fl & 2) inSgs.push({ addr, len }); else outParts.push(m.readBytes(addr, len));
        if (!(fl & 1)) break;
        i = m.read16(d + 14);
      }
      const out = new Uint8Array(outParts.reduce((s, p) => s + p.length, 0)); let o = 0;
      for (const p of outParts) { out.set(p, o); o += p.length }
      this.pending[qi]!.push({ head, out, inSgs });
    }
    if (this.eventIdx) m.write16(q.used + 4 + 8 * q.size, q.lastAvail); // avail_event, as QEMU on pop
    return n;
  }

  /** Answers up to `count` pending chains in order, then interrupts if the driver wants it. */
  complete(qi: number, count = Infinity): number {
    const q = this.queues[qi]!; const old = q.usedIdx; let n = 0;
    while (n < count && this.pending[qi]!.length > 0) {
      const p = this.pending[qi]!.shift()!; const inLen = p.inSgs.reduce((s, g) => s + g.len, 0);
      const reply = this.handler(p.out, inLen, qi); let w = 0;
      for (const g of p.inSgs) { const k = Math.min(g.len, reply.length - w); if (k <= 0) break; this.#mem.writeBytes(g.addr, reply.subarray(w, w + k)); w += k }
      this.pushUsed(qi, p.head, w, false); n++;
    }
    if (n > 0) this.maybeInterrupt(qi, old);
    return n;
  }

  /** Writes a used entry as is (hostile tests pass any id/len) and publishes it. */
  pushUsed(qi: number, id: number, len: number, notify = true): void {
    const q = this.queues[qi]!; const e = q.used + 4 + 8 * (q.usedIdx % q.size); const old = q.usedIdx;
    this.#mem.write32(e, id); this.#mem.write32(e + 4, len);
    q.usedIdx = (q.usedIdx + 1) & 0xffff; this.#mem.write16(q.used + 2, q.usedIdx);
    if (notify) this.maybeInterrupt(qi, old);
  }

  /** QEMU's virtio_split_should_notify, then the queue's MSI-X vector. */
  maybeInterrupt(qi: number, oldUsed: number): void {
    const q = this.queues[qi]!;
    const want = this.eventIdx ? vringNeedEvent(this.#mem.read16(q.avail + 4 + 2 * q.size), q.usedIdx, oldUsed) : !(this.#mem.read16(q.avail) & 1);
    if (want) this.sendVector(q.msix);
  }

  sendVector(v: number): void {
    this.#isr |= 1;
    if (v === 0xffff || !this.msixEnabled || this.msixTable[4 * v + 3]! & 1) return;
    this.interrupts++;
    this.#sink.msi(this.msixTable[4 * v]!, this.msixTable[4 * v + 2]!);
  }

  configChange(): void { this.#isr |= 2; this.sendVector(this.#configMsix) }
}
