// Ours: fault rules on the device model — QEMU has no counterpart (its blkdebug, block/blkdebug.ts,
// only fails backend I/O). A rule matches SCSI commands, TMFs or events at the SCSI bus and the
// virtio-scsi HBA and makes them fail the way a real target or transport can: CHECK CONDITION with
// any sense, BUSY / TASK SET FULL / RESERVATION CONFLICT, any virtio response code, a delay in virtual
// time, a command that never completes, a TMF that fails or is never answered, a lost event.
//
// How a rule is evaluated (the same for commands, TMFs and events):
//   rules are tried in the order they were added; a rule whose `count` is used up is skipped; the
//   match fields (drive, dev, target, lun, opcode, lba, dir, tmf, event) must all hold; then the
//   rule's hit counter advances and, with `every=N`, only every N-th hit goes on; then, with
//   `prob=P`, the rule's own seeded random stream decides; a rule that gets this far fires (its
//   `fired` counter advances) and no later rule sees the request. Each rule draws from its own child
//   stream of the injector's Rng, named after the rule's text, so adding a rule never shifts another's
//   draws: same seed, same rules, same traffic ⇒ the same faults.
//
// Which requests a command rule sees: requests the bus submits to a device or to the target
// emulation (REPORT LUNS, INQUIRY of a missing LUN …); requests answered with a pending unit
// attention or rejected as malformed are not faulted. The text syntax is documented in docs/FAULTS.md.

import type { EventLoop } from '../sim/event_loop.ts';
import type { Rng } from '../sim/rng.ts';
import {
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
  VIRTIO_SCSI_T_ASYNC_NOTIFY,
  VIRTIO_SCSI_T_NO_EVENT,
  VIRTIO_SCSI_T_PARAM_CHANGE,
  VIRTIO_SCSI_T_TMF_ABORT_TASK,
  VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
  VIRTIO_SCSI_T_TMF_CLEAR_ACA,
  VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET,
  VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
  VIRTIO_SCSI_T_TMF_QUERY_TASK,
  VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
} from '../protocol/virtio_scsi.ts';
import { BUSY, RESERVATION_CONFLICT, TASK_SET_FULL, type ScsiRequest, type XferMode } from './scsi/scsi.ts';
import { ScsiReq, type BusFaultHook, type BusFaultVerdict } from './scsi/scsi-bus.ts';
import { OP, scsiDataCdbXfer } from './scsi/scsi-opcodes.ts';
import type { VirtioScsiEventInfo, VirtioScsiFaultHook, VirtioScsiTmfInfo } from './scsi/virtio-scsi.ts';

// ---- rules -------------------------------------------------------------------------------------

/** Data direction of a command: data-in (READ-like), data-out (WRITE-like), or none. */
export type FaultDirection = 'in' | 'out' | 'none';

export interface FaultMatch {
  /** BlockBackend name of the LU's drive (`-drive id=`). */
  readonly drive?: string;
  /** qdev id of the LU (`-device scsi-hd,id=`). */
  readonly dev?: string;
  readonly target?: number;
  readonly lun?: number;
  /** Command rules: first CDB byte. */
  readonly opcodes?: readonly number[];
  /** Command rules: the blocks a medium-access command touches overlap [first, last]. */
  readonly lba?: { readonly first: number; readonly last: number };
  readonly dir?: FaultDirection;
  /** TMF rules: virtio TMF subtypes (any when absent). */
  readonly tmfs?: readonly number[];
  /** Event rules: virtio event types (any when absent). */
  readonly events?: readonly number[];
  /** Only every N-th matching request (N ≥ 1). */
  readonly every?: number;
  /** Probability in [0, 1] drawn from the rule's seeded stream. */
  readonly probability?: number;
}

