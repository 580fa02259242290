// Models drivers/scsi/constants.c + sense_codes.h + scsi_logging.c, and scsi_log_send /
// scsi_log_completion of scsi.c (Linux 6.1): the names the kernel prints for CDBs, sense keys,
// additional sense codes, host bytes and mid-layer dispositions, and the `scsi_logging_level` lines
// built from them (`Send:`, `Done:`, `CDB:`, `Sense Key :`, `Add. Sense:`, `Result:`).
//
// The formatters return whole kernel-log lines (device prefix included) and print nothing: the
// caller (scsi_lib, scsi_error, sd …) hands each one to printk at KERN_INFO. A command is seen
// through `ScmdLogView`, which `ScsiCmnd` satisfies; what scmd_printk takes from elsewhere (the
// device prefix, the gendisk name, the time for cmd_age) comes in a `ScmdLogContext`.

import { SCSI_LOG_SHIFT } from './scsi_logging.ts';
import { normalizeSense, type SenseHdr } from './scsi_common.ts';

// ---- CDB names (cdb_byte0_names and the service-action tables) ----

/** Opcodes 0x00–0xbf; `null` where the kernel has no name. */
const CDB_BYTE0_NAMES: readonly (string | null)[] = [
  /* 00 */ 'Test Unit Ready', 'Rezero Unit/Rewind', null, 'Request Sense',
  /* 04 */ 'Format Unit/Medium', 'Read Block Limits', null, 'Reassign Blocks',
  /* 08 */ 'Read(6)', null, 'Write(6)', 'Seek(6)', null, null,
  /* 0e */ null, 'Read Reverse', 'Write Filemarks', 'Space', 'Inquiry',
  /* 13 */ 'Verify(6)', 'Recover Buffered Data', 'Mode Select(6)', 'Reserve(6)',
  /* 17 */ 'Release(6)', 'Copy', 'Erase', 'Mode Sense(6)',
  /* 1b */ 'Start/Stop Unit', 'Receive Diagnostic', 'Send Diagnostic',
  /* 1e */ 'Prevent/Allow Medium Removal', null,
  /* 20 */ null, null, null,
  /* 23 */ 'Read Format Capacities', 'Set Window', 'Read Capacity(10)', null, null, 'Read(10)',
  /* 29 */ 'Read Generation', 'Write(10)', 'Seek(10)', 'Erase(10)', 'Read updated block',
  /* 2e */ 'Write Verify(10)', 'Verify(10)', 'Search High', 'Search Equal',
  /* 32 */ 'Search Low', 'Set Limits', 'Prefetch/Read Position',
  /* 35 */ 'Synchronize Cache(10)', 'Lock/Unlock Cache(10)', 'Read Defect Data(10)',
  /* 38 */ 'Medium Scan', 'Compare', 'Copy Verify', 'Write Buffer', 'Read Buffer',
  /* 3d */ 'Update Block', 'Read Long(10)', 'Write Long(10)',
  /* 40 */ 'Change Definition', 'Write Same(10)',
  /* 42 */ 'Unmap/Read sub-channel', 'Read TOC/PMA/ATIP', 'Read density support', 'Play audio(10)',
  /* 46 */ 'Get configuration', 'Play audio msf', 'Sanitize/Play audio track/index',
  /* 49 */ 'Play track relative(10)', 'Get event status notification', 'Pause/resume', 'Log Select',
  /* 4d */ 'Log Sense', 'Stop play/scan', null,
  /* 50 */ 'Xdwrite', 'Xpwrite, Read disk info', 'Xdread, Read track info', 'Reserve track',
  /* 54 */ 'Send OPC info', 'Mode Select(10)',
  /* 56 */ 'Reserve(10)', 'Release(10)', 'Repair track', 'Read master cue', 'Mode Sense(10)',
  /* 5b */ 'Close track/session',
  /* 5c */ 'Read buffer capacity', 'Send cue sheet', 'Persistent reserve in', 'Persistent reserve out',
  /* 60 */ null, null, null, null, null, null, null, null,
  /* 68 */ null, null, null, null, null, null, null, null,
  /* 70 */ null, null, null, null, null, null, null, null,
  /* 78 */ null, null, null, null, null, null, 'Extended CDB', 'Variable length',
  /* 80 */ 'Xdwrite(16)', 'Rebuild(16)', 'Regenerate(16)', 'Third party copy out', 'Third party copy in',
  /* 85 */ 'ATA command pass through(16)', 'Access control in', 'Access control out', 'Read(16)',
  /* 89 */ 'Compare and Write',
  /* 8a */ 'Write(16)', 'ORWrite', 'Read attributes', 'Write attributes', 'Write and verify(16)', 'Verify(16)',
  /* 90 */ 'Pre-fetch(16)', 'Synchronize cache(16)', 'Lock/unlock cache(16)', 'Write same(16)', null,
  /* 95 */ null, null, null, null, null,
  /* 9a */ null, null, null, 'Service action bidirectional', 'Service action in(16)', 'Service action out(16)',
  /* a0 */ 'Report luns', 'ATA command pass through(12)/Blank', 'Security protocol in', 'Maintenance in',
  /* a4 */ 'Maintenance out', 'Move medium/play audio(12)',
  /* a6 */ 'Exchange medium', 'Move medium attached', 'Read(12)', 'Play track relative(12)',
  /* aa */ 'Write(12)', null, 'Erase(12), Get Performance', 'Read DVD structure', 'Write and verify(12)',
  /* af */ 'Verify(12)', 'Search data high(12)', 'Search data equal(12)',
  /* b2 */ 'Search data low(12)', 'Set limits(12)', 'Read element status attached',
  /* b5 */ 'Security protocol out', 'Send volume tag, set streaming',
  /* b7 */ 'Read defect data(12)', 'Read element status', 'Read CD msf',
  /* ba */ 'Redundancy group (in), Scan', 'Redundancy group (out), Set cd-rom speed', 'Spare (in), Play cd',
  /* bd */ 'Spare (out), Mechanism status', 'Volume set (in), Read cd', 'Volume set (out), Send DVD structure',
];

const VENDOR_SPECIFIC_CDB = 0xc0;
const VARIABLE_LENGTH_CMD = 0x7f;

