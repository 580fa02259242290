// A small Kernel for tests of guest subsystems: flat guest memory, a bump DMA allocator with reuse,
// a sysfs DeviceModel mounted into a VFS, and a kernel log collected as plain lines.

import { FlatGuestMemory } from '../../src/platform/guest_memory.ts';
import type { Gpa } from '../../src/platform/guest_memory.ts';
import { EventLoop } from '../../src/sim/event_loop.ts';
import { DirNode } from '../../src/kernel/fs.ts';
import { Vfs } from '../../src/kernel/vfs.ts';
import type { Kernel, DmaAllocator } from '../../src/kernel/kernel.ts';
import { DeviceModel } from '../../src/sysfs/core.ts';
import { DeviceNumbers } from '../../src/kernel/char_dev.ts';
import { attachDevtmpfs } from '../../src/kernel/devtmpfs.ts';
import { sysfsRoot } from '../../src/sysfs/kernfs.ts';

class SimpleDma implements DmaAllocator {
  #next = 0x10000;
  readonly #sizes = new Map<number, number>();
  readonly #free: Array<{ addr: number; size: number }> = [];
  readonly #mem: FlatGuestMemory;
  constructor(mem: FlatGuestMemory) {
    this.#mem = mem;
  }
  alloc(size: number, align = 8): Gpa {
    const i = this.#free.findIndex((f) => f.size >= size && f.addr % align === 0);
    let addr: number;
    if (i >= 0) addr = this.#free.splice(i, 1)[0]!.addr;
    else {
      addr = Math.ceil(this.#next / align) * align;
      this.#next = addr + size;
    }
    this.#sizes.set(addr, Math.max(size, this.#sizes.get(addr) ?? 0));
    this.#mem.fill(addr, size, 0);
    return addr;
  }
  free(addr: Gpa): void {
    const size = this.#sizes.get(addr);
    if (size === undefined) throw new Error(`double free of 0x${addr.toString(16)}`);
    this.#sizes.delete(addr);
    this.#free.push({ addr, size });
  }
  get live(): number {
    return this.#sizes.size;
  }
}

export interface TestKernel extends Kernel {
  readonly log: string[];
  readonly vfs: Vfs;
  readonly dmaLive: () => number;
}

export function testKernel(params: Record<string, string> = {}): TestKernel {
  const loop = new EventLoop();
  const mem = new FlatGuestMemory(16 * 1024 * 1024);
  const dma = new SimpleDma(mem);
  const sys = sysfsRoot();
  const dm = new DeviceModel(sys, () => loop.now() / 1e6);
  const root = new DirNode('', 0o755, 0, 1);
  const devs = new DeviceNumbers();
  attachDevtmpfs(dm, root.mkdir('dev'), () => 1_700_000_000);
  const sysMount = root.mkdir('sys');
  sysMount.mounted = sys;
  sys.mountpoint = sysMount;
  const vfs = new Vfs(root, {
    time: () => 1_700_000_000 + Math.floor(loop.now() / 1e9),
    uptime: () => loop.now() / 1e9,
    sleep: (ns) => new Promise((r) => loop.after(ns, r)),
    syslog: () => log,
    initModule: async () => {},
    deleteModule: async () => {},
    uname: () => ({ sysname: 'Linux', nodename: 'guest', release: '6.1.0-test', version: '#1', machine: 'x86_64' }),
  });
  const log: string[] = [];
  vfs.setDeviceOpener((kind, major, minor, flags) => devs.open(kind, major, minor, flags));
  return {
    devs,
    loop,
    mem,
    dma,
    dm,
    vfs,
    log,
    nrCpus: 2,
    randomU32: () => 0,
    dmaLive: () => dma.live,
    printk: (_level, text) => log.push(text),
    param: (module, name) => params[`${module}.${name}`],
  };
}
