// Ours: `npm run bench` — wall-clock benchmarks of the simulator, one JSON object per line on stdout
// ({name, value, unit, …}). Real time (performance.now) is read here only; the simulation itself runs
// on its virtual clock, which is reported beside the wall clock where it means something.
//
//   boot        boot-to-prompt of the seed machine (64 MiB scsi-hd at 0:0, small ISO on scsi-cd at 0:1)
//   iops        4 KiB random reads at queue depth 1 through the stack (/dev/sg0 SG_IO READ(10), and
//               /dev/sda pread with O_DIRECT once sd is loaded), against a bare split-ring baseline
//   scan        the initial scan of one target with many LUNs (scsi-cd without media, command-line built)
//   hotplug     random 20-step plug/unplug/rescan cases per second (checked against the testkit's model,
//               and unchecked), and device_add of one LUN into a host that already has --luns LUNs
//
// Options: --only boot,iops,scan,hotplug   --runs N (boot, default 5)   --ops N (iops per round, default 20000)
//          --rounds N (iops, median of N rounds, default 3)   --luns 1024,16384   --seed N

import { parseArgs } from 'node:util';
import { Volume } from 'memfs';
import { Machine } from '../src/machine/machine.ts';
import type { HostFs } from '../src/machine/machine.ts';
import { O_DIRECT, O_RDONLY, O_RDWR } from '../src/kernel/syscalls.ts';
import { SG_DXFER_FROM_DEV, SG_IO } from '../src/kernel/uapi/sg.ts';
import type { SgIoHdrOut } from '../src/kernel/uapi/sg.ts';
import { Rng } from '../src/sim/rng.ts';
import { ringBaseline } from './ring_baseline.ts';
import { benchHotplugCases, benchHotplugOneLun } from './hotplug.ts';

const { values: opt } = parseArgs({
  options: {
    only: { type: 'string', default: 'boot,iops,scan,hotplug' },
    runs: { type: 'string', default: '5' },
    ops: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    luns: { type: 'string', default: '1024,16384' },
    seed: { type: 'string', default: '1' },
  },
});
const only = new Set(opt.only.split(','));
const RUNS = Number(opt.runs);
const OPS = Number(opt.ops);
const ROUNDS = Number(opt.rounds);
const SEED = Number(opt.seed);

const DISK_BYTES = 64 << 20;
const SECTOR = 512;
const IO = 4096;

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

/** CPU time (user + system) of this process since `since`, in ms: steadier than wall time on a busy host. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** A 64 MiB raw disk whose every sector starts with its LBA (u32 LE), so reads can be checked. */
function diskImage(): Uint8Array {
  const img = new Uint8Array(DISK_BYTES);
  const v = new DataView(img.buffer);
  for (let lba = 0; lba < DISK_BYTES / SECTOR; lba++) v.setUint32(lba * SECTOR, lba, true);
  return img;
}

/** A minimal ISO 9660 image: system area, a primary volume descriptor and the set terminator. */
function isoImage(): Uint8Array {
  const S = 2048;
  const blocks = 32;
  const img = new Uint8Array(blocks * S);
  const pvd = 16 * S;
  img.set([1, ...Buffer.from('CD001'), 1], pvd);
  img.set(Buffer.from('BENCH'.padEnd(32)), pvd + 40);
  const dv = new DataView(img.buffer);
  dv.setUint32(pvd + 80, blocks, true);
  dv.setUint32(pvd + 84, blocks, false);
  dv.setUint16(pvd + 128, S, true);
  dv.setUint16(pvd + 130, S, false);
  img.set([255, ...Buffer.from('CD001'), 1], 17 * S);
  return img;
}

function seedVolume(): HostFs {
  const vol = new Volume();
  vol.mkdirSync('/img', { recursive: true });
  vol.writeFileSync('/img/disk.img', diskImage());
  vol.writeFileSync('/img/cd.iso', isoImage());
  return vol as unknown as HostFs;
}

const SEED_ARGV = [
  '-m', '512', '-smp', '2',
  '-drive', 'file=/img/disk.img,if=none,format=raw,id=d0',
  '-drive', 'file=/img/cd.iso,if=none,format=raw,media=cdrom,id=cd0',
  '-device', 'virtio-scsi-pci,id=scsi0',
  '-device', 'scsi-hd,drive=d0,bus=scsi0.0,scsi-id=0,lun=0',
  '-device', 'scsi-cd,drive=cd0,bus=scsi0.0,scsi-id=0,lun=1',
];

