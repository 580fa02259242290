import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SdDriver, SD_MAJORS, sdDevt, sdFormatDiskName, stringGetSize } from '../../src/highlevel/sd.ts';
import { procPartitions } from '../../src/block/genhd.ts';
import { O_DIRECT, O_RDONLY, O_RDWR } from '../../src/kernel/syscalls.ts';
import { removeDevice } from '../../src/midlayer/scsi_scan.ts';
import { diskSetup } from '../fakes/fake_disk_lld.ts';

const MiB = 1024 * 1024;

interface GoldenEntry {
  t: string;
  m?: string;
  v?: string;
}
const golden = JSON.parse(readFileSync(new URL('../fixtures/golden/seed_disk_and_cd_same_bus.json', import.meta.url), 'utf8')) as {
  snapshots: { boot: { sysfs: Record<string, GoldenEntry>; commands: Record<string, { stdout: string }> } };
};
const SDEV = '/sys/devices/pci0000:00/0000:00:04.0/virtio0/host0/target0:0:0/0:0:0:0';

async function bootDisk(size = 64 * MiB, image?: Uint8Array) {
  const m = diskSetup([{ id: 0, lun: 0, kind: 'hd', image: image ?? new Uint8Array(size) }]);
  await m.run(m.scan());
  m.k.log.length = 0;
  m.st.cdbs.length = 0;
  const sd = SdDriver.register(m.mod);
  await m.settle();
  return { ...m, sd };
}

describe('sd numbering', () => {
  it('names disks in bijective base 26', () => {
    expect([0, 25, 26, 51, 52, 701, 702, 18277, 18278].map((i) => sdFormatDiskName(i))).toEqual([
      'sda', 'sdz', 'sdaa', 'sdaz', 'sdba', 'sdzz', 'sdaaa', 'sdzzz', 'sdaaaa',
    ]);
  });

  it('maps indices to majors and minors as sd_major/SD_MINORS do', () => {
    expect(SD_MAJORS).toEqual([8, 65, 66, 67, 68, 69, 70, 71, 128, 129, 130, 131, 132, 133, 134, 135]);
    expect(sdDevt(0)).toEqual({ major: 8, minor: 0 }); // sda
    expect(sdDevt(1)).toEqual({ major: 8, minor: 16 }); // sdb
    expect(sdDevt(15)).toEqual({ major: 8, minor: 240 }); // sdp
    expect(sdDevt(16)).toEqual({ major: 65, minor: 0 }); // sdq
    expect(sdDevt(25)).toEqual({ major: 65, minor: 144 }); // sdz
    expect(sdDevt(26)).toEqual({ major: 65, minor: 160 }); // sdaa
    expect(sdDevt(127)).toEqual({ major: 71, minor: 240 }); // sddx
    expect(sdDevt(128)).toEqual({ major: 128, minor: 0 }); // sddy
    expect(sdDevt(255)).toEqual({ major: 135, minor: 240 }); // sdiv
    expect(sdDevt(256)).toEqual({ major: 8, minor: 256 }); // sdiw
    expect(sdDevt(701)).toEqual({ major: 131, minor: 0xd0 | 0x200 }); // sdzz
    expect(sdDevt(702)).toEqual({ major: 131, minor: 0xe0 | 0x200 }); // sdaaa
    expect(sdDevt(18277)).toEqual({ major: 70, minor: 0x50 | 0x4700 }); // sdzzz
  });

  it('formats sizes as string_get_size', () => {
    expect(`${stringGetSize(131072, 512, 10)}/${stringGetSize(131072, 512, 2)}`).toBe('67.1 MB/64.0 MiB');
    expect(`${stringGetSize(65536, 512, 10)}/${stringGetSize(65536, 512, 2)}`).toBe('33.6 MB/32.0 MiB');
    expect(`${stringGetSize(20971520, 512, 10)}/${stringGetSize(20971520, 512, 2)}`).toBe('10.7 GB/10.0 GiB');
    expect(`${stringGetSize(2097152, 512, 10)}/${stringGetSize(2097152, 512, 2)}`).toBe('1.07 GB/1.00 GiB');
    expect(`${stringGetSize(262144, 512, 10)}/${stringGetSize(262144, 512, 2)}`).toBe('134 MB/128 MiB');
    expect(`${stringGetSize(1953525168, 512, 10)}/${stringGetSize(1953525168, 512, 2)}`).toBe('1.00 TB/932 GiB');
  });
});

