// Ours: the runner of the property-testing kit. It boots a machine for each generated topology, runs a
// generated plan one action at a time, and after every step compares the guest with the reference
// model, checks that the idle guest holds nothing it should not, and calls the user's own check. A
// failure carries the vscsi script that reproduces it; fast-check adds the seed and the shrunk plan.

import fc from 'fast-check';
import { Volume } from 'memfs';
import type { HostFs, LineOutput } from '../machine/machine.ts';
import { Machine } from '../machine/machine.ts';
import { actionImages, actionLine, predict, runAction } from './actions.ts';
import type { Action } from './actions.ts';
import { arbPlan } from './commands.ts';
import type { KitCommand, KitModel, KitReal, PlanOptions } from './commands.ts';
import { ScsiModel } from './model.ts';
import type { Expectation, ModelOptions, Snapshot, Topology } from './model.ts';
import { dmaUse, idleLeaks, observe } from './observe.ts';
import { arbTopology, topologyArgv, topologyImages } from './topology.ts';
import type { TopologyOptions } from './topology.ts';

/** What a user's check sees after each step (and once after boot, with `action` null). */
export interface StepContext {
  readonly machine: Machine;
  readonly model: ScsiModel;
  readonly action: Action | null;
  readonly result: LineOutput | null;
  /** The model's prediction of the guest's views after this step. */
  readonly expected: Snapshot;
  /** The vscsi script that replays the case up to here. */
  script(): string;
}

export type StepCheck = (ctx: StepContext) => void | boolean | Promise<void | boolean>;

export interface ScsiPropertyOptions {
  readonly topology?: fc.Arbitrary<Topology> | TopologyOptions;
  readonly plan?: fc.Arbitrary<Iterable<KitCommand>> | PlanOptions;
  /** Compare every step with the reference model (default true). */
  readonly compareModel?: boolean;
  /** After every step: no orphan sysfs dirs, /dev nodes, udev links, busy hosts, used descriptors (default true). */
  readonly checkIdle?: boolean;
  readonly model?: ModelOptions;
  /** QEMU options before the controllers (default `-machine pc -m 128 -smp 2`). */
  readonly baseArgs?: readonly string[];
  /** fast-check parameters (numRuns, seed, …); the global configuration (test/seed.ts) applies otherwise. */
  readonly fc?: fc.Parameters<[Topology, Iterable<KitCommand>]>;
}

/** A failed step: the message says what differed and holds the vscsi script that reproduces it. */
export class ScsiPropertyFailure extends Error {
  readonly script: string;
  constructor(message: string, script: string) {
    super(`${message}\n--- reproduce with this vscsi script ---\n${script}`);
    this.script = script;
  }
}

function makeImages(fs: Volume, images: Record<string, number>): void {
  for (const [path, size] of Object.entries(images)) {
    if (fs.existsSync(path)) continue;
    fs.mkdirSync(path.slice(0, path.lastIndexOf('/')) || '/', { recursive: true });
    fs.writeFileSync(path, new Uint8Array(0));
    fs.truncateSync(path, size);
  }
}

/** The header and lines of a reproducing script. */
export function reproScript(argv: readonly string[], images: Record<string, number>, actions: readonly Action[]): string {
  const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const head = [
    '# vscsi script replaying a property-test case',
    `# images: mkdir -p /images && ${Object.entries(images).map(([p, n]) => `truncate -s ${n} ${p}`).join(' && ') || 'true'}`,
    `# run:    vscsi ${argv.map(quote).join(' ')} --script THIS_FILE`,
  ];
  return [...head, ...actions.map(actionLine)].join('\n') + '\n';
}

function diffSnapshots(want: Snapshot, got: Snapshot): string[] {
  const out: string[] = [];
  for (const k of Object.keys(want) as (keyof Snapshot)[]) {
    const a = JSON.stringify(want[k], null, k === 'lsscsi' ? 0 : undefined);
    const b = JSON.stringify(got[k], null, k === 'lsscsi' ? 0 : undefined);
    if (a !== b) out.push(`${k}: expected ${a}\n${' '.repeat(k.length)}  but saw  ${b}`);
  }
  return out;
}

function checkOutcome(e: Expectation, r: LineOutput): string | null {
  if (e.rc === 'nonzero' ? r.rc === 0 : r.rc !== e.rc) return `rc ${r.rc}, expected ${e.rc} (stdout ${JSON.stringify(r.stdout.slice(0, 200))}, stderr ${JSON.stringify(r.stderr.slice(0, 200))})`;
  if (e.stdout !== undefined && r.stdout !== e.stdout) return `stdout ${JSON.stringify(r.stdout.slice(0, 120))}…, expected ${JSON.stringify(e.stdout.slice(0, 120))}…`;
  return null;
}

/** One case: a machine, its model, the script so far. The fast-check "real" side. */
export class ScsiCase implements KitReal {
  readonly machine: Machine;
  readonly model: ScsiModel;
  readonly argv: readonly string[];
  readonly fs: Volume;
  readonly actions: Action[] = [];
  readonly images: Record<string, number>;
  readonly #opts: ScsiPropertyOptions;
  readonly #check: StepCheck | undefined;
  /** DMA bytes in use seen for each idle state (hosts and LUs): the same state must hold the same bytes. */
  readonly #dmaByState = new Map<string, { bytes: number; objects: number; grew: number }>();

