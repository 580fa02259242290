// Models block/blkdebug.c (QEMU 7.2): the blkdebug error-injection filter — its config file
// (`[inject-error]` / `[set-state]` groups, read as qemu_config_parse does), the `blkdebug:CONF:IMG`
// filename, the `inject-error.N.key=` runtime options of `-drive driver=blkdebug`, and the rule engine,
// installed as a BlockBackend fault hook.
//
// How QEMU's blkdebug decides, and what we keep of it:
//   - Rules hang off a *debug event*. Format drivers fire events on their `file` child: raw-format
//     fires `read_aio` before each read and `write_aio` before each write; the generic layer fires
//     `pwritev`/`pwritev_zero` around writes and `flush_to_os` / `flush_to_disk` on a flush; blkdebug
//     itself fires `none` once when it is opened. An event only reaches blkdebug when a format node
//     sits on top of it (`file=blkdebug:…` with format=raw or probed); with `driver=blkdebug` as the
//     root node nothing above it fires events, so only `none` rules ever activate.
//   - When an event fires, every inject-error rule of that event whose `state` is 0 or the current
//     state replaces the set of *active* rules (in config-file order); set-state rules change the state
//     once all rules of the event have been looked at.
//   - Each read/write/write-zeroes/discard/flush then checks the active rules: the first one whose
//     iotype matches and whose sector lies inside the request (or sector is unset; a flush has no
//     bytes, so only sector-less rules match it) fails the request with its errno. `once=on` deletes
//     the rule after its first injection. errno=0 injects nothing.

import type { BlockBackend, BlockErrno, BlockFaultHook, BlockOp } from './block-backend.ts';
import { parseBool, strtou64 } from '../qemu-option.ts';

/** BlkdebugEvent (qapi/block-core.json, QEMU 7.2), in enum order. */
export const BLKDEBUG_EVENTS = [
  'l1_update', 'l1_grow_alloc_table', 'l1_grow_write_table', 'l1_grow_activate_table', 'l2_load', 'l2_update',
  'l2_update_compressed', 'l2_alloc_cow_read', 'l2_alloc_write', 'read_aio', 'read_backing_aio', 'read_compressed',
  'write_aio', 'write_compressed', 'vmstate_load', 'vmstate_save', 'cow_read', 'cow_write', 'reftable_load',
  'reftable_grow', 'reftable_update', 'refblock_load', 'refblock_update', 'refblock_update_part', 'refblock_alloc',
  'refblock_alloc_hookup', 'refblock_alloc_write', 'refblock_alloc_write_blocks', 'refblock_alloc_write_table',
  'refblock_alloc_switch_table', 'cluster_alloc', 'cluster_alloc_bytes', 'cluster_free', 'flush_to_os',
  'flush_to_disk', 'pwritev_rmw_head', 'pwritev_rmw_after_head', 'pwritev_rmw_tail', 'pwritev_rmw_after_tail',
  'pwritev', 'pwritev_zero', 'pwritev_done', 'empty_image_prepare', 'l1_shrink_write_table',
  'l1_shrink_free_l2_clusters', 'cor_write', 'cluster_alloc_space', 'none',
] as const;
export type BlkdebugEvent = (typeof BLKDEBUG_EVENTS)[number];

/** BlkdebugIOType. */
export const BLKDEBUG_IO_TYPES = ['read', 'write', 'write-zeroes', 'discard', 'flush', 'block-status'] as const;
export type BlkdebugIoType = (typeof BLKDEBUG_IO_TYPES)[number];
/** The iotypes an inject-error rule without `iotype=` applies to (everything but block-status). */
const DEFAULT_IOTYPES: readonly BlkdebugIoType[] = ['read', 'write', 'write-zeroes', 'discard', 'flush'];

export interface BlkdebugInjectRule {
  readonly kind: 'inject-error';
  readonly event: BlkdebugEvent;
  /** 0 = any state. */
  readonly state: number;
  /** Linux errno number (default 5, EIO). */
  readonly errno: number;
  /** -1 = any offset (and flushes). */
  readonly sector: number;
  readonly once: boolean;
  readonly immediately: boolean;
  readonly iotypes: readonly BlkdebugIoType[];
}

export interface BlkdebugSetStateRule {
  readonly kind: 'set-state';
  readonly event: BlkdebugEvent;
  readonly state: number;
  readonly newState: number;
}

