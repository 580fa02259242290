// libblkid probing and the util-linux `blkid` command: the golden CD's tags and udev properties,
// output formats, exit codes, empty and partitioned disks, and a round trip of generated ISOs.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import '../seed.ts';
import {
  BLKID_FLAGS_CACHE,
  BLKID_FLAGS_LOWPROBE,
  blkidEncodeString,
  blkidProbe,
  blkidSafeString,
  udevBlkidProperties,
} from '../../src/shell/libblkid.ts';
import type { BlkidReader } from '../../src/shell/libblkid.ts';
import { buildIso } from '../fakes/iso_image.ts';
import { isoGuest } from '../fakes/iso_guest.ts';

const CD = new Uint8Array(readFileSync(new URL('../fixtures/seed_disk_and_cd_same_bus.cd.iso', import.meta.url)));
const ZERO_DISK = new Uint8Array(64 << 20); // the golden's 64 MiB zero-filled disk.img

// Golden seed_disk_and_cd_same_bus, snapshots.boot.commands['sr0.udev_info']: the ID_FS_* lines, in order.
const GOLDEN_SR0_ID_FS = [
  'ID_FS_DATA_PREPARER_ID=XORRISO-1.5.4\\x202021.01.30.150001\\x2c\\x20LIBISOBURN-1.5.4\\x2c\\x20LIBISOFS-1.5.4\\x2c\\x20LIBBURN-1.5.4',
  'ID_FS_UUID=2023-11-14-22-13-20-00',
  'ID_FS_UUID_ENC=2023-11-14-22-13-20-00',
  'ID_FS_VERSION=Joliet Extension',
  'ID_FS_LABEL=ORACLECD',
  'ID_FS_LABEL_ENC=ORACLECD',
  'ID_FS_TYPE=iso9660',
  'ID_FS_USAGE=filesystem',
];

const reader = (img: Uint8Array): BlkidReader => async (off, len) => img.slice(off, off + len);

const PREPARER = 'XORRISO-1.5.4 2021.01.30.150001, LIBISOBURN-1.5.4, LIBISOFS-1.5.4, LIBBURN-1.5.4';

describe('libblkid on the golden CD', () => {
  it('exports exactly the udev properties the captured udev did', async () => {
    const r = await blkidProbe(reader(CD), { size: CD.length, flags: BLKID_FLAGS_LOWPROBE, cdrom: true, sectorSize: 2048 });
    expect(udevBlkidProperties(r.values).map(([k, v]) => `${k}=${v}`)).toEqual(GOLDEN_SR0_ID_FS);
  });

  it('sets values in libblkid order, BLOCK_SIZE first and TYPE/USAGE last', async () => {
    const r = await blkidProbe(reader(CD), { size: CD.length, flags: BLKID_FLAGS_LOWPROBE, cdrom: true });
    expect(r.values.map((v) => v.name)).toEqual(['BLOCK_SIZE', 'DATA_PREPARER_ID', 'UUID', 'VERSION', 'LABEL', 'TYPE', 'USAGE']);
    // The cache flags drop VERSION and USAGE.
    const c = await blkidProbe(reader(CD), { size: CD.length, flags: BLKID_FLAGS_CACHE, cdrom: true });
    expect(c.values.map((v) => v.name)).toEqual(['BLOCK_SIZE', 'DATA_PREPARER_ID', 'UUID', 'LABEL', 'TYPE']);
  });

  it('reads the volume descriptors at 32 KiB and nothing from the end of a CD', async () => {
    const r = await blkidProbe(reader(CD), { size: CD.length, flags: BLKID_FLAGS_LOWPROBE, cdrom: true });
    const offsets = r.reads.map((x) => x.offset);
    // iso9660.c: magic + PVD at 32 KiB, Joliet SVD, terminator — covered by libblkid's buffers.
    for (const want of [0x8000, 0x8800, 0x9000]) expect(r.reads.some((x) => x.offset <= want && want < x.offset + x.length)).toBe(true);
    // superblocks.c: RAID probers are skipped on tiny (<= 1440 KiB) devices, so nothing near the end is read.
    expect(offsets.every((o) => o < CD.length - 0x10000)).toBe(true);
  });
});

