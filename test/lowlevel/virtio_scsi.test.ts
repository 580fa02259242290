// Ours: the virtio_scsi LLD (src/lowlevel/virtio_scsi.ts) against a small fake virtio-scsi PCI
// function, with the guest's real PCI, virtio-pci, virtio ring and SCSI mid-layer in between —
// wired as src/machine/guest.ts wires them. Spec: reference/guest-virtio-scsi.md §1–§7.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeviceNumbers } from '../../src/kernel/char_dev.ts';
import { DmaAllocator } from '../../src/kernel/dma.ts';
import { IrqController } from '../../src/kernel/irq.ts';
import type { Kernel } from '../../src/kernel/kernel.ts';
import { PciSubsystem } from '../../src/kernel/pci.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import type { LogLevel } from '../../src/kernel/printk.ts';
import { virtioScsiDriver } from '../../src/lowlevel/virtio_scsi.ts';
import { ScsiMod } from '../../src/midlayer/scsi.ts';
import { SCSI_MLQUEUE_HOST_BUSY, ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import type { DmaDirection } from '../../src/midlayer/scsi_cmnd.ts';
import type { ScsiDevice } from '../../src/midlayer/scsi_device.ts';
import type { ScsiHost } from '../../src/midlayer/scsi_host.ts';
import { scsiFinishCommand, scsiQueueCommand, setEhHooks } from '../../src/midlayer/scsi_lib.ts';
import { findSdev, scsiAddDevice } from '../../src/midlayer/scsi_scan.ts';
import { FlatGuestMemory } from '../../src/platform/guest_memory.ts';
import { PciBus } from '../../src/platform/pci_bus.ts';
import {
  VIRTIO_SCSI_EVT_RESET_HARD,
  VIRTIO_SCSI_EVT_RESET_REMOVED,
  VIRTIO_SCSI_EVT_RESET_RESCAN,
  VIRTIO_SCSI_S_ABORTED,
  VIRTIO_SCSI_S_FAILURE,
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_FUNCTION_SUCCEEDED,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_T_ASYNC_NOTIFY,
  VIRTIO_SCSI_T_NO_EVENT,
  VIRTIO_SCSI_T_PARAM_CHANGE,
  VIRTIO_SCSI_T_TRANSPORT_RESET,
} from '../../src/protocol/virtio_scsi.ts';
import { EventLoop, NS_PER_S } from '../../src/sim/event_loop.ts';
import { Device, DeviceModel } from '../../src/sysfs/core.ts';
import { sysfsRoot } from '../../src/sysfs/kernfs.ts';
import { VirtioBus } from '../../src/virtio/virtio.ts';
import { virtioPciDriver } from '../../src/virtio/virtio_pci_common.ts';
import type { FakeLldState } from '../fakes/fake_lld.ts';
import { FakeVirtioScsiHba, eventLun, luTable } from '../fakes/fake_virtio_scsi_hba.ts';
import type { CmdReply, HbaConfig } from '../fakes/fake_virtio_scsi_hba.ts';
import { QEMU_SCSI_FEATURES } from '../fakes/fake_virtio_scsi_device.ts';

// ---- the rig -------------------------------------------------------------------------------------

interface RigOptions {
  cfg?: Partial<HbaConfig>;
  features?: bigint;
  queueSize?: number;
  nrCpus?: number;
  params?: Record<string, string>;
  /** LUs of the default answer closure: [target, lun, peripheral type]. */
  lus?: Array<[number, number, number]>;
}

async function boot(o: RigOptions = {}) {
  const loop = new EventLoop();
  const log = new KernelLog(loop);
  const mem = new FlatGuestMemory(32 << 20);
  // Low 16 MiB stand for the kernel; DMA-able pages and slab objects come from above (as in guest.ts).
  const pages = new DmaAllocator(mem, 16 << 20, 16 << 20);
  const nrCpus = o.nrCpus ?? 2;
  const irq = new IrqController({ nrCpus, initialLoad: [1, 0] });
  const bus = new PciBus();
  const hba = new FakeVirtioScsiHba(mem, irq, loop, {
    ...(o.features !== undefined ? { features: o.features } : {}),
    ...(o.queueSize !== undefined ? { queueSize: o.queueSize } : {}),
    ...(o.cfg ? { cfg: o.cfg } : {}),
  });
  bus.attach(4, 0, hba);
  const dm = new DeviceModel(sysfsRoot(), () => loop.now() / 1e6);
  const params = o.params ?? {};
  const k: Kernel = {
    loop,
    mem,
    dm,
    devs: new DeviceNumbers(),
    nrCpus,
    randomU32: () => 0,
    dma: {
      alloc: (size, align = 8) => {
        const p = pages.alloc(size, Math.max(align, 4096));
        if (p === null) throw new Error('out of DMA memory');
        return p;
      },
      free: (addr) => pages.free(addr),
    },
    printk: (level, text) => log.printk(level as LogLevel, text),
    param: (m, n) => params[`${m}.${n}`],
  };
  const pci = new PciSubsystem({ bus, log, irq, verbose: false });
  pci.firmwareInit();
  pci.scanBus();
  const virtio = new VirtioBus(log);
  // What the driver core does in guest.ts: virtioN under its PCI function, on the virtio bus.
  const pciDev = new Device('0000:00:04.0', null);
  dm.add(pciDev);
  virtio.hooks = {
    deviceAdded: (vdev) => {
      const d = new Device(vdev.name, pciDev);
      d.bus = dm.bus('virtio');
      dm.add(d);
      vdev.sysdev = d;
    },
  };
  await pci.registerDriver(virtioPciDriver({ mem, dma: pages, irq, virtio, log }));
  const mod = new ScsiMod(k);
  const st: FakeLldState = { lus: new Map(), cdbs: [] };
  for (const [id, lun, type] of o.lus ?? []) st.lus.set(`${id}:${lun}`, { type, model: type === 5 ? 'QEMU CD-ROM' : 'QEMU HARDDISK' });
  hba.onCommand = luTable(st);
  const driver = virtioScsiDriver(mod);

  /** Runs the guest until nothing is queued and no scan, probe or event work is pending. */
  const settle = async (): Promise<void> => {
    for (let quiet = 0, spins = 0; quiet < 3 && spins < 500; spins++) {
      await loop.runUntilIdle();
      await new Promise((r) => setImmediate(r));
      quiet = loop.busy || mod.pending.size > 0 ? 0 : quiet + 1;
    }
  };
  /** Runs the loop until `p` settles (for work that leaves a held command's timer armed). */
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const s = p.finally(() => (done = true));
    s.catch(() => {});
    await loop.runUntilIdle(() => done);
    if (!done) throw new Error('did not complete');
    return s;
  };
  await virtio.registerVirtioDriver(driver);
  await settle();
  const host = mod.hosts[0] as ScsiHost | undefined;
  const lines = (): string[] => log.records.map((r) => r.text);
  return { loop, log, mem, pages, irq, hba, k, mod, st, host, pci, virtio, driver, settle, run, lines };
}
type Rig = Awaited<ReturnType<typeof boot>>;