export type BlkdebugRule = BlkdebugInjectRule | BlkdebugSetStateRule;

/** What a -drive needs to build a blkdebug node: the rules and the image below it. */
export interface BlkdebugSpec {
  /** The filename as given (`blkdebug:CONF:IMG`), or the image path for driver=blkdebug. */
  readonly filename: string;
  readonly configPath: string | undefined;
  readonly image: string;
  readonly rules: readonly BlkdebugRule[];
  /** A format node above blkdebug fires read_aio/write_aio/flush events (false for driver=blkdebug). */
  readonly formatAbove: boolean;
}

export interface BlkdebugError {
  readonly error: string;
  /** Lines error_report printed while parsing the config file (`FILE:LINE: msg`), before the error. */
  readonly reports: readonly string[];
}

/** blkdebug_parse_filename: `blkdebug:[CONF]:IMG`. */
export function parseBlkdebugFilename(filename: string): { config: string | undefined; image: string } | BlkdebugError {
  const prefix = 'blkdebug:';
  if (!filename.startsWith(prefix)) return { config: undefined, image: filename };
  const rest = filename.slice(prefix.length);
  const c = rest.indexOf(':');
  if (c < 0) return { error: 'blkdebug requires both config file and image path', reports: [] };
  return { config: c === 0 ? undefined : rest.slice(0, c), image: rest.slice(c + 1) };
}

type OptKind = 'string' | 'number' | 'bool';
const GROUPS: Record<'inject-error' | 'set-state', Record<string, OptKind>> = {
  'inject-error': { event: 'string', state: 'number', iotype: 'string', errno: 'number', sector: 'number', once: 'bool', immediately: 'bool' },
  'set-state': { event: 'string', state: 'number', new_state: 'number' },
};
type GroupName = keyof typeof GROUPS;

/** qemu_opt_set's validation of one value, with QEMU's texts. */
function checkOpt(group: GroupName, name: string, value: string): string | null {
  const kind = GROUPS[group][name];
  if (kind === undefined) return `Invalid parameter '${name}'`;
  if (kind === 'number' && typeof strtou64(value) !== 'bigint') return `Parameter '${name}' expects a number`;
  if (kind === 'bool' && parseBool(value) === undefined) return `Parameter '${name}' expects 'on' or 'off'`;
  return null;
}

interface RawGroup {
  readonly group: GroupName;
  readonly opts: Map<string, string>;
}

/**
 * qemu_config_parse over blkdebug's two groups. Lines: `\n` and `#…` skipped; `[group]` or
 * `[group "id"]` opens a group; otherwise the first whitespace-delimited word is the key, and the value
 * is the quoted text after ` = ` — a line that does not have that shape still sets its first word to
 * an empty value (sscanf's partial match), which is how QEMU reads `event=read_aio` without spaces.
 */
function configParse(text: string, file: string): RawGroup[] | BlkdebugError {
  const out: RawGroup[] = [];
  let cur: RawGroup | null = null;
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const fail = (lineno: number, msg: string): BlkdebugError => ({
    error: 'Could not parse blkdebug config file',
    reports: [`${file}:${lineno}: ${msg}`],
  });
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineno = i + 1;
    if (line === '' || line.startsWith('#')) continue;
    const g = /^\[([^\]\s]+)(?:\s+"[^"]*")?\]/.exec(line) ?? /^\[([^\]]+)\]/.exec(line);
    if (g) {
      const name = g[1]!;
      if (name !== 'inject-error' && name !== 'set-state') return fail(lineno, `There is no option group '${name}'`);
      cur = { group: name, opts: new Map() };
      out.push(cur);
      continue;
    }
    const words = /^\s*(\S+)/.exec(line);
    if (!words) return fail(lineno, 'parse error');
    const arg = words[1]!;
    const kv = /^\s*\S+\s*=\s*"([^"]*)"/.exec(line);
    const value = kv ? kv[1]! : '';
    if (!cur) return fail(lineno, 'no group defined');
    const err = checkOpt(cur.group, arg, value);
    if (err) return fail(lineno, err);
    cur.opts.set(arg, value);
  }
  return out;
}

