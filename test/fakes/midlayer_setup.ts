// Test harness: a test kernel, scsi_mod, one host on a fake LLD, and helpers to read/write sysfs
// through the VFS while the event loop runs.

import { ScsiMod } from '../../src/midlayer/scsi.ts';
import { scsiAddHost, scsiHostAlloc } from '../../src/midlayer/hosts.ts';
import { Device } from '../../src/sysfs/core.ts';
import { O_RDONLY, O_WRONLY } from '../../src/kernel/syscalls.ts';
import { fakeLld } from './fake_lld.ts';
import type { FakeLldState } from './fake_lld.ts';
import { testKernel } from './test_kernel.ts';

export async function setup(lus: Array<[number, number, number]>, params: Record<string, string> = {}, before?: (mod: ScsiMod) => void) {
  const k = testKernel(params);
  const mod = new ScsiMod(k);
  before?.(mod);
  const st: FakeLldState = { lus: new Map(), cdbs: [] };
  for (const [id, lun, type] of lus) st.lus.set(`${id}:${lun}`, { type, model: type === 5 ? 'QEMU CD-ROM' : 'QEMU HARDDISK', ua: [0x29, 0] });
  const parent = new Device('virtio0', null);
  k.dm.add(parent);
  const host = scsiHostAlloc(mod, fakeLld(mod, k, st), st, parent);
  host.maxId = 8;
  host.maxLun = 32768;
  scsiAddHost(mod, host);
  const sys = k.vfs.syscalls();
  const read = async (p: string): Promise<string> => {
    const fd = await sys.open(p, O_RDONLY);
    const t = new TextDecoder().decode(await sys.read(fd, 4096));
    await sys.close(fd);
    return t;
  };
  const write = async (p: string, text: string): Promise<void> => {
    const fd = await sys.open(p, O_WRONLY);
    try {
      await sys.write(fd, new TextEncoder().encode(text));
    } finally {
      await sys.close(fd);
    }
  };
  const ls = async (p: string): Promise<string[]> => (await sys.readdir(p)).map((d) => d.name).sort();
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const settled = p.finally(() => {
      done = true;
    });
    settled.catch(() => {});
    await k.loop.runUntilIdle(() => done);
    if (!done) throw new Error('did not complete');
    return settled;
  };
  return { k, mod, st, host, sys, read, write, ls, run };
}

