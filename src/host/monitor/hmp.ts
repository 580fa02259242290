// Models monitor/hmp.c (command parsing), monitor/hmp-cmds.c, block/monitor/block-hmp-cmds.c,
// softmmu/qdev-monitor.c (hmp_device_add/del, info qtree), hw/pci/pci-hmp-cmds.c (info pci) and the
// entries of hmp-commands.hx / hmp-commands-info.hx (QEMU 7.2) for the commands this machine has.
//
// Error output follows the HMP functions of 7.2: the ones that go through hmp_handle_error print
// `Error: <text>` (device_add, device_del, eject, change, block_resize, cont); drive_add and drive_del
// still used error_report then and print the bare text; an argument the parser refuses prints its
// complaint and `Try "help <cmd>" for more information`.
//
// Ours, not QEMU's: `fault_add RULE`, `fault_del N|all` and `info faults` drive the device model's
// fault rules (src/host/fault.ts, docs/FAULTS.md); errors are printed the QEMU way (`Error: …`).
//
// `Monitor` is the one object the CLI holds: `hmp(line)` for `(qemu) …` lines, `qmp(json)` for
// `(qmp) {…}` lines (reply + events since the previous QMP line).

import type { QemuMachine } from '../machine.ts';
import type { DeviceSpec } from '../qdev-monitor.ts';
import { qdevDeviceIds } from '../qdev-monitor.ts';
import type { QemuOptsList, QemuWarning } from '../qemu-option.ts';
import { qemuOptsParse, strtosz } from '../qemu-option.ts';
import { qdevDeviceHelp, qdevPrintDevinfos } from '../qdev-properties.ts';
import type { BlockInfo } from './qmp.ts';
import { QEMU_VERSION, QmpMonitor, queryBlock, queryStatus } from './qmp.ts';

export interface HmpResult {
  readonly output: string;
  /** The monitor answered an error (the `vscsi --json` record gets rc 1). */
  readonly error: boolean;
}

const DEVICE_LIST: QemuOptsList = { name: 'device', impliedOptName: 'driver', desc: [] };
const DRIVE_LIST: QemuOptsList = { name: 'drive', desc: [] };

interface HmpCommand {
  readonly name: string;
  readonly params: string;
  readonly help: string;
}

/** hmp-commands.hx entries (name, params, help) of the commands implemented here. */
const COMMANDS: readonly HmpCommand[] = [
  { name: 'help|?', params: '[cmd]', help: 'show the help' },
  { name: 'q|quit', params: '', help: 'quit the emulator' },
  { name: 'block_resize', params: 'device size', help: 'resize a block image' },
  { name: 'eject', params: '[-f] device', help: 'eject a removable medium (use -f to force it)' },
  { name: 'drive_del', params: 'device', help: 'remove host block device' },
  {
    name: 'change',
    params: 'device [-f] filename [format [read-only-mode]]',
    help: 'change a removable medium, optional format, use -f to force the operation',
  },
  {
    name: 'block_set_io_throttle',
    params: 'device bps bps_rd bps_wr iops iops_rd iops_wr',
    help: 'change I/O throttle limits for a block drive',
  },
  { name: 'stop', params: '', help: 'stop emulation' },
  { name: 'c|cont', params: '', help: 'resume emulation' },
  { name: 'system_reset', params: '', help: 'reset the system' },
  { name: 'device_add', params: 'driver[,prop=value][,...]', help: 'add device, like -device on the command line' },
  { name: 'device_del', params: 'device', help: 'remove device' },
  {
    name: 'drive_add',
    params:
      '[-n] [[<domain>:]<bus>:]<slot>\n[file=file][,if=type][,bus=n]\n[,unit=m][,media=d][,index=i]\n' +
      '[,snapshot=on|off][,cache=on|off]\n[,readonly=on|off][,copy-on-read=on|off]',
    help: 'add drive to PCI storage controller',
  },
  // RHEL 6's spelling of drive_add (the seed's host): if=none implied, no PCI address.
  { name: '__com.redhat_drive_add', params: 'opts', help: 'add drive (if=none implied)' },
  // Ours: the device model's fault rules.
  { name: 'fault_add', params: 'rule', help: 'add a fault rule to the SCSI device models (vscsi, see docs/FAULTS.md)' },
  { name: 'fault_del', params: 'id|all', help: 'remove a fault rule, or all of them (vscsi)' },
  { name: 'info', params: '[subcommand]', help: 'show various information about the system state' },
];

