import { describe, expect, it } from 'vitest';
import { makeRig } from './setup.ts';
import { FakeDevice } from '../../fakes/fake_scsi_bus.ts';
import { HOST_STATUS_RESPONSE } from '../../../src/host/scsi/virtio-scsi.ts';
import type { ScsiHostStatus } from '../../../src/host/scsi/scsi.ts';
import { LINUX_FEATURES } from '../../fakes/mini_virtio_driver.ts';

const INQUIRY_36 = [0x12, 0, 0, 0, 36, 0];
const INQUIRY_DATA = Uint8Array.from([
  0x00, 0x00, 0x05, 0x12, 0x1f, 0x00, 0x00, 0x12, // disk, SPC-3, HiSup, addl len 31, CmdQue
  ...Array.from('QEMU    QEMU HARDDISK   2.5+', (c) => c.charCodeAt(0)),
]);
const UA_29_00 = [0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x00, 0, 0, 0, 0];

describe('request queue', () => {
  it('INQUIRY round trip: response header and data byte-exact, used len = data + response', async () => {
    const { drv } = makeRig({ handler: () => ({ status: 0, dataIn: INQUIRY_DATA }) });
    drv.init();
    const r = (await drv.doCommand(0, 0, INQUIRY_36, undefined, 36))!;
    expect(Array.from(r.resp.subarray(0, 12))).toEqual([
      0, 0, 0, 0, // sense_len
      0, 0, 0, 0, // residual
      0, 0, // status_qualifier
      0x00, // status GOOD
      0x00, // response OK
    ]);
    expect(r.resp.subarray(12).every((b) => b === 0)).toBe(true); // sense area untouched
    expect(Array.from(r.dataIn)).toEqual(Array.from(INQUIRY_DATA));
    expect(r.usedLen).toBe(36 + 108);
  });

  it('residual is reported for a short GOOD transfer', async () => {
    const { drv } = makeRig({ handler: () => ({ status: 0, dataIn: INQUIRY_DATA }) });
    drv.init();
    const r = (await drv.doCommand(0, 0, [0x12, 0, 0, 0, 96, 0], undefined, 96))!;
    expect(r.resid).toBe(60);
    expect(r.usedLen).toBe(96 + 108);
  });

  it('CHECK CONDITION: status 2, sense copied, sense_len 18, residual 0', async () => {
    const { drv } = makeRig({ handler: () => ({ status: 2, sense: UA_29_00 }) });
    drv.init();
    const r = (await drv.doCommand(0, 0, [0x00, 0, 0, 0, 0, 0]))!;
    expect(Array.from(r.resp.subarray(0, 12))).toEqual([
      18, 0, 0, 0, // sense_len
      0, 0, 0, 0, // residual
      0, 0, // status_qualifier
      0x02, // CHECK CONDITION
      0x00, // response OK
    ]);
    expect(Array.from(r.sense)).toEqual(UA_29_00);
    expect(r.usedLen).toBe(108);
  });

  it('sense is clipped to a smaller sense_size set by the driver', async () => {
    const { drv } = makeRig({ handler: () => ({ status: 2, sense: UA_29_00 }) });
    drv.init();
    drv.devWrite(20, 4, 8);
    drv.senseSize = 8;
    const r = (await drv.doCommand(0, 0, [0x00, 0, 0, 0, 0, 0]))!;
    expect(r.senseLen).toBe(8);
    expect(Array.from(r.sense)).toEqual(UA_29_00.slice(0, 8));
  });

  it('BAD_TARGET for an empty target, without reaching the bus', async () => {
    const { drv, bus } = makeRig();
    drv.init();
    const r = (await drv.doCommand(5, 0, INQUIRY_36, undefined, 36))!;
    expect(r.response).toBe(3);
    expect(Array.from(r.resp.subarray(0, 11))).toEqual(Array(11).fill(0));
    expect(r.usedLen).toBe(36 + 108);
    expect(bus.submitted.length).toBe(0);
  });

  it('BAD_TARGET for a malformed LUN address (lun[0] != 1, bad lun[2])', async () => {
    const { drv, mem } = makeRig();
    drv.init();
    for (const [b0, b2] of [[2, 0x40], [1, 0x80], [1, 0x20]] as const) {
      const p = drv.startCommand(0, 0, INQUIRY_36, undefined, 36, { kick: false });
      const hdr = mem.read64(drv.queues[2]!.desc + p.head * 16); // indirect table
      const first = Number(mem.read64(Number(hdr)));
      mem.write8(first, b0);
      mem.write8(first + 2, b2);
      drv.kick(2);
      expect((await drv.finish(p))!.response).toBe(3);
    }
  });

  it('OVERRUN when the CDB wants more than the buffers hold, or the other direction', async () => {
    const { drv, bus } = makeRig({ handler: () => ({ status: 0, dataIn: INQUIRY_DATA }) });
    drv.init();
    expect((await drv.doCommand(0, 0, INQUIRY_36, undefined, 20))!.response).toBe(1);
    expect((await drv.doCommand(0, 0, INQUIRY_36, new Uint8Array(36)))!.response).toBe(1);
    expect((await drv.doCommand(0, 0, INQUIRY_36))!.response).toBe(1);
    expect(bus.submitted.length).toBe(0);
    // A command without data goes through whatever the buffers
    expect((await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0], undefined, 512))!.response).toBe(0);
  });

  it('FAILURE when a request has both data-out and data-in buffers', async () => {
    const { drv, bus } = makeRig();
    drv.init();
    const r = (await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0], new Uint8Array(512), 512))!;
    expect(r.response).toBe(9);
    expect(r.usedLen).toBe(512 + 512 + 108);
    expect(bus.submitted.length).toBe(0);
  });

  it('WRITE(10) data reaches the bus', async () => {
    let seen: Uint8Array | null = null;
    const { drv } = makeRig({ handler: (_c, _d, out) => ((seen = out), { status: 0 }) });
    drv.init();
    const data = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
    const r = (await drv.doCommand(0, 0, [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], data))!;
    expect(r.response).toBe(0);
    expect(Array.from(seen!)).toEqual(Array.from(data));
  });

  it('works without indirect descriptors and on every request queue', async () => {
    const { drv } = makeRig({ handler: () => ({ status: 0, dataIn: INQUIRY_DATA }) });
    drv.init(LINUX_FEATURES & ~(1n << 28n));
    for (const q of [2, 3]) {
      const r = (await drv.doCommand(0, 0, INQUIRY_36, undefined, 36, { q }))!;
      expect(r.response).toBe(0);
      expect(r.dataIn[8]).toBe(0x51); // 'Q'
    }
  });

  it.each(Object.entries(HOST_STATUS_RESPONSE))('host failure %s → response %i', async (reason, resp) => {
    const { drv } = makeRig({ handler: () => ({ fail: reason as ScsiHostStatus }) });
    drv.init();
    const r = (await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]))!;
    expect(r.response).toBe(resp);
    expect(r.status).toBe(0);
  });

  it('trace: virtio_scsi_cmd_req / virtio_scsi_cmd_resp with QEMU\'s argument names', async () => {
    const { drv, trace } = makeRig({ traced: true });
    drv.init();
    const p = drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await drv.finish(p);
    const scsi = trace.filter((t) => t.event.startsWith('virtio_scsi_'));
    expect(scsi).toEqual([
      { event: 'virtio_scsi_cmd_req', args: { lun: 0, tag: p.tag, cmd: 0 } },
      { event: 'virtio_scsi_cmd_resp', args: { lun: 0, tag: p.tag, response: 0, status: 0 } },
    ]);
    expect(trace.some((t) => t.event === 'virtio_queue_notify')).toBe(true);
    expect(trace.some((t) => t.event === 'virtio_notify')).toBe(true);
  });
});

