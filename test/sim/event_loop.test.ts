import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventLoop } from '../../src/sim/event_loop.ts';
import { Rng } from '../../src/sim/rng.ts';

describe('EventLoop', () => {
  it('runs events in (time, sequence) order', async () => {
    const loop = new EventLoop();
    const seen: string[] = [];
    loop.after(10, () => seen.push('b'));
    loop.after(5, () => seen.push('a'));
    loop.after(10, () => seen.push('c'));
    await loop.runUntilIdle();
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(loop.now()).toBe(10);
  });

  it('treats daemon events as idle but runs them when time advances', async () => {
    const loop = new EventLoop();
    let polls = 0;
    const poll = (): void => {
      polls++;
      loop.after(2_000, poll, { daemon: true });
    };
    loop.after(2_000, poll, { daemon: true });
    await loop.runUntilIdle();
    expect(polls).toBe(0);
    await loop.advance(7_000);
    expect(polls).toBe(3);
    expect(loop.now()).toBe(7_000);
  });

  it('cancelled events never run, and the heap order survives arbitrary cancels', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.boolean()), { maxLength: 200 }), (plan) => {
        const loop = new EventLoop();
        const ran: number[] = [];
        const handles = plan.map(([t], i) => loop.at(t, () => ran.push(i)));
        plan.forEach(([, cancel], i) => cancel && handles[i]!.cancel());
        while (loop.step());
        const expected = plan
          .map(([t, cancel], i) => ({ t, cancel, i }))
          .filter((e) => !e.cancel)
          .sort((a, b) => a.t - b.t || a.i - b.i)
          .map((e) => e.i);
        expect(ran).toEqual(expected);
        expect(loop.busy).toBe(false);
      }),
    );
  });

  it('lets awaiting process-context code make progress between events', async () => {
    const loop = new EventLoop();
    const log: number[] = [];
    const wait = (ns: number): Promise<void> => new Promise((r) => loop.after(ns, r));
    void (async () => {
      await wait(100);
      log.push(loop.now());
      await wait(50);
      log.push(loop.now());
    })();
    await loop.runUntilIdle();
    expect(log).toEqual([100, 150]);
  });
});

describe('Rng', () => {
  it('is a pure function of its seed', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const a = new Rng(seed);
        const b = new Rng(seed);
        for (let i = 0; i < 20; i++) expect(a.nextU32()).toBe(b.nextU32());
      }),
    );
  });
  it('stays within [lo, hi]', () => {
    const r = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const v = r.int(3, 9);
      expect(v).toBeGreaterThanOrEqual(3);
      expect(v).toBeLessThanOrEqual(9);
    }
  });
});
