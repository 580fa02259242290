// Models drivers/scsi/scsi_error.c (Linux 6.1): the error handler — scsi_eh_scmd_add and the
// scsi_eh_N thread (scsi_error_handler → scsi_unjam_host: get sense, START UNIT, device/target/bus/
// host reset, offline; flush the done queue; restart the host), the timeout path's abort work
// (scsi_abort_command → scmd_eh_abort_handler after 10 ms on scsi_tmf_N) and the commands the EH
// sends itself (scsi_send_eh_cmnd). The dispositions and sense tables live in scsi_error.ts.
//
// The thread is async process-context code tracked by ScsiMod; every wait is on the virtual clock.
// A reset handler that never returns (virtscsi_tmf waits without a timeout) leaves the thread blocked
// in state D, which the hung-task detector (kernel/hung_task.ts) reports after 120 s.

import { KERN_ERR, KERN_INFO, KERN_WARNING } from '../kernel/kernel.ts';
import { hungTaskBlock, KTHREAD_TIF_FLAGS } from '../kernel/hung_task.ts';
import type { StackFrame } from '../kernel/hung_task.ts';
import { NS_PER_MS, NS_PER_S } from '../sim/event_loop.ts';
import type { ScsiDriver, ScsiMod } from './scsi.ts';
import { DID_OK, DID_RESET, DID_TIME_OUT, hostByte, normalizeSense, statusByte } from './scsi_common.ts';
import { ScsiCmnd, SCSI_SENSE_BUFFERSIZE } from './scsi_cmnd.ts';
import type { ScsiDevice } from './scsi_device.ts';
import type { EhResult, ScsiHost } from './scsi_host.ts';
import { sdevOnline, shostTransitionAllowed } from './scsi_device_state.ts';
import type { ShostState } from './scsi_device_state.ts';
import { checkSense, decideDisposition, SAM_STAT_BUSY, SAM_STAT_CHECK_CONDITION, SAM_STAT_COMMAND_TERMINATED, SAM_STAT_CONDITION_MET, SAM_STAT_GOOD, SAM_STAT_INTERMEDIATE, SAM_STAT_INTERMEDIATE_CONDITION_MET, SAM_STAT_RESERVATION_CONFLICT, SAM_STAT_TASK_SET_FULL } from './scsi_error.ts';
import type { Disposition } from './scsi_error.ts';
import { reportSense, scsiDeviceSetState, scsiEhAbandon, scsiEhQueue, scsiFinishCommand, scsiQueueCommand, scsiReleaseCommand, scsiRunHostQueues } from './scsi_lib.ts';
import { scsiLogging, sdevPrefix, sdevPrintk, shostPrintk } from './scsi_logging.ts';
import { scsiLogCompletion, scsiLogSend, scsiPrintSense, sdevFormatHeader } from './constants.ts';

/** Delay before the timeout path's abort work runs (queue_delayed_work(…, HZ / 100)). */
export const ABORT_DELAY = 10 * NS_PER_MS;
/** BUS_RESET_SETTLE_TIME / HOST_RESET_SETTLE_TIME: 10 s. */
export const RESET_SETTLE_TIME = 10 * NS_PER_S;
/** scsi_send_eh_cmnd's stall between queuecommand attempts that report busy (HZ / 10). */
const EH_STALL_TIME = 100 * NS_PER_MS;
const REQUEST_SENSE = 0x03;
const TEST_UNIT_READY = 0x00;
const START_STOP = 0x1b;

/** Per-host EH state (the eh_cmd_q, eh_abort_list and last_reset of struct Scsi_Host). */
interface HostEh {
  readonly cmdQ: ScsiCmnd[];
  readonly abortList: Set<ScsiCmnd>;
  running: boolean;
  /** Virtual ns when the first failure of this recovery was seen (eh_deadline), or null. */
  lastReset: number | null;
  /** Number of EH thread runs (for tests and the library's events). */
  runs: number;
}

const hostEh = new WeakMap<ScsiHost, HostEh>();
/** SCSI_EH_ABORT_SCHEDULED: set once the timeout path scheduled an abort; kept for the command's life. */
const abortScheduled = new WeakSet<ScsiCmnd>();

function ehOf(host: ScsiHost): HostEh {
  let st = hostEh.get(host);
  if (!st) {
    st = { cmdQ: [], abortList: new Set(), running: false, lastReset: null, runs: 0 };
    hostEh.set(host, st);
  }
  return st;
}

/** How many times the host's EH thread has run a recovery (0 when it never woke). */
export function scsiEhRuns(host: ScsiHost): number {
  return hostEh.get(host)?.runs ?? 0;
}

/** True while the EH thread of this host is running (or blocked in a handler). */
export function scsiEhActive(host: ScsiHost): boolean {
  return hostEh.get(host)?.running ?? false;
}

// ---- logging -----------------------------------------------------------------------------------

/** SCSI_LOG_ERROR_RECOVERY(level, …): printed when the ERROR field of scsi_logging_level exceeds it. */
const logEr = (mod: ScsiMod, level: number): boolean => scsiLogging(mod, 'ERROR', level);

function scmdPrintk(mod: ScsiMod, level: number, cmd: ScsiCmnd, text: string): void {
  sdevPrintk(mod, level, cmd.device, sdevFormatHeader(cmd.device.diskName ?? undefined, cmd.tag) + text);
}

const ehComm = (host: ScsiHost): string => `scsi_eh_${host.hostNo}`;

