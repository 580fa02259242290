// Ours: regenerates test/fixtures/golden/replay/<scenario>.json from the full goldens
// (/work/shared/golden/*.json), keeping only what the conformance replay reads: the command line,
// the guest script, steps and monitor hooks, and per snapshot the comparable sysfs entries, the
// snapshot commands (stdout and rc) and the SCSI/virtio subset of the new kernel log lines.
// The ISOs of files/<scenario>/ are copied next to them as test/fixtures/<scenario>.<name>.
//
// usage: npx tsx test/golden/trim.ts [GOLDEN_DIR]

import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DMESG_KEEP, STAMP, comparableSysfs } from './replay.ts';
import type { GoldenSysfsEntry, TrimmedGolden, TrimmedSnapshot } from './replay.ts';

interface FullGolden {
  scenario: string;
  qemu_cmdline?: string[];
  qemu_args_scenario: string[];
  guest_script?: string;
  files?: TrimmedGolden['files'];
  monitor_hooks?: TrimmedGolden['monitor_hooks'];
  steps?: { name: string; cmd: string; rc: number; stdout: string; stderr: string }[];
  snapshot_order?: string[];
  qemu_exit?: { rc: number; stderr: string };
  snapshots?: Record<string, {
    sysfs?: Record<string, GoldenSysfsEntry & { resolved?: string; m?: string }>;
    commands?: Record<string, { cmd: string; rc: number; stdout: string; stderr: string }>;
    dmesg_new?: string[] | string;
  }>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const fixtures = join(here, '..', 'fixtures');
const outDir = join(fixtures, 'golden', 'replay');
const src = process.argv[2] ?? '/work/shared/golden';

/** -machine/-m/-smp of the capture's fixed command line (qemu_args_scenario leaves them out). */
function machineArgs(cl: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < cl.length; i++) {
    const a = cl[i]!;
    if (a === '-machine' || a === '-M' || a === '-m' || a === '-smp') out.push(a, cl[i + 1]!);
  }
  return out;
}

mkdirSync(outDir, { recursive: true });
for (const f of readdirSync(src).filter((n) => n.endsWith('.json')).sort()) {
  const g = JSON.parse(readFileSync(join(src, f), 'utf8')) as FullGolden;
  const snapshots: Record<string, TrimmedSnapshot> = {};
  for (const [name, s] of Object.entries(g.snapshots ?? {})) {
    const sysfs: Record<string, GoldenSysfsEntry> = {};
    for (const [p, e] of Object.entries(s.sysfs ?? {})) {
      if (!comparableSysfs(p, e)) continue;
      const { resolved: _r, m: _m, ...keep } = e;
      sysfs[p] = keep;
    }
    const commands: TrimmedSnapshot['commands'] = {};
    for (const [label, c] of Object.entries(s.commands ?? {})) commands[label] = { cmd: c.cmd, rc: c.rc, stdout: c.stdout };
    const raw = s.dmesg_new;
    const lines = raw === undefined ? undefined : typeof raw === 'string' ? raw.split('\n') : raw;
    snapshots[name] = {
      sysfs,
      commands,
      ...(lines ? { dmesg_new: lines.map((l) => l.replace(STAMP, '')).filter((l) => DMESG_KEEP.test(l)) } : {}),
    };
  }
  const trimmed: TrimmedGolden = {
    scenario: g.scenario,
    source: `${join(src, f)} (trimmed by test/golden/trim.ts)`,
    machine_args: machineArgs(g.qemu_cmdline ?? []),
    qemu_args_scenario: g.qemu_args_scenario,
    guest_script: g.guest_script ?? '',
    files: g.files ?? [],
    monitor_hooks: g.monitor_hooks ?? {},
    steps: (g.steps ?? []).map((s) => ({ name: s.name, cmd: s.cmd, rc: s.rc, stdout: s.stdout, stderr: s.stderr })),
    snapshot_order: g.snapshot_order ?? [],
    qemu_exit: { rc: g.qemu_exit?.rc ?? 0, stderr: g.qemu_exit?.stderr ?? '' },
    snapshots,
  };
  writeFileSync(join(outDir, `${g.scenario}.json`), `${JSON.stringify(trimmed, null, 1)}\n`);
  for (const file of g.files ?? []) {
    const iso = join(src, 'files', g.scenario, file.name);
    const dst = join(fixtures, `${g.scenario}.${basename(file.name)}`);
    if (existsSync(iso) && !existsSync(dst)) copyFileSync(iso, dst);
  }
  process.stdout.write(`${g.scenario}\n`);
}
