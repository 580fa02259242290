// scsi-tape (ours, SSC-3): every command byte by byte through the test HBA, the image format, the
// monitor's eject/change, and a model-based property — random records, filemarks, spaces and rewinds
// read back exactly as a list model says, filemark/EOD/ILI sense and residues included.
import '../../seed.ts';
import fc from 'fast-check';
import { Volume } from 'memfs';
import { describe, expect, it } from 'vitest';
import { BlockBackend, type SyncFs } from '../../../src/host/block/block-backend.ts';
import { CHECK_CONDITION, GOOD } from '../../../src/host/scsi/scsi.ts';
import { ScsiTape, TapeImage, createScsiTape, tapeHeader, TAPE_RECORD } from '../../../src/host/scsi/scsi-tape.ts';
import { qdevDeviceAdd } from '../../../src/host/qdev-monitor.ts';
import { qemuOptsParse } from '../../../src/host/qemu-option.ts';
import { qdevDeviceHelp, qdevPrintDevinfos } from '../../../src/host/qdev-properties.ts';
import { parseQemuArgs } from '../../../src/host/vl.ts';
import { TestHba, hex, only, type Outcome } from '../../fakes/test_hba.ts';
import { makeMachine } from '../monitor/setup.ts';
import { rig, type Rig } from './setup.ts';

const IMG = '/tape.img';

interface TapeRig extends Rig {
  tape: ScsiTape;
  blk: BlockBackend;
  vol: InstanceType<typeof Volume>;
  fs: SyncFs;
  image(): Uint8Array;
}

function tapeRig(o: { content?: Uint8Array; readOnly?: boolean; capacity?: number; earlyWarning?: number; empty?: boolean } = {}): TapeRig {
  const r = rig();
  const vol = new Volume();
  vol.writeFileSync(IMG, o.content ?? new Uint8Array(0));
  const fs = vol as unknown as SyncFs;
  const blk = new BlockBackend(r.loop, { name: 't0', readOnly: o.readOnly ?? false });
  if (!o.empty) expect(blk.insertMedium(fs, IMG)).toBeNull();
  const tape = createScsiTape({
    drive: blk, scsiId: 0, lun: 0, qdevId: 'tape0',
    ...(o.capacity !== undefined ? { capacity: o.capacity } : {}),
    ...(o.earlyWarning !== undefined ? { earlyWarning: o.earlyWarning } : {}),
  });
  if (!(tape instanceof ScsiTape)) throw new Error(tape.error);
  expect(r.bus.attach(tape)).toBeNull();
  return { ...r, tape, blk, vol, fs, image: () => new Uint8Array(vol.readFileSync(IMG) as Uint8Array) };
}

interface Done {
  status: number;
  resid: number;
  sense: number[];
  /** The bytes the device transferred (data-in). */
  data: Uint8Array;
}

async function run(t: Rig, cdb: number[], opts: { dataOut?: Uint8Array; dataIn?: number } = {}): Promise<Done> {
  const e = t.hba.submit(cdb, opts);
  await t.loop.runUntilIdle();
  const o: Outcome = only(e);
  if (o.kind !== 'complete') throw new Error(`not completed: ${o.kind}`);
  const moved = opts.dataOut ? new Uint8Array(0) : o.data.subarray(0, o.data.length - o.resid);
  return { status: o.status, resid: o.resid, sense: Array.from(o.sense), data: moved };
}

/** Fixed-format sense with the tape bits and the INFORMATION field. */
function sense(key: number, asc: number, ascq: number, f: { fm?: boolean; eom?: boolean; ili?: boolean; info?: number } = {}): number[] {
  const s = new Array<number>(18).fill(0);
  s[0] = 0x70 | (f.info !== undefined ? 0x80 : 0); // response code 0x70, VALID when INFORMATION is set
  s[2] = key | (f.fm ? 0x80 : 0) | (f.eom ? 0x40 : 0) | (f.ili ? 0x20 : 0); // FILEMARK, EOM, ILI, SENSE KEY
  const v = (f.info ?? 0) >>> 0;
  [s[3], s[4], s[5], s[6]] = [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]; // INFORMATION
  s[7] = 10; // ADDITIONAL SENSE LENGTH
  s[12] = asc;
  s[13] = ascq;
  return s;
}

const u24 = (n: number): number[] => [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const TUR = [0x00, 0, 0, 0, 0, 0];
const REWIND = [0x01, 0, 0, 0, 0, 0];
const read6 = (n: number, flags = 0): number[] => [0x08, flags, ...u24(n), 0]; // flags: bit0 FIXED, bit1 SILI
const write6 = (n: number, flags = 0): number[] => [0x0a, flags, ...u24(n), 0];
const wfm = (n: number): number[] => [0x10, 0, ...u24(n), 0];
const space = (code: number, n: number): number[] => [0x11, code, ...u24(n & 0xffffff), 0];
const readPos = (form = 0): number[] => [0x34, form, 0, 0, 0, 0, 0, 0, 0, 0];
const loadUnload = (b4: number): number[] => [0x1b, 0, 0, 0, b4, 0];
const bytes = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (seed * 31 + i * 7) & 0xff);

const NO_SENSE = 0x0;
const BLANK_CHECK = 0x8;

