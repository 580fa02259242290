// Models hw/scsi/scsi-bus.c (QEMU 7.2): the SCSI bus — device lookup (do_scsi_device_find), address
// checks, request creation (scsi_req_new: unit-attention request, target request, device request),
// the "target" emulation for LUNs with no device, unit-attention bookkeeping, request completion,
// cancellation and purge. Nothing here knows anything about virtio.
//
// Request life cycle, as in QEMU: newRequest() parses the CDB and picks the request kind; the HBA
// then calls enqueue(sg) (scsi_req_enqueue + scsi_req_continue). Emulated commands complete inside
// enqueue; block I/O completes later on the event loop. Completion stores the sense in the device
// (for REQUEST SENSE), clears the UA the command consumed (scsi_clear_unit_attention, QEMU 7.2
// semantics: at completion, not at creation), performs autosense as virtio-scsi does
// (scsi_req_get_sense), then calls hba.complete().
//
// Fault injection (ours, src/host/fault.ts): when a BusFaultHook is set, enqueue() asks it once per
// device/target request whether to answer with a fabricated status or sense, hold the request for a
// while, or never complete it; the request stays on the device's list meanwhile, so a TMF or a reset
// still cancels it the normal way.

import {
  CHECK_CONDITION,
  GOOD,
  type ScsiBus,
  type ScsiBusDevice,
  type ScsiHba,
  type ScsiHostStatus,
  type ScsiNewRequest,
  type ScsiRequest,
  type ScsiSgList,
  type XferMode,
} from './scsi.ts';
import {
  OP,
  TYPE_INACTIVE,
  TYPE_NO_LUN,
  TYPE_NOT_PRESENT,
  emptyCommand,
  parseCdb,
  xferModeNumber,
  type ScsiCommand,
} from './scsi-opcodes.ts';
import {
  SCSI_SENSE_BUF_SIZE,
  SCSI_SENSE_LEN,
  SENSE,
  SENSE_KEY,
  buildSense,
  buildSenseBuf,
  convertSense,
  uaPrecedence,
  type ScsiSense,
} from './scsi-sense.ts';

/** Trace sink: QEMU trace event names with their arguments (formatting is done elsewhere). */
export type TraceSink = (event: string, args: Record<string, number | string>) => void;

/** qemu_hw_version() for machine types ≥ 2.5. */
export const QEMU_HW_VERSION = '2.5+';

/** SCSIBusInfo of virtio-scsi. */
export interface ScsiBusInfo {
  readonly tcq: boolean;
  readonly maxChannel: number;
  readonly maxTarget: number;
  readonly maxLun: number;
}

export const VIRTIO_SCSI_BUS_INFO: ScsiBusInfo = { tcq: true, maxChannel: 0, maxTarget: 255, maxLun: 16383 };

/** What a fault rule does to a request instead of running it. */
export type BusFaultVerdict =
  | { readonly kind: 'check-condition'; readonly sense: ScsiSense }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'host-failure'; readonly reason: ScsiHostStatus }
  | { readonly kind: 'delay'; readonly ns: number }
  | { readonly kind: 'never-complete' };

/** The fault injector as the bus sees it. */
export interface BusFaultHook {
  /** Consulted once per device/target request at submission; null = run it normally. */
  onSubmit(req: ScsiReq): BusFaultVerdict | null;
  /** Runs `fn` after `ns` of virtual time; the handle cancels it. */
  after(ns: number, fn: () => void): { cancel(): void };
}

/** Which SCSIReqOps a request runs (reqops_unit_attention, reqops_target_command, …). */
export type ReqKind = 'unit-attention' | 'target' | 'invalid-opcode' | 'invalid-field' | 'device';

const NO_DEVICES: readonly ScsiDevice[] = [];

/** 0 ≤ x ≤ 0xffff, an integer: a part of an index key. */
function keyPart(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffff;
}

