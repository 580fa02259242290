// Library users follow every CDB and TMF through MachineOptions.onTrace: QEMU's trace events with
// their arguments and virtual time, whether or not -trace selected them.
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import type { TraceEvent } from '../../src/index.ts';
import { SEED_ARGS, seedImages } from '../../src/machine/seed.ts';

describe('trace events in the library', () => {
  it('sees the scan, each command and a LOGICAL UNIT RESET TMF, in time order', async () => {
    const events: TraceEvent[] = [];
    const r = await createMachine(['-drive', 'file=/images/disk.img,if=none,format=raw,id=d0', '-device', 'virtio-scsi-pci', '-device', 'scsi-hd,drive=d0'], {
      hostFs: seedImages(),
      onTrace: (e) => events.push(e),
    });
    if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
    await r.machine.boot();
    const reqs = events.filter((e) => e.event === 'virtio_scsi_cmd_req');
    // Linux's scan starts with INQUIRY of LUN 0, then the VPD pages, then REPORT LUNS (the captures'
    // modprobe:virtio_scsi phase).
    expect(reqs[0]?.args['cmd']).toBe(0x12);
    expect(reqs[0]?.line).toMatch(/^virtio_scsi_cmd_req virtio_scsi_cmd_req lun=0 tag=0x[0-9a-f]+ cmd=0x12$/);
    const firstReportLuns = reqs.findIndex((e) => e.args['cmd'] === 0xa0);
    expect(firstReportLuns).toBeGreaterThan(0);
    expect(reqs.slice(0, firstReportLuns).every((e) => e.args['cmd'] === 0x12)).toBe(true);
    const n = events.length;
    expect((await r.machine.guest('sg_reset -d /dev/sg0')).rc).toBe(0);
    const tmf = events.slice(n).filter((e) => e.event === 'virtio_scsi_tmf_req');
    expect(tmf).toHaveLength(1);
    expect(tmf[0]!.args['subtype']).toBe(5); // VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET
    for (let i = 1; i < events.length; i++) expect(events[i]!.timeNs).toBeGreaterThanOrEqual(events[i - 1]!.timeNs);
  });

  it('each open and close of the CD is an event check (GESN + TUR), as in the capture: udevd holds the disk, scsi_id opens twice', async () => {
    const events: TraceEvent[] = [];
    const r = await createMachine(SEED_ARGS, { hostFs: seedImages(), onTrace: (e) => events.push(e) });
    if (!('machine' in r)) throw new Error('error' in r ? r.error : r.help);
    await r.machine.boot();
    const ops = events
      .filter((e) => e.event === 'virtio_scsi_cmd_req' && e.args['lun'] === 1)
      .map((e) => Number(e.args['cmd']).toString(16).padStart(2, '0'))
      .join(' ');
    // ata_id: open (check), INQUIRY, ATA PASS-THROUGH(16), close (check).
    expect(ops).toContain('4a 00 12 85 4a 00');
    // scsi_id: scsi_std_inquiry's open and close, then scsi_get_serial's (VPD 0x00, 0x80, 0x83).
    expect(ops).toContain('4a 00 12 4a 00 4a 00 12 12 12 4a 00');
  });
});