describe('identification', () => {
  it('INQUIRY: a removable sequential-access device', async () => {
    const t = tapeRig();
    const r = await run(t, [0x12, 0, 0, 0, 36, 0]);
    expect(r.status).toBe(GOOD);
    expect(hex(r.data.subarray(0, 8))).toBe(hex([
      0x01, // PERIPHERAL QUALIFIER 0, PERIPHERAL DEVICE TYPE 1: sequential-access
      0x80, // RMB: removable medium
      0x05, // VERSION: SPC-3
      0x12, // HiSup, RESPONSE DATA FORMAT 2
      31, // ADDITIONAL LENGTH: 36 − 5
      0x00,
      0x00,
      0x12, // Sync, CmdQue (virtio-scsi queues)
    ]));
    expect(new TextDecoder().decode(r.data.subarray(8, 36))).toBe('QEMU    QEMU TAPE       2.5+'); // vendor, product, revision
  });

  it('INQUIRY answers 36 bytes even to a bigger allocation (residual reported); CmdDt → 5/24/00', async () => {
    const t = tapeRig();
    const r = await run(t, [0x12, 0, 0, 0, 96, 0]);
    expect(r.resid).toBe(60);
    expect((await run(t, [0x12, 0x02, 0, 0, 36, 0])).sense).toEqual(sense(5, 0x24, 0));
  });

  it('VPD 0x00, 0x80 (serial = drive id by default), 0x83 (T10 vendor ID); unknown page → 5/24/00', async () => {
    const t = tapeRig();
    expect(hex((await run(t, [0x12, 1, 0x00, 0, 64, 0])).data)).toBe(hex([
      0x01, 0x00, // device type, PAGE CODE 0x00
      0x00, 0x03, // PAGE LENGTH
      0x00, 0x80, 0x83, // supported pages
    ]));
    expect(hex((await run(t, [0x12, 1, 0x80, 0, 64, 0])).data)).toBe(hex([
      0x01, 0x80, // device type, PAGE CODE 0x80
      0x00, 0x02, // PAGE LENGTH
      0x74, 0x30, // "t0"
    ]));
    const p83 = (await run(t, [0x12, 1, 0x83, 0, 64, 0])).data;
    expect(hex(p83.subarray(0, 8))).toBe(hex([
      0x01, 0x83, // device type, PAGE CODE 0x83
      0x00, 30, // PAGE LENGTH: one 4 + 26 byte designator
      0x02, // PROTOCOL IDENTIFIER 0, CODE SET 2: ASCII
      0x01, // PIV 0, ASSOCIATION 0 (LU), DESIGNATOR TYPE 1: T10 vendor ID
      0x00, // reserved
      26, // DESIGNATOR LENGTH: 8 + 16 + 2
    ]));
    expect(new TextDecoder().decode(p83.subarray(8))).toBe('QEMU    QEMU TAPE       t0');
    expect((await run(t, [0x12, 1, 0xb0, 0, 64, 0])).sense).toEqual(sense(5, 0x24, 0));
  });

  it('READ BLOCK LIMITS', async () => {
    const t = tapeRig();
    expect(hex((await run(t, [0x05, 0, 0, 0, 0, 0])).data)).toBe(hex([
      0x00, // GRANULARITY: 2^0
      0xff, 0xff, 0xff, // MAXIMUM BLOCK LENGTH LIMIT: 16777215
      0x00, 0x01, // MINIMUM BLOCK LENGTH LIMIT: 1
    ]));
  });

  it('an unknown opcode → 5/20/00; READ POSITION with an unknown form → 5/20/00 (the parser refuses it)', async () => {
    const t = tapeRig();
    expect((await run(t, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])).sense).toEqual(sense(5, 0x20, 0));
    expect((await run(t, readPos(0x02))).sense).toEqual(sense(5, 0x20, 0));
  });
});

describe('readiness and the cartridge', () => {
  it('an empty drive: TUR and medium commands → 2/3A/00; REQUEST SENSE says so; INQUIRY works', async () => {
    const t = tapeRig({ empty: true });
    expect(t.tape.cartridge).toBe('none');
    const r = await run(t, TUR);
    expect(r.status).toBe(CHECK_CONDITION);
    expect(r.sense).toEqual(sense(2, 0x3a, 0));
    expect((await run(t, read6(10))).sense).toEqual(sense(2, 0x3a, 0));
    // The bus answers the stored sense first, then the device its current state.
    expect(hex((await run(t, [0x03, 0, 0, 0, 18, 0])).data)).toBe(hex(sense(2, 0x3a, 0)));
    expect(hex((await run(t, [0x03, 0, 0, 0, 18, 0])).data)).toBe(hex(sense(2, 0x3a, 0)));
    expect((await run(t, [0x12, 0, 0, 0, 36, 0])).status).toBe(GOOD);
  });

  it('load() (monitor change): UNIT ATTENTION 28/00 once, then ready at BOP', async () => {
    const t = tapeRig({ empty: true });
    t.vol.writeFileSync('/other.img', Uint8Array.from([...tapeHeader(TAPE_RECORD.DATA, 2), 0xab, 0xcd]));
    expect(t.tape.load(t.fs, '/other.img')).toBeNull();
    expect((await run(t, TUR)).sense).toEqual(sense(6, 0x28, 0)); // NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
    expect((await run(t, TUR)).status).toBe(GOOD);
    expect(hex((await run(t, read6(2))).data)).toBe('ab cd');
    expect(t.tape.load(t.fs, '/missing.img')).toBe('ENOENT');
    expect((await run(t, TUR)).sense).toEqual(sense(2, 0x3a, 0));
  });

  it('unload() (monitor eject) empties the drive', async () => {
    const t = tapeRig();
    t.tape.unload();
    expect(t.blk.inserted).toBe(false);
    expect((await run(t, TUR)).sense).toEqual(sense(2, 0x3a, 0));
  });

  it('LOAD UNLOAD: unload ejects (2/3A/00), LOAD threads the cartridge again at BOP; PREVENT refuses unload', async () => {
    const t = tapeRig();
    await run(t, write6(3), { dataOut: bytes(3, 1) });
    expect((await run(t, loadUnload(0x00))).status).toBe(GOOD); // LOAD 0: unload
    expect(t.tape.cartridge).toBe('ejected');
    expect((await run(t, TUR)).sense).toEqual(sense(2, 0x3a, 0));
    expect((await run(t, loadUnload(0x01))).status).toBe(GOOD); // LOAD 1
    expect((await run(t, TUR)).status).toBe(GOOD);
    expect(hex((await run(t, readPos())).data.subarray(4, 8))).toBe('00 00 00 00'); // at BOP
    expect((await run(t, [0x1e, 0, 0, 0, 1, 0])).status).toBe(GOOD); // PREVENT MEDIUM REMOVAL
    expect(t.tape.isMediumLocked()).toBe(true);
    expect((await run(t, loadUnload(0x00))).sense).toEqual(sense(5, 0x53, 0x02)); // MEDIUM REMOVAL PREVENTED
    expect((await run(t, [0x1e, 0, 0, 0, 0, 0])).status).toBe(GOOD); // ALLOW
    expect((await run(t, loadUnload(0x05))).sense).toEqual(sense(5, 0x24, 0)); // LOAD with EOT: invalid
  });

  it('LOAD with nothing in the drive → 2/3A/00', async () => {
    const t = tapeRig({ empty: true });
    expect((await run(t, loadUnload(0x01))).sense).toEqual(sense(2, 0x3a, 0));
  });
});