async function createMachine(argv: readonly string[], hostFs: HostFs): Promise<Machine> {
  const r = await Machine.create(argv, { hostFs, seed: SEED, stderr: (l) => process.stderr.write(`${l}\n`) });
  if (!('machine' in r)) throw new Error(`machine refused: ${JSON.stringify(r)}`);
  return r.machine;
}

/** Runs guest work to completion on the virtual clock (what Machine.guest does for a shell line). */
async function drive<T>(m: Machine, work: Promise<T>): Promise<T> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  while (!done) {
    await m.loop.runUntilIdle(() => done);
    if (!done && !m.loop.busy) {
      await new Promise((r) => setImmediate(r));
      if (!done && !m.loop.busy) throw new Error('guest work stalled with an idle machine');
    }
  }
  return settled;
}

// ---- 1. boot ------------------------------------------------------------------------------------

async function benchBoot(): Promise<void> {
  const hostFs = seedVolume();
  const wall: number[] = [];
  let virt = 0;
  let events = 0;
  // One warm-up run so module loading and JIT warm-up are not in the median.
  const cpu: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const m = await createMachine(SEED_ARGV, hostFs);
    await m.boot();
    const t = performance.now() - t0;
    if (i > 0) {
      wall.push(t);
      cpu.push(cpuMs(c0));
    }
    virt = m.loop.now() / 1e6;
    events = m.loop.executed;
  }
  emit({ name: 'boot-to-prompt', value: round(median(wall)), unit: 'ms', runs: RUNS, min: round(Math.min(...wall)), max: round(Math.max(...wall)), cpuMs: round(median(cpu)), virtualMs: round(virt), events, machine: 'seed: virtio-scsi-pci, scsi-hd 64 MiB at 0:0, scsi-cd ISO at 0:1' });
}

// ---- 2. iops ------------------------------------------------------------------------------------

function read10(lba: number, blocks: number): Uint8Array {
  return Uint8Array.of(0x28, 0, lba >>> 24, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, blocks >> 8, blocks & 0xff, 0);
}

async function sgReads(m: Machine, ops: number, rng: Rng): Promise<{ ok: number; bad: number }> {
  const sys = m.sys;
  const fd = await sys.open('/dev/sg0', O_RDWR);
  let ok = 0;
  let bad = 0;
  const maxLba = DISK_BYTES / SECTOR - IO / SECTOR;
  for (let i = 0; i < ops; i++) {
    const lba = rng.int(0, maxLba);
    const r = (await sys.ioctl(fd, SG_IO, {
      interfaceId: 0x53, dxferDirection: SG_DXFER_FROM_DEV, cmdp: read10(lba, IO / SECTOR), mxSbLen: 32, dxferLen: IO, timeout: 0, flags: 0, packId: 0,
    })) as SgIoHdrOut;
    const d = r.dxferp;
    if (r.status === 0 && r.hostStatus === 0 && d.length === IO && (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 === lba) ok++;
    else bad++;
  }
  await sys.close(fd);
  return { ok, bad };
}

async function sdReads(m: Machine, ops: number, rng: Rng): Promise<{ ok: number; bad: number }> {
  const sys = m.sys;
  const fd = await sys.open('/dev/sda', O_RDONLY | O_DIRECT);
  let ok = 0;
  let bad = 0;
  const maxLba = DISK_BYTES / SECTOR - IO / SECTOR;
  for (let i = 0; i < ops; i++) {
    const lba = rng.int(0, maxLba);
    const d = await sys.read(fd, IO, lba * SECTOR);
    if (d.length === IO && (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 === lba) ok++;
    else bad++;
  }
  await sys.close(fd);
  return { ok, bad };
}

async function exists(m: Machine, path: string): Promise<boolean> {
  try {
    await drive(m, m.sys.stat(path));
    return true;
  } catch {
    return false;
  }
}

async function benchIops(): Promise<void> {
  const m = await createMachine(SEED_ARGV, seedVolume());
  await m.boot();
  const warm = Math.max(2000, Math.floor(OPS / 4));
  const results: { path: string; iops: number }[] = [];
  const paths: Array<['sg' | 'sd', string]> = [['sg', '/dev/sg0']];
  if (await exists(m, '/dev/sda')) paths.push(['sd', '/dev/sda']);
  for (const [kind, path] of paths) {
    const rng = new Rng(SEED);
    const reads = kind === 'sg' ? sgReads : sdReads;
    try {
      await drive(m, reads(m, warm, rng));
    } catch (e) {
      emit({ name: `iops-4k-randread-${kind}`, value: null, unit: 'IOPS', path, error: String(e) });
      continue;
    }
    const v0 = m.loop.now();
    const e0 = m.loop.executed;
    const rounds: number[] = [];
    const cpu: number[] = [];
    let bad = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await drive(m, reads(m, OPS, rng));
      rounds.push(performance.now() - t0);
      cpu.push(cpuMs(c0));
      if (process.env.BENCH_DEBUG) process.stderr.write(`${kind} round ${round}: ${rounds.at(-1)!.toFixed(1)} ms\n`);
      bad += r.bad;
    }
    const wall = median(rounds);
    const iops = (OPS * 1000) / wall;
    const total = OPS * ROUNDS;
    results.push({ path, iops });
    emit({
      name: `iops-4k-randread-${kind}`,
      value: round(iops, 1),
      unit: 'IOPS',
      path: kind === 'sg' ? `${path} SG_IO READ(10) 8 blocks` : `${path} pread O_DIRECT 4096`,
      queueDepth: 1,
      ops: OPS,
      rounds: ROUNDS,
      errors: bad,
      wallMsMedian: round(wall),
      usPerOp: round((wall * 1000) / OPS),
      cpuUsPerOp: round((median(cpu) * 1000) / OPS),
      bestUsPerOp: round((Math.min(...rounds) * 1000) / OPS),
      virtualUsPerOp: round((m.loop.now() - v0) / 1e3 / total),
      eventsPerOp: round((m.loop.executed - e0) / total),
    });
  }
  // The bare ring, measured in the same process right after.
  const base = ringBaseline(SEED);
  const bops = OPS * 10;
  base.run(bops);
  const brounds: number[] = [];
  const bcpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (base.run(bops) !== bops) throw new Error('ring baseline lost a request');
    brounds.push(performance.now() - t0);
    bcpu.push(cpuMs(c0));
  }
  const bwall = median(brounds);
  const biops = (bops * 1000) / bwall;
  emit({ name: 'iops-4k-ring-baseline', value: round(biops, 1), unit: 'IOPS', path: 'split ring driver+device side, memcpy only, no SCSI, no event loop', ops: bops, rounds: ROUNDS, wallMsMedian: round(bwall), usPerOp: round((bwall * 1000) / bops), bestUsPerOp: round((Math.min(...brounds) * 1000) / bops), cpuUsPerOp: round((median(bcpu) * 1000) / bops) });
  for (const r of results) {
    emit({ name: `iops-ratio-${r.path === '/dev/sg0' ? 'sg' : 'sd'}-vs-baseline`, value: round(r.iops / biops, 5), unit: 'ratio', slowdown: round(biops / r.iops, 1) });
  }
}

