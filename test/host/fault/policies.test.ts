// rerror / werror as QEMU 7.2 applies them (scsi_handle_rw_error, blk_get_error_action,
// blk_error_action, send_qmp_error_event): what the mini guest driver sees on the wire for each policy
// — report, ignore, stop, enospc — and the QMP events byte for byte. `nospace` is in BLOCK_IO_ERROR
// exactly when the I/O status is enabled (werror enospc|stop or rerror stop), which the
// error_injection golden shows as present with stop and absent with report/report.
import { describe, expect, it } from 'vitest';
import { VIRTIO_SCSI_S_OK } from '../../../src/protocol/virtio_scsi.ts';
import type { BlockErrno } from '../../../src/host/block/block-backend.ts';
import { MiB, bringUp, makeMachine, untimed, type MonRig } from '../monitor/setup.ts';

const IMG = '/w/d.img';
const TUR = [0, 0, 0, 0, 0, 0];
/** READ(10) / WRITE(10) of one block at `lba`. */
const rw = (op: 0x28 | 0x2a, lba: number): number[] => [op, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, 0, 1, 0];
const BLOCK = (fill: number): Uint8Array => new Uint8Array(512).fill(fill);

/** Fixed-format sense as the device writes it: 18 bytes. */
function fixedSense(key: number, asc: number, ascq: number): number[] {
  return [
    0x70, // current error, fixed format
    0, // obsolete
    key, // sense key
    0, 0, 0, 0, // information
    10, // additional sense length
    0, 0, 0, 0, // command-specific information
    asc, ascq, // additional sense code / qualifier
    0, 0, 0, 0, // FRU code, sense-key specific
  ];
}

/** A machine with drive d0 (policies in `drive`) on scsi-hd hd0 at 0:0 (`dev` adds device properties). */
async function rig(drive: string, dev = ''): Promise<MonRig> {
  const r = makeMachine(
    `-machine pc -m 512 -smp 2 -drive file=${IMG},if=none,format=raw,id=d0${drive} -device virtio-scsi-pci,id=scsi0 ` +
      `-device scsi-hd,drive=d0,id=hd0,scsi-id=0,lun=0${dev}`,
    { [IMG]: 64 * MiB },
  );
  await bringUp(r);
  await r.drv.doCommand(0, 0, TUR); // the power-on UA
  r.mon.drainEvents();
  return r;
}

/** Fails the next `times` operations `op` at block `lba` with `errno`. */
function failAt(r: MonRig, op: 'read' | 'write', lba: number, errno: BlockErrno, times = 1): void {
  let left = times;
  r.machine.blk.get('d0')!.faultHook = (o, off) => {
    if (left > 0 && o === op && off === lba * 512) {
      left--;
      return errno;
    }
    return null;
  };
}

const ioError = (data: string): string => `{"event": "BLOCK_IO_ERROR", "data": {${data}}}`;

describe('rerror=report / werror=report', () => {
  it('EIO → CHECK CONDITION ABORTED COMMAND / I/O PROCESS TERMINATED; BLOCK_IO_ERROR action report, no nospace', async () => {
    const r = await rig(',rerror=report,werror=report');
    failAt(r, 'read', 100, 'EIO');
    const before = r.loop.now();
    const res = await r.drv.doCommand(0, 0, rw(0x28, 100), undefined, 512);
    expect([res?.response, res?.status, res?.senseLen]).toEqual([VIRTIO_SCSI_S_OK, 2, 18]);
    expect([...res!.sense]).toEqual(fixedSense(0x0b, 0x00, 0x06));
    const events = r.mon.drainEvents();
    // the golden's line for drep, with our node name (QEMU's counter had reached #block299)
    expect(untimed(events)).toEqual([
      ioError('"device": "d0", "node-name": "#block001", "reason": "Input/output error", "operation": "read", "action": "report"'),
    ]);
    const ts = /^\{"timestamp": \{"seconds": (\d+), "microseconds": (\d+)\}, /.exec(events[0]!);
    const us = Number(ts![1]) * 1e6 + Number(ts![2]);
    expect(us).toBeGreaterThanOrEqual(Math.floor(before / 1e3));
    expect(us).toBeLessThanOrEqual(Math.floor(r.loop.now() / 1e3));

    failAt(r, 'write', 100, 'EIO');
    const w = await r.drv.doCommand(0, 0, rw(0x2a, 100), BLOCK(1));
    expect([...w!.sense]).toEqual(fixedSense(0x0b, 0x00, 0x06));
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "node-name": "#block001", "reason": "Input/output error", "operation": "write", "action": "report"'),
    ]);
    expect(r.mon.hmp('info status').output).toBe('VM status: running\n');
    // no io-status member at all: neither policy can stop the VM
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('[{"device": "d0", "locked": false');
  });

  it('with the default werror=enospc the I/O status is enabled: a read error carries nospace false', async () => {
    const r = await rig(',rerror=report');
    failAt(r, 'read', 7, 'EIO');
    const res = await r.drv.doCommand(0, 0, rw(0x28, 7), undefined, 512);
    expect([...res!.sense]).toEqual(fixedSense(0x0b, 0x00, 0x06));
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "nospace": false, "node-name": "#block001", "reason": "Input/output error", "operation": "read", "action": "report"'),
    ]);
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('[{"io-status": "ok", "device": "d0"');
  });
});