describe('variable-block READ/WRITE', () => {
  it('WRITE(6) appends one record per command; READ(6) returns each exactly', async () => {
    const t = tapeRig();
    const a = bytes(100, 1);
    const b = bytes(7, 2);
    expect((await run(t, write6(100), { dataOut: a })).status).toBe(GOOD);
    expect((await run(t, write6(7), { dataOut: b })).status).toBe(GOOD);
    expect((await run(t, REWIND)).status).toBe(GOOD);
    const r1 = await run(t, read6(100));
    expect(r1.status).toBe(GOOD);
    expect(r1.data).toEqual(a);
    expect((await run(t, read6(7))).data).toEqual(b);
    // The image: 'D' records, then the EOD record the drive always writes last.
    const img = t.image();
    expect(hex(img.subarray(0, 4))).toBe(hex([100, 0, 0, 0x44])); // length 100 (LE24), type 'D'
    expect(hex(img.subarray(104, 108))).toBe(hex([7, 0, 0, 0x44]));
    expect(hex(img.subarray(115))).toBe(hex([0, 0, 0, 0x45])); // EOD
  });

  it('a shorter record → ILI, INFORMATION = requested − actual, data and residual of the record', async () => {
    const t = tapeRig();
    await run(t, write6(10), { dataOut: bytes(10, 3) });
    await run(t, REWIND);
    const r = await run(t, read6(16));
    expect(r.status).toBe(CHECK_CONDITION);
    expect(r.sense).toEqual(sense(NO_SENSE, 0, 0, { ili: true, info: 6 }));
    expect(r.resid).toBe(6);
    expect(r.data).toEqual(bytes(10, 3));
  });

  it('a longer record → ILI with a negative INFORMATION; the rest of the record is skipped', async () => {
    const t = tapeRig();
    await run(t, write6(10), { dataOut: bytes(10, 4) });
    await run(t, write6(2), { dataOut: bytes(2, 5) });
    await run(t, REWIND);
    const r = await run(t, read6(4));
    expect(r.sense).toEqual(sense(NO_SENSE, 0, 0, { ili: true, info: -6 })); // 0xfffffffa
    expect(r.data).toEqual(bytes(10, 4).subarray(0, 4));
    expect((await run(t, read6(2))).data).toEqual(bytes(2, 5));
  });

  it('SILI: an underlength block is not reported; an overlength one neither while the block length is 0', async () => {
    const t = tapeRig();
    await run(t, write6(10), { dataOut: bytes(10, 6) });
    await run(t, write6(10), { dataOut: bytes(10, 7) });
    await run(t, REWIND);
    const under = await run(t, read6(16, 0x02));
    expect(under.status).toBe(GOOD);
    expect(under.resid).toBe(6);
    const over = await run(t, read6(4, 0x02));
    expect(over.status).toBe(GOOD);
    expect(over.data).toEqual(bytes(10, 7).subarray(0, 4));
  });

  it('READ at end of data → BLANK CHECK 8/00/05, INFORMATION = the whole request; a blank tape is EOD at BOP', async () => {
    const t = tapeRig();
    const r = await run(t, read6(512));
    expect(r.status).toBe(CHECK_CONDITION);
    expect(r.sense).toEqual(sense(BLANK_CHECK, 0x00, 0x05, { info: 512 })); // END-OF-DATA DETECTED
    expect(r.resid).toBe(512);
  });

  it('READ(6) of length 0 and WRITE(6) of length 0 are no-ops', async () => {
    const t = tapeRig();
    expect((await run(t, read6(0))).status).toBe(GOOD);
    expect((await run(t, write6(0))).status).toBe(GOOD);
    expect(t.image().length).toBe(0);
  });

  it('the data of a later write replaces everything after the position', async () => {
    const t = tapeRig();
    for (let i = 0; i < 3; i++) await run(t, write6(5), { dataOut: bytes(5, i) });
    await run(t, REWIND);
    await run(t, space(0, 1));
    await run(t, write6(3), { dataOut: bytes(3, 9) });
    await run(t, REWIND);
    expect((await run(t, read6(5))).data).toEqual(bytes(5, 0));
    expect((await run(t, read6(3))).data).toEqual(bytes(3, 9));
    expect((await run(t, read6(5))).sense).toEqual(sense(BLANK_CHECK, 0, 5, { info: 5 }));
  });
});

