// Ours: hot-plug benchmarks for `npm run bench` (bench/run.ts calls these; `tsx bench/hotplug.ts` runs
// them alone). Wall-clock and CPU time are read here only; the simulation runs on its virtual clock.
//
//   hotplug-cases        random 20-step plug/unplug/rescan cases per second: boot a random topology
//                        (1–3 controllers), run 20 generated actions, each checked against the model
//   hotplug-one-lun-N    device_add of one scsi-hd into a host that already has N LUNs (scsi-cd
//                        without media on scsi-id 0): on a new target (RESCAN of the whole target:
//                        INQUIRY, REPORT LUNS) and as LUN N of the crowded target (one LUN probed).
//                        The cost of one add must not grow with N.

import fc from 'fast-check';
import { Volume } from 'memfs';
import { Machine } from '../src/machine/machine.ts';
import type { HostFs } from '../src/machine/machine.ts';
import { actionArbitraries } from '../src/testkit/commands.ts';
import type { KitCommand } from '../src/testkit/commands.ts';
import { ScsiCase } from '../src/testkit/runner.ts';
import { arbTopology } from '../src/testkit/topology.ts';
import type { Topology } from '../src/testkit/model.ts';

export interface BenchRecord {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly [k: string]: unknown;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Random 20-step cases per second, with every step compared against the reference model (or not). */
export async function benchHotplugCases(o: { cases?: number; steps?: number; seed?: number; check?: boolean } = {}): Promise<BenchRecord> {
  const cases = o.cases ?? 50;
  const steps = o.steps ?? 20;
  const check = o.check ?? true;
  const opts = { compareModel: check, checkIdle: check };
  const arb = fc.tuple(arbTopology(), fc.array(fc.oneof(...actionArbitraries()), { minLength: steps, maxLength: steps }));
  const samples = fc.sample(arb, { numRuns: cases, seed: o.seed ?? 1 }) as [Topology, KitCommand[]][];
  let executed = 0;
  let failed = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const [topo, cmds] of samples) {
    try {
      const c = await ScsiCase.boot(topo, opts);
      await fc.asyncModelRun(() => ({ model: { scsi: c.model, next: 0 }, real: c }), cmds);
      executed += c.actions.length;
    } catch {
      failed++;
    }
  }
  const wall = performance.now() - t0;
  return {
    name: 'hotplug-cases',
    value: round((cases * 1000) / wall),
    unit: 'cases/s',
    wallMs: round(wall),
    cpuMs: round(cpuMs(c0)),
    cases,
    stepsPerCase: steps,
    actionsExecuted: executed,
    casesFailed: failed,
    checked: check,
    how: `${cases} random topologies (1–3 controllers) x ${steps} generated actions (skipped when not applicable), boot included`,
  };
}

function volume(): Volume {
  const v = new Volume();
  v.mkdirSync('/images');
  v.writeFileSync('/images/hp.img', new Uint8Array(0));
  v.truncateSync('/images/hp.img', 1 << 20);
  return v;
}

/**
 * One LUN hot-plugged into a host that already has `luns` LUNs: wall and CPU time of the device_add
 * line. 'same-target' needs a free LUN on target 0, so `luns` must be below 16384.
 */
export async function benchHotplugOneLun(luns: number, where: 'new-target' | 'same-target' = 'new-target'): Promise<BenchRecord> {
  if (where === 'same-target' && luns > 16383) throw new RangeError('target 0 has no free LUN left (QEMU LUNs are 0–16383)');
  const argv = ['-m', '512', '-smp', '2', '-device', 'virtio-scsi-pci,id=scsi0'];
  for (let i = 0; i < luns; i++) argv.push('-device', `scsi-cd,bus=scsi0.0,scsi-id=0,lun=${i}`);
  const r = await Machine.create(argv, { hostFs: volume() as unknown as HostFs });
  if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
  const m = r.machine;
  const b0 = performance.now();
  await m.boot();
  const bootMs = performance.now() - b0;
  await m.monitor('drive_add 0 file=/images/hp.img,if=none,id=hp,format=raw');
  const addr = where === 'new-target' ? 'scsi-id=1,lun=0' : `scsi-id=0,lun=${luns}`;
  const v0 = m.loop.now();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await m.monitor(`device_add scsi-hd,drive=hp,id=hp1,bus=scsi0.0,${addr}`);
  const wall = performance.now() - t0;
  const cpu = cpuMs(c0);
  const hctl = where === 'new-target' ? '0:0:1:0' : `0:0:0:${luns < 256 ? luns : 0x4000 | luns}`;
  let seen = false;
  try {
    await m.sys.stat(`/sys/bus/scsi/devices/${hctl}`);
    seen = true;
  } catch {
    seen = false;
  }
  return {
    name: `hotplug-one-lun-${luns}-${where}`,
    value: round(wall),
    unit: 'ms',
    cpuMs: round(cpu),
    virtualMs: round((m.loop.now() - v0) / 1e6),
    bootMs: round(bootMs),
    rc: out.rc,
    guestSawIt: seen,
    how: `${luns} x scsi-cd (no media) on scsi-id 0 at boot; device_add scsi-hd at ${addr}, until the guest is idle`,
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'));
if (isMain) {
  const emit = (o: BenchRecord): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  emit(await benchHotplugCases());
  for (const n of [1024, 16384]) emit(await benchHotplugOneLun(n, 'new-target'));
  for (const n of [1024, 16383]) emit(await benchHotplugOneLun(n, 'same-target'));
}
