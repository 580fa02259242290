// Models kernel/irq/{irqdesc,manage,proc}.c + arch/x86/kernel/apic/{vector,msi}.c (Linux 6.1), reduced:
// interrupt descriptors, MSI message composition and decoding, handlers, per-CPU counts and the
// /proc/interrupts line format.
//
// Linux numbers: legacy ISA irqs 0-15 and the IO-APIC pins 16-23 come first, so the first MSI irq is 24
// (the golden shows virtio0-config at 24). Each MSI irq gets a (CPU, vector) pair; the device is
// programmed with address 0xfee00000 | apicid << 12 and data = vector, and a message arriving at
// `msi(address, data)` is decoded back to the irq. Non-managed irqs go to the CPU with the fewest
// vectors (ties: lowest CPU), like the x86 vector matrix; managed ones (blk-mq queue vectors) are
// pinned to the CPU the affinity spreading gave them.

import type { MsiSink } from '../platform/pci.ts';

export type IrqHandler = (irq: number) => void;

export const MSI_ADDR_BASE = 0xfee00000;
const FIRST_VECTOR = 0x21; // ISA_IRQ_VECTOR(0) + 16 (x86 FIRST_EXTERNAL_VECTOR region)
const NR_VECTORS = 256;

export interface IrqDesc {
  readonly irq: number;
  /** Chip name column: `PCI-MSI`, `IO-APIC`. */
  readonly chip: string;
  /** Hardware irq number shown after the chip (for PCI-MSI: pci_dev_id << 11 | entry). */
  readonly hwirq: number;
  /** Flow handler name: `edge`, `fasteoi`. */
  readonly flow: string;
  /** CPU the irq is delivered to. */
  readonly cpu: number;
  readonly vector: number;
  /** Action names (request_irq's name), in registration order. */
  readonly actions: readonly string[];
  /** Per-CPU delivery counts. */
  readonly counts: readonly number[];
}

interface MutableDesc {
  irq: number;
  chip: string;
  hwirq: number;
  flow: string;
  cpu: number;
  vector: number;
  actions: string[];
  handlers: IrqHandler[];
  counts: number[];
  managed: boolean;
  inProgress: boolean;
  pending: boolean;
}

export interface MsiMessage {
  readonly address: number;
  readonly data: number;
}

export interface IrqAllocRequest {
  chip: string;
  hwirq: number;
  flow?: string;
  /** Managed affinity: the CPU this irq is pinned to. Omitted: least-loaded CPU. */
  cpu?: number;
}

export class IrqController implements MsiSink {
  readonly nrCpus: number;
  readonly #descs = new Map<number, MutableDesc>();
  readonly #byVector: Array<Array<MutableDesc | undefined>>; // [cpu][vector]
  readonly #load: number[];
  readonly #firstDynamic: number;
  /** Messages that decoded to no irq (spurious), like the ERR: line. */
  spurious = 0;

  /**
   * `initialLoad[cpu]` is the number of vectors already used on each CPU by the platform's own
   * interrupts (timer, serial, …); it decides where the first non-managed MSI irqs land.
   */
  constructor(opts: { nrCpus: number; firstDynamicIrq?: number; initialLoad?: readonly number[] }) {
    this.nrCpus = opts.nrCpus;
    this.#firstDynamic = opts.firstDynamicIrq ?? 24;
    this.#byVector = Array.from({ length: opts.nrCpus }, () => new Array<MutableDesc | undefined>(NR_VECTORS));
    this.#load = Array.from({ length: opts.nrCpus }, (_, c) => opts.initialLoad?.[c] ?? 0);
  }

