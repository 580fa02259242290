// Ours: a tiny HBA for testing the SCSI bus and devices without virtio — an SG list over a plain
// Uint8Array, and a record of every completion / failure / cancellation.

import type { ScsiBus, ScsiHba, ScsiHostStatus, ScsiRequest, ScsiSgList } from '../../src/host/scsi/scsi.ts';

/** An SG list over one plain buffer. */
export class ArraySgList implements ScsiSgList {
  readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }
  get size(): number {
    return this.buf.length;
  }
  write(offset: number, src: Uint8Array, srcOffset = 0, length = src.length - srcOffset): void {
    const n = Math.max(0, Math.min(length, this.buf.length - offset));
    this.buf.set(src.subarray(srcOffset, srcOffset + n), offset);
  }
  read(offset: number, dst: Uint8Array, dstOffset = 0, length = dst.length - dstOffset): void {
    const n = Math.max(0, Math.min(length, this.buf.length - offset));
    dst.set(this.buf.subarray(offset, offset + n), dstOffset);
  }
}

export type Outcome =
  | { kind: 'complete'; status: number; resid: number; sense: Uint8Array; data: Uint8Array }
  | { kind: 'failed'; reason: ScsiHostStatus }
  | { kind: 'cancelled'; reset: boolean };

export interface Submitted {
  req: ScsiRequest;
  data: Uint8Array;
  outcomes: Outcome[];
}

export class TestHba implements ScsiHba {
  readonly bus: ScsiBus;
  readonly log: Submitted[] = [];
  constructor(bus: ScsiBus) {
    this.bus = bus;
  }

  #entry(req: ScsiRequest): Submitted {
    const e = req.hbaPrivate as Submitted | undefined;
    if (!e) throw new Error('request not from this HBA');
    return e;
  }
  complete(req: ScsiRequest, status: number, resid: number): void {
    const e = this.#entry(req);
    e.outcomes.push({ kind: 'complete', status, resid, sense: req.sense.slice(0, req.senseLen), data: e.data });
  }
  failed(req: ScsiRequest, reason: ScsiHostStatus): void {
    this.#entry(req).outcomes.push({ kind: 'failed', reason });
  }
  cancelled(req: ScsiRequest, reset: boolean): void {
    this.#entry(req).outcomes.push({ kind: 'cancelled', reset });
  }

  /**
   * Creates and enqueues a request. `dataIn` sizes the data-in buffer; `dataOut` is sent to the device.
   * Returns undefined when no device answers (BAD_TARGET).
   */
  submit(
    cdb: number[] | Uint8Array,
    opts: { id?: number; lun?: number; channel?: number; dataIn?: number; dataOut?: Uint8Array; tag?: bigint } = {},
  ): Submitted | undefined {
    const req = this.bus.newRequest({
      channel: opts.channel ?? 0,
      id: opts.id ?? 0,
      lun: opts.lun ?? 0,
      tag: opts.tag ?? BigInt(this.log.length),
      cdb: Uint8Array.from(cdb),
      hba: this,
    });
    if (!req) return undefined;
    const data = opts.dataOut ?? new Uint8Array(opts.dataIn ?? Math.max(req.xfer, 0));
    const e: Submitted = { req, data, outcomes: [] };
    req.hbaPrivate = e;
    this.log.push(e);
    req.enqueue(new ArraySgList(data));
    return e;
  }
}

/** The single outcome of a submitted request (throws if there is not exactly one). */
export function only(e: Submitted | undefined): Outcome {
  if (!e) throw new Error('BAD_TARGET');
  if (e.outcomes.length !== 1) throw new Error(`expected one outcome, got ${e.outcomes.length}`);
  return e.outcomes[0]!;
}

export const hex = (b: Uint8Array | number[]): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
export const unhex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/).filter(Boolean).map((x) => parseInt(x, 16)));
