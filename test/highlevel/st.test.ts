import { describe, expect, it } from 'vitest';
import { SCSI_TAPE_MAJOR, StDriver } from '../../src/highlevel/st.ts';
import { scanHost } from '../../src/midlayer/scsi_scan.ts';
import { loadGolden } from '../fakes/golden_sysfs_kernel.ts';
import { setup } from '../fakes/midlayer_setup.ts';

describe('st (module init)', () => {
  it('prints the version line, takes char major 9 and creates class scsi_tape', async () => {
    const m = await setup([], {}, (mod) => {
      StDriver.register(mod);
    });
    // init_st's KERN_INFO line, as captured (seed_single_disk dmesg at `modprobe st`).
    expect(m.k.log[0]).toBe('st: Version 20160209, fixed bufsize 32768, s/g segs 256');
    expect(m.k.log.filter((l) => l.startsWith('st'))).toHaveLength(1);
    expect(m.k.devs.procDevices()).toMatch(/^ {2}9 st$/m);
    expect(SCSI_TAPE_MAJOR).toBe(9);
    expect(await m.ls('/sys/class')).toContain('scsi_tape');
    expect(await m.ls('/sys/class/scsi_tape')).toEqual([]);
  });

  it('has the driver directory the golden capture shows', async () => {
    const m = await setup([], {}, (mod) => {
      StDriver.register(mod);
    });
    const golden = loadGolden('seed_single_disk').snapshots['boot']!.sysfs;
    const base = '/sys/bus/scsi/drivers/st';
    const entries = Object.entries(golden).filter(([p]) => p.startsWith(base + '/'));
    for (const [p, e] of entries) {
      if (e.t === 'l') continue; // `module` -> /sys/module/st: made by the guest's module loader
      const st = await m.sys.lstat(p);
      expect((st.mode & 0o7777).toString(8).padStart(4, '0'), p).toBe(e.m);
      if (e.v !== undefined) expect(await m.read(p), p).toBe(`${e.v}\n`);
    }
    const names = entries.map(([p]) => p.slice(base.length + 1)).filter((n) => n !== 'module');
    expect(await m.ls(base)).toEqual(names.sort());
  });

  it('binds to no LU: disks are not its type, and tapes are refused until tape support arrives', async () => {
    const m = await setup(
      [
        [0, 0, 0],
        [1, 0, 1],
      ],
      {},
      (mod) => {
        StDriver.register(mod);
      },
    );
    await m.run(scanHost(m.mod, m.host));
    const [disk, tape] = m.host.devices;
    const st = m.mod.drivers.find((d) => d.name === 'st')!;
    expect(st.match(disk!)).toBe(false);
    expect(st.match(tape!)).toBe(true);
    expect(tape!.driver).toBeNull();
    expect(await m.ls('/sys/bus/scsi/drivers/st')).not.toContain('0:0:1:0');
    await expect(m.sys.readlink('/sys/bus/scsi/devices/0:0:1:0/driver')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('probes a tape already on the bus when it loads, and refuses it the same way', async () => {
    const m = await setup([[0, 0, 1]]);
    await m.run(scanHost(m.mod, m.host));
    const tape = m.host.devices[0]!;
    StDriver.register(m.mod);
    await m.run(Promise.all([...m.mod.pending]));
    expect(tape.driver).toBeNull();
    expect(await m.ls('/sys/bus/scsi/drivers/st')).not.toContain('0:0:0:0');
  });

  it('takes 0 or 1 in debug_flag and refuses anything else', async () => {
    const m = await setup([], {}, (mod) => {
      StDriver.register(mod);
    });
    const flag = '/sys/bus/scsi/drivers/st/debug_flag';
    await m.write(flag, '1\n');
    expect(await m.read(flag)).toBe('1\n');
    await expect(m.write(flag, 'x\n')).rejects.toMatchObject({ code: 'EINVAL' });
    await m.write(flag, '0');
    expect(await m.read(flag)).toBe('0\n');
  });

  it('unregisters: major and driver directory go away', async () => {
    let drv: StDriver | undefined;
    const m = await setup([], {}, (mod) => {
      drv = StDriver.register(mod);
    });
    drv!.unregister();
    expect(m.k.devs.procDevices()).not.toMatch(/^ {2}9 st$/m);
    expect(await m.ls('/sys/bus/scsi/drivers')).not.toContain('st');
    expect(m.mod.drivers).not.toContain(drv);
  });
});
