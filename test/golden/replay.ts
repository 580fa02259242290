// Ours: replays a golden (a capture from a real Linux 6.1 guest under QEMU 7.2, trimmed into
// test/fixtures/golden/replay/) against the simulated machine and scores it. It follows the rules of
// /work/shared/tools/golden-replay so the two agree on what counts:
//   cmd   : normalised stdout and exit status of each snapshot command, in the capture's order
//   sysfs : each comparable entry read through the guest's system calls — file text, hex of binary
//           attributes, the errno of unreadable ones, link targets (volatile counters skipped)
//   dmesg : the SCSI/virtio lines the kernel logged since the previous snapshot, in order (the number
//           of lines in difflib-style matching blocks, autojunk off)
//   step  : a `run` step of the guest script: normalised stdout, stderr and exit status
// The machine is built from `qemu_args_scenario` plus the capture's `-machine pc -m 512 -smp 2`,
// with the images on a memfs volume (raw images zero-filled, ISOs copied from test/fixtures).

import { Volume } from 'memfs';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/machine/machine.ts';
import type { HostFs } from '../../src/machine/machine.ts';
import { Errno } from '../../src/kernel/errno.ts';
import { O_RDONLY } from '../../src/kernel/syscalls.ts';

// ---- the trimmed golden ------------------------------------------------------------------------

export interface GoldenSysfsEntry {
  readonly t: 'f' | 'l' | 'd' | 'o' | '?';
  readonly v?: string;
  readonly hex?: string;
  readonly len?: number;
  readonly e?: string;
  readonly wo?: boolean;
  readonly skipped?: boolean;
  readonly target?: string;
}

export interface GoldenCommand {
  readonly cmd: string;
  readonly rc: number;
  readonly stdout: string;
}

export interface TrimmedSnapshot {
  readonly sysfs: Record<string, GoldenSysfsEntry>;
  readonly commands: Record<string, GoldenCommand>;
  /** Kernel log lines since the previous snapshot: only the SCSI/virtio subset, timestamps dropped. */
  readonly dmesg_new?: string[];
}

export interface GoldenFile {
  readonly name: string;
  readonly kind: string;
  readonly size?: string | number;
  readonly text?: string;
}

export type MonitorHook =
  | { readonly hmp: string }
  | { readonly qmp: string; readonly args?: unknown }
  | { readonly sleep: number }
  | { readonly wait_event: string; readonly timeout?: number };

export interface GoldenStep {
  readonly name: string;
  readonly cmd: string;
  readonly rc: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TrimmedGolden {
  readonly scenario: string;
  readonly source: string;
  readonly machine_args: string[];
  readonly qemu_args_scenario: string[];
  readonly guest_script: string;
  readonly files: GoldenFile[];
  readonly monitor_hooks: Record<string, MonitorHook[]>;
  readonly steps: GoldenStep[];
  readonly snapshot_order: string[];
  readonly qemu_exit: { readonly rc: number; readonly stderr: string };
  readonly snapshots: Record<string, TrimmedSnapshot>;
}

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export function loadTrimmedGolden(scenario: string): TrimmedGolden {
  return JSON.parse(readFileSync(`${FIXTURES}golden/replay/${scenario}.json`, 'utf8')) as TrimmedGolden;
}

// ---- golden-replay's normalisation rules -------------------------------------------------------

export const VOLATILE =
  /(\/power\/runtime_\w+|\/io(done|request|err|tmo)_cnt|\/stat$|\/inflight$|\/host_busy$|\/device_busy$|\/diskseq$|\/uevent$|\/events_poll_msecs$|\/queue\/iostats$|\/mq\/\d+\/cpu_list$|\/sys\/module\/|\/power\/autosuspend|\/power\/control$)/;
const DATE = /\b[A-Z][a-z]{2} +\d{1,2} +(\d{2}:\d{2}|\d{4})\b/g;
export const STAMP = /^\[\s*\d+\.\d+\]\s?/;
const STAMP_M = /^\[\s*\d+\.\d+\]\s?/gm;
export const DMESG_KEEP = /scsi|\bsd \d|\bsr \d|\bsg\d|\bst\b|\bst:|cdrom|virtio|\[sd[a-z]+\]|\bsd[a-z]+: |\bsr\d/;
const TAG = /tag#\d+/g;
const USEC = /USEC_INITIALIZED=\d+/g;
const PROG = /^(qemu-system-x86_64|vscsi): /gm;
const ISO = /^\d{4}-\d\d-\d\dT[\d:.]+Z /gm;

/**
 * udev 252 keeps a device's links and tags in hash sets whose iteration order depends on a per-process
 * random hash key: the captures show `S:` lines, DEVLINKS and TAGS in different orders for the same
 * device (seed_single_disk boot vs after_rescan). Sorted here, so only the set counts. (golden-replay
 * does not do this; it is the one rule we add.)
 */
export function normUdevSets(s: string): string {
  const lines = s.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    if (lines[i]!.startsWith('S: ')) {
      let j = i;
      while (j < lines.length && lines[j]!.startsWith('S: ')) j++;
      out.push(...lines.slice(i, j).sort());
      i = j;
      continue;
    }
    const l = lines[i]!;
    const dl = /^(E: DEVLINKS=)(.*)$/.exec(l);
    const tg = /^(E: (?:CURRENT_)?TAGS=:)(.*):$/.exec(l);
    if (dl) out.push(dl[1]! + dl[2]!.split(' ').sort().join(' '));
    else if (tg) out.push(`${tg[1]!}${tg[2]!.split(':').sort().join(':')}:`);
    else out.push(l);
    i++;
  }
  return out.join('\n');
}

