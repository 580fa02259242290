// Ours: fast-check commands for plug/unplug/rescan plans — one command class per action. A command
// holds only generated choices ("the 3rd LU", "target from an existing device"); it resolves them
// against the model when it runs, so every plan stays valid while fast-check shrinks it.

import fc from 'fast-check';
import type { Action } from './actions.ts';
import { arbKind, arbLun, arbTarget } from './topology.ts';
import type { LunKind, ScsiModel } from './model.ts';

/** The model side of a run: the reference model and the id counter. */
export interface KitModel {
  readonly scsi: ScsiModel;
  next: number;
}

/** The real side: something that runs one resolved action and checks the step (see runner.ts). */
export interface KitReal {
  step(model: KitModel, action: Action): Promise<void>;
}

export type KitCommand = fc.AsyncCommand<KitModel, KitReal>;

abstract class ActionCommand implements KitCommand {
  /** The action this command resolved to on its last run (for the report). */
  last: Action | null = null;
  abstract resolve(m: KitModel): Action | null;
  abstract describe(): string;
  check(m: Readonly<KitModel>): boolean {
    return this.resolve({ scsi: m.scsi, next: m.next }) !== null;
  }
  async run(m: KitModel, r: KitReal): Promise<void> {
    const a = this.resolve(m);
    if (!a) return;
    m.next++;
    this.last = a;
    await r.step(m, a);
  }
  toString(): string {
    return this.describe();
  }
}

const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);

export class DriveAddCommand extends ActionCommand {
  readonly media: LunKind;
  readonly sizeMiB: number;
  constructor(media: LunKind, sizeMiB: number) {
    super();
    this.media = media;
    this.sizeMiB = sizeMiB;
  }
  resolve(m: KitModel): Action {
    return { kind: 'drive_add', id: `d${m.next}`, file: `/images/d${m.next}.img`, media: this.media, sizeMiB: this.sizeMiB };
  }
  describe(): string {
    return `drive_add(${this.media}, ${this.sizeMiB} MiB)`;
  }
}

export type AddressMode = 'both' | 'target' | 'lun' | 'auto' | 'collide';

export class DeviceAddCommand extends ActionCommand {
  readonly ctrl: number;
  readonly drive: number;
  readonly mode: AddressMode;
  readonly target: number;
  readonly lun: number;
  constructor(ctrl: number, drive: number, mode: AddressMode, target: number, lun: number) {
    super();
    this.ctrl = ctrl;
    this.drive = drive;
    this.mode = mode;
    this.target = target;
    this.lun = lun;
  }
  resolve(m: KitModel): Action | null {
    const ctrl = pick(m.scsi.liveCtrls, this.ctrl);
    const drive = pick(m.scsi.freeDrives(), this.drive);
    if (!ctrl || !drive) return null;
    let target: number | null = this.mode === 'both' || this.mode === 'target' ? this.target : null;
    let lun: number | null = this.mode === 'both' || this.mode === 'lun' ? this.lun : null;
    if (this.mode === 'collide') {
      const other = pick(ctrl.devices, this.target);
      if (!other) return null;
      target = other.target;
      lun = other.lun;
    }
    return { kind: 'device_add', id: `hp${m.next}`, ctrl: ctrl.id, drive: drive.id, media: drive.kind, target, lun };
  }
  describe(): string {
    return `device_add(ctrl#${this.ctrl}, drive#${this.drive}, ${this.mode}, ${this.target}:${this.lun})`;
  }
}

export class DeviceDelCommand extends ActionCommand {
  readonly dev: number;
  constructor(dev: number) {
    super();
    this.dev = dev;
  }
  resolve(m: KitModel): Action | null {
    const q = pick(m.scsi.qdevs, this.dev);
    return q ? { kind: 'device_del', id: q.dev.id } : null;
  }
  describe(): string {
    return `device_del(dev#${this.dev})`;
  }
}

export class ControllerAddCommand extends ActionCommand {
  readonly hotplug: boolean;
  readonly max: number;
  constructor(hotplug: boolean, max = 4) {
    super();
    this.hotplug = hotplug;
    this.max = max;
  }
  resolve(m: KitModel): Action | null {
    if (m.scsi.liveCtrls.length >= this.max) return null;
    return { kind: 'controller_add', id: `hc${m.next}`, hotplug: this.hotplug };
  }
  describe(): string {
    return `controller_add(hotplug=${this.hotplug ? 'on' : 'off'})`;
  }
}

export class ControllerDelCommand extends ActionCommand {
  readonly ctrl: number;
  constructor(ctrl: number) {
    super();
    this.ctrl = ctrl;
  }
  resolve(m: KitModel): Action | null {
    if (m.scsi.liveCtrls.length < 2) return null;
    const c = pick(m.scsi.liveCtrls, this.ctrl)!;
    return { kind: 'device_del', id: c.id };
  }
  describe(): string {
    return `controller_del(ctrl#${this.ctrl})`;
  }
}