  /** Allocates the lowest free irq number ≥ 24 with a vector on a CPU, returning its MSI message. */
  allocMsi(req: IrqAllocRequest): { irq: number; msg: MsiMessage } {
    let irq = this.#firstDynamic;
    while (this.#descs.has(irq)) irq++;
    const cpu = req.cpu !== undefined ? req.cpu % this.nrCpus : this.#leastLoaded();
    const table = this.#byVector[cpu]!;
    let vector = FIRST_VECTOR;
    while (vector < NR_VECTORS && table[vector]) vector++;
    if (vector >= NR_VECTORS) throw new Error(`no free vector on CPU ${cpu}`);
    const desc: MutableDesc = {
      irq,
      chip: req.chip,
      hwirq: req.hwirq,
      flow: req.flow ?? 'edge',
      cpu,
      vector,
      actions: [],
      handlers: [],
      counts: new Array<number>(this.nrCpus).fill(0),
      managed: req.cpu !== undefined,
      inProgress: false,
      pending: false,
    };
    table[vector] = desc;
    this.#load[cpu]!++;
    this.#descs.set(irq, desc);
    return { irq, msg: { address: MSI_ADDR_BASE | (cpu << 12), data: vector } };
  }

  /** irq_domain_free_irqs: the number becomes free for the next allocation. */
  freeIrqDesc(irq: number): void {
    const d = this.#descs.get(irq);
    if (!d) return;
    this.#byVector[d.cpu]![d.vector] = undefined;
    this.#load[d.cpu]!--;
    this.#descs.delete(irq);
  }

  /** request_irq: adds an action. Returns 0 or -EINVAL (unknown irq). */
  requestIrq(irq: number, handler: IrqHandler, name: string): number {
    const d = this.#descs.get(irq);
    if (!d) return -22;
    d.actions.push(name);
    d.handlers.push(handler);
    return 0;
  }

  /** free_irq: removes the action registered under `name`. */
  freeIrq(irq: number, name: string): void {
    const d = this.#descs.get(irq);
    if (!d) return;
    const i = d.actions.indexOf(name);
    if (i >= 0) {
      d.actions.splice(i, 1);
      d.handlers.splice(i, 1);
    }
  }

  /** MsiSink: a device wrote `data` to `address`. Counted on the target CPU, then each action runs. */
  msi(address: number, data: number): void {
    const cpu = ((address >>> 12) & 0xff) % this.nrCpus;
    const d = (address & 0xfff00000) >>> 0 === MSI_ADDR_BASE ? this.#byVector[cpu]?.[data & 0xff] : undefined;
    if (!d) {
      this.spurious++;
      return;
    }
    d.counts[cpu]!++;
    // handle_edge_irq: an edge arriving while its handler runs is latched and replayed after it,
    // never nested (the guest's interrupt handlers are not re-entrant).
    if (d.inProgress) {
      d.pending = true;
      return;
    }
    d.inProgress = true;
    try {
      do {
        d.pending = false;
        for (const h of d.handlers) h(d.irq);
      } while (d.pending);
    } finally {
      d.inProgress = false;
    }
  }

  desc(irq: number): IrqDesc | undefined {
    return this.#descs.get(irq);
  }

  /** Allocated irqs in ascending order. */
  descs(): IrqDesc[] {
    return [...this.#descs.values()].sort((a, b) => a.irq - b.irq);
  }

  /**
   * Registers a platform interrupt (IO-APIC line: timer, i8042, serial, acpi …) with the counts the
   * platform table gives it, so /proc/interrupts lists it in irq order among the MSI ones.
   */
  registerPlatformIrq(o: { irq: number; chip: string; hwirq: number; flow: string; name: string; counts: readonly number[] }): void {
    const counts = Array.from({ length: this.nrCpus }, (_, c) => o.counts[c] ?? 0);
    this.#descs.set(o.irq, {
      irq: o.irq,
      chip: o.chip,
      hwirq: o.hwirq,
      flow: o.flow,
      cpu: 0,
      vector: 0,
      actions: [o.name],
      handlers: [],
      counts,
      managed: false,
      inProgress: false,
      pending: false,
    });
  }

  /** arch_show_interrupts: the `NMI:`, `LOC:` … lines after the irqs (from the platform table). */
  archLines: (() => readonly string[]) | null = null;

  /** The whole of /proc/interrupts: header, one line per irq with an action, then the arch lines. */
  show(nrIrqs = 512): string {
    const prec = irqPrecision(nrIrqs);
    const lines = [procInterruptsHeader(this.nrCpus, prec), ...this.showInterrupts(prec), ...(this.archLines?.() ?? [])];
    return lines.map((l) => l + '\n').join('');
  }

  /** The lines /proc/interrupts shows for these irqs (only those with at least one action, as Linux). */
  showInterrupts(prec = 3): string[] {
    return this.descs()
      .filter((d) => d.actions.length > 0)
      .map((d) => formatIrqLine(d, prec));
  }

  #leastLoaded(): number {
    let best = 0;
    for (let c = 1; c < this.nrCpus; c++) if (this.#load[c]! < this.#load[best]!) best = c;
    return best;
  }
}

/** Width of the irq column: 3, one more per decimal digit of nr_irqs beyond 999 (show_interrupts). */
export function irqPrecision(nrIrqs: number): number {
  let prec = 3;
  for (let j = 1000; prec < 10 && j <= nrIrqs; j *= 10) prec++;
  return prec;
}

/** The header line: `%*s` of prec+8 blanks, then `CPU%-8d` per CPU. */
export function procInterruptsHeader(nrCpus: number, prec = 3): string {
  let s = ' '.repeat(prec + 8);
  for (let c = 0; c < nrCpus; c++) s += `CPU${String(c).padEnd(8, ' ')}`;
  return s;
}

/** One irq line: `%*d: `, `%10u ` per CPU, ` %8s` chip, ` %*lu` hwirq, `-%-8s` flow, `  %s` actions. */
export function formatIrqLine(d: IrqDesc, prec = 3): string {
  let s = `${String(d.irq).padStart(prec, ' ')}: `;
  for (const n of d.counts) s += `${String(n).padStart(10, ' ')} `;
  s += ` ${d.chip.padStart(8, ' ')}`;
  s += ` ${String(d.hwirq).padStart(prec, ' ')}`;
  s += `-${d.flow.padEnd(8, ' ')}`;
  d.actions.forEach((a, i) => (s += i === 0 ? `  ${a}` : `, ${a}`));
  return s;
}