/** Opcodes whose service action names the command (sa_names_arr), with their (value, name) pairs. */
const SA_NAMES: ReadonlyMap<number, ReadonlyMap<number, string>> = new Map<number, ReadonlyMap<number, string>>([
  [VARIABLE_LENGTH_CMD, new Map([
    [0x1, 'Rebuild(32)'], [0x2, 'Regenerate(32)'], [0x3, 'Xdread(32)'], [0x4, 'Xdwrite(32)'],
    [0x5, 'Xdwrite extended(32)'], [0x6, 'Xpwrite(32)'], [0x7, 'Xdwriteread(32)'], [0x8, 'Xdwrite extended(64)'],
    [0x9, 'Read(32)'], [0xa, 'Verify(32)'], [0xb, 'Write(32)'], [0xc, 'Write an verify(32)'], [0xd, 'Write same(32)'],
    [0x8801, 'Format OSD'], [0x8802, 'Create (osd)'], [0x8803, 'List (osd)'], [0x8805, 'Read (osd)'],
    [0x8806, 'Write (osd)'], [0x8807, 'Append (osd)'], [0x8808, 'Flush (osd)'], [0x880a, 'Remove (osd)'],
    [0x880b, 'Create partition (osd)'], [0x880c, 'Remove partition (osd)'], [0x880e, 'Get attributes (osd)'],
    [0x880f, 'Set attributes (osd)'], [0x8812, 'Create and write (osd)'], [0x8815, 'Create collection (osd)'],
    [0x8816, 'Remove collection (osd)'], [0x8817, 'List collection (osd)'], [0x8818, 'Set key (osd)'],
    [0x8819, 'Set master key (osd)'], [0x881a, 'Flush collection (osd)'], [0x881b, 'Flush partition (osd)'],
    [0x881c, 'Flush OSD'], [0x8f7e, 'Perform SCSI command (osd)'], [0x8f7f, 'Perform task management function (osd)'],
  ])],
  [0xa3 /* MAINTENANCE_IN */, new Map([
    [0x5, 'Report identifying information'], [0xa, 'Report target port groups'], [0xb, 'Report aliases'],
    [0xc, 'Report supported operation codes'], [0xd, 'Report supported task management functions'],
    [0xe, 'Report priority'], [0xf, 'Report timestamp'], [0x10, 'Management protocol in'],
  ])],
  [0xa4 /* MAINTENANCE_OUT */, new Map([
    [0x6, 'Set identifying information'], [0xa, 'Set target port groups'], [0xb, 'Change aliases'],
    [0xc, 'Remove I_T nexus'], [0xe, 'Set priority'], [0xf, 'Set timestamp'], [0x10, 'Management protocol out'],
  ])],
  [0x5e /* PERSISTENT_RESERVE_IN */, new Map([
    [0x0, 'Persistent reserve in, read keys'], [0x1, 'Persistent reserve in, read reservation'],
    [0x2, 'Persistent reserve in, report capabilities'], [0x3, 'Persistent reserve in, read full status'],
  ])],
  [0x5f /* PERSISTENT_RESERVE_OUT */, new Map([
    [0x0, 'Persistent reserve out, register'], [0x1, 'Persistent reserve out, reserve'],
    [0x2, 'Persistent reserve out, release'], [0x3, 'Persistent reserve out, clear'],
    [0x4, 'Persistent reserve out, preempt'], [0x5, 'Persistent reserve out, preempt and abort'],
    [0x6, 'Persistent reserve out, register and ignore existing key'], [0x7, 'Persistent reserve out, register and move'],
  ])],
  [0xab /* SERVICE_ACTION_IN_12 */, new Map([[0x1, 'Read media serial number']])],
  [0xa9 /* SERVICE_ACTION_OUT_12 */, new Map([[-1, 'dummy entry']])],
  [0x9d /* SERVICE_ACTION_BIDIRECTIONAL */, new Map([[-1, 'dummy entry']])],
  [0x9e /* SERVICE_ACTION_IN_16 */, new Map([
    [0x10, 'Read capacity(16)'], [0x11, 'Read long(16)'], [0x12, 'Get LBA status'], [0x13, 'Report referrals'],
  ])],
  [0x9f /* SERVICE_ACTION_OUT_16 */, new Map([[0x11, 'Write long(16)'], [0x1f, 'Notify data transfer device(16)']])],
  [0x84 /* THIRD_PARTY_COPY_IN */, new Map([
    [0x0, 'Receive copy status(LID1)'], [0x1, 'Receive copy data(LID1)'], [0x3, 'Receive copy operating parameters'],
    [0x4, 'Receive copy failure details(LID1)'], [0x5, 'Receive copy status(LID4)'], [0x6, 'Receive copy data(LID4)'],
    [0x7, 'Receive ROD token information'], [0x8, 'Report all ROD tokens'],
  ])],
  [0x83 /* THIRD_PARTY_COPY_OUT */, new Map([
    [0x0, 'Extended copy(LID1)'], [0x1, 'Extended copy(LID4)'], [0x10, 'Populate token'], [0x11, 'Write using token'],
    [0x1c, 'Copy operation abort'],
  ])],
]);

export interface OpcodeSaName {
  /** True when the opcode is one whose service action selects the name. */
  readonly hasSa: boolean;
  readonly cdbName: string | undefined;
  readonly saName: string | undefined;
}

/** scsi_opcode_sa_name. */
export function scsiOpcodeSaName(opcode: number, serviceAction: number): OpcodeSaName {
  if (opcode >= VENDOR_SPECIFIC_CDB) return { hasSa: false, cdbName: undefined, saName: undefined };
  const cdbName = CDB_BYTE0_NAMES[opcode] ?? undefined;
  const arr = SA_NAMES.get(opcode);
  if (!arr) return { hasSa: false, cdbName, saName: undefined };
  return { hasSa: true, cdbName, saName: arr.get(serviceAction) };
}

const hex = (n: number): string => n.toString(16);
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** scsi_format_opcode_name: `Read(10)`, `Report supported operation codes`, `opcode=0xc5 (vendor)` … */
export function scsiFormatOpcodeName(cdb: Uint8Array): string {
  const op = cdb[0] ?? 0;
  let sa: number;
  if (op === VARIABLE_LENGTH_CMD) {
    const len = (cdb[7] ?? 0) + 8;
    if (len < 10) return `short variable length command, len=${len}`;
    sa = ((cdb[8] ?? 0) << 8) + (cdb[9] ?? 0);
  } else {
    sa = (cdb[1] ?? 0) & 0x1f;
  }
  const n = scsiOpcodeSaName(op, sa);
  if (!n.hasSa) {
    if (n.cdbName !== undefined) return n.cdbName;
    let s = `opcode=0x${hex(op)}`;
    if (op >= VENDOR_SPECIFIC_CDB) s += ' (vendor)';
    else if (op >= 0x60 && op < 0x7e) s += ' (reserved)';
    return s;
  }
  if (n.saName !== undefined) return n.saName;
  if (n.cdbName !== undefined) return `${n.cdbName}, sa=0x${hex(sa)}`;
  return `opcode=0x${hex(op)}, sa=0x${hex(sa)}`;
}

/** The CDB length the opcode's group implies (COMMAND_SIZE / scsi_command_size). */
export function scsiCommandSize(cdb: Uint8Array): number {
  const op = cdb[0] ?? 0;
  if (op === VARIABLE_LENGTH_CMD) return (cdb[7] ?? 0) + 8;
  return [6, 10, 10, 12, 16, 12, 10, 10][op >> 5]!;
}

/** hex_dump_to_buffer(…, rowsize 16, groupsize 1, ascii false): `12 00 00 00 24 00`. */
export function hexDumpBytes(bytes: Uint8Array): string {
  return Array.from(bytes, hex2).join(' ');
}

