// Models softmmu/vl.c qemu_init (QEMU 7.2): the QEMU part of the `vscsi` command line → a typed
// MachineSpec, in QEMU's order of processing:
//   1. every option is parsed in argv order (QemuOpts syntax, ids, duplicate ids);
//   2. `-device help` / `-device X,help` answer and stop (exit 0);
//   3. the machine type is selected; -m and -smp are checked;
//   4. -drive backends are opened in order;
//   5. the board's own PCI functions are created, then every -device in order.
// Errors print `vscsi: <option>: <QEMU's text>` (then hint lines) and refuse the command line.
// Options that only mattered to the seed's RHEL 6.2 host are accepted with one warning each.
// vscsi's own options (-x, --script, --json, -v, --seed) are removed by the CLI before this runs.

import type { DriveSpec, FileProbe } from './blockdev.ts';
import { driveNew } from './blockdev.ts';
import type { FaultRuleSpec } from './fault.ts';
import { parseFaultRule } from './fault.ts';
import type { MachineType, PciFunctionSpec } from './hw/pc.ts';
import { boardPciFunctions } from './hw/pc.ts';
import type { OptsRegistry, QemuError, QemuOpts, QemuOptsList, QemuWarning } from './qemu-option.ts';
import {
  formatError, formatWarning, isHelpOption, qemuError, qemuOptGet, qemuOptHasHelpOpt, qemuOptsParse, strtosz, strtou64,
} from './qemu-option.ts';
import type { DeviceSpec, QdevTree } from './qdev-monitor.ts';
import { qdevDeviceAdd, qdevTreeAddDrive, qdevTreeNew } from './qdev-monitor.ts';
import { qdevDeviceHelp, qdevPrintDevinfos } from './qdev-properties.ts';

export const PROG = 'vscsi';

export interface TraceSpec {
  /** `-trace PATTERN` / `-trace enable=PATTERN`, in order. */
  readonly patterns: readonly string[];
  /** `-trace events=FILE`: files listing patterns, one per line (read by the caller). */
  readonly eventFiles: readonly string[];
  readonly file: string | undefined;
}

export interface MachineSpec {
  readonly machine: MachineType;
  /** QOM machine type name, e.g. `pc-i440fx-7.2`. */
  readonly machineTypeName: string;
  readonly accel: 'tcg' | 'kvm';
  readonly memoryMiB: number;
  readonly cpus: number;
  /** -append; undefined when not given. */
  readonly kernelCmdline: string | undefined;
  readonly drives: readonly DriveSpec[];
  /** The whole root PCI bus: board functions and -device functions, in devfn order. */
  readonly pci: readonly PciFunctionSpec[];
  /** -device devices in command-line order, addresses resolved. */
  readonly devices: readonly DeviceSpec[];
  readonly trace: TraceSpec;
  /** `-fault RULE` (ours: device-model fault rules, docs/FAULTS.md), in order. */
  readonly faults: readonly FaultRuleSpec[];
  /** The device tree after start-up: the starting point for device_add / device_del. */
  readonly tree: QdevTree;
}

export type ParseArgsResult =
  | { readonly spec: MachineSpec; readonly warnings: readonly string[] }
  /** Refused: print `warnings` then `error` (one or more lines joined by '\n') on stderr, exit 1. */
  | { readonly error: string; readonly warnings: readonly string[] }
  /** A help request: print `help` on stdout (warnings on stderr), exit 0. */
  | { readonly help: string; readonly warnings: readonly string[] };

type ArgKind = 'arg' | 'flag';

/** What each accepted option does here. */
type OptionRole =
  | 'machine' | 'm' | 'smp' | 'drive' | 'device' | 'append' | 'trace' | 'display' | 'nographic' | 'nodefaults'
  | 'vga' | 'net' | 'netdev' | 'usb' | 'usbdevice' | 'enable-kvm' | 'blockdev' | 'fault' | 'noop' | 'noop-silent';