export type FaultAction =
  | { readonly kind: 'check-condition'; readonly key: number; readonly asc: number; readonly ascq: number }
  /** A SCSI status without sense: BUSY 0x08, TASK SET FULL 0x28, RESERVATION CONFLICT 0x18, … */
  | { readonly kind: 'status'; readonly status: number }
  /** virtio-scsi response code (VIRTIO_SCSI_S_*), answered before the command reaches the LU. */
  | { readonly kind: 'response'; readonly response: number }
  /** The command starts `ns` of virtual time late. */
  | { readonly kind: 'delay'; readonly ns: number }
  | { readonly kind: 'never-complete' }
  | { readonly kind: 'tmf-fail'; readonly response: number }
  | { readonly kind: 'tmf-never-answer' }
  | { readonly kind: 'drop-event'; readonly missed: boolean };

export interface FaultRuleSpec {
  readonly match: FaultMatch;
  readonly action: FaultAction;
  /** How many times the rule may fire; unlimited when absent. */
  readonly count?: number;
}

export interface FaultRule extends FaultRuleSpec {
  readonly id: number;
  /** Requests that matched (counted before every= and prob=). */
  hits: number;
  fired: number;
}

type Target = 'cmd' | 'tmf' | 'event';

function targetOf(a: FaultAction): Target {
  switch (a.kind) {
    case 'tmf-fail':
    case 'tmf-never-answer':
      return 'tmf';
    case 'drop-event':
      return 'event';
    default:
      return 'cmd';
  }
}

/** Medium-access commands whose LBA field names blocks (the `lba=` match applies to these only). */
const LBA_OPCODES: ReadonlySet<number> = new Set([
  OP.READ_6, OP.READ_10, OP.READ_12, OP.READ_16, OP.WRITE_6, OP.WRITE_10, OP.WRITE_12, OP.WRITE_16,
  OP.WRITE_VERIFY_10, OP.WRITE_VERIFY_12, OP.WRITE_VERIFY_16, OP.VERIFY_10, OP.VERIFY_12, OP.VERIFY_16,
  OP.WRITE_SAME_10, OP.WRITE_SAME_16, OP.SYNCHRONIZE_CACHE, OP.SYNCHRONIZE_CACHE_16,
]);

const DIR_OF_MODE: Record<XferMode, FaultDirection> = { none: 'none', 'from-dev': 'in', 'to-dev': 'out' };

// ---- the injector --------------------------------------------------------------------------------

interface LiveRule {
  readonly rule: FaultRule;
  readonly rng: Rng;
}

/** What just fired, for the machine's log/trace. */
export interface FaultInjection {
  readonly rule: FaultRule;
  readonly on: Target;
  /** e.g. `0:0 0x28` for a command, `tmf 5 0:0`, `event 1 0:1`. */
  readonly what: string;
}

/**
 * The device model's fault rules. Attach it with `bus.faults = injector` (every QemuScsiBus) and
 * `virtioScsi.faults = injector` (every virtio-scsi HBA); it is inert with no rules.
 */
export class FaultInjector implements BusFaultHook, VirtioScsiFaultHook {
  readonly #loop: EventLoop;
  readonly #rng: Rng;
  readonly #rules: LiveRule[] = [];
  #nextId = 1;
  readonly #twins = new Map<string, number>();
  /** The verdict taken for each command, so the HBA and the bus see one decision. */
  readonly #decided = new WeakMap<ScsiReq, FaultAction | null>();
  /** Called each time a rule fires. */
  onInject: ((i: FaultInjection) => void) | null = null;

  constructor(loop: EventLoop, rng: Rng) {
    this.#loop = loop;
    this.#rng = rng;
  }

  /** Adds a rule (a spec or its text form); returns it, or the text's error. */
  add(spec: FaultRuleSpec | string): FaultRule | { error: string } {
    const s = typeof spec === 'string' ? parseFaultRule(spec) : spec;
    if ('error' in s) return s;
    const err = checkFaultRule(s);
    if (err) return { error: err };
    const id = this.#nextId++;
    const rule: FaultRule = { ...s, id, hits: 0, fired: 0 };
    // The stream is named after the rule's text (and how many identical rules came before), not its
    // id, so a rule draws the same numbers whatever other rules were added before it.
    const text = formatFaultRule(s);
    const twin = this.#twins.get(text) ?? 0;
    this.#twins.set(text, twin + 1);
    this.#rules.push({ rule, rng: this.#rng.fork(`fault:${text}#${twin}`) });
    return rule;
  }

