import { describe, expect, it } from 'vitest';
import { SCSI_TAPE_MAJOR, StDriver } from '../../src/highlevel/st.ts';
import { scanHost } from '../../src/midlayer/scsi_scan.ts';
import { loadGolden } from '../fakes/golden_sysfs_kernel.ts';
import { setup } from '../fakes/midlayer_setup.ts';
import fc from 'fast-check';
import { decodeMinor, tapeMinor, tapeNodeName } from '../../src/highlevel/st.ts';
import { O_NONBLOCK, O_RDONLY, O_RDWR, S_IFCHR, S_IFMT } from '../../src/kernel/syscalls.ts';
import * as mt from '../../src/kernel/uapi/mtio.ts';
import type { MtGet, MtPos } from '../../src/kernel/uapi/mtio.ts';
import { tapeSetup } from '../fakes/fake_tape_lld.ts';
import type { FakeTape, TapeItem } from '../fakes/fake_tape_lld.ts';

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

  it('binds to tapes only: a disk is not its type', async () => {
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
    await m.run(Promise.all([...m.mod.pending]));
    const [disk, tape] = m.host.devices;
    const st = m.mod.drivers.find((d) => d.name === 'st')!;
    expect(st.match(disk!)).toBe(false);
    expect(st.match(tape!)).toBe(true);
    expect(disk!.driver).toBeNull();
    expect(tape!.driver?.name).toBe('st');
    expect(await m.ls('/sys/bus/scsi/drivers/st')).toContain('0:0:1:0');
    expect(await m.ls('/sys/bus/scsi/drivers/st')).not.toContain('0:0:0:0');
  });

  it('probes a tape already on the bus when it loads', async () => {
    const m = await setup([[0, 0, 1]]);
    await m.run(scanHost(m.mod, m.host));
    const tape = m.host.devices[0]!;
    StDriver.register(m.mod);
    await m.run(Promise.all([...m.mod.pending]));
    expect(tape.driver?.name).toBe('st');
    expect(await m.sys.readlink('/sys/bus/scsi/devices/0:0:0:0/driver')).toMatch(/\/bus\/scsi\/drivers\/st$/);
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

// ---- the tape driver over the fake SSC drive -----------------------------------------------------

async function bootTape(tape: Partial<FakeTape> = {}, ids: readonly number[] = [0]) {
  const m = tapeSetup({ tape, ids });
  await m.run(m.scan());
  m.k.log.length = 0;
  m.st.cdbs.length = 0;
  StDriver.register(m.mod);
  await m.settle();
  const text = async (p: string): Promise<string> => {
    const fd = await m.sys.open(p, O_RDONLY);
    const t = new TextDecoder().decode(await m.sys.read(fd, 4096));
    await m.sys.close(fd);
    return t;
  };
  const open = (p: string, flags = O_RDWR): Promise<number> => m.run(m.sys.open(p, flags));
  const close = (fd: number): Promise<void> => m.run(m.sys.close(fd));
  const write = (fd: number, data: Uint8Array | number): Promise<number> =>
    m.run(m.sys.write(fd, typeof data === 'number' ? new Uint8Array(data).fill(data & 0xff) : data));
  const read = (fd: number, n: number): Promise<Uint8Array> => m.run(m.sys.read(fd, n));
  const op = (fd: number, mtOp: number, mtCount = 1): Promise<unknown> => m.run(m.sys.ioctl(fd, mt.MTIOCTOP, { mtOp, mtCount }));
  const get = async (fd: number): Promise<MtGet> => (await m.run(m.sys.ioctl(fd, mt.MTIOCGET))) as MtGet;
  const ops = (): string[] => m.st.cdbs.map((c) => c.slice(4));
  const layout = (): string => m.tape.items.map((i) => (i.kind === 'fm' ? 'FM' : String(i.data.length))).join(',');
  return { ...m, text, open, close, write, read, op, get, ops, layout };
}

const rec = (n: number, fill = n & 0xff): TapeItem => ({ kind: 'rec', data: new Uint8Array(n).fill(fill) });
const FM: TapeItem = { kind: 'fm' };
const TAPE_DIR = '/sys/devices/virtio0/host0/target0:0:0/0:0:0:0';

describe('st probe and nodes', () => {
  it('prints the attach lines and sends nothing to the drive', async () => {
    const m = await bootTape();
    expect(m.k.log).toEqual([
      'st: Version 20160209, fixed bufsize 32768, s/g segs 256',
      'st 0:0:0:0: Attached scsi tape st0',
      'st 0:0:0:0: st0: try direct i/o: yes (alignment 4 B)',
    ]);
    expect(m.st.cdbs).toEqual([]);
  });

  it('creates st0/nst0 and the l/m/a modes with Linux minors (mode << 5, no-rewind 0x80)', async () => {
    const m = await bootTape();
    const want: Array<[string, number]> = [
      ['st0', 0], ['nst0', 128], ['st0l', 32], ['nst0l', 160], ['st0m', 64], ['nst0m', 192], ['st0a', 96], ['nst0a', 224],
    ];
    for (const [name, minor] of want) {
      const st = await m.sys.stat(`/dev/${name}`);
      expect(st.mode & S_IFMT, name).toBe(S_IFCHR);
      expect([st.rdevMajor, st.rdevMinor], name).toEqual([9, minor]);
      expect(await m.text(`/sys/class/scsi_tape/${name}/dev`)).toBe(`9:${minor}\n`);
    }
    expect(await m.sys.readdir(`${TAPE_DIR}/scsi_tape`).then((d) => d.map((x) => x.name))).toEqual(want.map(([n]) => n));
    expect(await m.sys.readlink(`${TAPE_DIR}/tape`)).toBe('scsi_tape/st0');
    expect(await m.sys.readlink('/sys/class/scsi_tape/nst0a')).toBe('../../devices/virtio0/host0/target0:0:0/0:0:0:0/scsi_tape/nst0a');
  });

  it('shows the mode attributes: mode 0 defined, no defaults, options buffer/async writes, read-ahead, can-bsr', async () => {
    const m = await bootTape();
    for (const name of ['st0', 'nst0']) {
      expect(await m.text(`/sys/class/scsi_tape/${name}/defined`)).toBe('1\n');
      expect(await m.text(`/sys/class/scsi_tape/${name}/default_blksize`)).toBe('-1\n');
      expect(await m.text(`/sys/class/scsi_tape/${name}/default_density`)).toBe('-1\n');
      expect(await m.text(`/sys/class/scsi_tape/${name}/default_compression`)).toBe('-1\n');
      expect(await m.text(`/sys/class/scsi_tape/${name}/options`)).toBe('0x00000107\n'); // a SCSI-2+ drive: can_bsr
    }
    expect(await m.text('/sys/class/scsi_tape/st0l/defined')).toBe('0\n');
    expect(await m.text('/sys/class/scsi_tape/st0/uevent')).toBe('MAJOR=9\nMINOR=0\nDEVNAME=st0\n');
    // The stats group prints without a newline.
    expect(await m.text('/sys/class/scsi_tape/st0/stats/read_cnt')).toBe('0');
    expect((await m.sys.readdir('/sys/class/scsi_tape/st0/stats')).map((d) => d.name).sort()).toEqual(
      ['in_flight', 'io_ns', 'other_cnt', 'read_byte_cnt', 'read_cnt', 'read_ns', 'resid_cnt', 'write_byte_cnt', 'write_cnt', 'write_ns'],
    );
  });

  it('numbers tapes from the lowest free index and frees it at removal', async () => {
    const m = await bootTape({}, [0, 1]);
    expect(m.k.log.filter((l) => l.includes('Attached'))).toEqual(['st 0:0:0:0: Attached scsi tape st0', 'st 0:0:1:0: Attached scsi tape st1']);
    expect((await m.sys.stat('/dev/nst1')).rdevMinor).toBe(129);
    const fd = await m.run(m.sys.open('/sys/bus/scsi/devices/0:0:0:0/delete', 1));
    await m.run(m.sys.write(fd, new TextEncoder().encode('1')));
    await m.run(m.sys.close(fd));
    await m.settle();
    await expect(m.sys.stat('/dev/st0')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(m.sys.readlink('/sys/class/scsi_tape/nst0')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await m.sys.stat('/dev/st1')).rdevMinor).toBe(1);
  });

  it('encodes and decodes minors as TAPE_MINOR / TAPE_NR / TAPE_MODE do', () => {
    expect(tapeMinor(32, 0, false)).toBe(256); // tape 32: bit 8 upwards
    expect(tapeMinor(33, 3, true)).toBe(256 | 1 | 96 | 128);
    expect(tapeNodeName(5, 2, true)).toBe('nst5m');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (t, mode, nr) => {
        expect(decodeMinor(tapeMinor(t, mode, nr))).toEqual({ tape: t, mode, rewind: !nr });
      }),
    );
  });
});

