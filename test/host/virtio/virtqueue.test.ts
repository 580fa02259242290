import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeRig, type Rig } from './setup.ts';
import { LINUX_FEATURES } from '../../fakes/mini_virtio_driver.ts';
import { vringNeedEvent, usedAvailEvent } from '../../../src/protocol/virtio_ring.ts';
import * as P from '../../../src/protocol/virtio_pci.ts';

const Q = 2; // first request queue
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;

function desc(rig: Rig, table: number, i: number, addr: number, len: number, flags: number, next = 0): void {
  const d = table + 16 * i;
  rig.mem.write64(d, BigInt(addr));
  rig.mem.write32(d + 8, len);
  rig.mem.write16(d + 12, flags);
  rig.mem.write16(d + 14, next);
}

/** A rig after Linux-style bring-up, with one 51-byte header and one 108-byte response buffer ready. */
function ready(size?: number): Rig & { hdr: number; resp: number; table: number } {
  const rig = makeRig();
  rig.drv.init(LINUX_FEATURES, size ? { size } : {});
  const hdr = rig.drv.alloc(51);
  rig.mem.write8(hdr, 1); // lun[0] = 1, target 0, LUN 0; CDB TEST UNIT READY
  const resp = rig.drv.alloc(108);
  return { ...rig, hdr, resp, table: rig.drv.queues[Q]!.desc };
}

async function kickAndRun(rig: Rig, head: number): Promise<void> {
  rig.drv.publish(Q, head);
  rig.drv.kick(Q);
  await rig.loop.runUntilIdle();
}

function expectBroken(rig: Rig, msg: string): void {
  expect(rig.log).toEqual([`qemu-system-x86_64: ${msg}`]);
  expect(rig.drv.status() & 0x40).toBe(0x40); // DEVICE_NEEDS_RESET
  expect(rig.drv.irqs).toContain(0); // config-change interrupt on the config vector
  expect(rig.drv.usedIdx(Q)).toBe(0);
}