describe('fixed-block mode', () => {
  const selectBlock = (len: number): number[] => [
    0x00, 0x00, // MODE DATA LENGTH (reserved for SELECT), MEDIUM TYPE
    0x10, // DEVICE-SPECIFIC: BUFFERED MODE 1
    0x08, // BLOCK DESCRIPTOR LENGTH
    0x00, // DENSITY CODE 0: default
    0, 0, 0, // NUMBER OF BLOCKS
    0x00, // reserved
    ...u24(len), // BLOCK LENGTH
  ];

  it('MODE SELECT sets the block length; fixed WRITE writes one record per block; the bus sizes transfers in blocks', async () => {
    const t = tapeRig();
    expect((await run(t, [0x15, 0x10, 0, 0, 12, 0], { dataOut: Uint8Array.from(selectBlock(512)) })).status).toBe(GOOD);
    expect(t.tape.blockLength).toBe(512);
    const e = t.hba.submit(write6(3, 0x01), { dataOut: bytes(1536, 1) })!;
    expect(e.req.xfer).toBe(1536); // 3 blocks × 512
    await t.loop.runUntilIdle();
    expect(only(e)).toMatchObject({ status: GOOD });
    expect(t.tape.medium!.objects.map((o) => o.length)).toEqual([512, 512, 512]);
    await run(t, REWIND);
    const r = await run(t, read6(4, 0x01));
    expect(r.sense).toEqual(sense(BLANK_CHECK, 0, 5, { info: 1 })); // one block not read
    expect(r.data).toEqual(bytes(1536, 1));
  });

  it('a block of another length stops a fixed READ with ILI (INFORMATION = blocks not read), past that block', async () => {
    const t = tapeRig();
    await run(t, write6(512), { dataOut: bytes(512, 1) });
    await run(t, write6(100), { dataOut: bytes(100, 2) });
    await run(t, write6(512), { dataOut: bytes(512, 3) });
    await run(t, [0x15, 0x10, 0, 0, 12, 0], { dataOut: Uint8Array.from(selectBlock(512)) });
    await run(t, REWIND);
    const r = await run(t, read6(3, 0x01));
    expect(r.sense).toEqual(sense(NO_SENSE, 0, 0, { ili: true, info: 2 }));
    expect(r.data).toEqual(bytes(512, 1));
    expect((await run(t, read6(1, 0x01))).data).toEqual(bytes(512, 3));
  });

  it('FIXED with block length 0, or FIXED with SILI → 5/24/00', async () => {
    const t = tapeRig();
    expect((await run(t, read6(1, 0x01))).sense).toEqual(sense(5, 0x24, 0));
    expect((await run(t, write6(1, 0x01))).sense).toEqual(sense(5, 0x24, 0));
    await run(t, [0x15, 0x10, 0, 0, 12, 0], { dataOut: Uint8Array.from(selectBlock(512)) });
    expect((await run(t, read6(1, 0x03))).sense).toEqual(sense(5, 0x24, 0));
  });
});

describe('filemarks, SPACE, REWIND, READ POSITION, ERASE', () => {
  /** A tape of: rec0 rec1 FM rec2 FM rec3 (EOD after). */
  async function layout(): Promise<TapeRig> {
    const t = tapeRig();
    await run(t, write6(4), { dataOut: bytes(4, 0) });
    await run(t, write6(4), { dataOut: bytes(4, 1) });
    expect((await run(t, wfm(1))).status).toBe(GOOD);
    await run(t, write6(4), { dataOut: bytes(4, 2) });
    await run(t, wfm(1));
    await run(t, write6(4), { dataOut: bytes(4, 3) });
    await run(t, REWIND);
    return t;
  }
  const position = async (t: TapeRig): Promise<number> => {
    const d = (await run(t, readPos())).data;
    return ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0;
  };

  it('READ over a filemark → 0/00/01 with FILEMARK, INFORMATION = request; the next READ is in the next file', async () => {
    const t = await layout();
    await run(t, space(0, 2));
    const r = await run(t, read6(4));
    expect(r.sense).toEqual(sense(NO_SENSE, 0x00, 0x01, { fm: true, info: 4 })); // FILEMARK DETECTED
    expect(r.resid).toBe(4);
    expect((await run(t, read6(4))).data).toEqual(bytes(4, 2));
    // The sense of the last CHECK CONDITION is kept for REQUEST SENSE (here: after a GOOD, none).
    await run(t, read6(4));
    expect(hex((await run(t, [0x03, 0, 0, 0, 18, 0])).data)).toBe(hex(sense(NO_SENSE, 0, 1, { fm: true, info: 4 })));
  });

  it('READ POSITION short form: BOP flag, first/last logical object, empty buffer', async () => {
    const t = await layout();
    expect(hex((await run(t, readPos())).data)).toBe(hex([
      0x80, // BOP 1, EOP 0, LOCU 0, BYCU 0, LOLU 0, PERR 0, BPEW 0
      0x00, // PARTITION NUMBER
      0x00, 0x00, // reserved
      0, 0, 0, 0, // FIRST LOGICAL OBJECT LOCATION
      0, 0, 0, 0, // LAST LOGICAL OBJECT LOCATION
      0x00, // reserved
      0, 0, 0, // NUMBER OF LOGICAL OBJECTS IN OBJECT BUFFER
      0, 0, 0, 0, // NUMBER OF BYTES IN OBJECT BUFFER
    ]));
    await run(t, space(1, 2));
    expect(hex((await run(t, readPos(0x06))).data.subarray(0, 24))).toBe(hex([
      0x00, // BOP 0, EOP 0
      0, 0, 0, // reserved
      0, 0, 0, 0, // PARTITION NUMBER
      0, 0, 0, 0, 0, 0, 0, 5, // LOGICAL OBJECT NUMBER: rec0 rec1 FM rec2 FM
      0, 0, 0, 0, 0, 0, 0, 2, // LOGICAL FILE IDENTIFIER: two filemarks before
    ]));
  });

  it('SPACE blocks forward stops past a filemark (0/00/01, INFORMATION = blocks not spaced)', async () => {
    const t = await layout();
    const r = await run(t, space(0, 5));
    expect(r.sense).toEqual(sense(NO_SENSE, 0, 1, { fm: true, info: 3 }));
    expect(await position(t)).toBe(3);
  });

  it('SPACE blocks backward stops before a filemark', async () => {
    const t = await layout();
    await run(t, space(3, 0)); // to EOD: position 6
    expect(await position(t)).toBe(6);
    const r = await run(t, space(0, -3)); // over rec3, then the filemark at 4 stops it
    expect(r.sense).toEqual(sense(NO_SENSE, 0, 1, { fm: true, info: 2 }));
    expect(await position(t)).toBe(4);
  });

  it('SPACE blocks backward to BOP → EOM with 0/00/04', async () => {
    const t = await layout();
    await run(t, space(0, 2));
    const r = await run(t, space(0, -5));
    expect(r.sense).toEqual(sense(NO_SENSE, 0, 4, { eom: true, info: 3 })); // BEGINNING-OF-PARTITION/MEDIUM DETECTED
    expect(await position(t)).toBe(0);
  });

  it('SPACE filemarks forward ends past the n-th filemark; at EOD → 8/00/05 with the count left', async () => {
    const t = await layout();
    expect((await run(t, space(1, 1))).status).toBe(GOOD);
    expect(await position(t)).toBe(3);
    expect((await run(t, read6(4))).data).toEqual(bytes(4, 2));
    const r = await run(t, space(1, 3));
    expect(r.sense).toEqual(sense(BLANK_CHECK, 0, 5, { info: 2 }));
    expect(await position(t)).toBe(6);
  });

  it('SPACE filemarks backward ends before the n-th filemark (BOP side); past BOP → EOM 0/00/04', async () => {
    const t = await layout();
    await run(t, space(3, 0));
    expect((await run(t, space(1, -1))).status).toBe(GOOD);
    expect(await position(t)).toBe(4);
    expect((await run(t, space(1, -1))).status).toBe(GOOD);
    expect(await position(t)).toBe(2);
    expect((await run(t, space(1, -2))).sense).toEqual(sense(NO_SENSE, 0, 4, { eom: true, info: 2 }));
    expect(await position(t)).toBe(0);
  });

  it('SPACE count 0 does not move; unsupported codes → 5/24/00', async () => {
    const t = await layout();
    await run(t, space(0, 1));
    expect((await run(t, space(0, 0))).status).toBe(GOOD);
    expect(await position(t)).toBe(1);
    expect((await run(t, space(2, 1))).sense).toEqual(sense(5, 0x24, 0)); // sequential filemarks
    expect((await run(t, space(4, 1))).sense).toEqual(sense(5, 0x24, 0)); // setmarks
  });

  it('WRITE FILEMARKS 0 writes nothing; WSMK → 5/24/00', async () => {
    const t = await layout();
    const before = t.image().length;
    expect((await run(t, wfm(0))).status).toBe(GOOD);
    expect(t.image().length).toBe(before);
    expect((await run(t, [0x10, 0x02, 0, 0, 1, 0])).sense).toEqual(sense(5, 0x24, 0));
  });

  it('ERASE removes everything from the position; the image ends with EOD', async () => {
    const t = await layout();
    await run(t, space(1, 1));
    expect((await run(t, [0x19, 0x01, 0, 0, 0, 0])).status).toBe(GOOD); // LONG
    expect(t.tape.medium!.count).toBe(3);
    expect(hex(t.image().subarray(-8))).toBe(hex([0, 0, 0, 0x46, 0, 0, 0, 0x45])); // filemark, EOD
    await run(t, REWIND);
    await run(t, space(1, 1));
    expect((await run(t, read6(4))).sense).toEqual(sense(BLANK_CHECK, 0, 5, { info: 4 }));
  });
});