/** A token of the scan string: the wildcard, a number, or the address of an existing QEMU device. */
export type ScanToken = { readonly t: '-' } | { readonly t: 'num'; readonly v: number; readonly fmt: NumFmt } | { readonly t: 'dev'; readonly pick: number; readonly fmt: NumFmt };
export type NumFmt = 'dec' | 'hex' | 'oct';

/** The form of a scan string: three tokens with some spacing, or a raw (mostly malformed) string. */
export type ScanForm =
  | { readonly kind: 'tokens'; readonly c: '-' | '0' | '00' | '0x0'; readonly t: ScanToken; readonly l: ScanToken; readonly sep: string; readonly lead: string; readonly trail: string }
  | { readonly kind: 'raw'; readonly s: string };

const fmtNum = (v: number, f: NumFmt): string => (f === 'hex' ? `0x${v.toString(16)}` : f === 'oct' ? (v === 0 ? '0' : `0${v.toString(8)}`) : String(v));

export class ScanCommand extends ActionCommand {
  readonly host: number;
  readonly form: ScanForm;
  constructor(host: number, form: ScanForm) {
    super();
    this.host = host;
    this.form = form;
  }
  resolve(m: KitModel): Action | null {
    const ctrl = pick(m.scsi.liveCtrls, this.host);
    if (!ctrl) return null;
    const f = this.form;
    if (f.kind === 'raw') return { kind: 'scan', host: ctrl.host!.no, written: f.s };
    const tok = (x: ScanToken, field: 'target' | 'lun'): string => {
      if (x.t === '-') return '-';
      if (x.t === 'num') return fmtNum(x.v, x.fmt);
      const d = pick(ctrl.devices, x.pick);
      return fmtNum(d ? d[field] : 0, x.fmt);
    };
    const written = `${f.lead}${f.c}${f.sep}${tok(f.t, 'target')}${f.sep}${tok(f.l, 'lun')}${f.trail}`;
    return { kind: 'scan', host: ctrl.host!.no, written };
  }
  describe(): string {
    return `scan(host#${this.host}, ${JSON.stringify(this.form)})`;
  }
}

/** `echo 1 > …/delete` or `echo 1 > …/rescan` on one of the LUs the model knows. */
export class LuAttrCommand extends ActionCommand {
  readonly attr: 'delete' | 'rescan';
  readonly dev: number;
  constructor(attr: 'delete' | 'rescan', dev: number) {
    super();
    this.attr = attr;
    this.dev = dev;
  }
  resolve(m: KitModel): Action | null {
    const d = pick(m.scsi.sdevs, this.dev);
    return d ? { kind: this.attr, hctl: m.scsi.hctl(d) } : null;
  }
  describe(): string {
    return `${this.attr}(lu#${this.dev})`;
  }
}

/** Disks the guest can do 512-byte I/O on and the model can predict: no CD swapped in behind them. */
function ioCandidates(m: ScsiModel): { hctl: string; dev: string }[] {
  return m.sdevs
    .filter((d) => d.kind === 'disk' && (m.backing(d)?.kind ?? 'disk') === 'disk')
    .map((d) => ({ hctl: m.hctl(d), dev: m.devName(d) }));
}

/** A 512-byte read, or a write of fresh content (tagged so a later read can tell it apart), on a disk. */
export class IoCommand extends ActionCommand {
  readonly op: 'read' | 'write';
  readonly dev: number;
  readonly sector: number;
  constructor(op: 'read' | 'write', dev: number, sector: number) {
    super();
    this.op = op;
    this.dev = dev;
    this.sector = sector;
  }
  resolve(m: KitModel): Action | null {
    const d = pick(ioCandidates(m.scsi), this.dev);
    if (!d) return null;
    const at = { hctl: d.hctl, dev: d.dev, sector: this.sector };
    return this.op === 'read' ? { kind: 'read', ...at } : { kind: 'write', ...at, tag: String(7000 + m.next) };
  }
  describe(): string {
    return `${this.op}(disk#${this.dev}, sector ${this.sector})`;
  }
}

// ---- arbitraries ---------------------------------------------------------------------------------

const arbPick = (): fc.Arbitrary<number> => fc.nat({ max: 15 });
/** Sectors inside the smallest image (1 MiB). */
const arbSector = (): fc.Arbitrary<number> => fc.oneof(fc.constantFrom(0, 1, 2047), fc.nat({ max: 2047 }));

const arbFmt = (): fc.Arbitrary<NumFmt> => fc.constantFrom<NumFmt>('dec', 'dec', 'hex', 'oct');

