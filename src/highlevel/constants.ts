// Models drivers/scsi/constants.c + the print half of drivers/scsi/scsi_logging.c (Linux 6.1): CDB
// names, sense key and additional-sense texts, and the `[sda] tag#N …` lines of a failed command.
// The ASC/ASCQ table holds the codes QEMU's scsi-disk/scsi-cd produce and a few common neighbours,
// with the kernel's wording.

import { KERN_INFO } from '../kernel/kernel.ts';
import type { ScsiMod } from '../midlayer/scsi.ts';
import type { ScsiCmnd } from '../midlayer/scsi_cmnd.ts';
import { hostByte, hostByteName } from '../midlayer/scsi_common.ts';
import type { SenseHdr } from '../midlayer/scsi_common.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';

/** cdb_byte0_names for the opcodes the guest sends (undefined: no name). */
const CDB_NAMES: Record<number, string> = {
  0x00: 'Test Unit Ready', 0x03: 'Request Sense', 0x08: 'Read(6)', 0x0a: 'Write(6)', 0x12: 'Inquiry',
  0x15: 'Mode Select(6)', 0x1a: 'Mode Sense(6)', 0x1b: 'Start/Stop Unit', 0x1e: 'Prevent/Allow Medium Removal',
  0x25: 'Read Capacity(10)', 0x28: 'Read(10)', 0x2a: 'Write(10)', 0x2f: 'Verify(10)', 0x35: 'Synchronize Cache(10)',
  0x41: 'Write Same(10)', 0x42: 'Unmap/Read sub-channel', 0x43: 'Read TOC/PMA/ATIP', 0x46: 'Get configuration',
  0x4a: 'Get event status notification', 0x51: 'Xpwrite, Read disk info', 0x52: 'Xdread, Read track info',
  0x55: 'Mode Select(10)', 0x5a: 'Mode Sense(10)', 0x85: 'ATA command pass through(16)', 0x88: 'Read(16)',
  0x8a: 'Write(16)', 0x91: 'Synchronize cache(16)', 0x93: 'Write same(16)', 0x9e: 'Service action in(16)',
  0xa0: 'Report luns', 0xa3: 'Maintenance in',
};

/** Service-action names (sa_names_arr) for the opcodes that have them. */
const SA_NAMES: Record<number, Record<number, string>> = {
  0x9e: { 0x10: 'Read capacity(16)', 0x11: 'Read long(16)', 0x12: 'Get LBA status', 0x13: 'Report referrals' },
  0xa3: { 0x05: 'Report identifying information', 0x0a: 'Report target port groups', 0x0c: 'Report supported operation codes' },
};

/** scsi_format_opcode_name. */
export function opcodeName(cdb: Uint8Array): string {
  const op = cdb[0]!;
  const sas = SA_NAMES[op];
  if (sas) {
    const sa = (cdb[1] ?? 0) & 0x1f;
    const n = sas[sa];
    if (n) return n;
    return CDB_NAMES[op] ? `${CDB_NAMES[op]}, sa=0x${sa.toString(16)}` : `cdb[0]=0x${op.toString(16)}, sa=0x${sa.toString(16)}`;
  }
  return CDB_NAMES[op] ?? (op >= 0xc0 ? `cdb[0]=0x${op.toString(16)} (vendor)` : `cdb[0]=0x${op.toString(16)} (reserved)`);
}

const SENSE_KEYS = [
  'No Sense', 'Recovered Error', 'Not Ready', 'Medium Error', 'Hardware Error', 'Illegal Request', 'Unit Attention',
  'Data Protect', 'Blank Check', 'Vendor Specific(9)', 'Copy Aborted', 'Aborted Command', 'Equal', 'Volume Overflow',
  'Miscompare', 'Completed',
];

