// block_set_io_throttle (QMP and HMP) and its leaky buckets on the virtual clock, after the
// eh_timeout_abort golden: `block_set_io_throttle {"id": "hd0", "bps_rd": 1024, …}` holds 8 KiB reads
// about 8 s each, and they complete normally; all-zero limits release what waits. QEMU's bucket
// holds avg/10 = 102.4 bytes: the first read finds it empty and goes; the second waits until the
// 8192 bytes it left have leaked down to 102.4 at 1024 bytes/s (7.9 s); from then on the bucket is
// full at each release, so every further read waits a whole 8192 / 1024 = 8 s.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { ThrottleGroupMember, throttleConfigInit } from '../../../src/host/block/throttle-groups.ts';
import { VIRTIO_SCSI_S_OK } from '../../../src/protocol/virtio_scsi.ts';
import { MiB, bringUp, makeMachine, type MonRig } from './setup.ts';

const ARGS = '-machine pc -m 512 -smp 2 -drive file=/w/disk.img,if=none,format=raw,id=d0 -device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d0,id=hd0,scsi-id=0,lun=0';
const IMAGES = { '/w/disk.img': 64 * MiB };
const TUR = [0, 0, 0, 0, 0, 0];
const S = 1e9;
/** READ(10)/WRITE(10) of 16 blocks (8 KiB, dd bs=8192) at LBA `lba`. */
const rw16 = (op: 0x28 | 0x2a, lba: number): number[] => [op, 0, 0, 0, (lba >> 8) & 0xff, lba & 0xff, 0, 0, 16, 0];
// The golden's hook, verbatim
const THROTTLE = '{"execute": "block_set_io_throttle", "arguments": {"id": "hd0", "bps": 0, "bps_rd": 1024, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}}';
const UNTHROTTLE = '{"execute": "block_set_io_throttle", "arguments": {"id": "hd0", "bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}}';

async function ready(): Promise<MonRig> {
  const r = makeMachine(ARGS, IMAGES);
  await bringUp(r);
  await r.drv.doCommand(0, 0, TUR); // power-on UA
  return r;
}

/** One 8 KiB read; the virtual time it completed at. */
async function readAt(r: MonRig, lba: number): Promise<number> {
  const res = await r.drv.doCommand(0, 0, rw16(0x28, lba), undefined, 8192);
  expect([res?.response, res?.status]).toEqual([VIRTIO_SCSI_S_OK, 0]);
  return r.loop.now();
}

const qmpError = (desc: string, cls = 'GenericError'): string => `{"error": {"class": "${cls}", "desc": "${desc}"}}`;

describe('block_set_io_throttle timing (eh_timeout_abort)', () => {
  it('dd bs=8192 count=3 at bps_rd=1024: the 2nd read waits 7.9 s, the 3rd 8 s, all complete GOOD', async () => {
    const r = await ready();
    expect(r.mon.qmp(THROTTLE)).toEqual({ reply: '{"return": {}}', events: [] });
    const t0 = r.loop.now();
    const c1 = await readAt(r, 1600);
    const c2 = await readAt(r, 1616);
    const c3 = await readAt(r, 1632);
    expect(c1 - t0).toBeLessThan(0.001 * S); // the empty bucket lets the first one through
    expect(c2 - c1).toBeGreaterThan(7.89 * S);
    expect(c2 - c1).toBeLessThan(7.91 * S);
    expect(c3 - c2).toBeGreaterThan(7.99 * S);
    expect(c3 - c2).toBeLessThan(8.01 * S);
  });

  it('queued reads go in order at 0, 7.9 and 15.9 s; writes are not held by bps_rd', async () => {
    const r = await ready();
    r.mon.qmp(THROTTLE);
    const t0 = r.loop.now();
    const reads = [0, 1, 2].map((i) => r.drv.startCommand(0, 0, rw16(0x28, 16 * i), undefined, 8192));
    const w = await r.drv.doCommand(0, 0, rw16(0x2a, 4000), new Uint8Array(8192).fill(0x5a));
    expect([w?.response, w?.status]).toEqual([VIRTIO_SCSI_S_OK, 0]);
    expect(r.loop.now() - t0).toBeLessThan(0.001 * S);
    const done: number[] = [];
    for (const p of reads) {
      const res = await r.drv.finish(p);
      expect(res?.status).toBe(0);
      done.push(r.loop.now() - t0);
    }
    expect(done[0]).toBeLessThan(0.001 * S);
    expect(done[1]).toBeGreaterThan(7.89 * S);
    expect(done[1]).toBeLessThan(7.91 * S);
    expect(done[2]).toBeGreaterThan(15.89 * S);
    expect(done[2]).toBeLessThan(15.91 * S);
  });

  it('iops_rd=2: the second read waits (1 - 0.2) / 2 = 0.4 s', async () => {
    const r = await ready();
    r.mon.qmp('{"execute": "block_set_io_throttle", "arguments": {"id": "hd0", "bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 2, "iops_wr": 0}}');
    const c1 = await readAt(r, 0);
    const c2 = await readAt(r, 16);
    expect(c2 - c1).toBeGreaterThan(0.39 * S);
    expect(c2 - c1).toBeLessThan(0.41 * S);
  });

  it('all-zero limits release a waiting read at once', async () => {
    const r = await ready();
    r.mon.qmp(THROTTLE);
    await readAt(r, 0);
    const p = r.drv.startCommand(0, 0, rw16(0x28, 16), undefined, 8192);
    await r.loop.advance(2 * S);
    expect(r.drv.pollUsed(2)).toEqual([]); // still held
    const t = r.loop.now();
    expect(r.mon.qmp(UNTHROTTLE).reply).toBe('{"return": {}}');
    const res = await r.drv.finish(p);
    expect(res?.status).toBe(0);
    expect(r.loop.now() - t).toBeLessThan(0.001 * S);
    // and nothing is held afterwards
    const c1 = r.loop.now();
    expect((await readAt(r, 32)) - c1).toBeLessThan(0.001 * S);
  });
});

