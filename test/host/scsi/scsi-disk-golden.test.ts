// Paired tests: what our scsi-hd / scsi-cd answer against the bytes the real QEMU 7.2 returned in the
// goldens (seed_single_disk: sg_inq -H, sg_vpd, sysfs vpd_pg*, sg_modes -a, sg_readcap -l, sg_luns -H;
// seed_disk_and_cd_same_bus: the scsi-cd with drive id cd0 and the ORACLECD ISO). Copied inline.
import { describe, expect, it } from 'vitest';
import { CHECK_CONDITION, GOOD } from '../../../src/host/scsi/scsi.ts';
import { hex, only, unhex } from '../../fakes/test_hba.ts';
import { addCd, addHd, fixedSense, rig } from './setup.ts';

function dataIn(r: ReturnType<typeof rig>, cdb: number[], lun = 0): Uint8Array {
  const o = only(r.hba.submit(cdb, { lun }));
  if (o.kind !== 'complete' || o.status !== GOOD) throw new Error(`not GOOD: ${JSON.stringify(o)}`);
  return o.data;
}

function diskRig(): ReturnType<typeof rig> {
  const r = rig();
  addHd(r);
  return r;
}

describe('scsi-hd vs seed_single_disk golden (64 MiB raw, drive id scsi0)', () => {
  it('standard INQUIRY (36 bytes) = sg_inq -H / sysfs inquiry', () => {
    const data = dataIn(diskRig(), [0x12, 0, 0, 0, 36, 0]);
    // sysfs .../0:0:0:0/inquiry hex
    expect(hex(data)).toBe(hex(unhex('00 00 05 12 1f 00 00 12 51 45 4d 55 20 20 20 20 51 45 4d 55 20 48 41 52 44 44 49 53 4b 20 20 20 32 2e 35 2b')));
    expect(data[0]).toBe(0x00); // PDT: direct access
    expect(data[1]).toBe(0x00); // RMB=0
    expect(data[2]).toBe(0x05); // VERSION: SPC-3
    expect(data[3]).toBe(0x12); // HiSup, format 2
    expect(data[4]).toBe(31); // ADDITIONAL LENGTH
    expect(data[7]).toBe(0x12); // Sync, CmdQue
  });

  it('INQUIRY with allocation length 254 says additional length 249 and pads with zeroes', () => {
    const data = dataIn(diskRig(), [0x12, 0, 0, 0, 254, 0]);
    expect(data.length).toBe(254);
    expect(data[4]).toBe(249); // alloc − 5
    expect(data.subarray(36).every((b) => b === 0)).toBe(true);
  });

  it('VPD 0x00 = sysfs vpd_pg0', () => {
    const data = dataIn(diskRig(), [0x12, 1, 0x00, 0, 9, 0]);
    expect(hex(data)).toBe('00 00 00 05 00 83 b0 b1 b2'); // type, page, 0, len 5, pages
  });

  it('VPD 0x83 = sg_vpd -p di -H (vendor-specific ASCII designator "scsi0")', () => {
    const data = dataIn(diskRig(), [0x12, 1, 0x83, 0, 13, 0]);
    expect(hex(data)).toBe('00 83 00 09 02 00 00 05 73 63 73 69 30');
  });

  it('VPD 0xb0 = sysfs vpd_pgb0 (block limits)', () => {
    const data = dataIn(diskRig(), [0x12, 1, 0xb0, 0, 64, 0]);
    expect(hex(data)).toBe(
      hex(unhex('00b0003c01000000003fffff000000000000000000200000000000ff000000080000000000000000003fffff0000000000000000000000000000000000000000'.replace(/(..)/g, '$1 '))),
    );
  });

  it('VPD 0xb1 = sysfs vpd_pgb1 (rotation rate 0), VPD 0xb2 = vpd_pgb2', () => {
    const r = diskRig();
    const b1 = dataIn(r, [0x12, 1, 0xb1, 0, 64, 0]);
    expect(hex(b1.subarray(0, 4))).toBe('00 b1 00 3c');
    expect(b1.subarray(4).every((b) => b === 0)).toBe(true);
    expect(hex(dataIn(r, [0x12, 1, 0xb2, 0, 8, 0]))).toBe('00 b2 00 04 00 e0 02 00');
  });

  it('VPD 0x80 without serial → CHECK CONDITION 5/24/00', () => {
    const r = diskRig();
    r.bus.devices[0]!.unitAttention = { key: 0, asc: 0, ascq: 0 };
    const o = only(r.hba.submit([0x12, 1, 0x80, 0, 254, 0]));
    expect(o).toMatchObject({ kind: 'complete', status: CHECK_CONDITION });
    if (o.kind === 'complete') expect(Array.from(o.sense)).toEqual(fixedSense(5, 0x24, 0));
  });

  it('READ CAPACITY(10) = sg_readcap: last LBA 131071, 512-byte blocks', () => {
    expect(hex(dataIn(diskRig(), [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe('00 01 ff ff 00 00 02 00');
  });

  it('READ CAPACITY(16) = sg_readcap -l: lbpme=1, exponent 0', () => {
    const data = dataIn(diskRig(), [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]);
    expect(hex(data.subarray(0, 16))).toBe('00 00 00 00 00 01 ff ff 00 00 02 00 00 00 80 00');
  });

  it('MODE SENSE(6) 0x3f with allocation length 4 → 63 00 00 08 (sd "Mode Sense:")', () => {
    expect(hex(dataIn(diskRig(), [0x1a, 0, 0x3f, 0, 4, 0]))).toBe('63 00 00 08');
  });

  it('MODE SENSE(10) 0x3f = sg_modes -a: 104 bytes, block descriptor, pages 01 04 05 08', () => {
    const d = dataIn(diskRig(), [0x5a, 0, 0x3f, 0, 0, 0, 0, 0x10, 0, 0]);
    expect(hex(d.subarray(0, 8))).toBe('00 66 00 00 00 00 00 08'); // mode data length 102 (= 104 − 2), bd len 8
    expect(hex(d.subarray(8, 16))).toBe('00 02 00 00 00 00 02 00'); // 131072 blocks of 512
    expect(hex(d.subarray(16, 28))).toBe('01 0a 80 00 00 00 00 00 00 00 00 00');
    expect(hex(d.subarray(28, 52))).toBe('04 16 00 00 82 10 00 00 82 00 00 82 00 c8 ff ff ff 00 00 00 15 18 00 00');
    expect(hex(d.subarray(52, 84))).toBe(
      '05 1e 13 88 10 3f 02 00 00 82 00 82 00 82 00 01 01 00 01 01 01 00 00 00 00 00 00 00 15 18 00 00',
    );
    expect(hex(d.subarray(84, 104))).toBe('08 12 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
    expect(d.subarray(104).every((b) => b === 0)).toBe(true);
  });

  it('REPORT LUNS = sg_luns -H (one LUN)', () => {
    expect(hex(dataIn(diskRig(), [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0]).subarray(0, 16))).toBe(
      '00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 00',
    );
  });

  it('REPORT SUPPORTED OPCODES (a3 0c …) → 5/20/00, traced as MAINTENANCE_IN', () => {
    const r = diskRig();
    const o = only(r.hba.submit([0xa3, 0x0c, 1, 0x93, 0, 0, 0, 0, 2, 0, 0, 0]));
    expect(o.kind === 'complete' && Array.from(o.sense)).toEqual(fixedSense(5, 0x20, 0));
    expect(r.events.find(([e]) => e === 'scsi_disk_emulate_command_UNKNOWN')?.[1]).toEqual({ cmd: 0xa3, name: 'MAINTENANCE_IN' });
  });
});

describe('scsi-cd vs seed_disk_and_cd_same_bus golden (ISO at 0:1, drive id cd0)', () => {
  function cdRig(): ReturnType<typeof rig> {
    const r = rig();
    addHd(r, { drive: { name: 'd0' } });
    addCd(r);
    return r;
  }

  it('standard INQUIRY = sg_inq -H /dev/sg1', () => {
    expect(hex(dataIn(cdRig(), [0x12, 0, 0, 0, 36, 0], 1))).toBe(
      hex(unhex('05 80 05 12 1f 00 00 12 51 45 4d 55 20 20 20 20 51 45 4d 55 20 43 44 2d 52 4f 4d 20 20 20 20 20 32 2e 35 2b')),
    );
  });

  it('VPD 0x00 = sg_inq -p 0x00 and VPD 0x83 = sg_vpd -p di -H', () => {
    const r = cdRig();
    expect(hex(dataIn(r, [0x12, 1, 0, 0, 6, 0], 1))).toBe('05 00 00 02 00 83');
    expect(hex(dataIn(r, [0x12, 1, 0x83, 0, 11, 0], 1))).toBe('05 83 00 07 02 00 00 03 63 64 30');
  });

  it('VPD 0xb0 on a CD → 5/24/00', () => {
    const o = only(cdRig().hba.submit([0x12, 1, 0xb0, 0, 64, 0], { lun: 1 }));
    expect(o.kind === 'complete' && Array.from(o.sense)).toEqual(fixedSense(5, 0x24, 0));
  });

  it('READ CAPACITY(10) and (16) = sg_readcap: last LBA 183, 2048-byte blocks, lbpme=1', () => {
    const r = cdRig();
    expect(hex(dataIn(r, [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1))).toBe('00 00 00 b7 00 00 08 00');
    expect(hex(dataIn(r, [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 1).subarray(0, 16))).toBe(
      '00 00 00 00 00 00 00 b7 00 00 08 00 00 00 80 00',
    );
  });

  it('MODE SENSE(10) 0x3f after udev locked the tray = sg_modes -a (78 bytes, no block descriptor)', () => {
    const r = cdRig();
    dataIn(r, [0x1e, 0, 0, 0, 1, 0], 1); // PREVENT ALLOW MEDIUM REMOVAL: prevent
    const d = dataIn(r, [0x5a, 0, 0x3f, 0, 0, 0, 0, 0x10, 0, 0], 1);
    expect(hex(d.subarray(0, 8))).toBe('00 4c 00 00 00 00 00 00'); // length 76 (= 78 − 2), bd len 0
    expect(hex(d.subarray(8, 20))).toBe('01 0a 80 20 00 00 00 00 00 00 00 00');
    expect(hex(d.subarray(20, 40))).toBe('08 12 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
    expect(hex(d.subarray(40, 56))).toBe('0e 0e 00 00 00 00 00 00 00 00 00 00 00 00 00 00');
    expect(hex(d.subarray(56, 78))).toBe('2a 14 3b 00 7f ff 2f 00 22 60 00 02 08 00 0b 00 00 00 0b 00 0b 00');
  });

  it('REPORT LUNS to the disk lists 0 and 1 (sg_luns -H /dev/sg0); to the CD LUN → 5/25/00', () => {
    const r = cdRig();
    expect(hex(dataIn(r, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0]).subarray(0, 24))).toBe(
      '00 00 00 10 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00',
    );
    const o = only(r.hba.submit([0xa0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0], { lun: 1 }));
    expect(o.kind === 'complete' && Array.from(o.sense)).toEqual(fixedSense(5, 0x25, 0));
  });

  it('GET CONFIGURATION: 40 bytes, current profile CD-ROM for a 368 KiB ISO', () => {
    const d = dataIn(cdRig(), [0x46, 0, 0, 0, 0, 0, 0, 0, 40, 0], 1);
    expect(hex(d)).toBe(
      [
        '00 00 00 24', // data length 36
        '00 00', // reserved
        '00 08', // current profile: CD-ROM
        '00 00 03 08', // feature 0 (profile list), persistent+current, 8 bytes
        '00 10 00 00', // DVD-ROM, not current
        '00 08 01 00', // CD-ROM, current
        '00 01 0b 08', // feature 1 (core), version 2, persistent+current
        '00 00 00 01', // physical interface: SCSI
        '01 00 00 00', // DBE
        '00 03 0b 04', // feature 3 (removable medium)
        '39 00 00 00', // tray, eject, lock
      ].join(' '),
    );
  });

  it('READ TOC format 0 track 0 (12 bytes as sr asks), format 0 track 0xaa MSF, format 1', () => {
    const r = cdRig();
    expect(hex(dataIn(r, [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0], 1))).toBe('00 12 01 01 00 14 01 00 00 00 00 00');
    // lead-out only, MSF: 184 + 150 = 334 frames = 00:04:34
    expect(hex(dataIn(r, [0x43, 2, 0, 0, 0, 0, 0xaa, 0, 12, 0], 1))).toBe('00 0a 01 01 00 16 aa 00 00 00 04 22');
    expect(hex(dataIn(r, [0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0], 1))).toBe('00 0a 01 01 00 00 00 00 00 00 00 00');
    expect(r.events.filter(([e]) => e === 'scsi_disk_emulate_read_toc').map(([, a]) => a)).toEqual([
      { start_track: 0, format: 0, msf: 0 },
      { start_track: 170, format: 0, msf: 1 },
      { start_track: 0, format: 1, msf: 0 },
    ]);
  });

  it('READ TOC format 0 whole TOC (20 bytes): track 1 at LBA 0, lead-out at LBA 184', () => {
    expect(hex(dataIn(cdRig(), [0x43, 0, 0, 0, 0, 0, 1, 0, 20, 0], 1))).toBe(
      '00 12 01 01 00 14 01 00 00 00 00 00 00 16 aa 00 00 00 00 b8',
    );
  });

  it('READ TRACK INFORMATION (0x52) and ATA PASS-THROUGH(16) → 5/20/00 with QEMU names', () => {
    const r = cdRig();
    const o = only(r.hba.submit([0x52, 1, 0, 0, 0, 1, 0, 0, 8, 0], { lun: 1 }));
    expect(o.kind === 'complete' && Array.from(o.sense)).toEqual(fixedSense(5, 0x20, 0));
    r.hba.submit([0x85, 0x08, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xec, 0, 0], { lun: 1, dataIn: 512 });
    const names = r.events.filter(([e]) => e === 'scsi_disk_emulate_command_UNKNOWN').map(([, a]) => a['name']);
    expect(names).toEqual(['*UNKNOWN*', 'ATA_PASSTHROUGH_16']);
    // the golden's ATA PASS-THROUGH(16) was parsed with length 512 (one 512-byte block, T_DIR from device)
    expect(r.events.filter(([e]) => e === 'scsi_req_parsed').at(-1)?.[1]).toMatchObject({ command: 0x85, dir: 1, length: 512 });
  });

  it('READ(10) of sector 16 returns the ISO primary volume descriptor', async () => {
    const r = cdRig();
    const e = r.hba.submit([0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0], { lun: 1 })!;
    expect(e.outcomes).toEqual([]); // block I/O completes on the event loop
    await r.loop.runUntilIdle();
    const o = only(e);
    expect(o.kind === 'complete' && o.status).toBe(GOOD);
    expect(hex(e.data.subarray(0, 6))).toBe('01 43 44 30 30 31'); // type 1, "CD001"
    expect(new TextDecoder().decode(e.data.subarray(40, 48))).toBe('ORACLECD');
  });
});
