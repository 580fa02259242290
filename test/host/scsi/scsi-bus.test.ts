// The bus: device lookup, address checks, request kinds, target emulation (missing LUNs), unit
// attention precedence and clearing (QEMU 7.2), cancel/purge, reset and hot-plug.
import { describe, expect, it } from 'vitest';
import { CHECK_CONDITION, GOOD } from '../../../src/host/scsi/scsi.ts';
import { SENSE } from '../../../src/host/scsi/scsi-sense.ts';
import { hex, only } from '../../fakes/test_hba.ts';
import { addCd, addHd, fixedSense, rig, MiB } from './setup.ts';

const TUR = [0, 0, 0, 0, 0, 0];
const INQ36 = [0x12, 0, 0, 0, 36, 0];
const REPORT_LUNS = [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0];
const senseOf = (o: ReturnType<typeof only>): number[] => (o.kind === 'complete' ? Array.from(o.sense) : []);

describe('addressing', () => {
  it('checkAddress and assignAddress give QEMU error texts', () => {
    const r = rig();
    addHd(r, { size: MiB });
    expect(r.bus.checkAddress(1, 0, 0)).toBe('bad scsi channel id: 1');
    expect(r.bus.checkAddress(0, 256, 0)).toBe('bad scsi device id: 256');
    expect(r.bus.checkAddress(0, 0, 16384)).toBe('bad scsi device lun: 16384');
    expect(r.bus.checkAddress(0, 0, 0)).toBe("lun already used by 'hd0'");
    expect(r.bus.assignAddress(0, -1, -1)).toEqual({ id: 1, lun: 0 }); // lowest id with LUN 0 free
    expect(r.bus.assignAddress(0, 0, -1)).toEqual({ id: 0, lun: 1 }); // lowest free LUN
  });

  it('do_scsi_device_find: exact LUN, else the first device of the target, else none', () => {
    const r = rig();
    const { disk } = addHd(r, { size: MiB });
    expect(r.bus.findDevice(0, 0, 0)).toBe(disk);
    expect(r.bus.findDevice(0, 0, 5)).toBe(disk);
    expect(r.bus.findDevice(0, 1, 0)).toBeUndefined();
    expect(r.hba.submit(TUR, { id: 1 })).toBeUndefined(); // → virtio BAD_TARGET
  });
});