  /** Removes rule `id`; false when there is none. */
  remove(id: number): boolean {
    const i = this.#rules.findIndex((r) => r.rule.id === id);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  clear(): void {
    this.#rules.length = 0;
  }

  list(): readonly FaultRule[] {
    return this.#rules.map((r) => r.rule);
  }

  /** One line per rule: `N: <rule text> (hits H, fired F)`; empty when there are none. */
  format(): string {
    return this.#rules
      .map(({ rule: r }) => `${r.id}: ${formatFaultRule(r)} (hits ${r.hits}, fired ${r.fired})\n`)
      .join('');
  }

  #pick(on: Target, test: (m: FaultMatch) => boolean, what: () => string): FaultRule | null {
    for (const { rule, rng } of this.#rules) {
      if (targetOf(rule.action) !== on) continue;
      if (rule.count !== undefined && rule.fired >= rule.count) continue;
      if (!test(rule.match)) continue;
      rule.hits++;
      const m = rule.match;
      if (m.every !== undefined && rule.hits % m.every !== 0) continue;
      if (m.probability !== undefined && !(rng.next() < m.probability)) continue;
      rule.fired++;
      this.onInject?.({ rule, on, what: what() });
      return rule;
    }
    return null;
  }

  /** The action for a bus request, decided once. */
  #decide(req: ScsiReq): FaultAction | null {
    if (this.#decided.has(req)) return this.#decided.get(req) ?? null;
    let action: FaultAction | null = null;
    if (req.kind === 'device' || req.kind === 'target') {
      const rule = this.#pick('cmd', (m) => matchCommand(m, req), () => `${req.id}:${req.lun} 0x${hex2(req.cmd.buf[0] ?? 0)}`);
      action = rule ? rule.action : null;
    }
    this.#decided.set(req, action);
    return action;
  }

  // ---- VirtioScsiFaultHook ----

  commandResponse(sreq: ScsiRequest): number | null {
    if (!(sreq instanceof ScsiReq)) return null;
    const a = this.#decide(sreq);
    return a?.kind === 'response' ? a.response : null;
  }

  tmf(t: VirtioScsiTmfInfo): { readonly kind: 'fail'; readonly response: number } | { readonly kind: 'never-answer' } | null {
    const rule = this.#pick('tmf', (m) => matchTmf(m, t), () => `tmf ${t.subtype} ${t.target}:${t.lun}`);
    if (!rule) return null;
    const a = rule.action;
    if (a.kind === 'tmf-fail') return { kind: 'fail', response: a.response };
    return { kind: 'never-answer' };
  }

  event(e: VirtioScsiEventInfo): 'drop' | 'missed' | null {
    const rule = this.#pick('event', (m) => matchEvent(m, e), () => `event ${e.event} ${e.dev ? `${e.dev.id}:${e.dev.lun}` : '-'}`);
    if (!rule || rule.action.kind !== 'drop-event') return null;
    return rule.action.missed ? 'missed' : 'drop';
  }

  // ---- BusFaultHook ----

  onSubmit(req: ScsiReq): BusFaultVerdict | null {
    const a = this.#decide(req);
    if (!a) return null;
    switch (a.kind) {
      case 'check-condition':
        return { kind: 'check-condition', sense: { key: a.key, asc: a.asc, ascq: a.ascq } };
      case 'status':
        return { kind: 'status', status: a.status };
      case 'delay':
        return { kind: 'delay', ns: a.ns };
      case 'never-complete':
        return { kind: 'never-complete' };
      case 'response':
        // Only reached on an HBA without the virtio hook: the nearest host failure.
        return { kind: 'host-failure', reason: 'error' };
      default:
        return null;
    }
  }

  after(ns: number, fn: () => void): { cancel(): void } {
    return this.#loop.after(ns, fn);
  }
}