function logCtx(mod: ScsiMod, cmd: ScsiCmnd): { devPrefix: string; diskName: string | undefined; now: number; hostBusy: number; hostFailed: number } {
  const sdev = cmd.device;
  return { devPrefix: sdevPrefix(sdev), diskName: sdev.diskName ?? undefined, now: mod.kernel.loop.now(), hostBusy: sdev.host.hostBusy, hostFailed: sdev.host.hostFailed };
}

function printLines(mod: ScsiMod, lines: readonly string[]): void {
  for (const l of lines) mod.kernel.printk(KERN_INFO, l);
}

// ---- hung-task identity of the waiting thread ----------------------------------------------------

/**
 * Kernel-thread pids: not captured. scsi_eh_N and scsi_tmf_N are created at scsi_host_alloc, after
 * the boot's own kthreads; these are plausible values for the captured boot (virtio_scsi loaded at
 * ~9.8 s by /init), two pids per host.
 */
const SCSI_EH_PID_BASE = 173;
const KWORKER_PID = 52;

/** The LLD's own frames between the wait and the handler, for the drivers we model. */
const LLD_TMF_FRAMES: Readonly<Record<string, { wait: StackFrame; abort: StackFrame; device: StackFrame }>> = {
  virtio_scsi: {
    wait: { fn: 'virtscsi_tmf', off: 0xa5, size: 0x130, module: 'virtio_scsi' },
    abort: { fn: 'virtscsi_abort', off: 0x7c, size: 0xb0, module: 'virtio_scsi' },
    device: { fn: 'virtscsi_device_reset', off: 0x73, size: 0xa0, module: 'virtio_scsi' },
  },
};

const WAIT_FRAMES: readonly StackFrame[] = [
  { fn: '__schedule', off: 0x351, size: 0xa20 },
  { fn: 'schedule', off: 0x5d, size: 0xe0 },
  { fn: 'schedule_timeout', off: 0x118, size: 0x150 },
  { fn: '__wait_for_common', off: 0x90, size: 0x1d0 },
];

type EhStep = 'abort' | 'device' | 'target' | 'bus' | 'host';

/** Who waits for a handler: the EH thread, the scsi_tmf_N work (a kworker), or a process's ioctl. */
export type EhWaiter = 'eh' | 'tmf-work' | { readonly comm: string; readonly pid: number };

function blockedTrace(host: ScsiHost, step: EhStep, who: EhWaiter, caller: string): StackFrame[] {
  const lld = LLD_TMF_FRAMES[host.template.procName];
  const frames: StackFrame[] = [...WAIT_FRAMES];
  if (lld && (step === 'abort' || step === 'device')) frames.push(lld.wait, step === 'abort' ? lld.abort : lld.device);
  if (who === 'eh') {
    frames.push(
      { fn: caller, off: caller === 'scsi_send_eh_cmnd' ? 0x2f4 : 0x2c9, size: caller === 'scsi_send_eh_cmnd' ? 0x4a0 : 0xa30, module: 'scsi_mod' },
      { fn: 'scsi_error_handler', off: 0x3c1, size: 0x4f0, module: 'scsi_mod' },
      { fn: 'scsi_eh_get_sense', off: 0x240, size: 0x240, module: 'scsi_mod', unreliable: true },
    );
  } else if (who === 'tmf-work') {
    frames.push(
      { fn: 'scmd_eh_abort_handler', off: 0x6e, size: 0x1e0, module: 'scsi_mod' },
      { fn: 'process_one_work', off: 0x1c7, size: 0x380 },
      { fn: 'worker_thread', off: 0x4d, size: 0x380 },
      { fn: 'rescuer_thread', off: 0x3a0, size: 0x3a0, unreliable: true },
    );
  } else {
    // A process in SG_SCSI_RESET: no kthread frames, the syscall path instead.
    return [
      ...frames,
      { fn: 'scsi_ioctl_reset', off: 0x1c5, size: 0x2b0, module: 'scsi_mod' },
      { fn: 'scsi_ioctl', off: 0x3a8, size: 0x8d0, module: 'scsi_mod' },
      { fn: 'sg_ioctl', off: 0x8bc, size: 0xd70, module: 'sg' },
      { fn: '__x64_sys_ioctl', off: 0x8d, size: 0xd0 },
      { fn: 'do_syscall_64', off: 0x58, size: 0xc0 },
      { fn: 'entry_SYSCALL_64_after_hwframe', off: 0x64, size: 0xce },
    ];
  }
  frames.push(
    { fn: 'kthread', off: 0xda, size: 0x100 },
    { fn: 'kthread_complete_and_exit', off: 0x20, size: 0x20, unreliable: true },
    { fn: 'ret_from_fork', off: 0x22, size: 0x30 },
  );
  return frames;
}

/** Awaits an LLD handler as a task in state D: the hung-task detector reports it if it never returns. */
async function blockedIn<T>(mod: ScsiMod, host: ScsiHost, step: EhStep, who: EhWaiter, caller: string, p: Promise<T>): Promise<T> {
  const k = mod.kernel;
  const id = who === 'eh' ? { comm: ehComm(host), pid: SCSI_EH_PID_BASE + 2 * host.hostNo } : who === 'tmf-work' ? { comm: `kworker/u${2 * k.nrCpus}:1`, pid: KWORKER_PID } : who;
  const wake = hungTaskBlock(k, { ...id, ppid: who === 'eh' || who === 'tmf-work' ? 2 : 1, flags: who === 'eh' || who === 'tmf-work' ? KTHREAD_TIF_FLAGS : 0, trace: blockedTrace(host, step, who, caller) });
  try {
    return await p;
  } finally {
    wake();
  }
}