/** A rig with one LU at 0:0 (added without a scan) and the device's answers left to the test. */
async function rigWithLu(o: RigOptions = {}, id = 0, lun = 0): Promise<Rig & { sdev: ScsiDevice; host: ScsiHost }> {
  const r = await boot({ params: { 'scsi_mod.scan': 'manual' }, cfg: { maxTarget: 7 }, lus: [[id, lun, 0]], ...o });
  const host = r.host!;
  await r.run(scsiAddDevice(r.mod, host, 0, id, lun));
  await r.settle();
  const sdev = findSdev(host, 0, id, lun)!;
  expect(sdev).toBeDefined();
  return { ...r, host, sdev };
}

interface Issued {
  readonly cmd: ScsiCmnd;
  readonly done: Promise<ScsiCmnd>;
  readonly completions: () => number;
  readonly buf: number[];
}

/** Issues one passthrough command (no retries) through the mid-layer; `segs` splits the buffer. */
function issue(r: Rig, sdev: ScsiDevice, o: { cdb: number[]; dir?: DmaDirection; length?: number; dataOut?: Uint8Array; segs?: number }): Issued {
  const length = o.dataOut?.length ?? o.length ?? 0;
  const cmd = new ScsiCmnd(sdev);
  cmd.setCdb(o.cdb);
  cmd.dir = length > 0 ? (o.dir ?? (o.dataOut ? 'to-dev' : 'from-dev')) : 'none';
  const segs = Math.max(1, Math.min(o.segs ?? 1, length || 1));
  const buf: number[] = [];
  cmd.sgl = [];
  for (let i = 0, off = 0; i < segs && length > 0; i++) {
    const len = i === segs - 1 ? length - off : Math.floor(length / segs);
    const a = r.k.dma.alloc(len, 8);
    if (o.dataOut) r.mem.writeBytes(a, o.dataOut.subarray(off, off + len));
    cmd.sgl.push({ addr: a, len });
    buf.push(a);
    off += len;
  }
  cmd.length = length;
  cmd.timeout = 30 * NS_PER_S;
  cmd.allowed = 0;
  cmd.passthrough = true;
  cmd.jiffiesAtAlloc = r.loop.now();
  let n = 0;
  const done = new Promise<ScsiCmnd>((resolve) => {
    cmd.complete = (c) => {
      n++;
      resolve(c);
    };
  });
  scsiQueueCommand(r.mod, cmd);
  return { cmd, done, completions: () => n, buf };
}