// ---- 3. scan ------------------------------------------------------------------------------------

async function benchScan(luns: number): Promise<void> {
  const argv = ['-m', '512', '-smp', '2', '-device', 'virtio-scsi-pci,id=scsi0'];
  for (let i = 0; i < luns; i++) argv.push('-device', `scsi-cd,bus=scsi0.0,scsi-id=0,lun=${i}`);
  const t0 = performance.now();
  const m = await createMachine(argv, seedVolume());
  const createMs = performance.now() - t0;
  const g = m.guestKernel;
  for (const mod of ['virtio_pci', 'scsi_mod']) {
    await g.loadModule(mod);
    await g.settle();
  }
  const v0 = m.loop.now();
  const e0 = m.loop.executed;
  const c1 = process.cpuUsage();
  const t1 = performance.now();
  await g.loadModule('virtio_scsi');
  await g.settle();
  const wall = performance.now() - t1;
  const cpu = cpuMs(c1);
  const found = (await drive(m, m.sys.readdir('/sys/bus/scsi/devices'))).filter((d) => /^\d+:\d+:\d+:\d+$/.test(d.name)).length;
  emit({
    name: `scan-${luns}-luns`,
    value: round(wall),
    unit: 'ms',
    cpuMs: round(cpu),
    virtualMs: round((m.loop.now() - v0) / 1e6),
    events: m.loop.executed - e0,
    devicesFound: found,
    hostCreateMs: round(createMs),
    how: `command line: ${luns} x -device scsi-cd (no media) on scsi-id 0; initial scan at virtio_scsi load`,
  });
}

if (only.has('boot')) await benchBoot();
if (only.has('iops')) await benchIops();
if (only.has('scan')) for (const n of opt.luns.split(',').map(Number)) await benchScan(n);
if (only.has('hotplug')) {
  emit({ ...(await benchHotplugCases({ seed: SEED, check: true })) });
  emit({ ...(await benchHotplugCases({ seed: SEED, check: false })) });
  for (const n of opt.luns.split(',').map(Number)) {
    emit({ ...(await benchHotplugOneLun(n, 'new-target')) });
    if (n < 16384) emit({ ...(await benchHotplugOneLun(n, 'same-target')) });
  }
}