describe('control queue', () => {
  const TMF = { ABORT_TASK: 0, ABORT_TASK_SET: 1, CLEAR_ACA: 2, CLEAR_TASK_SET: 3, I_T_NEXUS_RESET: 4, LUN_RESET: 5, QUERY_TASK: 6, QUERY_TASK_SET: 7 };

  it('LOGICAL UNIT RESET: outstanding commands answer RESET before the TMF completes with FUNCTION COMPLETE', async () => {
    const { drv, bus } = makeRig({ handler: () => ({ hang: true }) });
    drv.init();
    const before = bus.devices[0]!.resets; // the driver's own virtio reset at init
    const p = drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await drv.loop.runUntilIdle();
    const t = (await drv.tmf(TMF.LUN_RESET, 0, 0))!;
    expect(t).toEqual({ response: 0, usedLen: 1 });
    expect(bus.devices[0]!.resets - before).toBe(1);
    expect((await drv.finish(p))!.response).toBe(4); // RESET
  });

  it('ABORT_TASK: the command is ABORTED, the TMF completes; unknown tag → FUNCTION COMPLETE', async () => {
    const { drv } = makeRig({ handler: () => ({ hang: true }) });
    drv.init();
    const p = drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await drv.loop.runUntilIdle();
    expect((await drv.tmf(TMF.QUERY_TASK, 0, 0, p.tag))!.response).toBe(10); // FUNCTION SUCCEEDED
    expect((await drv.tmf(TMF.QUERY_TASK_SET, 0, 0))!.response).toBe(10);
    expect((await drv.tmf(TMF.ABORT_TASK, 0, 0, p.tag + 100n))!.response).toBe(0);
    expect((await drv.tmf(TMF.ABORT_TASK, 0, 0, p.tag))!.response).toBe(0);
    expect((await drv.finish(p))!.response).toBe(2); // ABORTED
    expect((await drv.tmf(TMF.QUERY_TASK, 0, 0, p.tag))!.response).toBe(0);
    expect((await drv.tmf(TMF.QUERY_TASK_SET, 0, 0))!.response).toBe(0);
  });

  it('ABORT_TASK_SET waits for every outstanding command of the LU', async () => {
    const { drv } = makeRig({ handler: () => ({ hang: true }) });
    drv.init();
    const a = drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    const b = drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await drv.loop.runUntilIdle();
    expect((await drv.tmf(TMF.ABORT_TASK_SET, 0, 0))!.response).toBe(0);
    expect((await drv.finish(a))!.response).toBe(2);
    expect((await drv.finish(b))!.response).toBe(2);
  });

  it('I_T_NEXUS_RESET resets every LU of the target, with no existence check', async () => {
    const devices = [new FakeDevice(1, 0), new FakeDevice(1, 3), new FakeDevice(2, 0)];
    const { drv } = makeRig({ devices });
    drv.init();
    const before = devices.map((d) => d.resets);
    expect((await drv.tmf(TMF.I_T_NEXUS_RESET, 1, 0))!.response).toBe(0);
    expect(devices.map((d, i) => d.resets - before[i]!)).toEqual([1, 1, 0]);
    expect((await drv.tmf(TMF.I_T_NEXUS_RESET, 9, 0))!.response).toBe(0);
  });

  it('BAD_TARGET, INCORRECT_LUN, FUNCTION_REJECTED', async () => {
    const { drv } = makeRig({ devices: [new FakeDevice(0, 0)] });
    drv.init();
    expect((await drv.tmf(TMF.LUN_RESET, 7, 0))!.response).toBe(3);
    expect((await drv.tmf(TMF.LUN_RESET, 0, 2))!.response).toBe(12);
    expect((await drv.tmf(TMF.ABORT_TASK, 0, 2, 1n))!.response).toBe(12);
    expect((await drv.tmf(TMF.CLEAR_ACA, 0, 0))!.response).toBe(11);
    expect((await drv.tmf(99, 0, 0))!.response).toBe(11);
  });

  it('AN_QUERY / AN_SUBSCRIBE: event_actual 0, response OK; unknown type: used len 0', async () => {
    const { drv, mem } = makeRig();
    drv.init();
    for (const type of [1, 2]) {
      const req = drv.alloc(16);
      mem.write32(req, type);
      mem.write8(req + 4, 1);
      mem.write32(req + 12, 0x10);
      const resp = drv.alloc(5);
      mem.fill(resp, 5, 0xee);
      const head = drv.addChain(0, [{ addr: req, len: 16 }, { addr: resp, len: 5, write: true }]);
      drv.kick(0);
      expect(await drv.waitUsed(0, head)).toBe(5);
      expect(Array.from(mem.readBytes(resp, 5))).toEqual([0, 0, 0, 0, 0]); // event_actual, response
    }
    const req = drv.alloc(16);
    mem.write32(req, 7);
    const resp = drv.alloc(8);
    mem.fill(resp, 8, 0xee);
    const head = drv.addChain(0, [{ addr: req, len: 16 }, { addr: resp, len: 8, write: true }]);
    drv.kick(0);
    expect(await drv.waitUsed(0, head)).toBe(0);
    expect(mem.read8(resp)).toBe(0xee);
  });
});

