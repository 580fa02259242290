// Models drivers/scsi/scsi_lib.c (Linux 6.1), reduced: admission by device state, tag allocation,
// issuing a command to the LLD (queuecommand), the request timer, completion (scsi_done →
// scsi_decide_disposition → finish, retry or error handler) and scsi_execute for internal commands.
//
// Completion runs in "softirq" context: synchronously from the LLD's done call. Process-context
// callers (scan, sd probe, sysfs stores) await `scsiExecute`, which stands in for blk_execute_rq.

import { Errno } from '../kernel/errno.ts';
import { KERN_ERR, KERN_INFO } from '../kernel/kernel.ts';
import type { Gpa } from '../platform/guest_memory.ts';
import { NS_PER_MS, NS_PER_S } from '../sim/event_loop.ts';
import type { ScsiMod } from './scsi.ts';
import { DID_NO_CONNECT, SENSE_KEY, hostByte, normalizeSense, statusByte } from './scsi_common.ts';
import type { SenseHdr } from './scsi_common.ts';
import { SCSI_MLQUEUE_DEVICE_BUSY, SCSI_MLQUEUE_HOST_BUSY, ScsiCmnd } from './scsi_cmnd.ts';
import type { DmaDirection } from './scsi_cmnd.ts';
import type { ScsiDevice } from './scsi_device.ts';
import type { ScsiHost } from './scsi_host.ts';
import { sdevTransitionAllowed } from './scsi_device_state.ts';
import type { SdevState } from './scsi_device_state.ts';
import { decideDisposition, uaRule, UA_LOG_LEVEL } from './scsi_error.ts';
import { scsiEhFailed, scsiEhTimedOut, scsiEhWakeup } from './scsi_eh.ts';
import { sdevPrefix, sdevPrintk } from './scsi_logging.ts';
import { SbitmapTags } from './blk_mq_tag.ts';
import { scsiLogCompletion, scsiLogSend, sdevFormatHeader } from './constants.ts';

/** How long blk-mq waits before re-running a queue that reported busy. */
const BUSY_REQUEUE_DELAY = 3 * NS_PER_MS;

/** scsi_device_set_state: -EINVAL (thrown) on an illegal transition. */
export function scsiDeviceSetState(sdev: ScsiDevice, state: SdevState): void {
  if (!sdevTransitionAllowed(sdev.state, state)) throw new Errno('EINVAL');
  sdev.state = state;
  sdev.offlineAlready = false;
}

/** The mid-layer's hooks into the error handler (scsi_error.c), installed by the EH module. */
export interface EhHooks {
  /** A completed command whose disposition is FAILED. */
  failed(mod: ScsiMod, cmd: ScsiCmnd): void;
  /** The request timer fired and the LLD did not ask to reset it. */
  timedOut(mod: ScsiMod, cmd: ScsiCmnd): void;
}

/** The error handler of scsi_eh.ts, unless a test installs its own (setEhHooks). */
let ehOverride: EhHooks | null = null;
export function setEhHooks(hooks: EhHooks | null): void {
  ehOverride = hooks;
}
function ehFailed(mod: ScsiMod, cmd: ScsiCmnd): void {
  if (ehOverride) ehOverride.failed(mod, cmd);
  else scsiEhFailed(mod, cmd);
}
function ehTimedOut(mod: ScsiMod, cmd: ScsiCmnd): void {
  if (ehOverride) ehOverride.timedOut(mod, cmd);
  else scsiEhTimedOut(mod, cmd);
}

/**
 * Commands holding their tag and counted in host_busy/device_busy (SCMD_STATE_INFLIGHT): from
 * dispatch until the mid-layer is done with them — a command that failed or timed out stays
 * counted while the error handler owns it, as in Linux, so the EH wakes when host_busy == host_failed.
 */
const holding = new WeakSet<ScsiCmnd>();

/** Commands waiting for their LU to admit them (queue_depth reached, host in recovery), FIFO. */
const waiting = new WeakMap<ScsiDevice, ScsiCmnd[]>();

/** Completion routing for commands the error handler sends itself (SUBMITTED_BY_SCSI_ERROR_HANDLER). */
const ehSubmitted = new WeakMap<ScsiCmnd, (cmd: ScsiCmnd) => void>();

