// Test harness: drive the event loop of a test kernel until a promise settles and scsi_mod has no
// background work left (scans, async probes), as the fake-LLD rigs need.

import type { ScsiMod } from '../../src/midlayer/scsi.ts';
import type { TestKernel } from './test_kernel.ts';

export function loopRunner(k: TestKernel, mod: ScsiMod): { run: <T>(p: Promise<T>) => Promise<T>; settle: () => Promise<void> } {
  /** Runs the loop until `p` settles and the mid-layer has no background work left. */
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const settled = p.finally(() => {
      done = true;
    });
    settled.catch(() => {});
    await k.loop.runUntilIdle(() => done && mod.pending.size === 0);
    await k.loop.runUntilIdle();
    if (!done) throw new Error('did not complete');
    return settled;
  };
  /** Runs the loop until scsi_mod's background work is done (ten rounds at most). */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) {
      await k.loop.runUntilIdle();
      if (mod.pending.size === 0) return;
      await Promise.all([...mod.pending]);
    }
  };
  return { run, settle };
}