describe('rerror=ignore / werror=ignore', () => {
  it('the error is dropped: GOOD without sense on the wire, BLOCK_IO_ERROR action ignore, VM keeps running', async () => {
    const r = await rig(',rerror=ignore,werror=ignore');
    failAt(r, 'read', 3, 'EIO');
    const res = await r.drv.doCommand(0, 0, rw(0x28, 3), undefined, 512);
    expect([res?.response, res?.status, res?.senseLen, res?.resid]).toEqual([VIRTIO_SCSI_S_OK, 0, 0, 0]);
    failAt(r, 'write', 3, 'ENOSPC');
    const w = await r.drv.doCommand(0, 0, rw(0x2a, 3), BLOCK(0x77));
    expect([w?.response, w?.status, w?.senseLen]).toEqual([VIRTIO_SCSI_S_OK, 0, 0]);
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "node-name": "#block001", "reason": "Input/output error", "operation": "read", "action": "ignore"'),
      ioError('"device": "d0", "node-name": "#block001", "reason": "No space left on device", "operation": "write", "action": "ignore"'),
    ]);
    expect(r.mon.hmp('info status').output).toBe('VM status: running\n');
    // the failed write never reached the image
    expect((r.vol.readFileSync(IMG) as Uint8Array).subarray(3 * 512, 4 * 512).every((b) => b === 0)).toBe(true);
  });
});

describe('rerror=stop / werror=stop', () => {
  it('every failing request is parked; one STOP; cont re-executes them all in order and the guest sees only GOOD', async () => {
    const r = await rig(',rerror=stop,werror=stop');
    const img = r.vol.readFileSync(IMG) as Uint8Array;
    img.fill(0xa1, 10 * 512, 11 * 512);
    img.fill(0xa2, 11 * 512, 12 * 512);
    r.vol.writeFileSync(IMG, img);
    let armed = new Set([10, 11]);
    r.machine.blk.get('d0')!.faultHook = (op, off) => (op === 'read' && armed.delete(off / 512) ? 'EIO' : null);
    const a = r.drv.startCommand(0, 0, rw(0x28, 10), undefined, 512);
    const b = r.drv.startCommand(0, 0, rw(0x28, 11), undefined, 512);
    await r.loop.runUntilIdle();
    expect(r.drv.pollUsed(2)).toEqual([]); // nothing completed: both parked
    const stopLine = '"device": "d0", "nospace": false, "node-name": "#block001", "reason": "Input/output error", "operation": "read", "action": "stop"';
    expect(untimed(r.mon.drainEvents())).toEqual([ioError(stopLine), '{"event": "STOP"}', ioError(stopLine)]);
    expect(r.mon.hmp('info status').output).toBe('VM status: paused (io-error)\n');
    expect(r.mon.qmp('{"execute": "query-status"}').reply).toBe('{"return": {"status": "io-error", "singlestep": false, "running": false}}');
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('[{"io-status": "failed", "device": "d0"');
    // a command sent while stopped waits for cont too (the pause gate)
    const t = r.drv.startCommand(0, 0, TUR);
    await r.loop.runUntilIdle();
    expect(r.drv.pollUsed(2)).toEqual([]);

    armed = new Set();
    expect(r.mon.hmp('cont')).toEqual({ output: '', error: false });
    expect(untimed(r.mon.drainEvents())).toEqual(['{"event": "RESUME"}']);
    const ra = await r.drv.finish(a);
    const rb = await r.drv.finish(b);
    const rt = await r.drv.finish(t);
    expect([ra?.status, rb?.status, rt?.status]).toEqual([0, 0, 0]);
    expect(ra!.dataIn.every((x) => x === 0xa1)).toBe(true);
    expect(rb!.dataIn.every((x) => x === 0xa2)).toBe(true);
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('[{"io-status": "ok", "device": "d0"');
    expect(r.mon.drainEvents()).toEqual([]);
  });

  it('cont re-executes parked requests in the order they failed', async () => {
    const r = await rig(',rerror=stop,werror=stop');
    const order: number[] = [];
    let failing = true;
    r.machine.blk.get('d0')!.faultHook = (op, off) => {
      if (op !== 'write') return null;
      if (!failing) order.push(off / 512);
      return failing ? 'EIO' : null;
    };
    const ps = [20, 21, 22].map((lba) => r.drv.startCommand(0, 0, rw(0x2a, lba), BLOCK(lba)));
    await r.loop.runUntilIdle();
    expect(r.machine.runState).toBe('io-error');
    failing = false;
    r.mon.qmp('{"execute": "cont"}');
    for (const p of ps) expect((await r.drv.finish(p))?.status).toBe(0);
    expect(order).toEqual([20, 21, 22]);
    const img = r.vol.readFileSync(IMG) as Uint8Array;
    expect([img[20 * 512], img[21 * 512], img[22 * 512]]).toEqual([20, 21, 22]);
  });

  it('a device rerror=stop overrides the drive (blk_set_on_error): query-block and the event follow it', async () => {
    const r = await rig(',rerror=report,werror=report', ',rerror=stop');
    failAt(r, 'read', 5, 'EIO');
    const p = r.drv.startCommand(0, 0, rw(0x28, 5), undefined, 512);
    await r.loop.runUntilIdle();
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "nospace": false, "node-name": "#block001", "reason": "Input/output error", "operation": "read", "action": "stop"'),
      '{"event": "STOP"}',
    ]);
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('[{"io-status": "failed", "device": "d0"');
    r.mon.hmp('c');
    expect((await r.drv.finish(p))?.status).toBe(0);
  });
});