const hostByte = (result: number): number => (result >>> 16) & 0xff;
const hex = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le64 = (v: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

/** Linux host bytes (include/scsi/scsi_status.h). */
const DID = { OK: 0x00, BUS_BUSY: 0x02, BAD_TARGET: 0x04, ABORT: 0x05, ERROR: 0x07, RESET: 0x08, TRANSPORT_DISRUPTED: 0x0e } as const;

/** §4's table: virtio response → (host byte, status override). */
function expectedMapping(response: number, status: number): { host: number; status: number } {
  switch (response) {
    case 0:
      return { host: DID.OK, status };
    case 1:
      return { host: DID.ERROR, status };
    case 2:
      return { host: DID.ABORT, status };
    case 3:
      return { host: DID.BAD_TARGET, status };
    case 4:
      return { host: DID.RESET, status };
    case 5:
      return { host: DID.BUS_BUSY, status };
    case 6:
      return { host: DID.TRANSPORT_DISRUPTED, status };
    case 7:
      return { host: DID.BAD_TARGET, status };
    case 8:
      return { host: DID.OK, status: 0x18 };
    case 9:
      return { host: DID.ERROR, status };
    default:
      return { host: DID.ERROR, status };
  }
}

// ---- §2 probe ------------------------------------------------------------------------------------

describe('virtio_scsi probe (§1, §2)', () => {
  it('derives the Scsi_Host from QEMU 7.2 defaults (-smp 2) and scans targets 0..255', async () => {
    const r = await boot();
    const h = r.host!;
    expect(h.canQueue).toBe(256); // vring size of request queue 0
    expect(h.cmdPerLun).toBe(128); // min(config 128, can_queue)
    expect(h.sgTablesize).toBe(254); // seg_max
    expect(h.maxSectors).toBe(0xffff);
    expect(h.maxLun).toBe(16383 + 1 + 0x4000); // 32768
    expect(h.maxId).toBe(256);
    expect(h.maxChannel).toBe(0);
    expect(h.maxCmdLen).toBe(32);
    expect(h.nrHwQueues).toBe(2);
    expect(h.template.procName).toBe('virtio_scsi');
    expect(r.lines()).toContain('scsi host0: Virtio SCSI HBA');
    // The driver told the device its CDB and sense sizes.
    expect(r.hba.cdbSize).toBe(32);
    expect(r.hba.senseSize).toBe(96);
    // The async scan sent one INQUIRY to LUN 0 of every target; all empty → BAD_TARGET, no device.
    expect(r.hba.requests.map((q) => q.cdb[0])).toEqual(new Array(256).fill(0x12));
    expect(r.hba.requests.map((q) => q.lun[1])).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(h.devices).toEqual([]);
    // HOTPLUG is offered by QEMU, so the 8 event buffers are posted: 16 device-writable bytes each.
    expect(r.hba.postedEvents).toBe(8);
    const evChains = r.hba.chains.filter((c) => c.queue === 1);
    expect(evChains.map((c) => [c.head.len, c.head.flags])).toEqual(new Array(8).fill([16, 2]));
    // MSI-X: config, control, event, then one vector per request queue.
    const names = r.irq.descs().flatMap((d) => d.actions);
    expect(names).toEqual(['virtio0-config', 'virtio0-control', 'virtio0-event', 'virtio0-request', 'virtio0-request']);
  });

  it('clamps and defaults odd config values as virtscsi_probe does', async () => {
    const r = await boot({
      queueSize: 64,
      nrCpus: 4,
      params: { 'scsi_mod.scan': 'manual' },
      cfg: { numQueues: 4, segMax: 0, maxSectors: 0, cmdPerLun: 1000, maxTarget: 3, maxLun: 7, senseSize: 252, cdbSize: 64 },
    });
    const h = r.host!;
    expect(h.canQueue).toBe(64);
    expect(h.cmdPerLun).toBe(64); // min(1000, can_queue)
    expect(h.sgTablesize).toBe(1); // seg_max 0 → 1
    expect(h.maxSectors).toBe(0xffff); // max_sectors 0 → 0xFFFF
    expect(h.maxLun).toBe(7 + 1 + 0x4000);
    expect(h.maxId).toBe(4);
    expect(h.nrHwQueues).toBe(4);
    expect(r.hba.cdbSize).toBe(32); // overwritten by the driver
    expect(r.hba.senseSize).toBe(96);
    expect(r.irq.descs().flatMap((d) => d.actions).filter((n) => n === 'virtio0-request')).toHaveLength(4);
  });

  it('caps the request queues at the CPU count and treats num_queues 0 as 1', async () => {
    const a = await boot({ params: { 'scsi_mod.scan': 'manual' }, cfg: { numQueues: 4 } });
    expect(a.host!.nrHwQueues).toBe(2);
    expect(a.irq.descs().flatMap((d) => d.actions).filter((n) => n === 'virtio0-request')).toHaveLength(2);
    const b = await boot({ params: { 'scsi_mod.scan': 'manual' }, cfg: { numQueues: 0 } });
    expect(b.host!.nrHwQueues).toBe(1);
  });

  it('posts no event buffers when HOTPLUG is not negotiated', async () => {
    const r = await boot({ params: { 'scsi_mod.scan': 'manual' }, features: QEMU_SCSI_FEATURES & ~(1n << 1n) });
    expect(r.host).toBeDefined();
    expect(r.hba.postedEvents).toBe(0);
    expect(r.hba.kicks[1]).toBe(0);
  });
});

// ---- §3 queuecommand ------------------------------------------------------------------------------

describe('virtio_scsi queuecommand (§3)', () => {
  const TAG_BASE = 0xffff_8880_0400_0000n;

  it('writes the request header and puts header, data-out | response in one indirect descriptor', async () => {
    const r = await rigWithLu({ cfg: { maxTarget: 7 } }, 2, 300);
    const payload = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7) & 0xff);
    r.hba.onCommand = () => ({ response: VIRTIO_SCSI_S_OK, status: 0 });
    const before = r.hba.requests.length;
    // WRITE(10) of 2 blocks, LBA 0x01020304, data in two segments.
    const w = issue(r, r.sdev, { cdb: [0x2a, 0, 1, 2, 3, 4, 0, 0, 2, 0], dataOut: payload, segs: 2 });
    await r.settle();
    expect(w.completions()).toBe(1);
    expect(w.cmd.result).toBe(0);
    const req = r.hba.requests[before]!;
    const hdr = req.raw.subarray(0, 51);
    const tag = TAG_BASE + BigInt((w.cmd.hwq << 12) | w.cmd.tag) * 0x200n;
    expect(hex(hdr.subarray(0, 8))).toBe('01 02 41 2c 00 00 00 00'); // lun: 1, target 2, 0x40 | (300 >> 8), 300 & 0xff, 0…
    expect(hex(hdr.subarray(8, 16))).toBe(hex(le64(tag))); // tag: the command's (fake) kernel address, LE64
    expect(hdr[16]).toBe(0); // task_attr: VIRTIO_SCSI_S_SIMPLE
    expect(hdr[17]).toBe(0); // prio
    expect(hdr[18]).toBe(0); // crn
    expect(hex(hdr.subarray(19, 51))).toBe(hex([0x2a, 0, 1, 2, 3, 4, 0, 0, 2, 0, ...new Array(22).fill(0)])); // cdb, zero-padded to 32
    expect(req.dataOut).toEqual(payload); // data-out follows the header, both segments in order
    expect(req.dataInLen).toBe(0);
    // The chain: one ring slot (INDIRECT) pointing at a 4-entry table.
    const chain = r.hba.chains.filter((c) => c.queue === 2).at(-1)!;
    expect(chain.head.flags).toBe(4); // VIRTQ_DESC_F_INDIRECT
    expect(chain.head.len).toBe(4 * 16);
    expect(chain.table.map((d) => [d.len, d.flags, d.next])).toEqual([
      [51, 1, 1], // request header, device-readable, NEXT
      [512, 1, 2], // data-out segment 1
      [512, 1, 3], // data-out segment 2
      [108, 2, 4], // response (12 + 96 sense), device-writable, last
    ]);
    expect(chain.table.slice(1, 3).map((d) => d.addr)).toEqual(w.buf);
  });

  it('puts a read as header | response, data-in and delivers data, status and resid', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => ({ response: VIRTIO_SCSI_S_OK, status: 0, dataIn: [0x11, 0x22, 0x33] });
    const i = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36, segs: 2 });
    await r.settle();
    const req = r.hba.requests.at(-1)!;
    expect(hex(req.raw.subarray(0, 8))).toBe('01 00 40 00 00 00 00 00'); // LUN 0 still carries the flat-space 0x40
    expect(req.raw.length).toBe(51); // no data-out
    expect(req.dataInLen).toBe(36);
    const chain = r.hba.chains.filter((c) => c.queue === 2).at(-1)!;
    expect(chain.table.map((d) => [d.len, d.flags, d.next])).toEqual([
      [51, 1, 1], // header
      [108, 3, 2], // response, WRITE | NEXT
      [18, 3, 3], // data-in segment 1
      [18, 2, 4], // data-in segment 2, last
    ]);
    expect(i.cmd.result).toBe(0);
    expect(i.cmd.resid).toBe(33); // the device's resid (36 − 3)
    expect([...r.mem.readBytes(i.buf[0]!, 3)]).toEqual([0x11, 0x22, 0x33]);
  });

  it('gives concurrent commands distinct tags on request queue 0', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => ({});
    const cmds = Array.from({ length: 5 }, () => issue(r, r.sdev, { cdb: [0, 0, 0, 0, 0, 0] }));
    await r.settle();
    const reqs = r.hba.requests.slice(-5);
    expect(new Set(reqs.map((q) => q.tag)).size).toBe(5);
    expect(reqs.every((q) => q.queue === 2)).toBe(true);
    expect(cmds.map((c) => c.completions())).toEqual([1, 1, 1, 1, 1]);
  });
});