// The golden CD (368 KiB ISO9660 + Joliet) as udev's builtin probes it. The udev:trigger READ(10)s on
// the CD in seed_disk_and_cd_same_bus.json (lun 1) and seed_two_buses.json (target 1) are, in 2048-byte
// LBAs, 0 6 2 8 16 32 64 128 14 30 4 18 20: one 4 KiB page each, pages 0 3 1 4 8 16 32 64 7 15 2 9 10.
// Every step below follows from util-linux 2.38.1 / systemd v252 sources, not from the trace.
describe('libblkid read order on the golden CD (util-linux 2.38.1, udev v252)', () => {
  const page = (off: number): number => Math.floor(off / 4096);
  const firstTouch = (reads: readonly { offset: number; length: number }[]): number[] => {
    const seen: number[] = [];
    for (const r of reads) for (let p = page(r.offset); p <= page(r.offset + r.length - 1); p++) if (!seen.includes(p)) seen.push(p);
    return seen;
  };
  const udevOpts = { size: CD.length, flags: BLKID_FLAGS_LOWPROBE, cdrom: true, sectorSize: 2048, noraid: true, lowprobe: true };

  it('touches pages 0 3 1 4 8 16 32 64 7 15 2 9 10', async () => {
    const r = await blkidProbe(reader(CD), udevOpts);
    expect(firstTouch(r.reads)).toEqual([
      // probe_superblocks (udev-builtin-blkid.c) / lowprobe_superblocks (blkid.c): a whole disk of at
      // most 1440 KiB is first probed for a partition table alone (partitions.c idinfos[]):
      0, // aix, sgi, sun, dos, gpt, pmbr, mac: the first KiB
      3, // ultrix.c: no magic; reads sector (16384 - 72) >> 9 = 31 (unixware, minsz 1440 KiB + 1, is skipped)
      // No table: superblocks_safeprobe. probe.c: a tiny device never gets BLKID_FL_CDROM_DEV, so only
      // the RAID probers are left out (tiny), and the "other" ones run as on a floppy:
      1, // bcache.c: magic at 4 KiB (before it ceph_bluestore, drbdmanage, drbdproxy: KiB 0)
      4, 8, 16, 32, 64, // luks.c: LUKS2 secondary headers at 16 K .. 256 K (512 K is past the end)
      7, 15, // swsuspend/swap: the page-size signatures at 32 K and 64 K - 10 (3 K and 15 K: pages 0 and 3)
      2, // reiserfs.c: magic at 8 KiB (and 64 KiB)
      9, 10, // udf.c: CD001 is one of its magics; VRS walk of 2048 then of 4096 bytes from 32 KiB
      // iso9660 is the first match: on a tiny device superblocks_safeprobe stops there.
    ]);
    expect(udevBlkidProperties(r.values).map(([k, v]) => `${k}=${v}`)).toEqual(GOLDEN_SR0_ID_FS);
  });

  it('walks the UDF volume recognition sequence until a descriptor a VRS cannot hold', async () => {
    const r = await blkidProbe(reader(CD), udevOpts);
    const udf = r.reads.filter((x) => x.length === 7).map((x) => x.offset);
    // 2048 steps: sectors 16 (PVD), 17 (Joliet SVD), 18 (terminator): all CD001; 19 has an empty id.
    // Sectors 16 and 17 lie in the 4 KiB buffer luks.c read at 32 KiB, so 18 and 19 are new reads.
    // Then the 4096-byte step (block size 4096): 32 K and 36 K are buffered, 40 K holds no VRS id.
    expect(udf).toEqual([0x9000, 0x9800, 0xa000]);
    // Without an NSR02/NSR03 no anchor (block 256 or 512) is read.
    expect(r.reads.some((x) => x.length === 440)).toBe(false);
  });

  it('only gives a CD-ROM the CD-ROM treatment above 1440 KiB: end sectors tested, swap and RAID skipped', async () => {
    const big = new Uint8Array(4 << 20);
    big.set(CD);
    const r = await blkidProbe(reader(big), { ...udevOpts, size: big.length });
    // probe.c cdrom_size_correction: the last 12 512-byte sectors, by read(2), before any prober.
    expect(r.reads.slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, i) => ({ offset: big.length - (12 - i) * 512, length: 512 })));
    expect(r.values.find((v) => v.name === 'TYPE')?.value).toBe('iso9660');
    const pages = firstTouch(r.reads.slice(12));
    expect(pages).not.toContain(7); // swsuspend/swap ("other") skipped
    expect(pages).not.toContain(15);
    // Not tiny: no partitions-first pass, and every later filesystem prober runs too (ambivalence check).
    expect(pages[0]).toBe(0);
    expect(pages).toContain(page(0x40000)); // ufs at 256 KiB, after iso9660
    // The same small image on a partition (not a whole disk) gets no CD-ROM flag either.
    const part = await blkidProbe(reader(big), { ...udevOpts, size: big.length, wholedisk: false });
    expect(part.reads[0]).not.toEqual({ offset: big.length - 12 * 512, length: 512 });
  });

  it('answers with the partition table alone on a small partitioned disk', async () => {
    const disk = new Uint8Array(1 << 20);
    disk.set([0x78, 0x56, 0x34, 0x12], 440);
    disk.set([0x00, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x08, 0, 0], 446);
    disk.set([0x55, 0xaa], 510);
    disk.set([0x01, ...new TextEncoder().encode('CD001')], 0x8000); // would be probed as a filesystem
    const r = await blkidProbe(reader(disk), { size: disk.length, flags: BLKID_FLAGS_LOWPROBE, lowprobe: true });
    expect(r.values.map((v) => v.name)).toEqual(['PTUUID', 'PTTYPE']);
    expect(r.reads.map((x) => x.offset)).toEqual([0]);
  });
});