describe('werror=enospc', () => {
  it('ENOSPC stops the VM with nospace true and io-status nospace; cont writes the block', async () => {
    const r = await rig(',werror=enospc');
    failAt(r, 'write', 40, 'ENOSPC');
    const p = r.drv.startCommand(0, 0, rw(0x2a, 40), BLOCK(0xee));
    await r.loop.runUntilIdle();
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "nospace": true, "node-name": "#block001", "reason": "No space left on device", "operation": "write", "action": "stop"'),
      '{"event": "STOP"}',
    ]);
    expect(r.mon.hmp('info status').output).toBe('VM status: paused (io-error)\n');
    expect(r.mon.qmp('{"execute": "query-block"}').reply).toContain('[{"io-status": "nospace", "device": "d0"');
    expect(r.mon.hmp('info block d0').output).toContain('    I/O status:       nospace\n');
    r.mon.hmp('cont');
    expect((await r.drv.finish(p))?.status).toBe(0);
    expect((r.vol.readFileSync(IMG) as Uint8Array)[40 * 512]).toBe(0xee);
  });

  it('any other errno is reported: CHECK CONDITION, action report, nospace false, VM running', async () => {
    const r = await rig(',werror=enospc');
    failAt(r, 'write', 41, 'EIO');
    const w = await r.drv.doCommand(0, 0, rw(0x2a, 41), BLOCK(1));
    expect([w?.status, ...w!.sense]).toEqual([2, ...fixedSense(0x0b, 0x00, 0x06)]);
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "nospace": false, "node-name": "#block001", "reason": "Input/output error", "operation": "write", "action": "report"'),
    ]);
    expect(r.machine.runState).toBe('running');
  });

  it('werror=report: ENOSPC reaches the guest as DATA PROTECT / SPACE ALLOCATION FAILED WRITE PROTECT (7/27/07)', async () => {
    const r = await rig(',werror=report');
    failAt(r, 'write', 42, 'ENOSPC');
    const w = await r.drv.doCommand(0, 0, rw(0x2a, 42), BLOCK(1));
    expect([...w!.sense]).toEqual(fixedSense(0x07, 0x27, 0x07));
    expect(untimed(r.mon.drainEvents())).toEqual([
      ioError('"device": "d0", "node-name": "#block001", "reason": "No space left on device", "operation": "write", "action": "report"'),
    ]);
  });
});

describe('blkdebug on the command line', () => {
  it('errno 28 once on a write with the default werror=enospc: stop, then cont succeeds', async () => {
    const conf = '[inject-error]\nevent = "write_aio"\nerrno = "28"\nonce = "on"\n';
    const r = makeMachine(
      `-machine pc -drive file=blkdebug:/w/b.conf:${IMG},if=none,format=raw,id=d0 -device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d0,id=hd0`,
      { [IMG]: 64 * MiB },
      { files: { '/w/b.conf': conf } },
    );
    await bringUp(r);
    await r.drv.doCommand(0, 0, TUR);
    r.mon.drainEvents();
    const p = r.drv.startCommand(0, 0, rw(0x2a, 9), BLOCK(0x42));
    await r.loop.runUntilIdle();
    expect(r.mon.hmp('info status').output).toBe('VM status: paused (io-error)\n');
    expect(untimed(r.mon.drainEvents()).map((e) => JSON.parse(e))).toEqual([
      { event: 'BLOCK_IO_ERROR', data: { device: 'd0', nospace: true, 'node-name': '#block001', reason: 'No space left on device', operation: 'write', action: 'stop' } },
      { event: 'STOP' },
    ]);
    r.mon.hmp('cont');
    expect((await r.drv.finish(p))?.status).toBe(0);
  });
});