// ---- §4 completion mapping ------------------------------------------------------------------------

describe('virtio_scsi completion (§4)', () => {
  const table: Array<[number, string, number, number]> = [
    // response, name, Linux host byte, status byte seen
    [0, 'OK', DID.OK, 0x02],
    [1, 'OVERRUN', DID.ERROR, 0x02],
    [2, 'ABORTED', DID.ABORT, 0x02],
    [3, 'BAD_TARGET', DID.BAD_TARGET, 0x02],
    [4, 'RESET', DID.RESET, 0x02],
    [5, 'BUSY', DID.BUS_BUSY, 0x02],
    [6, 'TRANSPORT_FAILURE', DID.TRANSPORT_DISRUPTED, 0x02],
    [7, 'TARGET_FAILURE', DID.BAD_TARGET, 0x02],
    [8, 'NEXUS_FAILURE', DID.OK, 0x18], // RESERVATION CONFLICT replaces the status
    [9, 'FAILURE', DID.ERROR, 0x02],
    [10, 'FUNCTION_SUCCEEDED (not a command response)', DID.ERROR, 0x02],
    [12, 'INCORRECT_LUN', DID.ERROR, 0x02],
    [200, 'garbage', DID.ERROR, 0x02],
  ];

  it.each(table)('response %i (%s) → host byte %i, status %i', async (response, _name, hb, status) => {
    const r = await rigWithLu();
    const sense = [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0];
    r.hba.onCommand = () => ({ response, status: 0x02, sense });
    const i = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.settle();
    expect(i.completions()).toBe(1);
    expect(hostByte(i.cmd.result)).toBe(hb);
    expect(i.cmd.result & 0xff).toBe(status);
    expect([...i.cmd.senseBuffer.subarray(0, 18)]).toEqual(sense);
    const warn = r.lines().filter((l) => l.includes('Unknown response'));
    if (response > 9) expect(warn).toEqual([`scsi 0:0:0:0: tag#${i.cmd.tag} Unknown response ${response}`]);
    else expect(warn).toEqual([]);
  });

  it('prefixes the Unknown response warning as scmd_printk does once the LU has a disk', async () => {
    const r = await rigWithLu();
    r.sdev.diskName = 'sda';
    r.hba.onCommand = () => ({ response: 12 });
    const i = issue(r, r.sdev, { cdb: [0, 0, 0, 0, 0, 0] });
    await r.settle();
    expect(r.lines()).toContain(`scsi 0:0:0:0: [sda] tag#${i.cmd.tag} Unknown response 12`);
  });

  it('clamps resid to the buffer length and leaves it 0 when the device says 0', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => ({ resid: 0xffff_fff0, dataIn: [1, 2] });
    const a = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.settle();
    expect(a.cmd.resid).toBe(36);
    r.hba.onCommand = () => ({ resid: 0, dataIn: [1, 2] });
    const b = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.settle();
    expect(b.cmd.resid).toBe(0);
  });

  it('copies sense up to 96 bytes, and warns about and clamps a sense_len over 96', async () => {
    const r = await rigWithLu();
    const sense = Array.from({ length: 96 }, (_, i) => (0x70 + i) & 0xff);
    r.hba.onCommand = () => ({ status: 2, sense });
    const a = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.settle();
    expect([...a.cmd.senseBuffer]).toEqual(sense);
    expect(r.lines().filter((l) => l.includes('sense_len'))).toEqual([]);
    // Only the first 10 bytes: the rest of Linux's sense buffer stays zero.
    r.hba.onCommand = () => ({ status: 2, sense: sense.slice(0, 10) });
    const b = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.settle();
    expect([...b.cmd.senseBuffer]).toEqual([...sense.slice(0, 10), ...new Array(86).fill(0)]);
    // A device claiming 200 bytes: WARN_ON, then only 96 are copied.
    r.hba.onCommand = () => ({ status: 2, sense, senseLen: 200 });
    const c = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.settle();
    expect(c.completions()).toBe(1);
    expect([...c.cmd.senseBuffer]).toEqual(sense);
    expect(r.lines().filter((l) => l.includes('sense_len'))).toHaveLength(1);
    expect(r.lines().find((l) => l.includes('sense_len'))).toMatch(/^WARNING: .*200/);
  });
});