function sleep(mod: ScsiMod, ns: number): Promise<void> {
  return new Promise((resolve) => mod.kernel.loop.after(ns, resolve));
}

// ---- entry points from scsi_lib ------------------------------------------------------------------

/** scsi_host_eh_past_deadline */
function pastDeadline(mod: ScsiMod, host: ScsiHost): boolean {
  const st = ehOf(host);
  if (st.lastReset === null || host.ehDeadline === -1) return false;
  return mod.kernel.loop.now() >= st.lastReset + host.ehDeadline * NS_PER_S;
}

function noteFirstFailure(mod: ScsiMod, host: ScsiHost): void {
  const st = ehOf(host);
  if (host.ehDeadline !== -1 && st.lastReset === null) st.lastReset = mod.kernel.loop.now();
}

const setHostByte = (cmd: ScsiCmnd, hb: number): void => {
  cmd.result = ((cmd.result & 0xff00ffff) | (hb << 16)) >>> 0;
};

/** A completed command whose disposition is FAILED. */
export function scsiEhFailed(mod: ScsiMod, cmd: ScsiCmnd): void {
  scsiEhScmdAdd(mod, cmd);
}

/** scsi_timeout after the LLD answered BLK_EH_DONE: schedule an abort, or escalate when one failed. */
export function scsiEhTimedOut(mod: ScsiMod, cmd: ScsiCmnd): void {
  noteFirstFailure(mod, cmd.device.host);
  if (scsiAbortCommand(mod, cmd) !== 'SUCCESS') {
    setHostByte(cmd, DID_TIME_OUT);
    scsiEhScmdAdd(mod, cmd);
  }
}

/** scsi_eh_scmd_add: the host enters recovery, the command joins eh_cmd_q, host_failed++. */
export function scsiEhScmdAdd(mod: ScsiMod, cmd: ScsiCmnd): void {
  const host = cmd.device.host;
  if (!setHostState(host, 'recovery')) setHostState(host, 'cancel/recovery');
  noteFirstFailure(mod, host);
  // scsi_eh_reset: the upper-level driver hears of it.
  if (!cmd.passthrough) uldOf(mod, cmd)?.ehReset?.(cmd);
  ehOf(host).cmdQ.push(cmd);
  host.hostFailed++;
  scsiEhWakeup(mod, host);
}

/** scsi_eh_wakeup: the thread runs once every outstanding command has completed or failed. */
export function scsiEhWakeup(mod: ScsiMod, host: ScsiHost): void {
  const st = ehOf(host);
  if (st.running || host.hostFailed === 0 || host.hostBusy !== host.hostFailed) return;
  st.running = true;
  mod.track(scsiErrorHandler(mod, host));
}

/** scsi_host_set_state */
function setHostState(host: ScsiHost, state: ShostState): boolean {
  if (!shostTransitionAllowed(host.state, state)) return false;
  host.state = state;
  return true;
}

// ---- the timeout path's abort (scsi_tmf_N work) ------------------------------------------------

/** scsi_abort_command */
function scsiAbortCommand(mod: ScsiMod, cmd: ScsiCmnd): 'SUCCESS' | 'FAILED' {
  const host = cmd.device.host;
  if (abortScheduled.has(cmd)) {
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, 'previous abort failed');
    return 'FAILED';
  }
  noteFirstFailure(mod, host);
  ehOf(host).abortList.add(cmd);
  abortScheduled.add(cmd);
  if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, 'abort scheduled');
  mod.kernel.loop.after(ABORT_DELAY, () => {
    mod.track(scmdEhAbortHandler(mod, cmd));
  });
  return 'SUCCESS';
}

/** scsi_noretry_cmd: passthrough requests are not retried after CHECK CONDITION or a timeout. */
function noRetryCmd(cmd: ScsiCmnd): boolean {
  const hb = hostByte(cmd.result);
  if (hb === DID_TIME_OUT) return cmd.passthrough;
  if (hb !== DID_OK) return false;
  return statusByte(cmd.result) === SAM_STAT_CHECK_CONDITION && cmd.passthrough;
}

/** scsi_cmd_retry_allowed */
function retryAllowed(cmd: ScsiCmnd): boolean {
  return cmd.allowed === -1 || ++cmd.retries <= cmd.allowed;
}

/** scsi_eh_should_retry_cmd: not once the request is older than (allowed + 1) × its timeout. */
function shouldRetry(mod: ScsiMod, cmd: ScsiCmnd): boolean {
  if (cmd.allowed === -1) return true;
  const waitFor = (cmd.allowed + 1) * cmd.timeout;
  if (cmd.jiffiesAtAlloc + waitFor < mod.kernel.loop.now()) {
    scmdPrintk(mod, KERN_ERR, cmd, `timing out command, waited ${Math.floor(waitFor / NS_PER_S)}s`);
    return false;
  }
  return true;
}

/** scsi_queue_insert(…, SCSI_MLQUEUE_EH_RETRY): back to the LU's queue. */
function requeue(mod: ScsiMod, cmd: ScsiCmnd): void {
  scsiReleaseCommand(mod, cmd);
  scsiQueueCommand(mod, cmd);
}

