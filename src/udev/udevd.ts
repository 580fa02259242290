// Models src/udev/udevd.c, udev-event.c, udev-rules.c (evaluation), udev-node.c and sd-device's database
// writer (systemd v252): the guest's systemd-udevd, started with --resolve-names=never.
//
// The algorithm: every kernel uevent is queued (events before start() are lost, as for a daemon that is not
// running yet: coldplug `trigger` replays them). An event starts on the virtual clock after the kernel has
// returned, unless an earlier queued or running event concerns the same device, a parent or a child (udevd's
// devpath dependency check), with at most `maxWorkers` running at once. Processing an event: read the old
// database entry, run the rules (rules.ts) over the kernel's properties, then, under one lock, update the
// device's node links — /dev/{block,char}/M:m for every device node, and the SYMLINK= links, each pointing at
// the device with the highest link priority that claims it (a tie goes to the device processed last) — write
// (or delete, when nothing is left to store) /run/udev/data/<id>, and run the RUN= programs. On `remove` the
// device's links are released and its database entry deleted. Properties are recomputed on every event; tags
// stick (G:) while CURRENT_TAGS (Q:) are this event's; USEC_INITIALIZED is kept from the first event.

import { Errno, isErrno } from '../kernel/errno.ts';
import { O_CREAT, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY, S_IFDIR, S_IFLNK, S_IFMT, type Syscalls } from '../kernel/syscalls.ts';
import type { EventLoop } from '../sim/event_loop.ts';
import type { DeviceModel, Uevent } from '../sysfs/core.ts';
import { pathId, readTextFile } from '../shell/path_id.ts';
import { scsiId } from '../shell/scsi_id.ts';
import { formatUdevDb, parseUdevDb, UDEV_DB_DIR, type UdevDbRecord } from '../shell/udevadm.ts';
import { ataId } from './ata_id.ts';
import { cdromId, parseCdromIdArgs } from './cdrom_id.ts';
import { RULES, udevPatternMatch, type RulesFile, type Token } from './rules.ts';

/** libblkid's probe as udev's blkid builtin imports it: ID_FS_* and ID_PART_* properties in udev's order. */
export type BlkidProbe = (sys: Syscalls, devnode: string) => Promise<Array<[string, string]> | null>;

/** The version systemd-udevd announces (Debian 12's package). */
export const UDEVD_VERSION = '252.39-1~deb12u2';

export interface UdevdOptions {
  readonly sys: Syscalls;
  readonly dm: DeviceModel;
  readonly loop: EventLoop;
  readonly blkid?: BlkidProbe;
  /** udevd's log (what `systemd-udevd` writes to its log file). */
  readonly log?: (line: string) => void;
  readonly rules?: readonly RulesFile[];
  /** Worker limit (children_max). */
  readonly maxWorkers?: number;
  /** Virtual time between the kernel sending an event and a worker taking it (ns). */
  readonly latencyNs?: number;
}

/** What udevd broadcasts after processing an event (the UDEV lines of `udevadm monitor`). */
export interface UdevEvent {
  readonly action: string;
  readonly devpath: string;
  readonly subsystem: string;
  readonly seqnum: number;
  readonly properties: ReadonlyArray<readonly [string, string]>;
}

interface Queued {
  readonly ev: Uevent;
  readonly seqnum: number;
  readonly devpath: string;
}

/** A device as the rules see it while one event is processed. */
interface EventDevice {
  readonly action: string;
  readonly devpath: string;
  readonly syspath: string;
  readonly sysname: string;
  readonly sysnum: string;
  readonly subsystem: string;
  readonly kernel: Map<string, string>;
  readonly devnode: string | null;
  readonly dbId: string;
  readonly devnum: { readonly type: 'b' | 'c'; readonly major: number; readonly minor: number } | null;
}

/** A parent candidate for SUBSYSTEMS/KERNELS/DRIVERS/ATTRS. */
interface ParentDev {
  readonly syspath: string;
  readonly sysname: string;
  readonly subsystem: string;
  readonly driver: string;
}