// ---- §5 task management ---------------------------------------------------------------------------

describe('virtio_scsi TMFs (§5)', () => {
  it('aborts a held command with ABORT TASK on the control queue', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => null; // the device sits on the command
    const i = issue(r, r.sdev, { cdb: [0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0], length: 512 });
    await r.loop.advance(1_000_000);
    expect(i.completions()).toBe(0);
    const held = r.hba.requests.at(-1)!;
    // The device completes the aborted command (ABORTED) before answering the TMF, as the spec requires.
    r.hba.onTmf = () => {
      r.hba.releaseHeld({ response: VIRTIO_SCSI_S_ABORTED });
      return VIRTIO_SCSI_S_OK;
    };
    const rc = await r.run(r.host.template.ehAbortHandler!(i.cmd));
    expect(rc).toBe('SUCCESS');
    const t = r.hba.tmfs.at(-1)!;
    expect(t.raw.length).toBe(24);
    expect(hex(t.raw.subarray(0, 4))).toBe(hex(le32(0))); // type: VIRTIO_SCSI_T_TMF
    expect(hex(t.raw.subarray(4, 8))).toBe(hex(le32(0))); // subtype: ABORT_TASK
    expect(hex(t.raw.subarray(8, 16))).toBe('01 00 40 00 00 00 00 00'); // lun, as in the command header
    expect(hex(t.raw.subarray(16, 24))).toBe(hex(le64(held.tag))); // tag: the aborted command's tag
    const chain = r.hba.chains.filter((c) => c.queue === 0).at(-1)!;
    expect(chain.table.map((d) => [d.len, d.flags])).toEqual([
      [24, 1], // request, device-readable
      [1, 2], // response byte, device-writable
    ]);
    expect(r.lines()).toContain(`scsi 0:0:0:0: tag#${i.cmd.tag} abort`);
    expect(i.completions()).toBe(1);
    expect(hostByte(i.cmd.result)).toBe(DID.ABORT);
  });

  it.each([
    [VIRTIO_SCSI_S_OK, 'SUCCESS'],
    [VIRTIO_SCSI_S_FUNCTION_SUCCEEDED, 'SUCCESS'],
    [VIRTIO_SCSI_S_FUNCTION_REJECTED, 'FAILED'],
    [VIRTIO_SCSI_S_FAILURE, 'FAILED'],
    [0xff, 'FAILED'],
  ] as const)('device reset: TMF response %i → %s', async (response, expected) => {
    const r = await rigWithLu({}, 3, 5);
    r.hba.onTmf = () => response;
    const cmd = new ScsiCmnd(r.sdev);
    const rc = await r.run(r.host.template.ehDeviceResetHandler!(cmd));
    expect(rc).toBe(expected);
    const t = r.hba.tmfs.at(-1)!;
    expect(hex(t.raw)).toBe(
      hex([
        ...le32(0), // type: VIRTIO_SCSI_T_TMF
        ...le32(5), // subtype: LOGICAL_UNIT_RESET
        ...[1, 3, 0x40, 5, 0, 0, 0, 0], // lun 3:5
        ...le64(0n), // tag: 0
      ]),
    );
    expect(r.lines()).toContain('scsi 0:0:3:5: device reset');
  });

  it('abort reports FAILED when the device rejects it', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => null;
    const i = issue(r, r.sdev, { cdb: [0, 0, 0, 0, 0, 0] });
    await r.loop.advance(1_000_000);
    r.hba.onTmf = () => VIRTIO_SCSI_S_FUNCTION_REJECTED;
    expect(await r.run(r.host.template.ehAbortHandler!(i.cmd))).toBe('FAILED');
    expect(i.completions()).toBe(0); // still the device's
  });
});