describe('write protection, capacity, faults', () => {
  it('readonly=on: WRITE, WRITE FILEMARKS, ERASE → 7/27/00; MODE SENSE sets WP', async () => {
    const t = tapeRig({ readOnly: true });
    expect((await run(t, write6(4), { dataOut: bytes(4, 0) })).sense).toEqual(sense(7, 0x27, 0));
    expect((await run(t, wfm(1))).sense).toEqual(sense(7, 0x27, 0));
    expect((await run(t, [0x19, 0, 0, 0, 0, 0])).sense).toEqual(sense(7, 0x27, 0));
    expect((await run(t, [0x1a, 0, 0, 0, 12, 0])).data[2]).toBe(0x90); // WP, BUFFERED MODE 1
  });

  it('past early warning: the write succeeds with 0/00/02 and EOM; past the end: VOLUME OVERFLOW, nothing written', async () => {
    // capacity 8192, early warning 1024 bytes before: writes of 1000 bytes take 1004 image bytes.
    const t = tapeRig({ capacity: 8192, earlyWarning: 1024 });
    for (let i = 0; i < 7; i++) expect((await run(t, write6(1000), { dataOut: bytes(1000, i) })).status).toBe(GOOD);
    const ew = await run(t, write6(1000), { dataOut: bytes(1000, 7) }); // ends at 8032 > 7168
    expect(ew.status).toBe(CHECK_CONDITION);
    expect(ew.sense).toEqual(sense(NO_SENSE, 0, 2, { eom: true, info: 0 })); // END-OF-PARTITION/MEDIUM DETECTED
    expect(t.tape.medium!.count).toBe(8);
    const pos = await run(t, readPos());
    expect(pos.data[0]).toBe(0x40); // EOP
    const full = await run(t, write6(1000), { dataOut: bytes(1000, 8) });
    expect(full.sense).toEqual(sense(0x0d, 0, 2, { eom: true, info: 1000 })); // VOLUME OVERFLOW
    expect(t.tape.medium!.count).toBe(8);
    // Filemarks still fit after early warning.
    expect((await run(t, wfm(2))).sense).toEqual(sense(NO_SENSE, 0, 2, { eom: true, info: 0 }));
  });

  it('fixed mode at the end: the blocks that fit are written, INFORMATION = blocks not written', async () => {
    const t = tapeRig({ capacity: 4096, earlyWarning: 512 });
    t.tape.blockLength = 1020;
    const r = await run(t, write6(5, 0x01), { dataOut: bytes(5 * 1020, 1) });
    expect(r.sense).toEqual(sense(0x0d, 0, 2, { eom: true, info: 1 })); // 4 × 1024 fit
    expect(t.tape.medium!.count).toBe(4);
  });

  it('a failing image read (fault rule) → MEDIUM ERROR 3/11/00; never otherwise', async () => {
    const t = tapeRig();
    await run(t, write6(4), { dataOut: bytes(4, 0) });
    await run(t, REWIND);
    t.blk.faultHook = (op) => (op === 'read' ? 'EIO' : null);
    expect((await run(t, read6(4))).sense).toEqual(sense(3, 0x11, 0));
    t.blk.faultHook = (op) => (op === 'write' ? 'EIO' : null);
    expect((await run(t, write6(4), { dataOut: bytes(4, 0) })).sense).toEqual(sense(3, 0x0c, 0));
  });
});

