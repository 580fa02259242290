import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { setup } from './harness.ts';
import type { FakeKernel } from '../fakes/fake_kernel.ts';
import { smartUlltoa5 } from '../../src/shell/fdisk.ts';
import { canonicalDump } from '../../src/shell/hexdump.ts';

const MiB = 1024 * 1024;

// Golden snapshots.boot.commands.<dev>.blockdev (every golden runs the same loop).
const BLOCKDEV_LOOP = (dev: string): string => `for o in --getsize64 --getss --getbsz --getro --getra; do echo "$o $(blockdev $o ${dev} 2>&1)"; done`;
const GOLDEN_SDA_64M = '--getsize64 67108864\n--getss 512\n--getbsz 4096\n--getro 0\n--getra 256\n'; // seed_single_disk sda
const GOLDEN_SR0 = '--getsize64 376832\n--getss 2048\n--getbsz 4096\n--getro 1\n--getra 256\n'; // seed_disk_and_cd_same_bus sr0
const GOLDEN_SCSI_DEBUG = '--getsize64 16777216\n--getss 512\n--getbsz 4096\n--getro 0\n--getra 2048\n'; // scsi_debug sda

/** A DOS partition entry at slot `n` of `mbr`, CHS from a 64-head, 32-sector geometry. */
function dosEntry(mbr: Uint8Array, n: number, type: number, start: number, size: number, boot = 0): void {
  const chs = (lba: number): [number, number, number] => {
    const c = Math.floor(lba / (64 * 32));
    const h = Math.floor((lba % (64 * 32)) / 32);
    const s = (lba % 32) + 1;
    return [c, h, s];
  };
  const e = 0x1be + 16 * n;
  const [c0, h0, s0] = chs(start);
  const [c1, h1, s1] = chs(start + size - 1);
  mbr[e] = boot; // boot indicator
  mbr[e + 1] = h0; // start head
  mbr[e + 2] = s0 | ((c0 >> 2) & 0xc0); // start sector + cylinder high bits
  mbr[e + 3] = c0 & 0xff; // start cylinder
  mbr[e + 4] = type; // system id
  mbr[e + 5] = h1; // end head
  mbr[e + 6] = s1 | ((c1 >> 2) & 0xc0); // end sector + cylinder high bits
  mbr[e + 7] = c1 & 0xff; // end cylinder
  new DataView(mbr.buffer, mbr.byteOffset).setUint32(e + 8, start, true); // start LBA
  new DataView(mbr.buffer, mbr.byteOffset).setUint32(e + 12, size, true); // sectors
  mbr[510] = 0x55; // signature
  mbr[511] = 0xaa;
}

