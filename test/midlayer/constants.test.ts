// Ours: CDB/sense/host-byte names and the scsi_logging_level lines against the goldens' dmesg
// (seed_single_disk ran with scsi_mod.scsi_logging_level=9664: ML_QUEUE 2, ML_COMPLETE 2, SCAN 7;
// error_injection shows the failed-I/O lines). Golden text is quoted after its `[time] ` stamp.
import { describe, expect, it } from 'vitest';
import {
  ASC_ASCQ_TEXT,
  SCSI_MLRETURN,
  scsiCommandSize,
  scsiFormatCommand,
  scsiFormatExtdSense,
  scsiFormatOpcodeName,
  scsiHostbyteString,
  scsiLogCompletion,
  scsiLogPrintSense,
  scsiLogSend,
  scsiMlreturnString,
  scsiPrintCommand,
  scsiPrintResult,
  scsiPrintSenseHdr,
  scsiSenseKeyString,
  sdPrintResultText,
  type ScmdLogContext,
  type ScmdLogView,
} from '../../src/midlayer/constants.ts';

const LOGGING_9664 = 9664;
const S = 1_000_000_000;

/** Fixed-format sense as QEMU returns it: response 0x70, key, additional length 10, ASC, ASCQ. */
function sense(key: number, asc: number, ascq: number): Uint8Array {
  const b = new Uint8Array(96);
  b[0] = 0x70; // current, fixed format
  b[2] = key; // SENSE KEY
  b[7] = 10; // ADDITIONAL SENSE LENGTH
  b[12] = asc; // ASC
  b[13] = ascq; // ASCQ
  return b;
}

function cmd(cdb: number[], tag: number, result = 0, sb: Uint8Array = new Uint8Array(96), allocNs = 13 * S): ScmdLogView {
  return { cdb: Uint8Array.from(cdb), tag, result, senseBuffer: sb, jiffiesAtAlloc: allocNs };
}

const SDA: ScmdLogContext = { devPrefix: 'sd 0:0:0:0: ', diskName: 'sda', now: 13 * S };
const SCAN = (hctl: string): ScmdLogContext => ({ devPrefix: `scsi ${hctl}: `, now: 13 * S });

