import { describe, expect, it } from 'vitest';
import { SgDriver } from '../../src/highlevel/sg.ts';
import { scanHost, removeDevice } from '../../src/midlayer/scsi_scan.ts';
import { O_RDWR } from '../../src/kernel/syscalls.ts';
import { SG_DXFER_FROM_DEV, SG_DXFER_NONE, SG_GET_VERSION_NUM, SG_IO, sgIoHdr } from '../../src/kernel/uapi/sg.ts';
import type { SgIoHdrOut } from '../../src/kernel/uapi/sg.ts';
import { setup } from '../fakes/midlayer_setup.ts';

describe('sg', () => {
  it('attaches to every LU in visibility order with char major 21 and a generic link', async () => {
    const m = await setup(
      [
        [0, 0, 0],
        [1, 0, 5],
      ],
      {},
      (mod) => SgDriver.register(mod),
    );
    await m.run(scanHost(m.mod, m.host));
    expect(m.k.log).toContain('scsi 0:0:0:0: Attached scsi generic sg0 type 0');
    expect(m.k.log).toContain('scsi 0:0:1:0: Attached scsi generic sg1 type 5');
    expect(await m.sys.readlink('/sys/bus/scsi/devices/0:0:1:0/generic')).toBe('scsi_generic/sg1');
    expect(await m.read('/sys/class/scsi_generic/sg1/dev')).toBe('21:1\n');
    const st = await m.sys.stat('/dev/sg1');
    expect([st.rdevMajor, st.rdevMinor, st.mode & 0o7777]).toEqual([21, 1, 0o600]);
    // Removing sg0's LU frees number 0 for the next device.
    await m.run(removeDevice(m.mod, m.host.devices[0]!));
    await expect(m.sys.stat('/dev/sg0')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('answers SG_IO with data, status, and sense as sg_io_hdr reports them', async () => {
    const m = await setup([[0, 0, 0]], {}, (mod) => SgDriver.register(mod));
    await m.run(scanHost(m.mod, m.host));
    const fd = await m.sys.open('/dev/sg0', O_RDWR);
    expect(await m.sys.ioctl(fd, SG_GET_VERSION_NUM)).toBe(30536);
    const inq = (await m.run(m.sys.ioctl(fd, SG_IO, sgIoHdr(Uint8Array.of(0x12, 0, 0, 0, 96, 0), SG_DXFER_FROM_DEV, 96, 20000)))) as SgIoHdrOut;
    expect(inq.status).toBe(0);
    expect(inq.resid).toBe(96 - 36);
    expect(String.fromCharCode(...inq.dxferp.subarray(16, 29))).toBe('QEMU HARDDISK');
    // The fake answers the first non-INQUIRY command with the power-on UA, then 5/20/00 for this opcode.
    const first = (await m.run(m.sys.ioctl(fd, SG_IO, sgIoHdr(Uint8Array.of(0x00, 0, 0, 0, 0, 0), SG_DXFER_NONE, 0, 20000)))) as SgIoHdrOut;
    expect([first.status, first.maskedStatus, first.driverStatus, first.sbLenWr, first.sbp[2], first.sbp[12]]).toEqual([2, 1, 8, 18, 6, 0x29]);
    const bad = (await m.run(m.sys.ioctl(fd, SG_IO, sgIoHdr(Uint8Array.of(0xa3, 0x0c, 1, 0x12, 0, 0, 0, 0, 0, 10, 0, 0), SG_DXFER_FROM_DEV, 10, 20000)))) as SgIoHdrOut;
    expect([bad.status, bad.sbp[2], bad.sbp[12], bad.info]).toEqual([2, 5, 0x20, 1]);
    await expect(m.sys.ioctl(fd, SG_IO, sgIoHdr(Uint8Array.of(0, 0, 0, 0), SG_DXFER_NONE, 0, 1000))).rejects.toMatchObject({ code: 'EMSGSIZE' });
  });
});
