// Ours: the seed paper's example machine — one virtio-scsi-pci, a 64 MiB raw scsi-hd at 0:0 and a
// small ISO on a scsi-cd at 0:1 — with its images made in memory (memfs).

import { Volume } from 'memfs';
import { buildIso } from './iso_image.ts';
import type { HostFs } from './machine.ts';

/** The seed's "boot guest with multi virtio disks in the same scsi bus", with -device scsi-hd/scsi-cd. */
export const SEED_ARGS = [
  '-machine', 'pc', '-m', '512', '-smp', '2',
  '-drive', 'file=/images/disk.img,if=none,format=raw,rerror=stop,werror=stop,cache=none,id=scsi0',
  '-device', 'virtio-scsi-pci,id=scsi0',
  '-device', 'scsi-hd,drive=scsi0,scsi-id=0,lun=0,bootindex=0',
  '-drive', 'file=/images/cd.iso,if=none,format=raw,media=cdrom,readonly=on,id=cd',
  '-device', 'scsi-cd,drive=cd,scsi-id=0,lun=1',
];

/** A memfs volume holding the two images. */
export function seedImages(): HostFs {
  const vol = new Volume();
  vol.mkdirSync('/images');
  vol.writeFileSync('/images/disk.img', new Uint8Array(0));
  vol.truncateSync('/images/disk.img', 64 * 1024 * 1024);
  const iso = buildIso({
    volumeId: 'SEEDCD',
    created: '2026112500000000',
    mtime: 1_764_028_800,
    entries: [{ name: 'README.TXT', data: new TextEncoder().encode('virtio-scsi-sim seed CD\n') }],
  });
  vol.writeFileSync('/images/cd.iso', iso);
  return vol as unknown as HostFs;
}