/** scsi_host_in_recovery */
export function scsiHostInRecovery(host: ScsiHost): boolean {
  return host.state === 'recovery' || host.state === 'cancel/recovery' || host.state === 'deleted/recovery';
}

/** The host's blk-mq tags of one hardware queue (sbitmap), created on first use. */
function tagsOf(sdev: ScsiDevice, hwq: number): SbitmapTags {
  const host = sdev.host;
  let t = host.tags[hwq];
  if (!t) {
    t = new SbitmapTags(host.canQueue, host.tagHintSeed(hwq));
    host.tags[hwq] = t;
  }
  return t;
}

/** What the logging lines need to know about a command's device (scmd_printk's prefix and disk). */
function logContext(mod: ScsiMod, cmd: ScsiCmnd): { devPrefix: string; diskName: string | undefined; now: number; hostBusy: number; hostFailed: number } {
  const sdev = cmd.device;
  return { devPrefix: sdevPrefix(sdev), diskName: sdev.diskName ?? undefined, now: mod.kernel.loop.now(), hostBusy: sdev.host.hostBusy, hostFailed: sdev.host.hostFailed };
}

function logLines(mod: ScsiMod, lines: readonly string[]): void {
  for (const l of lines) mod.kernel.printk(KERN_INFO, l);
}

/**
 * scsi_io_completion_action's ACTION_RETRY for a current UNIT ATTENTION on a fixed (non-removable)
 * device ("must have been a power glitch, or a bus reset"): the same command goes out again,
 * silently, while the request is younger than (allowed + 1) × timeout.
 */
function ioCompletionRetries(mod: ScsiMod, cmd: ScsiCmnd): boolean {
  if (cmd.result === 0 || hostByte(cmd.result) !== 0 || statusByte(cmd.result) !== 2 || cmd.device.removable) return false;
  const sshdr = normalizeSense(cmd.senseBuffer, cmd.senseBuffer.length);
  if (!sshdr || (sshdr.responseCode & 0x0f) !== 0 || sshdr.senseKey !== SENSE_KEY.UNIT_ATTENTION) return false;
  return mod.kernel.loop.now() < cmd.jiffiesAtAlloc + (cmd.allowed + 1) * cmd.timeout;
}

/**
 * A block request's command from an upper driver (sd, sr): queued, re-queued for as long as
 * scsi_io_completion would retry it at once, and resolved with its final completion.
 */
export function scsiQueueRq(mod: ScsiMod, cmd: ScsiCmnd): Promise<ScsiCmnd> {
  return new Promise((resolve) => {
    const done = (c: ScsiCmnd): void => {
      if (!ioCompletionRetries(mod, c)) return resolve(c);
      c.complete = done;
      scsiQueueCommand(mod, c);
    };
    cmd.complete = done;
    scsiQueueCommand(mod, cmd);
  });
}

/** Issues (or re-issues) a command to the LLD. */
export function scsiQueueCommand(mod: ScsiMod, cmd: ScsiCmnd): void {
  dispatch(mod, cmd, false);
}

/** True when the LU may take one more command now (scsi_dev_queue_ready + scsi_host_queue_ready). */
function admissible(sdev: ScsiDevice): boolean {
  return !scsiHostInRecovery(sdev.host) && sdev.deviceBusy < Math.max(1, sdev.queueDepth);
}