/** __scsi_format_command: the name then every byte the opcode's group implies (bounded by `len`). */
export function scsiFormatCommand(cdb: Uint8Array, len: number = cdb.length): string {
  const n = Math.min(scsiCommandSize(cdb), len);
  let s = scsiFormatOpcodeName(cdb);
  for (let k = 0; k < n; k++) s += ` ${hex2(cdb[k] ?? 0)}`;
  return s;
}

// ---- sense keys and additional sense codes ----

/** snstext: sense key names. */
export const SENSE_KEY_NAMES: readonly string[] = [
  'No Sense', 'Recovered Error', 'Not Ready', 'Medium Error', 'Hardware Error', 'Illegal Request',
  'Unit Attention', 'Data Protect', 'Blank Check', 'Vendor Specific(9)', 'Copy Aborted', 'Aborted Command',
  'Equal', 'Volume Overflow', 'Miscompare', 'Completed',
];

/** scsi_sense_key_string. */
export function scsiSenseKeyString(key: number): string | undefined {
  return SENSE_KEY_NAMES[key];
}

/** sense_codes.h: `ASCASCQ text`, one code a line (T10 asc-num list as of 2020-08-17). */
const SENSE_CODES_TEXT = String.raw`
0000 No additional sense information
0001 Filemark detected
0002 End-of-partition/medium detected
0003 Setmark detected
0004 Beginning-of-partition/medium detected
0005 End-of-data detected
0006 I/O process terminated
0007 Programmable early warning detected
0011 Audio play operation in progress
0012 Audio play operation paused
0013 Audio play operation successfully completed
0014 Audio play operation stopped due to error
0015 No current audio status to return
0016 Operation in progress
0017 Cleaning requested
0018 Erase operation in progress
0019 Locate operation in progress
001A Rewind operation in progress
001B Set capacity operation in progress
001C Verify operation in progress
001D ATA pass through information available
001E Conflicting SA creation request
001F Logical unit transitioning to another power condition
0020 Extended copy information available
0021 Atomic command aborted due to ACA
0022 Deferred microcode is pending
0100 No index/sector signal
0200 No seek complete
0300 Peripheral device write fault
0301 No write current
0302 Excessive write errors
0400 Logical unit not ready, cause not reportable
0401 Logical unit is in process of becoming ready
0402 Logical unit not ready, initializing command required
0403 Logical unit not ready, manual intervention required
0404 Logical unit not ready, format in progress
0405 Logical unit not ready, rebuild in progress
0406 Logical unit not ready, recalculation in progress
0407 Logical unit not ready, operation in progress
0408 Logical unit not ready, long write in progress
0409 Logical unit not ready, self-test in progress
040A Logical unit not accessible, asymmetric access state transition
040B Logical unit not accessible, target port in standby state
040C Logical unit not accessible, target port in unavailable state
040D Logical unit not ready, structure check required
040E Logical unit not ready, security session in progress
0410 Logical unit not ready, auxiliary memory not accessible
0411 Logical unit not ready, notify (enable spinup) required
0412 Logical unit not ready, offline
0413 Logical unit not ready, SA creation in progress
0414 Logical unit not ready, space allocation in progress
0415 Logical unit not ready, robotics disabled
0416 Logical unit not ready, configuration required
0417 Logical unit not ready, calibration required
0418 Logical unit not ready, a door is open
0419 Logical unit not ready, operating in sequential mode
041A Logical unit not ready, start stop unit command in progress
041B Logical unit not ready, sanitize in progress
041C Logical unit not ready, additional power use not yet granted
041D Logical unit not ready, configuration in progress
041E Logical unit not ready, microcode activation required
041F Logical unit not ready, microcode download required
0420 Logical unit not ready, logical unit reset required
0421 Logical unit not ready, hard reset required
0422 Logical unit not ready, power cycle required
0423 Logical unit not ready, affiliation required
0424 Depopulation in progress
0425 Depopulation restoration in progress
0500 Logical unit does not respond to selection
0600 No reference position found
0700 Multiple peripheral devices selected
0800 Logical unit communication failure
0801 Logical unit communication time-out
0802 Logical unit communication parity error
0803 Logical unit communication CRC error (Ultra-DMA/32)
0804 Unreachable copy target
0900 Track following error
0901 Tracking servo failure
0902 Focus servo failure
0903 Spindle servo failure
0904 Head select fault
0905 Vibration induced tracking error
0A00 Error log overflow
0B00 Warning
0B01 Warning - specified temperature exceeded
0B02 Warning - enclosure degraded
0B03 Warning - background self-test failed
0B04 Warning - background pre-scan detected medium error
0B05 Warning - background medium scan detected medium error
0B06 Warning - non-volatile cache now volatile
0B07 Warning - degraded power to non-volatile cache
0B08 Warning - power loss expected
0B09 Warning - device statistics notification active
0B0A Warning - high critical temperature limit exceeded
0B0B Warning - low critical temperature limit exceeded
0B0C Warning - high operating temperature limit exceeded
0B0D Warning - low operating temperature limit exceeded
0B0E Warning - high critical humidity limit exceeded
0B0F Warning - low critical humidity limit exceeded
0B10 Warning - high operating humidity limit exceeded
0B11 Warning - low operating humidity limit exceeded
0B12 Warning - microcode security at risk
0B13 Warning - microcode digital signature validation failure
0B14 Warning - physical element status change
0C00 Write error
0C01 Write error - recovered with auto reallocation
0C02 Write error - auto reallocation failed
0C03 Write error - recommend reassignment
0C04 Compression check miscompare error
0C05 Data expansion occurred during compression
0C06 Block not compressible
0C07 Write error - recovery needed
0C08 Write error - recovery failed
0C09 Write error - loss of streaming
0C0A Write error - padding blocks added
0C0B Auxiliary memory write error
0C0C Write error - unexpected unsolicited data
0C0D Write error - not enough unsolicited data
0C0E Multiple write errors
0C0F Defects in error window
0C10 Incomplete multiple atomic write operations
0C11 Write error - recovery scan needed
0C12 Write error - insufficient zone resources
0D00 Error detected by third party temporary initiator
0D01 Third party device failure
0D02 Copy target device not reachable
0D03 Incorrect copy target device type
0D04 Copy target device data underrun
0D05 Copy target device data overrun
0E00 Invalid information unit
0E01 Information unit too short
0E02 Information unit too long
0E03 Invalid field in command information unit
1000 Id CRC or ECC error
1001 Logical block guard check failed
1002 Logical block application tag check failed
1003 Logical block reference tag check failed
1004 Logical block protection error on recover buffered data
1005 Logical block protection method error
1100 Unrecovered read error
1101 Read retries exhausted
1102 Error too long to correct
1103 Multiple read errors
1104 Unrecovered read error - auto reallocate failed
1105 L-EC uncorrectable error
1106 CIRC unrecovered error
1107 Data re-synchronization error
1108 Incomplete block read
1109 No gap found
110A Miscorrected error
110B Unrecovered read error - recommend reassignment
110C Unrecovered read error - recommend rewrite the data
110D De-compression CRC error
110E Cannot decompress using declared algorithm
110F Error reading UPC/EAN number
1110 Error reading ISRC number
1111 Read error - loss of streaming
1112 Auxiliary memory read error
1113 Read error - failed retransmission request
1114 Read error - lba marked bad by application client
1115 Write after sanitize required
1200 Address mark not found for id field
1300 Address mark not found for data field
1400 Recorded entity not found
1401 Record not found
1402 Filemark or setmark not found
1403 End-of-data not found
1404 Block sequence error
1405 Record not found - recommend reassignment
1406 Record not found - data auto-reallocated
1407 Locate operation failure
1500 Random positioning error
1501 Mechanical positioning error
1502 Positioning error detected by read of medium
1600 Data synchronization mark error
1601 Data sync error - data rewritten
1602 Data sync error - recommend rewrite
1603 Data sync error - data auto-reallocated
1604 Data sync error - recommend reassignment
1700 Recovered data with no error correction applied
1701 Recovered data with retries
1702 Recovered data with positive head offset
1703 Recovered data with negative head offset
1704 Recovered data with retries and/or circ applied
1705 Recovered data using previous sector id
1706 Recovered data without ECC - data auto-reallocated
1707 Recovered data without ECC - recommend reassignment
1708 Recovered data without ECC - recommend rewrite
1709 Recovered data without ECC - data rewritten
1800 Recovered data with error correction applied
1801 Recovered data with error corr. & retries applied
1802 Recovered data - data auto-reallocated
1803 Recovered data with CIRC
1804 Recovered data with L-EC
1805 Recovered data - recommend reassignment
1806 Recovered data - recommend rewrite
1807 Recovered data with ECC - data rewritten
1808 Recovered data with linking
1900 Defect list error
1901 Defect list not available
1902 Defect list error in primary list
1903 Defect list error in grown list
1A00 Parameter list length error
1B00 Synchronous data transfer error
1C00 Defect list not found
1C01 Primary defect list not found
1C02 Grown defect list not found
1D00 Miscompare during verify operation
1D01 Miscompare verify of unmapped LBA
1E00 Recovered id with ECC correction
1F00 Partial defect list transfer
2000 Invalid command operation code
2001 Access denied - initiator pending-enrolled
2002 Access denied - no access rights
2003 Access denied - invalid mgmt id key
2004 Illegal command while in write capable state
2005 Obsolete
2006 Illegal command while in explicit address mode
2007 Illegal command while in implicit address mode
2008 Access denied - enrollment conflict
2009 Access denied - invalid LU identifier
200A Access denied - invalid proxy token
200B Access denied - ACL LUN conflict
200C Illegal command when not in append-only mode
200D Not an administrative logical unit
200E Not a subsidiary logical unit
200F Not a conglomerate logical unit
2100 Logical block address out of range
2101 Invalid element address
2102 Invalid address for write
2103 Invalid write crossing layer jump
2104 Unaligned write command
2105 Write boundary violation
2106 Attempt to read invalid data
2107 Read boundary violation
2108 Misaligned write command
2109 Attempt to access gap zone
2200 Illegal function (use 20 00, 24 00, or 26 00)
2300 Invalid token operation, cause not reportable
2301 Invalid token operation, unsupported token type
2302 Invalid token operation, remote token usage not supported
2303 Invalid token operation, remote rod token creation not supported
2304 Invalid token operation, token unknown
2305 Invalid token operation, token corrupt
2306 Invalid token operation, token revoked
2307 Invalid token operation, token expired
2308 Invalid token operation, token cancelled
2309 Invalid token operation, token deleted
230A Invalid token operation, invalid token length
2400 Invalid field in cdb
2401 CDB decryption error
2402 Obsolete
2403 Obsolete
2404 Security audit value frozen
2405 Security working key frozen
2406 Nonce not unique
2407 Nonce timestamp out of range
2408 Invalid XCDB
2409 Invalid fast format
2500 Logical unit not supported
2600 Invalid field in parameter list
2601 Parameter not supported
2602 Parameter value invalid
2603 Threshold parameters not supported
2604 Invalid release of persistent reservation
2605 Data decryption error
2606 Too many target descriptors
2607 Unsupported target descriptor type code
2608 Too many segment descriptors
2609 Unsupported segment descriptor type code
260A Unexpected inexact segment
260B Inline data length exceeded
260C Invalid operation for copy source or destination
260D Copy segment granularity violation
260E Invalid parameter while port is enabled
260F Invalid data-out buffer integrity check value
2610 Data decryption key fail limit reached
2611 Incomplete key-associated data set
2612 Vendor specific key reference not found
2613 Application tag mode page is invalid
2614 Tape stream mirroring prevented
2615 Copy source or copy destination not authorized
2616 Fast copy not possible
2700 Write protected
2701 Hardware write protected
2702 Logical unit software write protected
2703 Associated write protect
2704 Persistent write protect
2705 Permanent write protect
2706 Conditional write protect
2707 Space allocation failed write protect
2708 Zone is read only
2800 Not ready to ready change, medium may have changed
2801 Import or export element accessed
2802 Format-layer may have changed
2803 Import/export element accessed, medium changed
2900 Power on, reset, or bus device reset occurred
2901 Power on occurred
2902 Scsi bus reset occurred
2903 Bus device reset function occurred
2904 Device internal reset
2905 Transceiver mode changed to single-ended
2906 Transceiver mode changed to lvd
2907 I_T nexus loss occurred
2A00 Parameters changed
2A01 Mode parameters changed
2A02 Log parameters changed
2A03 Reservations preempted
2A04 Reservations released
2A05 Registrations preempted
2A06 Asymmetric access state changed
2A07 Implicit asymmetric access state transition failed
2A08 Priority changed
2A09 Capacity data has changed
2A0A Error history I_T nexus cleared
2A0B Error history snapshot released
2A0C Error recovery attributes have changed
2A0D Data encryption capabilities changed
2A10 Timestamp changed
2A11 Data encryption parameters changed by another i_t nexus
2A12 Data encryption parameters changed by vendor specific event
2A13 Data encryption key instance counter has changed
2A14 SA creation capabilities data has changed
2A15 Medium removal prevention preempted
2A16 Zone reset write pointer recommended
2B00 Copy cannot execute since host cannot disconnect
2C00 Command sequence error
2C01 Too many windows specified
2C02 Invalid combination of windows specified
2C03 Current program area is not empty
2C04 Current program area is empty
2C05 Illegal power condition request
2C06 Persistent prevent conflict
2C07 Previous busy status
2C08 Previous task set full status
2C09 Previous reservation conflict status
2C0A Partition or collection contains user objects
2C0B Not reserved
2C0C Orwrite generation does not match
2C0D Reset write pointer not allowed
2C0E Zone is offline
2C0F Stream not open
2C10 Unwritten data in zone
2C11 Descriptor format sense data required
2C12 Zone is inactive
2C13 Well known logical unit access required
2D00 Overwrite error on update in place
2E00 Insufficient time for operation
2E01 Command timeout before processing
2E02 Command timeout during processing
2E03 Command timeout during processing due to error recovery
2F00 Commands cleared by another initiator
2F01 Commands cleared by power loss notification
2F02 Commands cleared by device server
2F03 Some commands cleared by queuing layer event
3000 Incompatible medium installed
3001 Cannot read medium - unknown format
3002 Cannot read medium - incompatible format
3003 Cleaning cartridge installed
3004 Cannot write medium - unknown format
3005 Cannot write medium - incompatible format
3006 Cannot format medium - incompatible medium
3007 Cleaning failure
3008 Cannot write - application code mismatch
3009 Current session not fixated for append
300A Cleaning request rejected
300C WORM medium - overwrite attempted
300D WORM medium - integrity check
3010 Medium not formatted
3011 Incompatible volume type
3012 Incompatible volume qualifier
3013 Cleaning volume expired
3100 Medium format corrupted
3101 Format command failed
3102 Zoned formatting failed due to spare linking
3103 Sanitize command failed
3104 Depopulation failed
3105 Depopulation restoration failed
3200 No defect spare location available
3201 Defect list update failure
3300 Tape length error
3400 Enclosure failure
3500 Enclosure services failure
3501 Unsupported enclosure function
3502 Enclosure services unavailable
3503 Enclosure services transfer failure
3504 Enclosure services transfer refused
3505 Enclosure services checksum error
3600 Ribbon, ink, or toner failure
3700 Rounded parameter
3800 Event status notification
3802 Esn - power management class event
3804 Esn - media class event
3806 Esn - device busy class event
3807 Thin Provisioning soft threshold reached
3808 Depopulation interrupted
3900 Saving parameters not supported
3A00 Medium not present
3A01 Medium not present - tray closed
3A02 Medium not present - tray open
3A03 Medium not present - loadable
3A04 Medium not present - medium auxiliary memory accessible
3B00 Sequential positioning error
3B01 Tape position error at beginning-of-medium
3B02 Tape position error at end-of-medium
3B03 Tape or electronic vertical forms unit not ready
3B04 Slew failure
3B05 Paper jam
3B06 Failed to sense top-of-form
3B07 Failed to sense bottom-of-form
3B08 Reposition error
3B09 Read past end of medium
3B0A Read past beginning of medium
3B0B Position past end of medium
3B0C Position past beginning of medium
3B0D Medium destination element full
3B0E Medium source element empty
3B0F End of medium reached
3B11 Medium magazine not accessible
3B12 Medium magazine removed
3B13 Medium magazine inserted
3B14 Medium magazine locked
3B15 Medium magazine unlocked
3B16 Mechanical positioning or changer error
3B17 Read past end of user object
3B18 Element disabled
3B19 Element enabled
3B1A Data transfer device removed
3B1B Data transfer device inserted
3B1C Too many logical objects on partition to support operation
3B20 Element static information changed
3D00 Invalid bits in identify message
3E00 Logical unit has not self-configured yet
3E01 Logical unit failure
3E02 Timeout on logical unit
3E03 Logical unit failed self-test
3E04 Logical unit unable to update self-test log
3F00 Target operating conditions have changed
3F01 Microcode has been changed
3F02 Changed operating definition
3F03 Inquiry data has changed
3F04 Component device attached
3F05 Device identifier changed
3F06 Redundancy group created or modified
3F07 Redundancy group deleted
3F08 Spare created or modified
3F09 Spare deleted
3F0A Volume set created or modified
3F0B Volume set deleted
3F0C Volume set deassigned
3F0D Volume set reassigned
3F0E Reported luns data has changed
3F0F Echo buffer overwritten
3F10 Medium loadable
3F11 Medium auxiliary memory accessible
3F12 iSCSI IP address added
3F13 iSCSI IP address removed
3F14 iSCSI IP address changed
3F15 Inspect referrals sense descriptors
3F16 Microcode has been changed without reset
3F17 Zone transition to full
3F18 Bind completed
3F19 Bind redirected
3F1A Subsidiary binding changed
4300 Message error
4400 Internal target failure
4401 Persistent reservation information lost
4471 ATA device failed set features
4500 Select or reselect failure
4600 Unsuccessful soft reset
4700 Scsi parity error
4701 Data phase CRC error detected
4702 Scsi parity error detected during st data phase
4703 Information unit iuCRC error detected
4704 Asynchronous information protection error detected
4705 Protocol service CRC error
4706 Phy test function in progress
477F Some commands cleared by iSCSI Protocol event
4800 Initiator detected error message received
4900 Invalid message error
4A00 Command phase error
4B00 Data phase error
4B01 Invalid target port transfer tag received
4B02 Too much write data
4B03 Ack/nak timeout
4B04 Nak received
4B05 Data offset error
4B06 Initiator response timeout
4B07 Connection lost
4B08 Data-in buffer overflow - data buffer size
4B09 Data-in buffer overflow - data buffer descriptor area
4B0A Data-in buffer error
4B0B Data-out buffer overflow - data buffer size
4B0C Data-out buffer overflow - data buffer descriptor area
4B0D Data-out buffer error
4B0E PCIe fabric error
4B0F PCIe completion timeout
4B10 PCIe completer abort
4B11 PCIe poisoned tlp received
4B12 PCIe eCRC check failed
4B13 PCIe unsupported request
4B14 PCIe acs violation
4B15 PCIe tlp prefix blocked
4C00 Logical unit failed self-configuration
4E00 Overlapped commands attempted
5000 Write append error
5001 Write append position error
5002 Position error related to timing
5100 Erase failure
5101 Erase failure - incomplete erase operation detected
5200 Cartridge fault
5300 Media load or eject failed
5301 Unload tape failure
5302 Medium removal prevented
5303 Medium removal prevented by data transfer element
5304 Medium thread or unthread failure
5305 Volume identifier invalid
5306 Volume identifier missing
5307 Duplicate volume identifier
5308 Element status unknown
5309 Data transfer device error - load failed
530A Data transfer device error - unload failed
530B Data transfer device error - unload missing
530C Data transfer device error - eject failed
530D Data transfer device error - library communication failed
5400 Scsi to host system interface failure
5500 System resource failure
5501 System buffer full
5502 Insufficient reservation resources
5503 Insufficient resources
5504 Insufficient registration resources
5505 Insufficient access control resources
5506 Auxiliary memory out of space
5507 Quota error
5508 Maximum number of supplemental decryption keys exceeded
5509 Medium auxiliary memory not accessible
550A Data currently unavailable
550B Insufficient power for operation
550C Insufficient resources to create rod
550D Insufficient resources to create rod token
550E Insufficient zone resources
550F Insufficient zone resources to complete write
5510 Maximum number of streams open
5511 Insufficient resources to bind
5700 Unable to recover table-of-contents
5800 Generation does not exist
5900 Updated block read
5A00 Operator request or state change input
5A01 Operator medium removal request
5A02 Operator selected write protect
5A03 Operator selected write permit
5B00 Log exception
5B01 Threshold condition met
5B02 Log counter at maximum
5B03 Log list codes exhausted
5C00 Rpl status change
5C01 Spindles synchronized
5C02 Spindles not synchronized
5D00 Failure prediction threshold exceeded
5D01 Media failure prediction threshold exceeded
5D02 Logical unit failure prediction threshold exceeded
5D03 Spare area exhaustion prediction threshold exceeded
5D10 Hardware impending failure general hard drive failure
5D11 Hardware impending failure drive error rate too high
5D12 Hardware impending failure data error rate too high
5D13 Hardware impending failure seek error rate too high
5D14 Hardware impending failure too many block reassigns
5D15 Hardware impending failure access times too high
5D16 Hardware impending failure start unit times too high
5D17 Hardware impending failure channel parametrics
5D18 Hardware impending failure controller detected
5D19 Hardware impending failure throughput performance
5D1A Hardware impending failure seek time performance
5D1B Hardware impending failure spin-up retry count
5D1C Hardware impending failure drive calibration retry count
5D20 Controller impending failure general hard drive failure
5D21 Controller impending failure drive error rate too high
5D22 Controller impending failure data error rate too high
5D23 Controller impending failure seek error rate too high
5D24 Controller impending failure too many block reassigns
5D25 Controller impending failure access times too high
5D26 Controller impending failure start unit times too high
5D27 Controller impending failure channel parametrics
5D28 Controller impending failure controller detected
5D29 Controller impending failure throughput performance
5D2A Controller impending failure seek time performance
5D2B Controller impending failure spin-up retry count
5D2C Controller impending failure drive calibration retry count
5D30 Data channel impending failure general hard drive failure
5D31 Data channel impending failure drive error rate too high
5D32 Data channel impending failure data error rate too high
5D33 Data channel impending failure seek error rate too high
5D34 Data channel impending failure too many block reassigns
5D35 Data channel impending failure access times too high
5D36 Data channel impending failure start unit times too high
5D37 Data channel impending failure channel parametrics
5D38 Data channel impending failure controller detected
5D39 Data channel impending failure throughput performance
5D3A Data channel impending failure seek time performance
5D3B Data channel impending failure spin-up retry count
5D3C Data channel impending failure drive calibration retry count
5D40 Servo impending failure general hard drive failure
5D41 Servo impending failure drive error rate too high
5D42 Servo impending failure data error rate too high
5D43 Servo impending failure seek error rate too high
5D44 Servo impending failure too many block reassigns
5D45 Servo impending failure access times too high
5D46 Servo impending failure start unit times too high
5D47 Servo impending failure channel parametrics
5D48 Servo impending failure controller detected
5D49 Servo impending failure throughput performance
5D4A Servo impending failure seek time performance
5D4B Servo impending failure spin-up retry count
5D4C Servo impending failure drive calibration retry count
5D50 Spindle impending failure general hard drive failure
5D51 Spindle impending failure drive error rate too high
5D52 Spindle impending failure data error rate too high
5D53 Spindle impending failure seek error rate too high
5D54 Spindle impending failure too many block reassigns
5D55 Spindle impending failure access times too high
5D56 Spindle impending failure start unit times too high
5D57 Spindle impending failure channel parametrics
5D58 Spindle impending failure controller detected
5D59 Spindle impending failure throughput performance
5D5A Spindle impending failure seek time performance
5D5B Spindle impending failure spin-up retry count
5D5C Spindle impending failure drive calibration retry count
5D60 Firmware impending failure general hard drive failure
5D61 Firmware impending failure drive error rate too high
5D62 Firmware impending failure data error rate too high
5D63 Firmware impending failure seek error rate too high
5D64 Firmware impending failure too many block reassigns
5D65 Firmware impending failure access times too high
5D66 Firmware impending failure start unit times too high
5D67 Firmware impending failure channel parametrics
5D68 Firmware impending failure controller detected
5D69 Firmware impending failure throughput performance
5D6A Firmware impending failure seek time performance
5D6B Firmware impending failure spin-up retry count
5D6C Firmware impending failure drive calibration retry count
5D73 Media impending failure endurance limit met
5DFF Failure prediction threshold exceeded (false)
5E00 Low power condition on
5E01 Idle condition activated by timer
5E02 Standby condition activated by timer
5E03 Idle condition activated by command
5E04 Standby condition activated by command
5E05 Idle_b condition activated by timer
5E06 Idle_b condition activated by command
5E07 Idle_c condition activated by timer
5E08 Idle_c condition activated by command
5E09 Standby_y condition activated by timer
5E0A Standby_y condition activated by command
5E41 Power state change to active
5E42 Power state change to idle
5E43 Power state change to standby
5E45 Power state change to sleep
5E47 Power state change to device control
6000 Lamp failure
6100 Video acquisition error
6101 Unable to acquire video
6102 Out of focus
6200 Scan head positioning error
6300 End of user area encountered on this track
6301 Packet does not fit in available space
6400 Illegal mode for this track
6401 Invalid packet size
6500 Voltage fault
6600 Automatic document feeder cover up
6601 Automatic document feeder lift up
6602 Document jam in automatic document feeder
6603 Document miss feed automatic in document feeder
6700 Configuration failure
6701 Configuration of incapable logical units failed
6702 Add logical unit failed
6703 Modification of logical unit failed
6704 Exchange of logical unit failed
6705 Remove of logical unit failed
6706 Attachment of logical unit failed
6707 Creation of logical unit failed
6708 Assign failure occurred
6709 Multiply assigned logical unit
670A Set target port groups command failed
670B ATA device feature not enabled
670C Command rejected
670D Explicit bind not allowed
6800 Logical unit not configured
6801 Subsidiary logical unit not configured
6900 Data loss on logical unit
6901 Multiple logical unit failures
6902 Parity/data mismatch
6A00 Informational, refer to log
6B00 State change has occurred
6B01 Redundancy level got better
6B02 Redundancy level got worse
6C00 Rebuild failure occurred
6D00 Recalculate failure occurred
6E00 Command to logical unit failed
6F00 Copy protection key exchange failure - authentication failure
6F01 Copy protection key exchange failure - key not present
6F02 Copy protection key exchange failure - key not established
6F03 Read of scrambled sector without authentication
6F04 Media region code is mismatched to logical unit region
6F05 Drive region must be permanent/region reset count error
6F06 Insufficient block count for binding nonce recording
6F07 Conflict in binding nonce recording
6F08 Insufficient permission
6F09 Invalid drive-host pairing server
6F0A Drive-host pairing suspended
7100 Decompression exception long algorithm id
7200 Session fixation error
7201 Session fixation error writing lead-in
7202 Session fixation error writing lead-out
7203 Session fixation error - incomplete track in session
7204 Empty or partially written reserved track
7205 No more track reservations allowed
7206 RMZ extension is not allowed
7207 No more test zone extensions are allowed
7300 Cd control error
7301 Power calibration area almost full
7302 Power calibration area is full
7303 Power calibration area error
7304 Program memory area update failure
7305 Program memory area is full
7306 RMA/PMA is almost full
7310 Current power calibration area almost full
7311 Current power calibration area is full
7317 RDZ is full
7400 Security error
7401 Unable to decrypt data
7402 Unencrypted data encountered while decrypting
7403 Incorrect data encryption key
7404 Cryptographic integrity validation failed
7405 Error decrypting data
7406 Unknown signature verification key
7407 Encryption parameters not useable
7408 Digital signature validation failure
7409 Encryption mode mismatch on read
740A Encrypted block not raw read enabled
740B Incorrect Encryption parameters
740C Unable to decrypt parameter list
740D Encryption algorithm disabled
7410 SA creation parameter value invalid
7411 SA creation parameter value rejected
7412 Invalid SA usage
7421 Data Encryption configuration prevented
7430 SA creation parameter not supported
7440 Authentication failed
7461 External data encryption key manager access error
7462 External data encryption key manager error
7463 External data encryption key not found
7464 External data encryption request not authorized
746E External data encryption control timeout
746F External data encryption control error
7471 Logical unit access not authorized
7479 Security conflict in translated device
`;

