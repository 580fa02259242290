// Ours: FakeVirtioScsiDevice with just enough virtio-scsi semantics to drive the guest's virtio_scsi
// LLD: QEMU 7.2's config space (num_queues, seg_max, max_sectors, cmd_per_lun, max_target, max_lun;
// the driver's sense_size/cdb_size writes are kept), request chains answered by a closure
// `(lun bytes, cdb, data-out) → {response, status, sense, data-in, resid}` after a small latency,
// TMFs on the control queue, and events pushed into the buffers the driver posted (with QEMU's
// "events dropped" flag when none is posted). Every chain's descriptor layout is recorded.
// Not the device model (src/host); it only speaks the wire format of src/protocol.
import type { GuestMemory } from '../../src/platform/guest_memory.ts';
import type { MsiSink } from '../../src/platform/pci.ts';
import type { EventLoop } from '../../src/sim/event_loop.ts';
import {
  VIRTIO_SCSI_CMD_REQ_CDB,
  VIRTIO_SCSI_CONFIG_CDB_SIZE,
  VIRTIO_SCSI_CONFIG_CMD_PER_LUN,
  VIRTIO_SCSI_CONFIG_EVENT_INFO_SIZE,
  VIRTIO_SCSI_CONFIG_MAX_CHANNEL,
  VIRTIO_SCSI_CONFIG_MAX_LUN,
  VIRTIO_SCSI_CONFIG_MAX_SECTORS,
  VIRTIO_SCSI_CONFIG_MAX_TARGET,
  VIRTIO_SCSI_CONFIG_NUM_QUEUES,
  VIRTIO_SCSI_CONFIG_SEG_MAX,
  VIRTIO_SCSI_CONFIG_SENSE_SIZE,
  VIRTIO_SCSI_CONFIG_SIZE,
  VIRTIO_SCSI_EVENT_SIZE,
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_T_EVENTS_MISSED,
  VIRTIO_SCSI_T_NO_EVENT,
} from '../../src/protocol/virtio_scsi.ts';
import { answer } from './fake_lld.ts';
import type { FakeLldState } from './fake_lld.ts';
import { FakeVirtioScsiDevice } from './fake_virtio_scsi_device.ts';
import type { FakeOptions } from './fake_virtio_scsi_device.ts';

/** struct virtio_scsi_config as QEMU 7.2 fills it (virtio_scsi_get_config), `-smp 2` defaults. */
export interface HbaConfig {
  numQueues: number;
  segMax: number;
  maxSectors: number;
  cmdPerLun: number;
  eventInfoSize: number;
  senseSize: number;
  cdbSize: number;
  maxChannel: number;
  maxTarget: number;
  maxLun: number;
}

export const QEMU_DEFAULT_CONFIG: HbaConfig = {
  numQueues: 2,
  segMax: 254,
  maxSectors: 0xffff,
  cmdPerLun: 128,
  eventInfoSize: 16,
  senseSize: 96,
  cdbSize: 32,
  maxChannel: 0,
  maxTarget: 255,
  maxLun: 16383,
};

/** One request as the device decoded it from the chain. */
export interface CmdRequest {
  readonly queue: number;
  /** The whole device-readable part of the chain: header, then data-out. */
  readonly raw: Uint8Array;
  readonly lun: Uint8Array;
  readonly tag: bigint;
  readonly taskAttr: number;
  readonly cdb: Uint8Array;
  readonly dataOut: Uint8Array;
  /** Device-writable bytes after the response (the data-in buffer size). */
  readonly dataInLen: number;
}

export interface CmdReply {
  response?: number;
  status?: number;
  sense?: ArrayLike<number>;
  /** sense_len as written; defaults to sense.length (a device may claim more than it wrote). */
  senseLen?: number;
  dataIn?: ArrayLike<number>;
  /** Defaults to dataInLen − dataIn.length. */
  resid?: number;
}