describe('sd probe', () => {
  it('prints the captured lines and sends the captured command sequence', async () => {
    const m = await bootDisk();
    expect(m.k.log).toEqual([
      'sd 0:0:0:0: Power-on or device reset occurred',
      'sd 0:0:0:0: [sda] 131072 512-byte logical blocks: (67.1 MB/64.0 MiB)',
      'sd 0:0:0:0: [sda] Write Protect is off',
      'sd 0:0:0:0: [sda] Mode Sense: 63 00 00 08',
      "sd 0:0:0:0: [sda] Write cache: enabled, read cache: enabled, doesn't support DPO or FUA",
      'sd 0:0:0:0: [sda] Attached SCSI disk',
    ]);
    expect(m.st.cdbs).toEqual([
      '0:0 00 00 00 00 00 00', // TUR → 6/29/00
      '0:0 00 00 00 00 00 00', // TUR
      '0:0 9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00', // READ CAPACITY(16), 32 bytes
      '0:0 1a 00 3f 00 04 00', // MODE SENSE(6) all pages, 4 bytes
      '0:0 1a 00 08 00 04 00', // caching page, header only
      '0:0 1a 00 08 00 20 00', // caching page, full 32 bytes
      '0:0 a3 0c 01 12 00 00 00 00 00 0a 00 00', // RSOC for INQUIRY → 5/20/00
      // second revalidation at the partition-scan open: no RSOC, no messages
      '0:0 00 00 00 00 00 00',
      '0:0 9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00',
      '0:0 12 01 00 00 24 00', // VPD 0x00, 36 bytes (sd_read_cpr)
      '0:0 1a 00 3f 00 04 00',
      '0:0 1a 00 08 00 04 00',
      '0:0 1a 00 08 00 20 00',
      // partition scan of a blank disk: pages at sectors 0, 8, 24
      '0:0 28 00 00 00 00 00 00 00 08 00',
      '0:0 28 00 00 00 00 08 00 00 08 00',
      '0:0 28 00 00 00 00 18 00 00 08 00',
    ]);
    expect(procPartitions(m.k)).toBe('major minor  #blocks  name\n\n   8        0      65536 sda\n');
  });

  it('shows the golden block, queue and scsi_disk attributes for a 64 MiB disk', async () => {
    const m = await bootDisk();
    const g = golden.snapshots.boot.sysfs;
    const ours = '/sys/devices/virtio0/host0/target0:0:0/0:0:0:0';
    const skip = /\/(stat|power|uevent|subsystem|device|bdi|driver)$|\/power\//;
    let compared = 0;
    for (const [path, e] of Object.entries(g)) {
      if (!path.startsWith(`${SDEV}/block/sda`) && !path.startsWith(`${SDEV}/scsi_disk/`)) continue;
      if (e.t !== 'f' || skip.test(path)) continue;
      const p = ours + path.slice(SDEV.length);
      const st = await m.sys.stat(p);
      expect({ p, mode: (st.mode & 0o777).toString(8).padStart(4, '0') }).toEqual({ p, mode: e.m });
      const fd = await m.sys.open(p, O_RDONLY);
      const v = new TextDecoder().decode(await m.sys.read(fd, 4096));
      await m.sys.close(fd);
      // The capture drops one trailing newline; an empty value stands for an empty file, as golden-replay reads it.
      expect({ p, v }).toEqual({ p, v: e.v === "" ? "" : `${e.v}\n` });
      compared++;
    }
    expect(compared).toBeGreaterThan(80);
    expect(await m.sys.readlink('/sys/block/sda')).toBe('../devices/virtio0/host0/target0:0:0/0:0:0:0/block/sda');
    expect(await m.sys.readlink(`${ours}/block/sda/bdi`)).toBe('../../../../../../virtual/bdi/8:0');
    const fd = await m.sys.open(`${ours}/block/sda/uevent`, O_RDONLY);
    expect(new TextDecoder().decode(await m.sys.read(fd, 4096))).toBe('MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\nDISKSEQ=1\n');
  });

  it('reuses the lowest free index after a removal, flushing the write-back cache', async () => {
    const m = diskSetup([0, 1, 2].map((id) => ({ id, lun: 0, kind: 'hd' as const, image: new Uint8Array(MiB) })));
    await m.run(m.scan());
    SdDriver.register(m.mod);
    await m.settle();
    const names = (): string[] => m.host.devices.map((d) => SdDriver.of(d)?.name ?? '-').sort();
    expect(names()).toEqual(['sda', 'sdb', 'sdc']);
    const victim = m.host.devices.find((d) => SdDriver.of(d)?.name === 'sdb')!;
    m.k.log.length = 0;
    m.st.cdbs.length = 0;
    await m.run(removeDevice(m.mod, victim));
    expect(m.k.log).toContain(`sd ${victim.hctl}: [sdb] Synchronizing SCSI cache`);
    expect(m.st.cdbs).toEqual([`${victim.id}:0 35 00 00 00 00 00 00 00 00 00`]);
    expect(names()).toEqual(['sda', 'sdc']);
    m.st.lus.set('5:0', { type: 0, model: 'QEMU HARDDISK', ua: [0x29, 0] });
    m.st.media.set('5:0', { kind: 'hd', image: new Uint8Array(MiB), blockSize: 512 });
    const { scsiAddDevice } = await import('../../src/midlayer/scsi_scan.ts');
    await m.run(scsiAddDevice(m.mod, m.host, 0, 5, 0));
    await m.settle();
    expect(names()).toEqual(['sda', 'sdb', 'sdc']);
  });
});