// util-linux 2.38.1 libblkid on the golden's 64 MiB zero disk: which 4 KiB pages its reads touch,
// in first-touch order. Each value follows from the source (superblocks.c idinfos[] order; each
// prober's reads): the udev:trigger READ(10)s of seed_single_disk.json are these pages, 8 sectors each.
describe('libblkid read order on an empty whole disk (util-linux 2.38.1)', () => {
  const S = 64 << 20;
  const page = (off: number): number => Math.floor(off / 4096);
  const firstTouch = (reads: readonly { offset: number; length: number }[]): number[] => {
    const seen: number[] = [];
    for (const r of reads) for (let p = page(r.offset); p <= page(r.offset + r.length - 1); p++) if (!seen.includes(p)) seen.push(p);
    return seen;
  };

  it('starts with the RAID probers: md 0.90/1.0/1.1/1.2, ddf, promise', async () => {
    const r = await blkidProbe(reader(ZERO_DISK), { size: S, flags: BLKID_FLAGS_LOWPROBE });
    const pages = firstTouch(r.reads);
    const sectorPage = (sectorsFromEnd: number): number => page((S / 512 - sectorsFromEnd) * 512);
    expect(pages.slice(0, 17)).toEqual([
      page(S - 0x10000), // linux_raid.c: v0.90 at (size & ~(64K-1)) - 64K
      page(S - 0x2000), // v1.0 at (size & ~4095) - 8K
      0, // v1.1 at 0
      1, // v1.2 at 4 KiB
      sectorPage(1), // ddf_raid.c: anchor in the last sector…
      sectorPage(257), // …and 257 sectors from the end
      // promise_raid.c sectors[] = 63, 255, 256, 16, 399, 591, 675, 735, 911, 974, 991, 951, 3087 (new pages only)
      ...[63, 255, 399, 591, 675, 735, 911, 974, 991, 951, 3087].map(sectorPage),
    ]);
  });

  it('then LUKS2 secondary headers, swap signatures, the xfs log and the ZFS labels', async () => {
    const r = await blkidProbe(reader(ZERO_DISK), { size: S, flags: BLKID_FLAGS_LOWPROBE });
    const pages = firstTouch(r.reads).slice(17);
    // luks.c LUKS2_HDR2_OFFSETS: 16 KiB … 4 MiB
    expect(pages.slice(0, 9)).toEqual([0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000].map(page));
    // swap.c magics at sboff 0x3ff6, 0x7ff6, 0xfff6 (1 KiB buffers at 15, 31, 63 KiB; 0xff6/0x1ff6 are in pages 0–1)
    expect(pages.slice(9, 12)).toEqual([3, 7, 15]);
    // xfs.c probe_xfs_log reads [0, 256 KiB): the pages still missing, in order
    const xfsLog = Array.from({ length: 64 }, (_, i) => i).filter((p) => ![0, 1, 3, 4, 7, 8, 15, 16, 32].includes(p));
    expect(pages.slice(12, 12 + xfsLog.length)).toEqual(xfsLog);
    // zfs.c (minsz 64 MiB): labels at 256 KiB, size - 512 KiB, size - 256 KiB, 256 KiB each
    const reads = r.reads.filter((x) => x.length === 256 * 1024).map((x) => x.offset);
    expect(reads).toEqual([0, 0x40000, S - 0x80000, S - 0x40000]);
  });

  it('skips ZFS below 64 MiB and the RAID probers when asked to (udev --noraid)', async () => {
    const small = 32 << 20;
    const r = await blkidProbe(reader(ZERO_DISK), { size: small, flags: BLKID_FLAGS_LOWPROBE, noraid: true });
    // No md 0.90 / promise reads; the only read near the end is nilfs2's backup superblock (8 sectors from the end).
    expect(r.reads.filter((x) => x.offset >= small - 0x10000).map((x) => x.offset)).toEqual([small - 8 * 512]);
    expect(r.reads.filter((x) => x.length === 256 * 1024).map((x) => x.offset)).toEqual([0]); // only xfs_log
  });
});