describe('protocol violations mark the device broken with QEMU\'s message', () => {
  it('zero-sized buffer', async () => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, 0, 0);
    await kickAndRun(r, 0);
    expectBroken(r, 'virtio: zero sized buffers are not allowed');
  });

  it('looped descriptor chain', async () => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, 51, NEXT, 1);
    desc(r, r.table, 1, r.hdr, 51, NEXT, 0);
    await kickAndRun(r, 0);
    expectBroken(r, 'Looped descriptor');
  });

  it('next out of range', async () => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, 51, NEXT, 300);
    await kickAndRun(r, 0);
    expectBroken(r, 'Desc next is 300');
  });

  it('head index out of range', async () => {
    const r = ready();
    await kickAndRun(r, 300);
    expectBroken(r, 'Guest says index 300 is available');
  });

  it('avail.idx moved by more than the queue size', async () => {
    const r = ready();
    r.mem.write16(r.drv.queues[Q]!.avail + 2, 300);
    r.drv.kick(Q);
    await r.loop.runUntilIdle();
    expectBroken(r, 'Guest moved used index from 0 to 300');
  });

  it('buffer outside guest memory', async () => {
    const r = ready();
    desc(r, r.table, 0, r.mem.size - 8, 51, 0);
    await kickAndRun(r, 0);
    expectBroken(r, 'virtio: bogus descriptor or out of resources');
  });

  it('buffer at an address beyond 2^53', async () => {
    const r = ready();
    r.mem.write64(r.table, 0xffff_ffff_ffff_f000n);
    r.mem.write32(r.table + 8, 51);
    r.mem.write16(r.table + 12, 0);
    await kickAndRun(r, 0);
    expectBroken(r, 'virtio: bogus descriptor or out of resources');
  });

  it.each([0, 17])('indirect table of %i bytes', async (len) => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, len, INDIRECT);
    await kickAndRun(r, 0);
    expectBroken(r, 'Invalid size for indirect buffer table');
  });

  it('indirect table outside guest memory', async () => {
    const r = ready();
    desc(r, r.table, 0, r.mem.size - 16, 32, INDIRECT);
    await kickAndRun(r, 0);
    expectBroken(r, 'Cannot map indirect buffer');
  });

  it('indirect next beyond the table', async () => {
    const r = ready();
    const t = r.drv.alloc(32);
    desc(r, t, 0, r.hdr, 51, NEXT, 2);
    desc(r, r.table, 0, t, 32, INDIRECT);
    await kickAndRun(r, 0);
    expectBroken(r, 'Desc next is 2');
  });

  it('readable descriptor after a writable one', async () => {
    const r = ready();
    desc(r, r.table, 0, r.resp, 108, WRITE | NEXT, 1);
    desc(r, r.table, 1, r.hdr, 51, 0);
    await kickAndRun(r, 0);
    expectBroken(r, 'Incorrect order for descriptors');
  });

  it('request header shorter than 19 + cdb_size', async () => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, 50, NEXT, 1);
    desc(r, r.table, 1, r.resp, 108, WRITE);
    await kickAndRun(r, 0);
    expectBroken(r, 'wrong size for virtio-scsi headers');
  });

  it('response area shorter than 12 + sense_size', async () => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, 51, NEXT, 1);
    desc(r, r.table, 1, r.resp, 107, WRITE);
    await kickAndRun(r, 0);
    expectBroken(r, 'wrong size for virtio-scsi headers');
  });

  it('more chains in flight than the queue size', async () => {
    const r = makeRig({ handler: () => ({ hang: true }) });
    r.drv.init(LINUX_FEATURES, { size: 4 });
    for (let i = 0; i < 4; i++) r.drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await r.loop.runUntilIdle();
    expect(r.log).toEqual([]);
    r.drv.publish(Q, 0); // a fifth chain while four are still in flight
    r.drv.kick(Q);
    await r.loop.runUntilIdle();
    expectBroken(r, 'Virtqueue size exceeded');
  });

  it('rings outside guest memory at queue enable', () => {
    const r = makeRig();
    r.drv.probe();
    r.drv.negotiate();
    r.drv.cw(0x14, 1, 0x0f); // DRIVER_OK first so the config interrupt can be seen
    r.drv.cw(P.VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
    r.drv.cw(P.VIRTIO_PCI_COMMON_Q_DESCLO, 4, r.mem.size - 64);
    r.drv.cw(P.VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    expect(r.log).toEqual(['qemu-system-x86_64: Cannot map desc']);
    expect(r.drv.status() & 0x40).toBe(0x40);
  });

  it('queue_enable written with something other than 1', () => {
    const r = makeRig();
    r.drv.init();
    r.drv.cw(P.VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
    expect(r.log).toEqual(['qemu-system-x86_64: wrong value for queue_enable 0']);
  });

  it('a broken device ignores further kicks until reset, then works again', async () => {
    const r = ready();
    desc(r, r.table, 0, r.hdr, 0, 0);
    await kickAndRun(r, 0);
    expect(r.log.length).toBe(1);
    r.drv.kick(Q);
    await r.loop.runUntilIdle();
    expect(r.log.length).toBe(1);
    r.drv.queues.length = 0;
    r.drv.init();
    expect(r.drv.status()).toBe(0x0f);
    expect((await r.drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]))!.response).toBe(0);
  });

  it('an INDIRECT flag inside an indirect table is taken as a plain buffer, as QEMU does', async () => {
    const r = ready();
    const t = r.drv.alloc(32);
    desc(r, t, 0, r.hdr, 51, NEXT | INDIRECT, 1);
    desc(r, t, 1, r.resp, 108, WRITE);
    desc(r, r.table, 0, t, 32, INDIRECT);
    await kickAndRun(r, 0);
    expect(r.log).toEqual([]);
    expect(r.drv.pollUsed(Q)).toEqual([{ id: 0, len: 108 }]);
  });
});

