// Models trace/control.c + scripts/tracetool/backend/log.py (QEMU 7.2): `-trace` event selection
// (glob patterns, `-` to disable, `events=FILE`) and the "log" backend's stderr line for each event,
// formatted from the format strings of hw/scsi/trace-events and hw/virtio/trace-events.
//
// The device models call a TraceSink with the event name and its arguments in trace-events order
// (named after the trace-events parameters where the names agree; positional otherwise). This file
// turns that into exactly what QEMU's log backend prints:
//   without `-msg timestamp=on`:  `<name> <formatted args>`
//   with it:                      `<pid>@<sec>.<usec>:<name> <formatted args>`
// The goldens were taken with `-msg timestamp=on -D file`; their `trace.by_phase` lines replace the
// `pid@sec.usec:` prefix by seconds since start, so the text after it is the same.
//
// Arguments are converted as C would: each value is first narrowed to its declared C type (the
// 64-bit virtio tag is a uint32_t in virtio_scsi_cmd_req), then printed by the conversion, so `%d` of
// an `int tag` shows 0xc2197610 as -1038518768, exactly as the goldens do. Host pointers (`%p`) have
// no meaning in a simulation; they print as stable made-up addresses derived from the object's name.

/** Trace hook of the device models: the event name and its arguments. Only called when set. */
export type TraceArgs = Readonly<Record<string, number | bigint | string | boolean>>;
export type TraceSink = (event: string, args: TraceArgs) => void;

/** The C types that occur in the trace-events lines we model. */
type CType = 'int' | 'unsigned' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'int64' | 'size' | 'ulong' | 'bool' | 'str' | 'ptr' | 'char';

export interface TraceParam {
  readonly name: string;
  readonly type: CType;
}

export interface TraceEventDef {
  readonly name: string;
  readonly params: readonly TraceParam[];
  /** The C format string after macro expansion (`PRIu64` → `llu`). */
  readonly fmt: string;
}

// ---- the event table (trace-events syntax; format strings are QEMU 7.2's, as data) ----

