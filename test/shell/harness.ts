// Ours: a shell on the fake kernel, with `run(line)` driving the virtual clock until the line is done.

import { EventLoop } from '../../src/sim/event_loop.ts';
import { Shell } from '../../src/shell/sh.ts';
import type { LineResult } from '../../src/shell/sh.ts';
import { createBusyboxRegistry } from '../../src/shell/busybox.ts';
import { FakeKernel } from '../fakes/fake_kernel.ts';

/** 2026-11-25 22:36:00 UTC, the goldens' capture day. */
export const EPOCH = Date.UTC(2026, 10, 25, 22, 36, 0) / 1000;

export function setup(): { loop: EventLoop; k: FakeKernel; sh: Shell; run: (line: string) => Promise<LineResult> } {
  const loop = new EventLoop();
  const k = new FakeKernel(loop, { epoch: EPOCH });
  const sh = new Shell({ sys: k, registry: createBusyboxRegistry() });
  const run = async (line: string): Promise<LineResult> => {
    let res: LineResult | null = null;
    const pr = sh.run(line).then((r) => (res = r));
    while (res === null) {
      await loop.runUntilIdle(() => res !== null);
      if (res === null && !loop.busy) {
        await new Promise((r) => setImmediate(r));
        if (res === null && !loop.busy) throw new Error(`line never finished: ${line}`);
      }
    }
    await pr;
    return res;
  };
  return { loop, k, sh, run };
}