// ---- §6 events ------------------------------------------------------------------------------------

describe('virtio_scsi events (§6)', () => {
  async function hotRig(lus: Array<[number, number, number]>) {
    const r = await boot({ cfg: { maxTarget: 7 }, lus });
    expect(r.hba.postedEvents).toBe(8);
    return { ...r, host: r.host! };
  }
  const cdbsFor = (r: Rig, from: number): string[] => r.st.cdbs.slice(from);
  const hctls = (h: ScsiHost): string[] => h.devices.filter((d) => d.state !== 'deleted').map((d) => d.hctl);

  it('TRANSPORT_RESET/RESCAN for LUN 0 scans the whole target with REPORT LUNS', async () => {
    const r = await hotRig([[0, 0, 0]]);
    r.st.lus.set('3:0', { type: 0, model: 'QEMU HARDDISK' });
    r.st.lus.set('3:2', { type: 0, model: 'QEMU HARDDISK' });
    const from = r.st.cdbs.length;
    expect(r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(3, 0), VIRTIO_SCSI_EVT_RESET_RESCAN)).toBe(true);
    await r.settle();
    const ops = cdbsFor(r, from).filter((c) => / (12 00|a0 00) /.test(c)).map((c) => c.slice(0, 6));
    expect(ops).toEqual(['3:0 12', '3:0 a0', '3:2 12']);
    expect(hctls(r.host)).toEqual(['0:0:0:0', '0:0:3:0', '0:0:3:2']);
    expect(r.hba.postedEvents).toBe(8); // the buffer went back
  });

  it('TRANSPORT_RESET/RESCAN for LUN n adds just that LUN', async () => {
    const r = await hotRig([[0, 0, 0]]);
    r.st.lus.set('0:4', { type: 0, model: 'QEMU HARDDISK' });
    r.st.lus.set('0:5', { type: 0, model: 'QEMU HARDDISK' }); // present, but not announced
    const from = r.st.cdbs.length;
    r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(0, 4), VIRTIO_SCSI_EVT_RESET_RESCAN);
    await r.settle();
    const sent = cdbsFor(r, from);
    expect(sent.some((c) => c.includes(' a0 '))).toBe(false); // no REPORT LUNS
    expect(sent.filter((c) => / 12 00 /.test(c)).map((c) => c.slice(0, 4))).toEqual(['0:4 ']);
    expect(hctls(r.host)).toEqual(['0:0:0:0', '0:0:0:4']);
    expect(r.hba.postedEvents).toBe(8);
  });

  it('TRANSPORT_RESET/REMOVED removes the LU, or says it was not found', async () => {
    const r = await hotRig([
      [0, 0, 0],
      [1, 0, 0],
    ]);
    expect(hctls(r.host)).toEqual(['0:0:0:0', '0:0:1:0']);
    r.st.lus.delete('1:0');
    r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(1, 0), VIRTIO_SCSI_EVT_RESET_REMOVED);
    await r.settle();
    expect(hctls(r.host)).toEqual(['0:0:0:0']);
    r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(5, 300), VIRTIO_SCSI_EVT_RESET_REMOVED);
    await r.settle();
    expect(r.lines()).toContain('virtio_scsi: SCSI device 0 0 5 16684 not found'); // 0x4000 | 300: Linux keeps the flat-space bit
    r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(6, 2), VIRTIO_SCSI_EVT_RESET_REMOVED);
    await r.settle();
    expect(r.lines()).toContain('virtio_scsi: SCSI device 0 0 6 2 not found');
    expect(r.hba.postedEvents).toBe(8);
  });

  it('PARAM_CHANGE 2A/09 (and 2A/00, 2A/01) rescans the LU; other ASC/ASCQ do nothing', async () => {
    const r = await hotRig([[0, 0, 0]]);
    const vpdTo = (from: number): string[] => cdbsFor(r, from).filter((c) => c.startsWith('0:0 12 01'));
    for (const reason of [0x092a, 0x002a, 0x012a]) {
      const from = r.st.cdbs.length;
      r.hba.pushEvent(VIRTIO_SCSI_T_PARAM_CHANGE, eventLun(0, 0), reason);
      await r.settle();
      expect(vpdTo(from).length).toBeGreaterThan(0); // scsi_rescan_device re-reads the VPD pages
    }
    for (const reason of [0x022a, 0x0029, 0x0000]) {
      const from = r.st.cdbs.length;
      r.hba.pushEvent(VIRTIO_SCSI_T_PARAM_CHANGE, eventLun(0, 0), reason);
      await r.settle();
      expect(cdbsFor(r, from)).toEqual([]);
    }
    r.hba.pushEvent(VIRTIO_SCSI_T_PARAM_CHANGE, eventLun(4, 1), 0x092a);
    await r.settle();
    expect(r.lines()).toContain('virtio_scsi: SCSI device 0 0 4 1 not found');
    expect(r.hba.postedEvents).toBe(8);
  });

  it('EVENTS_MISSED: INQUIRY to every LU, drops PQ≠0 and BAD_TARGET ones, then scans the host', async () => {
    const r = await hotRig([
      [0, 0, 0],
      [0, 1, 0],
      [1, 0, 0],
    ]);
    expect(hctls(r.host)).toEqual(['0:0:0:0', '0:0:0:1', '0:0:1:0']);
    // Unplugged while no buffer was posted: 0:1 (target 0 stays → PQ 3) and the whole target 1
    // (→ BAD_TARGET); 2:0 was plugged meanwhile.
    r.st.lus.delete('0:1');
    r.st.lus.delete('1:0');
    r.st.lus.set('2:0', { type: 0, model: 'QEMU HARDDISK' });
    r.hba.eventsDropped = true;
    const from = r.st.cdbs.length;
    r.hba.pushEvent(VIRTIO_SCSI_T_NO_EVENT, new Uint8Array(8), 0); // event = 0x80000000
    await r.settle();
    const sent = cdbsFor(r, from);
    // virtscsi_rescan_hotunplug: INQUIRY of the standard inquiry length to each LU, in list order.
    expect(sent.slice(0, 3).map((c) => c.slice(0, 6))).toEqual(['0:0 12', '0:1 12', '1:0 12']);
    expect(sent[0]).toMatch(/^0:0 12 00 00 00 24 00( 00)*$/); // the device sees the CDB padded to 32 bytes
    // Then the full scan reaches target 2.
    expect(sent.some((c) => c.startsWith('2:0 12 00'))).toBe(true);
    expect(hctls(r.host)).toEqual(['0:0:0:0', '0:0:2:0']);
    expect(r.hba.postedEvents).toBe(8);
  });

  it('reports a loss when the device had no buffer, as soon as one is re-posted (QEMU events_dropped)', async () => {
    const r = await hotRig([[0, 0, 0]]);
    // Nine events before the guest runs: the ninth finds no buffer.
    for (let i = 0; i < 8; i++) expect(r.hba.pushEvent(VIRTIO_SCSI_T_NO_EVENT, new Uint8Array(8), 0)).toBe(true);
    r.st.lus.set('1:0', { type: 0, model: 'QEMU HARDDISK' });
    expect(r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(1, 0), VIRTIO_SCSI_EVT_RESET_RESCAN)).toBe(false);
    expect(r.hba.eventsDropped).toBe(true);
    await r.settle();
    // The re-posted buffer got NO_EVENT | EVENTS_MISSED, whose full scan found 1:0.
    expect(r.hba.eventsDropped).toBe(false);
    expect(hctls(r.host)).toEqual(['0:0:0:0', '0:0:1:0']);
    expect(r.hba.postedEvents).toBe(8);
  });

  it('logs unsupported events and reasons and keeps the buffer posted', async () => {
    const r = await hotRig([[0, 0, 0]]);
    r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(0, 0), VIRTIO_SCSI_EVT_RESET_HARD);
    r.hba.pushEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, eventLun(0, 0), 0x1f);
    r.hba.pushEvent(VIRTIO_SCSI_T_ASYNC_NOTIFY, eventLun(0, 0), 0);
    r.hba.pushEvent(0x7f, eventLun(0, 0), 0);
    await r.settle();
    expect(r.lines()).toContain('virtio_scsi: Unsupported virtio scsi event reason 0');
    expect(r.lines()).toContain('virtio_scsi: Unsupported virtio scsi event reason 1f');
    expect(r.lines()).toContain('virtio_scsi: Unsupported virtio scsi event 2');
    expect(r.lines()).toContain('virtio_scsi: Unsupported virtio scsi event 7f');
    expect(hctls(r.host)).toEqual(['0:0:0:0']);
    expect(r.hba.postedEvents).toBe(8);
  });
});

