// stop / cont and rerror=stop, replayed from the error_injection golden (QEMU 7.2.22): BLOCK_IO_ERROR
// then STOP, query-status io-error, io-status failed, `cont` → RESUME and the parked READ re-issued
// so the guest sees no error; the pause gate holds kicks while stopped.
import { describe, expect, it } from 'vitest';
import { VIRTIO_SCSI_S_OK } from '../../../src/protocol/virtio_scsi.ts';
import { MiB, bringUp, makeMachine, untimed } from './setup.ts';

const ARGS =
  '-machine pc -m 512 -smp 2 -drive file=/w/disk_report.img,if=none,format=raw,rerror=report,werror=report,id=drep ' +
  '-drive file=/w/disk_stop.img,if=none,format=raw,rerror=stop,werror=stop,id=dstop -device virtio-scsi-pci,id=scsi0 ' +
  '-device scsi-hd,drive=drep,scsi-id=0,lun=0,id=hdrep -device scsi-hd,drive=dstop,scsi-id=1,lun=0,id=hdstop';
const IMAGES = { '/w/disk_report.img': 64 * MiB, '/w/disk_stop.img': 64 * MiB };
const SECTOR = 65536;
// READ(10) of one block at LBA 65536
const READ10 = [0x28, 0, 0x00, 0x01, 0x00, 0x00, 0, 0, 1, 0];
const TUR = [0, 0, 0, 0, 0, 0];

function rig() {
  const r = makeMachine(ARGS, IMAGES);
  for (const id of ['drep', 'dstop']) {
    let armed = true;
    // blkdebug-like: EIO once for a read of sector 65536
    r.machine.blk.get(id)!.faultHook = (op, off) => {
      if (armed && op === 'read' && off === SECTOR * 512) {
        armed = false;
        return 'EIO';
      }
      return null;
    };
  }
  return r;
}

describe('rerror=stop (error_injection golden)', () => {
  it('parks the READ, stops the VM in io-error, and re-issues it on cont', async () => {
    const r = rig();
    await bringUp(r);
    await r.drv.doCommand(1, 0, TUR); // consumes the power-on UA
    const pending = r.drv.startCommand(1, 0, READ10, undefined, 512);
    await r.loop.runUntilIdle();
    expect(r.drv.pollUsed(2)).toEqual([]); // the guest sees nothing: the request is parked

    const st = r.mon.qmp('{"execute": "query-status"}');
    expect(st.reply).toBe('{"return": {"status": "io-error", "singlestep": false, "running": false}}');
    expect(untimed(st.events)).toEqual([
      '{"event": "BLOCK_IO_ERROR", "data": {"device": "dstop", "nospace": false, "node-name": "#block003", "reason": "Input/output error", "operation": "read", "action": "stop"}}',
      '{"event": "STOP"}',
    ]);
    expect(r.mon.hmp('info status')).toEqual({ output: 'VM status: paused (io-error)\n', error: false });
    const qb = r.mon.qmp('{"execute": "query-block"}').reply;
    // rerror/werror=report: no io-status at all; stop: failed
    expect(qb).toContain('{"device": "drep", "locked": false');
    expect(qb).toContain('{"io-status": "failed", "device": "dstop"');
    expect(r.mon.hmp('info block dstop').output).toBe(
      'dstop (#block003): /w/disk_stop.img (raw)\n    Attached to:      hdstop\n    I/O status:       failed\n    Cache mode:       writeback\n',
    );

    const cont = r.mon.qmp('{"execute": "cont"}');
    expect(cont.reply).toBe('{"return": {}}');
    expect(untimed(cont.events)).toEqual(['{"event": "RESUME"}']);
    const done = await r.drv.finish(pending);
    expect(done?.response).toBe(VIRTIO_SCSI_S_OK);
    expect(done?.status).toBe(0); // GOOD: the guest never saw the error
    expect(r.mon.qmp('{"execute": "query-status"}').reply).toBe('{"return": {"status": "running", "singlestep": false, "running": true}}');
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('{"io-status": "ok", "device": "dstop"');
  });

  it('rerror=report: BLOCK_IO_ERROR action report without nospace, CHECK CONDITION B/00/06, VM keeps running', async () => {
    const r = rig();
    await bringUp(r);
    await r.drv.doCommand(0, 0, TUR);
    const res = await r.drv.doCommand(0, 0, READ10, undefined, 512);
    expect(res?.status).toBe(2);
    expect([res!.sense[2], res!.sense[12], res!.sense[13]]).toEqual([0x0b, 0x00, 0x06]);
    expect(untimed(r.mon.drainEvents())).toEqual([
      '{"event": "BLOCK_IO_ERROR", "data": {"device": "drep", "node-name": "#block001", "reason": "Input/output error", "operation": "read", "action": "report"}}',
    ]);
    expect(r.mon.hmp('info status').output).toBe('VM status: running\n');
  });
});

describe('stop / cont', () => {
  it('holds kicks while paused and runs them on cont; info status follows', async () => {
    const r = rig();
    await bringUp(r);
    expect(r.mon.hmp('stop')).toEqual({ output: '', error: false });
    expect(r.mon.hmp('info status').output).toBe('VM status: paused\n');
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "STOP"}']);
    expect(r.mon.hmp('stop').output).toBe(''); // already stopped: no second STOP
    expect(r.mon.drainEvents()).toEqual([]);
    const p = r.drv.startCommand(0, 0, TUR);
    await r.loop.runUntilIdle();
    expect(r.drv.pollUsed(2)).toEqual([]);
    expect(r.mon.hmp('c')).toEqual({ output: '', error: false });
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "RESUME"}']);
    const done = await r.drv.finish(p);
    expect(done?.response).toBe(VIRTIO_SCSI_S_OK);
    expect(r.mon.hmp('info status').output).toBe('VM status: running\n');
    // cont while running: nothing happens, no event
    expect(r.mon.hmp('cont').output).toBe('');
    expect(r.mon.drainEvents()).toEqual([]);
  });

  it('system_reset and quit raise RESET and SHUTDOWN', () => {
    const r = rig();
    let reset = 0;
    r.machine.onSystemReset = () => reset++;
    expect(r.mon.qmp('{"execute": "system_reset"}')).toEqual({
      reply: '{"return": {}}',
      events: [expect.stringMatching(/"event": "RESET", "data": \{"guest": false, "reason": "host-qmp-system-reset"\}\}$/)],
    });
    expect(reset).toBe(1);
    expect(r.mon.hmp('q').output).toBe('');
    expect(r.mon.quitRequested).toBe(true);
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}']);
  });
});

describe('system_reset while stopped', () => {
  it('leaves the VM in prelaunch until cont', () => {
    const r = rig();
    r.mon.hmp('stop');
    r.mon.hmp('system_reset');
    expect(r.mon.hmp('info status').output).toBe('VM status: paused (prelaunch)\n');
    expect(r.mon.qmp('{"execute": "query-status"}').reply).toBe('{"return": {"status": "prelaunch", "singlestep": false, "running": false}}');
    r.mon.hmp('cont');
    expect(r.mon.hmp('info status').output).toBe('VM status: running\n');
  });
});
