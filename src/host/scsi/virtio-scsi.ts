// Models hw/scsi/virtio-scsi.c (QEMU 7.2): the virtio-scsi HBA — config space, feature offer, request
// parsing and completion on the request queues, task management and async-notification requests on
// the control queue, events (hot-plug, hot-unplug, parameter change, missed events) on the event
// queue, and the device reset. It talks to its SCSI bus only through src/host/scsi/scsi.ts.
//
// Request queue handling follows QEMU's batching: notifications off, pop and prepare every available
// request (a malformed header breaks the device and drops the batch), notifications on, repeat until
// empty, then submit the prepared requests in order.
//
// Fault injection (ours, src/host/fault.ts): an optional VirtioScsiFaultHook may answer a parsed
// command with any virtio response code instead of submitting it, fail a TMF or swallow it (never
// answered, as a hung device would), and drop an event (silently, or as a missed event).

import type { GuestMemory } from '../../platform/guest_memory.ts';
import {
  VIRTIO_CONFIG_S_DRIVER_OK,
  VIRTIO_F_ANY_LAYOUT,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_RING_RESET,
  VIRTIO_ID_SCSI,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  bit,
} from '../../protocol/virtio_config.ts';
import {
  VIRTIO_SCSI_CDB_DEFAULT_SIZE,
  VIRTIO_SCSI_CMD_REQ_CDB,
  VIRTIO_SCSI_CMD_REQ_LUN,
  VIRTIO_SCSI_CMD_REQ_TAG,
  VIRTIO_SCSI_CMD_RESP_RESID,
  VIRTIO_SCSI_CMD_RESP_RESPONSE,
  VIRTIO_SCSI_CMD_RESP_SENSE,
  VIRTIO_SCSI_CMD_RESP_SENSE_LEN,
  VIRTIO_SCSI_CMD_RESP_STATUS,
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
  VIRTIO_SCSI_EVENT_EVENT,
  VIRTIO_SCSI_EVENT_LUN,
  VIRTIO_SCSI_EVENT_REASON,
  VIRTIO_SCSI_EVENT_SIZE,
  VIRTIO_SCSI_EVT_RESET_REMOVED,
  VIRTIO_SCSI_EVT_RESET_RESCAN,
  VIRTIO_SCSI_F_CHANGE,
  VIRTIO_SCSI_F_HOTPLUG,
  VIRTIO_SCSI_SENSE_DEFAULT_SIZE,
  VIRTIO_SCSI_S_ABORTED,
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_BUSY,
  VIRTIO_SCSI_S_FAILURE,
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_FUNCTION_SUCCEEDED,
  VIRTIO_SCSI_S_INCORRECT_LUN,
  VIRTIO_SCSI_S_NEXUS_FAILURE,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_OVERRUN,
  VIRTIO_SCSI_S_RESET,
  VIRTIO_SCSI_S_TARGET_FAILURE,
  VIRTIO_SCSI_S_TRANSPORT_FAILURE,
  VIRTIO_SCSI_T_AN_QUERY,
  VIRTIO_SCSI_T_AN_SUBSCRIBE,
  VIRTIO_SCSI_T_EVENTS_MISSED,
  VIRTIO_SCSI_T_NO_EVENT,
  VIRTIO_SCSI_T_PARAM_CHANGE,
  VIRTIO_SCSI_T_TMF,
  VIRTIO_SCSI_T_TMF_ABORT_TASK,
  VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
  VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET,
  VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
  VIRTIO_SCSI_T_TMF_QUERY_TASK,
  VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
  VIRTIO_SCSI_TMF_REQ_LUN,
  VIRTIO_SCSI_TMF_REQ_SIZE,
  VIRTIO_SCSI_TMF_REQ_SUBTYPE,
  VIRTIO_SCSI_TMF_REQ_TAG,
  VIRTIO_SCSI_TMF_RESP_SIZE,
  VIRTIO_SCSI_AN_REQ_SIZE,
  VIRTIO_SCSI_AN_RESP_SIZE,
  cmdReqSize,
  cmdRespSize,
} from '../../protocol/virtio_scsi.ts';
import type { Iov, LineSink, TraceSink, VirtQueue, VirtQueueElement } from '../virtio/virtio.ts';
import { VirtIODevice, iovFromBuf, iovToBuf } from '../virtio/virtio.ts';
import type { ScsiBus, ScsiBusDevice, ScsiHba, ScsiHostStatus, ScsiRequest, ScsiSgList, XferMode } from './scsi.ts';
import { GOOD } from './scsi.ts';

