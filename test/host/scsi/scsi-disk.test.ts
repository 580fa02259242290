// scsi-hd / scsi-cd behaviour beyond the golden bytes: block I/O through the event loop, QEMU's sense for
// each failure, rerror/werror, MODE SELECT, UNMAP / WRITE SAME, tray and medium changes.
import { describe, expect, it } from 'vitest';
import { CHECK_CONDITION, GOOD } from '../../../src/host/scsi/scsi.ts';
import { SENSE } from '../../../src/host/scsi/scsi-sense.ts';
import type { ScsiReq } from '../../../src/host/scsi/scsi-bus.ts';
import { hex, only, type Outcome } from '../../fakes/test_hba.ts';
import { addCd, addHd, fixedSense, rig, MiB } from './setup.ts';

const TUR = [0, 0, 0, 0, 0, 0];
const senseOf = (o: Outcome): number[] => (o.kind === 'complete' ? Array.from(o.sense) : []);
const read10 = (lba: number, n: number, flags = 0): number[] => [0x28, flags, 0, 0, lba >> 8, lba & 0xff, 0, 0, n, 0];
const write10 = (lba: number, n: number, flags = 0): number[] => [0x2a, flags, 0, 0, lba >> 8, lba & 0xff, 0, 0, n, 0];

describe('block I/O', () => {
  it('WRITE(10) then READ(10) round-trips through the backend, completing on the event loop', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    const data = new Uint8Array(1024).map((_, i) => (i * 7) & 0xff);
    const w = r.hba.submit(write10(3, 2), { dataOut: data })!;
    expect(w.outcomes).toEqual([]);
    await r.loop.runUntilIdle();
    expect(only(w)).toMatchObject({ kind: 'complete', status: GOOD, resid: 0 });
    expect(hex(image.bytes().subarray(3 * 512, 3 * 512 + 4))).toBe(hex(data.subarray(0, 4)));
    const rd = r.hba.submit(read10(3, 2))!;
    await r.loop.runUntilIdle();
    expect(only(rd)).toMatchObject({ status: GOOD });
    expect(rd.data).toEqual(data);
    expect(r.events.find(([e]) => e === 'scsi_disk_dma_command_WRITE')?.[1]).toEqual({ cmd: '', lba: 3, len: 2 });
  });

  it('READ(6) with transfer length 0 reads 256 blocks', async () => {
    const r = rig();
    addHd(r, { size: MiB });
    const e = r.hba.submit([0x08, 0, 0, 0, 0, 0])!;
    expect(e.req.xfer).toBe(256 * 512);
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
  });

  it('LBA out of range → 5/21/00; 0-block READ at the end → GOOD; RDPROTECT → 5/24/00', () => {
    const r = rig();
    addHd(r, { size: MiB }); // 2048 blocks
    expect(senseOf(only(r.hba.submit(read10(2047, 2))))).toEqual(fixedSense(5, 0x21, 0));
    expect(only(r.hba.submit(read10(2048, 0)))).toMatchObject({ status: GOOD });
    expect(senseOf(only(r.hba.submit(read10(0, 1, 0x20))))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('write to a read-only drive → 7/27/00; MODE SENSE shows WP', () => {
    const r = rig();
    addHd(r, { size: MiB, drive: { readOnly: true } });
    expect(senseOf(only(r.hba.submit(write10(0, 1), { dataOut: new Uint8Array(512) })))).toEqual(fixedSense(7, 0x27, 0));
    const o = only(r.hba.submit([0x1a, 0, 0x3f, 0, 4, 0]));
    expect(o.kind === 'complete' && o.data[2]).toBe(0x80); // device-specific parameter: WP
  });

  it('WRITE(10) with FUA flushes before GOOD', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    const ops: string[] = [];
    image.blk.faultHook = (op) => (ops.push(op), null);
    r.hba.submit(write10(0, 1, 0x08), { dataOut: new Uint8Array(512) });
    await r.loop.runUntilIdle();
    expect(ops).toEqual(['write', 'flush']);
  });

  it('SYNCHRONIZE CACHE(10) flushes; unknown opcode 0xff-group → 5/20/00 without medium check on a disk', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    const ops: string[] = [];
    image.blk.faultHook = (op) => (ops.push(op), null);
    const e = r.hba.submit([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0])!;
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
    expect(ops).toEqual(['flush']);
    expect(senseOf(only(r.hba.submit([0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])))).toEqual(fixedSense(5, 0x20, 0));
  });
});

