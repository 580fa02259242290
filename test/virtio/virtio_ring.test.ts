import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Sg, VirtQueue } from '../../src/virtio/virtio_ring.ts';
import { QEMU_SCSI_FEATURES } from '../fakes/fake_virtio_scsi_device.ts';
import type { Booted } from './harness.ts';
import { boot } from './harness.ts';

const REQ = 2; // first request queue
const NO_INDIRECT = QEMU_SCSI_FEATURES & ~(1n << 28n);
const NO_EVENT_IDX = QEMU_SCSI_FEATURES & ~(1n << 29n);
const BUF = 0x100000; // data buffers live below the DMA area

function vqOf(b: Booted, qi = REQ): VirtQueue {
  return b.vqs.get(0)![qi]!;
}
const sg = (addr: number, len: number): Sg => ({ addr, len });

/** Linux's callback shape: do { disable; drain } while (!enable). `race` runs once between drain and enable. */
function drainLoop(vq: VirtQueue, out: unknown[], race?: () => void): void {
  let raced = false;
  do {
    vq.disableCb();
    for (let buf = vq.getBuf(); buf; buf = vq.getBuf()) out.push(buf.token);
    if (race && !raced) {
      raced = true;
      race();
    }
  } while (!vq.enableCb());
}

describe('split ring: round trips through the fake device', () => {
  it('delivers out bytes to the device and the reply and used length back to the token', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.handler = (out, inLen) => Uint8Array.from([out.length, inLen, 0xaa]);
    const got: Array<{ token: unknown; len: number }> = [];
    b.callbacks.set(`0:${REQ}`, (vq) => {
      for (let u = vq.getBuf(); u; u = vq.getBuf()) got.push(u);
    });
    const vq = vqOf(b);
    b.mem.writeBytes(BUF, Uint8Array.from([1, 2, 3, 4, 5]));
    expect(vq.addSgs([sg(BUF, 3), sg(BUF + 3, 2)], [sg(BUF + 0x100, 2), sg(BUF + 0x200, 8)], 'cmd-1')).toBe(0);
    vq.kick();
    expect(got).toEqual([{ token: 'cmd-1', len: 3 }]);
    // reply spread over the two device-writable buffers in order
    expect([...b.mem.readBytes(BUF + 0x100, 2)]).toEqual([5, 10]);
    expect(b.mem.read8(BUF + 0x200)).toBe(0xaa);
    expect(vq.numFree).toBe(vq.num);
    expect(b.dma.objectsInUse).toBe(0);
  });

  it('writes one indirect descriptor per multi-sg request, byte for byte', async () => {
    const b = await boot();
    b.fakes[0]!.autoComplete = false;
    const vq = vqOf(b);
    // a virtio-scsi READ: header 51 bytes out, response 108 in, data 4096 in
    expect(vq.addSgs([sg(0x100000, 51)], [sg(0x100040, 108), sg(0x101000, 4096)], 'read')).toBe(0);
    const table = b.mem.read32(vq.descAddr); // main-ring head 0 points to the table
    expect([...b.mem.readBytes(vq.descAddr, 16)]).toEqual([
      ...le64(table), // addr: the indirect table
      48, 0, 0, 0,    // len: 3 entries * 16
      4, 0,           // flags: VIRTQ_DESC_F_INDIRECT
      1, 0,           // next: free-list link of slot 0 (NEXT is not set, so the device ignores it)
    ]);
    expect([...b.mem.readBytes(table, 48)]).toEqual([
      0x00, 0x00, 0x10, 0, 0, 0, 0, 0, // [0] addr 0x100000 (request header)
      51, 0, 0, 0,                     //     len 51
      1, 0,                            //     flags NEXT
      1, 0,                            //     next 1
      0x40, 0x00, 0x10, 0, 0, 0, 0, 0, // [1] addr 0x100040 (response)
      108, 0, 0, 0,                    //     len 108
      3, 0,                            //     flags NEXT|WRITE
      2, 0,                            //     next 2
      0x00, 0x10, 0x10, 0, 0, 0, 0, 0, // [2] addr 0x101000 (data in)
      0x00, 0x10, 0, 0,                //     len 4096
      2, 0,                            //     flags WRITE (last: no NEXT)
      3, 0,                            //     next 3 (i+1 left in place, as Linux's alloc_indirect)
    ]);
    expect([...b.mem.readBytes(vq.availAddr, 6)]).toEqual([
      0, 0, // flags: 0 (EVENT_IDX negotiated, and the queue has a callback)
      1, 0, // idx: 1
      0, 0, // ring[0]: head 0
    ]);
    expect(vq.numFree).toBe(vq.num - 1);
  });

  it('chains through the main table when INDIRECT_DESC is not negotiated', async () => {
    const b = await boot({ fake: { features: NO_INDIRECT } });
    b.fakes[0]!.autoComplete = false;
    const vq = vqOf(b);
    expect(vq.addSgs([sg(0x100000, 51)], [sg(0x100040, 108)], 'a')).toBe(0);
    expect([...b.mem.readBytes(vq.descAddr, 32)]).toEqual([
      0x00, 0x00, 0x10, 0, 0, 0, 0, 0, // [0] addr 0x100000
      51, 0, 0, 0,                     //     len 51
      1, 0,                            //     flags NEXT
      1, 0,                            //     next 1
      0x40, 0x00, 0x10, 0, 0, 0, 0, 0, // [1] addr 0x100040
      108, 0, 0, 0,                    //     len 108
      2, 0,                            //     flags WRITE (end of chain)
      2, 0,                            //     next 2: the free-list link, kept
    ]);
    expect(vq.numFree).toBe(vq.num - 2);
  });
});

