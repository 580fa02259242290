// Models src/udev/ata_id/ata_id.c (systemd v252), the part a SCSI-attached device reaches: a standard INQUIRY
// (36 bytes) for the peripheral type, then the ATA IDENTIFY (PACKET) DEVICE command wrapped in ATA PASS-THROUGH
// (16) through SG_IO, then the legacy HDIO_GET_IDENTITY ioctl. QEMU's emulated disks and CD-ROMs refuse the
// pass-through (ILLEGAL REQUEST, invalid opcode) and the sd/sr drivers know no HDIO ioctl, so ata_id fails and
// 60-persistent-storage.rules goes on to scsi_id — the commands still show in the trace, which is why it is
// run at all. Decoding an IDENTIFY answer (ID_ATA_*) is not modelled: a device that answers is reported as a
// failure too.

import { isErrno } from '../kernel/errno.ts';
import { O_NONBLOCK, O_RDONLY, type Syscalls } from '../kernel/syscalls.ts';
import { SG_DXFER_FROM_DEV, SG_IO, sgIoHdr, type SgIoHdrOut } from '../kernel/uapi/sg.ts';

/** linux/hdreg.h */
export const HDIO_GET_IDENTITY = 0x030d;

const ATA_IDENTIFY_DEVICE = 0xec;
const ATA_IDENTIFY_PACKET_DEVICE = 0xa1;

async function sgio(sys: Syscalls, fd: number, cdb: number[], len: number): Promise<SgIoHdrOut | null> {
  try {
    const out = (await sys.ioctl(fd, SG_IO, sgIoHdr(new Uint8Array(cdb), SG_DXFER_FROM_DEV, len, 10_000))) as SgIoHdrOut;
    return out.status === 0 && out.hostStatus === 0 && (out.driverStatus & 0xf) === 0 ? out : null;
  } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
}

/** ata_id --export on `devnode`: null when it exits non-zero (always, on the devices modelled here). */
export async function ataId(sys: Syscalls, devnode: string): Promise<Array<[string, string]> | null> {
  let fd: number;
  try {
    fd = await sys.open(devnode, O_RDONLY | O_NONBLOCK);
  } catch (e) {
    if (isErrno(e)) return null;
    throw e;
  }
  try {
    const inq = await sgio(sys, fd, [0x12, 0, 0, 0, 36, 0], 36);
    if (inq !== null) {
      const pdt = inq.dxferp[0]! & 0x1f;
      if (pdt === 0x00 || pdt === 0x05) {
        // SAT ATA PASS-THROUGH(16): protocol 4 (PIO data-in), T_DIR from device, BYT_BLOK, T_LENGTH in
        // the sector count; one 512-byte sector of IDENTIFY data.
        const command = pdt === 0x05 ? ATA_IDENTIFY_PACKET_DEVICE : ATA_IDENTIFY_DEVICE;
        const id = await sgio(sys, fd, [0x85, 4 << 1, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, command, 0], 512);
        if (id !== null) return null;
      }
    }
    try {
      await sys.ioctl(fd, HDIO_GET_IDENTITY, new Uint8Array(512));
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
    return null;
  } finally {
    try {
      await sys.close(fd);
    } catch (e) {
      if (!isErrno(e)) throw e;
    }
  }
}