/** Dates, timestamps, tags and program names a replay cannot reproduce. */
export function norm(s: string | undefined): string {
  return normUdevSets(s ?? '')
    .replace(ISO, '')
    .replace(DATE, 'DATE')
    .replace(STAMP_M, '')
    .replace(TAG, 'tag#N')
    .replace(USEC, 'USEC_INITIALIZED=N')
    .replace(PROG, 'PROG: ');
}

/** A sysfs entry the replay compares: not volatile, not skipped, and with something to compare. */
export function comparableSysfs(path: string, e: GoldenSysfsEntry): boolean {
  if (VOLATILE.test(path) || e.skipped) return false;
  if (e.t === 'l') return e.target !== undefined;
  if (e.t === 'f' || e.t === '?') return e.v !== undefined || e.hex !== undefined || e.e !== undefined;
  return false;
}

// The order in which the capture ran its snapshot commands (the capture's snap()).
const CMD_ORDER = ['ls_dev', 'ls_dev_bsg', 'ls_dev_disk', 'stat_dev_nodes', 'proc_scsi_scsi', 'proc_partitions', 'proc_devices',
  'proc_interrupts', 'proc_scsi_ls', 'lsscsi', 'lsscsi_g', 'lsscsi_H', 'lsscsi_Hv', 'lsscsi_v', 'lsscsi_t', 'lsscsi_i', 'lsscsi_s',
  'lsscsi_c', 'lsscsi_d'];
const SG_ORDER = ['sg_inq', 'sg_inq_p0', 'sg_inq_raw', 'sg_vpd_sn', 'sg_vpd_di', 'sg_vpd_di_hex', 'sg_vpd_bl', 'sg_vpd_bli',
  'sg_vpd_bdc', 'sg_vpd_lbpv', 'sg_readcap', 'sg_readcap_l', 'sg_luns', 'sg_luns_hex', 'sg_modes_a', 'sg_turs', 'sg_map_path',
  'udev_info'];
const BLK_ORDER = ['path_id', 'udev_info', 'scsi_id', 'blockdev'];
/** Interrupt counts are the platform's, not the SCSI stack's. */
const SKIP_CMDS = new Set(['proc_interrupts']);

type OrderKey = readonly [number, number, string, number];

export function captureOrder(label: string): OrderKey {
  const i = CMD_ORDER.indexOf(label);
  if (i >= 0) return [0, i, '', 0];
  const dot = label.indexOf('.');
  const dev = dot < 0 ? label : label.slice(0, dot);
  const what = dot < 0 ? '' : label.slice(dot + 1);
  if (dev.startsWith('sg') && SG_ORDER.includes(what)) return [1, 0, dev, SG_ORDER.indexOf(what)];
  if (dev.startsWith('bsg_')) return [3, 0, dev, 0];
  if (BLK_ORDER.includes(what)) return [2, dev.startsWith('sd') ? 0 : 1, dev, BLK_ORDER.indexOf(what)];
  return [4, 0, label, 0];
}