function dispatch(mod: ScsiMod, cmd: ScsiCmnd, fromWaitList: boolean): void {
  const sdev = cmd.device;
  const host = sdev.host;
  // Admission (scsi_device_state_check).
  if (sdev.state === 'offline' || sdev.state === 'transport-offline' || sdev.state === 'deleted') {
    if (sdev.state === 'deleted') sdevPrintk(mod, KERN_INFO, sdev, 'rejecting I/O to dead device');
    else if (!sdev.offlineAlready) {
      sdevPrintk(mod, KERN_INFO, sdev, 'rejecting I/O to offline device');
      sdev.offlineAlready = true;
    }
    cmd.result = DID_NO_CONNECT << 16;
    finishCommand(cmd);
    return;
  }
  if (sdev.state === 'blocked' || sdev.state === 'created-blocked') {
    mod.kernel.loop.after(BUSY_REQUEUE_DELAY, () => scsiQueueCommand(mod, cmd));
    return;
  }
  // The LU's queue: a command beyond queue_depth, or any while the host is in recovery, waits in
  // order until a command of this LU is released or the host restarts (scsi_run_queue).
  const wl = waiting.get(sdev);
  if (!admissible(sdev) || (!fromWaitList && wl !== undefined && wl.length > 0)) {
    if (wl) wl.push(cmd);
    else waiting.set(sdev, [cmd]);
    return;
  }
  cmd.hwq = 0;
  const tag = tagsOf(sdev, cmd.hwq).get();
  if (tag < 0) {
    mod.kernel.loop.after(BUSY_REQUEUE_DELAY, () => scsiQueueCommand(mod, cmd));
    return;
  }
  cmd.tag = tag;
  cmd.result = 0;
  cmd.resid = 0;
  cmd.senseBuffer.fill(0);
  host.hostBusy++;
  sdev.deviceBusy++;
  sdev.iorequestCnt++;
  sdev.inflight.add(cmd);
  holding.add(cmd);
  cmd.inFlight = true;
  armTimer(mod, cmd);
  if (mod.params.scsiLoggingLevel) logLines(mod, scsiLogSend(cmd, logContext(mod, cmd), mod.params.scsiLoggingLevel));
  const rtn = host.template.queuecommand(host, cmd);
  if (rtn === SCSI_MLQUEUE_HOST_BUSY || rtn === SCSI_MLQUEUE_DEVICE_BUSY) {
    cmd.inFlight = false;
    cmd.timer?.cancel();
    cmd.timer = null;
    release(mod, cmd, false);
    mod.kernel.loop.after(BUSY_REQUEUE_DELAY, () => scsiQueueCommand(mod, cmd));
  }
}

/**
 * Gives back a command's tag and its place in host_busy/device_busy (scsi_device_unbusy), then
 * lets the LU's waiting commands in and wakes the error handler if it waits for this. Idempotent.
 */
export function scsiReleaseCommand(mod: ScsiMod, cmd: ScsiCmnd): void {
  release(mod, cmd, true);
}

function release(mod: ScsiMod, cmd: ScsiCmnd, runQueue: boolean): void {
  if (!holding.has(cmd)) return;
  holding.delete(cmd);
  const sdev = cmd.device;
  sdev.host.hostBusy--;
  sdev.deviceBusy--;
  sdev.inflight.delete(cmd);
  tagsOf(sdev, cmd.hwq).put(cmd.tag);
  if (scsiHostInRecovery(sdev.host)) scsiEhWakeup(mod, sdev.host);
  if (runQueue) runDeviceQueue(mod, sdev);
}

/** scsi_run_queue for one LU: admits waiting commands while it can take them. */
function runDeviceQueue(mod: ScsiMod, sdev: ScsiDevice): void {
  const wl = waiting.get(sdev);
  if (!wl || wl.length === 0) return;
  // Admission happens in the block layer's own work (kblockd), not inside the completion.
  mod.kernel.loop.after(0, () => {
    while (wl.length > 0 && (admissible(sdev) || !sdevAdmitsIo(sdev))) dispatch(mod, wl.shift()!, true);
  });
}

/** States in which dispatch decides at once (fails or delays) rather than waiting in the LU's queue. */
function sdevAdmitsIo(sdev: ScsiDevice): boolean {
  return sdev.state !== 'offline' && sdev.state !== 'transport-offline' && sdev.state !== 'deleted' && sdev.state !== 'blocked' && sdev.state !== 'created-blocked';
}

/** scsi_run_host_queues: after recovery, every LU's waiting commands go out. */
export function scsiRunHostQueues(mod: ScsiMod, host: ScsiHost): void {
  for (const sdev of host.devices) runDeviceQueue(mod, sdev);
}

/** Commands waiting in an LU's queue (not yet given to the LLD). */
export function scsiWaitingCount(sdev: ScsiDevice): number {
  return waiting.get(sdev)?.length ?? 0;
}

/** Debian's CONFIG_HZ. */
const HZ = 250;
const JIFFY_NS = NS_PER_S / HZ;
/** blk_round_jiffies adds roundup_pow_of_two(HZ) jiffies: a timer "rounded up" by about a second. */
const BLK_TIMEOUT_SLACK_NS = 256 * JIFFY_NS;
/** BLK_MAX_TIMEOUT: the queue's timer never sleeps longer than 5 s (plus the slack) past arming. */
const BLK_MAX_TIMEOUT_NS = 5 * NS_PER_S;

