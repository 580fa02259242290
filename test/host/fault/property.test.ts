// Properties: whatever the fault rules, the device never throws, never completes a request twice,
// and once the rules are cleared and the LUs reset every command has been answered exactly once.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FaultAction, FaultMatch, FaultRuleSpec } from '../../../src/host/fault.ts';
import type { ScsiRequest } from '../../../src/host/scsi/scsi.ts';
import {
  VIRTIO_SCSI_T_TMF_ABORT_TASK,
  VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
} from '../../../src/protocol/virtio_scsi.ts';
import { TUR, clearUa, makeFaultRig, rw10 } from './setup.ts';

const opt = <T,>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });

const matchArb: fc.Arbitrary<FaultMatch> = fc
  .record({
    drive: opt(fc.constantFrom('d0', 'd1', 'nope')),
    target: opt(fc.integer({ min: 0, max: 2 })),
    lun: opt(fc.integer({ min: 0, max: 1 })),
    every: opt(fc.integer({ min: 1, max: 3 })),
    probability: opt(fc.constantFrom(0, 0.5, 1)),
  })
  .map((m) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as FaultMatch);

const cmdMatchArb: fc.Arbitrary<FaultMatch> = fc
  .tuple(matchArb, opt(fc.constantFrom([0x28], [0x2a], [0x00, 0x12])), opt(fc.constantFrom({ first: 0, last: 7 }, { first: 65536, last: 65536 })))
  .map(([m, opcodes, lba]) => ({ ...m, ...(opcodes ? { opcodes } : {}), ...(lba ? { lba } : {}) }));

const cmdActionArb: fc.Arbitrary<FaultAction> = fc.oneof(
  fc.record({ kind: fc.constant('check-condition' as const), key: fc.integer({ min: 0, max: 15 }), asc: fc.integer({ min: 0, max: 255 }), ascq: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('status' as const), status: fc.constantFrom(0x00, 0x08, 0x18, 0x28, 0x40) }),
  fc.record({ kind: fc.constant('response' as const), response: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant('delay' as const), ns: fc.constantFrom(0, 1000, 2e9) }),
  fc.constant({ kind: 'never-complete' as const }),
);
const otherActionArb: fc.Arbitrary<FaultAction> = fc.oneof(
  fc.record({ kind: fc.constant('tmf-fail' as const), response: fc.integer({ min: 0, max: 12 }) }),
  fc.constant({ kind: 'tmf-never-answer' as const }),
  fc.record({ kind: fc.constant('drop-event' as const), missed: fc.boolean() }),
);

const ruleArb: fc.Arbitrary<FaultRuleSpec> = fc
  .tuple(fc.oneof(fc.tuple(cmdMatchArb, cmdActionArb), fc.tuple(matchArb, otherActionArb)), opt(fc.integer({ min: 0, max: 3 })))
  .map(([[match, action], count]) => (count === undefined ? { match, action } : { match, action, count }));

type Op =
  | { kind: 'cmd'; target: number; lun: number; cdb: number[]; out: boolean }
  | { kind: 'tmf'; subtype: number; target: number }
  | { kind: 'event'; target: number }
  | { kind: 'run' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({
    kind: fc.constant('cmd' as const),
    target: fc.integer({ min: 0, max: 2 }),
    lun: fc.integer({ min: 0, max: 1 }),
    cdb: fc.constantFrom(TUR, [0x12, 0, 0, 0, 36, 0], [0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], rw10(0x28, 0, 8), rw10(0x28, 65536, 8), rw10(0x2a, 65530, 8)),
    out: fc.boolean(),
  }).map((c) => ({ ...c, out: c.cdb[0] === 0x2a })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tmf' as const), subtype: fc.constantFrom(VIRTIO_SCSI_T_TMF_ABORT_TASK, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), target: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('event' as const), target: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'run' as const }) },
);

const dataLen = (cdb: number[]): number => (cdb[0] === 0x12 ? 36 : cdb[0] === 0xa0 ? 256 : cdb[0] === 0x28 ? 4096 : 0);

describe('fault rules never break the device', () => {
  it('no throw, no double completion, every command answered once after clear + reset', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ruleArb, { maxLength: 4 }), fc.array(opArb, { maxLength: 25 }), fc.integer(), async (rules, ops, seed) => {
        const r = makeFaultRig({ seed, size: 40 * 1024 * 1024 });
        await clearUa(r);
        r.drv.postEventBuffers(4);
        for (const rule of rules) expect(r.inj.add(rule)).not.toHaveProperty('error');
        // Count what the bus reports to the HBA for each request, beneath the HBA's own guard.
        const reported = new Map<ScsiRequest, number>();
        const scsi = r.pci.scsi;
        const count = (q: ScsiRequest): void => void reported.set(q, (reported.get(q) ?? 0) + 1);
        const { complete, failed, cancelled } = scsi;
        scsi.complete = (q, s, resid) => (count(q), complete.call(scsi, q, s, resid));
        scsi.failed = (q, why) => (count(q), failed.call(scsi, q, why));
        scsi.cancelled = (q, reset) => (count(q), cancelled.call(scsi, q, reset));

        const heads: number[] = [];
        let lastTag = 0n;
        for (const op of ops) {
          switch (op.kind) {
            case 'cmd': {
              const p = r.drv.startCommand(op.target, op.lun, op.cdb, op.out ? new Uint8Array(4096) : undefined, dataLen(op.cdb));
              heads.push(p.head);
              lastTag = p.tag;
              break;
            }
            case 'tmf':
              void r.drv.tmf(op.subtype, op.target, 0, lastTag);
              break;
            case 'event':
              scsi.paramChange(op.target === 0 ? r.hd0 : r.hd1, 0x2a, 0x09);
              break;
            case 'run':
              await r.loop.runUntilIdle();
              break;
          }
        }
        await r.loop.runUntilIdle();
        r.inj.clear();
        await r.drv.tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0);
        await r.drv.tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 1, 0);
        await r.loop.runUntilIdle();

        for (const n of reported.values()) expect(n).toBe(1);
        const used = new Map<number, number>();
        for (const u of r.drv.pollUsed(2)) used.set(u.id, (used.get(u.id) ?? 0) + 1);
        // Nothing polled the request queue since clearUa: every command chain is used exactly once.
        for (const n of used.values()) expect(n).toBe(1);
        expect([...used.keys()].sort((a, b) => a - b)).toEqual([...heads].sort((a, b) => a - b));
        expect(r.hd0.reqs.length + r.hd1.reqs.length).toBe(0);
        expect(scsi.broken).toBe(false);
      }),
      { numRuns: 40 },
    );
  });
});
