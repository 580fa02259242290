// Models monitor/qmp.c + qapi/qmp-dispatch.c + qobject/json-writer.c + the QMP commands of
// qapi/{run-state,block-core,block,qdev,misc}.json (QEMU 7.2) that this machine has: a JSON-in /
// JSON-out dispatcher over QemuMachine. Replies and events are written as QEMU writes them: ": " and
// ", " separators, and object members in QDict order — QEMU stores a reply's members in a hash table
// of 512 buckets (qdict.c, tdb_hash of the key) and writes them bucket by bucket, the member added
// last first within a bucket. Builders below add members in QAPI declaration order, so the order on
// the wire follows from the schema exactly as it does in QEMU.

import { hasTray } from '../machine.ts';
import type { BlockIoThrottleArgs, QmpEvent, QemuMachine, MachineError, ScsiLu } from '../machine.ts';
import { BUCKETS } from '../block/throttle-groups.ts';
import { formatFaultRule } from '../fault.ts';
import type { QemuOpts } from '../qemu-option.ts';
import { qdevDeviceIds } from '../qdev-monitor.ts';

// ---- the JSON writer -------------------------------------------------------------------------------

const QDICT_BUCKET_MAX = 512;

/** qdict.c tdb_hash: the bucket a member name lands in. */
export function qdictBucket(name: string): number {
  const bytes = new TextEncoder().encode(name);
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) value = (value + ((bytes[i]! << ((i * 5) % 24)) >>> 0)) >>> 0;
  return ((Math.imul(1103515243, value) >>> 0) + 12345) % 2 ** 32 % QDICT_BUCKET_MAX;
}

/** The order QEMU iterates a QDict whose members were added in `keys` order. */
export function qdictOrder(keys: readonly string[]): string[] {
  return keys
    .map((k, i) => ({ k, i, b: qdictBucket(k) }))
    .sort((x, y) => x.b - y.b || y.i - x.i)
    .map((x) => x.k);
}

function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\b': out += '\\b'; break;
      case '\f': out += '\\f'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      default:
        if (cp < 0x20 || cp >= 0x7f) {
          // json-writer.c: \uXXXX, surrogate pairs above the BMP
          if (cp > 0xffff) {
            const v = cp - 0x10000;
            out += `\\u${(0xd800 | (v >> 10)).toString(16).padStart(4, '0')}\\u${(0xdc00 | (v & 0x3ff)).toString(16).padStart(4, '0')}`;
          } else out += `\\u${cp.toString(16).padStart(4, '0')}`;
        } else out += ch;
    }
  }
  return out + '"';
}

