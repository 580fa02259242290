// Ours (test helper): a guest shell over the fake tape drive — a test kernel, scsi_mod with one host on
// fake_tape_lld.ts, st registered, and busybox plus mt and tar in the command registry.

import { StDriver } from '../../../src/highlevel/st.ts';
import { createBusyboxRegistry } from '../../../src/shell/busybox.ts';
import { mtEntry } from '../../../src/shell/mt.ts';
import { Shell } from '../../../src/shell/sh.ts';
import type { LineResult } from '../../../src/shell/sh.ts';
import { tarEntry } from '../../../src/shell/tar.ts';
import { tapeSetup } from '../../fakes/fake_tape_lld.ts';
import type { FakeTape } from '../../fakes/fake_tape_lld.ts';

export async function tapeWorld(tape: Partial<FakeTape> = {}) {
  const m = tapeSetup({ tape });
  await m.run(m.scan());
  StDriver.register(m.mod);
  await m.settle();
  const registry = createBusyboxRegistry().add(mtEntry).add(tarEntry);
  const sh = new Shell({ sys: m.sys, registry, cwd: '/' });
  const sh$ = (line: string): Promise<LineResult> => m.run(sh.run(line));
  /** Record sizes and filemarks on the medium, e.g. `10240,FM`. */
  const layout = (): string => m.tape.items.map((i) => (i.kind === 'fm' ? 'FM' : String(i.data.length))).join(',');
  return { ...m, sh, sh$, layout };
}