/** Index keys: channel, id and lun side by side, 16 bits each; −1 (matches nothing) when a part is out of range. */
function targetKey(channel: number, id: number): number {
  return keyPart(channel) && keyPart(id) ? channel * 0x1_0000 + id : -1;
}
function addrKey(channel: number, id: number, lun: number): number {
  const t = targetKey(channel, id);
  return t >= 0 && keyPart(lun) ? t * 0x1_0000 + lun : -1;
}

const EMPTY_SG: ScsiSgList = { size: 0, write: () => {}, read: () => {} };

/** SCSIRequest. The device-private fields are used by the device that owns the request. */
export class ScsiReq implements ScsiRequest {
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
  readonly tag: bigint;
  readonly cdb: Uint8Array;
  readonly dev: ScsiDevice;
  readonly bus: QemuScsiBus;
  readonly hba: ScsiHba;
  readonly cmd: ScsiCommand;
  readonly kind: ReqKind;
  /** The uint32 tag QEMU keeps (traces print it with %d or %x). */
  readonly tag32: number;
  readonly sense = new Uint8Array(SCSI_SENSE_BUF_SIZE);
  senseLen = 0;
  hbaPrivate: unknown = undefined;
  status = -1;
  hostStatus: ScsiHostStatus | null = null;
  residual: number;
  enqueued = false;
  ioCanceled = false;
  retry = false;
  sg: ScsiSgList = EMPTY_SG;
  // --- device-private state (≈ SCSIDiskReq / SCSITargetReq) ---
  buf: Uint8Array | null = null;
  /** Emulated data still to move (iov_len), or target data length. */
  len = 0;
  sector = 0;
  sectorCount = 0;
  started = false;
  needFua = false;
  aio: { cancel(): void } | null = null;
  /** The fault hook has been consulted for this request. */
  faultChecked = false;
  /** UNMAP descriptors still to process, and where the next one is in `buf`. */
  unmapCount = 0;
  unmapPos = 0;

  constructor(bus: QemuScsiBus, dev: ScsiDevice, r: ScsiNewRequest, cmd: ScsiCommand, kind: ReqKind) {
    this.bus = bus;
    this.dev = dev;
    this.channel = r.channel;
    this.id = r.id;
    this.lun = r.lun;
    this.tag = r.tag;
    this.cdb = r.cdb;
    this.hba = r.hba;
    this.cmd = cmd;
    this.kind = kind;
    this.tag32 = Number(BigInt.asUintN(32, r.tag));
    this.residual = cmd.xfer;
  }

  get xfer(): number {
    return this.cmd.xfer;
  }
  get mode(): XferMode {
    return this.cmd.mode;
  }

  enqueue(sg: ScsiSgList | null): void {
    if (this.enqueued || this.status !== -1 || this.ioCanceled) return;
    this.bus.enqueue(this, sg);
  }

  cancel(reset: boolean): void {
    this.bus.cancel(this, reset);
  }
}

/** The part of SCSIDeviceClass the bus calls. */
export abstract class ScsiDevice implements ScsiBusDevice {
  channel: number;
  id: number;
  lun: number;
  readonly qdevId: string | undefined;
  bus: QemuScsiBus | null = null;
  realized = false;
  unitAttention: ScsiSense = SENSE.NO_SENSE;
  readonly sense = new Uint8Array(SCSI_SENSE_BUF_SIZE);
  senseLen = 0;
  senseIsUa = false;
  readonly reqs: ScsiReq[] = [];
  /** SCSI version for the RDPROTECT checks (scsi_version, reset to default_scsi_version). */
  scsiVersion = 5;

  constructor(addr: { channel?: number; id?: number; lun?: number; qdevId?: string | undefined }) {
    this.channel = addr.channel ?? 0;
    this.id = addr.id ?? -1;
    this.lun = addr.lun ?? -1;
    this.qdevId = addr.qdevId;
  }

  abstract get type(): number;
  abstract get blocksize(): number;
  /** The BlockBackend name of the device's drive (none for drive-less devices). */
  get driveName(): string | undefined {
    return undefined;
  }