async function scmdEhAbortHandler(mod: ScsiMod, cmd: ScsiCmnd): Promise<void> {
  const host = cmd.device.host;
  const st = ehOf(host);
  const escalate = (): void => {
    st.abortList.delete(cmd);
    scsiEhScmdAdd(mod, cmd);
  };
  if (pastDeadline(mod, host)) {
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, 'eh timeout, not aborting');
    escalate();
    return;
  }
  if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, 'aborting command');
  const rtn = await tryToAbortCmd(mod, cmd, 'tmf-work', 'scmd_eh_abort_handler');
  if (rtn !== 'SUCCESS') {
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, `cmd abort ${rtn === 'FAST_IO_FAIL' ? 'not send' : 'failed'}`);
    escalate();
    return;
  }
  setHostByte(cmd, DID_TIME_OUT);
  if (pastDeadline(mod, host)) {
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, 'eh timeout, not retrying aborted command');
    escalate();
    return;
  }
  st.abortList.delete(cmd);
  if (st.abortList.size === 0 && st.cmdQ.length === 0 && host.ehDeadline !== -1) st.lastReset = null;
  if (!noRetryCmd(cmd) && retryAllowed(cmd) && shouldRetry(mod, cmd)) {
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_WARNING, cmd, 'retry aborted command');
    requeue(mod, cmd);
  } else {
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_WARNING, cmd, 'finish aborted command');
    scsiFinishCommand(mod, cmd);
  }
}

// ---- LLD handlers --------------------------------------------------------------------------------

async function callHandler(mod: ScsiMod, cmd: ScsiCmnd, step: EhStep, who: EhWaiter, caller: string, fn: ((c: ScsiCmnd) => Promise<EhResult>) | undefined): Promise<EhResult> {
  if (!fn) return 'FAILED';
  return blockedIn(mod, cmd.device.host, step, who, caller, fn(cmd));
}

/** scsi_try_to_abort_cmd */
function tryToAbortCmd(mod: ScsiMod, cmd: ScsiCmnd, who: EhWaiter, caller: string): Promise<EhResult> {
  const t = cmd.device.host.template;
  return callHandler(mod, cmd, 'abort', who, caller, t.ehAbortHandler?.bind(t));
}

function reportDeviceReset(sdev: ScsiDevice): void {
  sdev.wasReset = true;
  sdev.expectingCcUa = true;
}

/** scsi_try_bus_device_reset */
async function tryBusDeviceReset(mod: ScsiMod, cmd: ScsiCmnd, caller: string, who: EhWaiter = 'eh'): Promise<EhResult> {
  const t = cmd.device.host.template;
  const rtn = await callHandler(mod, cmd, 'device', who, caller, t.ehDeviceResetHandler?.bind(t));
  if (rtn === 'SUCCESS') reportDeviceReset(cmd.device);
  return rtn;
}

/** scsi_try_target_reset */
async function tryTargetReset(mod: ScsiMod, cmd: ScsiCmnd, caller: string, who: EhWaiter = 'eh'): Promise<EhResult> {
  const t = cmd.device.host.template;
  const rtn = await callHandler(mod, cmd, 'target', who, caller, t.ehTargetResetHandler?.bind(t));
  if (rtn === 'SUCCESS') for (const sdev of cmd.device.target.devices) reportDeviceReset(sdev);
  return rtn;
}

/** scsi_report_bus_reset */
function reportBusReset(host: ScsiHost, channel: number): void {
  for (const sdev of host.devices) if (sdev.channel === channel) reportDeviceReset(sdev);
}

/** scsi_try_bus_reset: on success the bus settles for 10 s. */
async function tryBusReset(mod: ScsiMod, cmd: ScsiCmnd, caller: string, who: EhWaiter = 'eh'): Promise<EhResult> {
  if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, 'scsi_try_bus_reset: Snd Bus RST');
  const t = cmd.device.host.template;
  const rtn = await callHandler(mod, cmd, 'bus', who, caller, t.ehBusResetHandler?.bind(t));
  if (rtn === 'SUCCESS') {
    await sleep(mod, RESET_SETTLE_TIME);
    reportBusReset(cmd.device.host, cmd.device.channel);
  }
  return rtn;
}

/** scsi_try_host_reset: on success the host settles for 10 s. */
async function tryHostReset(mod: ScsiMod, cmd: ScsiCmnd, caller: string, who: EhWaiter = 'eh'): Promise<EhResult> {
  const host = cmd.device.host;
  if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, 'Snd Host RST');
  const t = host.template;
  const rtn = await callHandler(mod, cmd, 'host', who, caller, t.ehHostResetHandler?.bind(t));
  if (rtn === 'SUCCESS') {
    await sleep(mod, RESET_SETTLE_TIME);
    reportBusReset(host, cmd.device.channel);
  }
  return rtn;
}

// ---- commands the EH sends itself ------------------------------------------------------------

/** scsi_eh_completed_normally */
function completedNormally(mod: ScsiMod, ecmd: ScsiCmnd): Disposition {
  const sense = (): Disposition => {
    const sshdr = normalizeSense(ecmd.senseBuffer, ecmd.senseBuffer.length);
    if (!sshdr) return 'FAILED';
    reportSense(mod, ecmd.device, sshdr);
    return checkSense(ecmd, sshdr, true).disposition;
  };
  const hb = hostByte(ecmd.result);
  if (hb === DID_RESET) return sense();
  if (hb !== DID_OK) return 'FAILED';
  switch (statusByte(ecmd.result)) {
    case SAM_STAT_GOOD:
      if ((ecmd.senseBuffer[0]! & 0x70) === 0x70) sense();
      return 'SUCCESS';
    case SAM_STAT_COMMAND_TERMINATED:
    case SAM_STAT_CONDITION_MET:
    case SAM_STAT_INTERMEDIATE:
    case SAM_STAT_INTERMEDIATE_CONDITION_MET:
      return 'SUCCESS';
    case SAM_STAT_CHECK_CONDITION:
      return sense();
    case SAM_STAT_RESERVATION_CONFLICT:
      return ecmd.cmnd[0] === TEST_UNIT_READY ? 'SUCCESS' : 'FAILED';
    case SAM_STAT_TASK_SET_FULL:
    case SAM_STAT_BUSY:
      return 'NEEDS_RETRY';
    default:
      return 'FAILED';
  }
}

