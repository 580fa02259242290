// Models drivers/scsi/scsi.c + scsi_priv.h (Linux 6.1): the scsi_mod instance — module parameters,
// the `scsi` bus and the scsi_host/scsi_device classes, the host-number allocator, and the registry
// of upper-level drivers (sd, sr, st) and class interfaces (sg). Drivers register here; the mid-layer
// calls them through these tables and never imports them.

import type { Kernel } from '../kernel/kernel.ts';
import type { Bus, DevClass } from '../sysfs/core.ts';
import type { ScsiCmnd } from './scsi_cmnd.ts';
import type { ScsiDevice } from './scsi_device.ts';
import type { EhResult, ScsiHost } from './scsi_host.ts';

/** An upper-level driver (≈ struct scsi_driver): binds to LUs by what its probe accepts. */
export interface ScsiDriver {
  readonly name: string;
  /** The type check at the top of the driver's probe (sd: disks, sr: CD/WORM, st: tapes). */
  match(sdev: ScsiDevice): boolean;
  /** Accepts (0) or refuses (-ENODEV → 'ENODEV') the device; may finish asynchronously (async probe). */
  probe(sdev: ScsiDevice): Promise<'ok' | 'ENODEV'>;
  remove(sdev: ScsiDevice): Promise<void>;
  /** scsi_rescan_device → ULD rescan (sd revalidates the disk). */
  rescan?(sdev: ScsiDevice): Promise<void>;
  /** The driver prefers asynchronous probing (sd does): the scan does not wait for its probe. */
  readonly asyncProbe?: boolean;
  /**
   * scsi_driver.eh_action: the driver's say on a failed command the error handler recovered
   * (`disp` is the rung's result); sd offlines a disk whose medium access keeps timing out.
   */
  ehAction?(cmd: ScsiCmnd, disp: EhResult): EhResult;
  /** scsi_driver.eh_reset: a command of this driver enters the error handler. */
  ehReset?(cmd: ScsiCmnd): void;
}

/** A class interface on scsi_device (≈ struct class_interface; sg is one). */
export interface ScsiInterface {
  readonly name: string;
  addDev(sdev: ScsiDevice): void | Promise<void>;
  removeDev(sdev: ScsiDevice): void | Promise<void>;
}

/** `scsi_mod.*` parameters (/sys/module/scsi_mod/parameters). */
export interface ScsiModParams {
  scan: 'async' | 'sync' | 'manual' | 'none';
  maxLuns: number;
  inqTimeout: number;
  defaultDevFlags: number;
  ehDeadline: number;
  scsiLoggingLevel: number;
}

export class ScsiMod {
  readonly kernel: Kernel;
  readonly params: ScsiModParams;
  readonly bus: Bus;
  readonly hostClass: DevClass;
  readonly deviceClass: DevClass;
  readonly hosts: ScsiHost[] = [];
  readonly drivers: ScsiDriver[] = [];
  readonly interfaces: ScsiInterface[] = [];
  readonly #hostIds = new Set<number>();
  /** Completes when every asynchronous host scan started so far has published its LUs (FIFO). */
  asyncScans: Promise<void> = Promise.resolve();
  /** Async work (probes, scans) the guest is still doing; the machine waits for it to settle. */
  readonly pending = new Set<Promise<unknown>>();

  constructor(kernel: Kernel) {
    this.kernel = kernel;
    const p = (n: string): string | undefined => kernel.param('scsi_mod', n);
    const scan = p('scan');
    this.params = {
      scan: scan === 'sync' || scan === 'manual' || scan === 'none' ? scan : 'async',
      maxLuns: Number(p('max_luns') ?? 512) || 512,
      inqTimeout: Number(p('inq_timeout') ?? 20) || 20,
      defaultDevFlags: Number(p('default_dev_flags') ?? 0) || 0,
      ehDeadline: Number(p('eh_deadline') ?? -1),
      scsiLoggingLevel: Number(p('scsi_logging_level') ?? 0) || 0,
    };
    this.bus = kernel.dm.bus('scsi');
    this.hostClass = kernel.dm.cls('scsi_host');
    this.deviceClass = kernel.dm.cls('scsi_device');
  }

  /** ida_alloc: lowest free host number. */
  allocHostNo(): number {
    let n = 0;
    while (this.#hostIds.has(n)) n++;
    this.#hostIds.add(n);
    return n;
  }

  freeHostNo(n: number): void {
    this.#hostIds.delete(n);
  }

  /** Tracks background work so "the guest is idle" can be decided. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = (): void => {
      this.pending.delete(p);
    };
    p.then(done, done);
    return p;
  }
}