describe('rerror / werror', () => {
  it('EIO with rerror=report → CHECK CONDITION B/00/06 and one BLOCK_IO_ERROR (no nospace)', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    image.blk.faultHook = (op) => (op === 'read' ? 'EIO' : null);
    const evs: unknown[] = [];
    image.blk.onIoError = (ev) => evs.push(ev);
    const e = r.hba.submit(read10(0, 1))!;
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: CHECK_CONDITION });
    expect(senseOf(only(e))).toEqual(fixedSense(0xb, 0x00, 0x06));
    expect(evs).toEqual([{ device: 'scsi0', nodeName: undefined, operation: 'read', action: 'report', reason: 'Input/output error' }]);
  });

  it('ENOSPC with werror=enospc and no stop hook → reported as 7/27/07', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    image.blk.faultHook = (op) => (op === 'write' ? 'ENOSPC' : null);
    const e = r.hba.submit(write10(0, 1), { dataOut: new Uint8Array(512) })!;
    await r.loop.runUntilIdle();
    expect(senseOf(only(e))).toEqual(fixedSense(7, 0x27, 0x07));
  });

  it('rerror=ignore → GOOD', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB, drive: { rerror: 'ignore' } });
    image.blk.faultHook = () => 'EIO';
    const e = r.hba.submit(read10(0, 1))!;
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
  });

  it('rerror=stop parks the request in onStop; retry re-reads and completes GOOD', async () => {
    const r = rig();
    let parked: { req: ScsiReq; retry: () => void } | undefined;
    const { image } = addHd(r, { size: MiB, drive: { rerror: 'stop' }, hooks: { onStop: (req, retry) => (parked = { req, retry }) } });
    let fail = true;
    image.blk.faultHook = () => (fail ? 'EIO' : null);
    const e = r.hba.submit(read10(0, 1))!;
    await r.loop.runUntilIdle();
    expect(e.outcomes).toEqual([]);
    expect(parked?.req).toBe(e.req);
    expect(image.blk.ioStatus).toBe('failed');
    fail = false;
    parked!.retry();
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
  });
});