/** Answers a request, or `null` to hold it (tests release held requests with `releaseHeld`). */
export type CmdAnswer = (req: CmdRequest) => CmdReply | null;

export interface TmfRequest {
  readonly raw: Uint8Array;
  readonly type: number;
  readonly subtype: number;
  readonly lun: Uint8Array;
  readonly tag: bigint;
}

export interface ChainDesc {
  readonly addr: number;
  readonly len: number;
  readonly flags: number;
  readonly next: number;
}

/** A chain as found on the ring: the head descriptor and, when indirect, the table it points to. */
export interface ChainLayout {
  readonly queue: number;
  readonly head: ChainDesc;
  readonly table: readonly ChainDesc[];
}

export interface HbaOptions extends FakeOptions {
  cfg?: Partial<HbaConfig>;
  /** Device latency per kick, in virtual ns (default 1 µs). */
  latency?: number;
}

const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const le64 = (b: Uint8Array, o: number): bigint => BigInt(le32(b, o)) | (BigInt(le32(b, o + 4)) << 32n);

/** QEMU's decoding of the 8-byte LUN field (virtio_scsi_device_get / virtio_scsi_get_lun). */
export function decodeLun(lun: Uint8Array): { ok: boolean; target: number; lun: number } {
  return { ok: lun[0] === 1, target: lun[1]!, lun: ((lun[2]! << 8) | lun[3]!) & 0x3fff };
}

/** The LUN field QEMU puts in an event (virtio_scsi_push_event): flat space only from LUN 256. */
export function eventLun(target: number, lun: number): Uint8Array {
  return Uint8Array.from([1, target, lun >= 256 ? (lun >> 8) | 0x40 : 0, lun & 0xff, 0, 0, 0, 0]);
}

