// Ours: the composition root. QEMU-style argv → MachineSpec → the host's device models (QemuMachine)
// and a guest kernel (Guest), wired only by what both physically share: guest memory, the PCI bus
// (configuration space and BAR windows) and MSI messages, which cross as events on the one virtual
// clock. This is the only module that imports both worlds.

import type { SyncFs } from '../host/block/block-backend.ts';
import type { FileProbe, HostFile } from '../host/blockdev.ts';
import { QemuMachine } from '../host/machine.ts';
import { TraceControl, formatTraceEvent, makeTracer } from '../host/trace.ts';
import type { TraceArgs, TraceSink } from '../host/trace.ts';
import { Monitor } from '../host/monitor/hmp.ts';
import { pciHotplugAdd, pciHotplugRemove } from '../kernel/pci_hotplug.ts';
import { parseQemuArgs } from '../host/vl.ts';
import type { MachineSpec } from '../host/vl.ts';
import { FlatGuestMemory } from '../platform/guest_memory.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import { isIncomplete } from '../shell/sh.ts';
import { EventLoop, NS_PER_US } from '../sim/event_loop.ts';
import { BOOT_EPOCH, Guest } from './guest.ts';

/** A filesystem the drive images are opened from: Node's fs or memfs. */
export interface HostFs extends SyncFs {
  readFileSync?(path: string, encoding: 'utf8'): string;
  statSync(path: string): { size: number | bigint; isFile(): boolean; isDirectory(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean };
}

export interface MachineOptions {
  readonly seed?: number;
  readonly hostFs: HostFs;
  /** QEMU's stderr lines (warnings, virtio errors). */
  readonly stderr?: (line: string) => void;
  /** Virtual latency of an MSI message from device to CPU. */
  readonly irqLatencyNs?: number;
  /**
   * Every QEMU trace event the device model raises (all of them, whatever -trace selects): its name,
   * arguments, virtual time and the line QEMU's log backend would print. For experiments that
   * follow each CDB and TMF from the library.
   */
  readonly onTrace?: (e: TraceEvent) => void;
}

/** One QEMU trace event, as `MachineOptions.onTrace` receives it. */
export interface TraceEvent {
  readonly timeNs: number;
  readonly event: string;
  readonly args: TraceArgs;
  /** The formatted line (`virtio_scsi_cmd_req virtio_scsi_cmd_req lun=0 tag=0x0 cmd=0x12`), if the event has a format. */
  readonly line: string | undefined;
}

export interface LineOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly rc: number;
  /** Both streams in the order they were written, as a terminal shows them. */
  readonly tty: string;
  /**
   * The line is still running (blocked by a paused VM or an unanswered request): nothing above is
   * its output; its record comes later from `takeCompleted()`, once it finishes.
   */
  readonly pending?: boolean;
}

interface BlockedLine {
  readonly line: string;
  out?: LineOutput;
  /** Completion order. */
  seq: number;
}

/** A guest line that outlived its turn and has finished since. */
export interface CompletedLine {
  readonly line: string;
  readonly out: LineOutput;
}

export type CreateResult =
  | { readonly machine: Machine; readonly warnings: readonly string[] }
  | { readonly error: string; readonly warnings: readonly string[] }
  | { readonly help: string; readonly warnings: readonly string[] };