describe('split ring: notification suppression', () => {
  it('EVENT_IDX: kicks only when avail_event is crossed', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    const availEvent = vq.usedAddr + 4 + 8 * vq.num;
    vq.addInbuf([sg(BUF, 8)], 1);
    expect(vq.kickPrepare()).toBe(true); // avail_event 0, idx 0 -> 1
    f.pop(REQ); // device writes avail_event = 1
    vq.addInbuf([sg(BUF, 8)], 2);
    vq.addInbuf([sg(BUF, 8)], 3);
    expect(vq.kickPrepare()).toBe(true); // 1 -> 3 crosses 1
    b.mem.write16(availEvent, 10);
    vq.addInbuf([sg(BUF, 8)], 4);
    expect(vq.kickPrepare()).toBe(false); // 3 -> 4 does not cross 10
    for (let t = 5; t <= 11; t++) vq.addInbuf([sg(BUF, 8)], t);
    expect(vq.kickPrepare()).toBe(true); // 4 -> 11 crosses 10
  });

  it('without EVENT_IDX: kicks unless the device set VIRTQ_USED_F_NO_NOTIFY', async () => {
    const b = await boot({ fake: { features: NO_EVENT_IDX } });
    const vq = vqOf(b);
    vq.addInbuf([sg(BUF, 8)], 1);
    b.mem.write16(vq.usedAddr, 1);
    expect(vq.kickPrepare()).toBe(false);
    b.mem.write16(vq.usedAddr, 0);
    vq.addInbuf([sg(BUF, 8)], 2);
    expect(vq.kickPrepare()).toBe(true);
  });

  it('EVENT_IDX: the device interrupts after enableCb, and not for completions before used_event', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    const tokens: unknown[] = [];
    b.callbacks.set(`0:${REQ}`, (q) => drainLoop(q, tokens));
    for (let t = 1; t <= 4; t++) vq.addInbuf([sg(BUF, 8)], t);
    vq.kick();
    f.pop(REQ);
    f.complete(REQ, 1); // used_event 0 -> interrupt, callback drains and re-arms at 1
    expect(f.interrupts).toBe(1);
    expect(tokens).toEqual([1]);
    expect(vq.enableCbDelayed()).toBe(true); // 3 outstanding: used_event = 1 + 2
    f.complete(REQ, 1); // used.idx 2
    f.complete(REQ, 1); // used.idx 3: entry 3 not used yet, so still no interrupt
    expect(f.interrupts).toBe(1);
    expect(tokens).toEqual([1]);
    f.complete(REQ, 1); // used.idx 4: entry 3 (= used_event) was used -> interrupt
    expect(f.interrupts).toBe(2);
    expect(tokens).toEqual([1, 2, 3, 4]);
  });

  it('without EVENT_IDX: disableCb sets VIRTQ_AVAIL_F_NO_INTERRUPT and enableCb clears it', async () => {
    const b = await boot({ fake: { features: NO_EVENT_IDX } });
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    vq.disableCb();
    expect(b.mem.read16(vq.availAddr)).toBe(1);
    vq.addInbuf([sg(BUF, 8)], 1);
    f.pop(REQ);
    f.complete(REQ);
    expect(f.interrupts).toBe(0);
    expect(vq.enableCb()).toBe(false); // a buffer is waiting
    expect(b.mem.read16(vq.availAddr)).toBe(0);
    expect(vq.getBuf()?.token).toBe(1);
    expect(vq.enableCb()).toBe(true);
  });
});

