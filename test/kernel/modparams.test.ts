import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import '../seed.ts';
import { MODULE_PARAMS, modParamVars, moduleParamFiles } from '../../src/kernel/modparams.ts';
import type { ModParamCtx } from '../../src/kernel/modparams.ts';
import { O_RDONLY, O_WRONLY } from '../../src/kernel/syscalls.ts';
import { ScsiMod } from '../../src/midlayer/scsi.ts';
import { createDir, createFiles } from '../../src/sysfs/kernfs.ts';
import { loadGolden } from '../fakes/golden_sysfs_kernel.ts';
import { testKernel } from '../fakes/test_kernel.ts';

function ctxFor(params: Record<string, string> = {}): { ctx: ModParamCtx; mod: ScsiMod } {
  const mod = new ScsiMod(testKernel(params));
  return { ctx: { scsiMod: mod.params, vars: modParamVars(mod.params) }, mod };
}

const SCENARIOS = ['seed_single_disk', 'seed_disk_and_cd_same_bus', 'seed_two_buses', 'hotplug_event'];

describe('/sys/module/*/parameters', () => {
  for (const scenario of SCENARIOS) {
    it(`match the capture of ${scenario} (names, modes, values, missing directories)`, () => {
      const { ctx } = ctxFor();
      const golden = loadGolden(scenario).snapshots['boot']!.sysfs;
      let checked = 0;
      for (const name of Object.keys(MODULE_PARAMS)) {
        const dir = golden[`/sys/module/${name}/parameters`];
        if (!dir) continue; // module not captured in this scenario
        const files = moduleParamFiles(name, ctx);
        if (dir.e === 'ENOENT') {
          expect(files, name).toEqual([]);
          continue;
        }
        const prefix = `/sys/module/${name}/parameters/`;
        const captured = Object.entries(golden)
          .filter(([p]) => p.startsWith(prefix))
          .map(([p, e]) => [p.slice(prefix.length), e.m, e.v] as const);
        const ours = files.map((f) => [f.name, f.mode.toString(8).padStart(4, '0'), f.show!().replace(/\n$/, '')] as const);
        expect(ours, name).toEqual(captured);
        checked += captured.length;
      }
      // scsi_mod 6 + sg 3 + sr_mod 1
      expect(checked).toBe(10);
    });
  }

  it('has no parameters directory for modules whose parameters are all hidden or unknown', () => {
    const { ctx } = ctxFor();
    for (const name of ['sd_mod', 'st', 'virtio_scsi', 'cdrom', 'no_such_module']) expect(moduleParamFiles(name, ctx)).toEqual([]);
  });

  it('shows the kernel command line values scsi_mod was given', () => {
    const { ctx } = ctxFor({ 'scsi_mod.scan': 'sync', 'scsi_mod.max_luns': '8', 'scsi_mod.scsi_logging_level': '9664' });
    const show = (n: string): string => moduleParamFiles('scsi_mod', ctx).find((f) => f.name === n)!.show!();
    expect([show('scan'), show('max_luns'), show('scsi_logging_level')]).toEqual(['sync\n', '8\n', '9664\n']);
  });

  it('writes through to the live values scsi_mod uses, with kstrto* parsing', async () => {
    const { ctx, mod } = ctxFor();
    const k = mod.kernel as ReturnType<typeof testKernel>;
    const dir = createDir(createDir(createDir(k.dm.sys, 'module'), 'scsi_mod'), 'parameters');
    createFiles(dir, moduleParamFiles('scsi_mod', ctx));
    const sys = k.vfs.syscalls();
    const path = (n: string): string => `/sys/module/scsi_mod/parameters/${n}`;
    const write = async (n: string, text: string): Promise<void> => {
      const fd = await sys.open(path(n), O_WRONLY);
      try {
        await sys.write(fd, new TextEncoder().encode(text));
      } finally {
        await sys.close(fd);
      }
    };
    const read = async (n: string): Promise<string> => {
      const fd = await sys.open(path(n), O_RDONLY);
      const t = new TextDecoder().decode(await sys.read(fd, 4096));
      await sys.close(fd);
      return t;
    };
    await write('scsi_logging_level', '9664\n');
    expect(mod.params.scsiLoggingLevel).toBe(9664);
    expect(await read('scsi_logging_level')).toBe('9664\n');
    await write('inq_timeout', '0x10');
    expect(mod.params.inqTimeout).toBe(16);
    await write('max_luns', '010\n'); // base 0: a leading 0 is octal
    expect(mod.params.maxLuns).toBe(8);
    await write('eh_deadline', '-1');
    expect(mod.params.ehDeadline).toBe(-1);
    await expect(write('inq_timeout', '-1')).rejects.toMatchObject({ code: 'EINVAL' }); // uint
    await expect(write('scsi_logging_level', 'lots')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(write('scsi_logging_level', '4294967296')).rejects.toMatchObject({ code: 'ERANGE' }); // int
    expect(mod.params.scsiLoggingLevel).toBe(9664);
    // scan keeps the written text (newline included) and means what its first letters say.
    await write('scan', 'manual\n');
    expect(mod.params.scan).toBe('manual');
    expect(await read('scan')).toBe('manual\n\n');
    await expect(write('scan', 'x'.repeat(20))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(mod.params.scan).toBe('manual');
  });

  it('round-trips every int a signed int parameter can hold, and refuses the rest', () => {
    const { ctx } = ctxFor();
    const f = moduleParamFiles('sg', ctx).find((x) => x.name === 'def_reserved_size')!;
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
        f.store!(`${n}\n`);
        expect(f.show!()).toBe(`${n}\n`);
        expect(ctx.vars.sgDefReservedSize).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 2n ** 31n, max: 2n ** 70n }), (n) => {
        expect(() => f.store!(String(n))).toThrow(expect.objectContaining({ code: 'ERANGE' }));
      }),
    );
  });
});