/**
 * scsi_send_eh_cmnd: `cdb` on the failed command's tag, waited for up to `timeout` ns; a command
 * that does not come back is aborted (scsi_abort_eh_cmnd). With `senseBytes`, the data is the
 * failed command's new sense (REQUEST SENSE).
 */
async function sendEhCmnd(mod: ScsiMod, scmd: ScsiCmnd, cdb: readonly number[], timeout: number, senseBytes: number): Promise<Disposition> {
  const k = mod.kernel;
  const ecmd = new ScsiCmnd(scmd.device);
  ecmd.setCdb(cdb);
  ecmd.tag = scmd.tag;
  ecmd.hwq = scmd.hwq;
  ecmd.timeout = timeout;
  ecmd.jiffiesAtAlloc = scmd.jiffiesAtAlloc;
  let buf: number | null = null;
  if (senseBytes > 0) {
    buf = k.dma.alloc(senseBytes, 8);
    ecmd.dir = 'from-dev';
    ecmd.sgl = [{ addr: buf, len: senseBytes }];
    ecmd.length = senseBytes;
    scmd.senseBuffer.fill(0);
  }
  let timeleft = timeout;
  let rtn: Disposition;
  let completed = false;
  for (;;) {
    if (mod.params.scsiLoggingLevel) printLines(mod, scsiLogSend(ecmd, logCtx(mod, ecmd), mod.params.scsiLoggingLevel));
    let settled = false;
    let timer: { cancel(): void } | null = null;
    let wake: (ok: boolean) => void = () => {};
    const finished = new Promise<boolean>((resolve) => {
      wake = (ok) => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        resolve(ok);
      };
    });
    if (scsiEhQueue(ecmd, () => wake(true)) !== 0) {
      // The LLD is busy: stall and try again while time is left.
      if (timeleft > EH_STALL_TIME) {
        timeleft -= EH_STALL_TIME;
        await sleep(mod, EH_STALL_TIME);
        continue;
      }
      rtn = 'FAILED';
      break;
    }
    const start = k.loop.now();
    if (!settled) timer = k.loop.after(timeleft, () => wake(false));
    completed = await finished;
    timeleft = completed ? Math.max(1, timeleft - (k.loop.now() - start)) : 0;
    rtn = 'SUCCESS';
    break;
  }
  if (mod.params.scsiLoggingLevel) printLines(mod, scsiLogCompletion(ecmd, logCtx(mod, ecmd), rtn, mod.params.scsiLoggingLevel));
  if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, ecmd, `scsi_send_eh_cmnd timeleft: ${Math.ceil(timeleft / (NS_PER_S / 250))}`);
  if (completed) {
    rtn = completedNormally(mod, ecmd);
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, ecmd, `scsi_send_eh_cmnd: scsi_eh_completed_normally ${mlHex(rtn)}`);
    if (rtn === 'ADD_TO_MLQUEUE') rtn = 'NEEDS_RETRY';
    else if (rtn !== 'SUCCESS' && rtn !== 'NEEDS_RETRY' && rtn !== 'FAILED') rtn = 'FAILED';
    if (buf !== null) {
      const n = Math.max(0, senseBytes - ecmd.resid);
      scmd.senseBuffer.set(k.mem.readBytes(buf, Math.min(n, SCSI_SENSE_BUFFERSIZE)));
    }
  } else if (rtn !== 'FAILED') {
    scsiEhAbandon(ecmd);
    await abortEhCmnd(mod, ecmd);
    rtn = 'FAILED';
  }
  if (buf !== null) k.dma.free(buf);
  return rtn;
}

const ML_VALUES: Readonly<Record<Disposition, number>> = { NEEDS_RETRY: 0x2001, SUCCESS: 0x2002, FAILED: 0x2003, ADD_TO_MLQUEUE: 0x2006, MAYBE_RETRY: 0x2002 };
const mlHex = (d: Disposition): string => ML_VALUES[d].toString(16);

/** scsi_abort_eh_cmnd: an EH command that never came back climbs its own small ladder. */
async function abortEhCmnd(mod: ScsiMod, ecmd: ScsiCmnd): Promise<void> {
  const caller = 'scsi_send_eh_cmnd';
  if ((await tryToAbortCmd(mod, ecmd, 'eh', caller)) === 'SUCCESS') return;
  if ((await tryBusDeviceReset(mod, ecmd, caller)) === 'SUCCESS') return;
  if ((await tryTargetReset(mod, ecmd, caller)) === 'SUCCESS') return;
  if ((await tryBusReset(mod, ecmd, caller)) === 'SUCCESS') return;
  await tryHostReset(mod, ecmd, caller);
}

