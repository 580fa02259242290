// The whole machine: QEMU argv → host device models + guest kernel, meeting only on the wire.
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import type { Machine } from '../../src/index.ts';
import { SEED_ARGS, seedImages } from '../../src/machine/seed.ts';

async function seedMachine(): Promise<Machine> {
  const r = await createMachine(SEED_ARGS, { hostFs: seedImages() });
  if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
  await r.machine.boot();
  return r.machine;
}

describe('the seed machine', () => {
  it('boots to what lsscsi, by-path and sysfs show on the real guest', async () => {
    const m = await seedMachine();
    expect((await m.guest('lsscsi -g')).stdout).toBe(
      '[0:0:0:0]    disk    QEMU     QEMU HARDDISK    2.5+  /dev/sda   /dev/sg0 \n' +
        '[0:0:0:1]    cd/dvd  QEMU     QEMU CD-ROM      2.5+  /dev/sr0   /dev/sg1 \n',
    );
    expect((await m.guest('ls /dev/disk/by-path')).stdout).toBe('pci-0000:00:04.0-scsi-0:0:0:0\npci-0000:00:04.0-scsi-0:0:0:1\n');
    expect((await m.guest('readlink /sys/class/scsi_host/host0')).stdout).toBe(
      '../../devices/pci0000:00/0000:00:04.0/virtio0/host0/scsi_host/host0\n',
    );
    // The features Linux 6.1 negotiates with QEMU 7.2 (captured): HOTPLUG, CHANGE, INDIRECT_DESC,
    // EVENT_IDX, VERSION_1, RING_RESET.
    expect((await m.guest('cat /sys/bus/virtio/devices/virtio0/features')).stdout).toBe(
      '0110000000000000000000000000110010000000100000000000000000000000\n',
    );
    const dmesg = (await m.guest('dmesg')).stdout;
    expect(dmesg).toMatch(/\] scsi 0:0:0:0: Direct-Access {5}QEMU {5}QEMU HARDDISK {4}2\.5\+ PQ: 0 ANSI: 5\n/);
    expect(dmesg).toMatch(/\] sd 0:0:0:0: \[sda\] 131072 512-byte logical blocks: \(67\.1 MB\/64\.0 MiB\)\n/);
  });

  it('refuses a malformed scan string with EINVAL as busybox reports it, and an unprivileged user with EACCES', async () => {
    const m = await seedMachine();
    const bad = await m.guest('echo "x y" > /sys/class/scsi_host/host0/scan');
    expect([bad.stderr, bad.rc]).toEqual(['sh: write error: Invalid argument\n', 1]);
    const nobody = await m.guest("su nobody -s /bin/sh -c 'echo 1 > /sys/bus/scsi/devices/0:0:0:0/delete'");
    expect(nobody.rc).not.toBe(0);
    expect(nobody.stderr).toMatch(/Permission denied/);
    expect((await m.guest('ls /sys/bus/scsi/devices')).stdout).toContain('0:0:0:0');
  });

  it('gives the same transcript for the same command line and script', async () => {
    const run = async (): Promise<string> => {
      const m = await seedMachine();
      const out: string[] = [];
      for (const l of ['dmesg', 'cat /proc/interrupts', 'ls -lR /dev/disk']) out.push((await m.guest(l)).stdout);
      return out.join('');
    };
    expect(await run()).toBe(await run());
  });

  it('hot-plugs and unplugs a disk through the monitor, and the guest follows', async () => {
    const m = await seedMachine();
    const vol = (await import('../../src/machine/seed.ts')).seedImages;
    void vol;
    expect((await m.monitor('drive_add 0 file=/images/disk.img,if=none,id=d1,format=raw,readonly=on')).rc).toBe(0);
    expect((await m.monitor('device_add scsi-hd,drive=d1,id=hp1,scsi-id=1,lun=0')).rc).toBe(0);
    expect((await m.guest('lsscsi')).stdout).toContain('[0:0:1:0]    disk    QEMU     QEMU HARDDISK    2.5+  /dev/sdb ');
    expect((await m.monitor('device_del hp1')).rc).toBe(0);
    const after = (await m.guest('lsscsi')).stdout;
    expect(after).not.toContain('[0:0:1:0]');
    expect((await m.guest('ls /sys/bus/scsi/devices')).stdout).not.toContain('target0:0:1');
  });

  it('counts each command the disk saw: 86 by the end of coldplug on the captured guest; sg_inq -H asks for the VPD list too', async () => {
    const r = await createMachine(['-m', '512', '-smp', '2', '-drive', 'file=/images/disk.img,if=none,format=raw,id=d0', '-device', 'virtio-scsi-pci,id=scsi0', '-device', 'scsi-hd,drive=d0'], {
      hostFs: seedImages(),
    });
    if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
    const m = r.machine;
    await m.boot();
    // 18 at the scan (INQUIRY, VPD pages, REPORT LUNS), 16 from sd's probe, 4 from scsi_id and 48 reads of
    // udev's blkid probing an empty disk (all in the captures' QEMU trace).
    expect((await m.guest('cat /sys/block/sda/device/iorequest_cnt')).stdout).toBe('0x56\n');
    // sg_inq.c's std_inq_process fetches the unit serial number whenever no --len is given, even for -H.
    await m.guest('sg_inq -H /dev/sg0 > /dev/null');
    expect((await m.guest('cat /sys/block/sda/device/iorequest_cnt')).stdout).toBe('0x58\n');
  });
});