/** VIRTIO_SCSI_VQ_NUM_FIXED: control + event. */
export const VIRTIO_SCSI_VQ_NUM_FIXED = 2;
/** The size of one event (event_info_size). */
const EVENT_INFO_SIZE = VIRTIO_SCSI_EVENT_SIZE;
/** SENSE_CODE(REPORTED_LUNS_CHANGED): UNIT ATTENTION 3F/0E. */
const REPORTED_LUNS_CHANGED = { key: 0x06, asc: 0x3f, ascq: 0x0e } as const;
/** Peripheral type of MMC devices (TYPE_ROM): no PARAM_CHANGE for them. */
const TYPE_ROM = 0x05;

/** What the fault hook learns about a TMF (after parsing, before it is carried out). */
export interface VirtioScsiTmfInfo {
  readonly subtype: number;
  readonly target: number;
  readonly lun: number;
  readonly tag: bigint;
  readonly dev: ScsiBusDevice | undefined;
}

/** What the fault hook learns about an event about to be pushed. */
export interface VirtioScsiEventInfo {
  readonly event: number;
  readonly reason: number;
  /** The device the event is about (null for NO_EVENT). */
  readonly dev: (Pick<ScsiBusDevice, 'id' | 'lun'> & Partial<ScsiBusDevice>) | null;
}

/** Fault injection at the virtio-scsi level (fault.ts's FaultInjector implements it). */
export interface VirtioScsiFaultHook {
  /** A virtio response code to answer the command with instead of submitting it, or null. */
  commandResponse(sreq: ScsiRequest): number | null;
  /** Fail the TMF with `response` (not carried out), never answer it, or null to run it. */
  tmf(t: VirtioScsiTmfInfo): { readonly kind: 'fail'; readonly response: number } | { readonly kind: 'never-answer' } | null;
  /** 'drop': the event is lost without trace; 'missed': lost, and the next event says EVENTS_MISSED. */
  event(e: VirtioScsiEventInfo): 'drop' | 'missed' | null;
}

/** VirtIOSCSIConf after realize (num_queues resolved). */
export interface VirtIOSCSIConf {
  readonly numQueues: number;
  readonly virtqueueSize: number;
  readonly segMaxAdjust: boolean;
  readonly maxSectors: number;
  readonly cmdPerLun: number;
  readonly hotplug: boolean;
  readonly paramChange: boolean;
  /** Common virtio properties. */
  readonly indirectDesc: boolean;
  readonly eventIdx: boolean;
  readonly notifyOnEmpty: boolean;
  readonly anyLayout: boolean;
  readonly queueReset: boolean;
}

export interface VirtIOSCSIOptions {
  readonly mem: GuestMemory;
  readonly bus: ScsiBus;
  readonly conf: VirtIOSCSIConf;
  readonly name?: string | undefined;
  readonly log?: LineSink | undefined;
  readonly trace?: TraceSink | undefined;
  readonly progName?: string | undefined;
}