function compareKeys(a: OrderKey, b: OrderKey): number {
  for (let i = 0; i < 4; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

/** The snapshot's commands the replay runs, in the capture's order. */
export function snapshotCommands(s: TrimmedSnapshot): [string, GoldenCommand][] {
  return Object.entries(s.commands)
    .filter(([label, c]) => !SKIP_CMDS.has(label) && !c.cmd.includes('test-builtin'))
    .sort(([a], [b]) => compareKeys(captureOrder(a), captureOrder(b)));
}

/**
 * Lines in matching blocks of two sequences, as difflib.SequenceMatcher(autojunk=False) counts them:
 * the longest common run, then the same on both sides of it, recursively.
 */
export function matchingLines(a: readonly string[], b: readonly string[]): number {
  const b2j = new Map<string, number[]>();
  b.forEach((line, j) => {
    const list = b2j.get(line);
    if (list) list.push(j);
    else b2j.set(line, [j]);
  });
  const longest = (alo: number, ahi: number, blo: number, bhi: number): [number, number, number] => {
    let besti = alo;
    let bestj = blo;
    let bestsize = 0;
    let j2len = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>();
      for (const j of b2j.get(a[i]!) ?? []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (j2len.get(j - 1) ?? 0) + 1;
        next.set(j, k);
        if (k > bestsize) {
          besti = i - k + 1;
          bestj = j - k + 1;
          bestsize = k;
        }
      }
      j2len = next;
    }
    return [besti, bestj, bestsize];
  };
  let total = 0;
  const queue: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  while (queue.length) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    const [i, j, k] = longest(alo, ahi, blo, bhi);
    if (k === 0) continue;
    total += k;
    if (alo < i && blo < j) queue.push([alo, i, blo, j]);
    if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
  }
  return total;
}

// ---- results -----------------------------------------------------------------------------------

