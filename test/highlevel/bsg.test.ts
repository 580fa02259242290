import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import '../seed.ts';
import { Bsg, ScsiBsg } from '../../src/block/bsg.ts';
import { SgDriver } from '../../src/highlevel/sg.ts';
import { PLATFORM_CHRDEVS, PLATFORM_DYNAMIC_CHR_TAKEN } from '../../src/kernel/platform.ts';
import { O_RDWR } from '../../src/kernel/syscalls.ts';
import * as bsgApi from '../../src/kernel/uapi/bsg.ts';
import type { SgIoV4In, SgIoV4Out } from '../../src/kernel/uapi/bsg.ts';
import { SG_DXFER_NONE, SG_EMULATED_HOST, SG_GET_RESERVED_SIZE, SG_GET_TIMEOUT, SG_GET_VERSION_NUM, SG_IO, SG_SET_TIMEOUT, sgIoHdr } from '../../src/kernel/uapi/sg.ts';
import type { ScsiMod } from '../../src/midlayer/scsi.ts';
import { removeDevice, scanHost, scsiAddDevice } from '../../src/midlayer/scsi_scan.ts';
import type { Uevent } from '../../src/sysfs/core.ts';
import { loadGolden } from '../fakes/golden_sysfs_kernel.ts';
import { setup } from '../fakes/midlayer_setup.ts';

/** Boot as the guest does: the platform's dynamic majors are taken before bsg_init runs. */
function bootBsg(mod: ScsiMod): Bsg {
  for (const m of PLATFORM_DYNAMIC_CHR_TAKEN) {
    const name = PLATFORM_CHRDEVS.find(([major]) => major === m)?.[1] ?? `dyn${m}`;
    mod.kernel.devs.registerChrdev(m, name);
  }
  return Bsg.init(mod.kernel);
}

/** sg registered first (sg.c's class interface), then scsi_bsg — the order scsi_sysfs_add_sdev calls them. */
function sgThenBsg(mod: ScsiMod): void {
  SgDriver.register(mod);
  ScsiBsg.register(mod, bootBsg(mod));
}

const DISK: Array<[number, number, number]> = [[0, 0, 0]];

