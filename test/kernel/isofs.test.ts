// isofs: the golden CD mounted through the VFS and read with busybox tools, option handling, errors,
// and a round trip of generated images.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import '../seed.ts';
import { isoDate, isofsNameTranslate, jolietName, parseIsofsOptions } from '../../src/kernel/isofs.ts';
import { createBusyboxRegistry } from '../../src/shell/busybox.ts';
import { mountEntry, umountEntry } from '../../src/shell/mount.ts';
import { Shell } from '../../src/shell/sh.ts';
import { buildIso } from '../fakes/iso_image.ts';
import { isoGuest } from '../fakes/iso_guest.ts';

const CD = new Uint8Array(readFileSync(new URL('../fixtures/seed_disk_and_cd_same_bus.cd.iso', import.meta.url)));

// Golden seed_disk_and_cd_same_bus, step mount_cd (the `/sbin/modprobe isofs;` prefix dropped).
const GOLDEN_MOUNT_CD = {
  cmd: 'mount -t iso9660 -o ro /dev/sr0 /mnt && ls -l /mnt && cat /mnt/*; umount /mnt',
  stdout: 'total 1\n-r--r--r--    1 root     root            14 Nov 14  2023 README.TXT\noracle cd one\n',
  stderr: '',
  rc: 0,
};
// Golden dmesg_final, the two lines logged at that mount.
const GOLDEN_DMESG = ['ISO 9660 Extensions: Microsoft Joliet Level 3', 'ISO 9660 Extensions: RRIP_1991A'];
// Golden trace.cdb_summary, step:mount_cd: READ(10) sectors, one 2048-byte block each.
const GOLDEN_MOUNT_READS = [16, 17, 19, 20, 33];

