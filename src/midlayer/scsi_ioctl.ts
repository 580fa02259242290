// Models drivers/scsi/scsi_ioctl.c (Linux 6.1): the SG_IO path shared by sg and the block device
// nodes of sd and sr (scsi_ioctl → sg_io), and the informational SG_* ioctls a block node answers.

import { Errno } from '../kernel/errno.ts';
import * as uapi from '../kernel/uapi/sg.ts';
import type { SgIoHdrIn, SgIoHdrOut } from '../kernel/uapi/sg.ts';
import type { ScsiMod } from './scsi.ts';
import type { ScsiDevice } from './scsi_device.ts';
import { scsiExecute } from './scsi_lib.ts';
import { scsiEhIoctlReset } from './scsi_eh.ts';

const DRIVER_SENSE = 0x08;

/** sg_io: one SCSI command from userland, never retried, with sg_io_hdr's outputs. */
export async function sgIo(mod: ScsiMod, sdev: ScsiDevice, hdr: SgIoHdrIn, defaultTimeoutMs: number): Promise<SgIoHdrOut> {
  if (hdr.interfaceId !== 0x53) throw new Errno('ENOSYS');
  if (hdr.cmdp.length < 6 || hdr.cmdp.length > 252) throw new Errno('EMSGSIZE');
  const start = mod.kernel.loop.now();
  const dir = hdr.dxferDirection === uapi.SG_DXFER_TO_DEV ? 'to-dev' : hdr.dxferDirection === uapi.SG_DXFER_FROM_DEV ? 'from-dev' : 'none';
  const dataOut = dir === 'to-dev' ? (hdr.dxferp ?? new Uint8Array(hdr.dxferLen)).subarray(0, hdr.dxferLen) : undefined;
  const r = await scsiExecute(mod, sdev, {
    cdb: hdr.cmdp,
    dir,
    length: dir === 'none' ? 0 : hdr.dxferLen,
    ...(dataOut ? { dataOut } : {}),
    timeout: (hdr.timeout || defaultTimeoutMs) / 1000,
    retries: 0,
  });
  const status = r.result & 0xff;
  const hostStatus = (r.result >>> 16) & 0xff;
  const senseValid = (r.sense[0]! & 0x70) === 0x70;
  // The sense copied out is what the device reported: 8 + additional length, bounded by the caller.
  const sbLenWr = senseValid ? Math.min(8 + r.sense[7]!, hdr.mxSbLen, uapi.SCSI_SENSE_BUFFERSIZE) : 0;
  const driverStatus = senseValid ? DRIVER_SENSE : 0;
  const resid = dir === 'none' ? 0 : r.resid;
  return {
    dxferp: dir === 'from-dev' ? r.data.slice(0, hdr.dxferLen - resid) : new Uint8Array(0),
    sbp: r.sense.slice(0, sbLenWr),
    status,
    maskedStatus: (status >> 1) & 0x7f,
    msgStatus: 0,
    sbLenWr,
    hostStatus,
    driverStatus,
    resid,
    duration: Math.floor((mod.kernel.loop.now() - start) / 1e6),
    info: status || hostStatus || driverStatus ? uapi.SG_INFO_CHECK : uapi.SG_INFO_OK,
  };
}

/**
 * scsi_ioctl_reset (SG_SCSI_RESET): the reset goes through the error handler's own rungs
 * (scsi_eh.ts), escalating unless SG_SCSI_RESET_NO_ESCALATE is set. The kernel has no process table
 * here, so the hung-task report of a reset that never returns names the tool that asks for it.
 */
export async function scsiIoctlReset(mod: ScsiMod, sdev: ScsiDevice, arg: number): Promise<number> {
  const r = await scsiEhIoctlReset(mod, sdev, arg, { comm: 'sg_reset', pid: 0 });
  if (r !== 0) throw new Errno(r);
  return 0;
}

/** scsi_ioctl for a block node of a SCSI disk or CD: undefined when the request is not a SCSI one. */
export function scsiIoctl(mod: ScsiMod, sdev: ScsiDevice, request: number, arg: unknown): unknown {
  switch (request) {
    case uapi.SG_IO:
      if (sdev.state === 'deleted' || sdev.state === 'offline') return Promise.reject(new Errno('ENXIO'));
      return sgIo(mod, sdev, arg as SgIoHdrIn, uapi.SG_DEFAULT_TIMEOUT_MS);
    case uapi.SG_GET_VERSION_NUM:
      return uapi.SG_VERSION_NUM;
    case uapi.SG_SCSI_RESET:
      return scsiIoctlReset(mod, sdev, Number(arg));
    case uapi.SG_GET_TIMEOUT:
      return Math.floor(uapi.SG_DEFAULT_TIMEOUT_MS / 10);
    case uapi.SG_SET_TIMEOUT:
      return 0;
    case uapi.SG_EMULATED_HOST:
      return 0;
    case uapi.SG_GET_RESERVED_SIZE:
      return sdev.host.maxSectors * 512;
    case uapi.SG_SET_RESERVED_SIZE:
      return 0;
    case uapi.SG_GET_SCSI_ID:
      return {
        hostNo: sdev.host.hostNo,
        channel: sdev.channel,
        scsiId: sdev.id,
        lun: sdev.lun,
        scsiType: sdev.type,
        hCmdPerLun: sdev.host.cmdPerLun,
        dQueueDepth: sdev.queueDepth,
      };
    default:
      return undefined;
  }
}