describe('bsg registration', () => {
  it('takes the next free dynamic major (248) and prints the boot line with it', async () => {
    const m = await setup([], {}, (mod) => {
      bootBsg(mod);
    });
    expect(m.k.log).toContain('Block layer SCSI generic (bsg) driver version 0.4 loaded (major 248)');
    expect(m.k.devs.procDevices()).toMatch(/^248 bsg$/m);
    expect(m.k.dm.classDir.get('bsg')).toBeDefined();
  });

  it('creates /dev/bsg/H:C:T:L for every LU, minors in registration order', async () => {
    const m = await setup(
      [
        [0, 0, 0],
        [1, 0, 5],
        [1, 2, 0],
      ],
      {},
      sgThenBsg,
    );
    await m.run(scanHost(m.mod, m.host));
    const nodes: Array<[string, number, number]> = [];
    for (const name of await m.ls('/dev/bsg')) {
      const st = await m.sys.stat(`/dev/bsg/${name}`);
      expect(st.mode & 0o7777).toBe(0o600);
      nodes.push([name, st.rdevMajor, st.rdevMinor]);
    }
    expect(nodes).toEqual([
      ['0:0:0:0', 248, 0],
      ['0:0:1:0', 248, 1],
      ['0:0:1:2', 248, 2],
    ]);
    expect(await m.read('/sys/class/bsg/0:0:1:2/dev')).toBe('248:2\n');
    expect(await m.sys.readlink('/sys/dev/char/248:1')).toBe('../../devices/virtio0/host0/target0:0:1/0:0:1:0/bsg/0:0:1:0');
  });

  it('gives a removed LU’s minor to the next LU and drops its node and sysfs directory', async () => {
    const m = await setup(
      [
        [0, 0, 0],
        [1, 0, 0],
      ],
      {},
      sgThenBsg,
    );
    await m.run(scanHost(m.mod, m.host));
    await m.run(removeDevice(m.mod, m.host.devices.find((d) => d.id === 0)!));
    expect(await m.ls('/dev/bsg')).toEqual(['0:0:1:0']);
    await expect(m.sys.stat('/sys/class/bsg/0:0:0:0')).rejects.toMatchObject({ code: 'ENOENT' });
    m.st.lus.set('2:0', { type: 0, model: 'QEMU HARDDISK' });
    await m.run(scsiAddDevice(m.mod, m.host, 0, 2, 0));
    const st = await m.sys.stat('/dev/bsg/0:0:2:0');
    expect([st.rdevMajor, st.rdevMinor]).toEqual([248, 0]);
  });

  it('shows the class device as the golden capture does (seed_single_disk, boot)', async () => {
    const m = await setup(DISK, {}, sgThenBsg);
    await m.run(scanHost(m.mod, m.host));
    const golden = loadGolden('seed_single_disk').snapshots['boot']!.sysfs;
    const gBase = '/sys/devices/pci0000:00/0000:00:04.0/virtio0/host0/target0:0:0/0:0:0:0/bsg/0:0:0:0';
    const ourBase = '/sys/devices/virtio0/host0/target0:0:0/0:0:0:0/bsg/0:0:0:0';
    const entries = Object.entries(golden).filter(([p]) => p.startsWith(gBase + '/'));
    expect(entries.length).toBeGreaterThan(10);
    for (const [gp, e] of entries) {
      const p = ourBase + gp.slice(gBase.length);
      const st = await m.sys.lstat(p);
      if (e.t === 'l') {
        // Link targets differ in depth (our host hangs off /sys/devices/virtio0); compare where they land.
        const resolved = (golden[gp] as { resolved?: string }).resolved!;
        expect(await m.sys.realpath(p), p).toBe(resolved.replace('/sys/devices/pci0000:00/0000:00:04.0/', '/sys/devices/'));
        continue;
      }
      expect((st.mode & 0o7777).toString(8).padStart(4, '0'), p).toBe(e.m);
      if (e.t !== 'f') continue;
      if (e.e) await expect(m.read(p), p).rejects.toMatchObject({ code: e.e });
      else expect(await m.read(p), p).toBe(`${e.v}\n`);
    }
    // Nothing beyond what the capture lists.
    const ours = await m.ls(ourBase);
    const theirs = entries.map(([p]) => p.slice(gBase.length + 1)).filter((r) => !r.includes('/'));
    expect(ours).toEqual(theirs.sort());
    expect(await m.sys.readlink('/sys/class/bsg/0:0:0:0')).toBe('../../devices/virtio0/host0/target0:0:0/0:0:0:0/bsg/0:0:0:0');
  });

  it('announces bsg after scsi_generic at add and removes it first, even when registered before sg', async () => {
    let bsgIntf: ScsiBsg | undefined;
    const m = await setup(DISK, {}, (mod) => {
      // scsi_mod (with bsg) comes up before the sg module, as in the guest's boot.
      bsgIntf = ScsiBsg.register(mod, bootBsg(mod));
      SgDriver.register(mod);
      bsgIntf.keepLast();
    });
    const events: string[] = [];
    m.k.dm.onUevent((ev: Uevent) => {
      if (ev.subsystem === 'scsi_generic' || ev.subsystem === 'bsg') events.push(`${ev.action} ${ev.subsystem}`);
    });
    await m.run(scanHost(m.mod, m.host));
    await m.run(removeDevice(m.mod, m.host.devices[0]!));
    expect(events).toEqual(['add scsi_generic', 'add bsg', 'remove bsg', 'remove scsi_generic']);
    expect(m.mod.interfaces.at(-1)).toBe(bsgIntf);
  });

  it('gives LUs that were visible before registration their node (lowest free minor)', async () => {
    const m = await setup(DISK);
    await m.run(scanHost(m.mod, m.host));
    const sb = ScsiBsg.register(m.mod, bootBsg(m.mod));
    expect(ScsiBsg.of(m.host.devices[0]!)?.minor).toBe(0);
    expect((await m.sys.stat('/dev/bsg/0:0:0:0')).rdevMajor).toBe(sb.bsg.major);
  });
});