/** qobject_to_json: compact, with QEMU's separators and QDict member order. */
export function qmpToJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return quoteString(v);
  if (Array.isArray(v)) return `[${v.map(qmpToJson).join(', ')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined);
  return `{${qdictOrder(keys).map((k) => `${quoteString(k)}: ${qmpToJson(o[k])}`).join(', ')}}`;
}

/** A QMP event in wire format; the timestamp is the virtual clock plus `epochNs`. */
export function formatEvent(e: QmpEvent, epochNs = 0): string {
  const t = e.ns + epochNs;
  const obj: Record<string, unknown> = {
    timestamp: { seconds: Math.floor(t / 1e9), microseconds: Math.floor((t % 1e9) / 1e3) },
    event: e.event,
  };
  if (e.data !== undefined) obj['data'] = e.data;
  return qmpToJson(obj);
}

// ---- query builders (also used by HMP) ------------------------------------------------------------

export interface ImageInfo {
  filename: string;
  format: string;
  'dirty-flag': boolean;
  'actual-size': number;
  'virtual-size': number;
}

export interface BlockDeviceInfo {
  file: string;
  'node-name'?: string | undefined;
  ro: boolean;
  drv: string;
  backing_file_depth: number;
  encrypted: boolean;
  detect_zeroes: string;
  bps: number;
  bps_rd: number;
  bps_wr: number;
  iops: number;
  iops_rd: number;
  iops_wr: number;
  image: ImageInfo;
  bps_max?: number | undefined;
  bps_rd_max?: number | undefined;
  bps_wr_max?: number | undefined;
  iops_max?: number | undefined;
  iops_rd_max?: number | undefined;
  iops_wr_max?: number | undefined;
  bps_max_length?: number | undefined;
  bps_rd_max_length?: number | undefined;
  bps_wr_max_length?: number | undefined;
  iops_max_length?: number | undefined;
  iops_rd_max_length?: number | undefined;
  iops_wr_max_length?: number | undefined;
  iops_size?: number | undefined;
  group?: string | undefined;
  cache: { writeback: boolean; direct: boolean; 'no-flush': boolean };
  write_threshold: number;
}

export interface BlockInfo {
  device: string;
  qdev?: string | undefined;
  type: string;
  removable: boolean;
  locked: boolean;
  inserted?: BlockDeviceInfo | undefined;
  tray_open?: boolean | undefined;
  'io-status'?: string | undefined;
}

function allocatedSize(m: QemuMachine, fd: number): number {
  try {
    const st = m.env.fs.fstatSync(fd) as { blocks?: unknown };
    return typeof st.blocks === 'number' ? st.blocks * 512 : 0;
  } catch {
    return 0;
  }
}

/** qmp_query_block: every named BlockBackend and every anonymous one a device holds. */
export function queryBlock(m: QemuMachine): BlockInfo[] {
  const out: BlockInfo[] = [];
  for (const e of m.blkEntries) {
    if (e.name === '' && !e.dev) continue;
    const dev: ScsiLu | undefined = e.dev;
    const spec = dev ? m.scsi.get(dev) : undefined;
    const removable = dev ? dev.removable : e.blk ? true : (e.boardRemovable ?? false);
    const info: BlockInfo = {
      device: e.name,
      qdev: spec ? m.qdevName(spec) : e.boardQdev,
      type: 'unknown',
      removable,
      locked: dev ? dev.isMediumLocked() : false,
    };
    const blk = e.blk;
    if (blk?.medium) {
      const drive = m.tree.drives.find((d) => d.id === e.name);
      const thr = m.throttles.get(blk);
      const b = thr?.config.buckets;
      info.inserted = {
        file: blk.medium.path,
        'node-name': e.node,
        ro: blk.readOnly,
        drv: 'raw',
        backing_file_depth: 0,
        encrypted: false,
        detect_zeroes: drive?.detectZeroes ?? 'off',
        bps: b?.bps.avg ?? 0,
        bps_rd: b?.bps_rd.avg ?? 0,
        bps_wr: b?.bps_wr.avg ?? 0,
        iops: b?.iops.avg ?? 0,
        iops_rd: b?.iops_rd.avg ?? 0,
        iops_wr: b?.iops_wr.avg ?? 0,
        image: {
          filename: blk.medium.path,
          format: 'raw',
          'dirty-flag': false,
          'actual-size': allocatedSize(m, blk.medium.fd),
          'virtual-size': blk.size,
        },
        // bdrv_block_device_info: with I/O limits, the burst settings that are set and the group.
        ...(b ? Object.fromEntries(BUCKETS.filter((n) => b[n].max).map((n) => [`${n}_max`, b[n].max])) : {}),
        ...(b ? Object.fromEntries(BUCKETS.filter((n) => b[n].max).map((n) => [`${n}_max_length`, b[n].burstLength])) : {}),
        ...(thr && thr.config.opSize ? { iops_size: thr.config.opSize } : {}),
        ...(thr ? { group: thr.group } : {}),
        cache: { writeback: blk.enableWriteCache, direct: blk.direct, 'no-flush': blk.noFlush },
        write_threshold: 0,
      };
    }
    if (dev && hasTray(dev)) info.tray_open = dev.isTrayOpen();
    // blk_iostatus_is_enabled: the device enabled it, and an error policy can stop the VM.
    if (blk && m.iostatusIsEnabled(blk)) info['io-status'] = blk.ioStatus;
    out.push(info);
  }
  return out;
}

/** x-query-faults (ours): each rule with its id, its text and its counters, in evaluation order. */
export function queryFaults(m: QemuMachine): Array<{ id: number; rule: string; hits: number; fired: number }> {
  return m.faults.list().map((r) => ({ id: r.id, rule: formatFaultRule(r), hits: r.hits, fired: r.fired }));
}

export function queryStatus(m: QemuMachine): { running: boolean; singlestep: boolean; status: string } {
  return { running: m.running, singlestep: false, status: m.runState };
}

/** What query-version reports for the QEMU this machine models. */
export const QEMU_VERSION = { major: 7, minor: 2, micro: 22, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' } as const;

// ---- dispatch ------------------------------------------------------------------------------------

type ErrorClass = 'GenericError' | 'CommandNotFound' | 'DeviceNotFound';

class QmpError {
  readonly cls: ErrorClass;
  readonly desc: string;
  constructor(desc: string, cls: ErrorClass = 'GenericError') {
    this.cls = cls;
    this.desc = desc;
  }
}

function fromMachine(e: MachineError): QmpError {
  return new QmpError(e.message, e.errorClass ?? 'GenericError');
}

type ArgType = 'str' | 'int' | 'bool' | 'any';
type Args = Record<string, unknown>;

/** The QAPI input visitor (strict): members in declared order, then leftovers refused. */
function visitArgs(args: Args, members: ReadonlyArray<readonly [string, ArgType, boolean?]>): Args {
  for (const [name, type, optional] of members) {
    const v = args[name];
    if (v === undefined) {
      if (!optional) throw new QmpError(`Parameter '${name}' is missing`);
      continue;
    }
    const expected = type === 'str' ? 'string' : type === 'int' ? 'integer' : type === 'bool' ? 'boolean' : undefined;
    const ok = type === 'any' || (type === 'str' && typeof v === 'string') || (type === 'bool' && typeof v === 'boolean') ||
      (type === 'int' && typeof v === 'number' && Number.isInteger(v));
    if (!ok) throw new QmpError(`Invalid parameter type for '${name}', expected: ${expected}`);
  }
  for (const k of Object.keys(args)) {
    if (!members.some(([n]) => n === k)) throw new QmpError(`Parameter '${k}' is unexpected`);
  }
  return args;
}

/** qemu_opts_from_qdict: a QMP argument object as -device / -drive style options. */
function optsFromDict(list: string, args: Args): QemuOpts {
  const opts: Array<{ name: string; value: string }> = [];
  let id: string | undefined;
  for (const [k, v] of Object.entries(args)) {
    let s: string;
    if (typeof v === 'string') s = v;
    else if (typeof v === 'number' && Number.isInteger(v)) s = String(v);
    else if (typeof v === 'boolean') s = v ? 'on' : 'off';
    else throw new QmpError(`Parameter '${k}' expects a string, integer or boolean`);
    if (k === 'id') id = s;
    else opts.push({ name: k, value: s });
  }
  return { list, id, opts };
}

export type HmpRunner = (commandLine: string) => string;

/** The QMP side of the monitor: one request object in, one reply (and the queued events) out. */
export class QmpMonitor {
  readonly machine: QemuMachine;
  /** Added to the virtual clock in event timestamps (QEMU uses the host's real time). */
  epochNs = 0;
  /** human-monitor-command runs an HMP line here. */
  hmp: HmpRunner | null = null;

  constructor(machine: QemuMachine) {
    this.machine = machine;
  }

  /** Takes the queued events in wire format. */
  drainEvents(): string[] {
    return this.machine.drainEvents().map((e) => formatEvent(e, this.epochNs));
  }

  /** One QMP line: the reply, then the events raised since the previous drain (wire format). */
  qmp(line: string): { reply: string; events: string[] } {
    const reply = this.handle(line);
    return { reply, events: this.drainEvents() };
  }

  /** handle_qmp_command: parses, dispatches, formats the reply (never throws). */
  handle(line: string): string {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return qmpToJson({ error: { class: 'GenericError', desc: 'JSON parse error, invalid keyword' } });
    }
    let id: unknown;
    try {
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new QmpError('QMP input must be a JSON object');
      const dict = req as Record<string, unknown>;
      id = dict['id'];
      let command: string | undefined;
      for (const [k, v] of Object.entries(dict)) {
        if (k === 'execute' || k === 'exec-oob') {
          if (typeof v !== 'string') throw new QmpError(`QMP input member '${k}' must be a string`);
          if (k === 'exec-oob') throw new QmpError("QMP input member 'exec-oob' is unexpected");
          command = v;
        } else if (k === 'arguments') {
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new QmpError("QMP input member 'arguments' must be an object");
        } else if (k !== 'id') throw new QmpError(`QMP input member '${k}' is unexpected`);
      }
      if (command === undefined) throw new QmpError("QMP input lacks member 'execute'");
      const ret = this.#dispatch(command, (dict['arguments'] ?? {}) as Args);
      const rsp: Record<string, unknown> = { return: ret };
      if (id !== undefined) rsp['id'] = id;
      return qmpToJson(rsp);
    } catch (e) {
      if (!(e instanceof QmpError)) throw e;
      const rsp: Record<string, unknown> = { error: { class: e.cls, desc: e.desc } };
      if (id !== undefined) rsp['id'] = id;
      return qmpToJson(rsp);
    }
  }

  #dispatch(command: string, args: Args): unknown {
    const m = this.machine;
    const check = (err: MachineError | null): Record<string, never> => {
      if (err) throw fromMachine(err);
      return {};
    };
    switch (command) {
      case 'qmp_capabilities':
        throw new QmpError('Capabilities negotiation is already complete, command ignored', 'CommandNotFound');
      case 'query-status':
        visitArgs(args, []);
        return queryStatus(m);
      case 'query-block':
        visitArgs(args, []);
        return queryBlock(m);
      case 'query-version':
        visitArgs(args, []);
        return { qemu: { major: QEMU_VERSION.major, minor: QEMU_VERSION.minor, micro: QEMU_VERSION.micro }, package: QEMU_VERSION.package };
      case 'stop':
        visitArgs(args, []);
        m.stop();
        return {};
      case 'cont':
        visitArgs(args, []);
        return check(m.cont());
      case 'system_reset':
        visitArgs(args, []);
        m.systemReset();
        return {};
      case 'quit':
        visitArgs(args, []);
        m.quit();
        return {};
      case 'device_add': {
        if (typeof args['driver'] !== 'string') {
          throw new QmpError(args['driver'] === undefined ? "Parameter 'driver' is missing" : "Invalid parameter type for 'driver', expected: string");
        }
        const opts = optsFromDict('device', args);
        if (opts.id !== undefined && qdevDeviceIds(m.tree).has(opts.id)) {
          throw new QmpError(`Duplicate ID '${opts.id}' for device`);
        }
        const r = m.deviceAdd(opts);
        if (!r.ok) throw new QmpError(r.error.message);
        return {};
      }
      case 'device_del':
        visitArgs(args, [['id', 'str']]);
        return check(m.deviceDel(args['id'] as string));
      case 'blockdev-add':
        if (args['driver'] === undefined) throw new QmpError("Parameter 'driver' is missing");
        return check(m.blockdevAdd(args));
      case 'blockdev-del':
        visitArgs(args, [['node-name', 'str']]);
        return check(m.blockdevDel(args['node-name'] as string));
      case 'block_resize':
      case 'block-resize':
        visitArgs(args, [['device', 'str', true], ['node-name', 'str', true], ['size', 'int']]);
        return check(m.blockResize(args['device'] as string | undefined, args['node-name'] as string | undefined, args['size'] as number));
      case 'eject':
        visitArgs(args, [['device', 'str', true], ['id', 'str', true], ['force', 'bool', true]]);
        return check(m.eject(args['device'] as string | undefined, args['id'] as string | undefined, args['force'] === true));
      case 'blockdev-open-tray':
        visitArgs(args, [['device', 'str', true], ['id', 'str', true], ['force', 'bool', true]]);
        return check(m.openTray(args['device'] as string | undefined, args['id'] as string | undefined, args['force'] === true));
      case 'blockdev-close-tray':
        visitArgs(args, [['device', 'str', true], ['id', 'str', true]]);
        return check(m.closeTray(args['device'] as string | undefined, args['id'] as string | undefined));
      case 'blockdev-change-medium': {
        visitArgs(args, [['device', 'str', true], ['id', 'str', true], ['filename', 'str'], ['format', 'str', true], ['force', 'bool', true], ['read-only-mode', 'str', true]]);
        const mode = args['read-only-mode'];
        if (mode !== undefined && mode !== 'retain' && mode !== 'read-only' && mode !== 'read-write') {
          throw new QmpError(`Parameter 'read-only-mode' does not accept value '${String(mode)}'`);
        }
        return check(m.changeMedium(args['device'] as string | undefined, args['id'] as string | undefined, args['filename'] as string,
          args['format'] as string | undefined, args['force'] === true, mode));
      }
      case '__com.redhat_drive_add': {
        const opts = optsFromDict('drive', args);
        const r = m.driveAdd({ ...opts, opts: [...opts.opts.filter((o) => o.name !== 'if'), { name: 'if', value: 'none' }] });
        if (!r.ok) throw new QmpError(r.error.message);
        return {};
      }
      case 'block_set_io_throttle': {
        const members: Array<readonly [string, ArgType, boolean?]> = [['device', 'str', true], ['id', 'str', true]];
        for (const n of BUCKETS) members.push([n, 'int']);
        for (const n of BUCKETS) members.push([`${n}_max`, 'int', true]);
        for (const n of BUCKETS) members.push([`${n}_max_length`, 'int', true]);
        members.push(['iops_size', 'int', true], ['group', 'str', true]);
        visitArgs(args, members);
        const pick = (suffix: string): Partial<Record<(typeof BUCKETS)[number], number>> =>
          Object.fromEntries(BUCKETS.filter((n) => args[`${n}${suffix}`] !== undefined).map((n) => [n, args[`${n}${suffix}`] as number]));
        const a: BlockIoThrottleArgs = {
          device: args['device'] as string | undefined,
          id: args['id'] as string | undefined,
          bps: args['bps'] as number,
          bps_rd: args['bps_rd'] as number,
          bps_wr: args['bps_wr'] as number,
          iops: args['iops'] as number,
          iops_rd: args['iops_rd'] as number,
          iops_wr: args['iops_wr'] as number,
          max: pick('_max'),
          maxLength: pick('_max_length'),
          iopsSize: args['iops_size'] as number | undefined,
          group: args['group'] as string | undefined,
        };
        return check(m.blockSetIoThrottle(a));
      }
      // Ours (hence the x- prefix): the device model's fault rules, docs/FAULTS.md.
      case 'x-fault-add': {
        visitArgs(args, [['rule', 'str']]);
        const r = m.faults.add(args['rule'] as string);
        if ('error' in r) throw new QmpError(r.error);
        return { id: r.id };
      }
      case 'x-fault-del': {
        visitArgs(args, [['id', 'int', true], ['all', 'bool', true]]);
        if ((args['id'] === undefined) === (args['all'] !== true)) throw new QmpError("Need exactly one of 'id' and 'all'");
        if (args['all'] === true) m.faults.clear();
        else if (!m.faults.remove(args['id'] as number)) throw new QmpError(`Fault rule ${String(args['id'])} not found`);
        return {};
      }
      case 'x-query-faults':
        visitArgs(args, []);
        return queryFaults(m);
      case 'human-monitor-command': {
        visitArgs(args, [['command-line', 'str'], ['cpu-index', 'int', true]]);
        return this.hmp ? this.hmp(args['command-line'] as string) : '';
      }
      default:
        throw new QmpError(`The command ${command} has not been found`, 'CommandNotFound');
    }
  }
}