/**
 * blk_add_timer: the request's deadline is now + timeout, but the queue's timer is set later than
 * that (deadline + slack), capped at now + BLK_MAX_TIMEOUT + slack. When it fires before the deadline
 * (a long timeout hit the cap), blk_mq_timeout_work re-arms it for the deadline itself.
 */
function armTimer(mod: ScsiMod, cmd: ScsiCmnd): void {
  const loop = mod.kernel.loop;
  const now = loop.now();
  const deadline = now + cmd.timeout;
  const first = Math.min(deadline + BLK_TIMEOUT_SLACK_NS, now + BLK_MAX_TIMEOUT_NS + BLK_TIMEOUT_SLACK_NS);
  // A request timer is no work of its own: a command waiting on a paused VM leaves the guest idle.
  const fire = (): void => {
    if (loop.now() < deadline) {
      cmd.timer = loop.after(deadline - loop.now(), fire, { daemon: true });
      return;
    }
    scsiTimeout(mod, cmd);
  };
  cmd.timer = loop.after(first - now, fire, { daemon: true });
}

/** scsi_timeout: counts the expiry, then asks the LLD (virtio_scsi always resets the timer). */
function scsiTimeout(mod: ScsiMod, cmd: ScsiCmnd): void {
  cmd.timer = null;
  if (!cmd.inFlight) return;
  cmd.device.iotmoCnt++;
  if (mod.params.scsiLoggingLevel) logLines(mod, scsiLogCompletion(cmd, logContext(mod, cmd), 'TIMEOUT_ERROR', mod.params.scsiLoggingLevel));
  const answer = cmd.device.host.template.ehTimedOut?.(cmd) ?? 'done';
  if (answer === 'reset-timer') {
    armTimer(mod, cmd);
    return;
  }
  // BLK_EH_DONE: the request is marked complete, so a late answer from the LLD is ignored.
  cmd.inFlight = false;
  ehTimedOut(mod, cmd);
}

/**
 * Sends a command the error handler built (REQUEST SENSE, TEST UNIT READY, START UNIT) straight to
 * the LLD on the failed command's tag, bypassing the queue; `done` runs on the LLD's scsi_done.
 * Returns the LLD's queuecommand value.
 */
export function scsiEhQueue(cmd: ScsiCmnd, done: (cmd: ScsiCmnd) => void): number {
  ehSubmitted.set(cmd, done);
  cmd.inFlight = true;
  const host = cmd.device.host;
  const rtn = host.template.queuecommand(host, cmd);
  if (rtn !== 0) {
    cmd.inFlight = false;
    ehSubmitted.delete(cmd);
  }
  return rtn;
}

/** Marks an EH command abandoned (its wait timed out): a late completion is dropped. */
export function scsiEhAbandon(cmd: ScsiCmnd): void {
  cmd.inFlight = false;
  ehSubmitted.delete(cmd);
}

/**
 * scsi_done: called by the LLD once the device answered. A second completion of the same command
 * is ignored (the block layer's completion state guards it the same way).
 */
export function scsiDone(mod: ScsiMod, cmd: ScsiCmnd): void {
  if (!cmd.inFlight) return;
  cmd.inFlight = false;
  const ehDone = ehSubmitted.get(cmd);
  if (ehDone) {
    ehSubmitted.delete(cmd);
    ehDone(cmd);
    return;
  }
  cmd.timer?.cancel();
  cmd.timer = null;
  const sdev = cmd.device;
  sdev.iodoneCnt++;
  if (cmd.result !== 0) sdev.ioerrCnt++;
  const d = decideDisposition(cmd, (dev, sshdr) => reportSense(mod, dev, sshdr));
  cmd.result = d.result;
  cmd.ml = d.ml;
  const disposition = d.disposition !== 'SUCCESS' && runtimeExceeded(mod, cmd) ? 'SUCCESS' : d.disposition;
  if (mod.params.scsiLoggingLevel) logLines(mod, scsiLogCompletion(cmd, logContext(mod, cmd), disposition, mod.params.scsiLoggingLevel));
  switch (disposition) {
    case 'SUCCESS':
      scsiReleaseCommand(mod, cmd);
      finishCommand(cmd);
      return;
    case 'NEEDS_RETRY':
      release(mod, cmd, false);
      dispatch(mod, cmd, true);
      return;
    case 'ADD_TO_MLQUEUE':
      scsiReleaseCommand(mod, cmd);
      mod.kernel.loop.after(BUSY_REQUEUE_DELAY, () => scsiQueueCommand(mod, cmd));
      return;
    case 'FAILED':
    case 'MAYBE_RETRY':
      ehFailed(mod, cmd);
      return;
  }
}