/** hmp-commands-info.hx entries of the `info` subcommands implemented here. */
const INFO_COMMANDS: readonly HmpCommand[] = [
  { name: 'version', params: '', help: 'show the version of QEMU' },
  {
    name: 'block',
    params: '[-n] [-v] [device]',
    help: 'show info of one block device or all block devices (-n: show named nodes; -v: show details)',
  },
  { name: 'pci', params: '', help: 'show PCI info' },
  { name: 'qtree', params: '', help: 'show device tree' },
  { name: 'status', params: '', help: 'show the current VM status (running|paused)' },
  { name: 'name', params: '', help: 'show the current VM name' },
  // Ours.
  { name: 'faults', params: '', help: 'show the fault rules of the SCSI device models (vscsi)' },
];

function nameMatches(c: HmpCommand, word: string): boolean {
  return c.name.split('|').includes(word);
}

/** help_cmd_dump: sorted by name, `name params -- help` per command. */
function helpDump(cmds: readonly HmpCommand[], prefix: string, only?: string): string {
  const list = only === undefined ? [...cmds].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) : cmds.filter((c) => nameMatches(c, only));
  return list.map((c) => `${prefix}${c.name} ${c.params} -- ${c.help}\n`).join('');
}

/** The argument scanner of monitor_parse_arguments: whitespace-separated words, "quoted" strings. */
class ArgScanner {
  readonly #s: string;
  #p = 0;
  constructor(s: string) {
    this.#s = s;
  }
  #skip(): void {
    while (this.#p < this.#s.length && /\s/.test(this.#s[this.#p]!)) this.#p++;
  }
  atEnd(): boolean {
    this.#skip();
    return this.#p >= this.#s.length;
  }
  /** get_str: a word or a quoted string; undefined at the end of the line. */
  word(): string | undefined {
    this.#skip();
    if (this.#p >= this.#s.length) return undefined;
    let out = '';
    if (this.#s[this.#p] === '"') {
      this.#p++;
      while (this.#p < this.#s.length && this.#s[this.#p] !== '"') {
        if (this.#s[this.#p] === '\\' && this.#p + 1 < this.#s.length) this.#p++;
        out += this.#s[this.#p++];
      }
      if (this.#p >= this.#s.length) return undefined;
      this.#p++;
      return out;
    }
    while (this.#p < this.#s.length && !/\s/.test(this.#s[this.#p]!)) out += this.#s[this.#p++];
    return out;
  }
  /** A `-x` flag if it comes next. */
  flag(letter: string): boolean {
    this.#skip();
    if (this.#s.startsWith(`-${letter}`, this.#p) && (this.#p + 2 >= this.#s.length || /\s/.test(this.#s[this.#p + 2]!))) {
      this.#p += 2;
      return true;
    }
    return false;
  }
}

/** Raised inside a command when the argument parser refuses the line. */
class ArgError {
  readonly message: string | undefined;
  constructor(message: string | undefined) {
    this.message = message;
  }
}

const PCI_CLASS_DESC: Readonly<Record<number, string>> = {
  0x0100: 'SCSI controller',
  0x0101: 'IDE controller',
  0x0106: 'SATA controller',
  0x0200: 'Ethernet controller',
  0x0300: 'VGA controller',
  0x0600: 'Host bridge',
  0x0601: 'ISA bridge',
  0x0680: 'Bridge',
  0x0c03: 'USB controller',
  0x0c05: 'SMBus',
};

const hex = (v: number, w: number): string => v.toString(16).padStart(w, '0');

/** The human monitor over one machine. */
/**
 * The device ids in use, as the option parser's registry: reads through to the tree's own set (no
 * copy of thousands of ids per device_add); the id the parse adds stays here.
 */
class IdsInUse extends Set<string> {
  readonly #inUse: ReadonlySet<string>;
  constructor(inUse: ReadonlySet<string>) {
    super();
    this.#inUse = inUse;
  }
  override has(id: string): boolean {
    return this.#inUse.has(id) || super.has(id);
  }
}

export class Monitor {
  readonly machine: QemuMachine;
  readonly qmpMonitor: QmpMonitor;

  constructor(machine: QemuMachine) {
    this.machine = machine;
    this.qmpMonitor = new QmpMonitor(machine);
    this.qmpMonitor.hmp = (line) => this.hmp(line).output;
  }

  /** Whether `quit` was given, from HMP or QMP (the CLI ends the session). */
  get quitRequested(): boolean {
    return this.machine.runState === 'shutdown';
  }

  /** One `(qmp) {…}` line: the reply and the events raised since the previous one, in wire format. */
  qmp(json: string): { reply: string; events: string[] } {
    return this.qmpMonitor.qmp(json);
  }

  /** QMP events not yet drained, in wire format. */
  drainEvents(): string[] {
    return this.qmpMonitor.drainEvents();
  }

  /** One `(qemu) …` line. */
  hmp(line: string): HmpResult {
    const s = new ArgScanner(line);
    const cmdWord = s.word();
    if (cmdWord === undefined) return { output: '', error: false };
    const cmd = COMMANDS.find((c) => nameMatches(c, cmdWord));
    if (!cmd) return { output: `unknown command: '${cmdWord}'\n`, error: true };
    const out: string[] = [];
    try {
      const err = this.#run(cmd.name.split('|')[0]!, cmdWord, s, out, line);
      return { output: out.join(''), error: err };
    } catch (e) {
      if (!(e instanceof ArgError)) throw e;
      if (e.message !== undefined) out.push(`${e.message}\n`);
      out.push(`Try "help ${cmdWord}" for more information\n`);
      return { output: out.join(''), error: true };
    }
  }

  #run(name: string, typed: string, s: ArgScanner, out: string[], line: string): boolean {
    const m = this.machine;
    const handleError = (e: { message: string; hints: readonly string[] } | null): boolean => {
      if (!e) return false;
      out.push(`Error: ${e.message}\n`, ...e.hints.map((h) => `${h}\n`));
      return true;
    };
    const block = (): string => {
      const w = s.word();
      if (w === undefined) throw new ArgError(`${typed}: block device name expected`);
      return w;
    };
    const str = (): string => {
      const w = s.word();
      if (w === undefined) throw new ArgError(`${typed}: string expected`);
      return w;
    };
    const end = (): void => {
      if (!s.atEnd()) throw new ArgError(`${typed}: extraneous characters at the end of line`);
    };
    /** An 'l' argument (get_expr), reduced to a number with an optional unary minus. */
    const int64 = (): number => {
      const w = s.word();
      if (w === undefined) throw new ArgError('unexpected end of expression');
      const m = /^(-*)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(w);
      if (!m) {
        const bad = /^-*(?:0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)?(.)/i.exec(w)?.[1] ?? w[0]!;
        throw new ArgError(`invalid char '${bad}' in expression`);
      }
      const digits = m[2]!;
      const v = /^0[0-7]+$/.test(digits) ? parseInt(digits, 8) : Number(digits);
      if (!Number.isSafeInteger(v)) throw new ArgError('number too large');
      return m[1]!.length % 2 ? -v : v;
    };
    const warnLines = (ws: readonly QemuWarning[]): void => {
      for (const w of ws) out.push(`warning: ${w.message}\n`, ...w.extra.map((x) => `${x}\n`));
    };
    switch (name) {
      case 'help': {
        const w = s.word();
        if (w === 'info') {
          const sub = s.word();
          out.push(helpDump(INFO_COMMANDS, 'info ', sub));
        } else out.push(helpDump(COMMANDS, '', w));
        return false;
      }
      case 'info':
        return this.#info(s, out, line);
      case 'q':
        end();
        m.quit();
        return false;
      case 'stop':
        end();
        m.stop();
        return false;
      case 'c':
        end();
        return handleError(m.cont());
      case 'system_reset':
        end();
        m.systemReset();
        return false;
      case 'block_resize': {
        const dev = block();
        const sz = s.word();
        if (sz === undefined) throw new ArgError(`${typed}: integer expected`);
        // 'o': a size whose default unit is MiB.
        const bytes = strtosz(sz, 'M');
        if (typeof bytes !== 'bigint' || bytes > 0x7fff_ffff_ffff_ffffn) throw new ArgError('invalid size');
        end();
        return handleError(m.blockResize(dev, undefined, Number(bytes)));
      }
      case 'eject': {
        const force = s.flag('f');
        const dev = block();
        end();
        return handleError(m.eject(dev, undefined, force));
      }
      case 'change': {
        const dev = block();
        const force = s.flag('f');
        const target = s.word();
        if (target === undefined) throw new ArgError(`${typed}: filename expected`);
        const format = s.word();
        const mode = s.word();
        end();
        if (mode !== undefined && mode !== 'retain' && mode !== 'read-only' && mode !== 'read-write') {
          return handleError({ message: `Parameter 'read-only-mode' does not accept value '${mode}'`, hints: [] });
        }
        return handleError(m.changeMedium(dev, undefined, target, format, force, mode));
      }
      case 'drive_del': {
        const id = block();
        end();
        const err = m.driveDel(id);
        if (err) out.push(`${err.message}\n`);
        return err !== null;
      }
      case 'drive_add':
      case '__com.redhat_drive_add': {
        const redhat = name === '__com.redhat_drive_add';
        const node = redhat ? false : s.flag('n');
        if (!redhat) str(); // the PCI address: ignored since drives became if=none only
        const optstr = str();
        end();
        return this.#driveAdd(optstr, node, redhat, out, warnLines);
      }
      case 'device_add': {
        const optstr = s.word();
        end();
        const parsed = qemuOptsParse(DEVICE_LIST, optstr ?? '', new Map([['device', new IdsInUse(qdevDeviceIds(m.tree))]]));
        warnLines(parsed.warnings);
        if (!parsed.ok) throw new ArgError([parsed.error.message, ...parsed.error.hints].join('\n'));
        const opts = parsed.opts;
        const driver = opts.opts.find((o) => o.name === 'driver')?.value;
        if (driver === 'help' || driver === '?') {
          out.push(qdevPrintDevinfos());
          return false;
        }
        if (driver !== undefined && opts.opts.some((o) => o.name === 'help' || o.name === '?')) {
          const h = qdevDeviceHelp(driver);
          if ('error' in h) return handleError(h.error);
          out.push(h.stdout);
          return false;
        }
        const r = m.deviceAdd(opts);
        warnLines(r.warnings);
        return r.ok ? false : handleError(r.error);
      }
      case 'device_del': {
        const id = str();
        end();
        return handleError(m.deviceDel(id));
      }
      case 'block_set_io_throttle': {
        const dev = block();
        const [bps, bpsRd, bpsWr, iops, iopsRd, iopsWr] = [int64(), int64(), int64(), int64(), int64(), int64()];
        end();
        // hmp_block_set_io_throttle: a BlockBackend name if there is one, else a qdev id.
        const named = m.blkByName(dev) !== undefined;
        return handleError(m.blockSetIoThrottle({
          ...(named ? { device: dev } : { id: dev }),
          bps, bps_rd: bpsRd, bps_wr: bpsWr, iops, iops_rd: iopsRd, iops_wr: iopsWr,
        }));
      }
      case 'fault_add': {
        const rule = str();
        end();
        const r = m.faults.add(rule);
        if ('error' in r) return handleError({ message: r.error, hints: [] });
        out.push(`fault ${r.id} added\n`);
        return false;
      }
      case 'fault_del': {
        const w = str();
        end();
        if (w === 'all') {
          m.faults.clear();
          return false;
        }
        if (!/^\d+$/.test(w)) return handleError({ message: `Parameter 'id' expects a rule number or 'all'`, hints: [] });
        if (!m.faults.remove(Number(w))) return handleError({ message: `Fault rule ${w} not found`, hints: [] });
        return false;
      }
      default:
        return false;
    }
  }

  #driveAdd(optstr: string, node: boolean, redhat: boolean, out: string[], warnLines: (ws: readonly QemuWarning[]) => void): boolean {
    const m = this.machine;
    const ids = new Set(m.blkEntries.map((e) => e.name).filter((n) => n !== ''));
    const parsed = qemuOptsParse(DRIVE_LIST, optstr, new Map([['drive', ids]]));
    warnLines(parsed.warnings);
    if (!parsed.ok) {
      out.push(`${[parsed.error.message, ...parsed.error.hints].join('\n')}\n`);
      return true;
    }
    if (node) {
      out.push('Error: drive_add -n is not supported yet by this simulator; use blockdev-add\n');
      return true;
    }
    const given = [...parsed.opts.opts].reverse().find((o) => o.name === 'if')?.value;
    const opts = { ...parsed.opts, opts: [...parsed.opts.opts.filter((o) => o.name !== 'if'), { name: 'if', value: 'none' }] };
    const r = m.driveAdd(opts);
    if (!r.ok) {
      out.push(`${[r.error.message, ...r.error.hints].join('\n')}\n`);
      return true;
    }
    warnLines(r.warnings);
    for (const n of r.notices) out.push(`${n}\n`);
    // Without if=none the drive is made for the board's default interface (IDE), which cannot be
    // hot-added: QEMU prints the interface's number and drops the drive again.
    const IF_TYPES = ['none', 'ide', 'scsi', 'floppy', 'pflash', 'mtd', 'sd', 'virtio', 'xen'];
    const ifType = redhat ? 0 : given === undefined ? 1 : IF_TYPES.indexOf(given);
    if (ifType !== 0) {
      m.driveDel(r.drive.id);
      out.push(`Can't hot-add drive to type ${ifType}\n`);
      return true;
    }
    out.push('OK\n');
    return false;
  }

  #info(s: ArgScanner, out: string[], line: string): boolean {
    const sub = s.word();
    if (sub === undefined) {
      out.push(helpDump(INFO_COMMANDS, 'info '));
      return false;
    }
    const cmd = INFO_COMMANDS.find((c) => nameMatches(c, sub));
    if (!cmd) {
      out.push(`unknown command: '${line.trim().replace(/\s+/g, ' ')}'\n`);
      return true;
    }
    const m = this.machine;
    const end = (): void => {
      if (!s.atEnd()) throw new ArgError(`${sub}: extraneous characters at the end of line`);
    };
    switch (cmd.name) {
      case 'status': {
        end();
        // hmp_info_status
        const st = queryStatus(m);
        let text = `VM status: ${st.running ? 'running' : 'paused'}`;
        if (!st.running && st.status !== 'paused') text += ` (${st.status})`;
        out.push(`${text}\n`);
        return false;
      }
      case 'faults':
        end();
        out.push(m.faults.format());
        return false;
      case 'version':
        end();
        out.push(`${QEMU_VERSION.major}.${QEMU_VERSION.minor}.${QEMU_VERSION.micro} (${QEMU_VERSION.package})\n`);
        return false;
      case 'name':
        end();
        return false;
      case 'block': {
        let nodes = false;
        let verbose = false;
        for (;;) {
          if (s.flag('n')) nodes = true;
          else if (s.flag('v')) verbose = true;
          else break;
        }
        const device = s.word();
        end();
        out.push(this.#infoBlock(nodes, verbose, device));
        return false;
      }
      case 'pci':
        end();
        out.push(this.#infoPci());
        return false;
      case 'qtree':
        end();
        out.push(this.#infoQtree());
        return false;
      default:
        return false;
    }
  }

  /** print_block_info */
  #printBlockInfo(info: BlockInfo | undefined, inserted: BlockInfo['inserted']): string {
    let t = '';
    if (info && info.device !== '') {
      t += info.device;
      if (inserted?.['node-name'] !== undefined) t += ` (${inserted['node-name']})`;
    } else t += inserted?.['node-name'] ?? info?.qdev ?? '<anonymous>';
    if (inserted) t += `: ${inserted.file} (${inserted.drv}${inserted.ro ? ', read-only' : ''}${inserted.encrypted ? ', encrypted' : ''})\n`;
    else t += ': [not inserted]\n';
    if (info) {
      if (info.qdev !== undefined) t += `    Attached to:      ${info.qdev}\n`;
      if (info['io-status'] !== undefined && info['io-status'] !== 'ok') t += `    I/O status:       ${info['io-status']}\n`;
      if (info.removable) t += `    Removable device: ${info.locked ? '' : 'not '}locked, tray ${info.tray_open ? 'open' : 'closed'}\n`;
    }
    if (!inserted) return t;
    const c = inserted.cache;
    t += `    Cache mode:       ${c.writeback ? 'writeback' : 'writethrough'}${c.direct ? ', direct' : ''}${c['no-flush'] ? ', ignore flushes' : ''}\n`;
    if (inserted.detect_zeroes !== 'off') t += `    Detect zeroes:    ${inserted.detect_zeroes}\n`;
    const i = inserted;
    if (i.bps || i.bps_rd || i.bps_wr || i.iops || i.iops_rd || i.iops_wr) {
      t += `    I/O throttling:   bps=${i.bps} bps_rd=${i.bps_rd} bps_wr=${i.bps_wr} bps_max=${i.bps_max ?? 0}` +
        ` bps_rd_max=${i.bps_rd_max ?? 0} bps_wr_max=${i.bps_wr_max ?? 0} iops=${i.iops} iops_rd=${i.iops_rd}` +
        ` iops_wr=${i.iops_wr} iops_max=${i.iops_max ?? 0} iops_rd_max=${i.iops_rd_max ?? 0}` +
        ` iops_wr_max=${i.iops_wr_max ?? 0} iops_size=${i.iops_size ?? 0} group=${i.group ?? ''}\n`;
    }
    return t;
  }

  /** hmp_info_block */
  #infoBlock(nodes: boolean, verbose: boolean, device: string | undefined): string {
    void verbose;
    const parts: string[] = [];
    let printed = false;
    if (!nodes) {
      for (const info of queryBlock(this.machine)) {
        if (device !== undefined && device !== info.device) continue;
        parts.push(this.#printBlockInfo(info, info.inserted));
        printed = true;
      }
    }
    if ((device === undefined && !nodes) || printed) return parts.join('\n');
    // Named nodes (query-named-block-nodes): the roots we know.
    for (const info of queryBlock(this.machine)) {
      const ins = info.inserted;
      if (!ins || ins['node-name'] === undefined) continue;
      if (device !== undefined && device !== ins['node-name']) continue;
      parts.push(this.#printBlockInfo(undefined, ins));
    }
    return parts.join('\n');
  }

  /** The PCI functions as hmp_info_pci prints them (bus 0 only: the machines here have no bridges). */
  #infoPci(): string {
    const m = this.machine;
    let t = '';
    for (const { slot, fn } of m.pci.occupied()) {
      const rd = (off: number, size: 1 | 2 | 4): number => m.pci.configRead(slot, fn, off, size);
      const cls = rd(0x0a, 2);
      t += `  Bus  0, device ${String(slot).padStart(3)}, function ${fn}:\n`;
      t += `    ${PCI_CLASS_DESC[cls] ?? `Class ${hex(cls, 4)}`}: PCI device ${hex(rd(0x00, 2), 4)}:${hex(rd(0x02, 2), 4)}\n`;
      if ((rd(0x0e, 1) & 0x7f) === 0) t += `      PCI subsystem ${hex(rd(0x2c, 2), 4)}:${hex(rd(0x2e, 2), 4)}\n`;
      const pin = rd(0x3d, 1);
      if (pin) t += `      IRQ ${rd(0x3c, 1)}, pin ${String.fromCharCode(0x40 + pin)}\n`;
      for (const r of this.#bars(slot, fn)) {
        if (r.io) t += `      BAR${r.index}: I/O at 0x${hex(r.addr, 4)} [0x${hex(r.addr + r.size - 1, 4)}].\n`;
        else t += `      BAR${r.index}: ${r.is64 ? 64 : 32} bit${r.prefetch ? ' prefetchable' : ''} memory at 0x${hex(r.addr, 8)} [0x${hex(r.addr + r.size - 1, 8)}].\n`;
      }
      t += `      id "${this.#pciId(slot, fn)}"\n`;
    }
    return t;
  }

  #bars(slot: number, fn: number): Array<{ index: number; size: number; io: boolean; is64: boolean; prefetch: boolean; addr: number }> {
    const m = this.machine;
    const hba = m.controllers().find((h) => h.spec.slot === slot && h.spec.fn === fn);
    if (!hba) return [];
    const rd = (off: number): number => m.pci.configRead(slot, fn, off, 4);
    const cmd = m.pci.configRead(slot, fn, 0x04, 2);
    return hba.dev.proxy.bars.map((b) => {
      const lo = rd(0x10 + 4 * b.index);
      let addr = b.io ? lo & ~0x3 : lo & ~0xf;
      addr >>>= 0;
      if (b.is64) addr += rd(0x14 + 4 * b.index) * 0x1_0000_0000;
      const enabled = b.io ? cmd & 1 : cmd & 2;
      // PCI_BAR_UNMAPPED: decoding off or not programmed
      if (!enabled || addr === 0) addr = b.is64 ? 0xffff_ffff_ffff_f000 : 0xffff_fff0;
      return { index: b.index, size: b.size, io: b.io, is64: b.is64, prefetch: !b.io && (lo & 0x8) !== 0, addr };
    });
  }

  #pciId(slot: number, fn: number): string {
    const d = this.machine.tree.devices.find((x): x is Exclude<DeviceSpec, { kind: 'scsi' }> => x.kind !== 'scsi' && x.slot === slot && x.fn === fn);
    return d?.id ?? '';
  }

  /**
   * info qtree, reduced to the PCI bus and what hangs below it (QEMU also prints the system bus's
   * board devices and every property of each device; here the addressing properties only).
   */
  #infoQtree(): string {
    const m = this.machine;
    const lines: string[] = [];
    const p = (indent: number, s: string): void => void lines.push(`${' '.repeat(indent)}${s}`);
    p(0, 'bus: main-system-bus');
    p(2, 'type System');
    p(2, `dev: ${m.spec.machine === 'pc' ? 'i440FX-pcihost' : 'q35-pcihost'}, id ""`);
    p(4, 'bus: pci.0');
    p(6, 'type PCI');
    // QEMU keeps bus children newest first.
    for (const f of [...m.tree.pci.functions].reverse()) {
      if (!m.pci.has(f.slot, f.fn)) continue;
      const rd = (off: number, size: 1 | 2): number => m.pci.configRead(f.slot, f.fn, off, size);
      p(8, `dev: ${f.name}, id "${f.id ?? ''}"`);
      p(10, `addr = ${hex(f.slot, 2)}.${f.fn}`);
      p(10, `multifunction = ${f.multifunction ? 'true' : 'false'}`);
      const cls = rd(0x0a, 2);
      p(10, `class ${PCI_CLASS_DESC[cls] ?? `Class ${hex(cls, 4)}`}, addr 00:${hex(f.slot, 2)}.${f.fn}, pci id ${hex(rd(0, 2), 4)}:${hex(rd(2, 2), 4)} (sub ${hex(rd(0x2c, 2), 4)}:${hex(rd(0x2e, 2), 4)})`);
      for (const b of this.#bars(f.slot, f.fn)) {
        p(10, `bar ${b.index}: ${b.io ? 'i/o' : 'mem'} at 0x${hex(b.addr, 0)} [0x${hex(b.addr + b.size - 1, 0)}]`);
      }
      const hba = m.controllers().find((h) => h.spec.slot === f.slot && h.spec.fn === f.fn);
      if (!hba) continue;
      p(10, `bus: virtio-bus`);
      p(12, 'type virtio-pci-bus');
      p(12, 'dev: virtio-scsi-device, id ""');
      p(14, `num_queues = ${hba.spec.numQueues}`);
      p(14, `virtqueue_size = ${hba.spec.virtqueueSize}`);
      p(14, `hotplug = ${hba.spec.hotplug ? 'true' : 'false'}`);
      p(14, `param_change = ${hba.spec.paramChange ? 'true' : 'false'}`);
      p(14, `bus: ${hba.spec.scsiBus}`);
      p(16, 'type SCSI');
      const disks = [...m.scsi].filter(([, s]) => s.bus === hba.spec.scsiBus).reverse();
      for (const [disk, s] of disks) {
        const e = m.blkEntries.find((x) => x.dev === disk);
        p(16, `dev: ${s.driver}, id "${s.id ?? ''}"`);
        p(18, `drive = "${e?.name !== undefined && e.name !== '' ? e.name : (e?.node ?? '')}"`);
        p(18, `channel = ${disk.channel}`);
        p(18, `scsi-id = ${disk.id}`);
        p(18, `lun = ${disk.lun}`);
      }
    }
    return lines.map((l) => `${l}\n`).join('');
  }
}
