// Property: whatever CDB a guest sends, the bus and devices never throw, and every enqueued request
// ends exactly once — GOOD, or CHECK CONDITION with 18 bytes of fixed sense, or a host failure.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CHECK_CONDITION, GOOD } from '../../../src/host/scsi/scsi.ts';
import { addCd, addHd, rig, MiB } from './setup.ts';
import type { Submitted } from '../../fakes/test_hba.ts';

const MAX_BUF = 1 << 20;
/** Opcodes the devices implement, so that random bytes also reach the command handlers. */
const KNOWN = [
  0x00, 0x03, 0x04, 0x08, 0x0a, 0x12, 0x15, 0x16, 0x17, 0x1a, 0x1b, 0x1e, 0x25, 0x28, 0x2a, 0x2b, 0x2e, 0x2f, 0x35,
  0x41, 0x42, 0x43, 0x46, 0x4a, 0x51, 0x55, 0x56, 0x57, 0x5a, 0x88, 0x8a, 0x8e, 0x8f, 0x93, 0x9e, 0xa0, 0xa8, 0xaa,
  0xad, 0xae, 0xaf, 0xbd,
];

describe('arbitrary CDBs', () => {
  it('never throw and always complete exactly once with a valid status', async () => {
    const r = rig();
    addHd(r, { size: MiB });
    const { disk: cd } = addCd(r);
    r.bus.reset();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            cdb: fc
              .tuple(fc.uint8Array({ minLength: 6, maxLength: 16 }), fc.option(fc.constantFrom(...KNOWN), { freq: 2 }))
              .map(([b, op]) => (op === null ? b : Uint8Array.of(op, ...b.subarray(1)))),
            lun: fc.integer({ min: 0, max: 3 }),
            id: fc.integer({ min: 0, max: 1 }),
            tray: fc.boolean(),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (cmds) => {
          const subs: Submitted[] = [];
          for (const c of cmds) {
            cd.trayOpen = c.tray;
            const req = r.bus.newRequest({ channel: 0, id: c.id, lun: c.lun, tag: 1n, cdb: c.cdb, hba: r.hba });
            if (!req) {
              expect(c.id).toBe(1); // only the empty target is BAD_TARGET
              continue;
            }
            if (req.xfer > MAX_BUF) continue; // virtio-scsi answers OVERRUN without enqueueing
            const e: Submitted = { req, data: new Uint8Array(req.xfer), outcomes: [] };
            req.hbaPrivate = e;
            const sg = { size: e.data.length, write: () => {}, read: () => {} };
            req.enqueue(sg);
            subs.push(e);
          }
          await r.loop.runUntilIdle();
          for (const e of subs) {
            expect(e.outcomes.length).toBe(1);
            const o = e.outcomes[0]!;
            if (o.kind === 'complete') {
              expect([GOOD, CHECK_CONDITION]).toContain(o.status);
              if (o.status === CHECK_CONDITION) {
                expect(o.sense.length).toBe(18);
                expect(o.sense[0]).toBe(0x70);
                expect(o.sense[7]).toBe(10);
              } else expect(o.sense.length).toBe(0);
            } else expect(o.kind).toBe('failed');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