describe('emulated commands', () => {
  it('MODE SENSE page control 3 (saved) → 5/39/00; changeable caching page has WCE', () => {
    const r = rig();
    addHd(r, { size: MiB });
    expect(senseOf(only(r.hba.submit([0x1a, 0, 0xc8, 0, 32, 0])))).toEqual(fixedSense(5, 0x39, 0));
    const o = only(r.hba.submit([0x1a, 0x08, 0x48, 0, 32, 0])); // DBD, PC=1, page 8
    expect(o.kind === 'complete' && hex(o.data.subarray(0, 8))).toBe('17 00 00 00 08 12 04 00');
  });

  it('MODE SELECT(6) of the caching page with WCE=0 turns the write cache off (and flushes)', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    const page = new Uint8Array(4 + 20);
    page[4] = 0x08; // page code: caching
    page[5] = 0x12; // page length
    const e = r.hba.submit([0x15, 0x10, 0, 0, 24, 0], { dataOut: page })!;
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
    expect(image.blk.enableWriteCache).toBe(false);
    page[7] = 0x01; // a non-changeable bit
    expect(senseOf(only(r.hba.submit([0x15, 0x10, 0, 0, 24, 0], { dataOut: page })))).toEqual(fixedSense(5, 0x26, 0));
    expect(senseOf(only(r.hba.submit([0x15, 0x11, 0, 0, 24, 0], { dataOut: page })))).toEqual(fixedSense(5, 0x24, 0)); // SP=1
    expect(senseOf(only(r.hba.submit([0x15, 0x10, 0, 0, 2, 0], { dataOut: page.subarray(0, 2) })))).toEqual(fixedSense(5, 0x1a, 0));
  });

  it('UNMAP zeroes the range; a descriptor past the end → 5/21/00; ANCHOR → 5/24/00', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    const w = r.hba.submit(write10(4, 1), { dataOut: new Uint8Array(512).fill(0xaa) })!;
    await r.loop.runUntilIdle();
    expect(only(w)).toMatchObject({ status: GOOD });
    const list = new Uint8Array(24);
    list[1] = 22; // data length
    list[3] = 16; // block descriptor data length
    list[15] = 4; // LBA 4
    list[19] = 1; // 1 block
    const u = r.hba.submit([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: list })!;
    await r.loop.runUntilIdle();
    expect(only(u)).toMatchObject({ status: GOOD });
    expect(image.bytes()[4 * 512]).toBe(0);
    list[14] = 0x10; // LBA 4096: past the end
    const bad = r.hba.submit([0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: list })!;
    await r.loop.runUntilIdle();
    expect(senseOf(only(bad))).toEqual(fixedSense(5, 0x21, 0));
    expect(senseOf(only(r.hba.submit([0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0], { dataOut: list })))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('WRITE SAME(10) replicates the block; 0 blocks → 5/24/00', async () => {
    const r = rig();
    const { image } = addHd(r, { size: MiB });
    const e = r.hba.submit([0x41, 0, 0, 0, 0, 8, 0, 0, 3, 0], { dataOut: new Uint8Array(512).fill(0x5a) })!;
    await r.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
    const b = image.bytes();
    expect([b[8 * 512], b[10 * 512 + 511], b[11 * 512]]).toEqual([0x5a, 0x5a, 0]);
    expect(senseOf(only(r.hba.submit([0x41, 0, 0, 0, 0, 8, 0, 0, 0, 0], { dataOut: new Uint8Array(512) })))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('VERIFY(10) with BYTCHK → 5/24/00, without → GOOD; READ CAPACITY(10) with PMI=0 and LBA ≠ 0 → 5/24/00', () => {
    const r = rig();
    addHd(r, { size: MiB });
    expect(only(r.hba.submit([0x2f, 0, 0, 0, 0, 0, 0, 0, 1, 0]))).toMatchObject({ status: GOOD });
    expect(senseOf(only(r.hba.submit([0x2f, 2, 0, 0, 0, 0, 0, 0, 1, 0], { dataOut: new Uint8Array(512) })))).toEqual(fixedSense(5, 0x24, 0));
    expect(senseOf(only(r.hba.submit([0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0])))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('REQUEST SENSE returns NO SENSE (fixed 18 bytes, or descriptor with DESC=1)', () => {
    const r = rig();
    addHd(r, { size: MiB });
    const o = only(r.hba.submit([3, 0, 0, 0, 18, 0]));
    expect(o.kind === 'complete' && Array.from(o.data)).toEqual(fixedSense(0, 0, 0));
    const d = only(r.hba.submit([3, 1, 0, 0, 8, 0]));
    expect(d.kind === 'complete' && hex(d.data)).toBe('72 00 00 00 00 00 00 00');
  });

  it('allocation length > 65536 → 5/24/00; INQUIRY with page code but EVPD=0 → 5/24/00', () => {
    const r = rig();
    addHd(r, { size: MiB });
    // SERVICE ACTION IN(16) / READ CAPACITY(16) with allocation length 0x20000
    expect(senseOf(only(r.hba.submit([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0], { dataIn: 32 })))).toEqual(fixedSense(5, 0x24, 0));
    expect(senseOf(only(r.hba.submit([0x12, 0, 0x83, 0, 36, 0])))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('serial gives VPD 0x80 and becomes the default device_id; wwn adds an NAA designator', () => {
    const r = rig();
    addHd(r, { size: MiB, props: { serial: 'SER123', wwn: 0x5000c50015ea71acn } });
    const p0 = only(r.hba.submit([0x12, 1, 0, 0, 10, 0]));
    expect(p0.kind === 'complete' && hex(p0.data)).toBe('00 00 00 06 00 80 83 b0 b1 b2');
    const p80 = only(r.hba.submit([0x12, 1, 0x80, 0, 10, 0]));
    expect(p80.kind === 'complete' && hex(p80.data)).toBe('00 80 00 06 53 45 52 31 32 33');
    const p83 = only(r.hba.submit([0x12, 1, 0x83, 0, 26, 0]));
    expect(p83.kind === 'complete' && hex(p83.data)).toBe(
      '00 83 00 16 02 00 00 06 53 45 52 31 32 33 01 03 00 08 50 00 c5 00 15 ea 71 ac',
    );
  });

  it('a blockdev-add node without name, serial or device_id has an empty VPD 0x83', () => {
    const r = rig();
    addHd(r, { size: MiB, drive: { name: undefined } });
    const o = only(r.hba.submit([0x12, 1, 0x83, 0, 4, 0]));
    expect(o.kind === 'complete' && hex(o.data)).toBe('00 83 00 00');
  });
});

describe('scsi-cd tray and media', () => {
  it('START STOP UNIT LoEj while locked → 5/53/02; after ALLOW it opens the tray and TUR gets 2/3A/00', () => {
    const r = rig();
    const moved: boolean[] = [];
    const { disk } = addCd(r, { hooks: { onTrayMoved: (o) => moved.push(o) } });
    only(r.hba.submit([0x1e, 0, 0, 0, 1, 0], { lun: 1 }));
    expect(disk.isMediumLocked()).toBe(true);
    expect(senseOf(only(r.hba.submit([0x1b, 0, 0, 0, 2, 0], { lun: 1 })))).toEqual(fixedSense(5, 0x53, 0x02));
    only(r.hba.submit([0x1e, 0, 0, 0, 0, 0], { lun: 1 }));
    expect(only(r.hba.submit([0x1b, 0, 0, 0, 2, 0], { lun: 1 }))).toMatchObject({ status: GOOD });
    expect(moved).toEqual([true]);
    expect(senseOf(only(r.hba.submit(TUR, { lun: 1 })))).toEqual(fixedSense(2, 0x3a, 0));
    // an unsupported opcode with the tray open also gets NO MEDIUM: the check comes first
    expect(senseOf(only(r.hba.submit([0x52, 1, 0, 0, 0, 1, 0, 0, 8, 0], { lun: 1 })))).toEqual(fixedSense(2, 0x3a, 0));
    expect(only(r.hba.submit([0x1b, 0, 0, 0, 3, 0], { lun: 1 }))).toMatchObject({ status: GOOD }); // load
    expect(only(r.hba.submit(TUR, { lun: 1 }))).toMatchObject({ status: GOOD });
  });

  it('medium change from the monitor: UA 3A/00, then 28/00, then GOOD; GESN reports new media once', () => {
    const r = rig();
    const { disk } = addCd(r);
    disk.changeMediaCb(false); // unload
    disk.changeMediaCb(true); // load
    expect(senseOf(only(r.hba.submit(TUR, { lun: 1 })))).toEqual(fixedSense(6, 0x3a, 0));
    expect(senseOf(only(r.hba.submit(TUR, { lun: 1 })))).toEqual(fixedSense(6, 0x28, 0));
    expect(only(r.hba.submit(TUR, { lun: 1 }))).toMatchObject({ status: GOOD });
    const g = only(r.hba.submit([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], { lun: 1 }));
    expect(g.kind === 'complete' && hex(g.data)).toBe('00 04 04 10 02 02 00 00'); // new media, media present
    const g2 = only(r.hba.submit([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], { lun: 1 }));
    expect(g2.kind === 'complete' && hex(g2.data)).toBe('00 04 04 10 00 02 00 00');
  });

  it('eject request while locked is reported by GESN; GESN on a disk or not polled → 5/24/00', () => {
    const r = rig();
    addHd(r, { size: MiB });
    const { disk } = addCd(r);
    disk.trayLocked = true;
    disk.ejectRequestCb(false);
    const g = only(r.hba.submit([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], { lun: 1 }));
    expect(g.kind === 'complete' && g.data[4]).toBe(1); // eject requested
    expect(disk.isMediumLocked()).toBe(true);
    expect(senseOf(only(r.hba.submit([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0])))).toEqual(fixedSense(5, 0x24, 0));
    expect(senseOf(only(r.hba.submit([0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0], { lun: 1 })))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('empty drive: TUR 2/3A/00, INQUIRY still answers, GET CONFIGURATION profile none', () => {
    const r = rig();
    const { disk, image } = addCd(r);
    image.blk.removeMedium();
    expect(senseOf(only(r.hba.submit(TUR, { lun: 1 })))).toEqual(fixedSense(2, 0x3a, 0));
    expect(only(r.hba.submit([0x12, 0, 0, 0, 36, 0], { lun: 1 }))).toMatchObject({ status: GOOD });
    const c = only(r.hba.submit([0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0], { lun: 1 }));
    expect(c.kind === 'complete' && hex(c.data)).toBe('00 00 00 24 00 00 00 00');
    expect(disk.available).toBe(false);
  });

  it('READ DVD STRUCTURE on CD media → 5/30/00; MECHANISM STATUS is 8 bytes with one slot', () => {
    const r = rig();
    addCd(r);
    expect(senseOf(only(r.hba.submit([0xad, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], { lun: 1 })))).toEqual(fixedSense(5, 0x30, 0));
    const m = only(r.hba.submit([0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], { lun: 1 }));
    expect(m.kind === 'complete' && hex(m.data)).toBe('00 00 00 00 00 01 00 00');
  });

  it('reset unlocks and closes the tray and sets 29/00', () => {
    const r = rig();
    const { disk } = addCd(r);
    disk.trayLocked = true;
    disk.trayOpen = true;
    disk.reset();
    expect([disk.trayLocked, disk.trayOpen]).toEqual([false, false]);
    expect(disk.unitAttention).toEqual(SENSE.RESET);
  });
});

describe('resize', () => {
  it('block_resize sets 2A/09 on a disk and notifies the HBA (PARAM_CHANGE)', () => {
    const r = rig();
    const changes: string[] = [];
    r.bus.onChange = (_d, s) => changes.push(`${s.asc}/${s.ascq}`);
    const { image } = addHd(r, { size: MiB });
    expect(image.blk.resize(2 * MiB)).toBeNull();
    expect(senseOf(only(r.hba.submit(TUR)))).toEqual(fixedSense(6, 0x2a, 0x09));
    expect(changes).toEqual(['42/9']);
    const o = only(r.hba.submit([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(o.kind === 'complete' && hex(o.data)).toBe('00 00 0f ff 00 00 02 00');
  });
});
