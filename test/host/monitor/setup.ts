// Ours: a host-only rig for the monitor tests — QemuMachine from a vscsi/QEMU command line over memfs
// images, the mini guest driver bound to the first controller, and the Monitor.
import { Volume } from 'memfs';
import { FlatGuestMemory } from '../../../src/platform/guest_memory.ts';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import type { SyncFs } from '../../../src/host/block/block-backend.ts';
import type { FileProbe } from '../../../src/host/blockdev.ts';
import { QemuMachine } from '../../../src/host/machine.ts';
import { Monitor } from '../../../src/host/monitor/hmp.ts';
import { parseQemuArgs } from '../../../src/host/vl.ts';
import type { TraceSink } from '../../../src/host/trace.ts';
import { MiniVirtioDriver } from '../../fakes/mini_virtio_driver.ts';

export const MiB = 1 << 20;

export interface MonRig {
  loop: EventLoop;
  vol: InstanceType<typeof Volume>;
  machine: QemuMachine;
  mon: Monitor;
  drv: MiniVirtioDriver;
  stderr: string[];
}

export function memfsProbe(vol: InstanceType<typeof Volume>): FileProbe {
  return {
    probe(path) {
      if (!vol.existsSync(path)) return undefined;
      const st = vol.statSync(path);
      const size = Number(st.size);
      if (st.isDirectory()) return { kind: 'directory', size, head: new Uint8Array(0), sgio: false };
      const head = new Uint8Array(Math.min(512, size));
      const fd = vol.openSync(path, 'r');
      vol.readSync(fd, head, 0, head.length, 0);
      vol.closeSync(fd);
      return { kind: 'regular', size, head, sgio: false };
    },
  };
}

/**
 * Builds the machine from `args` (a space-separated QEMU command line) with zero-filled images, and
 * optionally text files (blkdebug configs) and a trace sink.
 */
export function makeMachine(args: string, images: Record<string, number>, opts: { files?: Record<string, string>; trace?: TraceSink } = {}): MonRig {
  const vol = new Volume();
  vol.mkdirSync('/w', { recursive: true });
  for (const [p, size] of Object.entries(images)) vol.writeFileSync(p, new Uint8Array(size));
  for (const [p, text] of Object.entries(opts.files ?? {})) vol.writeFileSync(p, text);
  const probe = memfsProbe(vol);
  const parsed = parseQemuArgs(args.split(' ').filter((x) => x !== ''), probe);
  if (!('spec' in parsed)) throw new Error(JSON.stringify(parsed));
  const loop = new EventLoop();
  const mem = new FlatGuestMemory(8 << 20);
  const drv = new MiniVirtioDriver(mem, loop, 4);
  const stderr: string[] = [];
  const machine = QemuMachine.create(parsed.spec, {
    loop, mem, msi: drv, fs: vol as unknown as SyncFs, probe, stderr: (l) => stderr.push(l), trace: opts.trace,
  });
  if (!(machine instanceof QemuMachine)) throw new Error(machine.error);
  drv.pci = machine.pci;
  return { loop, vol, machine, mon: new Monitor(machine), drv, stderr };
}

/** Brings the guest driver up (HOTPLUG and CHANGE negotiated) and posts `events` event buffers. */
export async function bringUp(r: MonRig, events = 4): Promise<Map<number, number>> {
  r.drv.init();
  const bufs = r.drv.postEventBuffers(events);
  await r.loop.runUntilIdle();
  return bufs;
}

export interface VirtioEvent {
  event: number;
  target: number;
  lun: number;
  reason: number;
}

/** The events the device completed on the event queue since the last call. */
export function readEvents(r: MonRig, bufs: Map<number, number>): VirtioEvent[] {
  return r.drv.pollUsed(1).map((u) => {
    const a = bufs.get(u.id)!;
    const b = r.drv.mem.readBytes(a, 16);
    const dv = new DataView(b.buffer);
    return { event: dv.getUint32(0, true), target: b[5]!, lun: ((b[6]! & 0x3f) << 8) | b[7]!, reason: dv.getUint32(12, true) };
  });
}

/** Event lines without their timestamps (those come from the virtual clock). */
export const untimed = (events: string[]): string[] => events.map((e) => e.replace(/^\{"timestamp": \{[^}]*\}, /, '{'));