function matchCommand(m: FaultMatch, req: ScsiReq): boolean {
  const onLu = req.lun === req.dev.lun;
  if (m.target !== undefined && m.target !== req.id) return false;
  if (m.lun !== undefined && m.lun !== req.lun) return false;
  if (m.dev !== undefined && !(onLu && req.dev.qdevId === m.dev)) return false;
  if (m.drive !== undefined && !(onLu && req.dev.driveName === m.drive)) return false;
  const op = req.cmd.buf[0] ?? 0;
  if (m.opcodes !== undefined && !m.opcodes.includes(op)) return false;
  if (m.dir !== undefined && DIR_OF_MODE[req.cmd.mode] !== m.dir) return false;
  if (m.lba !== undefined) {
    if (!LBA_OPCODES.has(op) || req.cmd.lba < 0) return false;
    const first = req.cmd.lba;
    const last = first + Math.max(1, scsiDataCdbXfer(req.cmd.buf)) - 1;
    if (last < m.lba.first || first > m.lba.last) return false;
  }
  return true;
}

function matchTmf(m: FaultMatch, t: VirtioScsiTmfInfo): boolean {
  const onLu = t.dev !== undefined && t.dev.lun === t.lun;
  if (m.target !== undefined && m.target !== t.target) return false;
  if (m.lun !== undefined && m.lun !== t.lun) return false;
  if (m.dev !== undefined && !(onLu && t.dev.qdevId === m.dev)) return false;
  if (m.drive !== undefined && !(onLu && t.dev.driveName === m.drive)) return false;
  if (m.tmfs !== undefined && !m.tmfs.includes(t.subtype)) return false;
  return true;
}

function matchEvent(m: FaultMatch, e: VirtioScsiEventInfo): boolean {
  const d = e.dev;
  if (m.target !== undefined && d?.id !== m.target) return false;
  if (m.lun !== undefined && d?.lun !== m.lun) return false;
  if (m.dev !== undefined && d?.qdevId !== m.dev) return false;
  if (m.drive !== undefined && d?.driveName !== m.drive) return false;
  if (m.events !== undefined && !m.events.includes(e.event)) return false;
  return true;
}

// ---- text syntax ---------------------------------------------------------------------------------

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Names accepted for virtio response codes (VIRTIO_SCSI_S_*), lower case with hyphens. */
const RESPONSE_NAMES: Readonly<Record<string, number>> = {
  ok: VIRTIO_SCSI_S_OK,
  overrun: VIRTIO_SCSI_S_OVERRUN,
  aborted: VIRTIO_SCSI_S_ABORTED,
  'bad-target': VIRTIO_SCSI_S_BAD_TARGET,
  reset: VIRTIO_SCSI_S_RESET,
  busy: VIRTIO_SCSI_S_BUSY,
  'transport-failure': VIRTIO_SCSI_S_TRANSPORT_FAILURE,
  'target-failure': VIRTIO_SCSI_S_TARGET_FAILURE,
  'nexus-failure': VIRTIO_SCSI_S_NEXUS_FAILURE,
  failure: VIRTIO_SCSI_S_FAILURE,
  'function-succeeded': VIRTIO_SCSI_S_FUNCTION_SUCCEEDED,
  'function-rejected': VIRTIO_SCSI_S_FUNCTION_REJECTED,
  'incorrect-lun': VIRTIO_SCSI_S_INCORRECT_LUN,
};

const TMF_NAMES: Readonly<Record<string, number>> = {
  abort: VIRTIO_SCSI_T_TMF_ABORT_TASK,
  'abort-task-set': VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
  'clear-aca': VIRTIO_SCSI_T_TMF_CLEAR_ACA,
  'clear-task-set': VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET,
  'it-nexus-reset': VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
  'lun-reset': VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
  query: VIRTIO_SCSI_T_TMF_QUERY_TASK,
  'query-task-set': VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
};

const EVENT_NAMES: Readonly<Record<string, number>> = {
  'no-event': VIRTIO_SCSI_T_NO_EVENT,
  'transport-reset': VIRTIO_SCSI_T_TRANSPORT_RESET,
  'async-notify': VIRTIO_SCSI_T_ASYNC_NOTIFY,
  'param-change': VIRTIO_SCSI_T_PARAM_CHANGE,
};

const STATUS_ACTIONS: Readonly<Record<string, number>> = {
  busy: BUSY,
  'task-set-full': TASK_SET_FULL,
  'reservation-conflict': RESERVATION_CONFLICT,
};

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };

