// Models drivers/scsi/virtio_scsi.c (Linux 6.1): the virtio SCSI host driver. It turns a mid-layer
// command into a descriptor chain (request header, data-out, response, data-in) on a request queue,
// maps the device's response code to a host byte when the used buffer comes back, sends task
// management functions on the control queue, and keeps 8 event buffers posted so the device can
// announce hot-plug, hot-unplug and parameter changes.
//
// The host is trusted to answer every command, so a command timeout only re-arms the timer
// (virtscsi_eh_timed_out); error handling reaches this driver only through the abort and
// device-reset handlers.
//
// Not in Linux: the module parameter `eh_timed_out` (`virtio_scsi.eh_timed_out=generic` on the
// kernel command line) switches the timeout behaviour between Linux's (`reset-timer`, the default)
// and the mid-layer's generic path (`generic`: abort after the timeout, then the EH ladder), for
// experiments. Its sysfs file /sys/module/virtio_scsi/parameters/eh_timed_out (rw) exists only
// when the command line names the parameter: the captured guest has no parameters directory there.

import { KERN_ERR, KERN_INFO, KERN_WARNING } from '../kernel/kernel.ts';
import type { Gpa } from '../platform/guest_memory.ts';
import {
  VIRTIO_SCSI_CMD_REQ_CDB,
  VIRTIO_SCSI_CMD_REQ_TAG,
  VIRTIO_SCSI_CMD_RESP_RESID,
  VIRTIO_SCSI_CMD_RESP_RESPONSE,
  VIRTIO_SCSI_CMD_RESP_SENSE,
  VIRTIO_SCSI_CMD_RESP_SENSE_LEN,
  VIRTIO_SCSI_CMD_RESP_STATUS,
  VIRTIO_SCSI_CONFIG_CDB_SIZE,
  VIRTIO_SCSI_CONFIG_CMD_PER_LUN,
  VIRTIO_SCSI_CONFIG_MAX_LUN,
  VIRTIO_SCSI_CONFIG_MAX_SECTORS,
  VIRTIO_SCSI_CONFIG_MAX_TARGET,
  VIRTIO_SCSI_CONFIG_NUM_QUEUES,
  VIRTIO_SCSI_CONFIG_SEG_MAX,
  VIRTIO_SCSI_CONFIG_SENSE_SIZE,
  VIRTIO_SCSI_EVENT_SIZE,
  VIRTIO_SCSI_F_CHANGE,
  VIRTIO_SCSI_F_HOTPLUG,
  VIRTIO_SCSI_S_ABORTED,
  VIRTIO_SCSI_S_BAD_TARGET,
  VIRTIO_SCSI_S_BUSY,
  VIRTIO_SCSI_S_FAILURE,
  VIRTIO_SCSI_S_FUNCTION_SUCCEEDED,
  VIRTIO_SCSI_S_NEXUS_FAILURE,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_OVERRUN,
  VIRTIO_SCSI_S_RESET,
  VIRTIO_SCSI_S_TARGET_FAILURE,
  VIRTIO_SCSI_S_TRANSPORT_FAILURE,
  VIRTIO_SCSI_T_EVENTS_MISSED,
  VIRTIO_SCSI_T_NO_EVENT,
  VIRTIO_SCSI_T_PARAM_CHANGE,
  VIRTIO_SCSI_T_TMF,
  VIRTIO_SCSI_T_TMF_ABORT_TASK,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
  VIRTIO_SCSI_EVT_RESET_REMOVED,
  VIRTIO_SCSI_EVT_RESET_RESCAN,
  cmdReqSize,
  cmdRespSize,
  encodeLinuxLun,
} from '../protocol/virtio_scsi.ts';
import { VIRTIO_ID_SCSI } from '../protocol/virtio_config.ts';
import { scsiAddHost, scsiHostAlloc, scsiRemoveHost } from '../midlayer/hosts.ts';
import type { ScsiMod } from '../midlayer/scsi.ts';
import { DID_ABORT, DID_BAD_TARGET, DID_BUS_BUSY, DID_ERROR, DID_RESET, DID_TRANSPORT_DISRUPTED } from '../midlayer/scsi_common.ts';
import { SCSI_MLQUEUE_HOST_BUSY } from '../midlayer/scsi_cmnd.ts';
import type { ScsiCmnd } from '../midlayer/scsi_cmnd.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import type { EhResult, ScsiHost, ScsiHostTemplate } from '../midlayer/scsi_host.ts';
import { scsiDone, scsiExecute } from '../midlayer/scsi_lib.ts';
import { findSdev, removeDevice, rescanDevice, scanHost, scsiAddDevice, scsiScanTarget } from '../midlayer/scsi_scan.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { sdevFormatHeader } from '../midlayer/constants.ts';
import type { EhTimerResult } from '../midlayer/scsi_host.ts';
import { Errno } from '../kernel/errno.ts';
import type { DirNode } from '../kernel/fs.ts';
import { createFile } from '../sysfs/kernfs.ts';
import type { VirtioDevice, VirtioDriver } from '../virtio/virtio.ts';
import { virtioCread16, virtioCread32, virtioCwrite32, virtioDeviceReady, virtioHasFeature, virtioResetDevice } from '../virtio/virtio.ts';
import type { Sg, VirtQueue } from '../virtio/virtio_ring.ts';