describe('target emulation (no device at that LUN)', () => {
  function sparse(): ReturnType<typeof rig> {
    const r = rig();
    addHd(r, { size: MiB, props: { scsiId: 7, lun: 3 } });
    return r;
  }

  it('INQUIRY to LUN 0 of a target without LU 0 → "QEMU TARGET", PQ=1 PDT=0x1f', () => {
    const o = only(sparse().hba.submit(INQ36, { id: 7, lun: 0 }));
    expect(o.kind === 'complete' && o.status).toBe(GOOD);
    if (o.kind !== 'complete') return;
    expect(o.data[0]).toBe(0x3f); // PQ 1, PDT 0x1f
    expect(o.data[2]).toBe(5); // version
    expect(o.data[3]).toBe(0x12); // HiSup, format 2
    expect(o.data[4]).toBe(31); // additional length
    expect(o.data[7]).toBe(0x12); // Sync, CmdQue
    expect(new TextDecoder().decode(o.data.subarray(8, 32))).toBe('QEMU    QEMU TARGET     ');
    expect(hex(o.data.subarray(32, 36))).toBe('32 2e 35 00'); // pstrcpy(…, 4, "2.5+") keeps 3 chars
    expect(o.resid).toBe(0);
  });

  it('INQUIRY to another missing LUN → PQ=3 (0x7f), rest zero', () => {
    const o = only(sparse().hba.submit(INQ36, { id: 7, lun: 1 }));
    expect(o.kind === 'complete' && hex(o.data.subarray(0, 4))).toBe('7f 00 00 00');
  });

  it('INQUIRY EVPD page 0 → 00 00 01 00; other pages → 5/24/00', () => {
    const r = sparse();
    const o = only(r.hba.submit([0x12, 1, 0, 0, 36, 0], { id: 7, lun: 0 }));
    expect(o.kind === 'complete' && hex(o.data.subarray(0, 4))).toBe('00 00 01 00');
    expect(o.kind === 'complete' && o.resid).toBe(32); // only 4 bytes transferred
    expect(senseOf(only(r.hba.submit([0x12, 1, 0x83, 0, 36, 0], { id: 7, lun: 0 })))).toEqual(fixedSense(5, 0x24, 0));
  });

  it('REPORT LUNS to LUN 0 lists LUN 0 and every device of the target; alloc < 16 → 5/24/00', () => {
    const r = sparse();
    const o = only(r.hba.submit(REPORT_LUNS, { id: 7, lun: 0 }));
    expect(o.kind === 'complete' && hex(o.data.subarray(0, 16))).toBe('00 00 00 10 00 00 00 00 00 00 00 00 00 00 00 00');
    const r2 = rig();
    addHd(r2, { size: MiB, props: { scsiId: 7, lun: 300 } });
    const o2 = only(r2.hba.submit([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x18, 0, 0, 0], { id: 7, lun: 0 }));
    expect(o2.kind === 'complete' && hex(o2.data.subarray(16, 24))).toBe('41 2c 00 00 00 00 00 00'); // flat space LUN 300
    expect(senseOf(only(r.hba.submit([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], { id: 7, lun: 0 })))).toEqual(fixedSense(5, 0x24, 0)); // alloc 8
  });

  it('TEST UNIT READY: GOOD on LUN 0, 5/25/00 elsewhere; other opcodes 5/20/00 on LUN 0', () => {
    const r = sparse();
    expect(only(r.hba.submit(TUR, { id: 7, lun: 0 }))).toMatchObject({ status: GOOD });
    expect(senseOf(only(r.hba.submit(TUR, { id: 7, lun: 2 })))).toEqual(fixedSense(5, 0x25, 0));
    expect(senseOf(only(r.hba.submit([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], { id: 7, lun: 0 })))).toEqual(fixedSense(5, 0x20, 0));
  });

  it('REQUEST SENSE to a missing LUN returns 25/00 sense data (fixed, 18 bytes)', () => {
    const o = only(sparse().hba.submit([3, 0, 0, 0, 18, 0], { id: 7, lun: 2 }));
    expect(o.kind === 'complete' && o.status).toBe(GOOD);
    expect(o.kind === 'complete' && Array.from(o.data)).toEqual(fixedSense(5, 0x25, 0));
  });
});