// ---- broken devices --------------------------------------------------------------------------------

describe('virtio_scsi with a broken device', () => {
  it('survives a used id out of range: the ring breaks and later commands fail with DID_BAD_TARGET', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => null;
    const stuck = issue(r, r.sdev, { cdb: [0, 0, 0, 0, 0, 0] });
    await r.loop.advance(1_000_000);
    expect(() => r.hba.pushUsed(2, 999, 0)).not.toThrow();
    await r.loop.advance(1_000_000);
    expect(r.lines().some((l) => l.includes('id 999 out of range'))).toBe(true);
    const later = issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 });
    await r.loop.advance(1_000_000);
    expect(later.completions()).toBe(1);
    expect(hostByte(later.cmd.result)).toBe(DID.BAD_TARGET);
    // The stuck command stays the device's, as in Linux: its timer only re-arms (eh_timed_out).
    await r.loop.advance(65 * NS_PER_S);
    expect(stuck.completions()).toBe(0);
    expect(r.sdev.iotmoCnt).toBeGreaterThanOrEqual(2);
  });

  it('survives a used entry for a descriptor that is not a head', async () => {
    const r = await rigWithLu();
    r.hba.onCommand = () => ({});
    expect(() => r.hba.pushUsed(2, 17, 0)).not.toThrow();
    await r.loop.advance(1_000_000);
    const later = issue(r, r.sdev, { cdb: [0, 0, 0, 0, 0, 0] });
    await r.loop.advance(1_000_000);
    expect(later.completions()).toBe(1);
    expect(hostByte(later.cmd.result)).toBe(DID.BAD_TARGET);
  });

  it('requeues (SCSI_MLQUEUE_HOST_BUSY) when the ring is full, and every command completes', async () => {
    // No indirect descriptors and an 8-entry ring: three descriptors per command, two fit at a time.
    const r = await rigWithLu({ queueSize: 8, features: QEMU_SCSI_FEATURES & ~(1n << 28n) });
    expect(r.host.canQueue).toBe(8);
    const rets: number[] = [];
    const t = r.host.template as { queuecommand: typeof r.host.template.queuecommand };
    const orig = t.queuecommand;
    t.queuecommand = (h, c) => {
      const rc = orig(h, c);
      rets.push(rc);
      return rc;
    };
    r.hba.onCommand = () => ({ dataIn: [0, 0, 5, 0x12] });
    const cmds = Array.from({ length: 6 }, () => issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, 36, 0], length: 36 }));
    await r.settle();
    expect(rets).toContain(SCSI_MLQUEUE_HOST_BUSY);
    expect(cmds.map((c) => c.completions())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(cmds.every((c) => c.cmd.result === 0)).toBe(true);
    expect(r.host.hostBusy).toBe(0);
  });
});

