// Ours: the golden conformance suite. Every golden (a real Linux 6.1 guest under QEMU 7.2, trimmed
// into test/fixtures/golden/replay/) is replayed against the simulated machine and scored per part
// (snapshot, steps, command-line refusal) and category (cmd, sysfs, dmesg, step, cmdline). The scores
// are a ratchet held in baseline.json: a test fails when a score drops below its baseline, and the
// categories listed in `required` must match 100 %. Raise the baseline after an improvement with
// `GOLDEN_UPDATE=1 npm run golden` (it only ever raises numbers and adds newly complete categories
// to `required`). See docs/TESTING.md.

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPart, loadTrimmedGolden, replayScenario } from './replay.ts';
import type { PartResult, ReplayOptions, ScenarioResult } from './replay.ts';

interface Baseline {
  comment?: string;
  /** `scenario/part/category` entries that must match 100 %. */
  required: string[];
  /** Minimum matched count per scenario, part and category. */
  scores: Record<string, Record<string, Record<string, number>>>;
}

interface Plan extends Omit<ReplayOptions, 'onPart'> {
  /** The whole scenario is not replayed, for this reason. */
  readonly skip?: string;
}


/** Every golden and how far it is replayed today. */
const PLANS: Record<string, Plan> = {
  seed_single_disk: {},
  seed_disk_and_cd_same_bus: {},
  seed_two_buses: {},
  scsi_block_on_file: {},
  scsi_generic_on_file: {},
  seed_single_disk_as_given: {
    // CONTRACT: a deliberate divergence from QEMU 7.2's refusal (the seed's QEMU accepted it).
    acceptWithWarning: /^vscsi: -device scsi-disk,drive=scsi0,scsi-id=0,lun=0: warning: 'scsi-disk' is deprecated, please use 'scsi-hd' or 'scsi-cd' instead$/,
  },
  hotplug_event: {},
  eh_resets: {},
  eh_timeout_abort: {},
  error_injection: {},
  scsi_debug: { skip: 'not our LLD: scsi_debug (a second low-level driver, no virtio-scsi controller) is not simulated' },
};

const HERE = fileURLToPath(new URL('.', import.meta.url));
const BASELINE_PATH = `${HERE}baseline.json`;
const baseline = JSON.parse(readFileSync(BASELINE_PATH, 'utf8')) as Baseline;
const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/golden/replay/', import.meta.url));
const scenarios = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
const results = new Map<string, ScenarioResult>();
const UPDATE = process.env['GOLDEN_UPDATE'] === '1';
const SHOW = Number(process.env['GOLDEN_SHOW'] ?? 0);

function showMismatches(p: PartResult): void {
  for (const m of p.mismatches.slice(0, SHOW)) {
    console.log(`  - ${m.category} ${m.key}\n    want: ${JSON.stringify(m.expected.slice(0, 200))}\n    got:  ${JSON.stringify(m.got.slice(0, 200))}`);
  }
}

it('every golden fixture has a plan', () => {
  expect(scenarios.filter((s) => !(s in PLANS))).toEqual([]);
  expect(Object.keys(PLANS).filter((s) => !scenarios.includes(s))).toEqual([]);
});

for (const scenario of scenarios) {
  const plan = PLANS[scenario] ?? {};
  describe(`golden ${scenario}`, () => {
    if (plan.skip !== undefined) {
      console.log(`golden ${scenario}: skipped (${plan.skip})`);
      it.skip(`skipped: ${plan.skip}`, () => {});
      return;
    }
    if (plan.skipAfter) {
      const order = loadTrimmedGolden(scenario).snapshot_order;
      for (const snap of order.slice(order.indexOf(plan.skipAfter.snapshot) + 1)) it.skip(`${snap}: ${plan.skipAfter.reason}`, () => {});
    }
    let result: ScenarioResult | undefined;
    beforeAll(async () => {
      const { skip: _skip, ...opts } = plan;
      result = await replayScenario(loadTrimmedGolden(scenario), {
        ...opts,
        onPart: (p) => {
          console.log(formatPart(scenario, p));
          showMismatches(p);
        },
      });
      for (const s of result.skipped) console.log(`golden ${scenario} ${s.what}: skipped (${s.reason})`);
      results.set(scenario, result);
    });

    const expected = baseline.scores[scenario] ?? {};
    for (const [part, cats] of Object.entries(expected)) {
      it(`${part} holds its baseline`, () => {
        const p = result?.parts.find((x) => x.name === part);
        expect(p, `part ${part} was not scored`).toBeDefined();
        for (const [cat, min] of Object.entries(cats)) {
          const got = p!.scores[cat as keyof PartResult['scores']];
          expect(got, `${part} ${cat} was not scored`).toBeDefined();
          expect(got!.matched, `${scenario} ${part} ${cat} ${got!.matched}/${got!.total} < baseline ${min}`).toBeGreaterThanOrEqual(min);
          if (baseline.required.includes(`${scenario}/${part}/${cat}`)) {
            expect(got!.matched, `${scenario} ${part} ${cat} is required at 100 %`).toBe(got!.total);
          }
        }
      });
    }
    it('has a baseline for every scored part', () => {
      const missing = (result?.parts ?? []).filter((p) => !(p.name in expected)).map((p) => p.name);
      if (!UPDATE) expect(missing, 'run GOLDEN_UPDATE=1 npm run golden').toEqual([]);
    });
  });
}

afterAll(() => {
  if (!UPDATE) return;
  // The ratchet: numbers only go up; a category at 100 % becomes required.
  const next: Baseline = { ...baseline, required: [...baseline.required], scores: structuredClone(baseline.scores) };
  for (const [scenario, r] of results) {
    for (const p of r.parts) {
      const cats = ((next.scores[scenario] ??= {})[p.name] ??= {});
      for (const [cat, s] of Object.entries(p.scores)) {
        cats[cat] = Math.max(cats[cat] ?? 0, s.matched);
        const key = `${scenario}/${p.name}/${cat}`;
        if (s.total > 0 && s.matched === s.total && !next.required.includes(key)) next.required.push(key);
      }
    }
  }
  next.required.sort();
  writeFileSync(BASELINE_PATH, `${JSON.stringify(next, null, 2)}\n`);
  console.log(`golden: baseline written to ${BASELINE_PATH}`);
});
