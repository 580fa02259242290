// The README's example of a user's own property (imports from the package entry in the README).
import { it } from 'vitest';
import { runScsiProperty } from '../../src/index.ts';

it('every disk lsscsi lists has a by-path link to its node', async () => {
  await runScsiProperty({ topology: { maxControllers: 2 }, fc: { numRuns: 20 } }, async ({ machine }) => {
    const lsscsi = (await machine.guest('lsscsi')).stdout;
    const links = (await machine.guest('ls -l /dev/disk/by-path')).stdout;
    for (const [, t, l, dev] of lsscsi.matchAll(/^\[\d+:0:(\d+):(\d+)\]\s+disk .*\/dev\/(sd[a-z]+)/gm)) {
      if (!links.includes(`-scsi-0:0:${t}:${l} -> ../../${dev}\n`)) return false;
    }
  });
}, 120_000);
