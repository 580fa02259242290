// A CD change on the whole machine, as the README shows it: udev holds the tray locked, a plain
// `eject` is refused, `eject -f` and `change` swap the disc, the guest notices by polling (udev
// re-reads the label), and mount autoloads isofs through request_module.
import { describe, expect, it } from 'vitest';
import { Volume } from 'memfs';
import { createMachine } from '../../src/index.ts';
import type { HostFs } from '../../src/index.ts';
import { buildIso } from '../../src/machine/iso_image.ts';

const disc = (label: string, text: string): Uint8Array =>
  buildIso({ volumeId: label, created: '2026112500000000', mtime: 1_764_028_800, entries: [{ name: 'README.TXT', data: new TextEncoder().encode(text) }] });

describe('a CD change', () => {
  it('eject is refused while udev holds the lock, eject -f and change swap the disc, the label follows', async () => {
    const vol = new Volume();
    vol.mkdirSync('/w');
    vol.writeFileSync('/w/disc1.iso', disc('DISC1', 'first\n'));
    vol.writeFileSync('/w/disc2.iso', disc('DISC2', 'second\n'));
    const r = await createMachine(
      ['-drive', 'file=/w/disc1.iso,if=none,format=raw,media=cdrom,readonly=on,id=cd', '-device', 'virtio-scsi-pci', '-device', 'scsi-cd,drive=cd'],
      { hostFs: vol as unknown as HostFs },
    );
    if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
    const m = r.machine;
    await m.boot();
    expect((await m.guest('ls /dev/disk/by-label')).stdout).toBe('DISC1\n');

    expect((await m.monitor('eject cd')).stdout).toBe("Error: Device 'cd' is locked and force was not specified, wait for tray to open and try again\n");
    expect((await m.monitor('eject -f cd')).stdout).toBe('');
    const none = await m.guest('dd if=/dev/sr0 of=/dev/null bs=2048 count=1');
    expect([none.stderr, none.rc]).toEqual(["dd: can't open '/dev/sr0': No medium found\n", 1]);

    expect((await m.monitor('change cd /w/disc2.iso raw')).stdout).toBe('');
    // The block layer polls the drive every 2 s (udev sets events_dfl_poll_msecs): after that the
    // media-change uevent has made udev probe the new disc.
    await m.guest('sleep 3');
    expect((await m.guest('ls /dev/disk/by-label')).stdout).toBe('DISC2\n');

    expect((await m.guest('lsmod | grep -c isofs')).stdout).toBe('0\n');
    const mnt = await m.guest('mount -t iso9660 /dev/sr0 /mnt && cat /mnt/readme.txt');
    expect([mnt.stdout, mnt.rc]).toEqual(['second\n', 0]);
    expect((await m.guest('lsmod | grep -c isofs')).stdout).toBe('1\n');
  });
});