/** hw/scsi/trace-events: scsi-bus.c, virtio-scsi.c, scsi-disk.c, scsi-generic.c. */
const HW_SCSI = String.raw`
scsi_req_alloc(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_req_cancel(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_req_data(int target, int lun, int tag, int len) "target %d lun %d tag %d len %d"
scsi_req_data_canceled(int target, int lun, int tag, int len) "target %d lun %d tag %d len %d"
scsi_req_dequeue(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_req_continue(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_req_continue_canceled(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_req_parsed(int target, int lun, int tag, int cmd, int mode, int xfer) "target %d lun %d tag %d command %d dir %d length %d"
scsi_req_parsed_lba(int target, int lun, int tag, int cmd, uint64_t lba) "target %d lun %d tag %d command %d lba %"PRIu64
scsi_req_parse_bad(int target, int lun, int tag, int cmd) "target %d lun %d tag %d command %d"
scsi_req_build_sense(int target, int lun, int tag, int key, int asc, int ascq) "target %d lun %d tag %d key 0x%02x asc 0x%02x ascq 0x%02x"
scsi_device_set_ua(int target, int lun, int key, int asc, int ascq) "target %d lun %d key 0x%02x asc 0x%02x ascq 0x%02x"
scsi_report_luns(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_inquiry(int target, int lun, int tag, int cdb1, int cdb2) "target %d lun %d tag %d page 0x%02x/0x%02x"
scsi_test_unit_ready(int target, int lun, int tag) "target %d lun %d tag %d"
scsi_request_sense(int target, int lun, int tag) "target %d lun %d tag %d"
virtio_scsi_cmd_req(int lun, uint32_t tag, uint8_t cmd) "virtio_scsi_cmd_req lun=%u tag=0x%x cmd=0x%x"
virtio_scsi_cmd_resp(int lun, uint32_t tag, int response, uint8_t status) "virtio_scsi_cmd_resp lun=%u tag=0x%x response=%d status=0x%x"
virtio_scsi_tmf_req(int lun, uint32_t tag, int subtype) "virtio_scsi_tmf_req lun=%u tag=0x%x subtype=%d"
virtio_scsi_tmf_resp(int lun, uint32_t tag, int response) "virtio_scsi_tmf_resp lun=%u tag=0x%x response=%d"
virtio_scsi_an_req(int lun, uint32_t event_requested) "virtio_scsi_an_req lun=%u event_requested=0x%x"
virtio_scsi_an_resp(int lun, int response) "virtio_scsi_an_resp lun=%u response=%d"
virtio_scsi_event(int lun, int event, int reason) "virtio_scsi_event lun=%u event=%d reason=%d"
scsi_disk_check_condition(uint32_t tag, uint8_t key, uint8_t asc, uint8_t ascq) "Command complete tag=0x%x sense=%d/%d/%d"
scsi_disk_read_complete(uint32_t tag, size_t size) "Data ready tag=0x%x len=%zd"
scsi_disk_read_data_count(uint32_t sector_count) "Read sector_count=%d"
scsi_disk_read_data_invalid(void) "Data transfer direction invalid"
scsi_disk_write_complete_noio(uint32_t tag, size_t size) "Write complete tag=0x%x more=%zd"
scsi_disk_write_data_invalid(void) "Data transfer direction invalid"
scsi_disk_emulate_vpd_page_00(size_t xfer) "Inquiry EVPD[Supported pages] buffer size %zd"
scsi_disk_emulate_vpd_page_80_not_supported(void) "Inquiry (EVPD[Serial number] not supported"
scsi_disk_emulate_vpd_page_80(size_t xfer) "Inquiry EVPD[Serial number] buffer size %zd"
scsi_disk_emulate_vpd_page_83(size_t xfer) "Inquiry EVPD[Device identification] buffer size %zd"
scsi_disk_emulate_vpd_page_b0_not_supported(void) "Inquiry (EVPD[Block limits] not supported for CDROM"
scsi_disk_emulate_mode_sense(int cmd, int page, size_t xfer, int control) "Mode Sense(%d) (page %d, xfer %zd, page_control %d)"
scsi_disk_emulate_read_toc(int start_track, int format, int msf) "Read TOC (track %d format %d msf %d)"
scsi_disk_emulate_read_data(int buflen) "Read buf_len=%d"
scsi_disk_emulate_write_data(int buflen) "Write buf_len=%d"
scsi_disk_emulate_command_SAI_16(void) "SAI READ CAPACITY(16)"
scsi_disk_emulate_command_SAI_unsupported(void) "Unsupported Service Action In"
scsi_disk_emulate_command_SEEK_10(uint64_t lba) "Seek(10) (sector %" PRId64 ")"
scsi_disk_emulate_command_MODE_SELECT(size_t xfer) "Mode Select(6) (len %zd)"
scsi_disk_emulate_command_MODE_SELECT_10(size_t xfer) "Mode Select(10) (len %zd)"
scsi_disk_emulate_command_UNMAP(size_t xfer) "Unmap (len %zd)"
scsi_disk_emulate_command_VERIFY(int bytchk) "Verify (bytchk %d)"
scsi_disk_emulate_command_WRITE_SAME(int cmd, size_t xfer) "WRITE SAME %d (len %zd)"
scsi_disk_emulate_command_UNKNOWN(int cmd, const char *name) "Unknown SCSI command (0x%2.2x=%s)"
scsi_disk_emulate_command_FORMAT_UNIT(size_t xfer) "Format Unit (len %zu)"
scsi_disk_dma_command_READ(uint64_t lba, uint32_t len) "Read (sector %" PRId64 ", count %u)"
scsi_disk_dma_command_WRITE(const char *cmd, uint64_t lba, int len) "Write %s(sector %" PRId64 ", count %u)"
scsi_disk_new_request(uint32_t lun, uint32_t tag, const char *line) "Command: lun=%d tag=0x%x data=%s"
scsi_disk_mode_select_page_truncated(int page, int len, int page_len) "page %d expected length %d but received length %d"
scsi_disk_mode_select_set_blocksize(int blocksize) "set block size to %d"
scsi_generic_command_complete_noio(void *req, uint32_t tag, int statuc) "Command complete %p tag=0x%x status=%d"
scsi_generic_read_complete(uint32_t tag, int len) "Data ready tag=0x%x len=%d"
scsi_generic_read_data(uint32_t tag) "scsi_read_data tag=0x%x"
scsi_generic_write_complete(int ret) "scsi_write_complete() ret = %d"
scsi_generic_write_complete_blocksize(int blocksize) "block size %d"
scsi_generic_write_data(uint32_t tag) "scsi_write_data tag=0x%x"
scsi_generic_send_command(const char *line) "Command: data=%s"
scsi_generic_realize_type(int type) "device type %d"
scsi_generic_realize_blocksize(int blocksize) "block size %d"
`;