describe('event queue', () => {
  const readEvent = (mem: { readBytes(a: number, n: number): Uint8Array }, a: number): { event: number; lun: number[]; reason: number } => {
    const b = mem.readBytes(a, 16);
    const dv = new DataView(b.buffer);
    return { event: dv.getUint32(0, true), lun: Array.from(b.subarray(4, 12)), reason: dv.getUint32(12, true) };
  };

  it('hot-plug: TRANSPORT_RESET/RESCAN for the LUN, plus bus UA 3F/0E', async () => {
    const { drv, dev, bus, mem } = makeRig();
    drv.init();
    const bufs = drv.postEventBuffers(8);
    await drv.loop.runUntilIdle();
    const d = new FakeDevice(1, 0);
    dev.hotplug(d);
    const used = drv.pollUsed(1);
    expect(used).toEqual([{ id: [...bufs.keys()][0], len: 16 }]);
    expect(readEvent(mem, bufs.get(used[0]!.id)!)).toEqual({ event: 1, lun: [1, 1, 0, 0, 0, 0, 0, 0], reason: 1 });
    expect(bus.busUas).toEqual([{ key: 6, asc: 0x3f, ascq: 0x0e }]);
    dev.hotUnplug(d);
    const u2 = drv.pollUsed(1);
    expect(readEvent(mem, bufs.get(u2[0]!.id)!)).toEqual({ event: 1, lun: [1, 1, 0, 0, 0, 0, 0, 0], reason: 2 });
    expect(drv.irqs).toContain(2); // event queue vector
  });

  it('LUN ≥ 256 is encoded flat-space in events', async () => {
    const { drv, dev, mem } = makeRig();
    drv.init();
    const bufs = drv.postEventBuffers(1);
    await drv.loop.runUntilIdle();
    dev.hotplug(new FakeDevice(3, 0x123));
    const u = drv.pollUsed(1);
    expect(readEvent(mem, bufs.get(u[0]!.id)!).lun).toEqual([1, 3, 0x41, 0x23, 0, 0, 0, 0]);
  });

  it('without buffers events are dropped; new buffers get NO_EVENT | EVENTS_MISSED, then normal events', async () => {
    const { drv, dev, mem } = makeRig();
    drv.init();
    dev.hotplug(new FakeDevice(1, 0));
    expect(dev.scsi.eventsDropped).toBe(true);
    const bufs = drv.postEventBuffers(2);
    await drv.loop.runUntilIdle();
    const u = drv.pollUsed(1);
    expect(u.length).toBe(1);
    expect(readEvent(mem, bufs.get(u[0]!.id)!)).toEqual({ event: 0x80000000, lun: [0, 0, 0, 0, 0, 0, 0, 0], reason: 0 });
    dev.hotplug(new FakeDevice(2, 0));
    const u2 = drv.pollUsed(1);
    expect(readEvent(mem, bufs.get(u2[0]!.id)!).event).toBe(1);
  });

  it('a dropped event sets EVENTS_MISSED on the next one pushed', async () => {
    const { drv, dev, mem } = makeRig();
    drv.init();
    dev.hotplug(new FakeDevice(1, 0)); // dropped
    const bufs = drv.postEventBuffers(1, false); // not kicked: the device does not look yet
    dev.hotplug(new FakeDevice(2, 0));
    const u = drv.pollUsed(1);
    expect(readEvent(mem, bufs.get(u[0]!.id)!)).toEqual({ event: 0x80000001, lun: [1, 2, 0, 0, 0, 0, 0, 0], reason: 1 });
  });

  it('hotplug=off (feature not negotiated): no event and no bus UA', async () => {
    const { drv, dev, bus } = makeRig({ props: { hotplug: false } });
    drv.init();
    drv.postEventBuffers(2);
    await drv.loop.runUntilIdle();
    dev.hotplug(new FakeDevice(1, 0));
    expect(drv.pollUsed(1)).toEqual([]);
    expect(bus.busUas).toEqual([]);
  });

  it('PARAM_CHANGE for a disk (reason asc | ascq << 8), never for a CD-ROM', async () => {
    const { drv, dev, mem } = makeRig();
    drv.init();
    const bufs = drv.postEventBuffers(2);
    await drv.loop.runUntilIdle();
    dev.paramChange(new FakeDevice(0, 1, 5), 0x2a, 0x09);
    expect(drv.pollUsed(1)).toEqual([]);
    dev.paramChange(new FakeDevice(0, 0, 0), 0x2a, 0x09);
    const u = drv.pollUsed(1);
    expect(readEvent(mem, bufs.get(u[0]!.id)!)).toEqual({ event: 3, lun: [1, 0, 0, 0, 0, 0, 0, 0], reason: 0x092a });
  });

  it('no events before DRIVER_OK', () => {
    const { drv, dev } = makeRig();
    drv.probe();
    drv.negotiate();
    drv.setupQueues();
    drv.postEventBuffers(1, false);
    dev.hotplug(new FakeDevice(1, 0));
    expect(drv.pollUsed(1)).toEqual([]);
    expect(dev.scsi.eventsDropped).toBe(false);
  });
});

describe('virtio reset', () => {
  it('cold-resets the SCSI bus, cancels in-flight commands with RESET and restores defaults', async () => {
    const { drv, dev, bus } = makeRig({ handler: () => ({ hang: true }) });
    drv.init();
    const before = bus.resets;
    drv.devWrite(20, 4, 32);
    const p = drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await drv.loop.runUntilIdle();
    dev.hotplug(new FakeDevice(1, 0)); // dropped: no event buffers
    drv.cw(0x14, 1, 0);
    expect(bus.resets - before).toBe(1);
    expect(drv.readResult(p, 0).response).toBe(4);
    expect(dev.scsi.senseSize).toBe(96);
    expect(dev.scsi.eventsDropped).toBe(false);
  });
});