export const CATEGORIES = ['cmd', 'sysfs', 'dmesg', 'step'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Score {
  matched: number;
  total: number;
}

export interface Mismatch {
  readonly category: Category;
  /** Command label, sysfs path, step name, or `dmesg`. */
  readonly key: string;
  readonly expected: string;
  readonly got: string;
}

/** One scored unit: a snapshot, the steps before a snapshot, or the command-line refusal. */
export interface PartResult {
  readonly name: string;
  readonly scores: Partial<Record<Category | 'cmdline', Score>>;
  readonly mismatches: Mismatch[];
}

export interface Skip {
  readonly what: string;
  readonly reason: string;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly parts: PartResult[];
  readonly skipped: Skip[];
}

export interface ReplayOptions {
  /** Snapshots (and the steps and hooks leading to them) not replayed, with the reason (e.g. `issue 4: hotplug`). */
  readonly skipAfter?: { readonly snapshot: string; readonly reason: string };
  /** Called for every part as soon as it is scored. */
  readonly onPart?: (p: PartResult) => void;
  /**
   * A golden whose refusal we deliberately do not reproduce (CONTRACT: `-device scsi-disk` is accepted
   * with QEMU 5.2's deprecation warning): the machine must be created and print this warning.
   */
  readonly acceptWithWarning?: RegExp;
}

// ---- the machine -------------------------------------------------------------------------------

const W = '/w';

function sizeOf(s: string | number | undefined): number {
  if (typeof s === 'number') return s;
  const m = /^(\d+)([KMG]?)$/.exec(s ?? '');
  if (!m) throw new Error(`bad image size ${String(s)}`);
  const mult = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

/** The scenario's image folder on a memfs volume. */
export function makeImages(g: TrimmedGolden): InstanceType<typeof Volume> {
  const vol = new Volume();
  vol.mkdirSync(W, { recursive: true });
  for (const f of g.files) {
    const dst = `${W}/${f.name}`;
    const fixture = `${FIXTURES}${g.scenario}.${f.name}`;
    if (existsSync(fixture)) vol.writeFileSync(dst, readFileSync(fixture));
    else if (f.kind === 'text') vol.writeFileSync(dst, f.text ?? '');
    else if (f.kind === 'raw') {
      const fd = vol.openSync(dst, 'w');
      vol.ftruncateSync(fd, sizeOf(f.size));
      vol.closeSync(fd);
    } else throw new Error(`${g.scenario}: no fixture for ${f.name} (${f.kind})`);
  }
  return vol;
}

export function machineArgv(g: TrimmedGolden): string[] {
  const argv = [...g.machine_args, ...g.qemu_args_scenario.map((a) => a.replaceAll('{W}', W))];
  // The capture logged every command during boot: ask the simulated kernel for the same.
  const m = /SCSI_LOGGING=(\d+)/.exec(g.guest_script);
  if (m) argv.push('-append', `scsi_mod.scsi_logging_level=${m[1]}`);
  return argv;
}

/** Runs a system call while the virtual clock advances, as a guest line does. */
async function pump<T>(machine: Machine, p: Promise<T>): Promise<T> {
  let settled: { ok: true; v: T } | { ok: false; e: unknown } | null = null;
  // Handled at once, so a failing call is not an unhandled rejection while the clock runs.
  const q = p.then(
    (v) => (settled = { ok: true, v }),
    (e: unknown) => (settled = { ok: false, e }),
  );
  await machine.loop.runUntilIdle(() => settled !== null);
  const r = settled ?? (await q);
  if (r.ok) return r.v;
  throw r.e;
}

const decoder = new TextDecoder();

function hexOf(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** One sysfs entry read as the capture read it: `v`/`hex`/`e` for files, `target` for links. */
async function readSysfs(machine: Machine, path: string, e: GoldenSysfsEntry): Promise<string> {
  const sys = machine.sys;
  try {
    if (e.t === 'l') return await pump(machine, sys.readlink(path));
    const fd = await pump(machine, sys.open(path, O_RDONLY));
    try {
      const chunks: Uint8Array[] = [];
      for (;;) {
        const c = await pump(machine, sys.read(fd, 65536));
        if (c.length === 0) break;
        chunks.push(c);
      }
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        all.set(c, o);
        o += c.length;
      }
      if (e.hex !== undefined) return `hex ${all.length} ${hexOf(all)}`;
      const text = decoder.decode(all);
      return `v ${text.endsWith('\n') ? text.slice(0, -1) : text}`;
    } finally {
      await pump(machine, sys.close(fd));
    }
  } catch (err) {
    if (err instanceof Errno) return `e ${err.code}`;
    throw err;
  }
}

function expectedSysfs(e: GoldenSysfsEntry): string {
  if (e.t === 'l') return e.target ?? '';
  if (e.e !== undefined) return `e ${e.e}`;
  if (e.hex !== undefined) return `hex ${e.len ?? e.hex.length / 2} ${e.hex}`;
  return `v ${e.v ?? ''}`;
}

// ---- the replay --------------------------------------------------------------------------------

const DIRECTIVES = new Set(['boot_stack', 'snap', 'phase', 'load', 'start_udev', 'uevent_monitor_start', 'uevent_monitor_dump', 'scsi_logging']);

/** `{W}` replaced by the images folder in every string of a QMP argument object. */
function withFolder(v: unknown): unknown {
  if (typeof v === 'string') return v.replaceAll('{W}', W);
  if (Array.isArray(v)) return v.map(withFolder);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withFolder(x)]));
  return v;
}

function qmpLine(h: { qmp: string; args?: unknown }): string {
  return JSON.stringify(h.args === undefined ? { execute: h.qmp } : { execute: h.qmp, arguments: h.args });
}