describe('block_set_io_throttle in query-block and info block', () => {
  it('shows the limits and the group (the id given), and drops them when unthrottled', async () => {
    const r = await ready();
    r.mon.qmp(THROTTLE);
    const ins = JSON.parse(r.mon.qmp('{"execute": "query-block"}').reply).return[0].inserted;
    expect([ins.bps, ins.bps_rd, ins.bps_wr, ins.iops, ins.iops_rd, ins.iops_wr, ins.group]).toEqual([0, 1024, 0, 0, 0, 0, 'hd0']);
    expect(ins.bps_rd_max).toBeUndefined(); // no burst set: no *_max members
    expect(r.mon.hmp('info block d0').output).toBe(
      'd0 (#block001): /w/disk.img (raw)\n    Attached to:      hd0\n    Cache mode:       writeback\n' +
        '    I/O throttling:   bps=0 bps_rd=1024 bps_wr=0 bps_max=0 bps_rd_max=0 bps_wr_max=0 iops=0 iops_rd=0 iops_wr=0' +
        ' iops_max=0 iops_rd_max=0 iops_wr_max=0 iops_size=0 group=hd0\n',
    );
    r.mon.qmp(UNTHROTTLE);
    const after = JSON.parse(r.mon.qmp('{"execute": "query-block"}').reply).return[0].inserted;
    expect([after.bps_rd, after.group]).toEqual([0, undefined]);
    expect(r.mon.hmp('info block d0').output).not.toContain('I/O throttling');
  });

  it('burst settings appear as *_max and *_max_length, iops_size and a named group', async () => {
    const r = await ready();
    const reply = r.mon.qmp(
      '{"execute": "block_set_io_throttle", "arguments": {"device": "d0", "bps": 4096, "bps_rd": 0, "bps_wr": 0, "iops": 10, "iops_rd": 0, "iops_wr": 0, "bps_max": 8192, "bps_max_length": 2, "iops_size": 4096, "group": "g1"}}',
    ).reply;
    expect(reply).toBe('{"return": {}}');
    const ins = JSON.parse(r.mon.qmp('{"execute": "query-block"}').reply).return[0].inserted;
    expect([ins.bps, ins.iops, ins.bps_max, ins.bps_max_length, ins.iops_size, ins.group, ins.iops_max]).toEqual([4096, 10, 8192, 2, 4096, 'g1', undefined]);
  });
});