/** add_rule for each group, inject-error rules first, then set-state (read_config's order). */
function buildRules(groups: readonly RawGroup[]): BlkdebugRule[] | BlkdebugError {
  const rules: BlkdebugRule[] = [];
  const num = (v: string | undefined, def: number): number => (v === undefined ? def : Number(strtou64(v) ?? def));
  for (const kind of ['inject-error', 'set-state'] as const) {
    for (const g of groups) {
      if (g.group !== kind) continue;
      const o = g.opts;
      const ev = o.get('event');
      if (ev === undefined) return { error: 'Missing event name for rule', reports: [] };
      if (!(BLKDEBUG_EVENTS as readonly string[]).includes(ev)) return { error: `invalid parameter value: ${ev}`, reports: [] };
      const event = ev as BlkdebugEvent;
      const state = num(o.get('state'), 0);
      if (kind === 'set-state') {
        rules.push({ kind, event, state, newState: num(o.get('new_state'), 0) });
        continue;
      }
      const io = o.get('iotype');
      let iotypes = DEFAULT_IOTYPES;
      if (io !== undefined) {
        if (!(BLKDEBUG_IO_TYPES as readonly string[]).includes(io)) return { error: `invalid parameter value: ${io}`, reports: [] };
        iotypes = [io as BlkdebugIoType];
      }
      const sectorStr = o.get('sector');
      rules.push({
        kind,
        event,
        state,
        errno: num(o.get('errno'), 5),
        sector: sectorStr === undefined ? -1 : num(sectorStr, -1),
        once: parseBool(o.get('once') ?? 'off') === true,
        immediately: parseBool(o.get('immediately') ?? 'off') === true,
        iotypes,
      });
    }
  }
  return rules;
}

/** read_config for a config file's text (`file` only names it in error reports). */
export function parseBlkdebugConfig(text: string, file: string): BlkdebugRule[] | BlkdebugError {
  const groups = configParse(text, file);
  if ('error' in groups) return groups;
  return buildRules(groups);
}

/**
 * qemu_config_parse_qdict for the runtime options of `-drive driver=blkdebug,…`:
 * `inject-error.KEY=V` (one rule) or `inject-error.N.KEY=V` (a list), same for set-state.
 * Returns the extra rules and the option names it consumed.
 */
export function blkdebugRulesFromOptions(opts: ReadonlyMap<string, string>): { rules: BlkdebugRule[]; consumed: string[] } | BlkdebugError {
  const groups: RawGroup[] = [];
  const byKey = new Map<string, RawGroup>();
  const consumed: string[] = [];
  for (const [k, v] of opts) {
    const m = /^(inject-error|set-state)\.(?:(\d+)\.)?([^.]+)$/.exec(k);
    if (!m) continue;
    const group = m[1] as GroupName;
    const key = `${group}.${m[2] ?? ''}`;
    let g = byKey.get(key);
    if (!g) {
      g = { group, opts: new Map() };
      byKey.set(key, g);
      groups.push(g);
    }
    const err = checkOpt(group, m[3]!, v);
    if (err) return { error: err, reports: [] };
    g.opts.set(m[3]!, v);
    consumed.push(k);
  }
  const rules = buildRules(groups);
  if ('error' in rules) return rules;
  return { rules, consumed };
}

/** Linux errno numbers → the names the block layer uses (asm-generic/errno*.h). */
const ERRNO_NAMES: Readonly<Record<number, BlockErrno>> = {
  1: 'EPERM', 5: 'EIO', 11: 'EAGAIN', 12: 'ENOMEM', 16: 'EBUSY', 22: 'EINVAL', 27: 'EFBIG', 28: 'ENOSPC',
  30: 'EROFS', 33: 'EDOM', 52: 'EBADE', 61: 'ENODATA', 95: 'ENOTSUP', 110: 'ETIMEDOUT', 121: 'EREMOTEIO',
  122: 'EDQUOT', 123: 'ENOMEDIUM', 125: 'ECANCELED',
};

/** An errno number as a BlockErrno; numbers we have no name for fail as EIO. */
export function blockErrnoFromNumber(n: number): BlockErrno {
  return ERRNO_NAMES[n] ?? 'EIO';
}

/** Which BlkdebugIOType a BlockBackend operation is. */
const IOTYPE_OF: Record<BlockOp, BlkdebugIoType> = {
  read: 'read',
  write: 'write',
  flush: 'flush',
  discard: 'discard',
  'write-zeroes': 'write-zeroes',
};