describe('sd rescan and removal', () => {
  it('reports a capacity change on rescan with the resize line', async () => {
    const m = await bootDisk(MiB);
    const events: string[] = [];
    m.k.dm.onUevent((ev) => events.push(`${ev.action} ${ev.env.map(([k, v]) => `${k}=${v}`).join(' ')}`));
    m.st.media.get('0:0')!.image = new Uint8Array(2 * MiB);
    m.k.log.length = 0;
    await m.run(m.sd.rescan(m.host.devices[0]!));
    expect(m.k.log).toEqual([
      'sd 0:0:0:0: [sda] 4096 512-byte logical blocks: (2.10 MB/2.00 MiB)',
      'sda: detected capacity change from 2048 to 4096',
    ]);
    expect(events.some((e) => e.startsWith('change ') && e.includes('DEVNAME=sda') && e.includes('RESIZE=1'))).toBe(true);
  });

  it('logs the failed cache flush when the target is gone', async () => {
    const m = await bootDisk(MiB);
    m.st.lus.delete('0:0');
    m.st.media.delete('0:0');
    m.k.log.length = 0;
    m.st.cdbs.length = 0;
    await m.run(removeDevice(m.mod, m.host.devices[0]!));
    expect(m.k.log).toEqual([
      'sd 0:0:0:0: [sda] Synchronizing SCSI cache',
      'sd 0:0:0:0: [sda] Synchronize Cache(10) failed: Result: hostbyte=DID_BAD_TARGET driverbyte=DRIVER_OK',
    ]);
    expect(m.st.cdbs).toHaveLength(3); // sd_sync_cache tries three times
    expect(procPartitions(m.k)).toBe('major minor  #blocks  name\n\n');
  });
});

describe('sd I/O through /dev/sda', () => {
  it('round-trips O_DIRECT writes and reads to the image', async () => {
    const image = new Uint8Array(8 * MiB);
    const m = await bootDisk(8 * MiB, image);
    const data = new Uint8Array(8192).map((_, i) => (i * 7) & 0xff);
    const fd = await m.run(m.sys.open('/dev/sda', O_RDWR | O_DIRECT));
    m.st.cdbs.length = 0;
    expect(await m.run(m.sys.write(fd, data, 1024 * 512))).toBe(8192);
    expect(image.subarray(1024 * 512, 1024 * 512 + 8192)).toEqual(data);
    expect(m.st.cdbs).toEqual(['0:0 2a 00 00 00 04 00 00 00 10 00']); // WRITE(10) LBA 1024, 16 blocks
    image[2048 * 512] = 0x5a;
    const back = await m.run(m.sys.read(fd, 512, 2048 * 512));
    expect(back[0]).toBe(0x5a);
    await expect(m.run(m.sys.read(fd, 100, 0))).rejects.toMatchObject({ code: 'EINVAL' });
    await m.run(m.sys.close(fd));
  });

  it('reads buffered through the page cache with a 128 KiB read-ahead', async () => {
    const image = new Uint8Array(8 * MiB).map((_, i) => i >> 9);
    const m = await bootDisk(8 * MiB, image);
    const fd = await m.run(m.sys.open('/dev/sda', O_RDONLY));
    m.st.cdbs.length = 0;
    const a = await m.run(m.sys.read(fd, 512, 4096));
    const b = await m.run(m.sys.read(fd, 512, 65536));
    expect(a[0]).toBe(8);
    expect(b[0]).toBe(128 & 0xff);
    expect(m.st.cdbs).toEqual(['0:0 28 00 00 00 00 08 00 01 00 00']); // one READ(10) of 256 blocks at LBA 8
    expect(await m.run(m.sys.ioctl(fd, 0x80081272))).toBe(8 * MiB); // BLKGETSIZE64
    expect(await m.run(m.sys.ioctl(fd, 0x1263))).toBe(256); // BLKRAGET
    await m.run(m.sys.close(fd));
  });

  it('prints the captured five lines for a failed read and returns EIO', async () => {
    const m = await bootDisk();
    m.st.media.get('0:0')!.failLba = 65536;
    const fd = await m.run(m.sys.open('/dev/sda', O_RDONLY | O_DIRECT));
    m.k.log.length = 0;
    m.st.cdbs.length = 0;
    await expect(m.run(m.sys.read(fd, 512, 65536 * 512))).rejects.toMatchObject({ code: 'EIO' });
    expect(m.st.cdbs).toHaveLength(6); // 1 + 5 retries (ABORTED COMMAND is retried)
    expect(m.k.log.map((l) => l.replace(/tag#\d+/, 'tag#N'))).toEqual([
      'sd 0:0:0:0: [sda] tag#N FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s',
      'sd 0:0:0:0: [sda] tag#N Sense Key : Aborted Command [current] ',
      'sd 0:0:0:0: [sda] tag#N Add. Sense: I/O process terminated',
      'sd 0:0:0:0: [sda] tag#N CDB: Read(10) 28 00 00 01 00 00 00 00 01 00',
      'I/O error, dev sda, sector 65536 op 0x0:(READ) flags 0x800 phys_seg 1 prio class 2',
    ]);
  });
});