describe('libblkid on empty and partitioned disks', () => {
  it('finds nothing on a zero-filled disk, after reading both of its ends', async () => {
    const r = await blkidProbe(reader(ZERO_DISK), { size: ZERO_DISK.length, flags: BLKID_FLAGS_LOWPROBE });
    expect(r.values).toEqual([]);
    const offsets = r.reads.map((x) => x.offset);
    // md 0.90 (64 KiB before the end) and 1.0 (8 KiB before the end), sectors 130944 and 131056 in the golden trace.
    expect(offsets.slice(0, 2)).toEqual([130944 * 512, 131056 * 512]);
    expect(offsets).toContain(0);
    expect(offsets).toContain(0x8000);
  });

  it('reports a dos partition table with its disk id', async () => {
    const disk = new Uint8Array(1 << 20);
    disk.set([0x78, 0x56, 0x34, 0x12], 440); // disk identifier 0x12345678, little-endian
    disk.set([0x00, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x08, 0, 0], 446); // one Linux partition
    disk.set([0x55, 0xaa], 510);
    const r = await blkidProbe(reader(disk), { size: disk.length, flags: BLKID_FLAGS_LOWPROBE });
    expect(r.values).toEqual([
      { name: 'PTUUID', value: '12345678' },
      { name: 'PTTYPE', value: 'dos' },
    ]);
    expect(udevBlkidProperties(r.values)).toEqual([
      ['ID_PART_TABLE_UUID', '12345678'],
      ['ID_PART_TABLE_TYPE', 'dos'],
    ]);
  });

  it('reports a GPT by its disk GUID, from the backup header when the primary is damaged', async () => {
    const disk = gptDisk(1 << 20);
    const r = await blkidProbe(reader(disk), { size: disk.length, flags: BLKID_FLAGS_LOWPROBE });
    expect(r.values).toEqual([
      { name: 'PTUUID', value: '00112233-4455-6677-8899-aabbccddeeff' },
      { name: 'PTTYPE', value: 'gpt' },
    ]);
    disk[512 + 60] = disk[512 + 60]! ^ 0xff; // breaks the primary header's CRC
    const b = await blkidProbe(reader(disk), { size: disk.length, flags: BLKID_FLAGS_LOWPROBE });
    expect(b.values.find((v) => v.name === 'PTTYPE')?.value).toBe('gpt');
    expect(b.reads.map((x) => x.offset)).toContain(disk.length - 512);
  });
});