/** Builds the golden's machine, boots it, walks its guest script and scores every snapshot and step. */
export async function replayScenario(g: TrimmedGolden, opts: ReplayOptions = {}): Promise<ScenarioResult> {
  const parts: PartResult[] = [];
  const skipped: Skip[] = [];
  const emit = (p: PartResult): void => {
    parts.push(p);
    opts.onPart?.(p);
  };
  const vol = makeImages(g);
  const stderr: string[] = [];
  const created = await Machine.create(machineArgv(g), { hostFs: vol as unknown as HostFs, stderr: (l) => stderr.push(l) });

  if (opts.acceptWithWarning) {
    const re = opts.acceptWithWarning;
    const ok = 'machine' in created && created.warnings.some((w) => re.test(w));
    const got = [...created.warnings, ...('error' in created ? [created.error] : [])].join('\n');
    emit({
      name: 'divergence', scores: { cmdline: { matched: ok ? 1 : 0, total: 1 } },
      mismatches: ok ? [] : [{ category: 'cmd', key: 'cmdline', expected: `accepted with a warning matching ${String(re)}`, got }],
    });
    return { scenario: g.scenario, parts, skipped };
  }
  if (g.snapshot_order.length === 0) {
    // A golden without snapshots records QEMU refusing the command line: compare the error and the exit.
    const want = norm(g.qemu_exit.stderr.replaceAll('{W}', W)).split('\n').filter((l) => l.trim());
    const lines = [...created.warnings, ...('error' in created ? [created.error] : [])];
    const have = norm(lines.join('\n')).split('\n').filter((l) => l.trim());
    const ok = g.qemu_exit.rc !== 0 && 'error' in created && want.every((w) => have.includes(w));
    emit({
      name: 'refusal', scores: { cmdline: { matched: ok ? 1 : 0, total: 1 } },
      mismatches: ok ? [] : [{ category: 'cmd', key: 'cmdline', expected: want.join('\n'), got: have.join('\n') }],
    });
    return { scenario: g.scenario, parts, skipped };
  }
  if (!('machine' in created)) throw new Error(`${g.scenario}: ${'error' in created ? created.error : 'help'}`);
  const machine = created.machine;
  await machine.boot();

  const steps = new Map(g.steps.map((s) => [s.name, s]));
  let logMark = 0;
  let stepPart: PartResult = { name: '', scores: {}, mismatches: [] };
  const run = (line: string): Promise<{ stdout: string; stderr: string; rc: number }> => machine.guest(line);
  // The capture's helper: the kernel name of a device's block or sg node.
  await run('devof() { ls /sys/bus/scsi/devices/$1/$2; }');
  // The capture logged mid-layer commands during boot only (its after-boot snapshots log nothing).
  if (/SCSI_LOGGING=(\d+)/.test(g.guest_script)) await run('echo 0 > /sys/module/scsi_mod/parameters/scsi_logging_level');

  let lastSnap = 'boot-stack';
  const flushSteps = (): void => {
    if (stepPart.scores.step) emit({ ...stepPart, name: `steps-after-${lastSnap}` });
    stepPart = { name: '', scores: {}, mismatches: [] };
  };
  let stopReason: string | null = null;
  const lines = g.guest_script.split('\n');
  for (const raw of lines) {
    const words = raw.trim().split(/\s+/);
    const w0 = words[0] ?? '';
    if (!w0 || w0.startsWith('#') || raw.trim().startsWith('SCSI_LOGGING=')) continue;
    if (stopReason !== null) {
      if (w0 === 'snap' && words[1]) skipped.push({ what: `snapshot ${words[1]}`, reason: stopReason });
      if (w0 === 'run' && words[1] && steps.has(words[1])) skipped.push({ what: `step ${words[1]}`, reason: stopReason });
      continue;
    }
    if (w0 === 'snap' && words[1]) {
      const name = words[1];
      const snap = g.snapshots[name];
      if (snap) {
        flushSteps();
        emit(await scoreSnapshot(machine, name, snap, logMark));
        logMark = machine.guestKernel.log.records.length;
      }
      lastSnap = name;
      if (opts.skipAfter?.snapshot === name) stopReason = opts.skipAfter.reason;
      continue;
    }
    if (DIRECTIVES.has(w0)) continue;
    if (w0 === 'waithost' && words[1]) {
      for (const h of g.monitor_hooks[words[1]] ?? []) {
        if ('hmp' in h) await machine.monitor(h.hmp);
        else if ('sleep' in h) await run(`sleep ${h.sleep}`);
        else if ('qmp' in h) {
          const r = await machine.qmp(qmpLine({ qmp: h.qmp, args: withFolder(h.args) }));
          if (/"CommandNotFound"/.test(r.stdout)) stopReason = `QMP ${h.qmp} not available yet`;
        } else if ('wait_event' in h) {
          // Every line already runs until the guest and the devices are idle: the event, if it comes
          // at all, has been raised by now.
        } else stopReason = `monitor hook ${JSON.stringify(h)} not supported`;
        if (stopReason !== null) break;
      }
      continue;
    }
    if (w0 === 'run') {
      const st = words[1] ? steps.get(words[1]) : undefined;
      // uevent logs need the capture's monitor; a raw dmesg tail is mostly the platform's boot log
      if (!st || st.cmd.includes('/tmp/uevents') || st.cmd.trimStart().startsWith('dmesg')) continue;
      const got = await run(st.cmd.replaceAll('{W}', W));
      const ok = norm(got.stdout) === norm(st.stdout) && norm(got.stderr) === norm(st.stderr) && got.rc === st.rc;
      const sc = (stepPart.scores.step ??= { matched: 0, total: 0 });
      sc.total++;
      if (ok) sc.matched++;
      else {
        stepPart.mismatches.push({
          category: 'step', key: st.name,
          expected: `rc=${st.rc}\n${norm(st.stdout)}\n--stderr--\n${norm(st.stderr)}`,
          got: `rc=${got.rc}\n${norm(got.stdout)}\n--stderr--\n${norm(got.stderr)}`,
        });
      }
      continue;
    }
    await run(raw.replace(/\bsettle\b/g, 'udevadm settle').replaceAll('{W}', W));
  }
  flushSteps();
  await machine.shutdown();
  return { scenario: g.scenario, parts, skipped };
}

