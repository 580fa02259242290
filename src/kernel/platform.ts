// Ours: the platform around the SCSI stack, as data. Everything here is what Debian 12's
// 6.1.0 kernel shows on QEMU's `pc` machine with nothing SCSI-related involved — the base /dev nodes,
// the non-SCSI lines of /proc/devices and /proc/interrupts — taken from the captures in
// shared/golden (`ls -l /dev`, `cat /proc/devices`, `cat /proc/interrupts` of seed_disk_and_cd_same_bus).
// Only the CPU count (-smp) parameterises it; no scenario file is read at run time.

/**
 * [name, major, minor, mode, class] of the platform's character devices: each is a class device in
 * sysfs (so udev sees it at coldplug and links /dev/char/M:m to it) and a node devtmpfs creates.
 */
export type NodeRow = readonly [string, number, number, number, string];

function ttys(): NodeRow[] {
  const rows: NodeRow[] = [];
  for (let i = 0; i < 64; i++) rows.push([`tty${i}`, 4, i, 0o620, 'tty']);
  for (let i = 0; i < 4; i++) rows.push([`ttyS${i}`, 4, 64 + i, 0o600, 'tty']);
  return rows;
}

export const PLATFORM_CHAR_NODES: readonly NodeRow[] = [
  ['console', 5, 1, 0o600, 'tty'],
  ['cpu_dma_latency', 10, 125, 0o600, 'misc'],
  ['full', 1, 7, 0o666, 'mem'],
  ['hpet', 10, 228, 0o600, 'misc'],
  ['hwrng', 10, 183, 0o600, 'misc'],
  ['kmsg', 1, 11, 0o644, 'mem'],
  ['mem', 1, 1, 0o640, 'mem'],
  ['null', 1, 3, 0o666, 'mem'],
  ['port', 1, 4, 0o640, 'mem'],
  ['psaux', 10, 1, 0o600, 'misc'],
  ['ptmx', 5, 2, 0o666, 'tty'],
  ['random', 1, 8, 0o666, 'mem'],
  ['rtc0', 251, 0, 0o600, 'rtc'],
  ['snapshot', 10, 231, 0o600, 'misc'],
  ['tty', 5, 0, 0o666, 'tty'],
  ...ttys(),
  ['urandom', 1, 9, 0o666, 'mem'],
  ['userfaultfd', 10, 126, 0o600, 'misc'],
  ['vcs', 7, 0, 0o600, 'vc'],
  ['vcs1', 7, 1, 0o600, 'vc'],
  ['vcsa', 7, 128, 0o600, 'vc'],
  ['vcsa1', 7, 129, 0o600, 'vc'],
  ['vcsu', 7, 64, 0o600, 'vc'],
  ['vcsu1', 7, 65, 0o600, 'vc'],
  ['vga_arbiter', 10, 127, 0o600, 'misc'],
  ['zero', 1, 5, 0o666, 'mem'],
  ['input/mice', 13, 63, 0o600, 'input'],
];

/** Symlinks in /dev at boot (besides the ones udev makes for block and char devices). */
export const PLATFORM_DEV_LINKS: ReadonlyArray<readonly [string, string]> = [['rtc', 'rtc0']];

/** Empty directories in /dev at boot. */
export const PLATFORM_DEV_DIRS: readonly string[] = ['pts', 'shm'];

/** Character majors registered by the platform (everything in /proc/devices but sg, st, bsg). */
export const PLATFORM_CHRDEVS: ReadonlyArray<readonly [number, string]> = [
  [1, 'mem'],
  [4, '/dev/vc/0'],
  [4, 'tty'],
  [4, 'ttyS'],
  [5, '/dev/tty'],
  [5, '/dev/console'],
  [5, '/dev/ptmx'],
  [7, 'vcs'],
  [10, 'misc'],
  [13, 'input'],
  [29, 'fb'],
  [128, 'ptm'],
  [136, 'pts'],
  [153, 'spi'],
  [247, 'cxl'],
  [249, 'ptp'],
  [250, 'pps'],
  [251, 'rtc'],
  [252, 'dax'],
  [253, 'tpm'],
  [254, 'gpiochip'],
];

/** Block majors registered by the platform. */
/** (blkext, 259, is registered by the block layer itself.) */
export const PLATFORM_BLKDEVS: ReadonlyArray<readonly [number, string]> = [];

/**
 * The bsg driver's dynamic major: with the platform's dynamic majors (254 … 249) already taken,
 * the next free one is 248, as every capture shows.
 */
export const PLATFORM_DYNAMIC_CHR_TAKEN: readonly number[] = [254, 253, 252, 251, 250, 249];

/** IO-APIC interrupt lines: [irq, chip pin text, handler name]. Counts are not modelled (0). */
export const PLATFORM_IRQS: ReadonlyArray<readonly [number, string, string]> = [
  [0, 'IO-APIC   2-edge     ', 'timer'],
  [1, 'IO-APIC   1-edge     ', 'i8042'],
  [3, 'IO-APIC   3-edge     ', 'ttyS1'],
  [4, 'IO-APIC   4-edge     ', 'ttyS0'],
  [8, 'IO-APIC   8-edge     ', 'rtc0'],
  [9, 'IO-APIC   9-fasteoi  ', 'acpi'],
  [12, 'IO-APIC  12-edge     ', 'i8042'],
];

/** The architecture's per-CPU counters printed after the device lines (arch_show_interrupts, x86). */
export const PLATFORM_IRQ_FOOTER: ReadonlyArray<readonly [string, string | null]> = [
  ['NMI', 'Non-maskable interrupts'],
  ['LOC', 'Local timer interrupts'],
  ['SPU', 'Spurious interrupts'],
  ['PMI', 'Performance monitoring interrupts'],
  ['IWI', 'IRQ work interrupts'],
  ['RTR', 'APIC ICR read retries'],
  ['RES', 'Rescheduling interrupts'],
  ['CAL', 'Function call interrupts'],
  ['TLB', 'TLB shootdowns'],
  ['TRM', 'Thermal event interrupts'],
  ['THR', 'Threshold APIC interrupts'],
  ['DFR', 'Deferred Error APIC interrupts'],
  ['MCE', 'Machine check exceptions'],
  ['MCP', 'Machine check polls'],
  ['ERR', null],
  ['MIS', null],
  ['PIN', 'Posted-interrupt notification event'],
  ['NPI', 'Nested posted-interrupt event'],
  ['PIW', 'Posted-interrupt wakeup event'],
];

/** Kernel identity (uname, /proc/version) of the captured guest. */
export const KERNEL_RELEASE = '6.1.0-56-amd64';
export const KERNEL_VERSION = '#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2';