/** A non-negative integer in decimal or 0x-hex. */
function parseUint(s: string): number | undefined {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseNamed(s: string, names: Readonly<Record<string, number>>): number | undefined {
  return names[s.toLowerCase()] ?? parseUint(s);
}

function parseList(s: string, names: Readonly<Record<string, number>>, max: number): number[] | undefined {
  const out: number[] = [];
  for (const part of s.split(':')) {
    const n = parseNamed(part, names);
    if (n === undefined || n > max) return undefined;
    out.push(n);
  }
  return out;
}

/** `250ms`, `8s`, `1500us`, `100ns`, or a bare number of nanoseconds. */
function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s)?$/.exec(s);
  if (!m) return undefined;
  const ns = Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ns']!);
  return Number.isSafeInteger(ns) ? ns : undefined;
}

function formatDuration(ns: number): string {
  for (const [u, f] of [['s', 1e9], ['ms', 1e6], ['us', 1e3]] as const) if (ns >= f && ns % f === 0) return `${ns / f}${u}`;
  return `${ns}ns`;
}

const KEYS = new Set([
  'drive', 'dev', 'target', 'lun', 'opcode', 'lba', 'dir', 'tmf', 'event', 'every', 'prob', 'count', 'action',
  'sense', 'status', 'response', 'delay', 'missed',
]);

/**
 * Parses the text form of a rule: comma-separated `key=value` pairs (see docs/FAULTS.md), e.g.
 * `drive=d0,opcode=0x28,lba=65536-65543,action=check,sense=3/11/00,count=1`.
 */