/** scsi_eh_tur: TEST UNIT READY, once more on NEEDS_RETRY; true when the device is ready. */
async function ehTur(mod: ScsiMod, scmd: ScsiCmnd): Promise<boolean> {
  for (let retry = 1; ; retry--) {
    const rtn = await sendEhCmnd(mod, scmd, [TEST_UNIT_READY, 0, 0, 0, 0, 0], scmd.device.ehTimeout, 0);
    if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, scmd, `scsi_eh_tur return: ${mlHex(rtn)}`);
    if (rtn === 'NEEDS_RETRY' && retry > 0) continue;
    return rtn === 'NEEDS_RETRY' || rtn === 'SUCCESS';
  }
}

/** scsi_eh_try_stu: START UNIT (at most twice) when the device allows restarts; true on success. */
async function ehTryStu(mod: ScsiMod, scmd: ScsiCmnd): Promise<boolean> {
  if (!scmd.device.allowRestart) return false;
  let rtn: Disposition = 'NEEDS_RETRY';
  for (let i = 0; rtn === 'NEEDS_RETRY' && i < 2; i++) {
    rtn = await sendEhCmnd(mod, scmd, [START_STOP, 0, 0, 0, 1, 0], scmd.device.timeout, 0);
  }
  return rtn === 'SUCCESS';
}

// ---- scsi_unjam_host -------------------------------------------------------------------------

type Q = ScsiCmnd[];

function moveTo(cmd: ScsiCmnd, from: Q, to: Q): void {
  const i = from.indexOf(cmd);
  if (i >= 0) from.splice(i, 1);
  to.push(cmd);
}

const senseValid = (cmd: ScsiCmnd): boolean => (cmd.senseBuffer[0]! & 0x70) === 0x70;

/** scsi_eh_action: the bound upper-level driver's say, for requests that are not passthrough. */
function ehAction(mod: ScsiMod, cmd: ScsiCmnd, disp: EhResult): EhResult {
  if (cmd.passthrough) return disp;
  const drv = uldOf(mod, cmd);
  return drv?.ehAction ? drv.ehAction(cmd, disp) : disp;
}

/** scsi_cmd_to_driver: the upper-level driver bound to the command's device. */
function uldOf(mod: ScsiMod, cmd: ScsiCmnd): ScsiDriver | undefined {
  const name = cmd.device.driver?.name;
  return name !== undefined ? mod.drivers.find((d) => d.name === name) : undefined;
}

/** scsi_eh_get_sense: REQUEST SENSE for CHECK CONDITIONs that came without sense. */
async function ehGetSense(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<boolean> {
  for (const cmd of [...work]) {
    if (abortScheduled.has(cmd) || senseValid(cmd)) continue;
    if (pastDeadline(mod, host)) {
      if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, `${ehComm(host)}: skip request sense, past eh deadline`);
      break;
    }
    if (statusByte(cmd.result) !== SAM_STAT_CHECK_CONDITION) continue;
    if (logEr(mod, 2)) scmdPrintk(mod, KERN_INFO, cmd, `${ehComm(host)}: requesting sense`);
    const rtn = await sendEhCmnd(mod, cmd, [REQUEST_SENSE, 0, 0, 0, SCSI_SENSE_BUFFERSIZE, 0], cmd.device.ehTimeout, SCSI_SENSE_BUFFERSIZE);
    if (rtn !== 'SUCCESS') continue;
    if (logEr(mod, 3)) {
      scmdPrintk(mod, KERN_INFO, cmd, `sense requested, result ${cmd.result.toString(16)}`);
      printLines(mod, scsiPrintSense(cmd, logCtx(mod, cmd)));
    }
    const d = decideDisposition(cmd, (dev, sshdr) => reportSense(mod, dev, sshdr));
    cmd.result = d.result;
    cmd.ml = d.ml;
    // A normal result now goes up as it is, without further retries.
    if (d.disposition === 'SUCCESS') cmd.retries = cmd.allowed;
    else if (d.disposition !== 'NEEDS_RETRY') continue;
    moveTo(cmd, work, done);
  }
  return work.length === 0;
}

/** scsi_eh_stu */
async function ehStu(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<boolean> {
  for (const sdev of [...host.devices]) {
    if (pastDeadline(mod, host)) {
      if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: skip START_UNIT, past eh deadline`);
      break;
    }
    const stu = work.find((c) => {
      if (c.device !== sdev || !senseValid(c)) return false;
      const sshdr = normalizeSense(c.senseBuffer, c.senseBuffer.length);
      if (!sshdr) return false;
      reportSense(mod, sdev, sshdr);
      return checkSense(c, sshdr).disposition === 'FAILED';
    });
    if (!stu) continue;
    if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: Sending START_UNIT`);
    if (await ehTryStu(mod, stu)) {
      if (!sdevOnline(sdev.state) || (await ehTur(mod, stu))) {
        for (const c of [...work]) if (c.device === sdev && ehAction(mod, c, 'SUCCESS') === 'SUCCESS') moveTo(c, work, done);
      }
    } else if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: START_UNIT failed`);
  }
  return work.length === 0;
}

/** scsi_eh_bus_device_reset: LOGICAL UNIT RESET per LU with failed commands, then TUR. */
async function ehBusDeviceReset(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<boolean> {
  for (const sdev of [...host.devices]) {
    if (pastDeadline(mod, host)) {
      if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: skip BDR, past eh deadline`);
      break;
    }
    const bdr = work.find((c) => c.device === sdev);
    if (!bdr) continue;
    if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: Sending BDR`);
    const rtn = await tryBusDeviceReset(mod, bdr, 'scsi_eh_ready_devs');
    if (rtn === 'SUCCESS' || rtn === 'FAST_IO_FAIL') {
      if (!sdevOnline(sdev.state) || rtn === 'FAST_IO_FAIL' || (await ehTur(mod, bdr))) {
        for (const c of [...work]) if (c.device === sdev && ehAction(mod, c, rtn) !== 'FAILED') moveTo(c, work, done);
      }
    } else if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: BDR failed`);
  }
  return work.length === 0;
}

