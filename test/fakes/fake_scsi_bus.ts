// Ours: a small SCSI bus for testing the virtio-scsi HBA without the real scsi-bus/scsi-disk. Each CDB is
// answered by a closure; requests complete synchronously or after a virtual delay on the event loop.
import type { EventLoop } from '../../src/sim/event_loop.ts';
import type {
  ScsiBus,
  ScsiBusDevice,
  ScsiHba,
  ScsiHostStatus,
  ScsiNewRequest,
  ScsiRequest,
  ScsiSgList,
  XferMode,
} from '../../src/host/scsi/scsi.ts';

export interface FakeReply {
  status?: number;
  /** Fixed-format sense bytes for a CHECK CONDITION. */
  sense?: number[];
  dataIn?: Uint8Array;
  /** Complete after this many virtual ns instead of synchronously. */
  delayNs?: number;
  /** Fail in the host instead of returning a status. */
  fail?: ScsiHostStatus;
  /** Never complete (until cancelled). */
  hang?: boolean;
}

export type FakeHandler = (cdb: Uint8Array, dev: FakeDevice, dataOut: Uint8Array | null) => FakeReply;

/** Transfer length and direction of the few opcodes the tests use. */
export function parseXfer(cdb: Uint8Array): { xfer: number; mode: XferMode } {
  const b = (i: number): number => cdb[i] ?? 0;
  switch (b(0)) {
    case 0x00: return { xfer: 0, mode: 'none' }; // TEST UNIT READY
    case 0x03: return { xfer: b(4), mode: b(4) ? 'from-dev' : 'none' }; // REQUEST SENSE
    case 0x12: { const n = (b(3) << 8) | b(4); return { xfer: n, mode: n ? 'from-dev' : 'none' }; } // INQUIRY
    case 0x28: { const n = ((b(7) << 8) | b(8)) * 512; return { xfer: n, mode: n ? 'from-dev' : 'none' }; } // READ(10)
    case 0x2a: { const n = ((b(7) << 8) | b(8)) * 512; return { xfer: n, mode: n ? 'to-dev' : 'none' }; } // WRITE(10)
    case 0xa0: { const n = ((b(6) << 24) | (b(7) << 16) | (b(8) << 8) | b(9)) >>> 0; return { xfer: n, mode: n ? 'from-dev' : 'none' }; }
    default: return { xfer: 0, mode: 'none' };
  }
}

export class FakeDevice implements ScsiBusDevice {
  readonly channel = 0;
  readonly id: number;
  readonly lun: number;
  readonly qdevId: string | undefined;
  readonly type: number;
  readonly reqs: FakeRequest[] = [];
  resets = 0;
  constructor(id: number, lun: number, type = 0) {
    this.id = id;
    this.lun = lun;
    this.type = type;
    this.qdevId = `d${id}.${lun}`;
  }
  requests(): ScsiRequest[] {
    return this.reqs.slice();
  }
  reset(): void {
    this.resets++;
    for (const r of this.reqs.slice()) r.cancel(true);
  }
}

export class FakeRequest implements ScsiRequest {
  readonly channel = 0;
  readonly id: number;
  readonly lun: number;
  readonly tag: bigint;
  readonly cdb: Uint8Array;
  readonly xfer: number;
  readonly mode: XferMode;
  sense = new Uint8Array(252);
  senseLen = 0;
  hbaPrivate: unknown = null;
  readonly #bus: FakeScsiBus;
  readonly #dev: FakeDevice;
  readonly #hba: ScsiHba;
  #timer: { cancel(): void } | null = null;
  #done = false;
  constructor(bus: FakeScsiBus, dev: FakeDevice, r: ScsiNewRequest) {
    this.#bus = bus;
    this.#dev = dev;
    this.#hba = r.hba;
    this.id = r.id;
    this.lun = r.lun;
    this.tag = r.tag;
    this.cdb = r.cdb.slice();
    ({ xfer: this.xfer, mode: this.mode } = parseXfer(this.cdb));
  }
  enqueue(sg: ScsiSgList | null): void {
    this.#dev.reqs.push(this);
    let out: Uint8Array | null = null;
    if (this.mode === 'to-dev' && sg) {
      out = new Uint8Array(Math.min(this.xfer, sg.size));
      sg.read(0, out);
    }
    const reply = this.#bus.handler(this.cdb, this.#dev, out);
    this.#bus.submitted.push(this);
    const finish = (): void => this.#finish(reply, sg);
    if (reply.hang) return;
    if (reply.delayNs !== undefined) this.#timer = this.#bus.loop.after(reply.delayNs, finish);
    else finish();
  }
  #finish(reply: FakeReply, sg: ScsiSgList | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#remove();
    if (reply.fail) return this.#hba.failed(this, reply.fail);
    let moved = this.mode === 'to-dev' ? this.xfer : 0;
    if (reply.dataIn && sg && this.mode === 'from-dev') {
      moved = Math.min(reply.dataIn.length, this.xfer, sg.size);
      sg.write(0, reply.dataIn, 0, moved);
    }
    if (reply.sense) {
      this.sense.set(reply.sense);
      this.senseLen = reply.sense.length;
    }
    this.#hba.complete(this, reply.status ?? 0, this.xfer - moved);
  }
  cancel(reset: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#timer?.cancel();
    this.#remove();
    this.#hba.cancelled(this, reset);
  }
  #remove(): void {
    const i = this.#dev.reqs.indexOf(this);
    if (i >= 0) this.#dev.reqs.splice(i, 1);
  }
}

export class FakeScsiBus implements ScsiBus {
  readonly maxChannel = 0;
  readonly maxTarget = 255;
  readonly maxLun = 16383;
  readonly devices: FakeDevice[];
  readonly loop: EventLoop;
  handler: FakeHandler;
  readonly submitted: FakeRequest[] = [];
  readonly busUas: Array<{ key: number; asc: number; ascq: number }> = [];
  resets = 0;
  constructor(loop: EventLoop, devices: FakeDevice[], handler: FakeHandler = () => ({ status: 0 })) {
    this.loop = loop;
    this.devices = devices;
    this.handler = handler;
  }
  findDevice(channel: number, id: number, lun: number): FakeDevice | undefined {
    const on = this.devicesOn(channel, id);
    return on.find((d) => d.lun === lun) ?? on[0];
  }
  devicesOn(channel: number, id: number): FakeDevice[] {
    return this.devices.filter((d) => d.channel === channel && d.id === id);
  }
  newRequest(r: ScsiNewRequest): ScsiRequest | undefined {
    const d = this.findDevice(r.channel, r.id, r.lun);
    return d ? new FakeRequest(this, d, r) : undefined;
  }
  setBusUnitAttention(sense: { key: number; asc: number; ascq: number }): void {
    this.busUas.push({ ...sense });
  }
  reset(): void {
    this.resets++;
    for (const d of this.devices) d.reset();
  }
}