describe('blkid command', () => {
  it('prints the cache tags of the CD and exits 0', async () => {
    const g = isoGuest({ sr0: CD, sda: ZERO_DISK });
    const line = '/dev/sr0: BLOCK_SIZE="2048" UUID="2023-11-14-22-13-20-00" LABEL="ORACLECD" TYPE="iso9660"\n';
    expect(await g.run('blkid /dev/sr0')).toEqual({ stdout: line, stderr: '', rc: 0 });
    // Without arguments: every /proc/partitions device; the empty sda prints nothing.
    expect(await g.run('/sbin/blkid')).toEqual({ stdout: line, stderr: '', rc: 0 });
  });

  it('exits 2 with no output when nothing is found or the device does not exist', async () => {
    const g = isoGuest({ sr0: CD, sda: ZERO_DISK });
    expect(await g.run('blkid /dev/sda')).toEqual({ stdout: '', stderr: '', rc: 2 });
    expect(await g.run('blkid /dev/nosuch')).toEqual({ stdout: '', stderr: '', rc: 2 });
    expect(await g.run('blkid -p /dev/sda')).toEqual({ stdout: '', stderr: '', rc: 2 });
  });

  it('prints values, export lists and low-level probes', async () => {
    const g = isoGuest({ sr0: CD });
    expect((await g.run('blkid -o value -s LABEL /dev/sr0')).stdout).toBe('ORACLECD\n');
    expect((await g.run('blkid -o value -s TYPE -s UUID /dev/sr0')).stdout).toBe('2023-11-14-22-13-20-00\niso9660\n');
    expect((await g.run('blkid -o export /dev/sr0')).stdout).toBe(
      'DEVNAME=/dev/sr0\nBLOCK_SIZE=2048\nUUID=2023-11-14-22-13-20-00\nLABEL=ORACLECD\nTYPE=iso9660\n',
    );
    expect((await g.run('blkid -p /dev/sr0')).stdout).toBe(
      `/dev/sr0: BLOCK_SIZE="2048" DATA_PREPARER_ID="${PREPARER}" UUID="2023-11-14-22-13-20-00" VERSION="Joliet Extension" LABEL="ORACLECD" TYPE="iso9660" USAGE="filesystem"\n`,
    );
    expect((await g.run('blkid -p -o udev /dev/sr0')).stdout).toBe(
      'ID_FS_BLOCK_SIZE=2048\n' +
        'ID_FS_DATA_PREPARER_ID=XORRISO-1.5.4\\x202021.01.30.150001\\x2c\\x20LIBISOBURN-1.5.4\\x2c\\x20LIBISOFS-1.5.4\\x2c\\x20LIBBURN-1.5.4\n' +
        'ID_FS_UUID=2023-11-14-22-13-20-00\nID_FS_UUID_ENC=2023-11-14-22-13-20-00\nID_FS_VERSION=Joliet\\x20Extension\n' +
        'ID_FS_LABEL=ORACLECD\nID_FS_LABEL_ENC=ORACLECD\nID_FS_TYPE=iso9660\nID_FS_USAGE=filesystem\n',
    );
  });

  it('finds devices by label and uuid, and filters with -t', async () => {
    const g = isoGuest({ sr0: CD, sda: ZERO_DISK });
    expect(await g.run('blkid -L ORACLECD')).toEqual({ stdout: '/dev/sr0\n', stderr: '', rc: 0 });
    expect((await g.run('blkid -U 2023-11-14-22-13-20-00')).stdout).toBe('/dev/sr0\n');
    expect((await g.run('blkid -L NOPE')).rc).toBe(2);
    expect((await g.run('blkid -t TYPE=iso9660 -o device')).stdout).toBe('/dev/sr0\n');
    expect((await g.run('blkid -t TYPE=ext4')).rc).toBe(2);
  });

  it('refuses bad options and formats as util-linux does', async () => {
    const g = isoGuest({ sr0: CD });
    expect(await g.run('blkid -o bogus /dev/sr0')).toEqual({ stdout: '', stderr: 'blkid: unsupported output format bogus\n', rc: 4 });
    expect(await g.run('blkid -Q')).toEqual({ stdout: '', stderr: "blkid: invalid option -- 'Q'\nTry 'blkid --help' for more information.\n", rc: 1 });
    expect((await g.run('blkid -V')).stdout).toBe('blkid from util-linux 2.38.1  (libblkid 2.38.1, 04-Aug-2022)\n');
  });

  it('skips a drive without medium', async () => {
    const g = isoGuest({ sr0: null });
    expect(await g.run('blkid /dev/sr0')).toEqual({ stdout: '', stderr: '', rc: 2 });
    expect(await g.run('blkid -p /dev/sr0')).toEqual({ stdout: '', stderr: 'blkid: error: /dev/sr0: No medium found\n', rc: 2 });
  });
});