const OPTIONS: Record<string, [ArgKind, OptionRole]> = {
  machine: ['arg', 'machine'], M: ['arg', 'machine'], m: ['arg', 'm'], smp: ['arg', 'smp'], drive: ['arg', 'drive'],
  device: ['arg', 'device'], append: ['arg', 'append'], trace: ['arg', 'trace'], display: ['arg', 'display'],
  nographic: ['flag', 'nographic'], nodefaults: ['flag', 'nodefaults'], vga: ['arg', 'vga'], net: ['arg', 'net'],
  nic: ['arg', 'net'], netdev: ['arg', 'netdev'], usb: ['flag', 'usb'], usbdevice: ['arg', 'usbdevice'],
  'enable-kvm': ['flag', 'enable-kvm'], blockdev: ['arg', 'blockdev'], fault: ['arg', 'fault'],
  // The seed's RHEL 6.2 host options and other host-only options: accepted, no effect here.
  'no-kvm-pit-reinjection': ['flag', 'noop'], 'rtc-td-hack': ['flag', 'noop'], balloon: ['arg', 'noop'],
  vnc: ['arg', 'noop'], uuid: ['arg', 'noop'], name: ['arg', 'noop'], monitor: ['arg', 'noop'],
  kernel: ['arg', 'noop'], initrd: ['arg', 'noop'], serial: ['arg', 'noop'], qmp: ['arg', 'noop'],
  chardev: ['arg', 'noop'], rtc: ['arg', 'noop'], boot: ['arg', 'noop'], cpu: ['arg', 'noop'], k: ['arg', 'noop'],
  // Harmless for a simulation and used by the goldens' own command lines: accepted silently.
  'no-reboot': ['flag', 'noop-silent'], 'no-shutdown': ['flag', 'noop-silent'], msg: ['arg', 'noop-silent'],
  D: ['arg', 'noop-silent'], 'no-user-config': ['flag', 'noop-silent'],
};

const DRIVE_LIST: QemuOptsList = { name: 'drive', desc: [] };
const DEVICE_LIST: QemuOptsList = { name: 'device', impliedOptName: 'driver', desc: [] };
const MACHINE_LIST: QemuOptsList = { name: 'machine', impliedOptName: 'type', desc: [], mergeLists: true };
const MEMORY_LIST: QemuOptsList = {
  name: 'memory', impliedOptName: 'size', mergeLists: true,
  desc: [{ name: 'size', type: 'size' }, { name: 'slots', type: 'number' }, { name: 'maxmem', type: 'size' }],
};
const SMP_LIST: QemuOptsList = {
  name: 'smp-opts', impliedOptName: 'cpus', mergeLists: true,
  desc: ['cpus', 'sockets', 'dies', 'clusters', 'cores', 'threads', 'maxcpus'].map((name) => ({ name, type: 'number' })),
};
const TRACE_LIST: QemuOptsList = {
  name: 'trace', impliedOptName: 'enable', mergeLists: true,
  desc: [{ name: 'enable', type: 'string' }, { name: 'events', type: 'string' }, { name: 'file', type: 'string' }],
};

interface MachineInfo {
  readonly type: MachineType;
  readonly qom: string;
  readonly desc: string;
  readonly maxCpus: number;
}
const MACHINES: Record<string, MachineInfo> = {
  'pc-i440fx-7.2': { type: 'pc', qom: 'pc-i440fx-7.2', desc: 'Standard PC (i440FX + PIIX, 1996)', maxCpus: 255 },
  'pc-q35-7.2': { type: 'q35', qom: 'pc-q35-7.2', desc: 'Standard PC (Q35 + ICH9, 2009)', maxCpus: 288 },
};
const MACHINE_ALIASES: Record<string, string> = { pc: 'pc-i440fx-7.2', q35: 'pc-q35-7.2' };
/** Old RHEL machine types the seed uses: aliases of `pc` here, with a warning. */
const RHEL_ALIASES = new Set(['rhel6.0.0', 'rhel6.1.0', 'rhel6.2.0', 'rhel6.3.0']);
const MACHINE_PROPS = new Set(['type', 'accel', 'usb', 'graphics', 'kernel_irqchip', 'vmport', 'smm', 'hpet', 'mem-merge', 'dump-guest-core']);

function machineHelp(): string {
  const lines = ['Supported machines are:'];
  lines.push(`${'pc'.padEnd(20)} ${MACHINES['pc-i440fx-7.2']!.desc} (alias of pc-i440fx-7.2)`);
  lines.push(`${'pc-i440fx-7.2'.padEnd(20)} ${MACHINES['pc-i440fx-7.2']!.desc} (default)`);
  lines.push(`${'q35'.padEnd(20)} ${MACHINES['pc-q35-7.2']!.desc} (alias of pc-q35-7.2)`);
  lines.push(`${'pc-q35-7.2'.padEnd(20)} ${MACHINES['pc-q35-7.2']!.desc}`);
  return lines.join('\n') + '\n';
}

interface Located<T> {
  readonly loc: string;
  readonly value: T;
}

/**
 * Parses the QEMU options of a `vscsi` command line. `fs` answers for the image files.
 * Never throws on user input.
 */