function crc32(b: Uint8Array): number {
  let crc = 0xffffffff;
  for (const x of b) {
    crc ^= x;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A GPT disk: protective MBR, header at LBA 1, 128 entries at LBA 2, one partition 2048..last usable. */
function gptDisk(sectors: number): Uint8Array {
  const d = new Uint8Array(sectors * 512);
  const mbr = d.subarray(0, 512);
  mbr[0x1be + 4] = 0xee; // protective entry type
  new DataView(d.buffer).setUint32(0x1be + 8, 1, true);
  new DataView(d.buffer).setUint32(0x1be + 12, sectors - 1, true);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const entries = d.subarray(1024, 1024 + 128 * 128);
  const ev = new DataView(entries.buffer, entries.byteOffset, entries.length);
  entries.set([0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4], 0); // Linux filesystem type GUID
  entries.fill(0x11, 16, 32); // partition GUID
  ev.setBigUint64(32, 2048n, true); // first LBA
  ev.setBigUint64(40, BigInt(sectors - 34), true); // last LBA
  [...'data'].forEach((c, i) => ev.setUint16(56 + 2 * i, c.charCodeAt(0), true)); // name (UTF-16LE)
  const h = d.subarray(512, 1024);
  const hv = new DataView(h.buffer, h.byteOffset, 512);
  h.set(new TextEncoder().encode('EFI PART'), 0); // signature
  hv.setUint32(8, 0x00010000, true); // revision 1.0
  hv.setUint32(12, 92, true); // header size
  hv.setBigUint64(24, 1n, true); // current LBA
  hv.setBigUint64(32, BigInt(sectors - 1), true); // backup LBA
  hv.setBigUint64(40, 34n, true); // first usable
  hv.setBigUint64(48, BigInt(sectors - 34), true); // last usable
  h.set([0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8], 56); // disk GUID
  hv.setBigUint64(72, 2n, true); // partition entries LBA
  hv.setUint32(80, 128, true); // number of entries
  hv.setUint32(84, 128, true); // entry size
  hv.setUint32(88, crc32(entries), true); // entries CRC
  hv.setUint32(16, crc32(h.subarray(0, 92)), true); // header CRC (computed with this field 0)
  return d;
}

describe('sh: terminal order (tty)', () => {
  it('interleaves stdout and stderr in write order, keeping each stream too', async () => {
    const { run } = setup();
    const r = await run('echo a; ls /nope; echo b');
    expect(r.tty).toBe('a\nls: /nope: No such file or directory\nb\n');
    expect(r.stdout).toBe('a\nb\n');
    expect(r.stderr).toBe('ls: /nope: No such file or directory\n');
    expect(r).toEqual({ stdout: 'a\nb\n', stderr: 'ls: /nope: No such file or directory\n', rc: 0 });
  });
  it('counts 2>&1 and captured output once, where they land', async () => {
    const { run } = setup();
    expect((await run('ls /nope 2>&1; echo "x$(ls /none 2>&1)"')).tty).toBe('ls: /nope: No such file or directory\nxls: /none: No such file or directory\n');
  });
  it('puts background output in the record of the line running when it is written', async () => {
    const { run } = setup();
    const first = await run('(sleep 1; echo late; ls /gone) &');
    expect(first.tty).toBe('');
    const second = await run('echo now; sleep 2; echo after');
    expect(second.tty).toBe('now\nlate\nls: /gone: No such file or directory\nafter\n');
  });
  it('property: tty is always an interleaving of stdout and stderr', async () => {
    const { run } = setup();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.stringMatching(/^[a-z]{0,4}$/)), { maxLength: 6 }), async (writes) => {
        const line = writes.map(([toErr, w]) => `echo ${w || 'e'}${toErr ? ' >&2' : ''}`).join('; ') || 'true';
        const r = await run(line);
        expect(r.tty.length).toBe(r.stdout.length + r.stderr.length);
        expect(r.tty).toBe(writes.map(([, w]) => `${w || 'e'}\n`).join(''));
      }),
      { numRuns: 30 },
    );
  });
});

