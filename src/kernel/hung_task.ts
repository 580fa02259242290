// Models kernel/hung_task.c (Linux 6.1): khungtaskd, which reports a task that has stayed in
// uninterruptible sleep (state D) for hung_task_timeout_secs (CONFIG_DEFAULT_HUNG_TASK_TIMEOUT = 120
// in Debian's 6.1) — the way Linux makes a wait that never ends visible, e.g. the error handler
// waiting forever in virtscsi_tmf for a TMF the device never answers.
//
// Only the tasks a subsystem declares blocked are checked (we have no scheduler). khungtaskd wakes
// every 120 s of virtual time from boot; the first check that sees a newly blocked task only records
// the time (its context-switch count changed since the last check), the next one reports it, and
// each later check reports it again, with the blocked time growing, until the 10 warnings
// (sysctl_hung_task_warnings) are spent. The checks are daemon events: a guest that only waits for
// a hung task counts as idle.

import type { Kernel } from './kernel.ts';
import { KERN_ERR, KERN_INFO } from './kernel.ts';
import { KERNEL_RELEASE, KERNEL_VERSION } from './platform.ts';
import type { TimerHandle } from '../sim/event_loop.ts';

const NS_PER_S = 1_000_000_000;
/** CONFIG_DEFAULT_HUNG_TASK_TIMEOUT (Debian), also the check interval. */
export const HUNG_TASK_TIMEOUT_SECS = 120;
/** sysctl_hung_task_warnings' initial value. */
const HUNG_TASK_WARNINGS = 10;
/** _TIF_NEED_FPU_LOAD: what read_task_thread_flags shows for a sleeping kernel thread. */
export const KTHREAD_TIF_FLAGS = 0x4000;

/** One call-trace line: `fn+0xoff/0xsize [module]`, or `? fn…` for an unreliable frame. */
export interface StackFrame {
  readonly fn: string;
  readonly off: number;
  readonly size: number;
  readonly module?: string;
  readonly unreliable?: boolean;
}

/** What sched_show_task prints about the blocked task. */
export interface BlockedTask {
  readonly comm: string;
  readonly pid: number;
  readonly ppid: number;
  readonly flags: number;
  /** Innermost frame first, as show_stack prints it. */
  readonly trace: readonly StackFrame[];
}

interface Detector {
  warnings: number;
}

const detectors = new WeakMap<Kernel, Detector>();

function detector(k: Kernel): Detector {
  let d = detectors.get(k);
  if (!d) {
    d = { warnings: HUNG_TASK_WARNINGS };
    detectors.set(k, d);
  }
  return d;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** The report of check_hung_task + sched_show_task + show_stack, one string per log record. */
export function hungTaskReport(task: BlockedTask, blockedSecs: number): { level: number; text: string }[] {
  const version = KERNEL_VERSION.split(' ')[0] ?? KERNEL_VERSION;
  const out: { level: number; text: string }[] = [
    { level: KERN_ERR, text: `INFO: task ${task.comm}:${task.pid} blocked for more than ${blockedSecs} seconds.` },
    { level: KERN_ERR, text: `      Not tainted ${KERNEL_RELEASE} ${version}` },
    { level: KERN_ERR, text: '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.' },
    {
      level: KERN_INFO,
      text:
        `task:${task.comm.slice(0, 15).padEnd(15)} state:D` +
        ` stack:${'0'.padEnd(5)} pid:${String(task.pid).padEnd(5)} ppid:${String(task.ppid).padEnd(6)} flags:0x${task.flags.toString(16).padStart(8, '0')}`,
    },
    { level: KERN_INFO, text: 'Call Trace:' },
    { level: KERN_INFO, text: ' <TASK>' },
  ];
  for (const f of task.trace) {
    out.push({ level: KERN_INFO, text: ` ${f.unreliable ? '? ' : ''}${f.fn}+${hex(f.off)}/${hex(f.size)}${f.module ? ` [${f.module}]` : ''}` });
  }
  out.push({ level: KERN_INFO, text: ' </TASK>' });
  return out;
}

/**
 * Declares `task` blocked in state D from now on; returns the function that wakes it (and stops
 * the reports). Reports go to the kernel log on the khungtaskd cadence described above.
 */
export function hungTaskBlock(k: Kernel, task: BlockedTask): () => void {
  const loop = k.loop;
  const period = HUNG_TASK_TIMEOUT_SECS * NS_PER_S;
  // First khungtaskd check after the task went to sleep: it records the switch time.
  const firstCheck = (Math.floor(loop.now() / period) + 1) * period;
  let timer: TimerHandle | null = null;
  let awake = false;
  const check = (): void => {
    timer = null;
    if (awake) return;
    const d = detector(k);
    if (d.warnings <= 0) return;
    d.warnings--;
    const secs = Math.floor((loop.now() - firstCheck) / NS_PER_S);
    for (const l of hungTaskReport(task, secs)) k.printk(l.level, l.text);
    timer = loop.after(period, check, { daemon: true });
  };
  timer = loop.at(firstCheck + period, check, { daemon: true });
  return () => {
    awake = true;
    timer?.cancel();
    timer = null;
  };
}
