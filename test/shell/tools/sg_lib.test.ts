// Ours: golden conformance and unit tests for the SCSI userland tools (sg_lib).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathIdTag } from '../../../src/shell/path_id.ts';
import {
  SG_LIB_CAT_ILLEGAL_REQ, SG_LIB_CAT_INVALID_OP, SG_LIB_CAT_UNIT_ATTENTION, cFixed, convertErrno, errCategorySense,
  exit2str, hexDump, senseStr,
} from '../../../src/shell/sg_lib.ts';
import { fixedSense } from '../../fakes/golden_sysfs_kernel.ts';
import { parseHexDump } from './golden_device.ts';

describe('sg_lib', () => {
  it('hex dumps parse back to the same bytes (with and without the ASCII column)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.constantFrom(0 as const, 1 as const), (b, mode) => {
      expect(parseHexDump(hexDump(b, mode))).toEqual(b);
    }));
  });

  it('a full line with ASCII is exactly 76 columns; the address is two hex digits', () => {
    const line = hexDump(Uint8Array.from({ length: 16 }, (_, i) => 0x41 + i), 0).split('\n')[0]!;
    expect(line).toBe(' 00     41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50    ABCDEFGHIJKLMNOP');
    expect(line.length).toBe(76);
  });

  it('sense categories follow the sense key (and 20/00 is "invalid opcode")', () => {
    expect(errCategorySense(fixedSense(0x5, 0x24, 0x00))).toBe(SG_LIB_CAT_ILLEGAL_REQ);
    expect(errCategorySense(fixedSense(0x5, 0x20, 0x00))).toBe(SG_LIB_CAT_INVALID_OP);
    expect(errCategorySense(fixedSense(0x6, 0x29, 0x00))).toBe(SG_LIB_CAT_UNIT_ATTENTION);
    expect(senseStr(fixedSense(0x6, 0x29, 0x00))).toBe(
      'Fixed format, current; Sense key: Unit Attention\nAdditional sense: Power on, reset, or bus device reset occurred\n');
    expect(senseStr(fixedSense(0x5, 0x99, 0x01))).toContain('ASC=99, ASCQ=01 (hex)');
  });

  it('OS errors map to 50 + errno and print as strerror', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 46 }), (e) => {
      expect(convertErrno(e)).toBe(50 + e);
      expect(exit2str(50 + e)).not.toBeNull();
    }));
    expect(exit2str(convertErrno(33))).toBe('Numerical argument out of domain');
  });

  it('%.Nf rounds exact binary ties to even like glibc', () => {
    expect(cFixed(0.25, 1)).toBe('0.2');
    expect(cFixed(0.75, 1)).toBe('0.8');
    expect(cFixed(64, 1)).toBe('64.0');
    expect(cFixed(0.067108864, 2)).toBe('0.07');
  });

  it('ID_PATH_TAG keeps only [0-9A-Za-z-], no double or trailing underscores', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      const t = pathIdTag(s);
      expect(t).toMatch(/^[0-9A-Za-z_-]*$/);
      expect(t).not.toMatch(/__|_$/);
    }));
  });
});