/** The additional sense code table: (asc << 8 | ascq) → text. */
export const ASC_ASCQ_TEXT: ReadonlyMap<number, string> = new Map(
  SENSE_CODES_TEXT.split('\n')
    .filter((l) => l !== '')
    .map((l): [number, string] => [parseInt(l.slice(0, 4), 16), l.slice(5)]),
);

/** additional2: codes whose ASCQ is a parameter, printed after the text as `(<fmt><ascq hex>)`. */
const ASC_RANGES: ReadonlyArray<{ asc: number; min: number; max: number; text: string; fmt: string }> = [
  { asc: 0x40, min: 0x00, max: 0x7f, text: 'Ram failure', fmt: '' },
  { asc: 0x40, min: 0x80, max: 0xff, text: 'Diagnostic failure on component', fmt: '' },
  { asc: 0x41, min: 0x00, max: 0xff, text: 'Data path failure', fmt: '' },
  { asc: 0x42, min: 0x00, max: 0xff, text: 'Power-on or self-test failure', fmt: '' },
  { asc: 0x4d, min: 0x00, max: 0xff, text: 'Tagged overlapped commands', fmt: 'task tag ' },
  { asc: 0x70, min: 0x00, max: 0xff, text: 'Decompression exception', fmt: 'short algorithm id of ' },
];