describe('st open and close', () => {
  it('checks the tape at open: TUR past the power-on UA, READ BLOCK LIMITS, MODE SENSE(6) of 12 bytes', async () => {
    const m = await bootTape();
    const fd = await m.open('/dev/nst0');
    expect(m.ops()).toEqual([
      '00 00 00 00 00 00', // TEST UNIT READY → 6/29/00 (new session)
      '00 00 00 00 00 00', // TEST UNIT READY
      '05 00 00 00 00 00', // READ BLOCK LIMITS
      '1a 00 00 00 0c 00', // MODE SENSE(6), 12 bytes: header + block descriptor
    ]);
    expect(m.k.log.at(-1)).toBe('st 0:0:0:0: Power-on or device reset occurred');
    const g = await m.get(fd);
    expect(g.mtType).toBe(mt.MT_ISSCSI2);
    expect(g.mtGstat >>> 0).toBe((mt.GMT_BOT | mt.GMT_ONLINE | mt.GMT_IM_REP_EN) >>> 0);
    expect([g.mtFileno, g.mtBlkno]).toEqual([0, 0]);
    await m.close(fd);
  });

  it('refuses a second open of any node of the same tape with EBUSY, until the first is closed', async () => {
    const m = await bootTape();
    const fd = await m.open('/dev/nst0');
    await expect(m.open('/dev/st0l')).rejects.toMatchObject({ code: 'EBUSY' });
    await m.close(fd);
    await m.close(await m.open('/dev/st0'));
  });

  it('gives ENOMEDIUM to a blocking open of an empty drive after waiting, and opens with O_NONBLOCK', async () => {
    const m = await bootTape({ loaded: false });
    const t0 = m.k.loop.now();
    await expect(m.open('/dev/nst0', O_RDONLY)).rejects.toMatchObject({ code: 'ENOMEDIUM' });
    expect(m.k.loop.now() - t0).toBeGreaterThanOrEqual(120e9); // ST_BLOCK_SECONDS of 1 s waits
    const fd = await m.open('/dev/nst0', O_RDONLY | O_NONBLOCK);
    const g = await m.get(fd);
    expect(g.mtGstat >>> 0).toBe((mt.GMT_DR_OPEN | mt.GMT_IM_REP_EN) >>> 0);
    expect([g.mtFileno, g.mtBlkno]).toEqual([-1, -1]);
    await expect(m.read(fd, 100)).rejects.toMatchObject({ code: 'ENOMEDIUM' });
    await expect(m.op(fd, mt.MTREW)).rejects.toMatchObject({ code: 'ENOMEDIUM' });
    await m.op(fd, mt.MTLOAD); // the drive loads the cartridge: 6/28/00, a new session at BOT
    expect((await m.get(fd)).mtGstat >>> 0).toBe((mt.GMT_BOT | mt.GMT_ONLINE | mt.GMT_IM_REP_EN) >>> 0);
    await m.close(fd);
  });

  it('st0 writes a filemark and rewinds at close; nst0 writes the filemark and stays', async () => {
    const m = await bootTape();
    let fd = await m.open('/dev/st0');
    await m.write(fd, 100);
    m.st.cdbs.length = 0;
    await m.close(fd);
    expect(m.ops()).toEqual(['10 00 00 00 01 00', '01 00 00 00 00 00']); // WRITE FILEMARKS 1, REWIND
    expect(m.tape.pos).toBe(0);
    fd = await m.open('/dev/nst0');
    await m.op(fd, mt.MTEOM);
    await m.write(fd, 50);
    m.st.cdbs.length = 0;
    await m.close(fd);
    expect(m.ops()).toEqual(['10 00 00 00 01 00']);
    expect(m.layout()).toBe('100,FM,50,FM');
    expect(m.tape.pos).toBe(4);
    fd = await m.open('/dev/nst0', O_RDONLY);
    const g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([2, 0]);
    expect(g.mtGstat & mt.GMT_EOF).toBeTruthy();
    await m.close(fd);
  });

  it('writes no filemark when nothing was written, and refuses a write open of a protected tape', async () => {
    const m = await bootTape({ items: [rec(10)], writeProtected: true });
    await expect(m.open('/dev/nst0', O_RDWR)).rejects.toMatchObject({ code: 'EROFS' });
    const fd = await m.open('/dev/st0', O_RDONLY);
    expect((await m.get(fd)).mtGstat & mt.GMT_WR_PROT).toBeTruthy();
    await expect(m.op(fd, mt.MTWEOF)).rejects.toMatchObject({ code: 'EACCES' });
    m.st.cdbs.length = 0;
    await m.close(fd);
    expect(m.ops()).toEqual(['01 00 00 00 00 00']);
  });
});

