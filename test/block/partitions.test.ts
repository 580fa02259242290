import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkPartition, crc32, formatPartitionLine } from '../../src/block/partitions.ts';
import type { SectorReader } from '../../src/block/partitions.ts';
import { procPartitions } from '../../src/block/genhd.ts';
import { SdDriver } from '../../src/highlevel/sd.ts';
import { O_RDONLY } from '../../src/kernel/syscalls.ts';
import { diskSetup } from '../fakes/fake_disk_lld.ts';

// ---- writers (test side): what fdisk/sgdisk would put on a disk ----------------------------------

interface Part {
  start: number;
  size: number;
}

function putLe32(b: Uint8Array, o: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setUint32(o, v >>> 0, true);
}
function putLe64(b: Uint8Array, o: number, v: number): void {
  new DataView(b.buffer, b.byteOffset).setBigUint64(o, BigInt(v), true);
}

/** One MBR/EBR partition entry at slot i of `sec`. */
function dosEntry(sec: Uint8Array, i: number, type: number, start: number, size: number): void {
  const o = 0x1be + 16 * i;
  sec[o + 4] = type; // system id
  putLe32(sec, o + 8, start); // LBA of first sector (relative)
  putLe32(sec, o + 12, size); // number of sectors
  sec[510] = 0x55; // boot signature
  sec[511] = 0xaa;
}

/** Primaries in slots 0..; with `logical`, slot `primaries.length` holds an extended partition chaining them. */
function writeMbr(disk: Uint8Array, primaries: Part[], ext?: { start: number; size: number; logical: Part[] }): void {
  const mbr = disk.subarray(0, 512);
  primaries.forEach((p, i) => dosEntry(mbr, i, 0x83, p.start, p.size));
  if (!ext) return;
  dosEntry(mbr, primaries.length, 0x05, ext.start, ext.size);
  // The first EBR is the extended partition's first sector; each later one sits just before its
  // logical partition. Entries are relative to their EBR, links relative to the extended start.
  const ebrOf = (i: number): number => (i === 0 ? ext.start : ext.logical[i]!.start - 1);
  ext.logical.forEach((p, i) => {
    const at = ebrOf(i);
    const ebr = disk.subarray(at * 512, at * 512 + 512);
    dosEntry(ebr, 0, 0x83, p.start - at, p.size);
    const next = ext.logical[i + 1];
    if (next) dosEntry(ebr, 1, 0x05, ebrOf(i + 1) - ext.start, next.size + 1);
  });
}

function writeGpt(disk: Uint8Array, parts: Part[], sectors: number): void {
  const mbr = disk.subarray(0, 512);
  dosEntry(mbr, 0, 0xee, 1, Math.min(sectors - 1, 0xffffffff)); // protective MBR
  const entries = new Uint8Array(128 * 128);
  parts.forEach((p, i) => {
    const e = entries.subarray(i * 128);
    e.fill(0x11, 0, 16); // partition type GUID (non-zero)
    e.fill(0x22 + i, 16, 32); // unique GUID
    putLe64(e, 32, p.start); // first LBA
    putLe64(e, 40, p.start + p.size - 1); // last LBA (inclusive)
  });
  const header = (my: number, alt: number, entriesLba: number): Uint8Array => {
    const h = new Uint8Array(512);
    h.set(new TextEncoder().encode('EFI PART'), 0); // signature
    putLe32(h, 8, 0x00010000); // revision 1.0
    putLe32(h, 12, 92); // header size
    putLe64(h, 24, my); // my LBA
    putLe64(h, 32, alt); // alternate LBA
    putLe64(h, 40, 34); // first usable
    putLe64(h, 48, sectors - 34); // last usable
    putLe64(h, 72, entriesLba); // partition entries LBA
    putLe32(h, 80, 128); // number of entries
    putLe32(h, 84, 128); // entry size
    putLe32(h, 88, crc32(entries)); // entries CRC
    putLe32(h, 16, crc32(h.subarray(0, 92))); // header CRC (computed with the field zero)
    return h;
  };
  disk.set(header(1, sectors - 1, 2), 512);
  disk.set(entries, 2 * 512);
  disk.set(entries, (sectors - 33) * 512);
  disk.set(header(sectors - 1, 1, sectors - 33), (sectors - 1) * 512);
}

const reader = (disk: Uint8Array): SectorReader => async (s) => (s * 512 < disk.length ? disk.slice(s * 512, s * 512 + 512) : null);

// ---- properties -----------------------------------------------------------------------------------

const SECTORS = 8192;

/** Non-overlapping ranges inside [lo, hi) with gaps of at least `gap` sectors before each. */
const layout = (n: number, lo: number, hi: number, gap: number): fc.Arbitrary<Part[]> =>
  fc.array(fc.tuple(fc.integer({ min: gap, max: 64 }), fc.integer({ min: 1, max: 256 })), { minLength: 1, maxLength: n }).map((xs) => {
    const out: Part[] = [];
    let at = lo;
    for (const [g, size] of xs) {
      const start = at + g;
      if (start + size > hi) break;
      out.push({ start, size });
      at = start + size;
    }
    return out;
  });