async function scoreSnapshot(machine: Machine, name: string, snap: TrimmedSnapshot, logMark: number): Promise<PartResult> {
  const mismatches: Mismatch[] = [];
  const sysfs: Score = { matched: 0, total: 0 };
  // The capture read sysfs first, then ran its commands.
  for (const [path, e] of Object.entries(snap.sysfs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!comparableSysfs(path, e)) continue;
    const want = expectedSysfs(e);
    const got = await readSysfs(machine, path, e);
    sysfs.total++;
    if (got === want) sysfs.matched++;
    else mismatches.push({ category: 'sysfs', key: path, expected: want, got });
  }
  const cmd: Score = { matched: 0, total: 0 };
  for (const [label, c] of snapshotCommands(snap)) {
    const got = await machine.guest(c.cmd);
    cmd.total++;
    if (norm(got.stdout) === norm(c.stdout) && got.rc === c.rc) cmd.matched++;
    else mismatches.push({ category: 'cmd', key: label, expected: `rc=${c.rc}\n${norm(c.stdout)}`, got: `rc=${got.rc}\n${norm(got.stdout)}\n--stderr--\n${got.stderr}` });
  }
  const scores: PartResult['scores'] = { cmd, sysfs };
  if (snap.dmesg_new) {
    // blk-mq's tag numbers start at a random place each boot (sbitmap's hint): the capture varies them.
    const tags = (l: string): string => l.replace(TAG, 'tag#N');
    const want = snap.dmesg_new.map(tags);
    const have = machine.guestKernel.log.records
      .slice(logMark)
      .map((r) => r.text)
      .filter((l) => DMESG_KEEP.test(l))
      .map(tags);
    // Devices probed at once (async sd probes on two CPUs) interleave their lines differently from run
    // to run: compare each device's lines in order, not how the devices' lines interleave.
    const groups = (ls: string[]): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      for (const l of ls) {
        const k = /^(?:sd|sr|scsi|sg|st) (\d+:\d+:\d+:\d+): /.exec(l)?.[1] ?? '';
        let g = m.get(k);
        if (!g) m.set(k, (g = []));
        g.push(l);
      }
      return m;
    };
    const haveGroups = groups(have);
    let hit = 0;
    for (const [k, ls] of groups(want)) hit += matchingLines(ls, haveGroups.get(k) ?? []);
    scores.dmesg = { matched: hit, total: want.length };
    if (hit < want.length || have.length !== want.length) mismatches.push({ category: 'dmesg', key: 'dmesg', expected: want.join('\n'), got: have.join('\n') });
  }
  return { name, scores, mismatches };
}

/** `golden NAME PART: cmd 40/52 sysfs 300/428 dmesg 10/14` */
export function formatPart(scenario: string, p: PartResult): string {
  const cats = Object.entries(p.scores).map(([c, s]) => `${c} ${s.matched}/${s.total}`);
  return `golden ${scenario} ${p.name}: ${cats.join(' ')}`;
}