describe('unit attention', () => {
  it('after reset the first command gets 6/29/00, then GOOD; INQUIRY neither fails nor clears it', () => {
    const r = rig();
    addHd(r, { size: MiB });
    r.bus.reset();
    expect(only(r.hba.submit(INQ36)).kind === 'complete').toBe(true);
    expect(only(r.hba.submit(INQ36))).toMatchObject({ status: GOOD });
    const o = only(r.hba.submit(TUR));
    expect(o).toMatchObject({ status: CHECK_CONDITION });
    expect(senseOf(o)).toEqual(fixedSense(6, 0x29, 0));
    expect(only(r.hba.submit(TUR))).toMatchObject({ status: GOOD });
    expect(r.events.filter(([e]) => e === 'scsi_device_set_ua')[0]?.[1]).toEqual({ target: 0, lun: 0, key: 6, asc: 0x29, ascq: 0 });
  });

  it('precedence: 29/00 is not replaced by 3F/0E or 2A/09, but replaces them', () => {
    const r = rig();
    const { disk } = addHd(r, { size: MiB });
    disk.setUa(SENSE.REPORTED_LUNS_CHANGED);
    disk.setUa(SENSE.RESET);
    disk.setUa(SENSE.CAPACITY_CHANGED);
    expect(disk.unitAttention).toEqual(SENSE.RESET);
    disk.setUa(SENSE.DEVICE_INTERNAL_RESET); // 29/04 ranks 1, after 29/00 (0)
    expect(disk.unitAttention).toEqual(SENSE.RESET);
    disk.unitAttention = SENSE.SCSI_BUS_RESET; // 29/02 ranks 2
    disk.setUa(SENSE.DEVICE_INTERNAL_RESET);
    expect(disk.unitAttention).toEqual(SENSE.DEVICE_INTERNAL_RESET);
    disk.setUa(SENSE.NO_SENSE); // not a UA: ignored
    expect(disk.unitAttention).toEqual(SENSE.DEVICE_INTERNAL_RESET);
  });

  it('device UA is reported before the bus UA (hot-plug on an existing target: 29/00 then 3F/0E)', () => {
    const r = rig();
    addHd(r, { size: MiB });
    const { disk: cd } = addCd(r);
    cd.reset();
    r.bus.setBusUnitAttention(SENSE.REPORTED_LUNS_CHANGED);
    expect(senseOf(only(r.hba.submit(TUR, { lun: 1 })))).toEqual(fixedSense(6, 0x29, 0));
    expect(senseOf(only(r.hba.submit(TUR, { lun: 1 })))).toEqual(fixedSense(6, 0x3f, 0x0e));
    expect(only(r.hba.submit(TUR, { lun: 1 }))).toMatchObject({ status: GOOD });
  });

  it('REPORT LUNS silently clears a pending 3F/0E but not a 29/00', () => {
    const r = rig();
    const { disk } = addHd(r, { size: MiB });
    r.bus.setBusUnitAttention(SENSE.REPORTED_LUNS_CHANGED);
    expect(only(r.hba.submit(REPORT_LUNS))).toMatchObject({ status: GOOD });
    expect(only(r.hba.submit(TUR))).toMatchObject({ status: GOOD });
    disk.setUa(SENSE.RESET);
    expect(only(r.hba.submit(REPORT_LUNS))).toMatchObject({ status: GOOD });
    expect(senseOf(only(r.hba.submit(TUR)))).toEqual(fixedSense(6, 0x29, 0));
  });

  it('QEMU 7.2: two requests created before either runs both report the UA (cleared at completion)', () => {
    const r = rig();
    const { disk } = addHd(r, { size: MiB });
    disk.setUa(SENSE.RESET);
    const a = r.bus.newRequest({ channel: 0, id: 0, lun: 0, tag: 1n, cdb: Uint8Array.from(TUR), hba: r.hba })!;
    const b = r.bus.newRequest({ channel: 0, id: 0, lun: 0, tag: 2n, cdb: Uint8Array.from(TUR), hba: r.hba })!;
    a.hbaPrivate = { req: a, data: new Uint8Array(0), outcomes: [] };
    b.hbaPrivate = { req: b, data: new Uint8Array(0), outcomes: [] };
    a.enqueue(null);
    b.enqueue(null);
    expect(a.senseLen).toBe(18);
    expect(Array.from(b.sense.subarray(0, 18))).toEqual(fixedSense(6, 0x29, 0));
  });
});

describe('cancel, purge, hot-plug', () => {
  it('cancelling in-flight block I/O tells the HBA once and the completion never arrives', async () => {
    const r = rig();
    addHd(r, { size: MiB });
    const e = r.hba.submit([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0])!;
    e.req.cancel(false);
    await r.loop.runUntilIdle();
    expect(e.outcomes).toEqual([{ kind: 'cancelled', reset: false }]);
    e.req.cancel(true);
    expect(e.outcomes.length).toBe(1);
  });

  it('device reset cancels outstanding requests with reset=true and sets 29/00', async () => {
    const r = rig();
    const { disk } = addHd(r, { size: MiB });
    const e = r.hba.submit([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0])!;
    expect(disk.requests()).toEqual([e.req]);
    disk.reset();
    await r.loop.runUntilIdle();
    expect(e.outcomes).toEqual([{ kind: 'cancelled', reset: true }]);
    expect(disk.unitAttention).toEqual(SENSE.RESET);
  });

  it('hotplug cold-resets the new LU (29/00); detach purges and the address answers BAD_TARGET', async () => {
    const r = rig();
    const { disk } = addHd(r, { size: MiB });
    r.bus.detach(disk);
    const { disk: cd } = addCd(r);
    r.bus.detach(cd);
    expect(r.bus.hotplug(cd)).toBeNull();
    expect(cd.unitAttention).toEqual(SENSE.RESET);
    const e = r.hba.submit([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], { lun: 1 });
    expect(e && senseOf(only(e))).toEqual(fixedSense(6, 0x29, 0));
    const e2 = r.hba.submit([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], { lun: 1 })!;
    r.bus.detach(cd);
    await r.loop.runUntilIdle();
    expect(e2.outcomes).toEqual([{ kind: 'cancelled', reset: false }]);
    expect(r.hba.submit(TUR, { lun: 1 })).toBeUndefined();
  });
});