describe('split ring: the disable -> drain -> re-enable race', () => {
  for (const [label, features] of [
    ['EVENT_IDX', QEMU_SCSI_FEATURES],
    ['flags', NO_EVENT_IDX],
  ] as const) {
    it(`${label}: a buffer used between the drain and enableCb is not lost`, async () => {
      const b = await boot({ fake: { features } });
      const f = b.fakes[0]!;
      f.autoComplete = false;
      const vq = vqOf(b);
      const tokens: unknown[] = [];
      for (const t of ['a', 'b', 'c']) vq.addInbuf([sg(BUF, 8)], t);
      vq.kick();
      f.pop(REQ);
      f.complete(REQ, 1); // 'a' used; no callback is registered yet, so only the loop below can see it
      let injected = 0;
      drainLoop(vq, tokens, () => (injected += f.complete(REQ, 1))); // 'b' lands after the drain
      expect(injected).toBe(1);
      // only enableCb's re-check can have found 'b': nothing else drains in this phase
      expect(tokens).toEqual(['a', 'b']);
      // and the queue is armed again: the next completion interrupts and the callback drains it
      b.callbacks.set(`0:${REQ}`, (q) => drainLoop(q, tokens));
      const before = f.interrupts;
      f.complete(REQ, 1);
      expect(f.interrupts).toBe(before + 1);
      expect(tokens).toEqual(['a', 'b', 'c']);
    });
  }

  it('an interrupt raised while its handler runs is replayed after it, not nested', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    let depth = 0;
    let maxDepth = 0;
    let runs = 0;
    b.callbacks.set(`0:${REQ}`, () => {
      depth++;
      runs++;
      maxDepth = Math.max(maxDepth, depth);
      if (runs === 1) f.sendVector(3); // the device fires again while we are in the handler
      depth--;
    });
    vq.addInbuf([sg(BUF, 8)], 1);
    vq.kick();
    f.pop(REQ);
    f.complete(REQ);
    expect(runs).toBe(2);
    expect(maxDepth).toBe(1);
  });
});

describe('split ring: a misbehaving device', () => {
  it('reports a used id out of range and breaks the queue, without throwing', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    vq.addInbuf([sg(BUF, 8)], 'x');
    f.pushUsed(REQ, 300, 0, false);
    expect(vq.getBuf()).toBeNull();
    expect(vq.broken).toBe(true);
    expect(b.log.records.map((r) => r.text)).toContain('virtio_scsi virtio0: request:id 300 out of range');
    expect(vq.addInbuf([sg(BUF, 8)], 'y')).toBe(-5); // -EIO
    expect(vq.notify()).toBe(false);
  });

  it('reports an id that is not the head of an outstanding chain', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    vq.addInbuf([sg(BUF, 8)], 'x');
    f.pushUsed(REQ, 5, 0, false);
    expect(vq.getBuf()).toBeNull();
    expect(b.log.records.map((r) => r.text)).toContain('virtio_scsi virtio0: request:id 5 is not a head!');
  });

  it('ignores scribbles on the descriptor table when freeing (trusted shadow)', async () => {
    const b = await boot({ fake: { features: NO_INDIRECT } });
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    vq.addSgs([sg(BUF, 8)], [sg(BUF + 8, 8)], 't');
    b.mem.fill(vq.descAddr, 32, 0xff); // device overwrites flags/next of the chain
    f.pushUsed(REQ, 0, 8, false);
    expect(vq.getBuf()?.token).toBe('t');
    expect(vq.numFree).toBe(vq.num);
    expect(vq.addSgs([sg(BUF, 8)], [sg(BUF + 8, 8)], 'u')).toBe(0);
  });
});