/** additional[] of constants.c, keyed asc << 8 | ascq. */
const ASC_TEXT: ReadonlyMap<number, string> = new Map([
  [0x0000, 'No additional sense information'],
  [0x0006, 'I/O process terminated'],
  [0x0400, 'Logical unit not ready, cause not reportable'],
  [0x0401, 'Logical unit is in process of becoming ready'],
  [0x0402, 'Logical unit not ready, initializing command required'],
  [0x0403, 'Logical unit not ready, manual intervention required'],
  [0x0800, 'Logical unit communication failure'],
  [0x0c00, 'Write error'],
  [0x1100, 'Unrecovered read error'],
  [0x1a00, 'Parameter list length error'],
  [0x2000, 'Invalid command operation code'],
  [0x2100, 'Logical block address out of range'],
  [0x2400, 'Invalid field in cdb'],
  [0x2500, 'Logical unit not supported'],
  [0x2600, 'Invalid field in parameter list'],
  [0x2601, 'Parameter not supported'],
  [0x2602, 'Parameter value invalid'],
  [0x2700, 'Write protected'],
  [0x2707, 'Space allocation failed write protect'],
  [0x2800, 'Not ready to ready change, medium may have changed'],
  [0x2900, 'Power on, reset, or bus device reset occurred'],
  [0x2904, 'Device internal reset'],
  [0x2907, 'I_T nexus loss occurred'],
  [0x2a01, 'Mode parameters changed'],
  [0x2a09, 'Capacity data has changed'],
  [0x3000, 'Incompatible medium installed'],
  [0x3002, 'Cannot read medium - incompatible format'],
  [0x3900, 'Saving parameters not supported'],
  [0x3a00, 'Medium not present'],
  [0x3a01, 'Medium not present - tray closed'],
  [0x3a02, 'Medium not present - tray open'],
  [0x3e01, 'Logical unit failure'],
  [0x3f03, 'Inquiry data has changed'],
  [0x3f0e, 'Reported luns data has changed'],
  [0x4400, 'Internal target failure'],
  [0x4e00, 'Overlapped commands attempted'],
  [0x5302, 'Medium removal prevented'],
]);

export function senseKeyString(key: number): string {
  return SENSE_KEYS[key] ?? `0x${key.toString(16)}`;
}

/** scsi_format_extd_sense. */
export function extdSense(asc: number, ascq: number): string {
  const t = ASC_TEXT.get((asc << 8) | ascq);
  if (t) return `Add. Sense: ${t}`;
  let s = asc >= 0x80 ? '<<vendor>> ' : '';
  s += `ASC=0x${asc.toString(16)} `;
  if (ascq >= 0x80) s += '<<vendor>> ';
  return s + `ASCQ=0x${ascq.toString(16)} `;
}

/** sdev_format_header: `[sda] ` and `tag#N ` (tag < 0: none). */
function header(name: string | null, tag: number): string {
  return (name ? `[${name}] ` : '') + (tag >= 0 ? `tag#${tag} ` : '');
}

/** scsi_print_sense_hdr: the `Sense Key :` and `Add. Sense:` lines. */
export function printSenseHdr(mod: ScsiMod, sdev: ScsiDevice, name: string | null, tag: number, sshdr: SenseHdr): void {
  const deferred = sshdr.responseCode === 0x71 || sshdr.responseCode === 0x73;
  let l1 = `${header(name, tag)}Sense Key : ${senseKeyString(sshdr.senseKey)} ${deferred ? '[deferred] ' : '[current] '}`;
  if (sshdr.responseCode >= 0x72) l1 += '[descriptor] ';
  sdevPrintk(mod, KERN_INFO, sdev, l1);
  sdevPrintk(mod, KERN_INFO, sdev, `${header(name, tag)}${extdSense(sshdr.asc, sshdr.ascq)}`);
}

/** scsi_print_result: `[sda] tag#N FAILED Result: hostbyte=… driverbyte=DRIVER_OK cmd_age=Ns`. */
export function printResult(mod: ScsiMod, cmd: ScsiCmnd, name: string, disposition: string): void {
  const age = Math.floor((mod.kernel.loop.now() - cmd.jiffiesAtAlloc) / 1e9);
  sdevPrintk(
    mod,
    KERN_INFO,
    cmd.device,
    `${header(name, cmd.tag)}${disposition} Result: hostbyte=${hostByteName(hostByte(cmd.result))} driverbyte=DRIVER_OK cmd_age=${age}s`,
  );
}

/** scsi_print_command: `[sda] tag#N CDB: Read(10) 28 00 …`. */
export function printCommand(mod: ScsiMod, cmd: ScsiCmnd, name: string): void {
  const hex = [...cmd.cdb].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  sdevPrintk(mod, KERN_INFO, cmd.device, `${header(name, cmd.tag)}CDB: ${opcodeName(cmd.cdb)} ${hex}`);
}