describe('bsg SG_IO (sg_io_v4)', () => {
  async function open() {
    const m = await setup(DISK, {}, sgThenBsg);
    await m.run(scanHost(m.mod, m.host));
    const fd = await m.sys.open('/dev/bsg/0:0:0:0', O_RDWR);
    const v4 = (hdr: SgIoV4In): Promise<SgIoV4Out> => m.run(m.sys.ioctl(fd, SG_IO, hdr)) as Promise<SgIoV4Out>;
    return { m, fd, v4 };
  }

  it('runs INQUIRY and returns the data with din_resid', async () => {
    const { m, v4 } = await open();
    const dmaBefore = m.k.dmaLive();
    const r = await v4(bsgApi.sgIoV4(Uint8Array.of(0x12, 0, 0, 0, 96, 0), { dinXferLen: 96 }));
    expect(r.deviceStatus).toBe(0);
    expect(r.transportStatus).toBe(0);
    expect(r.driverStatus).toBe(0);
    expect(r.info).toBe(0);
    expect(r.dinResid).toBe(96 - 36); // the fake answers 36 bytes of standard INQUIRY
    expect(r.dinXferp.length).toBe(36);
    expect(String.fromCharCode(...r.dinXferp.subarray(16, 29))).toBe('QEMU HARDDISK');
    expect(m.st.cdbs.at(-1)).toBe('0:0 12 00 00 00 60 00');
    expect(m.k.dmaLive()).toBe(dmaBefore);
  });

  it('reports CHECK CONDITION with DRIVER_SENSE and sense trimmed to max_response_len', async () => {
    const { v4 } = await open();
    // The fake's LU holds a power-on UA for the first non-INQUIRY command.
    const ua = await v4(bsgApi.sgIoV4(Uint8Array.of(0, 0, 0, 0, 0, 0), { maxResponseLen: 64 }));
    expect([ua.deviceStatus, ua.driverStatus, ua.transportStatus, ua.info]).toEqual([0x02, 0x08, 0, 1]);
    expect(ua.responseLen).toBe(18); // 8 + additional sense length 10
    expect([ua.response[0], ua.response[2], ua.response[12], ua.response[13]]).toEqual([0x70, 0x06, 0x29, 0x00]);
    expect(ua.dinResid).toBe(0);
    const short = await v4(bsgApi.sgIoV4(Uint8Array.of(0xa3, 0x0c, 1, 0x12, 0, 0, 0, 0, 0, 10, 0, 0), { dinXferLen: 10, maxResponseLen: 8 }));
    expect(short.responseLen).toBe(8);
    expect(short.response.length).toBe(8);
    expect(short.response[2]).toBe(0x05); // ILLEGAL REQUEST (the key sits in the first 8 bytes)
    const none = await v4(bsgApi.sgIoV4(Uint8Array.of(0xa3, 0x0c, 1, 0x12, 0, 0, 0, 0, 0, 10, 0, 0), { dinXferLen: 10, maxResponseLen: 0 }));
    expect([none.deviceStatus, none.responseLen, none.response.length]).toEqual([2, 0, 0]);
  });

  it('sends data-out and reports its residue in dout_resid', async () => {
    const { m, v4 } = await open();
    const block = new Uint8Array(512).fill(0xa5);
    await v4(bsgApi.sgIoV4(Uint8Array.of(0, 0, 0, 0, 0, 0))); // consume the UA
    const r = await v4(bsgApi.sgIoV4(Uint8Array.of(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), { dout: block }));
    expect(m.st.cdbs.at(-1)).toBe('0:0 2a 00 00 00 00 00 00 00 01 00');
    expect(r.deviceStatus).toBe(2); // the fake rejects WRITE(10) with 5/20/00
    expect(r.doutResid).toBe(0);
    expect(r.dinXferp.length).toBe(0);
  });

  it('refuses what bsg refuses, with the kernel’s errno', async () => {
    const { m, fd, v4 } = await open();
    const inq = bsgApi.sgIoV4(Uint8Array.of(0x12, 0, 0, 0, 36, 0), { dinXferLen: 36 });
    const sent = m.st.cdbs.length;
    // A v3 header: interface_id 'S' sits where the guard belongs.
    await expect(m.sys.ioctl(fd, SG_IO, sgIoHdr(Uint8Array.of(0, 0, 0, 0, 0, 0), SG_DXFER_NONE, 0, 1000))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(v4({ ...inq, guard: 0x53 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(v4({ ...inq, protocol: 1 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(v4({ ...inq, subprotocol: bsgApi.BSG_SUB_PROTOCOL_SCSI_TMF })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(v4({ ...inq, request: new Uint8Array(33) })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(v4({ ...inq, doutXferp: new Uint8Array(8), doutXferLen: 8 })).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    await expect(v4({ ...inq, doutXferp: new Uint8Array(8), doutXferLen: 8 })).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    // pr_warn_once: one line however often it happens.
    expect(m.k.log.filter((l) => l === 'BIDI support in bsg has been removed.')).toHaveLength(1);
    await expect(m.sys.ioctl(fd, 0x1234)).rejects.toMatchObject({ code: 'ENOTTY' });
    await expect(m.sys.ioctl(fd, bsgApi.SCSI_IOCTL_SEND_COMMAND, {})).rejects.toMatchObject({ code: 'EINVAL' });
    // Nothing reached the device.
    expect(m.st.cdbs.length).toBe(sent);
  });

  it('answers the sg-style informational ioctls as bsg.c does', async () => {
    const { m, fd } = await open();
    expect(await m.sys.ioctl(fd, SG_GET_VERSION_NUM)).toBe(30527);
    expect(await m.sys.ioctl(fd, SG_EMULATED_HOST)).toBe(1);
    expect(await m.sys.ioctl(fd, bsgApi.SG_GET_COMMAND_Q)).toBe(64);
    await expect(m.sys.ioctl(fd, bsgApi.SG_SET_COMMAND_Q, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    // reserved_size starts at INT_MAX, capped by the queue: min(max_sectors, 2560) × 512.
    expect(await m.sys.ioctl(fd, SG_GET_RESERVED_SIZE)).toBe(Math.min(m.host.maxSectors, 2560) * 512);
    expect(await m.sys.ioctl(fd, SG_GET_TIMEOUT)).toBe(0);
    await m.sys.ioctl(fd, SG_SET_TIMEOUT, 3000);
    expect(await m.sys.ioctl(fd, SG_GET_TIMEOUT)).toBe(3000);
  });

  it('fails commands on an fd whose LU went away, and the node with it', async () => {
    const { m, v4 } = await open();
    await m.run(removeDevice(m.mod, m.host.devices[0]!));
    await expect(v4(bsgApi.sgIoV4(Uint8Array.of(0, 0, 0, 0, 0, 0)))).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(m.sys.open('/dev/bsg/0:0:0:0', O_RDWR)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('bsg SG_IO against hostile headers', () => {
  it('never throws anything but an Errno, whatever the header holds', async () => {
    const m = await setup(DISK, {}, sgThenBsg);
    await m.run(scanHost(m.mod, m.host));
    const fd = await m.sys.open('/dev/bsg/0:0:0:0', O_RDWR);
    const dmaBefore = m.k.dmaLive();
    const field = fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.constant(undefined), fc.double(), fc.string({ maxLength: 3 }));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          guard: fc.oneof(fc.constant(0x51), fc.integer({ min: 0, max: 0x60 })),
          protocol: fc.oneof(fc.constant(0), field),
          subprotocol: fc.oneof(fc.constant(0), field),
          request: fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.constant(undefined)),
          maxResponseLen: field,
          doutXferp: fc.oneof(fc.constant(undefined), fc.uint8Array({ maxLength: 600 })),
          doutXferLen: fc.oneof(fc.constant(0), field),
          dinXferLen: fc.oneof(fc.constant(0), field),
          timeout: field,
        }),
        async (hdr) => {
          try {
            const r = (await m.run(m.sys.ioctl(fd, SG_IO, hdr))) as SgIoV4Out;
            expect(r.responseLen).toBe(r.response.length);
            expect(r.info).toBe(r.deviceStatus || r.transportStatus || r.driverStatus ? 1 : 0);
          } catch (e) {
            expect(e).toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/) });
          }
        },
      ),
      { numRuns: 60 },
    );
    // Every bounce buffer came back.
    expect(m.k.dmaLive()).toBe(dmaBefore);
  });
});