describe('split ring: free-list accounting', () => {
  type Op =
    | { k: 'add'; out: number; in: number }
    | { k: 'kick' }
    | { k: 'pop' }
    | { k: 'complete'; n: number }
    | { k: 'get' }
    | { k: 'disable' }
    | { k: 'enable' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('add' as const), out: fc.integer({ min: 0, max: 3 }), in: fc.integer({ min: 0, max: 3 }) }),
    fc.constant({ k: 'kick' as const }),
    fc.constant({ k: 'pop' as const }),
    fc.record({ k: fc.constant('complete' as const), n: fc.integer({ min: 1, max: 4 }) }),
    fc.constant({ k: 'get' as const }),
    fc.constant({ k: 'disable' as const }),
    fc.constant({ k: 'enable' as const }),
  );

  it('never leaks a descriptor or an indirect table, and completes every request once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), fc.constantFrom(QEMU_SCSI_FEATURES, NO_INDIRECT, NO_EVENT_IDX), async (ops, features) => {
        const b = await boot({ fake: { features, queueSize: 8 } });
        const f = b.fakes[0]!;
        f.autoComplete = false;
        const vq = vqOf(b);
        const done: number[] = [];
        b.callbacks.set(`0:${REQ}`, (q) => drainLoop(q, done));
        const added: number[] = [];
        const descsOf = new Map<number, number>();
        let next = 0;
        const outstandingDescs = (): number => [...descsOf.values()].reduce((s, n) => s + n, 0);
        const onDone = (): void => {
          for (const t of done.splice(0)) {
            expect(descsOf.has(t)).toBe(true); // exactly once
            descsOf.delete(t);
            completed.push(t);
          }
        };
        const completed: number[] = [];
        for (const o of ops) {
          if (o.k === 'add') {
            if (o.out + o.in === 0) continue;
            const t = next++;
            const rc = vq.addSgs(Array.from({ length: o.out }, (_, i) => sg(BUF + 64 * i, 16)), Array.from({ length: o.in }, (_, i) => sg(BUF + 0x1000 + 64 * i, 16)), t);
            if (rc === 0) {
              added.push(t);
              const indirect = (features & (1n << 28n)) !== 0n && o.out + o.in > 1;
              descsOf.set(t, indirect ? 1 : o.out + o.in);
            } else expect(rc).toBe(-28);
          } else if (o.k === 'kick') vq.kick();
          else if (o.k === 'pop') f.pop(REQ);
          else if (o.k === 'complete') f.complete(REQ, o.n);
          else if (o.k === 'get') {
            const u = vq.getBuf();
            if (u) done.push(u.token as number);
          } else if (o.k === 'disable') vq.disableCb();
          else if (o.k === 'enable') {
            if (!vq.enableCb()) drainLoop(vq, done);
          }
          onDone();
          expect(vq.numFree + outstandingDescs()).toBe(vq.num);
        }
        // quiesce: the device finishes everything, the driver drains
        f.pop(REQ);
        f.complete(REQ);
        drainLoop(vq, done);
        onDone();
        expect(vq.broken).toBe(false);
        expect(vq.numFree).toBe(vq.num);
        expect(b.dma.objectsInUse).toBe(0);
        expect(completed).toEqual(added); // in-order device: completion order = add order
      }),
      { numRuns: 60 },
    );
  });

  it('returns -ENOSPC when full and pokes the device for a request with out data', async () => {
    const b = await boot({ fake: { features: NO_INDIRECT, queueSize: 8 } });
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    for (let t = 0; t < 4; t++) expect(vq.addSgs([sg(BUF, 8)], [sg(BUF + 8, 8)], t)).toBe(0);
    const kicks = f.kicks[REQ]!;
    expect(vq.addSgs([sg(BUF, 8)], [sg(BUF + 8, 8)], 9)).toBe(-28);
    expect(f.kicks[REQ]).toBe(kicks + 1);
    expect(vq.addInbuf([sg(BUF, 8)], 10)).toBe(-28);
    expect(f.kicks[REQ]).toBe(kicks + 1);
  });

  it('detachUnusedBuf hands back what the device never used and rewinds avail.idx', async () => {
    const b = await boot();
    b.fakes[0]!.autoComplete = false;
    const vq = vqOf(b);
    for (const t of ['p', 'q', 'r']) vq.addSgs([sg(BUF, 8)], [sg(BUF + 8, 8)], t);
    const back: unknown[] = [];
    for (let t = vq.detachUnusedBuf(); t !== null; t = vq.detachUnusedBuf()) back.push(t);
    expect(back).toEqual(['p', 'q', 'r']);
    expect(vq.numFree).toBe(vq.num);
    expect(b.mem.read16(vq.availAddr + 2)).toBe(0);
    expect(b.dma.objectsInUse).toBe(0);
  });

  it('forces a kick after 65535 adds without one', async () => {
    const b = await boot();
    const f = b.fakes[0]!;
    f.autoComplete = false;
    const vq = vqOf(b);
    for (let i = 1; i < 0xffff; i++) {
      vq.addInbuf([sg(BUF, 8)], i);
      f.pop(REQ);
      f.complete(REQ);
      vq.getBuf();
    }
    expect(f.kicks[REQ]).toBe(0);
    vq.addInbuf([sg(BUF, 8)], 0xffff);
    expect(f.kicks[REQ]).toBe(1);
  });
});