describe('notification suppression', () => {
  it('EVENT_IDX: the device publishes avail_event = last_avail_idx after popping', async () => {
    const r = makeRig();
    r.drv.init();
    await r.drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    await r.drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    const vq = r.drv.queues[Q]!;
    expect(r.mem.read16(vq.used + usedAvailEvent(vq.size))).toBe(2);
    r.drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0], undefined, 0, { kick: false });
    expect(r.drv.kickPrepare(Q, 1)).toBe(true); // avail 2 → 3 crosses avail_event 2
  });

  it('without EVENT_IDX, NO_INTERRUPT in avail.flags suppresses the MSI; used.flags stays 0 when idle', async () => {
    const r = makeRig();
    r.drv.init(LINUX_FEATURES & ~(1n << 29n));
    r.drv.setAvailFlags(Q, 1);
    await r.drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    expect(r.drv.irqs).not.toContain(Q + 1);
    r.drv.setAvailFlags(Q, 0);
    await r.drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    expect(r.drv.irqs).toContain(Q + 1);
    expect(r.mem.read16(r.drv.queues[Q]!.used)).toBe(0);
  });

  it('property: interrupts follow vring_need_event(used_event, new, last signalled)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 12 }), async (events) => {
        const r = makeRig();
        r.drv.init();
        let signalled: number | null = null;
        for (let i = 0; i < events.length; i++) {
          const usedEvent = events[i]!;
          r.drv.setUsedEvent(Q, usedEvent);
          const before = r.drv.irqs.length;
          const p = r.drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]);
          await r.loop.runUntilIdle();
          const nw = r.drv.usedIdx(Q);
          expect(nw).toBe(i + 1);
          const expected = signalled === null || vringNeedEvent(usedEvent, nw, signalled);
          expect(r.drv.irqs.length > before).toBe(expected);
          signalled = nw;
          void p;
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('hostile rings (fast-check)', () => {
  const N = 8;
  const descArb = fc.record({
    addr: fc.oneof(fc.constantFrom('hdr', 'resp', 'data', 'table', 'oob'), fc.integer({ min: 0, max: 0x3fffff })),
    len: fc.oneof(fc.constantFrom(0, 1, 16, 32, 51, 107, 108, 512, 4096), fc.integer({ min: 0, max: 1 << 20 })),
    flags: fc.integer({ min: 0, max: 7 }),
    next: fc.integer({ min: 0, max: N + 2 }),
  });
  const MESSAGES = [
    /^virtio: zero sized buffers are not allowed$/,
    /^Looped descriptor$/,
    /^Desc next is \d+$/,
    /^Guest says index \d+ is available$/,
    /^Invalid size for indirect buffer table$/,
    /^Cannot map indirect buffer$/,
    /^Incorrect order for descriptors$/,
    /^virtio: bogus descriptor or out of resources$/,
    /^wrong size for virtio-scsi headers$/,
    /^Virtqueue size exceeded$/,
    /^virtio: too many write descriptors in indirect table$/,
  ];

  it('arbitrary descriptor tables never throw; each published chain gets one used entry, or the device needs a reset', async () => {
    const outcomes = { ok: 0, broken: 0 };
    const mutation = fc.record({
      table: fc.constantFrom('ring', 'indirect'),
      index: fc.integer({ min: 0, max: N - 1 }),
      field: fc.constantFrom('addr', 'len', 'flags', 'next'),
      value: descArb,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(0, 2, 4, 6, 1, 9), { minLength: 1, maxLength: N }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }),
        async (heads, useIndirect, mutations, cdb) => {
          const r = makeRig({ handler: () => ({ status: cdb[0]! & 0x02, dataIn: new Uint8Array(64) }) });
          r.drv.init(LINUX_FEATURES, { size: N });
          const vq = r.drv.queues[Q]!;
          const hdr = r.drv.alloc(51);
          r.mem.write8(hdr, 1);
          r.mem.writeBytes(hdr + 19, Uint8Array.from(cdb));
          const resp = r.drv.alloc(108);
          const data = r.drv.alloc(4096);
          const itab = r.drv.alloc(16 * 4);
          const addrOf = (a: 'hdr' | 'resp' | 'data' | 'table' | 'oob' | number): number =>
            a === 'hdr' ? hdr : a === 'resp' ? resp : a === 'data' ? data : a === 'table' ? itab : a === 'oob' ? r.mem.size - 4 : a;
          // Well-formed requests first: ring pairs (2k, 2k+1) = header, response; or an indirect table.
          desc(r, itab, 0, hdr, 51, NEXT, 1);
          desc(r, itab, 1, resp, 108, WRITE | NEXT, 2);
          desc(r, itab, 2, data, 64, WRITE);
          for (let k = 0; k < N / 2; k++) {
            if (useIndirect[k]) desc(r, vq.desc, 2 * k, itab, 48, INDIRECT);
            else desc(r, vq.desc, 2 * k, hdr, 51, NEXT, 2 * k + 1);
            desc(r, vq.desc, 2 * k + 1, resp, 108, WRITE);
          }
          // Then the hostile part.
          for (const m of mutations) {
            const base = m.table === 'ring' ? vq.desc : itab;
            const i = m.table === 'ring' ? m.index : m.index % 4;
            const d = base + 16 * i;
            if (m.field === 'addr') r.mem.write64(d, BigInt(addrOf(m.value.addr)));
            if (m.field === 'len') r.mem.write32(d + 8, m.value.len);
            if (m.field === 'flags') r.mem.write16(d + 12, m.value.flags);
            if (m.field === 'next') r.mem.write16(d + 14, m.value.next);
          }
          const published = heads.slice(0, N);
          for (const h of published) r.drv.publish(Q, h);
          r.drv.kick(Q);
          await r.loop.runUntilIdle();

          const used = r.drv.pollUsed(Q);
          const broken = (r.drv.status() & 0x40) !== 0;
          // used.idx never runs ahead of avail.idx (mod 2^16, within the queue size)
          expect((vq.availIdx - r.drv.usedIdx(Q)) & 0xffff).toBeLessThanOrEqual(N);
          outcomes[broken ? 'broken' : 'ok']++;
          if (broken) {
            expect(r.log.length).toBe(1);
            expect(MESSAGES.some((m) => m.test(r.log[0]!.replace('qemu-system-x86_64: ', '')))).toBe(true);
            expect(used.length).toBeLessThan(published.length);
          } else {
            expect(r.log).toEqual([]);
            expect(used.length).toBe(published.length);
            expect(used.map((u) => u.id).sort()).toEqual([...published].sort());
            for (const u of used) expect(u.len).toBeLessThanOrEqual(1 << 24);
            expect(r.dev.scsi.inFlight).toBe(0);
          }
        },
      ),
      { numRuns: 200 },
    );
    // Both outcomes must actually be exercised for the property to mean anything.
    expect(outcomes.broken).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
  });

  it('arbitrary CDBs through well-formed requests always get one well-formed response', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.integer({ min: 0, max: 8192 }),
        fc.boolean(),
        fc.constantFrom(0, 2, 8, 0x18),
        async (cdb, dataLen, out, status) => {
          const r = makeRig({ handler: () => ({ status, sense: status === 2 ? [0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0] : [], dataIn: new Uint8Array(dataLen) }) });
          r.drv.init();
          const res = await r.drv.doCommand(0, 0, cdb, out && dataLen ? new Uint8Array(dataLen) : undefined, out ? 0 : dataLen);
          expect(res).toBeDefined();
          expect([0, 1, 9]).toContain(res!.response);
          expect(res!.usedLen).toBe(dataLen + 108);
          expect(res!.senseLen).toBeLessThanOrEqual(96);
          expect(r.log).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });
});