describe('blockdev (busybox)', () => {
  const disk = (k: FakeKernel, path: string, bytes: number, minor = 0): void => k.blockDevice(path, 8, minor, new Uint8Array(bytes));
  it('prints the goldens’ per-device values for a 64 MiB disk', async () => {
    const { run, k } = setup();
    disk(k, '/dev/sda', 64 * MiB);
    expect(await run(BLOCKDEV_LOOP('/dev/sda'))).toEqual({ stdout: GOLDEN_SDA_64M, stderr: '', rc: 0 });
  });
  it('prints the goldens’ values for a CD (2048-byte sectors, read-only) and a scsi_debug disk', async () => {
    const { run, k } = setup();
    k.blockDevice('/dev/sr0', 11, 0, new Uint8Array(376832));
    k.blockProps('/dev/sr0', { logicalBlockSize: 2048, ro: true });
    disk(k, '/dev/sdb', 16 * MiB, 16);
    k.blockProps('/dev/sdb', { readAheadSectors: 2048 });
    expect((await run(BLOCKDEV_LOOP('/dev/sr0'))).stdout).toBe(GOLDEN_SR0);
    expect((await run(BLOCKDEV_LOOP('/dev/sdb'))).stdout).toBe(GOLDEN_SCSI_DEBUG);
    // golden seed_disk_and_cd_same_bus step: sg_readcap …; blockdev --getsize64 /dev/sr0; blockdev --getss /dev/sr0
    expect((await run('blockdev --getsize64 /dev/sr0; blockdev --getss /dev/sr0')).stdout).toBe('376832\n2048\n');
  });
  it('--getsz, --getsize, --setro/--getro, --setra, --flushbufs, --rereadpt', async () => {
    const { run, k } = setup();
    disk(k, '/dev/sda', 64 * MiB);
    const props = k.blockProps('/dev/sda', {});
    const calls = (): [number | undefined, number | undefined] => [props.flushes, props.rereads];
    expect((await run('blockdev --getsz /dev/sda; blockdev --getsize /dev/sda')).stdout).toBe('131072\n131072\n');
    expect(await run('blockdev --setro /dev/sda; blockdev --getro /dev/sda; blockdev --setrw /dev/sda; blockdev --getro /dev/sda')).toEqual({ stdout: '1\n0\n', stderr: '', rc: 0 });
    expect((await run('blockdev --setra 512 /dev/sda; blockdev --getra /dev/sda')).stdout).toBe('512\n');
    expect(await run('blockdev --flushbufs /dev/sda && blockdev --rereadpt /dev/sda')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect(calls()).toEqual([1, 1]); // one BLKFLSBUF, one BLKRRPART reached the device
  });
  it('reports ioctl and open failures as busybox does, and usage for util-linux-only options', async () => {
    const { run, k } = setup();
    disk(k, '/dev/sda', MiB);
    k.blockProps('/dev/sda', { rereadError: 'EBUSY' });
    expect(await run('blockdev --rereadpt /dev/sda')).toEqual({ stdout: '', stderr: 'blockdev: /dev/sda: Device or resource busy\n', rc: 1 });
    expect(await run('blockdev --getss /dev/nope')).toEqual({ stdout: '', stderr: "blockdev: can't open '/dev/nope': No such file or directory\n", rc: 1 });
    expect(await run('blockdev --getss /dev/null')).toEqual({ stdout: '', stderr: 'blockdev: /dev/null: Inappropriate ioctl for device\n', rc: 1 });
    const usage = 'BusyBox v1.36.1 multi-call binary.\n\nUsage: blockdev OPTION BLOCKDEV\n';
    expect(await run('blockdev --getpbsz /dev/sda')).toEqual({ stdout: '', stderr: usage, rc: 1 });
    expect(await run('blockdev --report /dev/sda')).toEqual({ stdout: '', stderr: usage, rc: 1 });
    expect(await run('blockdev --getss')).toEqual({ stdout: '', stderr: usage, rc: 1 });
    expect(await run('blockdev --setra x /dev/sda')).toEqual({ stdout: '', stderr: "blockdev: invalid number 'x'\n", rc: 1 });
  });
});

describe('fdisk -l (busybox)', () => {
  it('lists a disk without a table: geometry, then "doesn\'t contain a valid partition table"', async () => {
    const { run, k } = setup();
    k.blockDevice('/dev/sda', 8, 0, new Uint8Array(64 * MiB));
    expect(await run('fdisk -l /dev/sda')).toEqual({
      stdout:
        'Disk /dev/sda: 64 MB, 67108864 bytes, 131072 sectors\n' +
        '8 cylinders, 255 heads, 63 sectors/track\n' + // no HDIO_GETGEO: 255/63, 131072 / 16065
        'Units: sectors of 1 * 512 = 512 bytes\n\n' +
        "Disk /dev/sda doesn't contain a valid partition table\n",
      stderr: '',
      rc: 0,
    });
    k.blockProps('/dev/sda', { geometry: { heads: 64, sectors: 32, cylinders: 64, start: 0 } });
    expect((await run('fdisk -l /dev/sda')).stdout.split('\n')[1]).toBe('64 cylinders, 64 heads, 32 sectors/track');
  });
  it('lists an MBR table with busybox columns, geometry taken from the CHS fields', async () => {
    const { run, k } = setup();
    const d = new Uint8Array(64 * MiB);
    dosEntry(d, 0, 0x83, 2048, 129024, 0x80);
    k.blockDevice('/dev/sda', 8, 0, d);
    expect((await run('fdisk -l /dev/sda')).stdout).toBe(
      'Disk /dev/sda: 64 MB, 67108864 bytes, 131072 sectors\n' +
        '64 cylinders, 64 heads, 32 sectors/track\n' +
        'Units: sectors of 1 * 512 = 512 bytes\n\n' +
        'Device  Boot StartCHS    EndCHS        StartLBA     EndLBA    Sectors  Size Id Type\n' +
        '/dev/sda1 *  1,0,1       63,63,32          2048     131071     129024 63.0M 83 Linux\n',
    );
  });
  it('lists extended partitions and logical ones in their order', async () => {
    const { run, k } = setup();
    const d = new Uint8Array(64 * MiB);
    dosEntry(d, 0, 0x83, 2048, 30720);
    dosEntry(d, 1, 0x05, 32768, 98304);
    const ebr = d.subarray(32768 * 512, 32769 * 512);
    dosEntry(ebr, 0, 0x82, 2048, 8192); // relative to the EBR
    k.blockDevice('/dev/sda', 8, 0, d);
    const lines = (await run('fdisk -l /dev/sda')).stdout.split('\n');
    expect(lines.slice(4)).toEqual([
      'Device  Boot StartCHS    EndCHS        StartLBA     EndLBA    Sectors  Size Id Type',
      '/dev/sda1    1,0,1       15,63,32          2048      32767      30720 15.0M 83 Linux',
      '/dev/sda2    16,0,1      63,63,32         32768     131071      98304 48.0M  5 Extended',
      // CHS in the EBR count from the extended partition's start, as this test's table was written
      '/dev/sda5    1,0,1       4,63,32          34816      43007       8192 4096K 82 Linux swap',
      '',
    ]);
  });
  it('lists a GPT disk', async () => {
    const { run, k } = setup();
    k.blockDevice('/dev/sdb', 8, 16, gptDisk(131072));
    expect(await run('fdisk -l /dev/sdb')).toEqual({
      stdout:
        'Found valid GPT with protective MBR; using GPT\n\n' +
        'Disk /dev/sdb: 131072 sectors, 64.0M\n' +
        'Logical sector size: 512\n' +
        'Disk identifier (GUID): 12345678-9abc-def0-0102-030405060708\n' +
        'Partition table holds up to 128 entries\n' +
        'First usable sector is 34, last usable sector is 131038\n\n' +
        'Number  Start (sector)    End (sector)  Size Name\n' +
        '     1            2048          131038 62.9M data\n', // 128991 sectors
      stderr: '',
      rc: 0,
    });
  });
  it('notes a 2048-byte sector size, and reports devices it cannot open (still exit 0)', async () => {
    const { run, k } = setup();
    k.blockDevice('/dev/sr0', 11, 0, new Uint8Array(376832));
    k.blockProps('/dev/sr0', { logicalBlockSize: 2048 });
    expect((await run('fdisk -l /dev/sr0')).stdout).toBe(
      'Note: sector size is 2048 (not 512)\n' +
        'Disk /dev/sr0: 0 MB, 376832 bytes, 736 sectors\n' +
        '0 cylinders, 255 heads, 63 sectors/track\n' +
        'Units: sectors of 1 * 2048 = 2048 bytes\n\n' +
        "Disk /dev/sr0 doesn't contain a valid partition table\n",
    );
    expect(await run('fdisk -l /dev/nope')).toEqual({ stdout: '', stderr: "fdisk: can't open '/dev/nope': No such file or directory\n", rc: 0 });
  });
  it('without a device lists the whole disks of /proc/partitions', async () => {
    const { run, k } = setup();
    k.blockDevice('/dev/sda', 8, 0, new Uint8Array(8 * MiB));
    k.blockDevice('/dev/sda1', 8, 1, new Uint8Array(MiB));
    k.writeFile('/proc/partitions', 'major minor  #blocks  name\n\n   8        0       8192 sda\n   8        1       1024 sda1\n');
    const out = (await run('fdisk -l')).stdout;
    expect(out).toContain('Disk /dev/sda: 8 MB, 8388608 bytes, 16384 sectors\n');
    expect(out).not.toContain('sda1');
  });
  it('-s prints sizes in KiB', async () => {
    const { run, k } = setup();
    k.blockDevice('/dev/sda', 8, 0, new Uint8Array(64 * MiB));
    expect((await run('fdisk -s /dev/sda')).stdout).toBe('/dev/sda: 65536\n');
  });
  it('smart_ulltoa5 keeps five characters', () => {
    expect(smartUlltoa5(99999, ' KMGTPEZY')).toBe('99999');
    expect(smartUlltoa5(512, ' KMGTPEZY')).toBe('  512');
    expect(smartUlltoa5(67108864, ' KMGTPEZY')).toBe('64.0M');
    expect(smartUlltoa5(4194304, ' KMGTPEZY')).toBe('4096K');
    expect(smartUlltoa5(500 * 1024 ** 3, ' KMGTPEZY')).toBe(' 500G');
    fc.assert(fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => smartUlltoa5(n, ' KMGTPEZY').length === 5));
  });
});

