// Models drivers/scsi/scsi_logging.c + sdev_printk (Linux 6.1): device-prefixed kernel messages.
// The prefix is dev_driver_string + device name: `sd 0:0:0:0: ` once sd is bound, `scsi 0:0:0:0: `
// before (the bus name), as the captures show.

import type { ScsiMod } from './scsi.ts';
import type { ScsiDevice } from './scsi_device.ts';
import type { ScsiHost } from './scsi_host.ts';

export function sdevPrefix(sdev: ScsiDevice): string {
  return `${sdev.driver?.name ?? 'scsi'} ${sdev.hctl}: `;
}

export function sdevPrintk(mod: ScsiMod, level: number, sdev: ScsiDevice, text: string): void {
  mod.kernel.printk(level, sdevPrefix(sdev) + text);
}

/** shost_printk: `scsi host0: …` */
export function shostPrintk(mod: ScsiMod, level: number, host: ScsiHost, text: string): void {
  mod.kernel.printk(level, `scsi host${host.hostNo}: ${text}`);
}

/** scsi_logging_level fields (drivers/scsi/scsi_logging.h): 3 bits each. */
export const SCSI_LOG_SHIFT = {
  ERROR: 0,
  TIMEOUT: 3,
  SCAN: 6,
  MLQUEUE: 9,
  MLCOMPLETE: 12,
  LLQUEUE: 15,
  LLCOMPLETE: 18,
  HLQUEUE: 21,
  HLCOMPLETE: 24,
  IOCTL: 27,
} as const;

/** SCSI_LOG_LEVEL(SHIFT, …) > level: whether a logging site prints. */
export function scsiLogging(mod: ScsiMod, field: keyof typeof SCSI_LOG_SHIFT, level: number): boolean {
  return ((mod.params.scsiLoggingLevel >>> SCSI_LOG_SHIFT[field]) & 7) > level;
}