export function parseQemuArgs(argv: readonly string[], fs: FileProbe): ParseArgsResult {
  const warnings: string[] = [];
  const warn = (loc: string | undefined, w: QemuWarning): void => void warnings.push(...formatWarning(PROG, loc, w));
  const refuse = (loc: string | undefined, e: QemuError): ParseArgsResult => ({
    error: formatError(PROG, loc, e).join('\n'),
    warnings,
  });
  const noEffect = (loc: string): void => warn(loc, { message: 'this option has no effect here', extra: [] });

  const registry: OptsRegistry = new Map();
  const machineOpts: Located<QemuOpts>[] = [];
  let memory: Located<QemuOpts> | undefined;
  let smp: Located<QemuOpts> | undefined;
  const driveOpts: Located<QemuOpts>[] = [];
  const deviceOpts: Located<QemuOpts>[] = [];
  const tracePatterns: string[] = [];
  const traceEventFiles: string[] = [];
  let traceFile: string | undefined;
  const faults: FaultRuleSpec[] = [];
  let kernelCmdline: string | undefined;
  let vga = true;
  let nic = true;
  let usb = false;
  let accel: 'tcg' | 'kvm' = 'tcg';

  // 1. Parse, in argv order.
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('-') || word === '-' || word === '--') {
      return refuse(undefined, qemuError(`${word}: a disk image without an option (-hda) is not supported; use -drive`));
    }
    const name = word.replace(/^--?/, '');
    const def = OPTIONS[name];
    if (!def) return refuse(word, qemuError('invalid option'));
    const [kind, role] = def;
    let arg = '';
    let loc = word;
    if (kind === 'arg') {
      if (i + 1 >= argv.length) return refuse(word, qemuError('requires an argument'));
      arg = argv[++i]!;
      loc = `${word} ${arg}`;
    }
    const parse = (list: QemuOptsList): QemuOpts | QemuError => {
      const r = qemuOptsParse(list, arg, registry);
      for (const w of r.warnings) warn(loc, w);
      return r.ok ? r.opts : r.error;
    };
    switch (role) {
      case 'machine': {
        const o = parse(MACHINE_LIST);
        if ('message' in o) return refuse(loc, o);
        machineOpts.push({ loc, value: o });
        break;
      }
      case 'm': {
        const o = parse(MEMORY_LIST);
        if ('message' in o) return refuse(loc, o);
        memory = { loc, value: o };
        break;
      }
      case 'smp': {
        const o = parse(SMP_LIST);
        if ('message' in o) return refuse(loc, o);
        smp = { loc, value: o };
        break;
      }
      case 'drive': {
        const o = parse(DRIVE_LIST);
        if ('message' in o) return refuse(loc, o);
        driveOpts.push({ loc, value: o });
        break;
      }
      case 'device': {
        if (arg.startsWith('{')) return refuse(loc, qemuError('JSON -device is not supported yet by this simulator'));
        const o = parse(DEVICE_LIST);
        if ('message' in o) return refuse(loc, o);
        deviceOpts.push({ loc, value: o });
        break;
      }
      case 'blockdev':
        return refuse(loc, qemuError('-blockdev is not supported yet by this simulator; use -drive'));
      case 'append':
        kernelCmdline = arg;
        break;
      case 'fault': {
        const f = parseFaultRule(arg);
        if ('error' in f) return refuse(loc, qemuError(f.error));
        faults.push(f);
        break;
      }
      case 'trace': {
        const o = parse(TRACE_LIST);
        if ('message' in o) return refuse(loc, o);
        const enable = qemuOptGet(o, 'enable');
        if (enable !== undefined) tracePatterns.push(enable);
        const events = qemuOptGet(o, 'events');
        if (events !== undefined) traceEventFiles.push(events);
        traceFile = qemuOptGet(o, 'file') ?? traceFile;
        break;
      }
      case 'display':
      case 'nographic':
        break; // nothing is displayed anyway
      case 'nodefaults':
        vga = false;
        nic = false;
        break;
      case 'vga':
        if (arg === 'none') vga = false;
        else if (arg === 'std') vga = true;
        else noEffect(loc);
        break;
      case 'net':
        nic = false; // any -net/-nic replaces the default NIC (vl.c default_net = 0)
        if (arg !== 'none') noEffect(loc);
        break;
      case 'netdev':
        nic = false;
        noEffect(loc);
        break;
      case 'usb':
        usb = true;
        noEffect(loc);
        break;
      case 'usbdevice':
        usb = true;
        noEffect(loc);
        break;
      case 'enable-kvm':
        accel = 'kvm';
        noEffect(loc);
        break;
      case 'noop':
        noEffect(loc);
        break;
      case 'noop-silent':
        break;
    }
  }

  // 2. -device help (qemu_process_help_options: the first -device that asks for help answers).
  for (const d of deviceOpts) {
    const driver = qemuOptGet(d.value, 'driver');
    if (driver !== undefined && isHelpOption(driver)) return { help: qdevPrintDevinfos(), warnings };
    if (driver !== undefined && qemuOptHasHelpOpt(d.value)) {
      const h = qdevDeviceHelp(driver === 'scsi-disk' ? 'scsi-hd' : driver);
      if ('error' in h) return refuse(undefined, h.error);
      return { help: h.stdout, warnings };
    }
  }

  // 3. Machine.
  const machineKv = new Map<string, [string, string]>(); // key → [value, loc]
  for (const m of machineOpts) for (const o of m.value.opts) machineKv.set(o.name, [o.value, m.loc]);
  let typeName = machineKv.get('type')?.[0] ?? 'pc';
  if (isHelpOption(typeName)) return { help: machineHelp(), warnings };
  if (RHEL_ALIASES.has(typeName)) {
    warn(machineKv.get('type')![1], {
      message: `machine type '${typeName}' is treated as an alias of 'pc' here`,
      extra: [],
    });
    typeName = 'pc';
  }
  const info = MACHINES[MACHINE_ALIASES[typeName] ?? typeName];
  if (!info) return refuse(undefined, qemuError('unsupported machine type', 'Use -machine help to list supported machines'));
  for (const [k, [v, loc]] of machineKv) {
    if (!MACHINE_PROPS.has(k)) return refuse(loc, qemuError(`Property '${info.qom}-machine.${k}' not found`));
    if (k === 'accel') {
      for (const a of v.split(':')) {
        if (a !== 'tcg' && a !== 'kvm') return refuse(undefined, qemuError(`invalid accelerator ${a}`));
      }
      if (v.split(':')[0] === 'kvm') {
        accel = 'kvm';
        warn(loc, { message: 'accel=kvm has no effect here', extra: [] });
      }
    }
    if (k === 'usb' && (v === 'on' || v === 'yes' || v === 'true')) usb = true;
  }

  let memoryMiB = 128;
  if (memory) {
    const s = qemuOptGet(memory.value, 'size');
    if (s !== undefined) {
      if (s === '') return refuse(memory.loc, qemuError("missing 'size' option value"));
      const bytes = strtosz(s);
      if (typeof bytes !== 'bigint') return refuse(memory.loc, qemuError(`invalid ram size: ${s}`));
      // A size without suffix means MiB (the legacy -m format).
      const total = /[0-9]$/.test(s) ? bytes << 20n : bytes;
      if (total === 0n) return refuse(memory.loc, qemuError('ram size is too small'));
      memoryMiB = Number(total >> 20n);
    }
  }

  let cpus = 1;
  if (smp) {
    const get = (k: string): number | undefined => {
      const v = qemuOptGet(smp.value, k);
      if (v === undefined) return undefined;
      const n = strtou64(v);
      return typeof n === 'bigint' ? Number(n) : undefined;
    };
    const given = get('cpus');
    const product = (get('sockets') ?? 1) * (get('dies') ?? 1) * (get('cores') ?? 1) * (get('threads') ?? 1);
    cpus = given ?? product;
    if (cpus === 0) cpus = product;
    if (cpus > info.maxCpus) {
      return refuse(undefined, qemuError(`Invalid SMP CPUs ${cpus}. The max CPUs supported by machine '${info.qom}' is ${info.maxCpus}`));
    }
  }

  // 4. Drives, in order.
  let tree = qdevTreeNew(info.type, cpus, boardPciFunctions(info.type, { vga, nic, usb }));
  const noneUnits = new Set<number>();
  for (const d of driveOpts) {
    const r = driveNew(d.value, { ids: new Set(tree.drives.map((x) => x.id)), noneUnits }, fs);
    if (!r.ok) {
      for (const line of r.reports ?? []) warnings.push(`${PROG}: ${line}`);
      return refuse(d.loc, r.error);
    }
    for (const w of r.warnings) warn(d.loc, w);
    warnings.push(...r.notices);
    noneUnits.add(r.unit);
    tree = qdevTreeAddDrive(tree, r.drive);
  }

  // 5. Devices, in order.
  for (const d of deviceOpts) {
    const r = qdevDeviceAdd(tree, d.value);
    for (const w of r.warnings) warn(d.loc, w);
    if (!r.ok) return refuse(d.loc, r.error);
    if (r.device.kind === 'inert-pci') {
      warn(d.loc, { message: `'${r.device.driver}' has no effect here`, extra: [] });
    }
    tree = r.tree;
  }

  return {
    spec: {
      machine: info.type, machineTypeName: info.qom, accel, memoryMiB, cpus, kernelCmdline, drives: tree.drives,
      pci: tree.pci.functions, devices: tree.devices,
      trace: { patterns: tracePatterns, eventFiles: traceEventFiles, file: traceFile }, faults,
      tree: { ...tree, hotplugPhase: true },
    },
    warnings,
  };
}

export type { DeviceSpec, DriveSpec, FileProbe, PciFunctionSpec };