describe('modprobe, insmod, rmmod, lsmod (busybox)', () => {
  it('loads through init_module with options, skips loaded modules, reports unknown ones', async () => {
    const { run, k } = setup();
    k.moduleTable(['isofs', 'sd_mod']);
    expect(await run('/sbin/modprobe isofs')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect(await run('modprobe sd-mod a=1 "b=x y"')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect(k.modules.get('sd_mod')).toBe('a=1 b="x y"');
    expect(await run('modprobe isofs')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect(await run('modprobe foo')).toEqual({ stdout: '', stderr: 'modprobe: module foo not found in modules.dep\n', rc: 1 });
    expect(await run('modprobe -q foo')).toEqual({ stdout: '', stderr: '', rc: 1 });
  });
  it('follows modules.dep when the guest has one: dependencies first, -D shows them', async () => {
    const { run, k } = setup();
    k.moduleTable(['scsi_common', 'scsi_mod', 'sd_mod']);
    k.writeFile('/lib/modules/6.1.0-56-amd64/modules.dep', 'kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko\nkernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\nkernel/drivers/scsi/scsi_common.ko:\n');
    expect((await run('modprobe -D sd_mod')).stdout).toBe(
      [
        'insmod /lib/modules/6.1.0-56-amd64/kernel/drivers/scsi/scsi_common.ko',
        'insmod /lib/modules/6.1.0-56-amd64/kernel/drivers/scsi/scsi_mod.ko',
        'insmod /lib/modules/6.1.0-56-amd64/kernel/drivers/scsi/sd_mod.ko',
        '',
      ].join('\n'),
    );
    expect(await run('modprobe sd_mod')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect([...k.modules.keys()]).toEqual(['scsi_common', 'scsi_mod', 'sd_mod']);
    expect(await run('modprobe -r sd_mod')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect([...k.modules.keys()]).toEqual([]);
    expect((await run('modprobe nosuch')).stderr).toBe('modprobe: module nosuch not found in modules.dep\n');
  });
  it('lsmod prints /proc/modules in busybox columns; rmmod and insmod errors', async () => {
    const { run, k } = setup();
    k.moduleTable(['sg', 'isofs']);
    await run('modprobe sg; modprobe isofs');
    expect(await run('lsmod')).toEqual({
      stdout: 'Module                  Size  Used by    Not tainted\nsg                     16384  0 \nisofs                  16384  0 \n',
      stderr: '',
      rc: 0,
    });
    expect(await run('rmmod sg; rmmod sg')).toEqual({ stdout: '', stderr: "rmmod: can't unload module 'sg': No such file or directory\n", rc: 1 });
    expect(await run('insmod /nope.ko')).toEqual({ stdout: '', stderr: "insmod: can't insert '/nope.ko': No such file or directory\n", rc: 254 });
    k.writeFile('/tmp/isofs.ko', 'ELF');
    expect(await run('insmod /tmp/isofs.ko')).toEqual({ stdout: '', stderr: "insmod: can't insert '/tmp/isofs.ko': File exists\n", rc: 17 });
    expect((await run('rmmod')).stderr).toBe('BusyBox v1.36.1 multi-call binary.\n\nUsage: rmmod [-wfa] [MODULE]...\n');
  });
  it('lsmod without /proc/modules fails as busybox does', async () => {
    const { run } = setup();
    expect(await run('lsmod')).toEqual({ stdout: '', stderr: "lsmod: can't open '/proc/modules': No such file or directory\n", rc: 1 });
  });
});

describe('uname, sync, hexdump', () => {
  it('uname prints fields in busybox order', async () => {
    const { run } = setup();
    expect((await run('uname')).stdout).toBe('Linux\n');
    expect((await run('uname -r')).stdout).toBe('6.1.0-56-amd64\n');
    expect((await run('uname -m -s')).stdout).toBe('Linux x86_64\n');
    expect((await run('uname -a')).stdout).toBe('Linux (none) 6.1.0-56-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 x86_64 GNU/Linux\n');
    expect((await run('uname -p')).stdout).toBe('unknown\n');
  });
  it('sync succeeds; sync FILE reports a missing file', async () => {
    const { run } = setup();
    expect(await run('sync')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect(await run('sync /nope')).toEqual({ stdout: '', stderr: "sync: can't open '/nope': No such file or directory\n", rc: 1 });
  });
  it('hexdump -C prints the canonical layout', async () => {
    const { run, k } = setup();
    expect((await run("printf 'hello world\\n' | hexdump -C")).stdout).toBe(
      `00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a${' '.repeat(14)}|hello world.|\n0000000c\n`,
    );
    k.blockDevice('/dev/sda', 8, 0, new Uint8Array(MiB));
    expect((await run('hexdump -C -n 64 /dev/sda')).stdout).toBe('00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n00000040\n');
    expect((await run('hexdump -C -v -s 16 -n 32 /dev/sda')).stdout.split('\n')).toHaveLength(4);
  });
  it('property: hexdump -v has one line per 16 bytes and the end offset last', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const lines = canonicalDump(b, 0, false).trimEnd().split('\n');
        expect(lines).toHaveLength(Math.ceil(b.length / 16) + 1);
        expect(lines.at(-1)).toBe(b.length.toString(16).padStart(8, '0'));
      }),
    );
  });
});
