// Ours (test helper): replays one golden command against our implementation of the tool and returns both.
import { runTool } from '../../fakes/golden_sysfs_kernel.ts';
import type { Command } from '../../../src/shell/process.ts';
import type { GoldenWorld } from './golden_device.ts';

export async function replay(w: GoldenWorld, label: string, run: Command): Promise<{
  got: { rc: number; stdout: string; stderr: string };
  want: { rc: number; stdout: string; stderr: string };
}> {
  const c = w.cmd(label);
  const argv = c.cmd.split(' ');
  const got = await runTool(w.kernel, run, argv);
  return { got, want: { rc: c.rc, stdout: c.stdout, stderr: c.stderr } };
}