/** scsi_extd_sense_format: the text, and the ASCQ format prefix for the ranged codes. */
export function scsiExtdSenseFormat(asc: number, ascq: number): { text: string; fmt: string | undefined } | undefined {
  const text = ASC_ASCQ_TEXT.get((asc << 8) | ascq);
  if (text !== undefined) return { text, fmt: undefined };
  const r = ASC_RANGES.find((e) => e.asc === asc && ascq >= e.min && ascq <= e.max);
  return r ? { text: r.text, fmt: r.fmt } : undefined;
}

/** scsi_format_extd_sense: `Add. Sense: I/O process terminated`, or `ASC=0x.. ASCQ=0x.. ` when unknown. */
export function scsiFormatExtdSense(asc: number, ascq: number): string {
  const e = scsiExtdSenseFormat(asc, ascq);
  if (e) return `Add. Sense: ${e.text}` + (e.fmt !== undefined ? `(${e.fmt}${hex(ascq)})` : '');
  return (asc >= 0x80 ? '<<vendor>>' : '') + `ASC=0x${hex(asc)} ` + (ascq >= 0x80 ? '<<vendor>>' : '') + `ASCQ=0x${hex(ascq)} `;
}

/** scsi_format_sense_hdr: `Sense Key : Aborted Command [current] ` (the trailing space is the kernel's). */
export function scsiFormatSenseHdr(sshdr: SenseHdr): string {
  const key = scsiSenseKeyString(sshdr.senseKey);
  let s = 'Sense Key : ' + (key !== undefined ? `${key} ` : `0x${hex(sshdr.senseKey)} `);
  // scsi_sense_is_deferred: response codes 0x71 and 0x73.
  s += sshdr.responseCode >= 0x70 && sshdr.responseCode & 1 ? '[deferred] ' : '[current] ';
  if (sshdr.responseCode >= 0x72) s += '[descriptor] ';
  return s;
}

