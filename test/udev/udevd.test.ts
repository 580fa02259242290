// Ours: udevd against a hand-built device tree — golden `udevadm info` lines, links, remove/change handling,
// link priority, coldplug, and an invariant over random add/remove sequences.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../seed.ts';
import { fnmatch, udevPatternMatch, type RulesFile } from '../../src/udev/rules.ts';
import { relativeLinkTarget } from '../../src/udev/udevd.ts';
import { CD, DISK, guest, isoBlkid, type Guest, type Lun } from './udev_harness.ts';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/udev/seed_disk_and_cd_same_bus.${name}.udev_info.txt`, import.meta.url), 'utf8');

/**
 * `udevadm info` with the parts that vary between real runs normalised: USEC_INITIALIZED (the clock), and the
 * order of S: lines, DEVLINKS and TAGS (udevadm keeps them in a hash set with a per-process random key).
 */
function normalise(text: string): string[] {
  const sortList = (v: string, sep: string): string => v.split(sep).filter(Boolean).sort().join(sep);
  const lines = text.split('\n').map((l) => {
    if (l.startsWith('E: USEC_INITIALIZED=')) return 'E: USEC_INITIALIZED=*';
    if (l.startsWith('E: DEVLINKS=')) return `E: DEVLINKS=${sortList(l.slice('E: DEVLINKS='.length), ' ')}`;
    const m = /^E: (TAGS|CURRENT_TAGS)=(.*)$/.exec(l);
    if (m) return `E: ${m[1]!}=:${sortList(m[2]!, ':')}:`;
    return l;
  });
  const s = lines.filter((l) => l.startsWith('S: ')).sort();
  let i = 0;
  return lines.map((l) => (l.startsWith('S: ') ? s[i++]! : l));
}

async function readlink(g: Guest, p: string): Promise<string | null> {
  try {
    return await g.sys.readlink(p);
  } catch {
    return null;
  }
}

async function booted(opts: { luns?: Lun[]; blkid?: typeof isoBlkid } = {}): Promise<Guest> {
  const g = guest(opts.blkid ? { blkid: opts.blkid } : {});
  for (const l of opts.luns ?? [DISK, CD]) g.addLun(l);
  g.udevd.start();
  await g.udevd.trigger('add');
  await g.idle();
  return g;
}

describe('udev patterns', () => {
  it('matches globs, sets and alternatives as udev does', () => {
    expect(fnmatch('sd*[!0-9]', 'sda')).toBe(true);
    expect(fnmatch('sd*[!0-9]', 'sda1')).toBe(false);
    expect(fnmatch('sr[0-9]*', 'sr0')).toBe(true);
    expect(udevPatternMatch('4|5', '5')).toBe(true);
    expect(udevPatternMatch('?*', '')).toBe(false);
    expect(udevPatternMatch('', '')).toBe(true);
    expect(udevPatternMatch('ID_[!F]*', 'ID_FS_TYPE')).toBe(false);
    expect(udevPatternMatch('ID_[!F]*', 'ID_SERIAL')).toBe(true);
  });

  it('writes link targets relative to the link directory', () => {
    expect(relativeLinkTarget('/dev/disk/by-id/x', '/dev/sda')).toBe('../../sda');
    expect(relativeLinkTarget('/dev/block/8:0', '/dev/sda')).toBe('../sda');
    expect(relativeLinkTarget('/dev/cdrom', '/dev/sr0')).toBe('sr0');
    expect(relativeLinkTarget('/dev/char/248:0', '/dev/bsg/0:0:0:0')).toBe('../bsg/0:0:0:0');
  });
});

describe('coldplug of a disk and a CD on one bus (seed_disk_and_cd_same_bus)', () => {
  it('prints the golden sda, sr0, sg0 and sg1 udev_info', async () => {
    const g = await booted({ blkid: isoBlkid });
    expect(g.udevd.errors).toEqual([]);
    for (const [node, name] of [['/dev/sda', 'sda'], ['/dev/sr0', 'sr0'], ['/dev/sg0', 'sg0'], ['/dev/sg1', 'sg1']] as const) {
      expect(normalise(await g.info(node)), node).toEqual(normalise(fixture(name)));
    }
  });

  it('creates the golden /dev/disk links, /dev/cdrom and the /dev/block and /dev/char links', async () => {
    const g = await booted({ blkid: isoBlkid });
    const want: Record<string, string> = {
      '/dev/disk/by-diskseq/1': '../../sda', '/dev/disk/by-diskseq/3': '../../sr0',
      '/dev/disk/by-id/scsi-0QEMU_QEMU_CD-ROM_cd0': '../../sr0', '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_d0': '../../sda',
      '/dev/disk/by-label/ORACLECD': '../../sr0', '/dev/disk/by-path/pci-0000:00:04.0-scsi-0:0:0:0': '../../sda',
      '/dev/disk/by-path/pci-0000:00:04.0-scsi-0:0:0:1': '../../sr0', '/dev/disk/by-uuid/2023-11-14-22-13-20-00': '../../sr0',
      '/dev/cdrom': 'sr0', '/dev/block/8:0': '../sda', '/dev/block/11:0': '../sr0', '/dev/char/21:0': '../sg0', '/dev/char/21:1': '../sg1',
    };
    for (const [link, target] of Object.entries(want)) expect(await readlink(g, link), link).toBe(target);
    const byDir = async (d: string): Promise<string[]> => (await g.sys.readdir(d)).map((e) => e.name).filter((n) => !n.startsWith('.')).sort();
    expect(await byDir('/dev/disk')).toEqual(['by-diskseq', 'by-id', 'by-label', 'by-path', 'by-uuid']);
  });

  it("sends scsi_id's, ata_id's and cdrom_id's commands and locks the tray", async () => {
    const g = await booted({ luns: [CD], blkid: isoBlkid });
    expect(g.cdbs).toEqual([
      // cdrom_id: INQUIRY 36, GET CONFIGURATION 8 then the reported length, READ TOC (track 1, all tracks,
      // sessions), READ DISC INFORMATION 32
      '12 00 00 00 24 00', '46 00 00 00 00 00 00 00 08 00', '46 00 00 00 00 00 00 00 24 00',
      '43 00 00 00 00 00 01 00 0c 00', '43 00 00 00 00 00 01 00 14 00', '43 00 01 00 00 00 00 00 0c 00',
      '51 00 00 00 00 00 00 00 20 00',
      // ata_id: INQUIRY 36, ATA PASS-THROUGH(16) IDENTIFY PACKET DEVICE (refused)
      '12 00 00 00 24 00', '85 08 0e 00 00 00 01 00 00 00',
      // scsi_id: INQUIRY 254, VPD 0x00, 0x80 (refused), 0x83
      '12 00 00 00 fe 00', '12 01 00 00 fe 00', '12 01 80 00 fe 00', '12 01 83 00 fe 00',
    ]);
    expect(g.locked).toEqual([true]);
  });
});

describe('events after coldplug', () => {
  it('ignores events before start() and records them', async () => {
    const g = guest();
    g.addLun(DISK);
    await g.idle();
    expect(g.udevd.missed.length).toBeGreaterThan(0);
    expect(await readlink(g, '/dev/disk/by-diskseq/1')).toBeNull();
  });

  it('hotplug add then remove: links and db appear, then go away with empty directories', async () => {
    const g = await booted({ luns: [DISK] });
    g.addLun({ ...DISK, t: 1, driveId: 'd1', block: { name: 'sdb', major: 8, minor: 16, diskseq: 2 }, sg: 1 });
    await g.idle();
    expect(await readlink(g, '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_d1')).toBe('../../sdb');
    expect(await readlink(g, '/dev/disk/by-path/pci-0000:00:04.0-scsi-0:0:1:0')).toBe('../../sdb');
    g.removeLun('1:0');
    await g.idle();
    expect(await readlink(g, '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_d1')).toBeNull();
    expect(await readlink(g, '/dev/block/8:16')).toBeNull();
    await expect(g.sys.stat('/run/udev/data/b8:16')).rejects.toThrow();
    expect(await readlink(g, '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_d0')).toBe('../../sda');
    g.removeLun('0:0');
    await g.idle();
    await expect(g.sys.stat('/dev/disk')).rejects.toThrow();
    expect(g.udevd.errors).toEqual([]);
  });

  it('a scsi_device change (SDEV_UA) is forwarded to the disk, which runs scsi_id again and keeps its I:', async () => {
    const g = await booted({ luns: [DISK] });
    const before = await g.info('/dev/sda');
    g.cdbs.length = 0;
    const sdev = g.luns.get('0:0')!.sdev;
    g.k.dm.uevent(sdev, 'change', [['SDEV_UA', 'POWER_ON_RESET_OCCURRED']]);
    await g.idle();
    expect(g.cdbs).toContain('12 01 83 00 fe 00');
    expect(await g.info('/dev/sda')).toBe(before);
  });

  it('a CD media change re-runs cdrom_id and keeps DISK_MEDIA_CHANGE in the database', async () => {
    const g = await booted({ luns: [CD], blkid: isoBlkid });
    g.k.dm.uevent(g.luns.get('0:1')!.block, 'change', [['DISK_MEDIA_CHANGE', '1']]);
    await g.idle();
    const info = await g.info('/dev/sr0');
    expect(info).toContain('E: DISK_MEDIA_CHANGE=1\n');
    expect(info).toContain('E: ID_CDROM_MEDIA_CD=1\n');
    expect(g.locked).toEqual([true, true]);
  });

  it('two devices claiming one link at the same priority: the one processed last wins', async () => {
    // Two disks with the same drive id claim the same by-id link.
    const g = await booted({ luns: [DISK] });
    g.addLun({ ...DISK, t: 1, block: { name: 'sdb', major: 8, minor: 16, diskseq: 2 }, sg: 1 });
    await g.idle();
    expect(await readlink(g, '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_d0')).toBe('../../sdb');
    g.removeLun('1:0');
    await g.idle();
    expect(await readlink(g, '/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_d0')).toBe('../../sda');
    // /dev/cdrom has priority -100: a by-* link claimed at 0 by another device would win; here sr0 is alone.
    const c = await booted({ luns: [CD] });
    expect((await c.info('/dev/sr0')).split('\n')).toContain('L: -100');
  });
});

describe('link priority', () => {
  it('a higher link_priority keeps the link even against a device processed later', async () => {
    // One rule file: sda claims `shared` at priority 10, every other disk at 0.
    const rules: RulesFile[] = [{
      file: '90-test.rules',
      lines: [
        { tokens: [{ t: 'match', key: 'KERNEL', op: '==', v: 'sda' }, { t: 'symlink', v: 'shared' }, { t: 'options', v: 'link_priority=10' }] },
        { tokens: [{ t: 'match', key: 'KERNEL', op: '==', v: 'sd[b-z]' }, { t: 'symlink', v: 'shared' }] },
      ],
    }];
    const g = guest({ rules });
    g.addLun(DISK);
    g.udevd.start();
    await g.udevd.trigger();
    await g.idle();
    g.addLun({ ...DISK, t: 1, block: { name: 'sdb', major: 8, minor: 16, diskseq: 2 }, sg: 1 });
    await g.idle();
    expect(await readlink(g, '/dev/shared')).toBe('sda');
    g.removeLun('0:0');
    await g.idle();
    expect(await readlink(g, '/dev/shared')).toBe('sdb');
  });
});

describe('invariants', () => {
  it('after any add/remove sequence no link dangles and no removed device keeps a db file', async () => {
    const slot = fc.integer({ min: 0, max: 3 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), slot, fc.integer({ min: 0, max: 1 })), { maxLength: 12 }), async (ops) => {
        const g = await booted({ luns: [] });
        for (const [add, t, idSlot] of ops) {
          const key = `${t}:0`;
          if (add && !g.luns.has(key)) {
            g.addLun({ ...DISK, t, driveId: `d${idSlot}`, block: { name: `sd${'abcd'[t]!}`, major: 8, minor: 16 * t, diskseq: t + 1 }, sg: t });
          } else if (!add) g.removeLun(key);
          await g.idle();
        }
        const walk = async (dir: string): Promise<string[]> => {
          const out: string[] = [];
          let ents;
          try { ents = await g.sys.readdir(dir); } catch { return out; }
          for (const e of ents) {
            if (e.name === '.' || e.name === '..') continue;
            const p = `${dir}/${e.name}`;
            const link = await readlink(g, p);
            if (link !== null) out.push(p);
            else out.push(...(await walk(p)));
          }
          return out;
        };
        for (const link of [...(await walk('/dev/disk')), ...(await walk('/dev/block')), ...(await walk('/dev/char'))]) {
          await expect(g.sys.stat(link), link).resolves.toBeDefined();
        }
        const live = new Set([...g.luns.values()].flatMap((x) => [`b8:${x.lun.block.minor}`, `c21:${x.lun.sg}`]));
        for (const e of await g.sys.readdir('/run/udev/data').catch(() => [])) {
          if (e.name === '.' || e.name === '..') continue;
          expect(live.has(e.name), e.name).toBe(true);
        }
        expect(g.udevd.errors).toEqual([]);
      }),
      { numRuns: 25 },
    );
  });
});