/** hw/virtio/trace-events: virtio.c (the queue and notification events). */
const HW_VIRTIO = String.raw`
virtqueue_alloc_element(void *elem, size_t sz, unsigned in_num, unsigned out_num) "elem %p size %zd in_num %u out_num %u"
virtqueue_fill(void *vq, const void *elem, unsigned int len, unsigned int idx) "vq %p elem %p len %u idx %u"
virtqueue_flush(void *vq, unsigned int count) "vq %p count %u"
virtqueue_pop(void *vq, void *elem, unsigned int in_num, unsigned int out_num) "vq %p elem %p in_num %u out_num %u"
virtio_queue_notify(void *vdev, int n, void *vq) "vdev %p n %d vq %p"
virtio_notify_irqfd(void *vdev, void *vq) "vdev %p vq %p"
virtio_notify(void *vdev, void *vq) "vdev %p vq %p"
virtio_set_status(void *vdev, uint8_t val) "vdev %p val %u"
`;

/**
 * Ours (QEMU has no such event): a fault rule of src/host/fault.ts fired. `on` is cmd, tmf or event;
 * `opcode` is the CDB's first byte for a command, the TMF subtype or the event type otherwise;
 * target and lun are -1 for an event that names no device.
 */
const VSCSI = String.raw`
vscsi_fault_inject(int rule, const char *on, int target, int lun, int opcode) "rule %d %s target %d lun %d opcode 0x%02x"
`;

const C_TYPES: Readonly<Record<string, CType>> = {
  int: 'int',
  'unsigned': 'unsigned',
  'unsigned int': 'unsigned',
  uint8_t: 'uint8',
  uint16_t: 'uint16',
  uint32_t: 'uint32',
  uint64_t: 'uint64',
  int32_t: 'int',
  int64_t: 'int64',
  size_t: 'size',
  'unsigned long': 'ulong',
  bool: 'bool',
  char: 'char',
};

/** `PRIu64` and friends, as glibc defines them on x86-64. */
function expandPri(macro: string): string {
  const m = /^PRI([diouxX])(8|16|32|64)$/.exec(macro);
  if (!m) throw new Error(`unknown format macro ${macro}`);
  return (m[2] === '64' ? 'l' : '') + m[1]!;
}

function parseParam(decl: string): TraceParam {
  const d = decl.trim();
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(d);
  if (!m) throw new Error(`bad trace parameter ${decl}`);
  const rawType = m[1]!.replace(/\bconst\b/g, '').trim();
  const name = m[2]!;
  if (rawType.endsWith('*')) return { name, type: rawType.replace(/\s*\*$/, '') === 'char' ? 'str' : 'ptr' };
  const type = C_TYPES[rawType];
  if (!type) throw new Error(`unknown C type ${rawType}`);
  return { name, type };
}

