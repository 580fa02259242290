// Each fault action as the guest sees it on the wire: the virtio-scsi response header, the sense
// bytes, the used ring, and the event queue.
import { describe, expect, it } from 'vitest';
import {
  VIRTIO_SCSI_S_ABORTED,
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_TRANSPORT_FAILURE,
  VIRTIO_SCSI_T_EVENTS_MISSED,
  VIRTIO_SCSI_T_PARAM_CHANGE,
  VIRTIO_SCSI_T_TMF_ABORT_TASK,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
} from '../../../src/protocol/virtio_scsi.ts';
import { TUR, clearUa, hex, makeFaultRig, rw10 } from './setup.ts';

describe('fault actions on the wire', () => {
  it('check: CHECK CONDITION with the rule’s sense, only inside the LBA range, count times', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    expect(r.inj.add('drive=d0,opcode=0x28,lba=65536-65543,action=check,sense=3/11/00,count=1')).not.toHaveProperty('error');
    const outside = await r.drv.doCommand(0, 0, rw10(0x28, 60000, 8), undefined, 4096);
    expect([outside?.response, outside?.status]).toEqual([VIRTIO_SCSI_S_OK, 0]);
    const other = await r.drv.doCommand(1, 0, rw10(0x28, 65536, 8), undefined, 4096); // d1: not matched
    expect(other?.status).toBe(0);
    const hit = await r.drv.doCommand(0, 0, rw10(0x28, 65540, 8), undefined, 4096); // overlaps the range
    expect([hit?.response, hit?.status, hit?.senseLen]).toEqual([VIRTIO_SCSI_S_OK, 2, 18]);
    expect(hex(hit!.sense)).toBe(
      [
        '70 00 03 00', // fixed format, current; sense key 3 MEDIUM ERROR
        '00 00 00 0a', // information; additional length 10
        '00 00 00 00', // command-specific information
        '11 00 00 00 00 00', // ASC 11 ASCQ 00 (unrecovered read error)
      ].join(' '),
    );
    const again = await r.drv.doCommand(0, 0, rw10(0x28, 65536, 8), undefined, 4096); // count used up
    expect(again?.status).toBe(0);
    expect(r.inj.list()[0]).toMatchObject({ hits: 1, fired: 1 }); // a used-up rule stops counting
  });

  it('busy / task-set-full / reservation-conflict: the status byte without sense', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    r.inj.add('target=0,opcode=0x00,action=busy,count=1');
    r.inj.add('target=0,opcode=0x00,action=task-set-full,count=1');
    r.inj.add('target=0,opcode=0x00,action=reservation-conflict,count=1');
    const got: Array<[number | undefined, number | undefined, number | undefined]> = [];
    for (let i = 0; i < 4; i++) {
      const c = await r.drv.doCommand(0, 0, TUR);
      got.push([c?.response, c?.status, c?.senseLen]);
    }
    expect(got).toEqual([
      [0, 0x08, 0], // BUSY
      [0, 0x28, 0], // TASK SET FULL
      [0, 0x18, 0], // RESERVATION CONFLICT
      [0, 0x00, 0], // all three used up: GOOD
    ]);
  });

  it('response: any virtio response code, before the command reaches the LU', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    r.inj.add('dev=hd1,dir=out,action=response,response=transport-failure');
    const data = new Uint8Array(512).fill(0xab);
    const w = await r.drv.doCommand(1, 0, rw10(0x2a, 8, 1), data);
    expect([w?.response, w?.status]).toEqual([VIRTIO_SCSI_S_TRANSPORT_FAILURE, 0]);
    await r.loop.runUntilIdle();
    expect(r.d1.bytes()[8 * 512]).toBe(0); // never written
    r.inj.add('dev=hd0,action=response,response=42');
    expect((await r.drv.doCommand(0, 0, TUR))?.response).toBe(42);
  });

  it('delay: the command completes normally, the given virtual time later', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    const t0 = r.loop.now();
    await r.drv.doCommand(0, 0, rw10(0x28, 0, 1), undefined, 512);
    const plain = r.loop.now() - t0;
    r.inj.add('drive=d0,opcode=0x28,action=delay,delay=8s');
    const t1 = r.loop.now();
    const c = await r.drv.doCommand(0, 0, rw10(0x28, 0, 1), undefined, 512);
    expect([c?.response, c?.status]).toEqual([0, 0]);
    expect(r.loop.now() - t1).toBe(plain + 8e9);
  });

  it('hang: never completes until an ABORT TASK cancels it (ABORTED), the TMF succeeding', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    r.inj.add('drive=d0,opcode=0x28,action=hang');
    const p = r.drv.startCommand(0, 0, rw10(0x28, 0, 1), undefined, 512);
    await r.loop.runUntilIdle();
    expect(r.drv.pollUsed(2)).toEqual([]);
    expect(r.hd0.reqs).toHaveLength(1);
    const tmf = await r.drv.tmf(VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, p.tag);
    expect(tmf?.response).toBe(VIRTIO_SCSI_S_OK);
    const c = await r.drv.finish(p);
    expect(c?.response).toBe(VIRTIO_SCSI_S_ABORTED);
    expect(r.hd0.reqs).toHaveLength(0);
  });

  it('tmf-fail: the TMF is refused and not carried out; tmf-hang: it is never answered', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    r.inj.add('drive=d0,opcode=0x28,action=hang');
    r.inj.add('target=0,tmf=abort,action=tmf-fail,count=1');
    r.inj.add('target=0,tmf=lun-reset,action=tmf-hang');
    const p = r.drv.startCommand(0, 0, rw10(0x28, 0, 1), undefined, 512);
    await r.loop.runUntilIdle();
    const abort = await r.drv.tmf(VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, p.tag);
    expect(abort?.response).toBe(VIRTIO_SCSI_S_FUNCTION_REJECTED);
    expect(r.drv.pollUsed(2)).toEqual([]); // the command is still held
    const reset = await r.drv.tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0);
    expect(reset).toBeUndefined(); // the loop went idle with no answer
    expect(r.pci.scsi.inFlight).toBe(2); // the command and the swallowed TMF
    const second = await r.drv.tmf(VIRTIO_SCSI_T_TMF_ABORT_TASK, 0, 0, p.tag); // count=1 used up
    expect(second?.response).toBe(VIRTIO_SCSI_S_OK);
    expect((await r.drv.finish(p))?.response).toBe(VIRTIO_SCSI_S_ABORTED);
  });

  it('drop-event: lost silently, or lost and reported as missed with the next event', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    const bufs = r.drv.postEventBuffers(2);
    await r.loop.runUntilIdle();
    r.inj.add('dev=hd0,event=param-change,action=drop-event,count=1');
    r.inj.add('dev=hd0,event=param-change,action=drop-event,missed=on,count=1');
    r.pci.scsi.paramChange(r.hd0, 0x2a, 0x09);
    r.pci.scsi.paramChange(r.hd0, 0x2a, 0x09);
    await r.loop.runUntilIdle();
    expect(r.drv.pollUsed(1)).toEqual([]); // both dropped: no buffer used
    r.pci.scsi.paramChange(r.hd0, 0x2a, 0x09);
    await r.loop.runUntilIdle();
    const used = r.drv.pollUsed(1);
    expect(used).toHaveLength(1);
    const ev = r.drv.mem.readBytes(bufs.get(used[0]!.id)!, 16);
    const dv = new DataView(ev.buffer);
    expect(dv.getUint32(0, true)).toBe((VIRTIO_SCSI_T_PARAM_CHANGE | VIRTIO_SCSI_T_EVENTS_MISSED) >>> 0); // event
    expect(hex(ev.subarray(4, 12))).toBe('01 00 00 00 00 00 00 00'); // LUN 0:0
    expect(dv.getUint32(12, true)).toBe(0x2a | (0x09 << 8)); // reason: ASC 2A ASCQ 09
  });

  it('every=N fires on every N-th matching command only', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    r.inj.add('lun=0,target=1,opcode=0x00,every=3,action=busy');
    const st: number[] = [];
    for (let i = 0; i < 7; i++) st.push((await r.drv.doCommand(1, 0, TUR))!.status);
    expect(st).toEqual([0, 0, 8, 0, 0, 8, 0]);
  });
});