describe('MODE SENSE / MODE SELECT', () => {
  it("MODE SENSE(6) as st asks at open (page 0, 12 bytes): header + block descriptor", async () => {
    const t = tapeRig();
    expect(hex((await run(t, [0x1a, 0, 0, 0, 12, 0])).data)).toBe(hex([
      11, // MODE DATA LENGTH
      0x00, // MEDIUM TYPE
      0x10, // DEVICE-SPECIFIC: WP 0, BUFFERED MODE 1, SPEED 0
      8, // BLOCK DESCRIPTOR LENGTH
      0x58, // DENSITY CODE
      0, 0, 0, // NUMBER OF BLOCKS: the rest of the medium
      0, // reserved
      0, 0, 0, // BLOCK LENGTH: 0 = variable
    ]));
  });

  it('MODE SENSE(6) all pages: data compression (0x0f) and device configuration (0x10)', async () => {
    const t = tapeRig();
    const d = (await run(t, [0x1a, 0x08, 0x3f, 0, 255, 0])).data; // DBD
    expect(hex(d.subarray(0, 4))).toBe(hex([3 + 32, 0, 0x10, 0])); // no block descriptor
    expect(hex(d.subarray(4, 20))).toBe(hex([
      0x0f, 0x0e, // PAGE CODE, PAGE LENGTH
      0xc0, // DCE 1, DCC 1
      0x80, // DDE 1, RED 0
      0, 0, 0, 1, // COMPRESSION ALGORITHM
      0, 0, 0, 1, // DECOMPRESSION ALGORITHM
      0, 0, 0, 0, // reserved
    ]));
    expect(hex(d.subarray(20, 36))).toBe(hex([
      0x10, 0x0e, // PAGE CODE, PAGE LENGTH
      0x00, // CAF 0, ACTIVE FORMAT 0
      0x00, // ACTIVE PARTITION
      0x00, 0x00, // WRITE/READ OBJECT BUFFER FULL/EMPTY RATIO
      0x00, 0x00, // WRITE DELAY TIME
      0x40, // LOIS
      0x00, // GAP SIZE
      0x18, // EOD DEFINED 0, EEG, SEW
      0, 0, 0, // BUFFER SIZE AT EARLY WARNING
      0x01, // SELECT DATA COMPRESSION ALGORITHM
      0x00,
    ]));
  });

  it('MODE SENSE(10) header; changeable values; saved values → 5/39/00; unknown page → 5/24/00', async () => {
    const t = tapeRig();
    const d = (await run(t, [0x5a, 0, 0x0f, 0, 0, 0, 0, 0, 64, 0])).data;
    expect(hex(d.subarray(0, 8))).toBe(hex([
      0, 6 + 8 + 16, // MODE DATA LENGTH
      0x00, // MEDIUM TYPE
      0x10, // DEVICE-SPECIFIC PARAMETER
      0x00, 0x00, // LONGLBA 0, reserved
      0, 8, // BLOCK DESCRIPTOR LENGTH
    ]));
    const ch = (await run(t, [0x1a, 0x08, 0x4f, 0, 255, 0])).data; // PC 1: changeable
    expect(hex(ch.subarray(4, 8))).toBe(hex([0x0f, 0x0e, 0x80, 0x00])); // only DCE
    expect((await run(t, [0x1a, 0, 0xc0, 0, 12, 0])).sense).toEqual(sense(5, 0x39, 0));
    expect((await run(t, [0x1a, 0, 0x08, 0, 12, 0])).sense).toEqual(sense(5, 0x24, 0));
  });

  it('MODE SELECT: compression off; bad density, bad block length, short list, SP → errors', async () => {
    const t = tapeRig();
    const page0f = [0x0f, 0x0e, 0x00, 0x80, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
    expect((await run(t, [0x15, 0x10, 0, 0, 20, 0], { dataOut: Uint8Array.from([0, 0, 0x10, 0, ...page0f]) })).status).toBe(GOOD);
    expect(t.tape.dce).toBe(false);
    const bd = (density: number, len: number): Uint8Array => Uint8Array.from([0, 0, 0x10, 8, density, 0, 0, 0, 0, ...u24(len)]);
    expect((await run(t, [0x15, 0x10, 0, 0, 12, 0], { dataOut: bd(0x42, 0) })).sense).toEqual(sense(5, 0x26, 0));
    expect((await run(t, [0x15, 0x10, 0, 0, 3, 0], { dataOut: bd(0, 0).subarray(0, 3) })).sense).toEqual(sense(5, 0x1a, 0));
    expect((await run(t, [0x15, 0x11, 0, 0, 12, 0], { dataOut: bd(0, 0) })).sense).toEqual(sense(5, 0x24, 0));
    expect((await run(t, [0x15, 0x10, 0, 0, 12, 0], { dataOut: bd(0x58, 1024) })).status).toBe(GOOD);
    expect(t.tape.blockLength).toBe(1024);
    // MODE SELECT(10) with the same descriptor.
    const ten = Uint8Array.from([0, 0, 0, 0x10, 0, 0, 0, 8, 0x58, 0, 0, 0, 0, 0, 0, 0]);
    expect((await run(t, [0x55, 0x10, 0, 0, 0, 0, 0, 0, 16, 0], { dataOut: ten })).status).toBe(GOOD);
    expect(t.tape.blockLength).toBe(0);
  });
});

describe('the image format', () => {
  it('the worked example of docs/TAPE.md: two records, a filemark, one record, EOD', () => {
    const img = Uint8Array.from([
      0x03, 0x00, 0x00, 0x44, 0x61, 0x62, 0x63, // 'D' length 3: "abc"
      0x01, 0x00, 0x00, 0x44, 0x7a, // 'D' length 1: "z"
      0x00, 0x00, 0x00, 0x46, // 'F'
      0x02, 0x00, 0x00, 0x44, 0x68, 0x69, // 'D' length 2: "hi"
      0x00, 0x00, 0x00, 0x45, // 'E'
    ]);
    const t = tapeRig({ content: img });
    expect(t.tape.medium!.objects).toEqual([
      { kind: 'data', offset: 0, length: 3 },
      { kind: 'data', offset: 7, length: 1 },
      { kind: 'filemark', offset: 12, length: 0 },
      { kind: 'data', offset: 16, length: 2 },
    ]);
    expect(t.tape.medium!.end).toBe(22);
  });

  it("the worked example's reads, as docs/TAPE.md tells them", async () => {
    const t = tapeRig({ content: Uint8Array.from([3, 0, 0, 0x44, 0x61, 0x62, 0x63, 1, 0, 0, 0x44, 0x7a, 0, 0, 0, 0x46, 2, 0, 0, 0x44, 0x68, 0x69, 0, 0, 0, 0x45]) });
    const abc = await run(t, read6(512));
    expect([new TextDecoder().decode(abc.data), abc.sense]).toEqual(['abc', sense(NO_SENSE, 0, 0, { ili: true, info: 509 })]);
    expect((await run(t, read6(512))).sense).toEqual(sense(NO_SENSE, 0, 0, { ili: true, info: 511 }));
    expect((await run(t, read6(512))).sense).toEqual(sense(NO_SENSE, 0, 1, { fm: true, info: 512 }));
    expect(new TextDecoder().decode((await run(t, read6(512))).data)).toBe('hi');
    expect((await run(t, read6(512))).sense).toEqual(sense(BLANK_CHECK, 0, 5, { info: 512 }));
    expect((await run(t, readPos())).data[7]).toBe(4);
    await run(t, space(1, -1));
    expect((await run(t, readPos())).data[7]).toBe(2);
  });

  it('a torn last record, an unknown type or zero bytes end the data (no error)', () => {
    const torn = Uint8Array.from([0x01, 0, 0, 0x44, 0x41, 0x09, 0, 0, 0x44, 0x42]);
    expect(tapeRig({ content: torn }).tape.medium!.objects).toHaveLength(1);
    expect(tapeRig({ content: Uint8Array.from([0, 0, 0, 0x46, 1, 0, 0, 0x58, 0]) }).tape.medium!.objects).toHaveLength(1);
    expect(tapeRig({ content: new Uint8Array(4096) }).tape.medium!.objects).toHaveLength(0);
  });

  it('writing over a damaged tail replaces it', async () => {
    const t = tapeRig({ content: Uint8Array.from([0x01, 0, 0, 0x44, 0x41, 0xff, 0xff, 0xff, 0x44, 0x42]) });
    await run(t, space(3, 0));
    await run(t, write6(2), { dataOut: Uint8Array.of(7, 8) });
    expect(hex(t.image())).toBe(hex([0x01, 0, 0, 0x44, 0x41, 0x02, 0, 0, 0x44, 7, 8, 0, 0, 0, 0x45]));
  });
});

describe('command line and monitor', () => {
  it('-device scsi-tape parses, is listed in -device help, and has its own options', () => {
    expect(qdevPrintDevinfos()).toContain('name "scsi-tape", bus SCSI, desc "virtual SCSI tape drive"');
    const help = qdevDeviceHelp('scsi-tape');
    expect('stdout' in help && help.stdout).toContain('  capacity=<size>        - Cartridge capacity in bytes (default: 67108864)');
    const parsed = parseQemuArgs(['-device', 'virtio-scsi-pci,id=scsi0', '-drive', 'if=none,id=t0', '-device', 'scsi-tape,drive=t0,capacity=1M'], { probe: () => undefined });
    expect('spec' in parsed).toBe(true);
    const tree = 'spec' in parsed ? parsed.spec.tree : undefined;
    const d = tree?.devices.find((x) => x.kind === 'scsi');
    expect(d).toMatchObject({ driver: 'scsi-tape', drive: 't0', props: { capacity: 1 << 20, density: 0x58 } });
    const o = qemuOptsParse({ name: 'device', impliedOptName: 'driver', desc: [] }, 'scsi-tape', new Map());
    if (!o.ok) throw new Error(o.error.message);
    const noDrive = qdevDeviceAdd(tree!, o.opts);
    expect(noDrive.ok === false && noDrive.error.message).toBe('drive property not set');
  });

  it('the machine creates it; HMP eject empties the drive and change loads a cartridge (UA 28/00)', async () => {
    const r = makeMachine('-device virtio-scsi-pci,id=scsi0 -drive if=none,id=t0,file=/w/a.tap,format=raw -device scsi-tape,drive=t0,id=tape0', { '/w/a.tap': 0 });
    const tape = [...r.machine.scsi.keys()].find((d): d is ScsiTape => d instanceof ScsiTape)!;
    expect(tape).toBeDefined();
    expect(tape.cartridge).toBe('loaded');
    r.vol.writeFileSync('/w/b.tap', Uint8Array.from([...tapeHeader(TAPE_RECORD.DATA, 1), 0x5a]));
    const hba = new TestHba(r.machine.hbas.get('scsi0.0')!.bus);
    const t = { loop: r.loop, hba } as unknown as Rig;
    expect(r.mon.hmp('eject t0')).toEqual({ output: '', error: false });
    expect((await run(t, TUR)).sense).toEqual(sense(2, 0x3a, 0));
    expect(r.mon.hmp('change t0 /w/b.tap raw')).toEqual({ output: '', error: false });
    expect((await run(t, TUR)).sense).toEqual(sense(6, 0x28, 0));
    expect(hex((await run(t, read6(1))).data)).toBe('5a');
  });

  it('a cartridge the guest locked with PREVENT refuses a plain eject; eject -f takes it anyway', async () => {
    const r = makeMachine('-device virtio-scsi-pci,id=scsi0 -drive if=none,id=t0,file=/w/a.tap,format=raw -device scsi-tape,drive=t0,id=tape0', { '/w/a.tap': 0 });
    const tape = [...r.machine.scsi.keys()].find((d): d is ScsiTape => d instanceof ScsiTape)!;
    const hba = new TestHba(r.machine.hbas.get('scsi0.0')!.bus);
    const t = { loop: r.loop, hba } as unknown as Rig;
    expect((await run(t, [0x1e, 0, 0, 0, 1, 0])).status).toBe(GOOD); // PREVENT MEDIUM REMOVAL
    expect(r.mon.hmp('eject t0')).toEqual({
      output: "Error: Device 't0' is locked and force was not specified, wait for tray to open and try again\n",
      error: true,
    });
    expect(tape.cartridge).toBe('loaded');
    expect(r.mon.hmp('eject -f t0').error).toBe(false);
    expect(tape.cartridge).not.toBe('loaded');
    expect((await run(t, TUR)).sense).toEqual(sense(2, 0x3a, 0));
  });
});

describe('model: random records, filemarks, spaces and rewinds', () => {
  type Obj = Uint8Array | 'FM';
  type Op =
    | { op: 'write'; len: number; seed: number }
    | { op: 'wfm'; n: number }
    | { op: 'read'; len: number; sili: boolean }
    | { op: 'space'; code: 0 | 1; n: number }
    | { op: 'eod' }
    | { op: 'rewind' };
  // Lengths from a small set, so that reads often match a record exactly and often do not.
  const len = fc.constantFrom(1, 2, 3, 8, 16);
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), len, seed: fc.nat(255) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('wfm' as const), n: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 5, arbitrary: fc.record({ op: fc.constant('read' as const), len: fc.oneof(fc.constant(0), len), sili: fc.boolean() }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('space' as const), code: fc.constantFrom(0 as const, 1 as const), n: fc.integer({ min: -4, max: 4 }) }),
    },
    { weight: 1, arbitrary: fc.constant({ op: 'eod' as const }) },
    { weight: 2, arbitrary: fc.constant({ op: 'rewind' as const }) },
  );

  /** What the drive must answer, computed from the list model alone. */
  function expected(objs: Obj[], at: { pos: number }, o: Op): { status: number; sense: number[]; data?: Uint8Array; resid?: number } {
    const good = { status: GOOD, sense: [] as number[] };
    const cc = (s: number[]): { status: number; sense: number[] } => ({ status: CHECK_CONDITION, sense: s });
    switch (o.op) {
      case 'write':
        objs.length = at.pos;
        objs.push(bytes(o.len, o.seed));
        at.pos = objs.length;
        return good;
      case 'wfm':
        if (o.n === 0) return good;
        objs.length = at.pos;
        for (let i = 0; i < o.n; i++) objs.push('FM');
        at.pos = objs.length;
        return good;
      case 'rewind':
        at.pos = 0;
        return good;
      case 'eod':
        at.pos = objs.length;
        return good;
      case 'read': {
        if (o.len === 0) return { ...good, data: new Uint8Array(0), resid: 0 };
        const x = objs[at.pos];
        if (x === undefined) return { ...cc(sense(BLANK_CHECK, 0, 5, { info: o.len })), data: new Uint8Array(0), resid: o.len };
        at.pos++;
        if (x === 'FM') return { ...cc(sense(NO_SENSE, 0, 1, { fm: true, info: o.len })), data: new Uint8Array(0), resid: o.len };
        const data = x.subarray(0, Math.min(o.len, x.length));
        const resid = o.len - data.length;
        if (x.length === o.len || o.sili) return { ...good, data, resid };
        return { ...cc(sense(NO_SENSE, 0, 0, { ili: true, info: o.len - x.length })), data, resid };
      }
      case 'space': {
        const want = Math.abs(o.n);
        let done = 0;
        while (done < want) {
          if (o.n > 0) {
            const x = objs[at.pos];
            if (x === undefined) return cc(sense(BLANK_CHECK, 0, 5, { info: want - done }));
            at.pos++;
            if (x === 'FM') {
              if (o.code === 0) return cc(sense(NO_SENSE, 0, 1, { fm: true, info: want - done }));
              done++;
            } else if (o.code === 0) done++;
          } else {
            if (at.pos === 0) return cc(sense(NO_SENSE, 0, 4, { eom: true, info: want - done }));
            const x = objs[at.pos - 1]!;
            if (x === 'FM' && o.code === 0) {
              at.pos--;
              return cc(sense(NO_SENSE, 0, 1, { fm: true, info: want - done }));
            }
            at.pos--;
            if (o.code === 0 || x === 'FM') done++;
          }
        }
        return good;
      }
    }
  }

  function cdbOf(o: Op): { cdb: number[]; dataOut?: Uint8Array } {
    switch (o.op) {
      case 'write':
        return { cdb: write6(o.len), dataOut: bytes(o.len, o.seed) };
      case 'wfm':
        return { cdb: wfm(o.n) };
      case 'read':
        return { cdb: read6(o.len, o.sili ? 0x02 : 0) };
      case 'space':
        return { cdb: space(o.code, o.n) };
      case 'eod':
        return { cdb: space(3, 0) };
      case 'rewind':
        return { cdb: REWIND };
    }
  }

  it('every answer and the final image agree with the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 60, size: 'max' }), async (ops) => {
        const t = tapeRig();
        const objs: Obj[] = [];
        const at = { pos: 0 };
        for (const o of ops) {
          const want = expected(objs, at, o);
          const { cdb, dataOut } = cdbOf(o);
          const got = await run(t, cdb, dataOut ? { dataOut } : {});
          expect(got.status).toBe(want.status);
          expect(got.sense).toEqual(want.sense);
          if (want.data) expect(hex(got.data)).toBe(hex(want.data));
          if (want.resid !== undefined) expect(got.resid).toBe(want.resid);
          expect(t.tape.pos).toBe(at.pos);
        }
        // The file holds exactly the model: reopen it.
        const again = TapeImage.open(t.blk);
        if (typeof again === 'string') throw new Error(again);
        expect(again.objects.map((x) => (x.kind === 'filemark' ? 'FM' : x.length))).toEqual(objs.map((x) => (x === 'FM' ? 'FM' : x.length)));
        for (let i = 0; i < objs.length; i++) {
          const x = objs[i]!;
          if (x !== 'FM') expect(again.read(i)).toEqual(x);
        }
      }),
    );
  });
});