/** A CmdAnswer from a table of LUs with QEMU's target semantics (see fake_lld.ts). */
export function luTable(st: FakeLldState): CmdAnswer {
  return (req) => {
    const a = decodeLun(req.lun);
    if (!a.ok) return { response: VIRTIO_SCSI_S_BAD_TARGET };
    st.cdbs.push(`${a.target}:${a.lun} ${[...req.cdb].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
    const r = answer(st, a.target, a.lun, req.cdb);
    if (r.hostByte === 0x04) return { response: VIRTIO_SCSI_S_BAD_TARGET };
    return { response: VIRTIO_SCSI_S_OK, status: r.status, ...(r.sense ? { sense: r.sense } : {}), ...(r.data ? { dataIn: r.data } : {}) };
  };
}

interface Held {
  readonly head: number;
  readonly req: CmdRequest;
  readonly inSgs: ReadonlyArray<{ addr: number; len: number }>;
}

export class FakeVirtioScsiHba extends FakeVirtioScsiDevice {
  readonly #m: GuestMemory;
  readonly #loop: EventLoop;
  readonly #latency: number;
  onCommand: CmdAnswer = () => ({ response: VIRTIO_SCSI_S_BAD_TARGET });
  /** TMF response byte, or null to never answer. */
  onTmf: (req: TmfRequest) => number | null = () => VIRTIO_SCSI_S_OK;
  readonly requests: CmdRequest[] = [];
  readonly tmfs: TmfRequest[] = [];
  readonly chains: ChainLayout[] = [];
  readonly held: Held[] = [];
  /** QEMU's events_dropped: set when an event found no buffer; reported with the next one. */
  eventsDropped = false;

  constructor(mem: GuestMemory, sink: MsiSink, loop: EventLoop, o: HbaOptions = {}) {
    const c = { ...QEMU_DEFAULT_CONFIG, ...o.cfg };
    const config = new Uint8Array(VIRTIO_SCSI_CONFIG_SIZE);
    const dv = new DataView(config.buffer);
    dv.setUint32(VIRTIO_SCSI_CONFIG_NUM_QUEUES, c.numQueues, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_SEG_MAX, c.segMax, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_MAX_SECTORS, c.maxSectors, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_CMD_PER_LUN, c.cmdPerLun, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_EVENT_INFO_SIZE, c.eventInfoSize, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_SENSE_SIZE, c.senseSize, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_CDB_SIZE, c.cdbSize, true);
    dv.setUint16(VIRTIO_SCSI_CONFIG_MAX_CHANNEL, c.maxChannel, true);
    dv.setUint16(VIRTIO_SCSI_CONFIG_MAX_TARGET, c.maxTarget, true);
    dv.setUint32(VIRTIO_SCSI_CONFIG_MAX_LUN, c.maxLun, true);
    // control, event, then the request queues (at least one: Linux reads num_queues 0 as 1)
    super(mem, sink, { numQueues: Math.max(1, c.numQueues) + 2, ...o, config });
    this.#m = mem;
    this.#loop = loop;
    this.#latency = o.latency ?? 1000;
    this.autoComplete = false;
  }

  /** The config space as the driver left it (sense_size and cdb_size are driver-writable). */
  get senseSize(): number {
    return le32(this.dcfg, VIRTIO_SCSI_CONFIG_SENSE_SIZE);
  }
  get cdbSize(): number {
    return le32(this.dcfg, VIRTIO_SCSI_CONFIG_CDB_SIZE);
  }

  override kick(qi: number): void {
    super.kick(qi);
    if (!this.queues[qi]) return;
    this.#loop.after(this.#latency, () => this.service(qi));
  }

  /** Records each newly available chain's layout before the base class flattens it. */
  override pop(qi: number): number {
    const q = this.queues[qi]!;
    const m = this.#m;
    for (let idx = q.lastAvail; idx !== m.read16(q.avail + 2); idx = (idx + 1) & 0xffff) {
      const headIdx = m.read16(q.avail + 4 + 2 * (idx % q.size));
      const head = this.#desc(q.desc, headIdx);
      const table: ChainDesc[] = [];
      if (head.flags & 4) for (let i = 0; i < Math.min(head.len / 16, 64); i++) table.push(this.#desc(head.addr, i));
      this.chains.push({ queue: qi, head, table });
    }
    return super.pop(qi);
  }

  #desc(base: number, i: number): ChainDesc {
    const d = base + 16 * i;
    const m = this.#m;
    return { addr: m.read32(d) + m.read32(d + 4) * 2 ** 32, len: m.read32(d + 8), flags: m.read16(d + 12), next: m.read16(d + 14) };
  }

  /** Takes what the driver made available on queue `qi` and answers it (events stay posted). */
  service(qi: number): void {
    if (this.status === 0 || !this.queues[qi]) return;
    this.pop(qi);
    if (qi === 1) {
      // A re-posted buffer while events were dropped: QEMU reports the loss at once.
      if (this.eventsDropped) this.pushEvent(VIRTIO_SCSI_T_NO_EVENT, new Uint8Array(8), 0);
      return;
    }
    const q = this.queues[qi]!;
    const old = q.usedIdx;
    let n = 0;
    for (const p of this.pending[qi]!.splice(0)) {
      if (qi === 0) {
        const t: TmfRequest = { raw: p.out, type: le32(p.out, 0), subtype: le32(p.out, 4), lun: p.out.slice(8, 16), tag: le64(p.out, 16) };
        this.tmfs.push(t);
        const resp = this.onTmf(t);
        if (resp === null) continue;
        if (p.inSgs[0]) this.#m.write8(p.inSgs[0].addr, resp);
        this.pushUsed(qi, p.head, 1, false);
        n++;
        continue;
      }
      const hdr = VIRTIO_SCSI_CMD_REQ_CDB + this.cdbSize;
      const inLen = p.inSgs.reduce((s, g) => s + g.len, 0);
      const respLen = 12 + this.senseSize;
      const req: CmdRequest = {
        queue: qi,
        raw: p.out,
        lun: p.out.slice(0, 8),
        tag: le64(p.out, 8),
        taskAttr: p.out[16] ?? 0,
        cdb: p.out.slice(VIRTIO_SCSI_CMD_REQ_CDB, hdr),
        dataOut: p.out.slice(hdr),
        dataInLen: Math.max(0, inLen - respLen),
      };
      this.requests.push(req);
      const reply = this.onCommand(req);
      if (reply === null) {
        this.held.push({ head: p.head, req, inSgs: p.inSgs });
        continue;
      }
      this.#reply(qi, p.head, req, p.inSgs, reply);
      n++;
    }
    if (n > 0) this.maybeInterrupt(qi, old);
  }

  /** Answers every held request now (with `reply`, or by asking onCommand again). */
  releaseHeld(reply?: CmdReply): void {
    const byQ = new Map<number, number>();
    for (const h of this.held.splice(0)) {
      const qi = h.req.queue;
      if (!byQ.has(qi)) byQ.set(qi, this.queues[qi]!.usedIdx);
      this.#reply(qi, h.head, h.req, h.inSgs, reply ?? this.onCommand(h.req) ?? {});
    }
    for (const [qi, old] of byQ) this.maybeInterrupt(qi, old);
  }

  /** Writes struct virtio_scsi_cmd_resp then the data-in bytes into the chain's writable part. */
  #reply(qi: number, head: number, req: CmdRequest, inSgs: ReadonlyArray<{ addr: number; len: number }>, r: CmdReply): void {
    const senseSize = this.senseSize;
    const resp = new Uint8Array(12 + senseSize);
    const dv = new DataView(resp.buffer);
    const sense = r.sense ?? [];
    const dataIn = Uint8Array.from(r.dataIn ?? []).subarray(0, req.dataInLen);
    dv.setUint32(0, r.senseLen ?? Math.min(sense.length, senseSize), true);
    dv.setUint32(4, r.resid ?? req.dataInLen - dataIn.length, true);
    resp[10] = r.status ?? 0;
    resp[11] = r.response ?? VIRTIO_SCSI_S_OK;
    resp.set(Uint8Array.from(sense).subarray(0, senseSize), 12);
    const bytes = new Uint8Array(resp.length + dataIn.length);
    bytes.set(resp);
    bytes.set(dataIn, resp.length);
    let w = 0;
    for (const g of inSgs) {
      const k = Math.min(g.len, bytes.length - w);
      if (k <= 0) break;
      this.#m.writeBytes(g.addr, bytes.subarray(w, w + k));
      w += k;
    }
    this.pushUsed(qi, head, w, false);
  }

  /** Buffers the driver has posted on the event queue and the device has not used yet. */
  get postedEvents(): number {
    this.pop(1);
    return this.pending[1]!.length;
  }

  /**
   * virtio_scsi_push_event: fills the first posted event buffer and interrupts; with none posted the
   * event is lost and `eventsDropped` is set, to be flagged (bit 31) on the next event.
   */
  pushEvent(event: number, lun: Uint8Array, reason: number): boolean {
    if (this.status === 0) return false;
    this.pop(1);
    const p = this.pending[1]!.shift();
    if (!p) {
      this.eventsDropped = true;
      return false;
    }
    const ev = new Uint8Array(VIRTIO_SCSI_EVENT_SIZE);
    const dv = new DataView(ev.buffer);
    dv.setUint32(0, (this.eventsDropped ? event | VIRTIO_SCSI_T_EVENTS_MISSED : event) >>> 0, true);
    ev.set(lun.subarray(0, 8), 4);
    dv.setUint32(12, reason, true);
    this.eventsDropped = false;
    if (p.inSgs[0]) this.#m.writeBytes(p.inSgs[0].addr, ev.subarray(0, Math.min(16, p.inSgs[0].len)));
    this.pushUsed(1, p.head, VIRTIO_SCSI_EVENT_SIZE);
    return true;
  }
}