export function parseFaultRule(text: string): FaultRuleSpec | { error: string } {
  const kv = new Map<string, string>();
  for (const item of text.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) return { error: `Expected '=' after parameter '${item}'` };
    const k = item.slice(0, eq);
    if (!KEYS.has(k)) return { error: `Invalid parameter '${k}'` };
    if (kv.has(k)) return { error: `Parameter '${k}' given twice` };
    kv.set(k, item.slice(eq + 1));
  }
  const bad = (k: string, expects: string): { error: string } => ({ error: `Parameter '${k}' expects ${expects}` });
  const match: { -readonly [K in keyof FaultMatch]: FaultMatch[K] } = {};
  const str = (k: 'drive' | 'dev'): void => {
    const v = kv.get(k);
    if (v !== undefined) match[k] = v;
  };
  str('drive');
  str('dev');
  for (const k of ['target', 'lun'] as const) {
    const v = kv.get(k);
    if (v === undefined) continue;
    const n = parseUint(v);
    if (n === undefined || n > (k === 'target' ? 255 : 16383)) return bad(k, k === 'target' ? 'a target 0-255' : 'a LUN 0-16383');
    match[k] = n;
  }
  const opcode = kv.get('opcode');
  if (opcode !== undefined) {
    const l = parseList(opcode, {}, 0xff);
    if (!l) return bad('opcode', "opcodes 0-0xff separated by ':'");
    match.opcodes = l;
  }
  const lba = kv.get('lba');
  if (lba !== undefined) {
    const m = /^([^-]+)(?:-([^-]+))?$/.exec(lba);
    const first = m ? parseUint(m[1]!) : undefined;
    const last = m ? (m[2] === undefined ? first : parseUint(m[2])) : undefined;
    if (first === undefined || last === undefined || last < first) return bad('lba', 'a block or a range FIRST-LAST');
    match.lba = { first, last };
  }
  const dir = kv.get('dir');
  if (dir !== undefined) {
    const d = ({ in: 'in', read: 'in', out: 'out', write: 'out', none: 'none' } as const)[dir as 'in'];
    if (d === undefined) return bad('dir', "'in' (read), 'out' (write) or 'none'");
    match.dir = d;
  }
  const tmf = kv.get('tmf');
  if (tmf !== undefined) {
    const l = parseList(tmf, TMF_NAMES, 0xffffffff);
    if (!l) return bad('tmf', "TMF subtypes (numbers or names) separated by ':'");
    match.tmfs = l;
  }
  const event = kv.get('event');
  if (event !== undefined) {
    const l = parseList(event, EVENT_NAMES, 0xffffffff);
    if (!l) return bad('event', "event types (numbers or names) separated by ':'");
    match.events = l;
  }
  const every = kv.get('every');
  if (every !== undefined) {
    const n = parseUint(every);
    if (n === undefined || n < 1) return bad('every', 'a number >= 1');
    match.every = n;
  }
  const prob = kv.get('prob');
  if (prob !== undefined) {
    const p = /^\d*\.?\d+(e-?\d+)?$/i.test(prob) ? Number(prob) : NaN;
    if (!(p >= 0 && p <= 1)) return bad('prob', 'a probability between 0 and 1');
    match.probability = p;
  }
  let count: number | undefined;
  const countStr = kv.get('count');
  if (countStr !== undefined) {
    count = parseUint(countStr);
    if (count === undefined) return bad('count', 'a number');
  }

  const actionName = kv.get('action');
  if (actionName === undefined) return { error: "Parameter 'action' is missing" };
  const used = new Set(['action']);
  const need = (k: string): string | undefined => {
    used.add(k);
    return kv.get(k);
  };
  let action: FaultAction;
  switch (actionName) {
    case 'check':
    case 'check-condition': {
      const s = need('sense');
      const m = s === undefined ? null : /^([0-9a-f]{1,2})\/([0-9a-f]{1,2})\/([0-9a-f]{1,2})$/i.exec(s);
      if (!m) return bad('sense', 'KEY/ASC/ASCQ in hex, e.g. 3/11/00');
      const key = parseInt(m[1]!, 16);
      if (key > 0xf) return bad('sense', 'a sense key 0-f');
      action = { kind: 'check-condition', key, asc: parseInt(m[2]!, 16), ascq: parseInt(m[3]!, 16) };
      break;
    }
    case 'busy':
    case 'task-set-full':
    case 'reservation-conflict':
      action = { kind: 'status', status: STATUS_ACTIONS[actionName]! };
      break;
    case 'status': {
      const s = need('status');
      const n = s === undefined ? undefined : parseUint(s);
      if (n === undefined || n > 0xff) return bad('status', 'a SCSI status byte, e.g. 0x08');
      action = { kind: 'status', status: n };
      break;
    }
    case 'response': {
      const s = need('response');
      const n = s === undefined ? undefined : parseNamed(s, RESPONSE_NAMES);
      if (n === undefined || n > 0xff) return bad('response', 'a virtio-scsi response code (number or name)');
      action = { kind: 'response', response: n };
      break;
    }
    case 'delay': {
      const s = need('delay');
      const ns = s === undefined ? undefined : parseDuration(s);
      if (ns === undefined) return bad('delay', 'a duration such as 250ms, 8s, 1500us or 100ns');
      action = { kind: 'delay', ns };
      break;
    }
    case 'hang':
    case 'never-complete':
      action = { kind: 'never-complete' };
      break;
    case 'tmf-fail': {
      const s = need('response');
      const n = s === undefined ? VIRTIO_SCSI_S_FUNCTION_REJECTED : parseNamed(s, RESPONSE_NAMES);
      if (n === undefined || n > 0xff) return bad('response', 'a virtio-scsi response code (number or name)');
      action = { kind: 'tmf-fail', response: n };
      break;
    }
    case 'tmf-hang':
    case 'tmf-never-answer':
      action = { kind: 'tmf-never-answer' };
      break;
    case 'drop-event': {
      const s = need('missed');
      const b = s === undefined ? false : ({ on: true, off: false, yes: true, no: false } as Record<string, boolean>)[s];
      if (b === undefined) return bad('missed', "'on' or 'off'");
      action = { kind: 'drop-event', missed: b };
      break;
    }
    default:
      return { error: `Parameter 'action' does not accept value '${actionName}'` };
  }
  for (const k of ['sense', 'status', 'response', 'delay', 'missed']) {
    if (kv.has(k) && !used.has(k)) return { error: `Parameter '${k}' does not apply to action '${actionName}'` };
  }
  const spec: FaultRuleSpec = count === undefined ? { match, action } : { match, action, count };
  const err = checkFaultRule(spec);
  return err ? { error: err } : spec;
}

