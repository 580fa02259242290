// The whole host side through the wire: the mini guest driver writes real descriptors, QEMU's
// virtio-scsi HBA parses them, the real SCSI bus and scsi-hd/scsi-cd answer. Bytes are checked
// against what the real QEMU 7.2 returned in the goldens.
import { describe, expect, it } from 'vitest';
import { FlatGuestMemory } from '../../../src/platform/guest_memory.ts';
import { PciBus } from '../../../src/platform/pci_bus.ts';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { realizeVirtioScsiPci } from '../../../src/host/virtio/virtio-scsi-pci.ts';
import { QemuScsiBus } from '../../../src/host/scsi/scsi-bus.ts';
import { ScsiDisk, createScsiCd, createScsiHd } from '../../../src/host/scsi/scsi-disk.ts';
import { VIRTIO_SCSI_S_BAD_TARGET, VIRTIO_SCSI_S_OK, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET } from '../../../src/protocol/virtio_scsi.ts';
import { MiniVirtioDriver } from '../../fakes/mini_virtio_driver.ts';
import { fixtureBackend, memoryBackend } from '../../fakes/memory_backend.ts';

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

async function machine() {
  const mem = new FlatGuestMemory(8 << 20);
  const loop = new EventLoop();
  const pci = new PciBus();
  const bus = new QemuScsiBus({});
  const hdImg = memoryBackend(loop, 64 << 20, { name: 'd0' });
  const hd = createScsiHd({ drive: hdImg.blk, scsiId: 0, lun: 0, qdevId: 'hd0' });
  const cdImg = fixtureBackend(loop, 'seed_disk_and_cd_same_bus.cd.iso', { name: 'cd0', readOnly: true });
  const cd = createScsiCd({ drive: cdImg.blk, scsiId: 0, lun: 1, qdevId: 'cd0' });
  if (!(hd instanceof ScsiDisk) || !(cd instanceof ScsiDisk)) throw new Error('realize');
  bus.attach(hd);
  bus.attach(cd);
  const drv = new MiniVirtioDriver(mem, loop, 4);
  drv.pci = pci;
  const r = realizeVirtioScsiPci({}, { mem, loop, msi: drv, bus, smpCpus: 2, log: () => {} });
  if (!r.ok) throw new Error(r.error);
  r.dev.attach(pci, 4);
  drv.probe();
  drv.init();
  return { drv, hdImg };
}

describe('host side end to end', () => {
  it('answers INQUIRY and VPD pages over the ring exactly as QEMU 7.2 did', async () => {
    const { drv } = await machine();
    // Standard INQUIRY, 36 bytes: `sg_inq -r` of the golden's disk.
    const std = await drv.doCommand(0, 0, [0x12, 0, 0, 0, 36, 0], undefined, 36);
    expect(std?.response).toBe(VIRTIO_SCSI_S_OK);
    expect(hex(std!.dataIn.subarray(0, 8))).toBe('00 00 05 12 1f 00 00 12');
    expect(String.fromCharCode(...std!.dataIn.subarray(8, 36))).toBe('QEMU    QEMU HARDDISK   2.5+');
    // VPD 0x83 of drive `d0`: one ASCII vendor-specific designator.
    const pg83 = await drv.doCommand(0, 0, [0x12, 1, 0x83, 0, 255, 0], undefined, 255);
    expect(hex(pg83!.dataIn.subarray(0, 10))).toBe('00 83 00 06 02 00 00 02 64 30');
    // The CD at LUN 1: type 5, removable.
    const cdInq = await drv.doCommand(0, 1, [0x12, 0, 0, 0, 36, 0], undefined, 36);
    expect(hex(cdInq!.dataIn.subarray(0, 8))).toBe('05 80 05 12 1f 00 00 12');
  });

  it('reports the power-on unit attention, then reads and writes the image', async () => {
    const { drv, hdImg } = await machine();
    const tur = await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    expect(tur?.status).toBe(2);
    expect(hex(tur!.sense)).toBe('70 00 06 00 00 00 00 0a 00 00 00 00 29 00 00 00 00 00');
    const data = new Uint8Array(512).map((_, i) => i & 0xff);
    const w = await drv.doCommand(0, 0, [0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0], data);
    expect([w?.response, w?.status]).toEqual([VIRTIO_SCSI_S_OK, 0]);
    await drv.loop.runUntilIdle();
    expect(hdImg.bytes().subarray(8 * 512, 9 * 512)).toEqual(data);
    const r = await drv.doCommand(0, 0, [0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0], undefined, 512);
    expect(r?.dataIn).toEqual(data);
  });

  it('answers an empty target with BAD_TARGET and a LU reset with UA 29/00 afterwards', async () => {
    const { drv } = await machine();
    const bad = await drv.doCommand(5, 0, [0x12, 0, 0, 0, 36, 0], undefined, 36);
    expect(bad?.response).toBe(VIRTIO_SCSI_S_BAD_TARGET);
    await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]); // consume the power-on UA
    expect((await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]))?.status).toBe(0);
    expect((await drv.tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0))?.response).toBe(0);
    const after = await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    expect([after?.status, after?.sense[12], after?.sense[13]]).toEqual([2, 0x29, 0]);
  });
});