const VIRTIO_SCSI_CDB_SIZE = 32;
const VIRTIO_SCSI_SENSE_SIZE = 96;
const VIRTIO_SCSI_EVENT_LEN = 8;
const VIRTIO_SCSI_VQ_BASE = 2;
const SAM_STAT_RESERVATION_CONFLICT = 0x18;
const REQ_HDR = cmdReqSize(VIRTIO_SCSI_CDB_SIZE);
const RESP_LEN = cmdRespSize(VIRTIO_SCSI_SENSE_SIZE);
/** Per-command area (struct virtio_scsi_cmd): header then response, 8-byte aligned. */
const CMD_AREA = 168;
/** Base of the fake kernel addresses used as tags (the scsi_cmnd pointer in Linux). */
const TAG_BASE = 0xffff_8880_0400_0000n;
const TAG_BASE_LOW = 0x0400_0000;
const TAG_BASE_HIGH = 0xffff_8880;
const TWO32 = 0x1_0000_0000;

/** virtio response code → host byte (virtscsi_complete_cmd). NEXUS_FAILURE is special-cased. */
const RESPONSE_HOST_BYTE: ReadonlyMap<number, number> = new Map([
  [VIRTIO_SCSI_S_OK, 0],
  [VIRTIO_SCSI_S_OVERRUN, DID_ERROR],
  [VIRTIO_SCSI_S_ABORTED, DID_ABORT],
  [VIRTIO_SCSI_S_BAD_TARGET, DID_BAD_TARGET],
  [VIRTIO_SCSI_S_RESET, DID_RESET],
  [VIRTIO_SCSI_S_BUSY, DID_BUS_BUSY],
  [VIRTIO_SCSI_S_TRANSPORT_FAILURE, DID_TRANSPORT_DISRUPTED],
  [VIRTIO_SCSI_S_TARGET_FAILURE, DID_BAD_TARGET],
  [VIRTIO_SCSI_S_FAILURE, DID_ERROR],
]);

interface Slot {
  readonly area: Gpa;
  cmd: ScsiCmnd | null;
  /** The chain's scatter lists, reused by every command of this tag: header first, response first. */
  readonly out: Sg[];
  readonly inn: Sg[];
}

interface EventNode {
  readonly buf: Gpa;
}

interface TmfWait {
  readonly area: Gpa;
  resolve: (response: number) => void;
}

/** struct virtio_scsi: the driver's per-HBA state (shost_priv). */
export interface VirtioScsi {
  readonly vdev: VirtioDevice;
  readonly mod: ScsiMod;
  readonly ctrlVq: VirtQueue;
  readonly eventVq: VirtQueue;
  readonly reqVqs: VirtQueue[];
  readonly events: EventNode[];
  /** Command areas by (hwq, tag). */
  readonly slots: Slot[][];
  stopEvents: boolean;
  host: ScsiHost<VirtioScsi> | null;
}