describe('st read and write', () => {
  it('keeps record boundaries in variable mode: one write is one record, one read returns one record', async () => {
    const m = await bootTape();
    const fd = await m.open('/dev/nst0');
    m.st.cdbs.length = 0;
    expect(await m.write(fd, 100)).toBe(100);
    expect(await m.write(fd, 50)).toBe(50);
    expect(m.ops()).toEqual(['0a 00 00 00 64 00', '0a 00 00 00 32 00']); // WRITE(6) variable, 100 and 50 bytes
    await m.op(fd, mt.MTREW);
    expect(m.layout()).toBe('100,50,FM'); // the rewind wrote the filemark of the open file
    const a = await m.read(fd, 4096);
    expect(a.length).toBe(100);
    expect(a.every((b) => b === 100)).toBe(true);
    expect((await m.read(fd, 4096)).length).toBe(50);
    expect((await m.read(fd, 4096)).length).toBe(0); // the filemark, once
    await expect(m.read(fd, 4096)).resolves.toHaveLength(0); // end of data after a filemark
    await expect(m.read(fd, 4096)).rejects.toMatchObject({ code: 'EIO' });
    await m.close(fd);
  });

  it('fails a read smaller than the record with ENOMEM and the driver line', async () => {
    const m = await bootTape({ items: [rec(100), rec(20), FM] });
    const fd = await m.open('/dev/nst0', O_RDONLY);
    await expect(m.read(fd, 10)).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(m.k.log.at(-1)).toBe('st 0:0:0:0: [st0] Failed to read 100 byte block with 10 byte transfer.');
    expect((await m.read(fd, 30)).length).toBe(20); // the drive moved past the long record
    await m.close(fd);
  });

  it('reads a blank tape with EIO', async () => {
    const m = await bootTape();
    const fd = await m.open('/dev/nst0', O_RDONLY);
    await expect(m.read(fd, 512)).rejects.toMatchObject({ code: 'EIO' });
    await m.close(fd);
  });

  it('writes and reads whole blocks in fixed mode (MTSETBLK → MODE SELECT)', async () => {
    const m = await bootTape();
    const fd = await m.open('/dev/nst0');
    m.st.cdbs.length = 0;
    await m.op(fd, mt.MTSETBLK, 512);
    expect(m.ops()).toEqual(['15 10 00 00 0c 00']); // MODE SELECT(6), PF, 12 bytes
    expect(m.tape.blockSize).toBe(512);
    expect(((await m.get(fd)).mtDsreg & mt.MT_ST_BLKSIZE_MASK) >>> 0).toBe(512);
    m.st.cdbs.length = 0;
    expect(await m.write(fd, 1024)).toBe(1024);
    expect(m.ops()).toEqual(['0a 01 00 00 02 00']); // WRITE(6) fixed, 2 blocks
    await expect(m.write(fd, 100)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(m.k.log.at(-1)).toBe('st 0:0:0:0: [st0] Write not multiple of tape block size.');
    await m.op(fd, mt.MTWEOF);
    await m.op(fd, mt.MTREW);
    m.st.cdbs.length = 0;
    expect((await m.read(fd, 1536)).length).toBe(1024); // two blocks, then the filemark
    expect(m.ops()).toEqual(['08 01 00 00 03 00']);
    expect((await m.read(fd, 512)).length).toBe(0);
    const g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([1, 0]);
    await m.close(fd);
  });

  it('hands out part of a block through the read-ahead buffer and gives the rest back on MTIOCGET', async () => {
    const m = await bootTape({ blockSize: 512, items: [rec(512, 1), rec(512, 2), rec(512, 3), FM] });
    const fd = await m.open('/dev/nst0', O_RDONLY);
    const a = await m.read(fd, 100);
    expect(a.length).toBe(100);
    expect(a[0]).toBe(1);
    // MTIOCGET gives the read-ahead back: over the filemark the drive met, then MTBSR over the unread
    // blocks; the block the reader is inside counts as read.
    expect((await m.get(fd)).mtBlkno).toBe(1);
    expect(m.tape.pos).toBe(1);
    await m.close(fd);
  });
});

describe('st mtio', () => {
  it('spaces over filemarks and records and reports position and status bits', async () => {
    const m = await bootTape({ items: [rec(10), rec(11), FM, rec(12), FM, rec(13), FM] });
    const fd = await m.open('/dev/nst0', O_RDONLY);
    await m.op(fd, mt.MTFSF, 2);
    let g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([2, 0]);
    expect(g.mtGstat & mt.GMT_EOF).toBeTruthy();
    expect(((await m.run(m.sys.ioctl(fd, mt.MTIOCPOS))) as MtPos).mtBlkno).toBe(5);
    await m.op(fd, mt.MTBSF, 1);
    g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([1, -1]); // before the filemark: the block number is unknown
    expect(m.tape.pos).toBe(4);
    await m.op(fd, mt.MTREW);
    await m.op(fd, mt.MTFSR, 1);
    g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([0, 1]);
    await expect(m.op(fd, mt.MTFSR, 5)).rejects.toMatchObject({ code: 'EIO' }); // runs into the filemark
    g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([1, 0]);
    await expect(m.op(fd, mt.MTBSR, 1)).rejects.toMatchObject({ code: 'EIO' }); // back over the filemark
    expect(m.tape.pos).toBe(2);
    g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([0, -1]);
    await m.op(fd, mt.MTEOM);
    g = await m.get(fd);
    expect([g.mtFileno, g.mtBlkno]).toEqual([3, -1]);
    expect(g.mtGstat & mt.GMT_EOD).toBeTruthy();
    await m.op(fd, mt.MTREW);
    expect((await m.get(fd)).mtGstat & mt.GMT_BOT).toBeTruthy();
    await m.close(fd);
  });

  it('writes filemarks, erases, sets the density, and goes offline', async () => {
    const m = await bootTape({ items: [rec(10), FM, rec(11)] });
    const fd = await m.open('/dev/nst0');
    await m.op(fd, mt.MTFSF, 1);
    await m.op(fd, mt.MTWEOF, 2);
    expect(m.layout()).toBe('10,FM,FM,FM');
    await m.op(fd, mt.MTBSF, 2);
    m.st.cdbs.length = 0;
    await m.op(fd, mt.MTERASE, 0);
    expect(m.ops()).toEqual(['19 00 00 00 00 00']);
    expect(m.layout()).toBe('10,FM');
    await m.op(fd, mt.MTSETDENSITY, 0x42);
    expect((await m.get(fd)).mtDsreg >>> 24).toBe(0x42);
    m.st.cdbs.length = 0;
    await m.op(fd, mt.MTOFFL);
    expect(m.ops()).toEqual(['1b 00 00 00 00 00']); // LOAD UNLOAD, unload
    const g = await m.get(fd);
    expect(g.mtGstat & mt.GMT_DR_OPEN).toBeTruthy();
    expect(g.mtGstat & mt.GMT_ONLINE).toBe(0);
    await expect(m.op(fd, mt.MTFSF)).rejects.toMatchObject({ code: 'ENOMEDIUM' });
    m.st.cdbs.length = 0;
    await m.close(fd); // no rewind after an unload, even for a rewinding node
    expect(m.ops()).toEqual([]);
  });

  it('refuses undefined modes with ENXIO and unknown ioctls with ENOTTY', async () => {
    const m = await bootTape({ items: [rec(10)] });
    const fd = await m.open('/dev/nst0l', O_RDONLY);
    await expect(m.read(fd, 10)).rejects.toMatchObject({ code: 'ENXIO' });
    await expect(m.get(fd)).rejects.toMatchObject({ code: 'ENXIO' });
    await m.close(fd);
    const fd2 = await m.open('/dev/nst0', O_RDONLY);
    await expect(m.run(m.sys.ioctl(fd2, 0x1234))).rejects.toMatchObject({ code: 'ENOTTY' });
    await m.close(fd2);
  });
});

// ---- model-based property -------------------------------------------------------------------------

type Op =
  | { k: 'write'; len: number }
  | { k: 'weof'; n: number }
  | { k: 'read'; len: number }
  | { k: 'rew' }
  | { k: 'fsf'; n: number }
  | { k: 'bsf'; n: number }
  | { k: 'fsr'; n: number }
  | { k: 'bsr'; n: number }
  | { k: 'eom' };

/**
 * What a user of st sees in variable-block mode on a tape that starts blank. The model is the list of
 * records and filemarks, the head, whether the last operation was a write (a rewind or backspace over
 * files then writes the filemark first), and the reader's end-of-file state: `fm` after a read or space
 * that crossed a filemark, `eod` once end of data was reported as 0 after a filemark (reads fail after).
 */
class TapeModel {
  items: Array<number | 'FM'> = [];
  pos = 0;
  writing = false;
  eof: 'none' | 'fm' | 'eod' = 'none';
  #truncate(): void {
    this.items.length = this.pos;
  }
  #autoFm(): void {
    if (this.writing) {
      this.#truncate();
      this.items.push('FM');
      this.pos++;
    }
  }
  apply(op: Op): { data?: number; err?: string } {
    const w = this.writing;
    this.writing = false;
    switch (op.k) {
      case 'write':
        this.#truncate();
        this.items.push(op.len);
        this.pos++;
        this.writing = true;
        return { data: op.len };
      case 'weof':
        this.#truncate();
        for (let i = 0; i < op.n; i++) this.items.push('FM');
        this.pos += op.n;
        this.eof = 'none';
        return {};
      case 'read': {
        if (this.eof === 'eod') return { err: 'EIO' };
        const it = this.items[this.pos];
        if (it === undefined) {
          if (this.eof === 'fm') {
            this.eof = 'eod';
            return { data: 0 };
          }
          return { err: 'EIO' };
        }
        this.pos++;
        if (it === 'FM') {
          this.eof = 'fm';
          return { data: 0 };
        }
        if (it > op.len) return { err: 'ENOMEM' };
        if (this.eof === 'fm') this.eof = 'none';
        return { data: it };
      }
      case 'rew':
        this.writing = w;
        this.#autoFm();
        this.writing = false;
        this.pos = 0;
        this.eof = 'none';
        return {};
      case 'eom':
        this.pos = this.items.length;
        this.eof = 'eod';
        return {};
      case 'fsf': {
        let n = op.n;
        while (n > 0) {
          const it = this.items[this.pos];
          if (it === undefined) {
            this.eof = 'eod';
            return { err: 'EIO' };
          }
          this.pos++;
          if (it === 'FM') n--;
        }
        this.eof = 'fm';
        return {};
      }
      case 'bsf': {
        this.writing = w;
        this.#autoFm();
        this.writing = false;
        let n = op.n + (w ? 1 : 0);
        this.eof = 'none';
        while (n > 0) {
          if (this.pos === 0) return { err: 'EIO' };
          this.pos--;
          if (this.items[this.pos] === 'FM') n--;
        }
        return {};
      }
      case 'fsr': {
        let n = op.n;
        this.eof = 'none';
        while (n > 0) {
          const it = this.items[this.pos];
          if (it === undefined) {
            this.eof = 'eod';
            return { err: 'EIO' };
          }
          this.pos++;
          if (it === 'FM') {
            this.eof = 'fm';
            return { err: 'EIO' };
          }
          n--;
        }
        return {};
      }
      case 'bsr': {
        let n = op.n;
        this.eof = 'none';
        while (n > 0) {
          if (this.pos === 0) return { err: 'EIO' };
          this.pos--;
          if (this.items[this.pos] === 'FM') return { err: 'EIO' };
          n--;
        }
        return {};
      }
    }
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('write' as const), len: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('weof' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('read' as const), len: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 2, arbitrary: fc.constant({ k: 'rew' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fsf' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('bsf' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fsr' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('bsr' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'eom' as const }) },
);

describe('st model-based property', () => {
  it('reads return exactly what the model says through writes, filemarks, spaces and rewinds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const m = await bootTape();
        const model = new TapeModel();
        const fd = await m.open('/dev/nst0');
        const CODES: Record<string, number> = { weof: mt.MTWEOF, rew: mt.MTREW, fsf: mt.MTFSF, bsf: mt.MTBSF, fsr: mt.MTFSR, bsr: mt.MTBSR, eom: mt.MTEOM };
        let serial = 0;
        for (const op of ops) {
          const want = model.apply(op);
          let got: { data?: number; err?: string };
          try {
            if (op.k === 'write') got = { data: await m.write(fd, new Uint8Array(op.len).fill(++serial & 0xff)) };
            else if (op.k === 'read') {
              const b = await m.read(fd, op.len);
              got = { data: b.length };
            } else {
              await m.op(fd, CODES[op.k]!, 'n' in op ? op.n : 1);
              got = {};
            }
          } catch (e) {
            got = { err: (e as { code: string }).code };
          }
          expect(got, `${JSON.stringify(op)} on ${JSON.stringify(model.items)}`).toEqual(want);
          expect(m.layout().split(',').filter(Boolean).map((x) => (x === 'FM' ? 'FM' : Number(x))), JSON.stringify(op)).toEqual(model.items);
          expect(m.tape.pos, JSON.stringify(op)).toBe(model.pos);
        }
        await m.close(fd);
      }),
      { numRuns: 60 },
    );
  });
});
