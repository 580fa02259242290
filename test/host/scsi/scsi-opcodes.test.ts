// The opcode table: QEMU's names, CDB lengths, transfer lengths and directions (scsi_req_xfer), and the
// sense helpers of scsi/utils.c.
import { describe, expect, it } from 'vitest';
import { TYPE_DISK, TYPE_ROM, emptyCommand, parseCdb, scsiCommandName } from '../../../src/host/scsi/scsi-opcodes.ts';
import { SENSE, buildSenseBuf, senseFromErrno, uaPrecedence } from '../../../src/host/scsi/scsi-sense.ts';

const parse = (cdb: number[], type = TYPE_DISK, bs = 512): ReturnType<typeof emptyCommand> | null => {
  const c = emptyCommand();
  return parseCdb(Uint8Array.from(cdb), type, bs, c) ? c : null;
};

describe('opcode table', () => {
  it('names as QEMU traces print them (golden: 0xa3, 0x85, 0x52)', () => {
    expect(scsiCommandName(0xa3)).toBe('MAINTENANCE_IN');
    expect(scsiCommandName(0x85)).toBe('ATA_PASSTHROUGH_16');
    expect(scsiCommandName(0x52)).toBe('*UNKNOWN*');
    expect(scsiCommandName(0x1b)).toBe('START_STOP/LOAD_UNLOAD');
    expect(scsiCommandName(0x93)).toBe('ERASE_16/WRITE_SAME_16');
  });

  it('transfer length and direction per the golden scsi_req_parsed lines', () => {
    expect(parse([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0])).toMatchObject({ len: 12, xfer: 16, mode: 'from-dev', lba: 0 });
    expect(parse([0x12, 0, 0, 0, 36, 0])).toMatchObject({ xfer: 36, mode: 'from-dev', lba: 0 });
    expect(parse([0x12, 1, 0x83, 0, 254, 0])).toMatchObject({ xfer: 254, lba: 0x18300 }); // group 0 LBA = bytes 1-3 & 0x1fffff
    expect(parse([0x00, 0, 0, 0, 0, 0])).toMatchObject({ xfer: 0, mode: 'none' });
    expect(parse([0x28, 0, 0, 1, 0, 0, 0, 0, 8, 0])).toMatchObject({ xfer: 4096, mode: 'from-dev', lba: 65536 });
    expect(parse([0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0], TYPE_ROM, 2048)).toMatchObject({ xfer: 2048 });
    expect(parse([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0])).toMatchObject({ xfer: 512, mode: 'to-dev' });
    expect(parse([0x0a, 0, 0, 0, 0, 0])).toMatchObject({ xfer: 256 * 512, mode: 'to-dev' }); // WRITE(6) 0 = 256
    expect(parse([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toMatchObject({ xfer: 8 });
    expect(parse([0x41, 0, 0, 0, 0, 0, 0, 0, 4, 0])).toMatchObject({ xfer: 512, mode: 'to-dev' }); // one block of pattern
    expect(parse([0x2f, 0, 0, 0, 0, 0, 0, 0, 4, 0])).toMatchObject({ xfer: 0, mode: 'none' }); // VERIFY without BYTCHK
    expect(parse([0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], TYPE_ROM)).toMatchObject({ xfer: 8 });
    expect(parse([0x85, 0x08, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xec, 0, 0])).toMatchObject({ xfer: 512, mode: 'from-dev' });
    expect(parse([0x88, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])?.lba).toBe(0xffffffff * 0x1_0000_0000);
  });

  it('groups 3, 6 and 7 and short CDBs do not parse', () => {
    expect(parse([0x60, 0, 0, 0, 0, 0])).toBeNull();
    expect(parse([0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toBeNull();
    expect(parse([0x28, 0, 0, 0, 0, 0])).toBeNull();
  });
});

describe('sense helpers', () => {
  it('builds fixed and descriptor sense, truncated to the given size', () => {
    const b = new Uint8Array(18).fill(0xee);
    expect(buildSenseBuf(b, 18, SENSE.IO_ERROR, true)).toBe(18);
    expect(Array.from(b)).toEqual([0x70, 0, 0x0b, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0]);
    const d = new Uint8Array(8);
    expect(buildSenseBuf(d, 4, SENSE.INVALID_FIELD, false)).toBe(4);
    expect(Array.from(d)).toEqual([0x72, 5, 0x24, 0, 0, 0, 0, 0]);
  });

  it('errno → status/sense as scsi_sense_from_errno', () => {
    expect(senseFromErrno('EIO').sense).toEqual(SENSE.IO_ERROR);
    expect(senseFromErrno('ENOSPC').sense).toEqual(SENSE.SPACE_ALLOC_FAILED);
    expect(senseFromErrno('ENOMEDIUM').sense).toEqual(SENSE.NO_MEDIUM);
    expect(senseFromErrno('EDOM')).toEqual({ status: 0x28, sense: null });
    expect(senseFromErrno(null)).toEqual({ status: 0, sense: null });
  });

  it('UA precedence ranks 29/00 first, non-UA last', () => {
    expect(uaPrecedence(SENSE.RESET)).toBe(0);
    expect(uaPrecedence(SENSE.DEVICE_INTERNAL_RESET)).toBe(1);
    expect(uaPrecedence(SENSE.REPORTED_LUNS_CHANGED)).toBe(0x3f0e);
    expect(uaPrecedence(SENSE.NO_SENSE)).toBeGreaterThan(0xffff);
  });
});