function areaFor(vscsi: VirtioScsi, cmd: ScsiCmnd): Slot {
  const perQ = (vscsi.slots[cmd.hwq] ??= []);
  let s = perQ[cmd.tag];
  if (!s) {
    const area = vscsi.vdev.dma.kmalloc(CMD_AREA) ?? 0;
    // struct layout: the response follows the 51-byte header, aligned to 8
    s = { area, cmd: null, out: [{ addr: area, len: REQ_HDR }], inn: [{ addr: area + REQ_HDR + 5, len: RESP_LEN }] };
    perQ[cmd.tag] = s;
  }
  return s;
}

/** The tag field: a fake kernel address per (hwq, tag), TAG_BASE + ((hwq << 12) | tag) * 0x200. */
function cmdTag(cmd: ScsiCmnd): bigint {
  return TAG_BASE + BigInt((cmd.hwq << 12) | cmd.tag) * 0x200n;
}

/** virtscsi_queuecommand: header, data-out, response, data-in — one (indirect) chain. */
function queuecommand(host: ScsiHost<VirtioScsi>, cmd: ScsiCmnd): number {
  const vscsi = host.hostdata;
  const mem = vscsi.vdev.mem;
  const sdev = cmd.device;
  const slot = areaFor(vscsi, cmd);
  const a = slot.area;
  mem.fill(a, CMD_AREA, 0);
  // LUN bytes 0-3 as one little-endian word (encodeLinuxLun's layout; bytes 4-7 stay zero), and the
  // 64-bit tag as two words: no allocation per command.
  const lunByte2 = ((sdev.lun >> 8) & 0x3f) | 0x40;
  mem.write32(a, (1 | ((sdev.id & 0xff) << 8) | (lunByte2 << 16) | ((sdev.lun & 0xff) << 24)) >>> 0);
  const tagLow = TAG_BASE_LOW + ((cmd.hwq << 12) | cmd.tag) * 0x200;
  mem.write32(a + VIRTIO_SCSI_CMD_REQ_TAG, tagLow % TWO32);
  mem.write32(a + VIRTIO_SCSI_CMD_REQ_TAG + 4, TAG_BASE_HIGH + Math.floor(tagLow / TWO32));
  mem.writeBytes(a + VIRTIO_SCSI_CMD_REQ_CDB, cmd.cdb);
  const out = slot.out;
  const inn = slot.inn;
  out.length = 1;
  inn.length = 1;
  const sgl = cmd.sgl;
  if (cmd.dir === 'to-dev') for (let i = 0; i < sgl.length; i++) out.push(sgl[i]!);
  else if (cmd.dir === 'from-dev') for (let i = 0; i < sgl.length; i++) inn.push(sgl[i]!);
  const vq = vscsi.reqVqs[cmd.hwq] ?? vscsi.reqVqs[0]!;
  slot.cmd = cmd;
  const err = vq.addSgs(out, inn, slot);
  if (err === -5) {
    // The queue is broken: the command completes at once as if the target were gone.
    slot.cmd = null;
    cmd.result = DID_BAD_TARGET << 16;
    scsiDone(vscsi.mod, cmd);
    return 0;
  }
  if (err !== 0) {
    slot.cmd = null;
    return SCSI_MLQUEUE_HOST_BUSY;
  }
  if (vq.kickPrepare()) vq.notify();
  return 0;
}

/** scmd_printk: the device prefix, then `[sda] ` when the LU has a disk and `tag#N `. */
function scmdPrintk(vscsi: VirtioScsi, level: number, cmd: ScsiCmnd, text: string): void {
  sdevPrintk(vscsi.mod, level, cmd.device, sdevFormatHeader(cmd.device.diskName ?? undefined, cmd.tag) + text);
}