describe('partition parsers', () => {
  it('parses back random MBR tables with primary and logical partitions', async () => {
    await fc.assert(
      fc.asyncProperty(layout(3, 1, 2048, 1), layout(6, 2049, SECTORS, 2), async (primaries, logical) => {
        fc.pre(primaries.length > 0);
        const disk = new Uint8Array(SECTORS * 512);
        const ext = logical.length > 0 ? { start: 2048, size: SECTORS - 2048, logical } : undefined;
        writeMbr(disk, primaries, ext);
        const r = await checkPartition(reader(disk), { capacity: SECTORS, logicalBlockSize: 512, limit: 255 });
        expect(r.parser).toBe('msdos');
        const want = primaries.map((p, i) => ({ partno: i + 1, ...p }));
        if (ext) {
          want.push({ partno: primaries.length + 1, start: 2048, size: 2, extended: true } as never);
          logical.forEach((p, i) => want.push({ partno: 5 + i, ...p }));
        }
        expect(r.parts).toEqual(want);
        const extNo = primaries.length + 1;
        expect(r.tokens).toEqual([...primaries.map((_, i) => i + 1), ...(ext ? [extNo, '<', ...logical.map((_, i) => 5 + i), '>'] : [])]);
      }),
    );
  });

  it('parses back random GPT tables', async () => {
    await fc.assert(
      fc.asyncProperty(layout(20, 34, SECTORS - 34, 0), async (parts) => {
        fc.pre(parts.length > 0);
        const disk = new Uint8Array(SECTORS * 512);
        writeGpt(disk, parts, SECTORS);
        const r = await checkPartition(reader(disk), { capacity: SECTORS, logicalBlockSize: 512, limit: 255 });
        expect(r.parser).toBe('efi');
        expect(r.parts).toEqual(parts.map((p, i) => ({ partno: i + 1, ...p })));
      }),
    );
  });

  it('falls back to the alternate GPT header when the primary is corrupt', async () => {
    const disk = new Uint8Array(SECTORS * 512);
    writeGpt(disk, [{ start: 100, size: 50 }], SECTORS);
    disk[512 + 30] = 0xff; // break the primary header's CRC
    const r = await checkPartition(reader(disk), { capacity: SECTORS, logicalBlockSize: 512, limit: 255 });
    expect(r.parts).toEqual([{ partno: 1, start: 100, size: 50 }]);
  });

  it('finds nothing on a blank disk and reports unreadable ones', async () => {
    const blank = await checkPartition(reader(new Uint8Array(SECTORS * 512)), { capacity: SECTORS, logicalBlockSize: 512, limit: 255 });
    expect(blank).toEqual({ parser: null, parts: [], tokens: [], ioError: false });
    const bad = await checkPartition(async () => null, { capacity: SECTORS, logicalBlockSize: 512, limit: 255 });
    expect(bad.ioError).toBe(true);
  });

  it('formats the partition line with the logical partitions bracketed', () => {
    expect(formatPartitionLine('sda', [1, 2, '<', 5, 6, '>'])).toBe(' sda: sda1 sda2 < sda5 sda6 >');
    expect(formatPartitionLine('nvme0n1', [1])).toBe(' nvme0n1: nvme0n1p1');
  });
});

describe('partitions of an sd disk', () => {
  it('prints the line, creates sdaN devices and lists them in /proc/partitions', async () => {
    const image = new Uint8Array(4 * 1024 * 1024);
    writeMbr(image, [{ start: 2048, size: 2048 }], { start: 4096, size: 4096, logical: [{ start: 4097, size: 1000 }, { start: 6000, size: 2000 }] });
    const m = diskSetup([{ id: 0, lun: 0, kind: 'hd', image }]);
    await m.run(m.scan());
    m.k.log.length = 0;
    SdDriver.register(m.mod);
    await m.settle();
    expect(m.k.log.slice(-2)).toEqual([' sda: sda1 sda2 < sda5 sda6 >', 'sd 0:0:0:0: [sda] Attached SCSI disk']);
    expect(procPartitions(m.k)).toBe(
      'major minor  #blocks  name\n\n' +
        '   8        0       4096 sda\n' +
        '   8        1       1024 sda1\n' +
        '   8        2          1 sda2\n' +
        '   8        5        500 sda5\n' +
        '   8        6       1000 sda6\n',
    );
    const read = async (p: string): Promise<string> => {
      const fd = await m.sys.open(p, O_RDONLY);
      const t = new TextDecoder().decode(await m.sys.read(fd, 4096));
      await m.sys.close(fd);
      return t;
    };
    const dir = '/sys/block/sda/sda5';
    expect(await read(`${dir}/partition`)).toBe('5\n');
    expect(await read(`${dir}/start`)).toBe('4097\n');
    expect(await read(`${dir}/size`)).toBe('1000\n');
    expect(await read(`${dir}/dev`)).toBe('8:5\n');
    expect(await read(`${dir}/uevent`)).toBe('MAJOR=8\nMINOR=5\nDEVNAME=sda5\nDEVTYPE=partition\nPARTN=5\n');
    // A partition's file starts at its first sector.
    image.fill(0xab, 4097 * 512, 4097 * 512 + 512);
    const fd = await m.run(m.sys.open('/dev/sda5', O_RDONLY));
    const first = await m.run(m.sys.read(fd, 512, 0));
    expect(first.every((b) => b === 0xab)).toBe(true);
  });
});