/** The HBA's view of guest buffers for a request's data phase (QEMUSGList). */
class QemuSgList implements ScsiSgList {
  readonly #mem: GuestMemory;
  readonly #sg: Iov[];
  readonly size: number;
  constructor(mem: GuestMemory, sg: Iov[], size: number) {
    this.#mem = mem;
    this.#sg = sg;
    this.size = size;
  }
  write(offset: number, src: Uint8Array, srcOffset = 0, length = src.length - srcOffset): void {
    iovFromBuf(this.#mem, this.#sg, offset, src, srcOffset, Math.max(0, Math.min(length, this.size - offset)));
  }
  read(offset: number, dst: Uint8Array, dstOffset = 0, length = dst.length - dstOffset): void {
    const n = Math.max(0, Math.min(length, this.size - offset));
    if (n === 0) return;
    iovToBuf(this.#mem, this.#sg, offset, dstOffset === 0 ? dst : dst.subarray(dstOffset), n);
  }
}

/** VirtIOSCSIReq: one popped element with its parsed header and response area. */
class VirtIOSCSIReq {
  readonly vq: VirtQueue;
  readonly elem: VirtQueueElement;
  /** Header bytes copied out of the readable buffers (req_size of them). */
  req: Uint8Array = EMPTY;
  /** The first resp_size bytes of the writable buffers. */
  respIov: Iov[] = [];
  respIovSize = 0;
  /** Response header built by the device, and how many of its bytes are written back. */
  readonly resp = new Uint8Array(VIRTIO_SCSI_CMD_RESP_SENSE);
  respSize = 0;
  /** Data phase: readable buffers after the header, writable ones after the response. */
  qsgl: Iov[] = [];
  qsglSize = 0;
  mode: XferMode = 'none';
  sreq: ScsiRequest | null = null;
  lun = 0;
  tag = 0n;
  done = false;
  /** TMF: completions still awaited; cmd: TMFs waiting for this request's cancellation. */
  remaining = 0;
  waiters: VirtIOSCSIReq[] | null = null;
  constructor(vq: VirtQueue, elem: VirtQueueElement) {
    this.vq = vq;
    this.elem = elem;
  }
}

const EMPTY = new Uint8Array(0);

/** virtio_scsi_get_lun */
function getLun(b: Uint8Array, off: number): number {
  return ((b[off + 2]! << 8) | b[off + 3]!) & 0x3fff;
}

/** The part of virtio_scsi_device_get that checks the LUN address format. */
function lunAddressOk(b: Uint8Array, off: number): boolean {
  const b2 = b[off + 2]!;
  return b[off] === 1 && (b2 === 0 || (b2 >= 0x40 && b2 < 0x80));
}

function le32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function le64(b: Uint8Array, o: number): bigint {
  return BigInt(le32(b, o)) | (BigInt(le32(b, o + 4)) << 32n);
}

function putLe32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** Host failure → virtio response (virtio_scsi_command_failed). */
export const HOST_STATUS_RESPONSE: Readonly<Record<ScsiHostStatus, number>> = {
  'no-lun': VIRTIO_SCSI_S_INCORRECT_LUN,
  busy: VIRTIO_SCSI_S_BUSY,
  'time-out': VIRTIO_SCSI_S_ABORTED,
  aborted: VIRTIO_SCSI_S_ABORTED,
  'bad-response': VIRTIO_SCSI_S_BAD_TARGET,
  reset: VIRTIO_SCSI_S_RESET,
  'transport-disrupted': VIRTIO_SCSI_S_TRANSPORT_FAILURE,
  'target-failure': VIRTIO_SCSI_S_TARGET_FAILURE,
  'reservation-error': VIRTIO_SCSI_S_NEXUS_FAILURE,
  'allocation-failure': VIRTIO_SCSI_S_FAILURE,
  'medium-error': VIRTIO_SCSI_S_FAILURE,
  error: VIRTIO_SCSI_S_FAILURE,
};

/** The host feature set virtio-scsi offers before the transport adds its bits (virtio_scsi_get_features + common props). */
export function virtioScsiHostFeatures(c: VirtIOSCSIConf): bigint {
  let f = 0n;
  if (c.hotplug) f |= bit(VIRTIO_SCSI_F_HOTPLUG);
  if (c.paramChange) f |= bit(VIRTIO_SCSI_F_CHANGE);
  if (c.notifyOnEmpty) f |= bit(VIRTIO_F_NOTIFY_ON_EMPTY);
  if (c.anyLayout) f |= bit(VIRTIO_F_ANY_LAYOUT);
  if (c.indirectDesc) f |= bit(VIRTIO_RING_F_INDIRECT_DESC);
  if (c.eventIdx) f |= bit(VIRTIO_RING_F_EVENT_IDX);
  if (c.queueReset) f |= bit(VIRTIO_F_RING_RESET);
  return f;
}

export class VirtIOSCSI extends VirtIODevice implements ScsiHba {
  readonly bus: ScsiBus;
  readonly conf: VirtIOSCSIConf;
  senseSize = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
  cdbSize = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
  eventsDropped = false;
  /** Fault injection; null = none. */
  faults: VirtioScsiFaultHook | null = null;
  /** Non-zero while a reset (LU, I_T nexus, device) is cancelling requests. */
  #resetting = 0;
  readonly ctrlVq: VirtQueue;
  readonly eventVq: VirtQueue;
  readonly cmdVqs: VirtQueue[] = [];

  constructor(o: VirtIOSCSIOptions) {
    super({
      mem: o.mem,
      name: o.name ?? 'virtio-scsi',
      deviceId: VIRTIO_ID_SCSI,
      configLen: VIRTIO_SCSI_CONFIG_SIZE,
      hostFeatures: virtioScsiHostFeatures(o.conf),
      log: o.log,
      trace: o.trace,
      progName: o.progName,
    });
    this.bus = o.bus;
    this.conf = o.conf;
    const size = o.conf.virtqueueSize;
    this.ctrlVq = this.addQueue(size, (vq) => this.#handleCtrl(vq));
    this.eventVq = this.addQueue(size, () => this.#handleEvent());
    const cmd = (vq: VirtQueue): void => this.#handleCmd(vq);
    for (let i = 0; i < o.conf.numQueues; i++) this.cmdVqs.push(this.addQueue(size, cmd));
  }

  // ---- config space ----------------------------------------------------------------------------

  override getConfig(): void {
    const c = this.config;
    const conf = this.conf;
    putLe32(c, VIRTIO_SCSI_CONFIG_NUM_QUEUES, conf.numQueues);
    putLe32(c, VIRTIO_SCSI_CONFIG_SEG_MAX, conf.segMaxAdjust ? conf.virtqueueSize - 2 : 128 - 2);
    putLe32(c, VIRTIO_SCSI_CONFIG_MAX_SECTORS, conf.maxSectors);
    putLe32(c, VIRTIO_SCSI_CONFIG_CMD_PER_LUN, conf.cmdPerLun);
    putLe32(c, VIRTIO_SCSI_CONFIG_EVENT_INFO_SIZE, EVENT_INFO_SIZE);
    putLe32(c, VIRTIO_SCSI_CONFIG_SENSE_SIZE, this.senseSize);
    putLe32(c, VIRTIO_SCSI_CONFIG_CDB_SIZE, this.cdbSize);
    c[VIRTIO_SCSI_CONFIG_MAX_CHANNEL] = 0;
    c[VIRTIO_SCSI_CONFIG_MAX_CHANNEL + 1] = 0;
    c[VIRTIO_SCSI_CONFIG_MAX_TARGET] = this.bus.maxTarget & 0xff;
    c[VIRTIO_SCSI_CONFIG_MAX_TARGET + 1] = this.bus.maxTarget >> 8;
    putLe32(c, VIRTIO_SCSI_CONFIG_MAX_LUN, this.bus.maxLun);
  }

  override setConfig(): void {
    const sense = le32(this.config, VIRTIO_SCSI_CONFIG_SENSE_SIZE);
    const cdb = le32(this.config, VIRTIO_SCSI_CONFIG_CDB_SIZE);
    if (sense >= 65536 || cdb >= 256) {
      this.virtioError('bad data written to virtio-scsi configuration space');
      return;
    }
    this.senseSize = sense;
    this.cdbSize = cdb;
  }

  /** virtio_scsi_reset: every SCSI device cold-reset, config defaults back, no dropped events. */
  override resetDevice(): void {
    this.#resetting++;
    const bus = this.bus;
    if (bus.reset) bus.reset();
    else for (let id = 0; id <= bus.maxTarget; id++) for (const d of bus.devicesOn(0, id)) d.reset();
    this.#resetting--;
    this.senseSize = VIRTIO_SCSI_SENSE_DEFAULT_SIZE;
    this.cdbSize = VIRTIO_SCSI_CDB_DEFAULT_SIZE;
    this.eventsDropped = false;
  }

  // ---- requests: common ------------------------------------------------------------------------

  #popReq(vq: VirtQueue): VirtIOSCSIReq | null {
    const elem = vq.pop();
    return elem ? new VirtIOSCSIReq(vq, elem) : null;
  }

  /** virtio_scsi_parse_req: 0, or -EINVAL (headers do not fit) / -ENOTSUP (data in both directions). */
  #parseReq(r: VirtIOSCSIReq, reqSize: number, respSize: number): 0 | -22 | -95 {
    const mem = this.mem;
    const { outSg, inSg } = r.elem;
    const req = reqSize ? new Uint8Array(reqSize) : EMPTY;
    if (iovToBuf(mem, outSg, 0, req) < reqSize) return -22;
    r.req = req;
    // The response area: the first respSize bytes of the writable buffers.
    const resp: Iov[] = [];
    let need = respSize;
    for (let i = 0; i < inSg.length && need > 0; i++) {
      const e = inSg[i]!;
      const n = Math.min(e.len, need);
      resp.push(n === e.len ? e : { addr: e.addr, len: n });
      need -= n;
    }
    if (need > 0) return -22;
    r.respIov = resp;
    r.respIovSize = respSize;
    r.respSize = respSize;
    // Without ANY_LAYOUT the first buffer of each direction is taken whole as the header (old BIOSes padded it).
    let skipOut = reqSize;
    let skipIn = respSize;
    if (!this.hasFeature(VIRTIO_F_ANY_LAYOUT)) {
      if (outSg.length) skipOut = outSg[0]!.len;
      if (inSg.length) skipIn = inSg[0]!.len;
    }
    const q: Iov[] = [];
    const outSize = sglConcat(q, outSg, skipOut);
    const inSize = sglConcat(q, inSg, skipIn);
    r.qsgl = q;
    r.qsglSize = outSize + inSize;
    if (outSize && inSize) return -95;
    r.mode = outSize ? 'to-dev' : inSize ? 'from-dev' : 'none';
    return 0;
  }

  /** virtio_scsi_complete_req: write the response, publish the used entry, interrupt if wanted. */
  #completeReq(r: VirtIOSCSIReq): void {
    r.done = true;
    if (r.respSize) iovFromBuf(this.mem, r.respIov, 0, r.resp, 0, Math.min(r.respSize, r.resp.length));
    r.vq.push(r.elem, r.qsglSize + r.respIovSize);
    this.notify(r.vq);
    if (r.sreq) {
      r.sreq.hbaPrivate = null;
      r.sreq = null;
    }
  }

  /** virtio_scsi_bad_req: the driver broke the framing; the device needs a reset. */
  #badReq(r: VirtIOSCSIReq): void {
    this.virtioError('wrong size for virtio-scsi headers');
    r.vq.detach(r.elem);
  }