/** virtscsi_complete_cmd */
function completeCmd(vscsi: VirtioScsi, slot: Slot): void {
  const cmd = slot.cmd;
  if (!cmd) return;
  slot.cmd = null;
  const mem = vscsi.vdev.mem;
  const resp = slot.area + REQ_HDR + 5;
  const response = mem.read8(resp + VIRTIO_SCSI_CMD_RESP_RESPONSE);
  const status = mem.read8(resp + VIRTIO_SCSI_CMD_RESP_STATUS);
  const resid = mem.read32(resp + VIRTIO_SCSI_CMD_RESP_RESID);
  const senseLen = mem.read32(resp + VIRTIO_SCSI_CMD_RESP_SENSE_LEN);
  let result = status;
  if (resid) cmd.resid = Math.min(resid, cmd.length);
  if (response === VIRTIO_SCSI_S_NEXUS_FAILURE) result = SAM_STAT_RESERVATION_CONFLICT;
  else {
    let hb = RESPONSE_HOST_BYTE.get(response);
    if (hb === undefined) {
      scmdPrintk(vscsi, KERN_WARNING, cmd, `Unknown response ${response}`);
      hb = DID_ERROR;
    }
    result |= hb << 16;
  }
  cmd.result = result;
  if (senseLen > VIRTIO_SCSI_SENSE_SIZE) vscsi.mod.kernel.printk(KERN_WARNING, `WARNING: virtio_scsi: sense_len ${senseLen} > ${VIRTIO_SCSI_SENSE_SIZE}`);
  if (senseLen) cmd.senseBuffer.set(mem.readBytes(resp + VIRTIO_SCSI_CMD_RESP_SENSE, Math.min(senseLen, VIRTIO_SCSI_SENSE_SIZE)));
  scsiDone(vscsi.mod, cmd);
}

/** virtscsi_vq_done: drain, re-enable callbacks, drain again if something raced in. */
function vqDone(vq: VirtQueue, fn: (token: unknown) => void): void {
  do {
    vq.disableCb();
    for (let b = vq.getBuf(); b; b = vq.getBuf()) fn(b.token);
    if (vq.broken) break;
  } while (!vq.enableCb());
}

// ---- task management -------------------------------------------------------------------------

async function tmf(vscsi: VirtioScsi, subtype: number, sdev: ScsiDevice, tag: bigint): Promise<EhResult> {
  const dma = vscsi.vdev.dma;
  const mem = vscsi.vdev.mem;
  const area = dma.kmalloc(32);
  if (area === null) return 'FAILED';
  mem.fill(area, 32, 0);
  mem.write32(area, VIRTIO_SCSI_T_TMF);
  mem.write32(area + 4, subtype);
  mem.writeBytes(area + 8, encodeLinuxLun(sdev.id, sdev.lun));
  mem.write64(area + 16, tag);
  const response = await new Promise<number>((resolve) => {
    const wait: TmfWait = { area, resolve };
    if (vscsi.ctrlVq.addSgs([{ addr: area, len: 24 }], [{ addr: area + 24, len: 1 }], wait) !== 0) {
      resolve(-1);
      return;
    }
    if (vscsi.ctrlVq.kickPrepare()) vscsi.ctrlVq.notify();
  });
  dma.kfree(area);
  // Commands the TMF affected were completed before it; make sure their callbacks ran.
  for (const vq of vscsi.reqVqs) vqDone(vq, (t) => completeCmd(vscsi, t as Slot));
  return response === VIRTIO_SCSI_S_OK || response === VIRTIO_SCSI_S_FUNCTION_SUCCEEDED ? 'SUCCESS' : 'FAILED';
}

function ctrlDone(vscsi: VirtioScsi): void {
  vqDone(vscsi.ctrlVq, (t) => {
    const w = t as TmfWait;
    w.resolve(vscsi.vdev.mem.read8(w.area + 24));
  });
}

// ---- events ------------------------------------------------------------------------------------

function kickEvent(vscsi: VirtioScsi, node: EventNode): void {
  vscsi.vdev.mem.fill(node.buf, VIRTIO_SCSI_EVENT_SIZE, 0);
  vscsi.eventVq.addSgs([], [{ addr: node.buf, len: VIRTIO_SCSI_EVENT_SIZE }], node);
}

function kickEventAll(vscsi: VirtioScsi): void {
  for (const n of vscsi.events) kickEvent(vscsi, n);
  if (vscsi.eventVq.kickPrepare()) vscsi.eventVq.notify();
}

function eventDone(vscsi: VirtioScsi): void {
  vqDone(vscsi.eventVq, (t) => {
    if (vscsi.stopEvents) return;
    // The work item runs later, in process context (system_freezable_wq), not in the interrupt:
    // until it has run and re-posted the buffer, that buffer is not available to the device.
    vscsi.mod.kernel.loop.after(0, () => {
      if (!vscsi.stopEvents) vscsi.mod.track(handleEvent(vscsi, t as EventNode));
    });
  });
}

