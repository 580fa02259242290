// Ours: the services every guest subsystem receives (≈ the parts of the kernel a driver calls:
// printk, DMA-able memory, timers/workqueues on the virtual clock, the driver core, module params).
// Passed explicitly — there is no global kernel — so several machines can live in one process.

import type { EventLoop } from '../sim/event_loop.ts';
import type { GuestMemory, Gpa } from '../platform/guest_memory.ts';
import type { DeviceModel } from '../sysfs/core.ts';
import type { DeviceNumbers } from './char_dev.ts';

export const KERN_EMERG = 0;
export const KERN_ALERT = 1;
export const KERN_CRIT = 2;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;

export interface DmaAllocator {
  /** Guest-physical memory for the device to read or write (zeroed). */
  alloc(size: number, align?: number): Gpa;
  free(addr: Gpa): void;
}

export interface Kernel {
  readonly loop: EventLoop;
  readonly mem: GuestMemory;
  readonly dma: DmaAllocator;
  readonly dm: DeviceModel;
  /** Device-number registry (majors, /proc/devices, opening nodes). */
  readonly devs: DeviceNumbers;
  /** Appends one record to the kernel log (the text carries no trailing newline). */
  printk(level: number, text: string): void;
  /** A `module.param=value` from the kernel command line (or undefined). */
  param(module: string, name: string): string | undefined;
  /** Number of online CPUs (nr_cpu_ids). */
  readonly nrCpus: number;
  /** get_random_u32: from the machine's seeded generator. */
  randomU32(): number;
}
