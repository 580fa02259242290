// Models drivers/scsi/sg.c (Linux 6.1), reduced to its synchronous face: sg attaches to every SCSI
// device as a class interface (sgN in the order LUs become visible, lowest free number), creates the
// char node 21:N and the `generic` link, and serves SG_IO and the informational ioctls.

import { Errno } from '../kernel/errno.ts';
import { Ida } from '../kernel/ida.ts';
import { KERN_NOTICE } from '../kernel/kernel.ts';
import type { FileOps } from '../kernel/fs.ts';
import * as uapi from '../kernel/uapi/sg.ts';
import type { SgIoHdrIn, SgIoHdrOut, SgScsiId } from '../kernel/uapi/sg.ts';
import type { ScsiInterface, ScsiMod } from '../midlayer/scsi.ts';
import type { ScsiDevice } from '../midlayer/scsi_device.ts';
import { scsiIoctlReset, sgIo } from '../midlayer/scsi_ioctl.ts';
import { sdevPrintk } from '../midlayer/scsi_logging.ts';
import { Device } from '../sysfs/core.ts';
import { createLink, removeNode } from '../sysfs/kernfs.ts';

export const SCSI_GENERIC_MAJOR = 21;
const SG_MAX_DEVS = 32768;

interface SgDevice {
  readonly index: number;
  readonly sdev: ScsiDevice;
  readonly dev: Device;
  detaching: boolean;
  timeoutMs: number;
}

export class SgDriver implements ScsiInterface {
  readonly name = 'sg';
  readonly #mod: ScsiMod;
  readonly #byIndex = new Map<number, SgDevice>();
  readonly #indexes = new Ida();

  constructor(mod: ScsiMod) {
    this.#mod = mod;
  }

  /** init_sg: char major 21, the scsi_generic class, the class interface. */
  static register(mod: ScsiMod): SgDriver {
    const sg = new SgDriver(mod);
    mod.kernel.devs.registerChrdev(SCSI_GENERIC_MAJOR, 'sg', (minor, flags) => sg.open(minor, flags));
    mod.kernel.dm.cls('scsi_generic');
    mod.interfaces.push(sg);
    return sg;
  }

  unregister(): void {
    const mod = this.#mod;
    for (const d of [...this.#byIndex.values()]) this.removeDev(d.sdev);
    mod.interfaces.splice(mod.interfaces.indexOf(this), 1);
    mod.kernel.devs.unregisterChrdev(SCSI_GENERIC_MAJOR, 'sg');
  }

  /** sg_add_device */
  addDev(sdev: ScsiDevice): void {
    const index = this.#indexes.alloc(SG_MAX_DEVS);
    if (index < 0) return;
    const k = this.#mod.kernel;
    const dev = new Device(`sg${index}`, sdev.sdevGendev);
    dev.cls = k.dm.cls('scsi_generic');
    dev.devt = { kind: 'char', major: SCSI_GENERIC_MAJOR, minor: index, devname: `sg${index}` };
    const sgd: SgDevice = { index, sdev, dev, detaching: false, timeoutMs: uapi.SG_DEFAULT_TIMEOUT_MS };
    this.#byIndex.set(index, sgd);
    sdev.interfaceData.set('sg', sgd);
    k.dm.add(dev);
    if (sdev.sdevGendev.dir && dev.dir) createLink(sdev.sdevGendev.dir, 'generic', dev.dir);
    sdevPrintk(this.#mod, KERN_NOTICE, sdev, `Attached scsi generic sg${index} type ${sdev.type}`);
  }

  /** sg_remove_device */
  removeDev(sdev: ScsiDevice): void {
    const sgd = sdev.interfaceData.get('sg') as SgDevice | undefined;
    if (!sgd) return;
    sgd.detaching = true;
    if (sdev.sdevGendev.dir) removeNode(sdev.sdevGendev.dir, 'generic');
    this.#mod.kernel.dm.del(sgd.dev);
    this.#byIndex.delete(sgd.index);
    this.#indexes.free(sgd.index);
    sdev.interfaceData.delete('sg');
  }

  /** The sg number of a LU, for tools and tests. */
  indexOf(sdev: ScsiDevice): number | undefined {
    return (sdev.interfaceData.get('sg') as SgDevice | undefined)?.index;
  }

  open(minor: number, _flags: number): FileOps {
    const sgd = this.#byIndex.get(minor);
    if (!sgd || sgd.detaching) throw new Errno('ENXIO');
    return {
      ioctl: (request, arg) => this.#ioctl(sgd, request, arg),
      read: () => new Uint8Array(0),
    };
  }

  #ioctl(sgd: SgDevice, request: number, arg: unknown): unknown {
    const sdev = sgd.sdev;
    switch (request) {
      case uapi.SG_IO:
        return this.#sgIo(sgd, arg as SgIoHdrIn);
      case uapi.SG_GET_VERSION_NUM:
        return uapi.SG_VERSION_NUM;
      case uapi.SG_GET_SCSI_ID: {
        const id: SgScsiId = {
          hostNo: sdev.host.hostNo,
          channel: sdev.channel,
          scsiId: sdev.id,
          lun: sdev.lun,
          scsiType: sdev.type,
          hCmdPerLun: sdev.host.cmdPerLun,
          dQueueDepth: sdev.queueDepth,
        };
        return id;
      }
      case uapi.SG_GET_TIMEOUT:
        return Math.floor((sgd.timeoutMs * 100) / 1000);
      case uapi.SG_SET_TIMEOUT:
        sgd.timeoutMs = (Number(arg) * 1000) / 100;
        return 0;
      case uapi.SG_EMULATED_HOST:
        return 0;
      case uapi.SG_GET_RESERVED_SIZE:
        return 32768;
      case uapi.SG_SET_RESERVED_SIZE:
        return 0;
      case uapi.SG_GET_SG_TABLESIZE:
        return sdev.host.sgTablesize;
      case uapi.SG_SCSI_RESET:
        return scsiIoctlReset(this.#mod, sdev, Number(arg));
      default:
        throw new Errno('ENOTTY');
    }
  }

  async #sgIo(sgd: SgDevice, hdr: SgIoHdrIn): Promise<SgIoHdrOut> {
    if (sgd.detaching) throw new Errno('ENODEV');
    return sgIo(this.#mod, sgd.sdev, hdr, sgd.timeoutMs);
  }
}