/**
 * scsi_cmd_runtime_exceeced: a command older than (allowed + 1) × its timeout is not retried or
 * handed to the EH any more; it finishes with what it has.
 */
function runtimeExceeded(mod: ScsiMod, cmd: ScsiCmnd): boolean {
  if (cmd.allowed === -1) return false;
  const waitFor = (cmd.allowed + 1) * cmd.timeout;
  if (cmd.jiffiesAtAlloc + waitFor >= mod.kernel.loop.now()) return false;
  sdevPrintk(mod, KERN_ERR, cmd.device, sdevFormatHeader(cmd.device.diskName ?? undefined, cmd.tag) + `timing out command, waited ${Math.floor(waitFor / NS_PER_S)}s`);
  return true;
}

/** scsi_finish_command for a command the mid-layer is done with: releases it, then completes it. */
export function scsiFinishCommand(mod: ScsiMod, cmd: ScsiCmnd): void {
  scsiReleaseCommand(mod, cmd);
  finishCommand(cmd);
}

export function finishCommand(cmd: ScsiCmnd): void {
  const done = cmd.complete;
  cmd.complete = null;
  done?.(cmd);
}

/** scsi_report_sense: the UNIT ATTENTION messages and their change uevents. */
export function reportSense(mod: ScsiMod, sdev: ScsiDevice, sshdr: SenseHdr): void {
  const rule = uaRule(sshdr);
  if (!rule) return;
  if (rule.setsExpectingLunChange) sdev.target.expectingLunChange = true;
  sdevPrintk(mod, UA_LOG_LEVEL, sdev, rule.message);
  if (rule.uevent && sdev.isVisible) mod.kernel.dm.uevent(sdev.sdevGendev, 'change', [['SDEV_UA', rule.uevent]]);
}

export interface ExecuteRequest {
  readonly cdb: ArrayLike<number>;
  readonly dir: DmaDirection;
  /** Bytes to transfer: the data-in buffer size, or the data-out bytes. */
  readonly length?: number;
  readonly dataOut?: Uint8Array;
  /** Seconds. */
  readonly timeout: number;
  readonly retries: number;
}

export interface ExecuteResult {
  readonly result: number;
  readonly resid: number;
  readonly data: Uint8Array;
  readonly sense: Uint8Array;
  readonly sshdr: SenseHdr | null;
}

/**
 * scsi_execute: an internal passthrough command with a kernel bounce buffer in guest memory.
 * Resolves when the command is finished (retries per `retries`, never after CHECK CONDITION).
 */
export function scsiExecute(mod: ScsiMod, sdev: ScsiDevice, req: ExecuteRequest): Promise<ExecuteResult> {
  const k = mod.kernel;
  const length = req.dataOut?.length ?? req.length ?? 0;
  let buf: Gpa | null = null;
  if (length > 0) {
    buf = k.dma.alloc(length, 8);
    if (req.dataOut) k.mem.writeBytes(buf, req.dataOut);
  }
  const cmd = new ScsiCmnd(sdev);
  cmd.setCdb(req.cdb);
  cmd.dir = length > 0 ? req.dir : 'none';
  cmd.sgl = buf !== null ? [{ addr: buf, len: length }] : [];
  cmd.length = length;
  cmd.timeout = req.timeout * NS_PER_S;
  cmd.allowed = req.retries;
  cmd.passthrough = true;
  cmd.jiffiesAtAlloc = k.loop.now();
  return new Promise((resolve) => {
    cmd.complete = (c) => {
      const data = buf !== null && c.dir === 'from-dev' ? k.mem.readBytes(buf, length) : new Uint8Array(0);
      if (buf !== null) k.dma.free(buf);
      const sense = c.senseBuffer.slice();
      resolve({ result: c.result, resid: c.resid, data, sense, sshdr: normalizeSense(sense, sense.length) });
    };
    scsiQueueCommand(mod, cmd);
  });
}