/** BDRVBlkdebugState: the rules, the state number and the active inject-error rules. */
export class BlkdebugState {
  /** Rules still in force (once=on rules leave after their first injection), config order. */
  readonly rules: BlkdebugRule[];
  readonly formatAbove: boolean;
  state = 1;
  active: BlkdebugInjectRule[] = [];
  /** Writes since the last flush reached the image (flushed_gen != write_gen). */
  #dirty = false;
  readonly #noFlush: boolean;
  /** Injections so far, for tests and `info` dumps. */
  injected = 0;

  constructor(rules: readonly BlkdebugRule[], opts: { formatAbove?: boolean; noFlush?: boolean } = {}) {
    this.rules = rules.slice();
    this.formatAbove = opts.formatAbove ?? true;
    this.#noFlush = opts.noFlush ?? false;
    this.event('none'); // blkdebug_open ends with bdrv_debug_event(bs, BLKDBG_NONE)
  }

  /** blkdebug_debug_event. */
  event(ev: BlkdebugEvent): void {
    let injected = false;
    let newState: number | null = null;
    for (const r of this.rules) {
      if (r.event !== ev || (r.state !== 0 && r.state !== this.state)) continue;
      if (r.kind === 'inject-error') {
        if (!injected) {
          this.active = [];
          injected = true;
        }
        this.active.push(r);
      } else {
        // QEMU walks an event's rules newest first, so the first set-state rule in the file wins.
        newState ??= r.newState;
      }
    }
    if (newState !== null) this.state = newState;
  }

  #fire(ev: BlkdebugEvent): void {
    if (this.formatAbove) this.event(ev);
  }

  /** rule_check: the errno number to fail with, or 0. */
  ruleCheck(offset: number, bytes: number, iotype: BlkdebugIoType): number {
    const rule = this.active.find(
      (r) =>
        (r.sector === -1 || (bytes > 0 && r.sector * 512 >= offset && r.sector * 512 < offset + bytes)) &&
        r.iotypes.includes(iotype),
    );
    if (!rule || !rule.errno) return 0;
    if (rule.once) {
      this.active = this.active.filter((r) => r !== rule);
      const i = this.rules.indexOf(rule);
      if (i >= 0) this.rules.splice(i, 1);
    }
    this.injected++;
    return rule.errno;
  }

  /** One BlockBackend operation as it passes raw-format and the generic block layer into blkdebug. */
  check(op: BlockOp, offset: number, length: number): BlockErrno | null {
    let err = 0;
    switch (op) {
      case 'read':
        this.#fire('read_aio');
        err = this.ruleCheck(offset, length, 'read');
        break;
      case 'write':
        this.#fire('write_aio');
        this.#fire('pwritev');
        err = this.ruleCheck(offset, length, 'write');
        this.#dirty = true;
        if (!err) this.#fire('pwritev_done');
        break;
      case 'write-zeroes':
        this.#fire('pwritev_zero');
        err = this.ruleCheck(offset, length, 'write-zeroes');
        this.#dirty = true;
        if (!err) this.#fire('pwritev_done');
        break;
      case 'discard':
        err = this.ruleCheck(offset, length, 'discard');
        this.#dirty = true;
        break;
      case 'flush':
        // bdrv_co_flush: flush_to_os always; flush_to_disk and the child's flush only when something
        // was written since the last flush and cache.no-flush is off.
        this.#fire('flush_to_os');
        if (this.#noFlush || !this.#dirty) break;
        this.#fire('flush_to_disk');
        err = this.ruleCheck(0, 0, IOTYPE_OF[op]);
        if (!err) this.#dirty = false;
        break;
    }
    return err ? blockErrnoFromNumber(err) : null;
  }
}

/** Puts a blkdebug node under `blk`: every operation is checked against the rules first. */
export function installBlkdebug(blk: BlockBackend, spec: Pick<BlkdebugSpec, 'rules' | 'formatAbove'>): BlkdebugState {
  const s = new BlkdebugState(spec.rules, { formatAbove: spec.formatAbove, noFlush: blk.noFlush });
  const hook: BlockFaultHook = (op, offset, length) => s.check(op, offset, length);
  blk.faultHook = hook;
  return s;
}