/** scsi_eh_test_devices: TUR (and START UNIT when `tryStu`) each LU whose commands a reset covered. */
async function ehTestDevices(mod: ScsiMod, host: ScsiHost, check: Q, work: Q, done: Q, tryStu: boolean): Promise<boolean> {
  while (check.length > 0) {
    const scmd = check[0]!;
    const sdev = scmd.device;
    if (!tryStu && pastDeadline(mod, host)) {
      work.push(...check.splice(0));
      if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `${ehComm(host)}: skip test device, past eh deadline`);
      break;
    }
    const finish = !sdevOnline(sdev.state) || (tryStu && (await ehTryStu(mod, scmd)) && (await ehTur(mod, scmd))) || (await ehTur(mod, scmd));
    for (const c of [...check]) {
      if (c.device !== sdev) continue;
      if (finish && (tryStu || ehAction(mod, c, 'SUCCESS') === 'SUCCESS')) moveTo(c, check, done);
      else moveTo(c, check, work);
    }
  }
  return work.length === 0;
}

/** scsi_eh_target_reset */
async function ehTargetReset(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<boolean> {
  const tmp = work.splice(0);
  const check: Q = [];
  while (tmp.length > 0) {
    if (pastDeadline(mod, host)) {
      work.push(...check.splice(0), ...tmp.splice(0));
      if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: Skip target reset, past eh deadline`);
      return work.length === 0;
    }
    const scmd = tmp[0]!;
    const id = scmd.device.id;
    if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: Sending target reset to target ${id}`);
    const rtn = await tryTargetReset(mod, scmd, 'scsi_eh_ready_devs');
    if (rtn !== 'SUCCESS' && rtn !== 'FAST_IO_FAIL' && logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: Target reset failed target: ${id}`);
    for (const c of [...tmp]) {
      if (c.device.id !== id) continue;
      if (rtn === 'SUCCESS') moveTo(c, tmp, check);
      else if (rtn === 'FAST_IO_FAIL') moveTo(c, tmp, done);
      else {
        tmp.splice(tmp.indexOf(c), 1);
        work.unshift(c);
      }
    }
  }
  return ehTestDevices(mod, host, check, work, done, false);
}

/** scsi_eh_bus_reset */
async function ehBusReset(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<boolean> {
  const check: Q = [];
  for (let channel = 0; channel <= host.maxChannel; channel++) {
    if (pastDeadline(mod, host)) {
      work.push(...check.splice(0));
      if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: skip BRST, past eh deadline`);
      return work.length === 0;
    }
    const chan = work.find((c) => c.device.channel === channel);
    if (!chan) continue;
    if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: Sending BRST chan: ${channel}`);
    const rtn = await tryBusReset(mod, chan, 'scsi_eh_ready_devs');
    if (rtn === 'SUCCESS' || rtn === 'FAST_IO_FAIL') {
      for (const c of [...work]) if (c.device.channel === channel) moveTo(c, work, rtn === 'FAST_IO_FAIL' ? done : check);
    } else if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: BRST failed chan: ${channel}`);
  }
  return ehTestDevices(mod, host, check, work, done, false);
}

/** scsi_eh_host_reset */
async function ehHostReset(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<boolean> {
  const check: Q = [];
  const scmd = work[0];
  if (scmd) {
    if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: Sending HRST`);
    const rtn = await tryHostReset(mod, scmd, 'scsi_eh_ready_devs');
    if (rtn === 'SUCCESS') check.push(...work.splice(0));
    else if (rtn === 'FAST_IO_FAIL') done.push(...work.splice(0));
    else if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: HRST failed`);
  }
  return ehTestDevices(mod, host, check, work, done, true);
}

/** scsi_eh_offline_sdevs: what is left takes its device offline. */
function ehOfflineSdevs(mod: ScsiMod, work: Q, done: Q): void {
  for (const c of [...work]) {
    sdevPrintk(mod, KERN_INFO, c.device, 'Device offlined - not ready after error recovery');
    try {
      scsiDeviceSetState(c.device, 'offline');
    } catch {
      // A device being deleted cannot go offline; its commands finish all the same.
    }
    moveTo(c, work, done);
  }
}

/** scsi_eh_ready_devs: each rung runs only while commands remain. */
export async function scsiEhReadyDevs(mod: ScsiMod, host: ScsiHost, work: Q, done: Q): Promise<void> {
  if (await ehStu(mod, host, work, done)) return;
  if (await ehBusDeviceReset(mod, host, work, done)) return;
  if (await ehTargetReset(mod, host, work, done)) return;
  if (await ehBusReset(mod, host, work, done)) return;
  if (await ehHostReset(mod, host, work, done)) return;
  ehOfflineSdevs(mod, work, done);
}

/** scsi_eh_flush_done_q: retry what may be retried, finish the rest (DID_TIME_OUT if no result). */
function ehFlushDoneQ(mod: ScsiMod, host: ScsiHost, done: Q): void {
  for (const cmd of done.splice(0)) {
    if (sdevOnline(cmd.device.state) && !noRetryCmd(cmd) && retryAllowed(cmd) && shouldRetry(mod, cmd)) {
      if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, `${ehComm(host)}: flush retry cmd`);
      requeue(mod, cmd);
    } else {
      if (cmd.result === 0) cmd.result |= DID_TIME_OUT << 16;
      if (logEr(mod, 3)) scmdPrintk(mod, KERN_INFO, cmd, `${ehComm(host)}: flush finish cmd`);
      scsiFinishCommand(mod, cmd);
    }
  }
}