  /**
   * send_command of a device request. Returns the transfer length (>0 data-in, <0 data-out, 0 none or
   * already completed); the bus then calls continueReq, as scsi_req_continue.
   */
  abstract sendCommand(req: ScsiReq): number;
  abstract readData(req: ScsiReq): void;
  abstract writeData(req: ScsiReq): void;
  /** Stops in-flight backend I/O of a cancelled request. */
  cancelIo(req: ScsiReq): void {
    req.aio?.cancel();
    req.aio = null;
  }
  /** scsi_device_unit_attention_reported. */
  unitAttentionReported(): void {}

  requests(): ScsiRequest[] {
    return this.reqs.slice();
  }

  /** Cold reset (qdev reset): purge requests with UA 29/00. Devices extend it. */
  reset(): void {
    this.purgeRequests(SENSE.RESET, true);
  }

  /** scsi_device_purge_requests: cancel every request, then set the UA. */
  purgeRequests(sense: ScsiSense, reset: boolean): void {
    for (const req of this.reqs.slice()) this.bus?.cancel(req, reset);
    this.setUa(sense);
  }

  /** scsi_device_set_ua: replaces a pending UA only with a more important one. */
  setUa(sense: ScsiSense): void {
    if (sense.key !== SENSE_KEY.UNIT_ATTENTION) return;
    this.bus?.trace?.('scsi_device_set_ua', { target: this.id, lun: this.lun, key: sense.key, asc: sense.asc, ascq: sense.ascq });
    if (uaPrecedence(sense) < uaPrecedence(this.unitAttention)) this.unitAttention = sense;
  }

  /** scsi_device_report_change: UA plus the HBA's change notification (virtio-scsi PARAM_CHANGE). */
  reportChange(sense: ScsiSense): void {
    this.setUa(sense);
    this.bus?.onChange?.(this, sense);
  }
}

export interface QemuScsiBusOptions {
  info?: ScsiBusInfo;
  trace?: TraceSink | undefined;
  /** bus->info->change (virtio_scsi_change). */
  onChange?: ((dev: ScsiDevice, sense: ScsiSense) => void) | undefined;
}

export class QemuScsiBus implements ScsiBus {
  readonly info: ScsiBusInfo;
  readonly devices: ScsiDevice[] = [];
  /** Indexes over `devices` (kept by attach/detach): by (channel, id, lun), and per target in `devices` order. */
  readonly #byAddr = new Map<number, ScsiDevice>();
  readonly #byTarget = new Map<number, ScsiDevice[]>();
  unitAttention: ScsiSense = SENSE.NO_SENSE;
  trace: TraceSink | undefined;
  onChange: ((dev: ScsiDevice, sense: ScsiSense) => void) | undefined;
  /** Fault injection (fault.ts's FaultInjector); null = none. */
  faults: BusFaultHook | null = null;

  constructor(opts: QemuScsiBusOptions = {}) {
    this.info = opts.info ?? VIRTIO_SCSI_BUS_INFO;
    this.trace = opts.trace;
    this.onChange = opts.onChange;
  }

  get maxChannel(): number {
    return this.info.maxChannel;
  }
  get maxTarget(): number {
    return this.info.maxTarget;
  }
  get maxLun(): number {
    return this.info.maxLun;
  }

  // ---- addressing (scsi_bus_check_address, scsi_qdev_realize) ----