  private constructor(machine: Machine, model: ScsiModel, argv: readonly string[], fs: Volume, images: Record<string, number>, opts: ScsiPropertyOptions, check: StepCheck | undefined) {
    this.machine = machine;
    this.model = model;
    this.argv = argv;
    this.fs = fs;
    this.images = images;
    this.#opts = opts;
    this.#check = check;
  }

  /** Boots a machine for the topology and checks the booted guest against the model. */
  static async boot(topo: Topology, opts: ScsiPropertyOptions = {}, check?: StepCheck): Promise<ScsiCase> {
    const fs = new Volume();
    const images = topologyImages(topo);
    makeImages(fs, images);
    const argv = topologyArgv(topo, opts.baseArgs);
    const r = await Machine.create(argv, { hostFs: fs as unknown as HostFs });
    if (!('machine' in r)) throw new ScsiPropertyFailure(`the command line was refused: ${'error' in r ? r.error : r.help}`, reproScript(argv, images, []));
    await r.machine.boot();
    const c = new ScsiCase(r.machine, ScsiModel.boot(topo, opts.model), argv, fs, images, opts, check);
    await c.#afterStep(null, null);
    return c;
  }

  script(): string {
    return reproScript(this.argv, this.images, this.actions);
  }

  /** Runs one action: predict, run, compare. */
  async step(km: KitModel, a: Action): Promise<void> {
    if (km.scsi !== this.model) throw new Error('a case runs against its own model');
    const imgs = actionImages(a);
    makeImages(this.fs, imgs);
    Object.assign(this.images, imgs);
    this.actions.push(a);
    const want = predict(this.model, a);
    const got = await runAction(this.machine, a);
    const bad = checkOutcome(want, got);
    if (bad) throw new ScsiPropertyFailure(`step ${this.actions.length} \`${actionLine(a)}\`: ${bad}`, this.script());
    await this.#afterStep(a, got);
  }

  async #afterStep(a: Action | null, result: LineOutput | null): Promise<void> {
    const where = a ? `after step ${this.actions.length} \`${actionLine(a)}\`` : 'after boot';
    const expected = this.model.snapshot();
    if (this.#opts.compareModel ?? true) {
      const diff = diffSnapshots(expected, await observe(this.machine));
      if (diff.length) throw new ScsiPropertyFailure(`${where} the guest differs from the model:\n${diff.join('\n')}`, this.script());
    }
    if (this.#opts.checkIdle ?? true) {
      const leaks = await idleLeaks(this.machine);
      // Live kmalloc objects (command headers, indirect tables, event buffers): some are set up on first
      // use, so one growth per idle state is allowed; a state that needs more each time it comes back
      // leaks. (Bytes are not compared: slab pages stay once carved, as in Linux.)
      const key = JSON.stringify(this.model.hosts.map((h) => [h.ctrl.hotplug, h.devices.map((d) => d.kind)]));
      const now = dmaUse(this.machine);
      const seen = this.#dmaByState.get(key);
      if (seen === undefined) this.#dmaByState.set(key, { ...now, grew: 0 });
      else {
        if (now.objects > seen.objects) seen.grew++;
        if (seen.grew >= 2)
          leaks.push(`DMA in use grew again in the same idle state ${key}: ${now.bytes} bytes/${now.objects} objects, ${seen.bytes}/${seen.objects} before`);
        seen.bytes = now.bytes;
        seen.objects = now.objects;
      }
      if (leaks.length) throw new ScsiPropertyFailure(`${where} the idle guest still holds:\n${leaks.join('\n')}`, this.script());
    }
    if (this.#check) {
      const ok = await this.#check({ machine: this.machine, model: this.model, action: a, result, expected, script: () => this.script() });
      if (ok === false) throw new ScsiPropertyFailure(`${where} the property does not hold`, this.script());
    }
  }
}

const isArbitrary = <T>(x: unknown): x is fc.Arbitrary<T> => x instanceof fc.Arbitrary;

/**
 * Throws random plug/unplug/rescan plans at random topologies: after every step the guest must equal
 * the reference model (unless `compareModel: false`), hold nothing when idle, and satisfy `check`.
 */
export async function runScsiProperty(opts: ScsiPropertyOptions = {}, check?: StepCheck): Promise<void> {
  const topo = isArbitrary<Topology>(opts.topology) ? opts.topology : arbTopology(opts.topology ?? {});
  const plan = isArbitrary<Iterable<KitCommand>>(opts.plan) ? opts.plan : arbPlan(opts.plan ?? {});
  await fc.assert(
    fc.asyncProperty(topo, plan, async (t, cmds) => {
      const c = await ScsiCase.boot(t, opts, check);
      await fc.asyncModelRun(() => ({ model: { scsi: c.model, next: 0 }, real: c }), cmds);
    }),
    opts.fc ?? {},
  );
}