/** scsi_eh_prt_fail_stats */
function prtFailStats(mod: ScsiMod, host: ScsiHost, work: Q): void {
  let total = 0;
  let devices = 0;
  for (const sdev of host.devices) {
    let cancel = 0;
    let failed = 0;
    for (const c of work) {
      if (c.device !== sdev) continue;
      total++;
      if (abortScheduled.has(c)) cancel++;
      else failed++;
    }
    if (cancel || failed) {
      if (logEr(mod, 3)) sdevPrintk(mod, KERN_INFO, sdev, `scsi_eh_prt_fail_stats: cmds failed: ${failed}, cancel: ${cancel}`);
      devices++;
    }
  }
  if (logEr(mod, 2)) shostPrintk(mod, KERN_INFO, host, `Total of ${total} commands on ${devices} devices require eh work`);
}

/** scsi_unjam_host */
async function scsiUnjamHost(mod: ScsiMod, host: ScsiHost): Promise<void> {
  const st = ehOf(host);
  const work = st.cmdQ.splice(0);
  const done: Q = [];
  if (logEr(mod, 1)) prtFailStats(mod, host, work);
  if (!(await ehGetSense(mod, host, work, done))) await scsiEhReadyDevs(mod, host, work, done);
  if (host.ehDeadline !== -1) st.lastReset = null;
  ehFlushDoneQ(mod, host, done);
}

/** scsi_restart_operations: the host runs again and every LU's queue is re-run. */
function scsiRestartOperations(mod: ScsiMod, host: ScsiHost): void {
  for (const sdev of host.devices) if (sdevOnline(sdev.state) && sdev.wasReset) sdev.wasReset = false;
  if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, host, 'waking up host to restart');
  if (!setHostState(host, 'running') && !setHostState(host, 'cancel')) setHostState(host, 'deleted');
  scsiRunHostQueues(mod, host);
}

/** scsi_error_handler: one recovery per wake-up, while failed commands are waiting. */
async function scsiErrorHandler(mod: ScsiMod, host: ScsiHost): Promise<void> {
  const st = ehOf(host);
  // The thread runs in process context: it starts after the completion that woke it.
  await Promise.resolve();
  try {
    while (host.hostFailed > 0 && host.hostFailed === host.hostBusy) {
      if (logEr(mod, 1)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: waking up 0/${host.hostFailed}/${host.hostBusy}`);
      st.runs++;
      await scsiUnjamHost(mod, host);
      // All commands taken at wake-up have been handled; any added meanwhile wait for the next round.
      host.hostFailed = st.cmdQ.length;
      scsiRestartOperations(mod, host);
      if (st.cmdQ.length > 0 && !setHostState(host, 'recovery')) setHostState(host, 'cancel/recovery');
    }
  } finally {
    st.running = false;
    if (logEr(mod, 1)) shostPrintk(mod, KERN_INFO, host, `${ehComm(host)}: sleeping`);
  }
}

/** For tests and sg_reset: how many commands wait for the EH or a scheduled abort. */
export function scsiEhPending(host: ScsiHost): number {
  const st = hostEh.get(host);
  return st ? st.cmdQ.length + st.abortList.size : 0;
}


/**
 * scsi_ioctl_reset (SG_SCSI_RESET): the reset handlers called directly, from the device reset up to
 * the host reset unless SG_SCSI_RESET_NO_ESCALATE, with the same side effects as in the EH (was_reset,
 * expecting_cc_ua, settle times); then the host's queues are re-run. Resolves 0, or 'EIO' when no
 * handler succeeded; 'EINVAL' for an unknown kind. `who` is the calling process (for the hung-task
 * report when a handler never returns).
 */
export async function scsiEhIoctlReset(mod: ScsiMod, sdev: ScsiDevice, arg: number, who: { comm: string; pid: number }): Promise<0 | 'EIO' | 'EINVAL'> {
  const NO_ESCALATE = 0x100;
  const kind = arg & ~NO_ESCALATE;
  const escalate = (arg & NO_ESCALATE) === 0;
  if (kind < 0 || kind > 4) return 'EINVAL';
  const cmd = new ScsiCmnd(sdev);
  cmd.tag = -1;
  const caller = 'scsi_ioctl_reset';
  // Kinds in escalation order: device (1), target (4), bus (2), host (3); NOTHING (0) succeeds.
  const order = [1, 4, 2, 3];
  let rtn: EhResult = kind === 0 ? 'SUCCESS' : 'FAILED';
  for (let i = kind === 0 ? order.length : order.indexOf(kind); i < order.length; i++) {
    const k = order[i]!;
    if (k === 1) rtn = await tryBusDeviceReset(mod, cmd, caller, who);
    else if (k === 4) rtn = await tryTargetReset(mod, cmd, caller, who);
    else if (k === 2) rtn = await tryBusReset(mod, cmd, caller, who);
    else rtn = await tryHostReset(mod, cmd, caller, who);
    if (rtn === 'SUCCESS' || !escalate) break;
  }
  if (logEr(mod, 3)) shostPrintk(mod, KERN_INFO, sdev.host, 'waking up host to restart after TMF');
  scsiRunHostQueues(mod, sdev.host);
  return rtn === 'SUCCESS' ? 0 : 'EIO';
}