// ---- host bytes and dispositions ----

/** hostbyte_table: constants.c stops at DID_MEDIUM_ERROR; later values print as hex. */
const HOSTBYTE_TABLE: readonly string[] = [
  'DID_OK', 'DID_NO_CONNECT', 'DID_BUS_BUSY', 'DID_TIME_OUT', 'DID_BAD_TARGET', 'DID_ABORT', 'DID_PARITY',
  'DID_ERROR', 'DID_RESET', 'DID_BAD_INTR', 'DID_PASSTHROUGH', 'DID_SOFT_ERROR', 'DID_IMM_RETRY', 'DID_REQUEUE',
  'DID_TRANSPORT_DISRUPTED', 'DID_TRANSPORT_FAILFAST', 'DID_TARGET_FAILURE', 'DID_NEXUS_FAILURE',
  'DID_ALLOC_FAILURE', 'DID_MEDIUM_ERROR',
];

/** scsi_hostbyte_string(result). */
export function scsiHostbyteString(result: number): string | undefined {
  return HOSTBYTE_TABLE[(result >>> 16) & 0xff];
}

/** Mid-layer return values (include/scsi/scsi.h) with the names scsi_mlreturn_string knows. */
export const SCSI_MLRETURN = {
  NEEDS_RETRY: 0x2001,
  SUCCESS: 0x2002,
  FAILED: 0x2003,
  QUEUED: 0x2004,
  SOFT_ERROR: 0x2005,
  ADD_TO_MLQUEUE: 0x2006,
  TIMEOUT_ERROR: 0x2007,
  SCSI_RETURN_NOT_HANDLED: 0x2008,
  FAST_IO_FAIL: 0x2009,
} as const;
export type MlReturnName = keyof typeof SCSI_MLRETURN;