describe('isofs on the golden CD', () => {
  it('mounts, lists and reads as the captured guest did', async () => {
    const g = isoGuest({ sr0: CD });
    const r = await g.run(GOLDEN_MOUNT_CD.cmd);
    expect(r).toEqual({ stdout: GOLDEN_MOUNT_CD.stdout, stderr: GOLDEN_MOUNT_CD.stderr, rc: GOLDEN_MOUNT_CD.rc });
    expect(g.log).toEqual(GOLDEN_DMESG);
  });

  it('reads the blocks the real kernel read, once each, and releases the device at umount', async () => {
    const g = isoGuest({ sr0: CD });
    await g.run(GOLDEN_MOUNT_CD.cmd);
    const reads = g.reads.get('sr0')!;
    expect(reads.map((x) => x.offset / 2048)).toEqual(GOLDEN_MOUNT_READS);
    expect(reads.every((x) => x.length === 2048)).toBe(true);
    expect(g.openCount.get('sr0')).toBe(0);
  });

  it('gives Rock Ridge modes, links, owners, sizes and times through stat', async () => {
    const g = isoGuest({ sr0: CD });
    expect((await g.run('mount -t iso9660 -o ro /dev/sr0 /mnt')).rc).toBe(0);
    const sys = g.vfs.syscalls();
    const f = await sys.stat('/mnt/README.TXT');
    expect(f.mode).toBe(0o100444); // -r--r--r-- from PX
    expect(f.nlink).toBe(1);
    expect([f.uid, f.gid]).toEqual([0, 0]);
    expect(f.size).toBe(14);
    expect(f.mtime).toBe(1_700_000_000); // SOURCE_DATE_EPOCH of the capture (TF modify)
    expect(f.blocks).toBe(1); // (size + 511) >> 9
    expect(f.dev).toBe((11 << 8) | 0); // st_dev of sr0
    const d = await sys.stat('/mnt');
    expect(d.mode & 0o170777).toBe(0o40555);
    expect(d.size).toBe(2048); // one directory block
  });

  it('shows the mount in /proc/mounts and in bare `mount`, and drops it at umount', async () => {
    const g = isoGuest({ sr0: CD });
    await g.run('mount -t iso9660 -o ro /dev/sr0 /mnt');
    const line = '/dev/sr0 /mnt iso9660 ro,relatime,nojoliet,check=s,map=n,blocksize=2048,iocharset=utf8 0 0\n';
    expect((await g.run('cat /proc/mounts')).stdout).toBe(line);
    expect((await g.run('mount')).stdout).toBe('/dev/sr0 on /mnt type iso9660 (ro,relatime,nojoliet,check=s,map=n,blocksize=2048,iocharset=utf8)\n');
    expect((await g.run('umount /dev/sr0')).rc).toBe(0);
    expect((await g.run('cat /proc/mounts')).stdout).toBe('');
    expect((await g.run('ls /mnt')).stdout).toBe('');
  });

  it('uses Joliet names with norock, and plain ISO 9660 names with norock,nojoliet', async () => {
    const g = isoGuest({ sr0: CD });
    expect(await g.run('mount -t iso9660 -o ro,norock /dev/sr0 /mnt && ls -l /mnt && cat /proc/mounts; umount /mnt')).toEqual({
      stdout:
        'total 1\n-r-xr-xr-x    1 root     root            14 Nov 14  2023 README.TXT\n' +
        '/dev/sr0 /mnt iso9660 ro,relatime,norock,check=r,map=n,blocksize=2048,iocharset=utf8 0 0\n',
      stderr: '',
      rc: 0,
    });
    expect(g.log).toEqual(['ISO 9660 Extensions: Microsoft Joliet Level 3']);
    const r = await g.run('mount -t iso9660 -o ro,norock,nojoliet /dev/sr0 /mnt && ls /mnt && cat /mnt/readme.txt; umount /mnt');
    expect(r.stdout).toBe('readme.txt\noracle cd one\n');
  });

  it('honours mode=, dmode=, uid= and gid= where Rock Ridge does not override them', async () => {
    const g = isoGuest({ sr0: CD });
    await g.run('mount -t iso9660 -o ro,norock,mode=0640,dmode=0750,uid=5,gid=6 /dev/sr0 /mnt');
    const sys = g.vfs.syscalls();
    const f = await sys.stat('/mnt/README.TXT');
    expect([f.mode, f.uid, f.gid]).toEqual([0o100640, 5, 6]);
    expect((await sys.stat('/mnt')).mode).toBe(0o40750);
    expect((await sys.stat('/mnt')).nlink).toBe(1); // isofs says 1 for directories without Rock Ridge
  });

  it('falls back to a read-only mount silently when ro is not given', async () => {
    const g = isoGuest({ sr0: CD });
    expect(await g.run('mount -t iso9660 /dev/sr0 /mnt')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect((await g.run('cat /proc/mounts')).stdout).toMatch(/^\/dev\/sr0 \/mnt iso9660 ro,relatime,/);
  });

  it('prints busybox errors with mount(2)\'s errno and exits 255', async () => {
    const g = isoGuest({ sr0: CD, sda: new Uint8Array(1 << 20) });
    expect(await g.run('mount -t iso9660 -o ro /dev/sr9 /mnt')).toEqual({
      stdout: '',
      stderr: 'mount: mounting /dev/sr9 on /mnt failed: No such file or directory\n',
      rc: 255,
    });
    // A zero-filled disk: no volume descriptor; MS_SILENT keeps the kernel quiet.
    expect((await g.run('mount -t iso9660 -o ro /dev/sda /mnt')).stderr).toBe('mount: mounting /dev/sda on /mnt failed: Invalid argument\n');
    expect(g.log).toEqual([]);
    expect(g.openCount.get('sda')).toBe(0);
    expect((await g.run('mount -t ext4 -o ro /dev/sr0 /mnt')).stderr).toBe('mount: mounting /dev/sr0 on /mnt failed: No such device\n');
    expect((await g.run('mount -t iso9660 -o ro /etc/passwd /mnt')).stderr).toBe("mount: can't setup loop device: No such file or directory\n");
    expect((await g.run('mount -t iso9660 -o ro,bogus /dev/sr0 /mnt')).stderr).toBe('mount: mounting /dev/sr0 on /mnt failed: Invalid argument\n');
    expect(await g.run('umount /mnt')).toEqual({ stdout: '', stderr: "umount: can't unmount /mnt: Invalid argument\n", rc: 1 });
    expect((await g.run('umount /nowhere')).stderr).toBe("umount: can't unmount /nowhere: No such file or directory\n");
  });

  it('refuses a non-root user as mount(2) does (EPERM)', async () => {
    const g = isoGuest({ sr0: CD });
    const registry = createBusyboxRegistry().add(mountEntry).add(umountEntry);
    const user = new Shell({ sys: g.vfs.syscalls({ uid: 1000, gid: 1000 }), registry });
    expect(await user.run('mount -t iso9660 -o ro /dev/sr0 /mnt')).toEqual({ stdout: '', stderr: 'mount: permission denied (are you root?)\n', rc: 1 });
  });

  it('reports a drive without medium as the open failed', async () => {
    const g = isoGuest({ sr0: null });
    expect((await g.run('mount -t iso9660 -o ro /dev/sr0 /mnt')).stderr).toBe('mount: mounting /dev/sr0 on /mnt failed: No medium found\n');
  });

  it('mounts by LABEL=', async () => {
    const g = isoGuest({ sr0: CD });
    expect((await g.run('mount -t iso9660 -o ro LABEL=ORACLECD /mnt && cat /mnt/README.TXT')).stdout).toBe('oracle cd one\n');
    expect((await g.run('cat /proc/mounts')).stdout).toMatch(/^\/dev\/sr0 \/mnt /);
  });
});

describe('isofs helpers', () => {
  it('translates ISO 9660 names as map=normal does', () => {
    const b = (s: string): Uint8Array => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
    expect(isofsNameTranslate(b('README.TXT;1'))).toBe('readme.txt');
    expect(isofsNameTranslate(b('NOEXT.;1'))).toBe('noext');
    expect(isofsNameTranslate(b('A;B;1'))).toBe('a.b');
    expect(jolietName(Uint8Array.from([0, 0x41, 0, 0x2e, 0, 0x3b, 0, 0x31]))).toBe('A');
  });

  it('converts recording dates with their GMT offset', () => {
    // 2023-11-14 22:13:20, offset +1 h (4 × 15 min) → one hour earlier in UTC.
    expect(isoDate(Uint8Array.from([123, 11, 14, 22, 13, 20, 4]), 0)).toBe(1_700_000_000 - 3600);
    // An offset beyond ±13 h is ignored.
    expect(isoDate(Uint8Array.from([123, 11, 14, 22, 13, 20, 60]), 0)).toBe(1_700_000_000);
  });

  it('parses options like isofs_parse_options and refuses unknown ones', () => {
    expect(parseIsofsOptions('norock,mode=0444,block=2048')).toMatchObject({ rock: false, fmode: 0o444, blocksize: 2048 });
    expect(parseIsofsOptions('block=4096')).toBeNull();
    expect(parseIsofsOptions('nosuchoption')).toBeNull();
  });
});

describe('isofs round trip', () => {
  const nameArb = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,7}(\.[A-Z0-9]{1,3})?$/);
  it('every generated file reads back with its name, contents, size and mode', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ name: nameArb, data: fc.uint8Array({ maxLength: 5000 }), mode: fc.constantFrom(0o444, 0o555, 0o640) }), {
          minLength: 1,
          maxLength: 6,
          selector: (e) => e.name,
        }),
        fc.boolean(),
        async (files, rockRidge) => {
          const iso = buildIso({ volumeId: 'TEST', created: '2024010203040500', mtime: 1_704_164_645, rockRidge, joliet: true, entries: [{ name: 'SUB', entries: files }] });
          const g = isoGuest({ sr0: iso });
          expect((await g.run('mount -t iso9660 -o ro /dev/sr0 /mnt')).rc).toBe(0);
          const sys = g.vfs.syscalls();
          expect(await sys.readdir('/mnt/SUB').then((d) => d.map((x) => x.name).sort())).toEqual(files.map((f) => f.name).sort());
          for (const f of files) {
            const path = `/mnt/SUB/${f.name}`;
            const st = await sys.stat(path);
            expect(st.size).toBe(f.data.length);
            expect(st.mtime).toBe(1_704_164_645);
            expect(st.mode & 0o7777).toBe(rockRidge ? f.mode : 0o555);
            const fd = await sys.open(path, 0);
            expect(await sys.read(fd, 10_000)).toEqual(f.data);
            await sys.close(fd);
          }
          expect(g.log.includes('ISO 9660 Extensions: RRIP_1991A')).toBe(rockRidge);
        },
      ),
      { numRuns: 40 },
    );
  });
});