/** virtscsi_rescan_hotunplug: after missed events, drop LUs that no longer answer. */
async function rescanHotunplug(vscsi: VirtioScsi): Promise<void> {
  const host = vscsi.host!;
  for (const sdev of [...host.devices]) {
    if (!sdev.isVisible) continue;
    const len = sdev.inquiryLen || 36;
    const r = await scsiExecute(vscsi.mod, sdev, { cdb: [0x12, 0, 0, 0, len, 0], dir: 'from-dev', length: len, timeout: 30, retries: 5 });
    if ((r.result === 0 && r.data[0]! >> 5 !== 0) || ((r.result >>> 16) & 0xff) === DID_BAD_TARGET) await removeDevice(vscsi.mod, sdev);
  }
}

async function handleEvent(vscsi: VirtioScsi, node: EventNode): Promise<void> {
  const mem = vscsi.vdev.mem;
  const host = vscsi.host!;
  let event = mem.read32(node.buf);
  const lunBytes = mem.readBytes(node.buf + 4, 8);
  const reason = mem.read32(node.buf + 12);
  if (event & VIRTIO_SCSI_T_EVENTS_MISSED) {
    event = (event & ~VIRTIO_SCSI_T_EVENTS_MISSED) >>> 0;
    await rescanHotunplug(vscsi);
    await scanHost(vscsi.mod, host);
  }
  const target = lunBytes[1]!;
  const lun = (lunBytes[2]! << 8) | lunBytes[3]!;
  const k = vscsi.mod.kernel;
  switch (event) {
    case VIRTIO_SCSI_T_NO_EVENT:
      break;
    case VIRTIO_SCSI_T_TRANSPORT_RESET:
      if (reason === VIRTIO_SCSI_EVT_RESET_RESCAN) {
        if (lun === 0) await scsiScanTarget(vscsi.mod, host, 0, target);
        else await scsiAddDevice(vscsi.mod, host, 0, target, lun);
      } else if (reason === VIRTIO_SCSI_EVT_RESET_REMOVED) {
        const sdev = findSdev(host, 0, target, lun);
        if (sdev) await removeDevice(vscsi.mod, sdev);
        else k.printk(KERN_ERR, `virtio_scsi: SCSI device ${host.hostNo} 0 ${target} ${lun} not found`);
      } else k.printk(KERN_INFO, `virtio_scsi: Unsupported virtio scsi event reason ${reason.toString(16)}`);
      break;
    case VIRTIO_SCSI_T_PARAM_CHANGE: {
      const asc = reason & 0xff;
      const ascq = reason >>> 8;
      const sdev = findSdev(host, 0, target, lun);
      if (!sdev) k.printk(KERN_ERR, `virtio_scsi: SCSI device ${host.hostNo} 0 ${target} ${lun} not found`);
      else if (asc === 0x2a && (ascq === 0x00 || ascq === 0x01 || ascq === 0x09)) await rescanDevice(vscsi.mod, sdev);
      break;
    }
    default:
      k.printk(KERN_ERR, `virtio_scsi: Unsupported virtio scsi event ${event.toString(16)}`);
  }
  if (!vscsi.stopEvents) {
    kickEvent(vscsi, node);
    if (vscsi.eventVq.kickPrepare()) vscsi.eventVq.notify();
  }
}

// ---- probe / remove ------------------------------------------------------------------------------

const hosts = new WeakMap<VirtioDevice, ScsiHost<VirtioScsi>>();