/** scsi_mlreturn_string; a disposition is its name (`'SUCCESS'`) or its value. */
export function scsiMlreturnString(disposition: number | string): string | undefined {
  if (typeof disposition === 'string') return Object.hasOwn(SCSI_MLRETURN, disposition) ? disposition : undefined;
  return (Object.keys(SCSI_MLRETURN) as MlReturnName[]).find((k) => SCSI_MLRETURN[k] === disposition);
}

function mlreturnValue(disposition: number | string): number {
  if (typeof disposition === 'number') return disposition;
  return Object.hasOwn(SCSI_MLRETURN, disposition) ? SCSI_MLRETURN[disposition as MlReturnName] : 0;
}

// ---- the logging lines (scsi_logging.c, scsi_log_send / scsi_log_completion) ----

/** What the printers read from a command; `ScsiCmnd` has all of it. */
export interface ScmdLogView {
  /** cmd->cmnd, cmd_len bytes. */
  readonly cdb: Uint8Array;
  /** The block-layer tag (`tag#N`); negative for none. */
  readonly tag: number;
  readonly result: number;
  readonly senseBuffer: Uint8Array;
  /** Virtual ns when the command was allocated (cmd_age). */
  readonly jiffiesAtAlloc: number;
}

/** What scmd_printk finds around the command. */
export interface ScmdLogContext {
  /** dev_printk's prefix for the scsi_device: `sd 0:0:0:0: ` (see sdevPrefix). */
  readonly devPrefix: string;
  /** scmd_name(): the gendisk of the request (`sda`), absent for scan and passthrough commands. */
  readonly diskName?: string | undefined;
  /** Virtual ns now, for cmd_age. */
  readonly now: number;
  /** How `%p` of the command prints: `(____ptrval____)` until the kernel's pointer-hash key is ready. */
  readonly ptr?: string | undefined;
  /** For ML_COMPLETE level 4: scsi_host_busy and host_failed. */
  readonly hostBusy?: number | undefined;
  readonly hostFailed?: number | undefined;
}