/** The host file probe QEMU's -drive and -device checks use. */
export function hostFileProbe(fs: HostFs): FileProbe {
  return {
    probe(path: string): HostFile | undefined {
      let st;
      try {
        st = fs.statSync(path);
      } catch {
        return undefined;
      }
      const kind: HostFile['kind'] = st.isDirectory() ? 'directory' : st.isBlockDevice() ? 'block-device' : st.isCharacterDevice() ? 'char-device' : 'regular';
      const head = new Uint8Array(512);
      if (kind === 'regular') {
        const fd = fs.openSync(path, 'r');
        try {
          fs.readSync(fd, head, 0, 512, 0);
        } finally {
          fs.closeSync(fd);
        }
      }
      return { kind, size: Number(st.size), head, sgio: false };
    },
    // The whole file, not just the probe's first sector: a blkdebug config file of more than 512
    // bytes must be read in full (without this, -drive refused it as "Permission denied").
    readText(path: string): string | undefined {
      try {
        if (!fs.statSync(path).isFile()) return undefined;
        const fd = fs.openSync(path, 'r');
        try {
          const size = Number(fs.fstatSync(fd).size);
          const buf = new Uint8Array(size);
          let got = 0;
          while (got < size) {
            const n = fs.readSync(fd, buf, got, size - got, got);
            if (n <= 0) break;
            got += n;
          }
          return new TextDecoder().decode(buf.subarray(0, got));
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        return undefined;
      }
    },
  };
}

export class Machine {
  readonly spec: MachineSpec;
  readonly loop: EventLoop;
  readonly mem: FlatGuestMemory;
  readonly host: QemuMachine;
  readonly guestKernel: Guest;
  readonly mon: Monitor;
  readonly #qemuLog: string[] = [];
  #blocked: BlockedLine[] = [];
  #completions = 0;
  quit = false;

  private constructor(spec: MachineSpec, opts: MachineOptions) {
    this.spec = spec;
    this.loop = new EventLoop();
    this.mem = new FlatGuestMemory(spec.memoryMiB * 1024 * 1024);
    const latency = opts.irqLatencyNs ?? NS_PER_US;
    let guest: Guest | null = null;
    const stderr = (line: string): void => {
      this.#qemuLog.push(line);
      opts.stderr?.(line);
    };
    // -trace: QEMU's log backend on stderr, for the events the patterns and event files select.
    let trace: TraceSink | undefined;
    if (spec.trace.patterns.length > 0 || spec.trace.eventFiles.length > 0) {
      const control = new TraceControl();
      for (const p of spec.trace.patterns) for (const w of control.enableEvents(p)) stderr(`vscsi: -trace ${p}: warning: ${w}`);
      for (const f of spec.trace.eventFiles) {
        const text = opts.hostFs.readFileSync?.(f, 'utf8') ?? '';
        for (const w of control.initEvents(text)) stderr(`vscsi:${f}:${w.line}: warning: ${w.message}`);
      }
      trace = makeTracer(control, stderr, this.loop);
    }
    if (opts.onTrace) {
      const listener = opts.onTrace;
      const text = trace;
      trace = (event: string, args: TraceArgs): void => {
        text?.(event, args);
        listener({ timeNs: this.loop.now(), event, args, line: formatTraceEvent(event, args) });
      };
    }
    const host = QemuMachine.create(spec, {
      seed: opts.seed,
      trace,
      loop: this.loop,
      mem: this.mem,
      // An MSI message is a memory write the CPU sees a little later.
      msi: { msi: (address, data) => void this.loop.after(latency, () => guest?.irq.msi(address, data)) },
      fs: opts.hostFs,
      stderr,
    });
    if ('error' in host) throw new MachineCreateError(host.error);
    this.host = host;
    guest = new Guest({ loop: this.loop, mem: this.mem, pciBus: host.pci, nrCpus: spec.cpus, cmdline: spec.kernelCmdline ?? '', seed: opts.seed ?? 1 });
    this.guestKernel = guest;
    const g = guest;
    // PCI hot-plug reaches the guest as ACPI would tell it: a new function to scan, or a request to
    // let one go, which the guest answers once its drivers released the function.
    host.pciHotplug = {
      plugged: (slot, fn) => void this.loop.after(latency, () => void g.track(pciHotplugAdd(g.pci, slot, fn))),
      unplugRequest: (slot, fn, release) =>
        void this.loop.after(latency, () => void g.track(pciHotplugRemove(g.pci, slot, fn).then(release))),
    };
    this.mon = new Monitor(host);
    // QMP timestamps: the virtual clock on the same wall-clock epoch the guest boots at.
    this.mon.qmpMonitor.epochNs = BOOT_EPOCH * 1e9;
  }

  /** Builds a machine from QEMU's command-line arguments. */
  static async create(argv: readonly string[], opts: MachineOptions): Promise<CreateResult> {
    const parsed = parseQemuArgs(argv, hostFileProbe(opts.hostFs));
    if ('error' in parsed || 'help' in parsed) return parsed;
    try {
      return { machine: new Machine(parsed.spec, opts), warnings: parsed.warnings };
    } catch (e) {
      if (e instanceof MachineCreateError) return { error: e.message, warnings: parsed.warnings };
      throw e;
    }
  }

  /** The root shell's system calls: the library's way into the guest's /sys, /dev and /proc. */
  get sys(): Syscalls {
    return this.guestKernel.sys;
  }

  async boot(): Promise<void> {
    await this.guestKernel.boot();
  }

  /** What -v shows: the guest's kernel log with timestamps. */
  bootLog(): string {
    return this.guestKernel.log.dmesg();
  }

  isIncomplete(text: string): boolean {
    return isIncomplete(text);
  }

  /** Runs one guest shell line and waits until the guest has nothing left to do. */
  async guest(line: string): Promise<LineOutput> {
    const entry: BlockedLine = { line, seq: 0 };
    void this.guestKernel.shell.run(line).then((r) => {
      entry.out = { stdout: r.stdout, stderr: r.stderr, rc: r.rc, tty: r.tty };
      entry.seq = ++this.#completions;
    });
    const done = (): boolean => entry.out !== undefined;
    await this.loop.runUntilIdle(done);
    if (!done()) await this.loop.runUntilIdle(done);
    await this.guestKernel.settle();
    if (entry.out) return entry.out;
    // Only daemon timers are left (a paused VM, a command nobody answers): the line stays pending
    // while later lines run, and its record is handed out when it completes (CONTRACT.md).
    this.#blocked.push(entry);
    return { stdout: '', stderr: '', rc: 0, tty: '', pending: true };
  }

  /** Pending guest lines that have finished since the last call, in the order they finished. */
  takeCompleted(): CompletedLine[] {
    const finished = this.#blocked.filter((b) => b.out !== undefined).sort((a, b) => a.seq - b.seq);
    this.#blocked = this.#blocked.filter((b) => b.out === undefined);
    return finished.map((b) => ({ line: b.line, out: b.out! }));
  }

  /** How many guest lines are still pending. */
  get pendingLines(): number {
    return this.#blocked.length;
  }

  /** One HMP command line; the guest then handles whatever it caused (hot-plug events …). */
  async monitor(line: string): Promise<LineOutput> {
    const r = this.mon.hmp(line);
    if (this.mon.quitRequested) this.quit = true;
    await this.guestKernel.settle();
    return { stdout: r.output, stderr: '', rc: r.error ? 1 : 0, tty: r.output };
  }

  /** One QMP command (JSON): its reply, then every event raised since the previous QMP line. */
  async qmp(json: string): Promise<LineOutput> {
    const r = this.mon.qmp(json);
    if (this.mon.quitRequested) this.quit = true;
    await this.guestKernel.settle();
    const events = [...r.events, ...this.mon.drainEvents()];
    const isError = r.reply.startsWith('{"error"');
    const stdout = [r.reply, ...events].map((l) => l + '\n').join('');
    return { stdout, stderr: '', rc: isError ? 1 : 0, tty: stdout };
  }

  async shutdown(): Promise<void> {
    await this.guestKernel.settle();
  }
}

class MachineCreateError extends Error {}

export function createMachine(argv: readonly string[], opts: MachineOptions): Promise<CreateResult> {
  return Machine.create(argv, opts);
}