/** virtscsi_probe */
async function probe(mod: ScsiMod, vdev: VirtioDevice): Promise<number> {
  if (!vdev.sysdev) return -22;
  const numQueuesCfg = virtioCread32(vdev, VIRTIO_SCSI_CONFIG_NUM_QUEUES) || 1;
  const numQueues = Math.min(mod.kernel.nrCpus, numQueuesCfg);
  const numTargets = virtioCread16(vdev, VIRTIO_SCSI_CONFIG_MAX_TARGET) + 1;
  // virtscsi_init: control, event, then one request queue per hw queue; the first two vectors are not spread.
  const infos = [
    { name: 'control', callback: (): void => ctrlDone(vscsi) },
    { name: 'event', callback: (): void => eventDone(vscsi) },
  ];
  // One completion function per HBA, not one closure per interrupt.
  const complete = (t: unknown): void => completeCmd(vscsi, t as Slot);
  for (let i = 0; i < numQueues; i++) {
    infos.push({ name: 'request', callback: (): void => vqDone(vscsi.reqVqs[i]!, complete) });
  }
  const vqs = vdev.findVqs(infos, { preVectors: 2 });
  if (typeof vqs === 'number') return vqs;
  const vscsi: VirtioScsi = {
    vdev,
    mod,
    ctrlVq: vqs[0]!,
    eventVq: vqs[1]!,
    reqVqs: vqs.slice(VIRTIO_SCSI_VQ_BASE),
    events: [],
    slots: [],
    stopEvents: false,
    host: null,
  };
  virtioCwrite32(vdev, VIRTIO_SCSI_CONFIG_CDB_SIZE, VIRTIO_SCSI_CDB_SIZE);
  virtioCwrite32(vdev, VIRTIO_SCSI_CONFIG_SENSE_SIZE, VIRTIO_SCSI_SENSE_SIZE);
  const canQueue = vscsi.reqVqs[0]!.num;
  const template: ScsiHostTemplate<VirtioScsi> = { ...virtscsiHostTemplate, canQueue, ehTimedOut: () => ehTimedOut(mod) };
  const host = scsiHostAlloc(mod, template, vscsi, vdev.sysdev);
  host.sgTablesize = virtioCread32(vdev, VIRTIO_SCSI_CONFIG_SEG_MAX) || 1;
  host.canQueue = canQueue;
  host.cmdPerLun = Math.min(virtioCread32(vdev, VIRTIO_SCSI_CONFIG_CMD_PER_LUN) || 1, canQueue);
  host.maxSectors = virtioCread32(vdev, VIRTIO_SCSI_CONFIG_MAX_SECTORS) || 0xffff;
  // LUNs > 256 are reported with format 1, so they go in the range 16640-32767.
  host.maxLun = virtioCread32(vdev, VIRTIO_SCSI_CONFIG_MAX_LUN) + 1 + 0x4000;
  host.maxId = numTargets;
  host.maxChannel = 0;
  host.maxCmdLen = VIRTIO_SCSI_CDB_SIZE;
  host.nrHwQueues = numQueues;
  vscsi.host = host;
  scsiAddHost(mod, host);
  virtioDeviceReady(vdev);
  if (virtioHasFeature(vdev, VIRTIO_SCSI_F_HOTPLUG)) {
    for (let i = 0; i < VIRTIO_SCSI_EVENT_LEN; i++) {
      const buf = vdev.dma.kmalloc(VIRTIO_SCSI_EVENT_SIZE);
      if (buf !== null) vscsi.events.push({ buf });
    }
    kickEventAll(vscsi);
  }
  hosts.set(vdev, host);
  // The initial scan runs asynchronously unless scsi_mod.scan=sync; module loading waits for it.
  mod.track(scanHost(mod, host));
  return 0;
}

/** virtscsi_remove */
async function remove(mod: ScsiMod, vdev: VirtioDevice): Promise<void> {
  const host = hosts.get(vdev);
  if (!host) return;
  host.hostdata.stopEvents = true;
  await scsiRemoveHost(mod, host);
  virtioResetDevice(vdev);
  vdev.delVqs();
  // The event nodes live in struct virtio_scsi and the command areas in the requests' PDUs: both go
  // when the host and its tag set are released.
  const vscsi = host.hostdata;
  for (const e of vscsi.events.splice(0)) vdev.dma.kfree(e.buf);
  for (const perQ of vscsi.slots) for (const s of perQ ?? []) if (s && s.area !== 0) vdev.dma.kfree(s.area);
  vscsi.slots.length = 0;
  hosts.delete(vdev);
}

/** virtscsi_abort: TMF ABORT TASK for this command's tag. */
async function abort(cmd: ScsiCmnd): Promise<EhResult> {
  const host = cmd.device.host as ScsiHost<VirtioScsi>;
  const vscsi = host.hostdata;
  scmdPrintk(vscsi, KERN_INFO, cmd, 'abort');
  return tmf(vscsi, VIRTIO_SCSI_T_TMF_ABORT_TASK, cmd.device, cmdTag(cmd));
}