const NS_PER_S = 1_000_000_000;
const CHECK_CONDITION = 0x02;

/** sdev_format_header: `[sda] tag#5 `. */
export function sdevFormatHeader(name: string | undefined, tag: number): string {
  return (name !== undefined ? `[${name}] ` : '') + (tag >= 0 ? `tag#${tag} ` : '');
}

const header = (cmd: ScmdLogView, ctx: ScmdLogContext): string => ctx.devPrefix + sdevFormatHeader(ctx.diskName, cmd.tag);

/** scsi_print_command: one `CDB:` line, or a name line then `CDB[00]:` rows for CDBs over 16 bytes. */
export function scsiPrintCommand(cmd: ScmdLogView, ctx: ScmdLogContext): string[] {
  const h = header(cmd, ctx);
  const name = scsiFormatOpcodeName(cmd.cdb);
  if (cmd.cdb.length > 16) {
    const lines = [`${h}CDB: ${name}`];
    for (let k = 0; k < cmd.cdb.length; k += 16) {
      lines.push(`${h}CDB[${hex2(k)}]: ${hexDumpBytes(cmd.cdb.subarray(k, k + 16))}`);
    }
    return lines;
  }
  return [`${h}CDB: ${name} ${hexDumpBytes(cmd.cdb)}`];
}

/** scsi_log_print_sense: key and additional-sense lines, or a hex dump when the sense is not valid. */
export function scsiLogPrintSense(
  devPrefix: string,
  name: string | undefined,
  tag: number,
  sense: Uint8Array,
  senseLen: number = sense.length,
): string[] {
  const h = devPrefix + sdevFormatHeader(name, tag);
  const sshdr = normalizeSense(sense, senseLen);
  if (sshdr) return [h + scsiFormatSenseHdr(sshdr), h + scsiFormatExtdSense(sshdr.asc, sshdr.ascq)];
  const lines: string[] = [];
  for (let i = 0; i < senseLen; i += 16) lines.push(h + hexDumpBytes(sense.subarray(i, Math.min(senseLen, i + 16))));
  return lines;
}

/** scsi_print_sense(cmd): the command's whole sense buffer (SCSI_SENSE_BUFFERSIZE). */
export function scsiPrintSense(cmd: ScmdLogView, ctx: ScmdLogContext): string[] {
  return scsiLogPrintSense(ctx.devPrefix, ctx.diskName, cmd.tag, cmd.senseBuffer);
}

/** scsi_print_sense_hdr(sdev, name, sshdr): no tag. */
export function scsiPrintSenseHdr(devPrefix: string, name: string | undefined, sshdr: SenseHdr): string[] {
  const h = devPrefix + sdevFormatHeader(name, -1);
  return [h + scsiFormatSenseHdr(sshdr), h + scsiFormatExtdSense(sshdr.asc, sshdr.ascq)];
}

/** scsi_print_result: `[sda] tag#3 Done: SUCCESS Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s`. */
export function scsiPrintResult(cmd: ScmdLogView, ctx: ScmdLogContext, msg: string | undefined, disposition: number | string): string {
  let s = header(cmd, ctx);
  if (msg !== undefined) s += `${msg}: `;
  const ml = scsiMlreturnString(disposition);
  s += ml !== undefined ? `${ml} ` : `UNKNOWN(0x${hex2(mlreturnValue(disposition))}) `;
  const hb = scsiHostbyteString(cmd.result);
  s += 'Result: ' + (hb !== undefined ? `hostbyte=${hb} ` : `hostbyte=0x${hex2((cmd.result >>> 16) & 0xff)} `);
  s += 'driverbyte=DRIVER_OK ';
  const age = Math.max(0, Math.floor((ctx.now - cmd.jiffiesAtAlloc) / NS_PER_S));
  return s + `cmd_age=${age}s`;
}

/** sd_print_result's text after the disk prefix: `Synchronize Cache(10) failed: Result: hostbyte=… driverbyte=DRIVER_OK`. */
export function sdPrintResultText(msg: string, result: number): string {
  const hb = scsiHostbyteString(result);
  return `${msg}: Result: hostbyte=${hb ?? `0x${hex2((result >>> 16) & 0xff)}`} driverbyte=DRIVER_OK`;
}

function logLevel(loggingLevel: number, field: keyof typeof SCSI_LOG_SHIFT): number {
  return (loggingLevel >>> SCSI_LOG_SHIFT[field]) & 7;
}

/** scsi_log_send: ML_QUEUE level > 1 logs `Send: scmd 0x<ptr>` and the CDB. */
export function scsiLogSend(cmd: ScmdLogView, ctx: ScmdLogContext, loggingLevel: number): string[] {
  if (logLevel(loggingLevel, 'MLQUEUE') <= 1) return [];
  return [`${header(cmd, ctx)}Send: scmd 0x${ctx.ptr ?? '(____ptrval____)'}`, ...scsiPrintCommand(cmd, ctx)];
}

/**
 * scsi_log_completion: ML_COMPLETE level > 1 logs every completion, level 1 only failed ones (a
 * result or a disposition other than SUCCESS): the result line, the CDB, the sense for CHECK
 * CONDITION, and at level > 3 the host's busy/failed counts.
 */
export function scsiLogCompletion(cmd: ScmdLogView, ctx: ScmdLogContext, disposition: number | string, loggingLevel: number): string[] {
  const level = logLevel(loggingLevel, 'MLCOMPLETE');
  const success = mlreturnValue(disposition) === SCSI_MLRETURN.SUCCESS;
  if (!((level > 0 && (cmd.result !== 0 || !success)) || level > 1)) return [];
  const lines = [scsiPrintResult(cmd, ctx, 'Done', disposition), ...scsiPrintCommand(cmd, ctx)];
  if ((cmd.result & 0xff) === CHECK_CONDITION) lines.push(...scsiPrintSense(cmd, ctx));
  if (level > 3) lines.push(`${header(cmd, ctx)}scsi host busy ${ctx.hostBusy ?? 0} failed ${ctx.hostFailed ?? 0}`);
  return lines;
}