function le64(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) out.push(Math.floor(n / 256 ** i) & 0xff);
  return out;
}

describe('split ring: hostile device fuzzing', () => {
  type Op =
    | { k: 'add'; n: number }
    | { k: 'kick' }
    | { k: 'honest' }
    | { k: 'hostile'; id: number; len: number }
    | { k: 'usedIdx'; idx: number }
    | { k: 'get' }
    | { k: 'cb'; on: boolean }
    | { k: 'detach' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ k: fc.constant('add' as const), n: fc.integer({ min: 1, max: 4 }) }),
    fc.constant({ k: 'kick' as const }),
    fc.constant({ k: 'honest' as const }),
    fc.record({ k: fc.constant('hostile' as const), id: fc.integer({ min: 0, max: 0xffffffff }), len: fc.nat() }),
    fc.record({ k: fc.constant('usedIdx' as const), idx: fc.integer({ min: 0, max: 0xffff }) }),
    fc.constant({ k: 'get' as const }),
    fc.record({ k: fc.constant('cb' as const), on: fc.boolean() }),
    fc.constant({ k: 'detach' as const }),
  );

  it('never throws, never over-frees, and stays broken once broken', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), fc.constantFrom(QEMU_SCSI_FEATURES, NO_INDIRECT), async (ops, features) => {
        const b = await boot({ fake: { features, queueSize: 8 } });
        const f = b.fakes[0]!;
        f.autoComplete = false;
        const vq = vqOf(b);
        let t = 0;
        let wasBroken = false;
        for (const o of ops) {
          if (o.k === 'add') vq.addSgs([sg(BUF, 8)], Array.from({ length: o.n - 1 }, () => sg(BUF + 64, 8)), t++);
          else if (o.k === 'kick') vq.kick();
          else if (o.k === 'honest') {
            f.pop(REQ);
            f.complete(REQ, 1);
          } else if (o.k === 'hostile') f.pushUsed(REQ, o.id >>> 0, o.len >>> 0);
          else if (o.k === 'usedIdx') b.mem.write16(vq.usedAddr + 2, o.idx);
          else if (o.k === 'get') vq.getBuf();
          else if (o.k === 'cb') {
            if (o.on) vq.enableCb();
            else vq.disableCb();
          } else vq.detachUnusedBuf();
          expect(vq.numFree).toBeGreaterThanOrEqual(0);
          expect(vq.numFree).toBeLessThanOrEqual(vq.num);
          if (wasBroken) {
            expect(vq.broken).toBe(true);
            expect(vq.getBuf()).toBeNull();
          }
          wasBroken = vq.broken;
        }
      }),
      { numRuns: 80 },
    );
  });
});