  #find(channel: number, id: number, lun: number, includeUnrealized: boolean): ScsiDevice | undefined {
    // Exact LUN match first, else the first device on (channel, id) in `devices` order.
    const ret = this.#byAddr.get(addrKey(channel, id, lun)) ?? this.#byTarget.get(targetKey(channel, id))?.[0];
    if (ret && !includeUnrealized && !ret.realized) return undefined;
    return ret;
  }

  findDevice(channel: number, id: number, lun: number): ScsiDevice | undefined {
    return this.#find(channel, id, lun, false);
  }

  /** The devices on (channel, id), in `devices` order (oldest first). */
  #onTarget(channel: number, id: number): readonly ScsiDevice[] {
    return this.#byTarget.get(targetKey(channel, id)) ?? NO_DEVICES;
  }

  devicesOn(channel: number, id: number): ScsiDevice[] {
    return this.#onTarget(channel, id).filter((d) => d.realized);
  }

  #isAddressFree(channel: number, id: number, lun: number): ScsiDevice | null {
    const d = this.#find(channel, id, lun, true);
    return d && d.lun === lun ? d : null;
  }

  /** scsi_bus_check_address: QEMU's error text, or null when the address is acceptable. -1 = auto. */
  checkAddress(channel: number, id: number, lun: number): string | null {
    if (channel > this.info.maxChannel || channel < 0) return `bad scsi channel id: ${channel}`;
    if (id !== -1 && (id > this.info.maxTarget || id < 0)) return `bad scsi device id: ${id}`;
    if (lun !== -1 && (lun > this.info.maxLun || lun < 0)) return `bad scsi device lun: ${lun}`;
    if (id !== -1 && lun !== -1) {
      const d = this.#isAddressFree(channel, id, lun);
      if (d) return `lun already used by '${d.qdevId ?? '(null)'}'`;
    }
    return null;
  }

  /** scsi_qdev_realize's address assignment for id/lun −1: the concrete address or an error text. */
  assignAddress(channel: number, id: number, lun: number): { id: number; lun: number } | string {
    const err = this.checkAddress(channel, id, lun);
    if (err) return err;
    if (id === -1) {
      const l = lun === -1 ? 0 : lun;
      for (let t = 0; t <= this.info.maxTarget; t++) if (!this.#isAddressFree(channel, t, l)) return { id: t, lun: l };
      return 'no free target';
    }
    if (lun === -1) {
      for (let l = 0; l <= this.info.maxLun; l++) if (!this.#isAddressFree(channel, id, l)) return { id, lun: l };
      return 'no free lun';
    }
    return { id, lun };
  }

  /** Plugs a realized device at its (channel, id, lun); returns an error text when refused. */
  attach(dev: ScsiDevice): string | null {
    const a = this.assignAddress(dev.channel, dev.id, dev.lun);
    if (typeof a === 'string') return a;
    dev.id = a.id;
    dev.lun = a.lun;
    dev.bus = this;
    this.devices.push(dev);
    this.#byAddr.set(addrKey(dev.channel, dev.id, dev.lun), dev);
    const tk = targetKey(dev.channel, dev.id);
    const onTarget = this.#byTarget.get(tk);
    if (onTarget) onTarget.push(dev);
    else this.#byTarget.set(tk, [dev]);
    dev.realized = true;
    return null;
  }

  /** device_add at run time: attach, then the cold reset that gives the new LU its 29/00 UA. */
  hotplug(dev: ScsiDevice): string | null {
    const err = this.attach(dev);
    if (err) return err;
    dev.reset();
    return null;
  }

  /** Unrealize (device_del): requests purged (cancelled, not reset), device removed from the bus. */
  detach(dev: ScsiDevice): void {
    const i = this.devices.indexOf(dev);
    if (i < 0) return;
    dev.purgeRequests(SENSE.NO_SENSE, false);
    dev.realized = false;
    this.devices.splice(i, 1);
    const ak = addrKey(dev.channel, dev.id, dev.lun);
    if (this.#byAddr.get(ak) === dev) this.#byAddr.delete(ak);
    const tk = targetKey(dev.channel, dev.id);
    const onTarget = this.#byTarget.get(tk);
    if (onTarget) {
      const j = onTarget.indexOf(dev);
      if (j >= 0) onTarget.splice(j, 1);
      if (onTarget.length === 0) this.#byTarget.delete(tk);
    }
    dev.bus = null;
  }

  /** Bus cold reset (machine reset, virtio reset): every device reset. */
  reset(): void {
    for (const d of this.devices.slice()) d.reset();
  }

  /** scsi_bus_set_ua (virtio-scsi sets 3F/0E on hot-plug/unplug when HOTPLUG was negotiated). */
  setBusUnitAttention(sense: ScsiSense): void {
    if (sense.key !== SENSE_KEY.UNIT_ATTENTION) return;
    if (uaPrecedence(sense) < uaPrecedence(this.unitAttention)) this.unitAttention = sense;
  }

  // ---- requests ----

  /** scsi_req_new. */
  newRequest(r: ScsiNewRequest): ScsiReq | undefined {
    const d = this.findDevice(r.channel, r.id, r.lun);
    if (!d) return undefined;
    const buf = r.cdb;
    const cmd = emptyCommand();
    const t = this.trace;
    const tag32 = Number(BigInt.asUintN(32, r.tag));
    let kind: ReqKind;
    if (buf.length === 0) {
      t?.('scsi_req_parse_bad', { target: d.id, lun: r.lun, tag: tag32, command: 0 });
      kind = 'invalid-opcode';
    } else {
      const op = buf[0]!;
      let ops: ReqKind;
      if (
        (d.unitAttention.key === SENSE_KEY.UNIT_ATTENTION || this.unitAttention.key === SENSE_KEY.UNIT_ATTENTION) &&
        op !== OP.INQUIRY &&
        op !== OP.REPORT_LUNS &&
        op !== OP.GET_CONFIGURATION &&
        op !== OP.GET_EVENT_STATUS_NOTIFICATION &&
        !(op === OP.REQUEST_SENSE && d.senseIsUa)
      ) {
        ops = 'unit-attention';
      } else if (r.lun !== d.lun || op === OP.REPORT_LUNS || (op === OP.REQUEST_SENSE && d.senseLen > 0)) {
        ops = 'target';
      } else {
        ops = 'device';
      }
      if (!parseCdb(buf, d.type, d.blocksize, cmd)) {
        t?.('scsi_req_parse_bad', { target: d.id, lun: r.lun, tag: tag32, command: op });
        kind = 'invalid-opcode';
      } else {
        t?.('scsi_req_parsed', { target: d.id, lun: r.lun, tag: tag32, command: op, dir: xferModeNumber(cmd.mode), length: cmd.xfer });
        if (cmd.lba !== -1) t?.('scsi_req_parsed_lba', { target: d.id, lun: r.lun, tag: tag32, command: op, lba: cmd.lba });
        kind = cmd.xfer > 0x7fffffff ? 'invalid-field' : ops;
      }
    }
    const req = new ScsiReq(this, d, r, cmd, kind);
    t?.('scsi_req_alloc', { target: d.id, lun: r.lun, tag: tag32 });
    if (kind === 'unit-attention') this.#fetchUnitAttentionSense(req);
    if (buf.length > 0 && t) {
      const args = { target: d.id, lun: r.lun, tag: tag32 };
      switch (buf[0]) {
        case OP.INQUIRY:
          t('scsi_inquiry', { ...args, cdb1: cmd.buf[1]!, cdb2: cmd.buf[2]! });
          break;
        case OP.TEST_UNIT_READY:
          t('scsi_test_unit_ready', args);
          break;
        case OP.REPORT_LUNS:
          t('scsi_report_luns', args);
          break;
        case OP.REQUEST_SENSE:
          t('scsi_request_sense', args);
          break;
      }
    }
    return req;
  }

  /** scsi_fetch_unit_attention_sense (7.2: builds the sense; the UA is cleared at completion). */
  #fetchUnitAttentionSense(req: ScsiReq): void {
    const ua =
      req.dev.unitAttention.key === SENSE_KEY.UNIT_ATTENTION
        ? req.dev.unitAttention
        : this.unitAttention.key === SENSE_KEY.UNIT_ATTENTION
          ? this.unitAttention
          : null;
    if (ua) this.buildSense(req, ua);
  }

  /** scsi_req_build_sense. */
  buildSense(req: ScsiReq, sense: ScsiSense): void {
    this.trace?.('scsi_req_build_sense', { target: req.dev.id, lun: req.lun, tag: req.tag32, key: sense.key, asc: sense.asc, ascq: sense.ascq });
    req.senseLen = buildSense(req.sense, sense);
  }

  /** scsi_req_enqueue + scsi_req_continue. */
  enqueue(req: ScsiReq, sg: ScsiSgList | null): void {
    req.sg = sg ?? EMPTY_SG;
    req.enqueued = true;
    req.dev.reqs.push(req);
    const faults = this.faults;
    if (faults && !req.faultChecked && (req.kind === 'device' || req.kind === 'target')) {
      req.faultChecked = true;
      const v = faults.onSubmit(req);
      if (v) {
        this.#applyFault(faults, req, v);
        return;
      }
    }
    this.#start(req);
  }

  #applyFault(faults: BusFaultHook, req: ScsiReq, v: BusFaultVerdict): void {
    switch (v.kind) {
      case 'check-condition':
        this.buildSense(req, v.sense);
        this.complete(req, CHECK_CONDITION);
        return;
      case 'status':
        this.complete(req, v.status);
        return;
      case 'host-failure':
        this.fail(req, v.reason);
        return;
      case 'never-complete':
        return; // stays on dev.reqs until a TMF, a reset or an unplug cancels it
      case 'delay':
        // Parked as if backend I/O were in flight: cancelIo() stops the timer.
        req.aio = faults.after(v.ns, () => {
          req.aio = null;
          if (!req.ioCanceled && req.status === -1 && req.hostStatus === null) this.#start(req);
        });
        return;
    }
  }

  /** The scsi_req_enqueue part that runs the request's ops. */
  #start(req: ScsiReq): void {
    let rc: number;
    switch (req.kind) {
      case 'unit-attention':
        this.complete(req, CHECK_CONDITION);
        return;
      case 'invalid-opcode':
        this.buildSense(req, SENSE.INVALID_OPCODE);
        this.complete(req, CHECK_CONDITION);
        return;
      case 'invalid-field':
        this.buildSense(req, SENSE.INVALID_FIELD);
        this.complete(req, CHECK_CONDITION);
        return;
      case 'target':
        rc = this.#targetSendCommand(req);
        break;
      case 'device':
        rc = req.dev.sendCommand(req);
        break;
    }
    if (rc !== 0 && req.status === -1 && !req.ioCanceled) this.continueReq(req);
  }

  /** scsi_req_continue. */
  continueReq(req: ScsiReq): void {
    if (req.ioCanceled) return;
    if (req.kind === 'target') {
      this.#targetReadData(req);
      return;
    }
    if (req.cmd.mode === 'to-dev') req.dev.writeData(req);
    else req.dev.readData(req);
  }

  /**
   * scsi_req_data with an SG list: moves `len` bytes between `buf` and the guest buffers in one step
   * (device → guest for data-in, guest → device for data-out), then continues the request.
   */
  reqData(req: ScsiReq, buf: Uint8Array, len: number): void {
    if (req.ioCanceled) return;
    this.trace?.('scsi_req_data', { target: req.dev.id, lun: req.lun, tag: req.tag32, len });
    const n = Math.max(0, Math.min(len, req.sg.size, buf.length));
    if (req.cmd.mode === 'from-dev') req.sg.write(0, buf, 0, n);
    else req.sg.read(0, buf, 0, n);
    req.residual -= n;
    this.continueReq(req);
  }

  #dequeue(req: ScsiReq): void {
    this.trace?.('scsi_req_dequeue', { target: req.dev.id, lun: req.lun, tag: req.tag32 });
    req.retry = false;
    if (req.enqueued) {
      const list = req.dev.reqs;
      const i = list.indexOf(req);
      if (i >= 0) list.splice(i, 1);
      req.enqueued = false;
    }
  }

  /** scsi_clear_unit_attention (QEMU 7.2). */
  #clearUnitAttention(req: ScsiReq): void {
    const dev = req.dev;
    if (dev.unitAttention.key !== SENSE_KEY.UNIT_ATTENTION && this.unitAttention.key !== SENSE_KEY.UNIT_ATTENTION) return;
    const op = req.cmd.buf[0];
    // INQUIRY, GET CONFIGURATION and GESN never clear a UA (SPC, MMC-6 6.5/6.6.2).
    if (op === OP.INQUIRY || op === OP.GET_CONFIGURATION || op === OP.GET_EVENT_STATUS_NOTIFICATION) return;
    const onDev = dev.unitAttention.key === SENSE_KEY.UNIT_ATTENTION;
    const ua = onDev ? dev.unitAttention : this.unitAttention;
    // REPORT LUNS clears only REPORTED LUNS DATA HAS CHANGED.
    if (op === OP.REPORT_LUNS && !(ua.asc === 0x3f && ua.ascq === 0x0e)) return;
    if (onDev) dev.unitAttention = SENSE.NO_SENSE;
    else this.unitAttention = SENSE.NO_SENSE;
  }

  /** scsi_req_complete, followed by virtio-scsi's autosense (scsi_req_get_sense). */
  complete(req: ScsiReq, status: number): void {
    if (req.status !== -1 || req.hostStatus !== null) return;
    req.status = status;
    if (status === GOOD) req.senseLen = 0;
    const dev = req.dev;
    if (req.senseLen) {
      dev.sense.set(req.sense.subarray(0, req.senseLen), 0);
      dev.senseLen = req.senseLen;
      dev.senseIsUa = req.kind === 'unit-attention';
    } else {
      dev.senseLen = 0;
      dev.senseIsUa = false;
    }
    this.#clearUnitAttention(req);
    this.#dequeue(req);
    if (req.senseLen && dev.senseIsUa) {
      dev.unitAttentionReported();
      dev.senseLen = 0;
      dev.senseIsUa = false;
    }
    req.hba.complete(req, status, Math.max(0, req.residual));
  }

  /** scsi_req_complete_failed with an HBA that has a `fail` callback. */
  fail(req: ScsiReq, reason: ScsiHostStatus): void {
    if (req.status !== -1 || req.hostStatus !== null) return;
    req.hostStatus = reason;
    this.#dequeue(req);
    req.hba.failed(req, reason);
  }

  /** scsi_req_cancel: only an enqueued request can be cancelled; the HBA hears of it once. */
  cancel(req: ScsiReq, reset: boolean): void {
    this.trace?.('scsi_req_cancel', { target: req.dev.id, lun: req.lun, tag: req.tag32 });
    if (!req.enqueued || req.ioCanceled) return;
    this.#dequeue(req);
    req.ioCanceled = true;
    req.dev.cancelIo(req);
    req.hba.cancelled(req, reset);
  }

  // ---- target emulation (reqops_target_command) ----

  #targetSendCommand(req: ScsiReq): number {
    const b = req.cmd.buf;
    const op = b[0]!;
    const fixedSense = (b[1]! & 1) === 0;
    if (req.lun !== 0 && op !== OP.INQUIRY && op !== OP.REQUEST_SENSE) {
      this.buildSense(req, SENSE.LUN_NOT_SUPPORTED);
      this.complete(req, CHECK_CONDITION);
      return 0;
    }
    switch (op) {
      case OP.REPORT_LUNS:
        if (!this.#targetReportLuns(req)) return this.#illegal(req);
        break;
      case OP.INQUIRY:
        if (!this.#targetInquiry(req)) return this.#illegal(req);
        break;
      case OP.REQUEST_SENSE: {
        const out = new Uint8Array(SCSI_SENSE_LEN);
        req.buf = out;
        if (req.lun !== 0) {
          req.len = buildSenseBuf(out, req.cmd.xfer, SENSE.LUN_NOT_SUPPORTED, fixedSense);
        } else {
          req.len = convertSense(req.dev.sense, req.dev.senseLen, out, Math.min(req.cmd.xfer, out.length), fixedSense);
        }
        if (req.dev.senseIsUa) {
          req.dev.unitAttentionReported();
          req.dev.senseLen = 0;
          req.dev.senseIsUa = false;
        }
        break;
      }
      case OP.TEST_UNIT_READY:
        break;
      default:
        this.buildSense(req, SENSE.INVALID_OPCODE);
        this.complete(req, CHECK_CONDITION);
        return 0;
    }
    if (!req.len) this.complete(req, GOOD);
    return req.len;
  }

  #illegal(req: ScsiReq): number {
    this.buildSense(req, SENSE.INVALID_FIELD);
    this.complete(req, CHECK_CONDITION);
    return 0;
  }

  #targetReadData(req: ScsiReq): void {
    const n = req.len;
    if (n > 0) {
      req.len = 0;
      this.reqData(req, req.buf!, n);
    } else {
      this.complete(req, GOOD);
    }
  }

  /** scsi_target_emulate_report_luns. */
  #targetReportLuns(req: ScsiReq): boolean {
    if (req.cmd.xfer < 16) return false;
    if (req.cmd.buf[2]! > 2) return false;
    const { channel, id } = req.dev;
    const luns = [0];
    // bus_add_child puts each new device at the head of the bus's children, so after LUN 0 the list
    // runs newest first (the boot's -device options in reverse, a hot-plugged LU right after LUN 0).
    const onTarget = this.#onTarget(channel, id);
    for (let i = onTarget.length - 1; i >= 0; i--) {
      const d = onTarget[i]!;
      if (d.lun !== 0 && d.realized) luns.push(d.lun);
    }
    const total = 8 + 8 * luns.length;
    const out = new Uint8Array(total);
    const listLen = total - 8;
    out[0] = listLen >>> 24; // LUN LIST LENGTH (be32)
    out[1] = (listLen >>> 16) & 0xff;
    out[2] = (listLen >>> 8) & 0xff;
    out[3] = listLen & 0xff;
    luns.forEach((lun, i) => {
      const p = 8 + 8 * i;
      if (lun < 256) {
        out[p + 1] = lun; // peripheral device addressing
      } else {
        out[p] = 0x40 | (lun >> 8); // flat space addressing
        out[p + 1] = lun & 0xff;
      }
    });
    req.buf = out;
    req.len = Math.min(total, req.cmd.xfer & ~7);
    return true;
  }

  /** scsi_target_emulate_inquiry. */
  #targetInquiry(req: ScsiReq): boolean {
    const b = req.cmd.buf;
    const out = new Uint8Array(36);
    req.buf = out;
    if (b[1]! & 0x2) return false; // CmdDt: not implemented
    if (b[1]! & 0x1) {
      const page = b[2]!;
      if (page !== 0x00) return false;
      out[0] = page; // QEMU puts the page code in byte 0 here
      out[1] = 0x00;
      out[2] = 1; // number of pages listed
      out[3] = 0x00; // page 0x00 only
      req.len = Math.min(req.cmd.xfer, 4);
      return true;
    }
    if (b[2] !== 0) return false;
    req.len = Math.min(req.cmd.xfer, 36);
    if (req.lun !== 0) {
      out[0] = TYPE_NO_LUN; // PQ=3, PDT=0x1f
    } else {
      out[0] = TYPE_NOT_PRESENT | TYPE_INACTIVE; // PQ=1, PDT=0x1f
      out[2] = 5; // version: SPC-3
      out[3] = 0x12; // HiSup, response data format 2
      out[4] = (req.len - 5) & 0xff; // additional length
      out[7] = 0x10 | (this.info.tcq ? 0x02 : 0); // Sync, CmdQue
      writePadded(out, 8, 8, 'QEMU', 0x20);
      writePadded(out, 16, 16, 'QEMU TARGET', 0x20);
      writePadded(out, 32, 3, QEMU_HW_VERSION, 0); // pstrcpy with size 4 keeps 3 chars + NUL
    }
    return true;
  }
}

/** Writes ASCII `s` into `out[off..off+width)`, padded with `pad`. */
export function writePadded(out: Uint8Array, off: number, width: number, s: string, pad: number): void {
  for (let i = 0; i < width; i++) out[off + i] = i < s.length ? s.charCodeAt(i) & 0xff : pad;
}