/** One trace-events line: `name(type arg, …) "fmt" PRIx64 "fmt"…`. */
function parseTraceEventLine(line: string): TraceEventDef {
  const m = /^([a-z0-9_A-Z]+)\(([^)]*)\)\s*(.*)$/.exec(line);
  if (!m) throw new Error(`bad trace-events line ${line}`);
  const args = m[2]!.trim();
  const params = args === 'void' || args === '' ? [] : args.split(',').map(parseParam);
  let fmt = '';
  const tok = /\s*(?:"((?:[^"\\]|\\.)*)"|(PRI[a-zA-Z0-9]+))/y;
  const rest = m[3]!;
  while (tok.lastIndex < rest.trimEnd().length) {
    const t = tok.exec(rest);
    if (!t) throw new Error(`bad format in ${line}`);
    fmt += t[1] !== undefined ? t[1] : expandPri(t[2]!);
  }
  return { name: m[1]!, params, fmt };
}

function parseTraceEvents(text: string): TraceEventDef[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(parseTraceEventLine);
}

/** Every event we know, in the order `-trace help` lists them (one group per trace-events file). */
export const TRACE_EVENTS: readonly TraceEventDef[] = [
  ...parseTraceEvents(HW_SCSI),
  ...parseTraceEvents(HW_VIRTIO),
  ...parseTraceEvents(VSCSI),
];

const BY_NAME = new Map(TRACE_EVENTS.map((e) => [e.name, e]));

export function traceEventByName(name: string): TraceEventDef | undefined {
  return BY_NAME.get(name);
}

// ---- selection (trace/control.c) ----