describe('libblkid string encoders', () => {
  it('encodes like blkid_encode_string and blkid_safe_string', () => {
    expect(blkidEncodeString('My Disk, v1\\x')).toBe('My\\x20Disk\\x2c\\x20v1\\x5cx');
    expect(blkidEncodeString('étiquette')).toBe('étiquette');
    expect(blkidSafeString('  My   Disk\t ')).toBe('My_Disk');
    expect(blkidSafeString('a\tb')).toBe('a_b');
    // Control bytes count as one-byte UTF-8 sequences and are kept, as in encode.c.
    expect(blkidSafeString('a\x01b')).toBe('a\x01b');
  });
});

describe('iso9660 round trip through libblkid', () => {
  const digits = (n: number, min: number, max: number): fc.Arbitrary<string> => fc.integer({ min, max }).map((v) => String(v).padStart(n, '0'));
  const dateArb = fc.tuple(digits(4, 1970, 2099), digits(2, 1, 12), digits(2, 1, 28), digits(2, 0, 23), digits(2, 0, 59), digits(2, 0, 59), digits(2, 0, 99)).map((p) => p.join(''));
  const volIdArb = fc.stringMatching(/^[A-Z0-9_]{1,32}$/);

  it('gives back the volume id as LABEL and the modification date as UUID', async () => {
    await fc.assert(
      fc.asyncProperty(volIdArb, dateArb, dateArb, fc.boolean(), async (volumeId, created, modified, joliet) => {
        const iso = buildIso({ volumeId, created, modified, mtime: 1_700_000_000, joliet, entries: [] });
        const r = await blkidProbe(reader(iso), { size: iso.length, flags: BLKID_FLAGS_LOWPROBE, cdrom: true });
        const get = (n: string): string | undefined => r.values.find((v) => v.name === n)?.value;
        expect(get('LABEL')).toBe(volumeId);
        const m = modified;
        expect(get('UUID')).toBe(`${m.slice(0, 4)}-${m.slice(4, 6)}-${m.slice(6, 8)}-${m.slice(8, 10)}-${m.slice(10, 12)}-${m.slice(12, 14)}-${m.slice(14, 16)}`);
        expect(get('VERSION')).toBe(joliet ? 'Joliet Extension' : undefined);
        expect(get('TYPE')).toBe('iso9660');
      }),
    );
  });

  it('falls back to the creation date when the modification date is unset', async () => {
    const iso = buildIso({ volumeId: 'X', created: '2001020304050607', modified: '0000000000000000', mtime: 0, entries: [] });
    const r = await blkidProbe(reader(iso), { size: iso.length, flags: BLKID_FLAGS_CACHE, cdrom: true });
    expect(r.values.find((v) => v.name === 'UUID')?.value).toBe('2001-02-03-04-05-06-07');
  });
});

// ---- a GPT disk for the partition-table tests -------------------------------------------------

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function gptDisk(size: number): Uint8Array {
  const disk = new Uint8Array(size);
  const lastLba = size / 512 - 1;
  disk.set([0x00, 0, 2, 0, 0xee, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff], 446); // protective MBR entry
  disk.set([0x55, 0xaa], 510);
  const guid = [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
  const header = (myLba: number, altLba: number, entriesLba: number): Uint8Array => {
    const h = new Uint8Array(512);
    const dv = new DataView(h.buffer);
    h.set([...'EFI PART'].map((c) => c.charCodeAt(0)), 0); // signature
    dv.setUint32(8, 0x00010000, true); // revision 1.0
    dv.setUint32(12, 92, true); // header size
    dv.setUint32(24, myLba, true); // this header's LBA
    dv.setUint32(32, altLba, true); // the other header's LBA
    dv.setUint32(40, 34, true); // first usable LBA
    dv.setUint32(48, lastLba - 33, true); // last usable LBA
    h.set(guid, 56); // disk GUID (mixed endian)
    dv.setUint32(72, entriesLba, true); // partition entries LBA
    dv.setUint32(80, 128, true); // number of entries
    dv.setUint32(84, 128, true); // entry size
    dv.setUint32(88, crc32(new Uint8Array(128 * 128)), true); // entries CRC (all empty)
    dv.setUint32(16, crc32(h.subarray(0, 92)), true); // header CRC, computed with this field zero
    return h;
  };
  disk.set(header(1, lastLba, 2), 512);
  disk.set(header(lastLba, 1, lastLba - 32), lastLba * 512);
  return disk;
}