  // ---- request queues --------------------------------------------------------------------------

  #handleCmd(vq: VirtQueue): void {
    const reqs: VirtIOSCSIReq[] = [];
    const suppress = vq.notification;
    let ret = 0;
    do {
      if (suppress) vq.setNotification(false);
      let r: VirtIOSCSIReq | null;
      while ((r = this.#popReq(vq))) {
        ret = this.#cmdPrepare(r);
        if (ret === 0) reqs.push(r);
        else if (ret === -22) {
          // Broken device: the prepared batch is dropped without used entries.
          for (const p of reqs) {
            if (p.sreq) p.sreq.hbaPrivate = null;
            vq.detach(p.elem);
          }
          reqs.length = 0;
        }
      }
      if (suppress && !this.broken) vq.setNotification(true);
    } while (ret !== -22 && !vq.empty());
    for (const p of reqs) p.sreq?.enqueue(p.qsglSize ? new QemuSgList(this.mem, p.qsgl, p.qsglSize) : null);
  }

  /** virtio_scsi_handle_cmd_req_prepare: 0 to submit, negative when already answered (or broken). */
  #cmdPrepare(r: VirtIOSCSIReq): number {
    const rc = this.#parseReq(r, cmdReqSize(this.cdbSize), cmdRespSize(this.senseSize));
    if (rc === -95) {
      this.#readCmdIds(r);
      r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = VIRTIO_SCSI_S_FAILURE;
      this.#completeCmd(r);
      return -95;
    }
    if (rc < 0) {
      this.#badReq(r);
      return -22;
    }
    const hdr = r.req;
    this.#readCmdIds(r);
    const cdb = hdr.subarray(VIRTIO_SCSI_CMD_REQ_CDB, VIRTIO_SCSI_CMD_REQ_CDB + this.cdbSize);
    if (this.trace) this.trace('virtio_scsi_cmd_req', { lun: r.lun, tag: r.tag, cmd: cdb[0] ?? 0 });
    const sreq = lunAddressOk(hdr, VIRTIO_SCSI_CMD_REQ_LUN)
      ? this.bus.newRequest({ channel: 0, id: hdr[VIRTIO_SCSI_CMD_REQ_LUN + 1]!, lun: r.lun, tag: r.tag, cdb, hba: this })
      : undefined;
    if (!sreq) {
      r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = VIRTIO_SCSI_S_BAD_TARGET;
      this.#completeCmd(r);
      return -2;
    }
    if (sreq.mode !== 'none' && (sreq.mode !== r.mode || sreq.xfer > r.qsglSize)) {
      r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = VIRTIO_SCSI_S_OVERRUN;
      this.#completeCmd(r);
      return -105;
    }
    const injected = this.faults?.commandResponse(sreq) ?? null;
    if (injected !== null) {
      r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = injected;
      this.#completeCmd(r);
      return -5;
    }
    sreq.hbaPrivate = r;
    r.sreq = sreq;
    return 0;
  }

  #readCmdIds(r: VirtIOSCSIReq): void {
    const hdr = r.req;
    if (hdr.length >= VIRTIO_SCSI_CMD_REQ_CDB) {
      r.lun = getLun(hdr, VIRTIO_SCSI_CMD_REQ_LUN);
      r.tag = le64(hdr, VIRTIO_SCSI_CMD_REQ_TAG);
    }
  }

  /** virtio_scsi_complete_cmd_req: only the 12-byte header is written here (sense is copied separately). */
  #completeCmd(r: VirtIOSCSIReq): void {
    if (this.trace) {
      this.trace('virtio_scsi_cmd_resp', {
        lun: r.lun,
        tag: r.tag,
        response: r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE]!,
        status: r.resp[VIRTIO_SCSI_CMD_RESP_STATUS]!,
      });
    }
    r.respSize = VIRTIO_SCSI_CMD_RESP_SENSE;
    this.#completeReq(r);
    const w = r.waiters;
    if (w) {
      r.waiters = null;
      for (const tmf of w) if (--tmf.remaining === 0) this.#completeTmf(tmf);
    }
  }

  // ---- ScsiHba (the bus calls these) -----------------------------------------------------------

  /** virtio_scsi_command_complete */
  complete(sreq: ScsiRequest, status: number, resid: number): void {
    const r = sreq.hbaPrivate as VirtIOSCSIReq | null;
    if (!r || r.done) return;
    const resp = r.resp;
    resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = VIRTIO_SCSI_S_OK;
    resp[VIRTIO_SCSI_CMD_RESP_STATUS] = status;
    if (status === GOOD) {
      putLe32(resp, VIRTIO_SCSI_CMD_RESP_RESID, resid);
    } else {
      putLe32(resp, VIRTIO_SCSI_CMD_RESP_RESID, 0);
      const senseLen = Math.max(0, Math.min(sreq.senseLen, sreq.sense.length, r.respIovSize - VIRTIO_SCSI_CMD_RESP_SENSE));
      if (senseLen) iovFromBuf(this.mem, r.respIov, VIRTIO_SCSI_CMD_RESP_SENSE, sreq.sense, 0, senseLen);
      putLe32(resp, VIRTIO_SCSI_CMD_RESP_SENSE_LEN, senseLen);
    }
    this.#completeCmd(r);
  }

  /** virtio_scsi_command_failed */
  failed(sreq: ScsiRequest, reason: ScsiHostStatus): void {
    const r = sreq.hbaPrivate as VirtIOSCSIReq | null;
    if (!r || r.done) return;
    r.resp[VIRTIO_SCSI_CMD_RESP_STATUS] = GOOD;
    r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = HOST_STATUS_RESPONSE[reason] ?? VIRTIO_SCSI_S_FAILURE;
    this.#completeCmd(r);
  }

  /** virtio_scsi_request_cancelled: RESET while a reset is in progress, else ABORTED. */
  cancelled(sreq: ScsiRequest, reset: boolean): void {
    const r = sreq.hbaPrivate as VirtIOSCSIReq | null;
    if (!r || r.done) return;
    r.resp[VIRTIO_SCSI_CMD_RESP_RESPONSE] = reset || this.#resetting > 0 ? VIRTIO_SCSI_S_RESET : VIRTIO_SCSI_S_ABORTED;
    this.#completeCmd(r);
  }

  // ---- control queue ---------------------------------------------------------------------------

  #handleCtrl(vq: VirtQueue): void {
    let r: VirtIOSCSIReq | null;
    while ((r = this.#popReq(vq))) this.#ctrlReq(r);
  }

  /** virtio_scsi_handle_ctrl_req */
  #ctrlReq(r: VirtIOSCSIReq): void {
    const typeBuf = new Uint8Array(4);
    if (iovToBuf(this.mem, r.elem.outSg, 0, typeBuf) < 4) {
      this.#badReq(r);
      return;
    }
    const type = le32(typeBuf, 0);
    if (type === VIRTIO_SCSI_T_TMF) {
      if (this.#parseReq(r, VIRTIO_SCSI_TMF_REQ_SIZE, VIRTIO_SCSI_TMF_RESP_SIZE) < 0) {
        this.#badReq(r);
        return;
      }
      if (this.#doTmf(r) === 0) this.#completeTmf(r);
      return;
    }
    if (type === VIRTIO_SCSI_T_AN_QUERY || type === VIRTIO_SCSI_T_AN_SUBSCRIBE) {
      if (this.#parseReq(r, VIRTIO_SCSI_AN_REQ_SIZE, VIRTIO_SCSI_AN_RESP_SIZE) < 0) {
        this.#badReq(r);
        return;
      }
      const lun = getLun(r.req, 4);
      if (this.trace) this.trace('virtio_scsi_an_req', { lun, event_requested: le32(r.req, 12) });
      // event_actual 0 (nothing supported), response OK.
      r.resp.fill(0, 0, VIRTIO_SCSI_AN_RESP_SIZE);
      r.resp[4] = VIRTIO_SCSI_S_OK;
      if (this.trace) this.trace('virtio_scsi_an_resp', { lun, response: VIRTIO_SCSI_S_OK });
      this.#completeReq(r);
      return;
    }
    // Unknown type: completed with nothing written (used length 0).
    r.respSize = 0;
    this.#completeReq(r);
  }

  #completeTmf(r: VirtIOSCSIReq): void {
    if (this.trace) {
      this.trace('virtio_scsi_tmf_resp', { lun: getLun(r.req, VIRTIO_SCSI_TMF_REQ_LUN), tag: le64(r.req, VIRTIO_SCSI_TMF_REQ_TAG), response: r.resp[0]! });
    }
    this.#completeReq(r);
  }

  /** virtio_scsi_do_tmf: 0 when the answer is ready, -115 (EINPROGRESS) when cancellations are pending. */
  #doTmf(r: VirtIOSCSIReq): number {
    const hdr = r.req;
    const subtype = le32(hdr, VIRTIO_SCSI_TMF_REQ_SUBTYPE);
    const lun = getLun(hdr, VIRTIO_SCSI_TMF_REQ_LUN);
    const tag = le64(hdr, VIRTIO_SCSI_TMF_REQ_TAG);
    const target = hdr[VIRTIO_SCSI_TMF_REQ_LUN + 1]!;
    const d = lunAddressOk(hdr, VIRTIO_SCSI_TMF_REQ_LUN) ? this.bus.findDevice(0, target, lun) : undefined;
    r.resp[0] = VIRTIO_SCSI_S_OK; // FUNCTION COMPLETE
    if (this.trace) this.trace('virtio_scsi_tmf_req', { lun, tag, subtype });
    const fault = this.faults?.tmf({ subtype, target, lun, tag, dev: d }) ?? null;
    if (fault?.kind === 'fail') return this.#tmfAnswer(r, fault.response);
    if (fault?.kind === 'never-answer') return -115; // nothing will ever count it down

    switch (subtype) {
      case VIRTIO_SCSI_T_TMF_ABORT_TASK:
      case VIRTIO_SCSI_T_TMF_QUERY_TASK: {
        if (!d) return this.#tmfAnswer(r, VIRTIO_SCSI_S_BAD_TARGET);
        if (d.lun !== lun) return this.#tmfAnswer(r, VIRTIO_SCSI_S_INCORRECT_LUN);
        const found = d.requests().find((q) => q.hbaPrivate && q.tag === tag);
        if (!found) return 0;
        if (subtype === VIRTIO_SCSI_T_TMF_QUERY_TASK) return this.#tmfAnswer(r, VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
        r.remaining = 1;
        this.#cancelFor(r, found);
        return -115;
      }
      case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
        if (!d) return this.#tmfAnswer(r, VIRTIO_SCSI_S_BAD_TARGET);
        if (d.lun !== lun) return this.#tmfAnswer(r, VIRTIO_SCSI_S_INCORRECT_LUN);
        this.#resetting++;
        d.reset();
        this.#resetting--;
        return 0;
      case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
      case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
      case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET: {
        if (!d) return this.#tmfAnswer(r, VIRTIO_SCSI_S_BAD_TARGET);
        if (d.lun !== lun) return this.#tmfAnswer(r, VIRTIO_SCSI_S_INCORRECT_LUN);
        // One extra count held until the loop ends, so a synchronous cancel cannot finish the TMF early.
        r.remaining = 1;
        for (const q of d.requests()) {
          if (!q.hbaPrivate) continue;
          if (subtype === VIRTIO_SCSI_T_TMF_QUERY_TASK_SET) {
            r.resp[0] = VIRTIO_SCSI_S_FUNCTION_SUCCEEDED;
            break;
          }
          r.remaining++;
          this.#cancelFor(r, q);
        }
        return --r.remaining > 0 ? -115 : 0;
      }
      case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
        this.#resetting++;
        for (const d1 of this.bus.devicesOn(0, target)) d1.reset();
        this.#resetting--;
        return 0;
      default: // CLEAR_ACA and unknown subtypes
        return this.#tmfAnswer(r, VIRTIO_SCSI_S_FUNCTION_REJECTED);
    }
  }

  #tmfAnswer(r: VirtIOSCSIReq, response: number): 0 {
    r.resp[0] = response;
    return 0;
  }

  /** scsi_req_cancel_async with a notifier that counts down the TMF. */
  #cancelFor(tmf: VirtIOSCSIReq, q: ScsiRequest): void {
    const cmd = q.hbaPrivate as VirtIOSCSIReq;
    (cmd.waiters ??= []).push(tmf);
    q.cancel(false);
  }

  // ---- event queue -----------------------------------------------------------------------------

  /** virtio_scsi_handle_event: buffers arrived; report that events were lost meanwhile. */
  #handleEvent(): void {
    if (this.eventsDropped) this.pushEvent(null, VIRTIO_SCSI_T_NO_EVENT, 0);
  }

  /** virtio_scsi_push_event */
  pushEvent(dev: Pick<ScsiBusDevice, 'id' | 'lun'> | null, event: number, reason: number): void {
    if (!(this.status & VIRTIO_CONFIG_S_DRIVER_OK)) return;
    const drop = this.faults?.event({ event, reason, dev }) ?? null;
    if (drop === 'missed') this.eventsDropped = true;
    if (drop) return;
    const r = this.#popReq(this.eventVq);
    if (!r) {
      this.eventsDropped = true;
      return;
    }
    if (this.eventsDropped) {
      event = (event | VIRTIO_SCSI_T_EVENTS_MISSED) >>> 0;
      this.eventsDropped = false;
    }
    if (this.#parseReq(r, 0, VIRTIO_SCSI_EVENT_SIZE)) {
      this.#badReq(r);
      return;
    }
    const evt = new Uint8Array(VIRTIO_SCSI_EVENT_SIZE);
    putLe32(evt, VIRTIO_SCSI_EVENT_EVENT, event);
    putLe32(evt, VIRTIO_SCSI_EVENT_REASON, reason);
    if (dev) {
      evt[VIRTIO_SCSI_EVENT_LUN] = 1;
      evt[VIRTIO_SCSI_EVENT_LUN + 1] = dev.id;
      // Same encoding as REPORT LUNS: flat space only from LUN 256 on.
      if (dev.lun >= 256) evt[VIRTIO_SCSI_EVENT_LUN + 2] = (dev.lun >> 8) | 0x40;
      evt[VIRTIO_SCSI_EVENT_LUN + 3] = dev.lun & 0xff;
    }
    if (this.trace) this.trace('virtio_scsi_event', { lun: getLun(evt, VIRTIO_SCSI_EVENT_LUN), event, reason });
    iovFromBuf(this.mem, r.respIov, 0, evt);
    r.respSize = 0; // already written
    this.#completeReq(r);
  }

  // ---- machine entry points --------------------------------------------------------------------

  /** virtio_scsi_hotplug: after the bus attached (and cold-reset) `dev`. */
  hotplug(dev: ScsiBusDevice): void {
    if (!this.hasFeature(VIRTIO_SCSI_F_HOTPLUG)) return;
    this.pushEvent(dev, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_RESCAN);
    this.bus.setBusUnitAttention?.(REPORTED_LUNS_CHANGED);
  }

  /** virtio_scsi_hotunplug: call before the bus detaches `dev`. */
  hotUnplug(dev: ScsiBusDevice): void {
    if (!this.hasFeature(VIRTIO_SCSI_F_HOTPLUG)) return;
    this.pushEvent(dev, VIRTIO_SCSI_T_TRANSPORT_RESET, VIRTIO_SCSI_EVT_RESET_REMOVED);
    this.bus.setBusUnitAttention?.(REPORTED_LUNS_CHANGED);
  }

  /** virtio_scsi_change (SCSIBusInfo.change): PARAM_CHANGE, never for MMC devices. */
  paramChange(dev: ScsiBusDevice, asc: number, ascq: number): void {
    if (!this.hasFeature(VIRTIO_SCSI_F_CHANGE) || dev.type === TYPE_ROM) return;
    this.pushEvent(dev, VIRTIO_SCSI_T_PARAM_CHANGE, (asc | (ascq << 8)) >>> 0);
  }

  /** Number of chains popped but not yet answered (tests, `info` dumps). */
  get inFlight(): number {
    let n = 0;
    for (const vq of this.vqs) n += vq.inuse;
    return n;
  }
}

/** qemu_sgl_concat: every buffer past `skip` bytes joins the data list; returns bytes added. */
function sglConcat(out: Iov[], sg: readonly Iov[], skip: number): number {
  let copied = 0;
  for (let i = 0; i < sg.length; i++) {
    const e = sg[i]!;
    if (skip >= e.len) {
      skip -= e.len;
      continue;
    }
    out.push(skip ? { addr: e.addr + skip, len: e.len - skip } : e);
    copied += e.len - skip;
    skip = 0;
  }
  return copied;
}