// ---- property ----------------------------------------------------------------------------------------

describe('virtio_scsi property', () => {
  it('random responses, statuses and sense lengths never throw and complete every command exactly once', async () => {
    const r = await rigWithLu();
    // The LLD's mapping is under test, not the error handler: FAILED results finish as they came.
    setEhHooks({ failed: (m, c) => scsiFinishCommand(m, c), timedOut: () => {} });
    const replyArb = fc.record({
      response: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 255 })),
      // BUSY and TASK SET FULL make the mid-layer requeue (a second request), so they are left out here.
      status: fc.constantFrom(0x00, 0x02, 0x18, 0x22, 0x40, 0x04, 0x7f),
      sense: fc.uint8Array({ maxLength: 96, size: 'max' }),
      senseLen: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
      dataIn: fc.uint8Array({ maxLength: 64, size: 'max' }),
      resid: fc.option(fc.nat({ max: 0xffff_ffff }), { nil: undefined }),
      length: fc.integer({ min: 0, max: 64 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(replyArb, { minLength: 1, maxLength: 12 }), async (replies) => {
        const queue: CmdReply[] = replies.map(({ length: _l, senseLen, resid, ...rest }) => ({
          ...rest,
          ...(senseLen !== undefined ? { senseLen } : {}),
          ...(resid !== undefined ? { resid } : {}),
        }));
        const given = [...queue];
        r.hba.onCommand = () => queue.shift() ?? {};
        const warnBefore = r.lines().filter((l) => l.includes('sense_len')).length;
        const cmds = replies.map((x) => issue(r, r.sdev, { cdb: [0x12, 0, 0, 0, x.length, 0], length: x.length }));
        await r.settle();
        expect(cmds.map((c) => c.completions())).toEqual(cmds.map(() => 1));
        expect(r.host.hostBusy).toBe(0);
        expect(queue).toEqual([]); // one request per command
        let warnings = 0;
        cmds.forEach((c, i) => {
          const rep = given[i]!;
          const exp = expectedMapping(rep.response ?? 0, rep.status ?? 0);
          expect(hostByte(c.cmd.result)).toBe(exp.host);
          expect(c.cmd.result & 0xff).toBe(exp.status);
          const dataInLen = replies[i]!.length;
          const resid = rep.resid ?? dataInLen - Math.min(replies[i]!.dataIn.length, dataInLen);
          expect(c.cmd.resid).toBe(resid === 0 ? 0 : Math.min(resid, dataInLen));
          const senseLen = rep.senseLen ?? Math.min((rep.sense ?? []).length, 96);
          if (senseLen > 96) warnings++;
          const copied = Math.min(senseLen, 96);
          const sent = Uint8Array.from(rep.sense ?? []);
          const want = new Uint8Array(96);
          want.set(sent.subarray(0, copied));
          expect([...c.cmd.senseBuffer]).toEqual([...want]);
          for (const a of c.buf) r.k.dma.free(a);
        });
        expect(r.lines().filter((l) => l.includes('sense_len')).length - warnBefore).toBe(warnings);
      }),
      { numRuns: 60 },
    ).finally(() => setEhHooks(null));
  });
});

// ---- remove -------------------------------------------------------------------------------------------

describe('virtio_scsi remove', () => {
  it('unbinding removes the host and its LUs and returns the driver’s DMA memory', async () => {
    const r = await boot({ cfg: { maxTarget: 3 }, params: { 'scsi_mod.scan': 'manual' } });
    const before = r.pages.objectsInUse;
    const host = r.host!;
    r.st.lus.set('1:0', { type: 0, model: 'QEMU HARDDISK' });
    await r.run(scsiAddDevice(r.mod, host, 0, 1, 0));
    await r.settle();
    expect(r.pages.objectsInUse).toBeGreaterThan(before);
    await r.run(r.virtio.unregisterVirtioDriver(r.driver));
    await r.settle();
    expect(r.mod.hosts).toEqual([]);
    expect(host.devices.filter((d) => d.state !== 'deleted')).toEqual([]);
    expect(r.hba.status).toBe(1); // reset, then ACKNOWLEDGE again (virtio_dev_remove)
    // Only what the probe itself did not allocate may remain (nothing of the driver's).
    expect(r.pages.objectsInUse).toBeLessThanOrEqual(before - 8);
  });
});
