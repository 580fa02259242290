// Models drivers/scsi/st.c (Linux 6.1), module init and exit only: the version line, class
// `scsi_tape`, char major 9 `st`, the `st` driver on the scsi bus with its driver attributes, and a
// probe that accepts tapes (type 1) only. Attaching tapes (st%d/nst%d nodes, check_tape, mtio)
// comes with the tape issue: until then the probe refuses every device, so nothing binds to st.

import type { Kernel } from '../kernel/kernel.ts';
import { KERN_INFO } from '../kernel/kernel.ts';
import { Errno } from '../kernel/errno.ts';
import { DirNode } from '../kernel/fs.ts';
import type { ScsiDriver, ScsiMod } from '../midlayer/scsi.ts';
import { TYPE_TAPE } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { createFiles, removeDir } from '../sysfs/kernfs.ts';
import { driverAttach } from './sd.ts';

export const SCSI_TAPE_MAJOR = 9;
/** st.c's verstr. */
export const ST_VERSION = '20160209';
/** ST_FIXED_BUFFER_BLOCKS (32) × ST_KILOBYTE: the driver buffer a tape gets at attach. */
export const ST_FIXED_BUFFER_SIZE = 32 * 1024;
/** ST_MAX_SG: scatter/gather segments per transfer (module parameter max_sg_segs). */
export const ST_MAX_SG_SEGS = 256;
/** try_direct_io: transfers go straight to user pages when they can (st_options.h default). */
const TRY_DIRECT_IO = 1;

export class StDriver implements ScsiDriver {
  readonly name = 'st';
  readonly #mod: ScsiMod;
  /** debug_flag (a driver attribute, writable; messages it enables are not modelled). */
  debugFlag = 0;

  private constructor(mod: ScsiMod) {
    this.#mod = mod;
  }

  get kernel(): Kernel {
    return this.#mod.kernel;
  }

  /** init_st: the version line, class scsi_tape, char major 9, the driver on the scsi bus. */
  static register(mod: ScsiMod): StDriver {
    const st = new StDriver(mod);
    const k = mod.kernel;
    k.printk(KERN_INFO, `st: Version ${ST_VERSION}, fixed bufsize ${ST_FIXED_BUFFER_SIZE}, s/g segs ${ST_MAX_SG_SEGS}`);
    k.dm.cls('scsi_tape');
    k.devs.registerChrdev(SCSI_TAPE_MAJOR, 'st');
    // scsi_register_driver → driver_register: the driver directory and st's driver attributes.
    const drv = k.dm.driver(mod.bus, 'st');
    createFiles(drv.dir, [
      { name: 'debug_flag', mode: 0o644, show: () => `${st.debugFlag}\n`, store: (text) => st.#storeDebugFlag(text) },
      { name: 'fixed_buffer_size', mode: 0o444, show: () => `${ST_FIXED_BUFFER_SIZE}\n` },
      { name: 'max_sg_segs', mode: 0o444, show: () => `${ST_MAX_SG_SEGS}\n` },
      { name: 'try_direct_io', mode: 0o444, show: () => `${TRY_DIRECT_IO}\n` },
      { name: 'version', mode: 0o444, show: () => `[${ST_VERSION}]\n` },
    ]);
    mod.drivers.push(st);
    // driver_register probes the devices already on the bus.
    driverAttach(mod, st);
    return st;
  }

  /** exit_st: the driver, the major (the class directory stays: DeviceModel keeps classes). */
  unregister(): void {
    const mod = this.#mod;
    const i = mod.drivers.indexOf(this);
    if (i >= 0) mod.drivers.splice(i, 1);
    mod.kernel.devs.unregisterChrdev(SCSI_TAPE_MAJOR, 'st');
    const dir = mod.bus.drivers.get('st');
    if (dir instanceof DirNode) removeDir(dir);
  }

  /** st_probe's first check: only sequential-access devices. */
  match(sdev: ScsiDevice): boolean {
    return sdev.type === TYPE_TAPE;
  }

  /**
   * st_probe. Tape support (buffers, st%d/nst%d nodes, the `tape` link) arrives with the tape
   * issue; until then every device is refused, as if st had no room for it.
   */
  async probe(_sdev: ScsiDevice): Promise<'ok' | 'ENODEV'> {
    return 'ENODEV';
  }

  async remove(_sdev: ScsiDevice): Promise<void> {}

  /** debug_flag_store: only the first byte counts — '0' off, '1' on, anything else EINVAL. */
  #storeDebugFlag(text: string): void {
    if (text[0] === '0') this.debugFlag = 0;
    else if (text[0] === '1') this.debugFlag = 1;
    else throw new Errno('EINVAL');
  }
}