describe('block_set_io_throttle errors', () => {
  const args = (extra: string): string =>
    `{"execute": "block_set_io_throttle", "arguments": {${extra}"bps": 0, "bps_rd": 1024, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}}`;

  it('QMP: QEMU texts for the target, the limits and the arguments', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.qmp(args('')).reply).toBe(qmpError("Need exactly one of 'device' and 'id'"));
    expect(r.mon.qmp(args('"device": "d0", "id": "hd0", ')).reply).toBe(qmpError("Need exactly one of 'device' and 'id'"));
    expect(r.mon.qmp(args('"id": "nope", ')).reply).toBe(qmpError("Device 'nope' not found", 'DeviceNotFound'));
    expect(r.mon.qmp(args('"device": "nope", ')).reply).toBe(qmpError("Device 'nope' not found", 'DeviceNotFound'));
    expect(r.mon.qmp(args('"id": "scsi0", ')).reply).toBe(qmpError("Device 'scsi0' not found", 'DeviceNotFound'));
    expect(r.mon.qmp('{"execute": "block_set_io_throttle", "arguments": {"id": "hd0", "bps": 1, "bps_rd": 1, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}}').reply).toBe(
      qmpError('bps/iops/max total values and read/write values cannot be used at the same time'),
    );
    expect(r.mon.qmp('{"execute": "block_set_io_throttle", "arguments": {"id": "hd0", "bps": -1, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0}}').reply).toBe(
      qmpError('bps/iops/max values must be within [0, 1000000000000000]'),
    );
    expect(r.mon.qmp(args('"id": "hd0", "bps_rd_max": 512, ')).reply).toBe(qmpError('bps_max/iops_max cannot be lower than bps/iops'));
    expect(r.mon.qmp(args('"id": "hd0", "iops_size": 512, ')).reply).toBe(qmpError('iops size requires an iops value to be set'));
    expect(r.mon.qmp(args('"id": "hd0", "bps_rd_max_length": 3, ')).reply).toBe(qmpError('burst length set without burst rate'));
    expect(r.mon.qmp('{"execute": "block_set_io_throttle", "arguments": {"id": "hd0", "bps": 0}}').reply).toBe(qmpError("Parameter 'bps_rd' is missing"));
    expect(r.mon.qmp(args('"id": "hd0", "burst": 1, ')).reply).toBe(qmpError("Parameter 'burst' is unexpected"));
    // nothing was applied by the failures
    expect(r.machine.throttles.size).toBe(0);
  });

  it('HMP: a drive name or a qdev id; argument errors as monitor_parse_arguments prints them', async () => {
    const r = await ready();
    expect(r.mon.hmp('block_set_io_throttle d0 0 1024 0 0 0 0')).toEqual({ output: '', error: false });
    expect(JSON.parse(r.mon.qmp('{"execute": "query-block"}').reply).return[0].inserted.group).toBe('d0');
    expect(r.mon.hmp('block_set_io_throttle hd0 0 0 0 0 0 0')).toEqual({ output: '', error: false });
    expect(r.machine.throttles.size).toBe(0);
    expect(r.mon.hmp('block_set_io_throttle hd0 0 0x400 0 0 0 0')).toEqual({ output: '', error: false });
    expect(JSON.parse(r.mon.qmp('{"execute": "query-block"}').reply).return[0].inserted.bps_rd).toBe(1024);
    expect(r.mon.hmp('block_set_io_throttle nope 0 1 0 0 0 0')).toEqual({ output: "Error: Device 'nope' not found\n", error: true });
    expect(r.mon.hmp('block_set_io_throttle d0 0 1 0')).toEqual({
      output: 'unexpected end of expression\nTry "help block_set_io_throttle" for more information\n',
      error: true,
    });
    expect(r.mon.hmp('block_set_io_throttle d0 0 x1 0 0 0 0')).toEqual({
      output: `invalid char 'x' in expression\nTry "help block_set_io_throttle" for more information\n`,
      error: true,
    });
    expect(r.mon.hmp('block_set_io_throttle d0 0 -1 0 0 0 0')).toEqual({
      output: 'Error: bps/iops/max values must be within [0, 1000000000000000]\n',
      error: true,
    });
    expect(r.mon.hmp('block_set_io_throttle')).toEqual({
      output: 'block_set_io_throttle: block device name expected\nTry "help block_set_io_throttle" for more information\n',
      error: true,
    });
  });
});

describe('ThrottleGroupMember invariants', () => {
  it('every request starts once, in FIFO order per direction; bytes started by t ≤ avg·t + avg/10 + one request', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.array(fc.record({ write: fc.boolean(), bytes: fc.integer({ min: 0, max: 1 << 16 }), gapNs: fc.integer({ min: 0, max: 2e9 }) }), { maxLength: 30 }),
        async (avg, reqs) => {
          const loop = new EventLoop();
          const init = throttleConfigInit();
          const t = new ThrottleGroupMember(loop, 'g', { ...init, buckets: { ...init.buckets, bps: { avg, max: 0, burstLength: 1 } } });
          const started: Array<{ i: number; write: boolean; at: number; bytes: number }> = [];
          let i = 0;
          for (const q of reqs) {
            await loop.advance(q.gapNs);
            const n = i++;
            t.intercept(q.write, q.bytes, () => started.push({ i: n, write: q.write, at: loop.now(), bytes: q.bytes }));
          }
          await loop.runUntilIdle();
          expect(started.map((x) => x.i).sort((a, b) => a - b)).toEqual(reqs.map((_, k) => k));
          for (const w of [false, true]) {
            const order = started.filter((x) => x.write === w).map((x) => x.i);
            expect(order).toEqual([...order].sort((a, b) => a - b));
          }
          const biggest = Math.max(0, ...reqs.map((q) => q.bytes));
          let sum = 0;
          for (const x of started) {
            sum += x.bytes;
            // bytes started by x.at: what leaked since time 0, the bucket, and the request let in last
            expect(sum).toBeLessThanOrEqual((avg * x.at) / 1e9 + avg / 10 + 2 * biggest + 1);
          }
          expect(t.pending).toEqual([0, 0]);
        },
      ),
      { numRuns: 50 },
    );
  });
});