describe('CDB names (scsi_format_opcode_name), as the golden CDB: lines show them', () => {
  it.each([
    [[0x00, 0, 0, 0, 0, 0], 'Test Unit Ready'],
    [[0x12, 0, 0, 0, 36, 0], 'Inquiry'],
    [[0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 'Report luns'],
    [[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0], 'Read capacity(16)'],
    [[0x1a, 0, 0x3f, 0, 4, 0], 'Mode Sense(6)'],
    [[0xa3, 0x0c, 0x01, 0x12, 0, 0, 0, 0, 0, 0x0a, 0, 0], 'Report supported operation codes'],
    [[0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0], 'Read(10)'],
    [[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'Synchronize Cache(10)'],
    [[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'Read Capacity(10)'],
    [[0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], 'Get event status notification'],
  ])('%j → %s', (cdb, name) => {
    expect(scsiFormatOpcodeName(Uint8Array.from(cdb))).toBe(name);
  });

  it('unknown service action, unnamed, reserved, vendor and short variable-length opcodes', () => {
    expect(scsiFormatOpcodeName(Uint8Array.from([0x9e, 0x1f]))).toBe('Service action in(16), sa=0x1f');
    expect(scsiFormatOpcodeName(Uint8Array.from([0xa9, 0x01]))).toBe('Play track relative(12), sa=0x1'); // SERVICE ACTION OUT(12) shares 0xa9
    expect(scsiFormatOpcodeName(Uint8Array.from([0x02]))).toBe('opcode=0x2');
    expect(scsiFormatOpcodeName(Uint8Array.from([0x61]))).toBe('opcode=0x61 (reserved)');
    expect(scsiFormatOpcodeName(Uint8Array.from([0xc5]))).toBe('opcode=0xc5 (vendor)');
    expect(scsiFormatOpcodeName(Uint8Array.from([0x7f, 0, 0, 0, 0, 0, 0, 1]))).toBe('short variable length command, len=9');
    expect(scsiFormatOpcodeName(Uint8Array.from([0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0, 0x09]))).toBe('Read(32)');
  });

  it('scsi_command_size and __scsi_format_command', () => {
    expect(scsiCommandSize(Uint8Array.from([0x28]))).toBe(10);
    expect(scsiCommandSize(Uint8Array.from([0x88]))).toBe(16);
    expect(scsiCommandSize(Uint8Array.from([0xa8]))).toBe(12);
    expect(scsiFormatCommand(Uint8Array.from([0x12, 0, 0, 0, 36, 0, 0xff, 0xff]))).toBe('Inquiry 12 00 00 00 24 00');
  });
});

describe('sense, host byte and disposition names', () => {
  it('sense keys and additional sense texts (sense_codes.h wording)', () => {
    expect(scsiSenseKeyString(0x6)).toBe('Unit Attention');
    expect(scsiSenseKeyString(0xb)).toBe('Aborted Command');
    expect(scsiSenseKeyString(0x10)).toBeUndefined();
    expect(scsiFormatExtdSense(0x29, 0x00)).toBe('Add. Sense: Power on, reset, or bus device reset occurred');
    expect(scsiFormatExtdSense(0x00, 0x06)).toBe('Add. Sense: I/O process terminated');
    expect(scsiFormatExtdSense(0x20, 0x00)).toBe('Add. Sense: Invalid command operation code');
    expect(scsiFormatExtdSense(0x3f, 0x0e)).toBe('Add. Sense: Reported luns data has changed');
    expect(scsiFormatExtdSense(0x3a, 0x00)).toBe('Add. Sense: Medium not present');
    expect(scsiFormatExtdSense(0x5d, 0x6c)).toBe('Add. Sense: Firmware impending failure drive calibration retry count');
    expect(ASC_ASCQ_TEXT.size).toBeGreaterThan(750);
  });

  it('ranged codes print the ASCQ in hex; unknown codes print ASC=/ASCQ= with vendor marks', () => {
    expect(scsiFormatExtdSense(0x4d, 0x2a)).toBe('Add. Sense: Tagged overlapped commands(task tag 2a)');
    expect(scsiFormatExtdSense(0x40, 0x81)).toBe('Add. Sense: Diagnostic failure on component(81)');
    expect(scsiFormatExtdSense(0x3c, 0x00)).toBe('ASC=0x3c ASCQ=0x0 ');
    expect(scsiFormatExtdSense(0x80, 0x90)).toBe('<<vendor>>ASC=0x80 <<vendor>>ASCQ=0x90 ');
  });

  it('host bytes stop at DID_MEDIUM_ERROR; dispositions by name or value', () => {
    expect(scsiHostbyteString(0x04 << 16)).toBe('DID_BAD_TARGET');
    expect(scsiHostbyteString(0x13 << 16)).toBe('DID_MEDIUM_ERROR');
    expect(scsiHostbyteString(0x14 << 16)).toBeUndefined(); // DID_TRANSPORT_MARGINAL has no name in 6.1
    expect(scsiMlreturnString('SUCCESS')).toBe('SUCCESS');
    expect(scsiMlreturnString(SCSI_MLRETURN.FAILED)).toBe('FAILED');
    expect(scsiMlreturnString('MAYBE_RETRY')).toBeUndefined();
  });
});

describe('scsi_logging_level=9664 lines = seed_single_disk dmesg', () => {
  it('scan INQUIRY on a present LUN (no disk yet: `scsi` prefix, no [sdX])', () => {
    const c = cmd([0x12, 0, 0, 0, 0x24, 0], 192);
    expect(scsiLogSend(c, SCAN('0:0:0:0'), LOGGING_9664)).toEqual([
      'scsi 0:0:0:0: tag#192 Send: scmd 0x(____ptrval____)',
      'scsi 0:0:0:0: tag#192 CDB: Inquiry 12 00 00 00 24 00',
    ]);
    expect(scsiLogCompletion(c, SCAN('0:0:0:0'), 'SUCCESS', LOGGING_9664)).toEqual([
      'scsi 0:0:0:0: tag#192 Done: SUCCESS Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
      'scsi 0:0:0:0: tag#192 CDB: Inquiry 12 00 00 00 24 00',
    ]);
  });

  it('scan INQUIRY to an empty target: DID_BAD_TARGET', () => {
    const c = cmd([0x12, 0, 0, 0, 0x24, 0], 219, 0x04 << 16);
    expect(scsiLogCompletion(c, SCAN('0:0:10:0'), SCSI_MLRETURN.SUCCESS, LOGGING_9664)).toEqual([
      'scsi 0:0:10:0: tag#219 Done: SUCCESS Result: hostbyte=DID_BAD_TARGET driverbyte=DRIVER_OK cmd_age=0s',
      'scsi 0:0:10:0: tag#219 CDB: Inquiry 12 00 00 00 24 00',
    ]);
  });

  it('sd probe TUR → UNIT ATTENTION 29/00: sense after the CDB, trailing space after [current]', () => {
    const c = cmd([0, 0, 0, 0, 0, 0], 128, 0x02, sense(0x6, 0x29, 0x00), 13 * S);
    expect(scsiLogSend(c, SDA, LOGGING_9664)).toEqual([
      'sd 0:0:0:0: [sda] tag#128 Send: scmd 0x(____ptrval____)',
      'sd 0:0:0:0: [sda] tag#128 CDB: Test Unit Ready 00 00 00 00 00 00',
    ]);
    expect(scsiLogCompletion(c, SDA, 'SUCCESS', LOGGING_9664)).toEqual([
      'sd 0:0:0:0: [sda] tag#128 Done: SUCCESS Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
      'sd 0:0:0:0: [sda] tag#128 CDB: Test Unit Ready 00 00 00 00 00 00',
      'sd 0:0:0:0: [sda] tag#128 Sense Key : Unit Attention [current] ',
      'sd 0:0:0:0: [sda] tag#128 Add. Sense: Power on, reset, or bus device reset occurred',
    ]);
  });

  it('REPORT SUPPORTED OPERATION CODES → ILLEGAL REQUEST 20/00', () => {
    const c = cmd([0xa3, 0x0c, 0x01, 0x12, 0, 0, 0, 0, 0, 0x0a, 0, 0], 134, 0x02, sense(0x5, 0x20, 0x00));
    expect(scsiLogCompletion(c, SDA, 'SUCCESS', LOGGING_9664)).toEqual([
      'sd 0:0:0:0: [sda] tag#134 Done: SUCCESS Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
      'sd 0:0:0:0: [sda] tag#134 CDB: Report supported operation codes a3 0c 01 12 00 00 00 00 00 0a 00 00',
      'sd 0:0:0:0: [sda] tag#134 Sense Key : Illegal Request [current] ',
      'sd 0:0:0:0: [sda] tag#134 Add. Sense: Invalid command operation code',
    ]);
  });

  it('CDB lines of the probe (Read capacity(16), Mode Sense(6), Report luns, Read(10))', () => {
    const line = (cdb: number[], tag: number, ctx: ScmdLogContext = SDA) => scsiPrintCommand(cmd(cdb, tag), ctx);
    expect(line([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0], 130)).toEqual([
      'sd 0:0:0:0: [sda] tag#130 CDB: Read capacity(16) 9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00',
    ]);
    expect(line([0x1a, 0, 0x3f, 0, 4, 0], 131)).toEqual(['sd 0:0:0:0: [sda] tag#131 CDB: Mode Sense(6) 1a 00 3f 00 04 00']);
    expect(line([0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0], 141)).toEqual(['sd 0:0:0:0: [sda] tag#141 CDB: Read(10) 28 00 00 00 00 00 00 00 08 00']);
    expect(line([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0], 209, SCAN('0:0:0:0'))).toEqual([
      'scsi 0:0:0:0: tag#209 CDB: Report luns a0 00 00 00 00 00 00 00 10 00 00 00',
    ]);
  });

  it('levels: ML_QUEUE ≤ 1 sends nothing; ML_COMPLETE 1 logs only failures; 4 adds host counts', () => {
    const ok = cmd([0, 0, 0, 0, 0, 0], 1);
    const bad = cmd([0, 0, 0, 0, 0, 0], 1, 0x04 << 16);
    const mlq1 = 1 << 9;
    const mlc1 = 1 << 12;
    expect(scsiLogSend(ok, SDA, mlq1)).toEqual([]);
    expect(scsiLogSend(ok, SDA, 0)).toEqual([]);
    expect(scsiLogCompletion(ok, SDA, 'SUCCESS', mlc1)).toEqual([]);
    expect(scsiLogCompletion(bad, SDA, 'SUCCESS', mlc1)).toHaveLength(2);
    expect(scsiLogCompletion(ok, SDA, 'NEEDS_RETRY', mlc1)[0]).toBe(
      'sd 0:0:0:0: [sda] tag#1 Done: NEEDS_RETRY Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
    );
    const l4 = scsiLogCompletion(ok, { ...SDA, hostBusy: 1, hostFailed: 0 }, 'SUCCESS', 4 << 12);
    expect(l4.at(-1)).toBe('sd 0:0:0:0: [sda] tag#1 scsi host busy 1 failed 0');
  });
});

describe('failed I/O lines = error_injection dmesg', () => {
  it('FAILED Result (no msg), then the sense, then the CDB', () => {
    const c = cmd([0x28, 0, 0, 0x01, 0, 0, 0, 0, 0x01, 0], 55, 0x02, sense(0xb, 0x00, 0x06), 34 * S);
    const ctx = { ...SDA, now: 34 * S };
    expect([scsiPrintResult(c, ctx, undefined, 'FAILED'), ...scsiLogPrintSense(ctx.devPrefix, 'sda', 55, c.senseBuffer), ...scsiPrintCommand(c, ctx)]).toEqual([
      'sd 0:0:0:0: [sda] tag#55 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
      'sd 0:0:0:0: [sda] tag#55 Sense Key : Aborted Command [current] ',
      'sd 0:0:0:0: [sda] tag#55 Add. Sense: I/O process terminated',
      'sd 0:0:0:0: [sda] tag#55 CDB: Read(10) 28 00 00 01 00 00 00 00 01 00',
    ]);
  });

  it('sd_print_result text (hotplug_event: SYNCHRONIZE CACHE after device_del)', () => {
    expect(sdPrintResultText('Synchronize Cache(10) failed', 0x04 << 16)).toBe(
      'Synchronize Cache(10) failed: Result: hostbyte=DID_BAD_TARGET driverbyte=DRIVER_OK',
    );
    expect(sdPrintResultText('x', 0x14 << 16)).toBe('x: Result: hostbyte=0x14 driverbyte=DRIVER_OK');
  });
});

describe('edge shapes', () => {
  it('CDBs over 16 bytes: a name line then CDB[nn]: rows', () => {
    const cdb = [0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0, 0x09, ...new Array<number>(22).fill(0xaa)];
    expect(scsiPrintCommand(cmd(cdb, 7), SDA)).toEqual([
      'sd 0:0:0:0: [sda] tag#7 CDB: Read(32)',
      'sd 0:0:0:0: [sda] tag#7 CDB[00]: 7f 00 00 00 00 00 00 18 00 09 aa aa aa aa aa aa',
      'sd 0:0:0:0: [sda] tag#7 CDB[10]: aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa',
    ]);
  });

  it('deferred and descriptor sense; invalid sense is dumped in 16-byte rows; no tag without a tag', () => {
    const desc = new Uint8Array(8);
    desc[0] = 0x73; // deferred, descriptor format
    desc[1] = 0x3; // MEDIUM ERROR
    desc[2] = 0x11; // ASC
    desc[3] = 0x00; // ASCQ
    expect(scsiLogPrintSense('sd 0:0:0:0: ', 'sda', -1, desc)).toEqual([
      'sd 0:0:0:0: [sda] Sense Key : Medium Error [deferred] [descriptor] ',
      'sd 0:0:0:0: [sda] Add. Sense: Unrecovered read error',
    ]);
    const junk = Uint8Array.from({ length: 18 }, (_, i) => i);
    expect(scsiLogPrintSense('sd 0:0:0:0: ', undefined, 3, junk)).toEqual([
      'sd 0:0:0:0: tag#3 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f',
      'sd 0:0:0:0: tag#3 10 11',
    ]);
    expect(scsiPrintSenseHdr('sr 0:0:0:1: ', 'sr0', { responseCode: 0x70, senseKey: 2, asc: 0x3a, ascq: 0, descriptor: false })).toEqual([
      'sr 0:0:0:1: [sr0] Sense Key : Not Ready [current] ',
      'sr 0:0:0:1: [sr0] Add. Sense: Medium not present',
    ]);
  });

  it('unknown disposition and unnamed host byte', () => {
    const c = cmd([0, 0, 0, 0, 0, 0], 2, 0x14 << 16, new Uint8Array(96), 0);
    expect(scsiPrintResult(c, SDA, 'Done', 0x1234)).toBe(
      'sd 0:0:0:0: [sda] tag#2 Done: UNKNOWN(0x1234) Result: hostbyte=0x14 driverbyte=DRIVER_OK cmd_age=13s',
    );
  });
});