/** virtscsi_device_reset: TMF LOGICAL UNIT RESET. */
async function deviceReset(cmd: ScsiCmnd): Promise<EhResult> {
  const host = cmd.device.host as ScsiHost<VirtioScsi>;
  const vscsi = host.hostdata;
  sdevPrintk(vscsi.mod, KERN_INFO, cmd.device, 'device reset');
  return tmf(vscsi, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, cmd.device, 0n);
}

// ---- eh_timed_out knob (ours) -----------------------------------------------------------------------

export type VirtioScsiEhTimedOut = 'reset-timer' | 'generic';

/** The driver's module-scope setting, per guest. */
const ehTimedOutMode = new WeakMap<ScsiMod, VirtioScsiEhTimedOut>();

function parseEhTimedOut(text: string): VirtioScsiEhTimedOut | undefined {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  return t === 'reset-timer' || t === 'generic' ? t : undefined;
}

/** The current mode (Linux's `reset-timer` unless the command line or sysfs chose `generic`). */
export function virtioScsiEhTimedOutMode(mod: ScsiMod): VirtioScsiEhTimedOut {
  return ehTimedOutMode.get(mod) ?? 'reset-timer';
}

export function setVirtioScsiEhTimedOutMode(mod: ScsiMod, mode: VirtioScsiEhTimedOut): void {
  ehTimedOutMode.set(mod, mode);
}

/** Reads `virtio_scsi.eh_timed_out=` and, when given, publishes the rw parameter file. */
function initEhTimedOutParam(mod: ScsiMod): void {
  const given = mod.kernel.param('virtio_scsi', 'eh_timed_out');
  if (given === undefined) return;
  const mode = parseEhTimedOut(given);
  if (mode) ehTimedOutMode.set(mod, mode);
  else mod.kernel.printk(KERN_ERR, `virtio_scsi: \`${given}' invalid for parameter \`eh_timed_out'`);
  const mods = mod.kernel.dm.sys.get('module') as DirNode | undefined;
  if (!mods) return;
  const dir = mods.mkdir('virtio_scsi').mkdir('parameters');
  createFile(dir, {
    name: 'eh_timed_out',
    mode: 0o644,
    show: () => `${virtioScsiEhTimedOutMode(mod)}\n`,
    store: (text: string) => {
      const m = parseEhTimedOut(text);
      if (!m) throw new Errno('EINVAL');
      ehTimedOutMode.set(mod, m);
    },
  });
}

/** virtscsi_eh_timed_out, or the generic path when the knob says so. */
function ehTimedOut(mod: ScsiMod): EhTimerResult {
  return virtioScsiEhTimedOutMode(mod) === 'generic' ? 'done' : 'reset-timer';
}

/** virtscsi_host_template */
export const virtscsiHostTemplate: ScsiHostTemplate<VirtioScsi> = {
  name: 'Virtio SCSI HBA',
  procName: 'virtio_scsi',
  thisId: -1,
  canQueue: 256,
  cmdPerLun: 1,
  sgTablesize: 1,
  queuecommand,
  ehAbortHandler: abort,
  ehDeviceResetHandler: deviceReset,
  // The host guarantees to respond to each command, although I/O latencies might be higher than on
  // bare metal: never abort a command because of a timeout.
  ehTimedOut: () => 'reset-timer',
  slaveAlloc: (sdev) => {
    sdev.bflags |= 1n << 28n; // BLIST_TRY_VPD_PAGES
  },
  changeQueueDepth: (sdev, depth) => Math.min(sdev.host.cmdPerLun, depth),
  hostReset: async () => 'EOPNOTSUPP',
  trackQueueDepth: true,
};

/** The virtio driver table (virtio_scsi_driver). */
export function virtioScsiDriver(mod: ScsiMod): VirtioDriver {
  initEhTimedOutParam(mod);
  return {
    name: 'virtio_scsi',
    idTable: [{ device: VIRTIO_ID_SCSI }],
    featureTable: [VIRTIO_SCSI_F_HOTPLUG, VIRTIO_SCSI_F_CHANGE],
    probe: (vdev) => probe(mod, vdev),
    remove: (vdev) => remove(mod, vdev),
  };
}
