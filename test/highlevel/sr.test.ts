import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SrDriver } from '../../src/highlevel/sr.ts';
import { SdDriver } from '../../src/highlevel/sd.ts';
import { blockLayer, procPartitions } from '../../src/block/genhd.ts';
import { O_RDONLY, O_RDWR } from '../../src/kernel/syscalls.ts';
import { diskSetup } from '../fakes/fake_disk_lld.ts';

const iso = new Uint8Array(readFileSync(new URL('../fixtures/seed_disk_and_cd_same_bus.cd.iso', import.meta.url)));

async function bootCd(image: Uint8Array | null = iso) {
  const m = diskSetup([{ id: 0, lun: 1, kind: 'cd', image }]);
  await m.run(m.scan());
  m.k.log.length = 0;
  m.st.cdbs.length = 0;
  SrDriver.register(m.mod);
  await m.settle();
  return m;
}

describe('sr probe', () => {
  it('prints the captured lines and sends the captured command sequence', async () => {
    const m = await bootCd();
    expect(m.k.log).toEqual([
      'sr 0:0:0:1: Power-on or device reset occurred',
      'sr 0:0:0:1: [sr0] scsi3-mmc drive: 16x/50x cd/rw xa/form2 cdda tray',
      'cdrom: Uniform CD-ROM driver Revision: 3.20',
      'sr 0:0:0:1: Attached scsi CD-ROM sr0',
    ]);
    const ops = m.st.cdbs.map((c) => c.split(' ')[1]);
    expect(ops).toEqual([
      '00', '00', // TUR → 6/29/00, TUR
      '1a', // MODE SENSE(6) page 0x2a, 128 bytes
      '46', '46', // GET CONFIGURATION MRW (16), random writable (24)
      '00', // sr_revalidate_disk's TUR
      '43', '43', '43', // READ TOC ×3
      '25', // READ CAPACITY(10)
      '51', '51', // READ DISC INFORMATION 2, 34
      '52', // READ TRACK INFORMATION → 5/20/00
      '43', // READ TOC lead-out (MSF)
      '4a', // GET EVENT STATUS NOTIFICATION
    ]);
    expect(m.st.cdbs[2]).toBe('0:1 1a 00 2a 00 80 00');
    expect(m.st.cdbs[13]).toBe('0:1 43 02 00 00 00 00 aa 00 0c 00');
    expect(m.st.cdbs[14]).toBe('0:1 4a 01 00 00 10 00 00 00 08 00');
  });

  it('sizes the disk from READ CAPACITY(10) in 2048-byte blocks', async () => {
    const m = await bootCd();
    const dir = '/sys/devices/virtio0/host0/target0:0:0/0:0:0:1/block/sr0';
    const read = async (p: string): Promise<string> => {
      const fd = await m.sys.open(p, O_RDONLY);
      const t = new TextDecoder().decode(await m.sys.read(fd, 4096));
      await m.sys.close(fd);
      return t;
    };
    expect(await read(`${dir}/size`)).toBe('736\n');
    expect(await read(`${dir}/capability`)).toBe('5\n');
    expect(await read(`${dir}/removable`)).toBe('1\n');
    expect(await read(`${dir}/ro`)).toBe('1\n');
    expect(await read(`${dir}/range`)).toBe('1\n');
    expect(await read(`${dir}/ext_range`)).toBe('1\n');
    expect(await read(`${dir}/events`)).toBe('media_change eject_request\n');
    expect(await read(`${dir}/queue/logical_block_size`)).toBe('2048\n');
    expect(procPartitions(m.k)).toBe('major minor  #blocks  name\n\n  11        0        368 sr0\n');
  });

  it('reads the ISO through /dev/sr0 with READ(10) of 2048-byte blocks', async () => {
    const m = await bootCd();
    const fd = await m.run(m.sys.open('/dev/sr0', O_RDONLY));
    m.st.cdbs.length = 0;
    const pvd = await m.run(m.sys.read(fd, 2048, 16 * 2048));
    expect(new TextDecoder().decode(pvd.subarray(1, 6))).toBe('CD001');
    expect(pvd).toEqual(iso.subarray(16 * 2048, 17 * 2048));
    expect(m.st.cdbs[0]).toMatch(/^0:1 28 00 00 00 00 10 00 00 40 00$/); // 64 blocks = the 128 KiB window
    await m.run(m.sys.close(fd));
    // cdrom_open refuses a write open of a drive that cannot write randomly (dd: Read-only file system).
    await expect(m.run(m.sys.open('/dev/sr0', O_RDWR))).rejects.toMatchObject({ code: 'EROFS' });
  });

  it('refuses to open an empty drive with ENOMEDIUM and polls only as a daemon', async () => {
    const m = await bootCd(null);
    await expect(m.run(m.sys.open('/dev/sr0', O_RDONLY))).rejects.toMatchObject({ code: 'ENOMEDIUM' });
    m.st.cdbs.length = 0;
    // Setting the interval flushes the disk's events at once (disk_flush_events(disk, 0)): one GESN.
    blockLayer(m.k).setEventsDflPollMsecs(2000);
    await m.k.loop.runUntilIdle();
    expect(m.st.cdbs.map((c) => c.split(' ')[1])).toEqual(['4a']);
    expect(m.k.loop.busy).toBe(false);
    m.st.cdbs.length = 0;
    await m.k.loop.advance(4_100_000_000);
    // A poll does not clear MEDIA_CHANGE: GESN only (the capture's lone GESN every 2 s; TURs follow opens and closes).
    expect(m.st.cdbs.map((c) => c.split(' ')[1])).toEqual(['4a', '4a']);
  });

  it('numbers sda and sr0 and their diskseqs as the capture shows', async () => {
    const m = diskSetup([
      { id: 0, lun: 0, kind: 'hd', image: new Uint8Array(1 << 20) },
      { id: 0, lun: 1, kind: 'cd', image: iso },
    ]);
    await m.run(m.scan());
    SdDriver.register(m.mod);
    await m.settle();
    SrDriver.register(m.mod);
    await m.settle();
    const layer = blockLayer(m.k);
    expect(layer.findDisk('sda')?.diskseq).toBe(1);
    // sr0 took 2 at allocation; the block layer's first look (disk_add_events) reports the probe's media
    // change and takes 3, before udev ever sees the disk (the golden's by-diskseq/3, no /2).
    expect(layer.findDisk('sr0')?.diskseq).toBe(3);
    const fd = await m.run(m.sys.open('/dev/sr0', O_RDONLY)); // consumes the pending change: no new diskseq
    await m.run(m.sys.close(fd));
    expect(layer.findDisk('sr0')?.diskseq).toBe(3);
  });
});