function arbToken(values: fc.Arbitrary<number>): fc.Arbitrary<ScanToken> {
  return fc.oneof(
    { arbitrary: fc.constant<ScanToken>({ t: '-' }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant('dev' as const), pick: arbPick(), fmt: arbFmt() }), weight: 3 },
    { arbitrary: fc.record({ t: fc.constant('num' as const), v: values, fmt: arbFmt() }), weight: 1 },
  );
}

/** Scan strings that must fail with EINVAL: Linux's parser and range checks. */
export function arbBadScanString(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('', ' ', 'x y', '0 1', '- -', '0 1 0 x', '- - - -', '1a - -', '0 08 0', '0 0x 0', '-1 - -', '0 - 1z', '0 1 0 0'),
    fc.integer({ min: 1, max: 9 }).map((c) => `${c} - -`),
    fc.integer({ min: 256, max: 100000 }).map((t) => `0 ${t} 0`),
    fc.integer({ min: 32768, max: 10_000_000 }).map((l) => `- 1 ${l}`),
    fc.integer({ min: 0, max: 9 }).map((n) => `0 ${'0'.repeat(10)}${n} 0`), // the %10s width splits the token: 4 tokens
  );
}

/** Every form of the scan string: wildcards, numbers in C's three bases, device addresses, bad ones. */
export function arbScanForm(): fc.Arbitrary<ScanForm> {
  const tokens = fc.record({
    kind: fc.constant('tokens' as const),
    c: fc.constantFrom('-' as const, '0' as const, '00' as const, '0x0' as const),
    t: arbToken(arbTarget()),
    l: arbToken(fc.integer({ min: 0, max: 16383 })),
    sep: fc.constantFrom(' ', ' ', '  ', '\t'),
    lead: fc.constantFrom('', '', ' '),
    trail: fc.constantFrom('', '', ' '),
  });
  return fc.oneof({ arbitrary: tokens, weight: 4 }, { arbitrary: arbBadScanString().map((s) => ({ kind: 'raw' as const, s })), weight: 1 });
}

export interface PlanOptions {
  /** Which action classes to generate (default all). */
  readonly actions?: readonly PlanActionKind[];
  /** Hotplug setting of controllers added at run time (default random). */
  readonly hotplug?: boolean;
  readonly maxCommands?: number;
  /** fast-check's size of the command list (default 'medium': about half of maxCommands on average). */
  readonly size?: fc.SizeForArbitrary;
}

export type PlanActionKind = 'drive_add' | 'device_add' | 'device_del' | 'controller_add' | 'controller_del' | 'scan' | 'delete' | 'rescan' | 'read' | 'write';

const ALL: readonly PlanActionKind[] = ['drive_add', 'device_add', 'device_del', 'controller_add', 'controller_del', 'scan', 'delete', 'rescan', 'read', 'write'];

/** One arbitrary per action class, for fc.commands. */
export function actionArbitraries(o: PlanOptions = {}): fc.Arbitrary<KitCommand>[] {
  const hp = o.hotplug !== undefined ? fc.constant(o.hotplug) : fc.boolean();
  const table: Record<PlanActionKind, fc.Arbitrary<KitCommand>> = {
    drive_add: fc.tuple(arbKind(), fc.constantFrom(1, 2, 4)).map(([k, s]) => new DriveAddCommand(k, s)),
    device_add: fc
      .tuple(arbPick(), arbPick(), fc.constantFrom<AddressMode>('both', 'both', 'target', 'lun', 'auto', 'collide'), arbTarget(), arbLun())
      .map(([c, d, mode, t, l]) => new DeviceAddCommand(c, d, mode, t, l)),
    device_del: arbPick().map((d) => new DeviceDelCommand(d)),
    controller_add: hp.map((h) => new ControllerAddCommand(h)),
    controller_del: arbPick().map((c) => new ControllerDelCommand(c)),
    scan: fc.tuple(arbPick(), arbScanForm()).map(([h, f]) => new ScanCommand(h, f)),
    delete: arbPick().map((d) => new LuAttrCommand('delete', d)),
    rescan: arbPick().map((d) => new LuAttrCommand('rescan', d)),
    read: fc.tuple(arbPick(), arbSector()).map(([d, s]) => new IoCommand('read', d, s)),
    write: fc.tuple(arbPick(), arbSector()).map(([d, s]) => new IoCommand('write', d, s)),
  };
  // fc.commands picks a class uniformly: plugging needs a drive first, so both come three times over.
  const weight: Partial<Record<PlanActionKind, number>> = { drive_add: 3, device_add: 4, scan: 2 };
  return (o.actions ?? ALL).flatMap((k) => Array.from({ length: weight[k] ?? 1 }, () => table[k]));
}

/** A plan: fc.commands over the action classes (shrinkable). */
export function arbPlan(o: PlanOptions = {}): fc.Arbitrary<Iterable<KitCommand>> {
  return fc.commands(actionArbitraries(o), { maxCommands: o.maxCommands ?? 20, size: o.size ?? 'medium' });
}