/** g_pattern_match_simple: `*` matches any run, `?` any one character; nothing else is special. */
export function patternGlob(pattern: string, name: string): boolean {
  // Iterative matcher with one backtrack point per `*` (the classic wildcard algorithm).
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    const pc = pattern[p];
    if (pc === '*') {
      starP = p++;
      starN = n;
    } else if (pc !== undefined && (pc === '?' || pc === name[n])) {
      p++;
      n++;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** is_help_option(): `help` or `?` lists the events instead. */
export function isTraceHelpOption(line: string): boolean {
  return line === 'help' || line === '?';
}

/**
 * The set of enabled events, changed the way trace_enable_events() changes it. Methods return the
 * warning texts QEMU would print (`trace event 'x' does not exist`); the caller adds the location
 * prefix (`vscsi: -trace x: warning: ` for the command line, `vscsi:FILE:LINE: warning: ` for a file).
 */
export class TraceControl {
  readonly #enabled = new Set<string>();
  readonly events: readonly TraceEventDef[];

  constructor(events: readonly TraceEventDef[] = TRACE_EVENTS) {
    this.events = events;
  }

  isEnabled(name: string): boolean {
    return this.#enabled.has(name);
  }

  get enabledEvents(): readonly string[] {
    return this.events.filter((e) => this.#enabled.has(e.name)).map((e) => e.name);
  }

  /**
   * do_trace_enable_events: a leading `-` disables. A pattern (it contains `*`) switches every
   * matching event; a plain name switches the first event it matches (`?` still matches any
   * character), and an unmatched plain name is a warning.
   */
  enableEvents(line: string): string[] {
    const enable = !line.startsWith('-');
    const pat = enable ? line : line.slice(1);
    const isPattern = pat.includes('*');
    for (const ev of this.events) {
      if (!patternGlob(pat, ev.name)) continue;
      if (enable) this.#enabled.add(ev.name);
      else this.#enabled.delete(ev.name);
      if (!isPattern) return [];
    }
    return isPattern ? [] : [`trace event '${pat}' does not exist`];
  }

  /**
   * trace_init_events: the file's lines in order. As in QEMU, the last byte of each line is dropped
   * (the newline, or the last character of a final line without one), lines of length ≤ 1 and lines
   * starting with `#` are skipped. Warnings come with their 1-based line number.
   */
  initEvents(text: string): { line: number; message: string }[] {
    const warnings: { line: number; message: string }[] = [];
    const lines = text.split(/(?<=\n)/);
    lines.forEach((raw, i) => {
      if (raw.length <= 1) return;
      const l = raw.slice(0, -1);
      if (l.startsWith('#')) return;
      for (const message of this.enableEvents(l)) warnings.push({ line: i + 1, message });
    });
    return warnings;
  }

  /** trace_list_events: one name per line (printed on stdout by `-trace help`). */
  listEvents(): string[] {
    return this.events.map((e) => e.name);
  }
}

// ---- formatting (the log backend) ----

/** A value narrowed to its C type: the bits and whether the type is signed. */
interface CValue {
  readonly bits: 8 | 16 | 32 | 64;
  readonly v: bigint;
}

const TYPE_BITS: Readonly<Record<Exclude<CType, 'str' | 'ptr'>, CValue['bits']>> = {
  int: 32,
  unsigned: 32,
  uint8: 8,
  uint16: 16,
  uint32: 32,
  uint64: 64,
  int64: 64,
  size: 64,
  ulong: 64,
  bool: 32,
  char: 8,
};

function toBigInt(x: number | bigint | string | boolean): bigint {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'boolean') return x ? 1n : 0n;
  if (typeof x === 'number') return Number.isFinite(x) ? BigInt(Math.trunc(x)) : 0n;
  return BigInt(fnv1a(x));
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A stable, plausible heap address for a host object (QEMU prints real pointers; ours are made up). */
export function fakeHostPointer(kind: string, id: number | bigint | string | boolean): bigint {
  const h = BigInt(fnv1a(`${kind}:${String(id)}`));
  return 0x5555_0000_0000n + ((h << 4n) & 0xffff_fff0n);
}

function narrow(x: number | bigint | string | boolean, type: CType): CValue {
  if (type === 'str' || type === 'ptr') return { bits: 64, v: BigInt.asUintN(64, toBigInt(x)) };
  const bits = TYPE_BITS[type];
  // Promotion to int for the narrow types, as varargs do: the value stays the same.
  return { bits: bits < 32 ? 32 : bits, v: BigInt.asUintN(bits, toBigInt(x)) };
}

function pad(s: string, width: number, zero: boolean, left: boolean): string {
  if (s.length >= width) return s;
  if (left) return s.padEnd(width, ' ');
  if (zero) {
    const neg = s.startsWith('-');
    return (neg ? '-' : '') + (neg ? s.slice(1) : s).padStart(width - (neg ? 1 : 0), '0');
  }
  return s.padStart(width, ' ');
}

/** A printf for the conversions the trace-events formats use: d i u x X o c s p, flags `-0`, width, precision, length modifiers. */
export function cFormat(fmt: string, values: readonly CValue[] | readonly (CValue | string)[]): string {
  let out = '';
  let ai = 0;
  const re = /%([-0 +#]*)(\d+)?(?:\.(\d+))?(hh|h|ll|l|z|j|t)?([diouxXcsp%])/g;
  let last = 0;
  for (let m = re.exec(fmt); m; m = re.exec(fmt)) {
    out += fmt.slice(last, m.index);
    last = re.lastIndex;
    const conv = m[5]!;
    if (conv === '%') {
      out += '%';
      continue;
    }
    const flags = m[1] ?? '';
    const width = m[2] !== undefined ? Number(m[2]) : 0;
    const prec = m[3] !== undefined ? Number(m[3]) : undefined;
    const arg = values[ai++];
    let s: string;
    if (conv === 's') {
      s = typeof arg === 'string' ? arg : arg === undefined ? '(null)' : String(arg.v);
    } else {
      const cv: CValue = arg === undefined ? { bits: 32, v: 0n } : typeof arg === 'string' ? { bits: 64, v: BigInt(fnv1a(arg)) } : arg;
      switch (conv) {
        case 'd':
        case 'i':
          s = BigInt.asIntN(cv.bits, cv.v).toString();
          break;
        case 'u':
          s = BigInt.asUintN(cv.bits, cv.v).toString();
          break;
        case 'x':
          s = BigInt.asUintN(cv.bits, cv.v).toString(16);
          break;
        case 'X':
          s = BigInt.asUintN(cv.bits, cv.v).toString(16).toUpperCase();
          break;
        case 'o':
          s = BigInt.asUintN(cv.bits, cv.v).toString(8);
          break;
        case 'c':
          s = String.fromCharCode(Number(cv.v & 0xffn));
          break;
        default: // 'p'
          s = cv.v === 0n ? '(nil)' : `0x${cv.v.toString(16)}`;
      }
      if (prec !== undefined && conv !== 'c' && conv !== 'p') {
        const neg = s.startsWith('-');
        s = (neg ? '-' : '') + (neg ? s.slice(1) : s).padStart(prec, '0');
      }
    }
    // A precision turns the 0 flag off for integers, as in C.
    out += pad(s, width, flags.includes('0') && prec === undefined && conv !== 's', flags.includes('-'));
  }
  return out + fmt.slice(last);
}

/** The values the model passed, matched to the event's parameters: by name when all names agree, else in order. */
function argValues(def: TraceEventDef, args: TraceArgs): (CValue | string)[] {
  const byName = def.params.every((p) => Object.hasOwn(args, p.name));
  const positional = Object.values(args);
  return def.params.map((p, i) => {
    const x = byName ? args[p.name] : positional[i];
    if (x === undefined) return { bits: 32, v: 0n };
    if (p.type === 'str') return String(x);
    if (p.type === 'ptr') return { bits: 64, v: fakeHostPointer(p.name, x) };
    return narrow(x, p.type);
  });
}

/** The params a model's arguments leave unfilled (empty when the event formats completely). */
export function missingTraceArgs(event: string, args: TraceArgs): string[] {
  const def = BY_NAME.get(event);
  if (!def) return [`<unknown event ${event}>`];
  if (def.params.every((p) => Object.hasOwn(args, p.name))) return [];
  const n = Object.keys(args).length;
  return def.params.slice(n).map((p) => p.name);
}

/** `<name> <args>`: the log backend's line without the optional `pid@time:` prefix; undefined for unknown events. */
export function formatTraceEvent(event: string, args: TraceArgs): string | undefined {
  const def = BY_NAME.get(event);
  if (!def) return undefined;
  return `${def.name} ${cFormat(def.fmt, argValues(def, args))}`;
}

export interface TracerOptions {
  /** `-msg timestamp=on`: prefix `pid@sec.usec:` (the clock's virtual time since `epochNs`). */
  readonly timestamp?: boolean;
  /** The thread id QEMU prints in the prefix. */
  readonly pid?: number;
  /** Virtual wall-clock time at clock 0, in ns (gettimeofday at start-up). */
  readonly epochNs?: bigint;
}

/**
 * A TraceSink for the device models: enabled events become one log-backend line each, given to
 * `write` (the CLI sends them to stderr). `selection` is a TraceControl already set up, or the
 * `-trace` patterns in command-line order.
 */
export function makeTracer(
  selection: readonly string[] | TraceControl,
  write: (line: string) => void,
  clock: { now(): number },
  opts: TracerOptions = {},
): TraceSink {
  let control: TraceControl;
  if (selection instanceof TraceControl) {
    control = selection;
  } else {
    control = new TraceControl();
    for (const p of selection) control.enableEvents(p);
  }
  const pid = opts.pid ?? 1;
  const epoch = opts.epochNs ?? 0n;
  return (event, args) => {
    if (!control.isEnabled(event)) return;
    const body = formatTraceEvent(event, args);
    if (body === undefined) return;
    if (!opts.timestamp) {
      write(body);
      return;
    }
    const ns = epoch + BigInt(Math.trunc(clock.now()));
    const sec = ns / 1_000_000_000n;
    const usec = (ns % 1_000_000_000n) / 1000n;
    write(`${pid}@${sec}.${usec.toString().padStart(6, '0')}:${body}`);
  };
}