/** The state the rules build up for one event. */
interface RuleState {
  readonly props: Map<string, string>;
  readonly temp: Map<string, string>;
  readonly tags: string[];
  readonly links: string[];
  linkPriority: number;
  readonly run: string[];
  /** The parent that matched the last KERNELS/SUBSYSTEMS/ATTRS set ($id). */
  matchedParent: ParentDev | null;
}

interface LinkClaim {
  readonly devId: string;
  readonly devnode: string;
  readonly prio: number;
  readonly seq: number;
}

const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const dirname = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
};

/** The relative path from the directory of `link` to `target` (both absolute), as udev writes it. */
export function relativeLinkTarget(link: string, target: string): string {
  const from = dirname(link).split('/').filter(Boolean);
  const to = target.split('/').filter(Boolean);
  let i = 0;
  while (i < from.length && i < to.length - 1 && from[i] === to[i]) i++;
  return [...Array<string>(from.length - i).fill('..'), ...to.slice(i)].join('/');
}

/** util_replace_chars for link names: keep [0-9A-Za-z#+-.:=@_/], `\x` escapes and non-ASCII; others → '_'. */
function replaceLinkChars(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (/[0-9A-Za-z#+\-.:=@_/]/.test(c) || c.charCodeAt(0) > 0x7f) out += c;
    else if (c === '\\' && s[i + 1] === 'x') {
      out += '\\x';
      i++;
    } else out += '_';
  }
  return out;
}

export class Udevd {
  readonly #sys: Syscalls;
  readonly #dm: DeviceModel;
  readonly #loop: EventLoop;
  readonly #blkid: BlkidProbe | undefined;
  readonly #log: (line: string) => void;
  readonly #rules: readonly RulesFile[];
  readonly #maxWorkers: number;
  readonly #latency: number;
  #started = false;
  readonly #missed: Uevent[] = [];
  readonly #queue: Queued[] = [];
  readonly #running = new Set<Queued>();
  readonly #settleWaiters: Array<() => void> = [];
  readonly #listeners: Array<(ev: UdevEvent) => void> = [];
  readonly #claims = new Map<string, Map<string, LinkClaim>>();
  #claimSeq = 0;
  #lock: Promise<void> = Promise.resolve();
  #dispatchPending = false;
  /** Unexpected failures while processing (bugs); tests assert this stays empty. */
  readonly errors: unknown[] = [];

  constructor(opts: UdevdOptions) {
    this.#sys = opts.sys;
    this.#dm = opts.dm;
    this.#loop = opts.loop;
    this.#blkid = opts.blkid;
    this.#log = opts.log ?? (() => {});
    this.#rules = opts.rules ?? RULES;
    this.#maxWorkers = opts.maxWorkers ?? 8;
    this.#latency = opts.latencyNs ?? 0;
    this.#dm.onUevent((ev) => this.#onUevent(ev));
  }

  /** Kernel events that arrived before start() (what udevd never saw). */
  get missed(): readonly Uevent[] {
    return this.#missed;
  }

  get started(): boolean {
    return this.#started;
  }

  /** True while an event is queued or being processed. */
  get busy(): boolean {
    return this.#queue.length > 0 || this.#running.size > 0;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#log(`Starting systemd-udevd version ${UDEVD_VERSION}`);
  }

  onEvent(fn: (ev: UdevEvent) => void): void {
    this.#listeners.push(fn);
  }

  /** Resolves once no event is queued or running (`udevadm settle`). */
  settle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.#settleWaiters.push(resolve));
  }

  /**
   * Coldplug (`udevadm trigger --type=subsystems`, then `--type=devices`): writes `action` to the uevent file of
   * every module and bus, then of every device found under /sys/bus/<bus>/devices and /sys/class/<class>,
   * sorted by devpath with md/dm disks last, as sd_device_enumerator orders them.
   */
  async trigger(action: 'add' | 'change' | 'remove' = 'add'): Promise<void> {
    const sys = this.#sys;
    const ls = async (dir: string): Promise<string[]> => {
      try {
        return (await sys.readdir(dir)).map((d) => d.name).filter((n) => n !== '.' && n !== '..').sort();
      } catch (e) {
        if (isErrno(e)) return [];
        throw e;
      }
    };
    const subsystems: string[] = [];
    for (const m of await ls('/sys/module')) subsystems.push(`/sys/module/${m}`);
    for (const b of await ls('/sys/bus')) {
      subsystems.push(`/sys/bus/${b}`);
      for (const d of await ls(`/sys/bus/${b}/drivers`)) subsystems.push(`/sys/bus/${b}/drivers/${d}`);
    }
    const devices = new Set<string>();
    const addReal = async (p: string): Promise<void> => {
      try {
        devices.add(await sys.realpath(p));
      } catch (e) {
        if (!isErrno(e)) throw e;
      }
    };
    for (const b of await ls('/sys/bus')) for (const d of await ls(`/sys/bus/${b}/devices`)) await addReal(`/sys/bus/${b}/devices/${d}`);
    for (const c of await ls('/sys/class')) for (const d of await ls(`/sys/class/${c}`)) await addReal(`/sys/class/${c}/${d}`);
    const delayed = (p: string): boolean => p.includes('/block/md') || p.includes('/block/dm-');
    const sorted = [...devices].sort((a, b) => Number(delayed(a)) - Number(delayed(b)) || (a < b ? -1 : a > b ? 1 : 0));
    for (const p of [...subsystems, ...sorted]) await this.#writeAttr(`${p}/uevent`, action);
  }

  // ---- queue -------------------------------------------------------------------------------------

  #onUevent(ev: Uevent): void {
    if (!this.#started) {
      this.#missed.push(ev);
      return;
    }
    const seq = ev.env.find(([k]) => k === 'SEQNUM');
    this.#queue.push({ ev, seqnum: seq ? Number(seq[1]) : 0, devpath: ev.devpath });
    this.#scheduleDispatch();
  }

  #scheduleDispatch(): void {
    if (this.#dispatchPending) return;
    this.#dispatchPending = true;
    this.#loop.after(this.#latency, () => {
      this.#dispatchPending = false;
      this.#dispatch();
    });
  }

  /** event_queue_start: start every queued event that depends on nothing earlier, up to the worker limit. */
  #dispatch(): void {
    const related = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
    const earlier: Queued[] = [...this.#running];
    for (const q of [...this.#queue]) {
      if (this.#running.size >= this.#maxWorkers) break;
      const blocked = earlier.some((e) => related(e.devpath, q.devpath));
      earlier.push(q);
      if (blocked) continue;
      this.#queue.splice(this.#queue.indexOf(q), 1);
      this.#running.add(q);
      void this.#work(q);
    }
    this.#checkSettled();
  }

  async #work(q: Queued): Promise<void> {
    try {
      await this.#process(q);
    } catch (e) {
      this.errors.push(e);
      this.#log(`${q.devpath}: Worker failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.#running.delete(q);
      if (this.#queue.length > 0) this.#scheduleDispatch();
      this.#checkSettled();
    }
  }

  #checkSettled(): void {
    if (this.busy) return;
    for (const w of this.#settleWaiters.splice(0)) w();
  }

  // ---- one event ---------------------------------------------------------------------------------

  #eventDevice(ev: Uevent): EventDevice {
    const kernel = new Map<string, string>(ev.env.map(([k, v]) => [k, v] as [string, string]));
    const sysname = basename(ev.devpath).replace(/!/g, '/');
    const devname = kernel.get('DEVNAME');
    const major = kernel.get('MAJOR');
    const minor = kernel.get('MINOR');
    const devnum = major !== undefined && minor !== undefined
      ? { type: ev.subsystem === 'block' ? 'b' as const : 'c' as const, major: Number(major), minor: Number(minor) }
      : null;
    return {
      action: ev.action,
      devpath: ev.devpath,
      syspath: `/sys${ev.devpath}`,
      sysname,
      sysnum: /(\d+)$/.exec(sysname)?.[1] ?? '',
      subsystem: ev.subsystem,
      kernel,
      devnode: devname !== undefined ? `/dev/${devname}` : null,
      dbId: devnum ? `${devnum.type}${devnum.major}:${devnum.minor}` : `+${ev.subsystem}:${sysname}`,
      devnum,
    };
  }

  async #process(q: Queued): Promise<void> {
    const dev = this.#eventDevice(q.ev);
    // worker_lock_whole_disk: a worker holds the whole disk open (and flock'ed) while it processes a
    // block device's event — its open and close are what a CD drive sees as event checks.
    const lockFd = await this.#lockWholeDisk(dev);
    try {
      await this.#processLocked(q, dev);
    } finally {
      if (lockFd !== null) await this.#sys.close(lockFd).catch(() => undefined);
    }
  }

  async #lockWholeDisk(dev: EventDevice): Promise<number | null> {
    if (dev.action === 'remove' || dev.subsystem !== 'block' || /^(dm-|md|drbd)/.test(dev.sysname)) return null;
    const partition = dev.kernel.get('DEVTYPE') === 'partition';
    const node = partition ? `/dev/${dev.devpath.split('/').at(-2)!}` : dev.devnode;
    if (node === null) return null;
    try {
      return await this.#sys.open(node, O_RDONLY | O_NONBLOCK);
    } catch (e) {
      if (isErrno(e)) return null;
      throw e;
    }
  }

  async #processLocked(q: Queued, dev: EventDevice): Promise<void> {
    const dbPath = `${UDEV_DB_DIR}/${dev.dbId}`;
    const oldText = await readTextFile(this.#sys, dbPath);
    const old: UdevDbRecord | null = oldText === null ? null : parseUdevDb(oldText);
    const st: RuleState = { props: new Map(), temp: new Map(), tags: [], links: [], linkPriority: 0, run: [], matchedParent: null };
    await this.#applyRules(dev, st);

    await this.#withLock(async () => {
      if (dev.action === 'remove') {
        const owned = new Set((old?.links ?? []).map((l) => `/dev/${l}`));
        for (const [link, m] of this.#claims) if (m.has(dev.dbId)) owned.add(link);
        for (const l of owned) await this.#release(l, dev.dbId);
        if (dev.devnum) await this.#removeLink(this.#devnumLink(dev));
        await this.#unlinkQuiet(dbPath);
        return;
      }
      const newLinks = new Set(st.links.map((l) => `/dev/${l}`));
      for (const l of old?.links ?? []) if (!newLinks.has(`/dev/${l}`)) await this.#release(`/dev/${l}`, dev.dbId);
      if (dev.devnode !== null && dev.devnum) {
        await this.#symlink(this.#devnumLink(dev), dev.devnode);
        for (const l of newLinks) await this.#claim(l, dev.dbId, dev.devnode, st.linkPriority);
      }
      const allTags = [...(old?.tags ?? [])];
      for (const t of st.tags) if (!allTags.includes(t)) allTags.push(t);
      const props = [...st.props].filter(([k]) => !k.startsWith('.'));
      const hasInfo = props.length > 0 || allTags.length > 0 || st.links.length > 0;
      if (!hasInfo) {
        await this.#unlinkQuiet(dbPath);
        return;
      }
      const rec: UdevDbRecord = {
        links: st.links,
        linkPriority: st.linkPriority,
        usecInitialized: old?.usecInitialized ?? Math.floor(this.#loop.now() / 1000),
        properties: props,
        tags: allTags,
        currentTags: st.tags,
      };
      await this.#mkdirP(UDEV_DB_DIR);
      await this.#writeFile(dbPath, formatUdevDb(rec));
    });

    for (const cmd of st.run) await this.#runProgram(dev, cmd);

    const properties: Array<[string, string]> = [...dev.kernel].filter(([k]) => k !== 'SEQNUM').map(([k, v]) => [k, v]);
    for (const [k, v] of st.props) if (!k.startsWith('.')) properties.push([k, v]);
    const ev: UdevEvent = { action: dev.action, devpath: dev.devpath, subsystem: dev.subsystem, seqnum: q.seqnum, properties };
    for (const l of this.#listeners) l(ev);
  }

  #devnumLink(dev: EventDevice): string {
    return `/dev/${dev.devnum!.type === 'b' ? 'block' : 'char'}/${dev.devnum!.major}:${dev.devnum!.minor}`;
  }

  async #withLock(fn: () => Promise<void>): Promise<void> {
    const prev = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((r) => (release = r));
    await prev;
    try {
      await fn();
    } finally {
      release();
    }
  }

  // ---- rules -------------------------------------------------------------------------------------

  #env(dev: EventDevice, st: RuleState, key: string): string {
    if (key.startsWith('.')) return st.temp.get(key) ?? '';
    return st.props.get(key) ?? dev.kernel.get(key) ?? '';
  }

  async #readAttr(syspath: string, name: string): Promise<string | null> {
    const text = await readTextFile(this.#sys, `${syspath}/${name}`);
    return text === null ? null : text.replace(/\s+$/, '');
  }

  async #parents(dev: EventDevice): Promise<ParentDev[]> {
    const out: ParentDev[] = [];
    const link = async (p: string): Promise<string> => {
      try {
        return basename(await this.#sys.readlink(p));
      } catch (e) {
        if (isErrno(e)) return '';
        throw e;
      }
    };
    for (let p = dev.syspath; p.startsWith('/sys/devices/') || p.startsWith('/sys/module/'); p = dirname(p)) {
      if (p !== dev.syspath && (await readTextFile(this.#sys, `${p}/uevent`)) === null) continue;
      out.push({ syspath: p, sysname: basename(p), subsystem: await link(`${p}/subsystem`), driver: await link(`${p}/driver`) });
    }
    return out;
  }

  /** udev_event_apply_format: the substitutions of assigned values and program lines. */
  async #format(dev: EventDevice, st: RuleState, v: string): Promise<string> {
    let out = '';
    for (let i = 0; i < v.length; i++) {
      const c = v[i]!;
      if (c === '%' || c === '$') {
        if (v[i + 1] === c) {
          out += c;
          i++;
          continue;
        }
        const m = c === '$'
          ? /^\$(env|attr|sysfs)\{([^}]*)\}|^\$(devnode|kernel|number|id|root|name|devpath|major|minor)/.exec(v.slice(i))
          : /^%(E|s)\{([^}]*)\}|^%([Nknbrpp]|M|m)/.exec(v.slice(i));
        if (m) {
          i += m[0].length - 1;
          const fn = m[1] ?? m[3]!;
          const arg = m[2] ?? '';
          switch (fn) {
            case 'env': case 'E': out += this.#env(dev, st, arg); break;
            case 'attr': case 'sysfs': case 's': out += (await this.#readAttr(dev.syspath, arg)) ?? ''; break;
            case 'devnode': case 'N': out += dev.devnode ?? ''; break;
            case 'kernel': case 'k': out += dev.sysname; break;
            case 'number': case 'n': out += dev.sysnum; break;
            case 'id': case 'b': out += st.matchedParent?.sysname ?? ''; break;
            case 'root': case 'r': out += '/dev'; break;
            case 'name': out += dev.devnode !== null ? dev.devnode.slice('/dev/'.length) : dev.sysname; break;
            case 'devpath': case 'p': out += dev.devpath; break;
            case 'major': case 'M': out += String(dev.devnum?.major ?? 0); break;
            case 'minor': case 'm': out += String(dev.devnum?.minor ?? 0); break;
            default: break;
          }
          continue;
        }
      }
      out += c;
    }
    return out;
  }

  async #applyRules(dev: EventDevice, st: RuleState): Promise<void> {
    let parents: ParentDev[] | null = null;
    const getParents = async (): Promise<ParentDev[]> => (parents ??= await this.#parents(dev));
    for (const file of this.#rules) {
      let gotoLabel: string | null = null;
      for (const line of file.lines) {
        if ('label' in line) {
          if (gotoLabel === line.label) gotoLabel = null;
          continue;
        }
        if (gotoLabel !== null) continue;
        const target = await this.#applyLine(dev, st, line.tokens, getParents);
        if (target !== null) gotoLabel = target;
      }
    }
  }

  /** One rule line; returns a GOTO label when the rule matched and jumps. */
  async #applyLine(dev: EventDevice, st: RuleState, tokens: readonly Token[], getParents: () => Promise<ParentDev[]>): Promise<string | null> {
    // Parent keys (SUBSYSTEMS, KERNELS, DRIVERS, ATTRS) must all hold on one device of the chain.
    const parentTokens = tokens.filter((t) => t.t === 'parent' || t.t === 'attrs');
    let parentsChecked = false;
    let jump: string | null = null;
    const holds = (op: '==' | '!=', pattern: string, value: string): boolean => udevPatternMatch(pattern, value) === (op === '==');
    for (const t of tokens) {
      switch (t.t) {
        case 'match': {
          let value: string;
          if (t.key === 'ACTION') value = dev.action;
          else if (t.key === 'SUBSYSTEM') value = dev.subsystem;
          else if (t.key === 'KERNEL') value = dev.sysname;
          else if (t.key === 'DEVPATH') value = dev.devpath;
          else if (t.key === 'DRIVER') value = dev.kernel.get('DRIVER') ?? '';
          else {
            const hit = st.tags.some((tg) => udevPatternMatch(t.v, tg));
            if (hit !== (t.op === '==')) return null;
            continue;
          }
          if (!holds(t.op, t.v, value)) return null;
          break;
        }
        case 'env':
          if (!holds(t.op, t.v, this.#env(dev, st, t.key))) return null;
          break;
        case 'attr': {
          const v = await this.#readAttr(dev.syspath, t.key);
          if (v === null ? t.op === '==' : !holds(t.op, t.v, v)) return null;
          break;
        }
        case 'test': {
          const exists = await this.#exists(`${dev.syspath}/${t.v}`);
          if (exists !== (t.op === '==')) return null;
          break;
        }
        case 'parent': case 'attrs': {
          if (parentsChecked) break;
          parentsChecked = true;
          let found: ParentDev | null = null;
          for (const p of await getParents()) {
            let ok = true;
            for (const pt of parentTokens) {
              if (pt.t === 'parent') {
                const value = pt.key === 'SUBSYSTEMS' ? p.subsystem : pt.key === 'KERNELS' ? p.sysname : p.driver;
                if (!holds(pt.op, pt.v, value)) ok = false;
              } else if (pt.t === 'attrs') {
                const v = await this.#readAttr(p.syspath, pt.key);
                if (v === null || !holds(pt.op, pt.v, v)) ok = false;
              }
              if (!ok) break;
            }
            if (ok) {
              found = p;
              break;
            }
          }
          if (found === null) return null;
          st.matchedParent = found;
          break;
        }
        case 'import':
          if (!(await this.#import(dev, st, t.kind, await this.#format(dev, st, t.v)))) return null;
          break;
        case 'setEnv': {
          const v = await this.#format(dev, st, t.v);
          if (t.key.startsWith('.')) st.temp.set(t.key, v);
          else if (v === '') st.props.delete(t.key);
          else st.props.set(t.key, v);
          break;
        }
        case 'symlink':
          for (const l of replaceLinkChars(await this.#format(dev, st, t.v)).split(/\s+/)) {
            if (l !== '' && !st.links.includes(l)) st.links.push(l);
          }
          break;
        case 'tag':
          if (!st.tags.includes(t.v)) st.tags.push(t.v);
          break;
        case 'setAttr':
          await this.#setAttr(dev, t.key, await this.#format(dev, st, t.v));
          break;
        case 'options': {
          const m = /^link_priority=(-?\d+)$/.exec(t.v);
          if (m) st.linkPriority = Number(m[1]);
          break;
        }
        case 'run':
          st.run.push(await this.#format(dev, st, t.v));
          break;
        case 'goto':
          jump = t.label;
          break;
      }
    }
    return jump;
  }

  /** IMPORT{program|builtin|parent}: false when the program or builtin fails (the rule stops there). */
  async #import(dev: EventDevice, st: RuleState, kind: 'program' | 'builtin' | 'parent', line: string): Promise<boolean> {
    const put = (pairs: ReadonlyArray<readonly [string, string]>): void => {
      for (const [k, v] of pairs) {
        if (v === '') st.props.delete(k);
        else st.props.set(k, v);
      }
    };
    if (kind === 'parent') {
      const parent = (await this.#parents(dev))[1];
      if (!parent) return false;
      const parentDev = await this.#deviceIdOf(parent.syspath);
      const text = parentDev === null ? null : await readTextFile(this.#sys, `${UDEV_DB_DIR}/${parentDev}`);
      if (text === null) return false;
      put(parseUdevDb(text).properties.filter(([k]) => udevPatternMatch(line, k)));
      return true;
    }
    const argv = line.split(/\s+/).filter(Boolean);
    const name = basename(argv[0] ?? '');
    const args = argv.slice(1);
    const devnodeArg = (): string | null => {
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === '-d' || a === '--device') return args[i + 1] ?? null;
        if (a.startsWith('--device=')) return a.slice('--device='.length);
      }
      return args.filter((a) => !a.startsWith('-')).pop() ?? null;
    };
    let result: ReadonlyArray<readonly [string, string]> | null = null;
    if (kind === 'builtin') {
      if (name === 'path_id') {
        const r = await pathId(this.#sys, dev.syspath);
        result = r.ok ? [['ID_PATH', r.props.ID_PATH], ['ID_PATH_TAG', r.props.ID_PATH_TAG]] : null;
      } else if (name === 'blkid') {
        result = this.#blkid && dev.devnode !== null ? await this.#blkid(this.#sys, dev.devnode) : null;
      }
    } else if (name === 'scsi_id') {
      const node = devnodeArg();
      const props = node === null ? null : await scsiId(this.#sys, node);
      result = props === null ? null : Object.entries(props).map(([k, v]) => [k, String(v)] as const);
    } else if (name === 'cdrom_id') {
      const { opts, devnode } = parseCdromIdArgs(args);
      result = devnode === null ? null : await cdromId(this.#sys, devnode, opts);
    } else if (name === 'ata_id') {
      const node = devnodeArg();
      result = node === null ? null : await ataId(this.#sys, node);
    }
    if (result === null) return false;
    put(result);
    return true;
  }

  async #runProgram(dev: EventDevice, line: string): Promise<void> {
    const argv = line.split(/\s+/).filter(Boolean);
    if (basename(argv[0] ?? '') === 'cdrom_id') {
      const { opts, devnode } = parseCdromIdArgs(argv.slice(1));
      if (devnode !== null) await cdromId(this.#sys, devnode, opts);
    } else this.#log(`${dev.sysname}: RUN '${line}' not modelled`);
  }

  /** ATTR{name}="value": writes the attribute (a `*` in the name expands over the directory). */
  async #setAttr(dev: EventDevice, name: string, value: string): Promise<void> {
    const parts = name.split('/');
    let paths = [dev.syspath];
    for (const part of parts) {
      const next: string[] = [];
      for (const p of paths) {
        if (part.includes('*') || part.includes('?')) {
          let names: string[] = [];
          try {
            names = (await this.#sys.readdir(p)).map((d) => d.name).sort();
          } catch (e) {
            if (!isErrno(e)) throw e;
          }
          for (const n of names) if (udevPatternMatch(part, n)) next.push(`${p}/${n}`);
        } else next.push(`${p}/${part}`);
      }
      paths = next;
    }
    for (const p of paths) await this.#writeAttr(p, value);
  }

  async #deviceIdOf(syspath: string): Promise<string | null> {
    const uevent = await readTextFile(this.#sys, `${syspath}/uevent`);
    if (uevent === null) return null;
    const major = /^MAJOR=(\d+)$/m.exec(uevent)?.[1];
    const minor = /^MINOR=(\d+)$/m.exec(uevent)?.[1];
    let subsystem = '';
    try {
      subsystem = basename(await this.#sys.readlink(`${syspath}/subsystem`));
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
    if (major !== undefined && minor !== undefined) return `${subsystem === 'block' ? 'b' : 'c'}${major}:${minor}`;
    return `+${subsystem}:${basename(syspath)}`;
  }

  // ---- links -------------------------------------------------------------------------------------

  async #claim(link: string, devId: string, devnode: string, prio: number): Promise<void> {
    let m = this.#claims.get(link);
    if (!m) this.#claims.set(link, (m = new Map()));
    m.set(devId, { devId, devnode, prio, seq: ++this.#claimSeq });
    await this.#updateLink(link);
  }

  async #release(link: string, devId: string): Promise<void> {
    const m = this.#claims.get(link);
    if (!m?.delete(devId)) return;
    if (m.size === 0) this.#claims.delete(link);
    await this.#updateLink(link);
  }

  /** link_update: the link points at the highest-priority claimant (latest on a tie), or goes away. */
  async #updateLink(link: string): Promise<void> {
    let best: LinkClaim | null = null;
    for (const c of this.#claims.get(link)?.values() ?? []) {
      if (best === null || c.prio > best.prio || (c.prio === best.prio && c.seq > best.seq)) best = c;
    }
    if (best === null) await this.#removeLink(link);
    else await this.#symlink(link, best.devnode);
  }

  /** node_symlink: creates or replaces `link` (a symlink) so that it points at `target`. */
  async #symlink(link: string, target: string): Promise<void> {
    const rel = relativeLinkTarget(link, target);
    try {
      const st = await this.#sys.lstat(link);
      if ((st.mode & S_IFMT) !== S_IFLNK) {
        this.#log(`Conflicting inode '${link}' found, link to '${target}' will not be created.`);
        return;
      }
      if ((await this.#sys.readlink(link)) === rel) return;
      await this.#sys.unlink(link);
    } catch (e) {
      if (!(e instanceof Errno) || e.code !== 'ENOENT') throw e;
    }
    await this.#mkdirP(dirname(link));
    await this.#sys.symlink(rel, link);
  }

  /** Removes a link udev owns, then the directories it leaves empty, up to /dev. */
  async #removeLink(link: string): Promise<void> {
    try {
      const st = await this.#sys.lstat(link);
      if ((st.mode & S_IFMT) !== S_IFLNK) return;
      await this.#sys.unlink(link);
    } catch (e) {
      if (isErrno(e)) return;
      throw e;
    }
    for (let d = dirname(link); d !== '/dev' && d.startsWith('/dev/'); d = dirname(d)) {
      try {
        await this.#sys.rmdir(d);
      } catch (e) {
        if (isErrno(e)) break;
        throw e;
      }
    }
  }

  // ---- files -------------------------------------------------------------------------------------

  async #exists(path: string): Promise<boolean> {
    try {
      await this.#sys.lstat(path);
      return true;
    } catch (e) {
      if (isErrno(e)) return false;
      throw e;
    }
  }

  async #mkdirP(path: string): Promise<void> {
    let cur = '';
    for (const part of path.split('/').filter(Boolean)) {
      cur += `/${part}`;
      try {
        const st = await this.#sys.stat(cur);
        if ((st.mode & S_IFMT) === S_IFDIR) continue;
      } catch (e) {
        if (!(e instanceof Errno) || e.code !== 'ENOENT') throw e;
      }
      await this.#sys.mkdir(cur, 0o755);
    }
  }

  async #writeFile(path: string, text: string): Promise<void> {
    const fd = await this.#sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
    try {
      await this.#sys.write(fd, new TextEncoder().encode(text));
    } finally {
      await this.#sys.close(fd);
    }
  }

  /** Writes a sysfs attribute; failures are what udev logs and ignores. */
  async #writeAttr(path: string, value: string): Promise<void> {
    try {
      const fd = await this.#sys.open(path, O_WRONLY);
      try {
        await this.#sys.write(fd, new TextEncoder().encode(value));
      } finally {
        await this.#sys.close(fd);
      }
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
  }

  async #unlinkQuiet(path: string): Promise<void> {
    try {
      await this.#sys.unlink(path);
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
  }
}