/** Match fields that make no sense for the rule's target; null when the rule is consistent. */
export function checkFaultRule(r: FaultRuleSpec): string | null {
  const on = targetOf(r.action);
  const m = r.match;
  const misplaced: Array<[keyof FaultMatch, string, Target[]]> = [
    ['opcodes', 'opcode', ['cmd']],
    ['lba', 'lba', ['cmd']],
    ['dir', 'dir', ['cmd']],
    ['tmfs', 'tmf', ['tmf']],
    ['events', 'event', ['event']],
  ];
  for (const [field, name, ok] of misplaced) {
    if (m[field] !== undefined && !ok.includes(on)) return `Parameter '${name}' does not apply to action '${actionText(r.action)}'`;
  }
  if (m.every !== undefined && !(Number.isInteger(m.every) && m.every >= 1)) return "Parameter 'every' expects a number >= 1";
  if (m.probability !== undefined && !(m.probability >= 0 && m.probability <= 1)) return "Parameter 'prob' expects a probability between 0 and 1";
  if (r.count !== undefined && !(Number.isInteger(r.count) && r.count >= 0)) return "Parameter 'count' expects a number";
  if (r.action.kind === 'delay' && !(Number.isFinite(r.action.ns) && r.action.ns >= 0)) return "Parameter 'delay' expects a duration";
  return null;
}

function actionText(a: FaultAction): string {
  switch (a.kind) {
    case 'check-condition':
      return `check,sense=${a.key.toString(16)}/${hex2(a.asc)}/${hex2(a.ascq)}`;
    case 'status': {
      const name = Object.entries(STATUS_ACTIONS).find(([, v]) => v === a.status)?.[0];
      return name ?? `status,status=0x${hex2(a.status)}`;
    }
    case 'response':
      return `response,response=${responseName(a.response)}`;
    case 'delay':
      return `delay,delay=${formatDuration(a.ns)}`;
    case 'never-complete':
      return 'hang';
    case 'tmf-fail':
      return `tmf-fail,response=${responseName(a.response)}`;
    case 'tmf-never-answer':
      return 'tmf-hang';
    case 'drop-event':
      return a.missed ? 'drop-event,missed=on' : 'drop-event';
  }
}

function responseName(n: number): string {
  return Object.entries(RESPONSE_NAMES).find(([k, v]) => v === n && k !== 'function-complete')?.[0] ?? String(n);
}

function nameOrNumber(n: number, names: Readonly<Record<string, number>>): string {
  return Object.entries(names).find(([, v]) => v === n)?.[0] ?? String(n);
}

/** The canonical text form of a rule (parseFaultRule reads it back to the same rule). */
export function formatFaultRule(r: FaultRuleSpec): string {
  const m = r.match;
  const parts: string[] = [];
  if (m.drive !== undefined) parts.push(`drive=${m.drive}`);
  if (m.dev !== undefined) parts.push(`dev=${m.dev}`);
  if (m.target !== undefined) parts.push(`target=${m.target}`);
  if (m.lun !== undefined) parts.push(`lun=${m.lun}`);
  if (m.opcodes !== undefined) parts.push(`opcode=${m.opcodes.map((o) => `0x${hex2(o)}`).join(':')}`);
  if (m.lba !== undefined) parts.push(`lba=${m.lba.first === m.lba.last ? m.lba.first : `${m.lba.first}-${m.lba.last}`}`);
  if (m.dir !== undefined) parts.push(`dir=${m.dir}`);
  if (m.tmfs !== undefined) parts.push(`tmf=${m.tmfs.map((t) => nameOrNumber(t, TMF_NAMES)).join(':')}`);
  if (m.events !== undefined) parts.push(`event=${m.events.map((e) => nameOrNumber(e, EVENT_NAMES)).join(':')}`);
  if (m.every !== undefined) parts.push(`every=${m.every}`);
  if (m.probability !== undefined) parts.push(`prob=${m.probability}`);
  parts.push(`action=${actionText(r.action)}`);
  if (r.count !== undefined) parts.push(`count=${r.count}`);
  return parts.join(',');
}
