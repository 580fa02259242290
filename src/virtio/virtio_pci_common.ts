// Models drivers/virtio/virtio_pci_common.c + virtio_pci_modern.c's setup_vq and config ops (Linux 6.1):
// the `virtio-pci` PCI driver, which turns a 1af4:1000-107f function into a virtio device on the
// virtio bus, and the interrupt plumbing for its virtqueues.
//
// probe: enable the function, vp_modern_probe (capabilities), bus master, register_virtio_device.
// find_vqs (vp_find_vqs) tries, in order: MSI-X with one vector for config changes plus one per queue
// that has a callback (irq names `virtioN-config`, `virtioN-<queue name>`); MSI-X with one config
// vector and one shared `virtioN-virtqueues` vector; legacy INTx (not modelled: the function has no
// routed IO-APIC line here, so this step fails). The config vector is written and read back first,
// then each queue is set up (virtio_pci_modern.ts) and its irq requested; once all queues exist they
// are enabled together. setup_vq: select the queue, read its size (0 or already enabled -> -ENOENT, not
// a power of two -> "bad queue size"), create the ring, write its size and the three addresses, then
// set the MSI-X vector and read it back (NO_VECTOR back -> -EBUSY). del_vqs undoes all of it.

import type { DmaAllocator } from '../kernel/dma.ts';
import type { IrqController } from '../kernel/irq.ts';
import type { IrqAffinity, PciDev, PciDriver } from '../kernel/pci.ts';
import { PCI_ANY_ID } from '../kernel/pci.ts';
import { KERN } from '../kernel/printk.ts';
import type { KernelLog } from '../kernel/printk.ts';
import type { GuestMemory } from '../platform/guest_memory.ts';
import {
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_ORDER_PLATFORM,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_RING_RESET,
  VIRTIO_F_VERSION_1,
  VIRTIO_PCI_VENDOR_ID,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  bit,
  hasBit,
} from '../protocol/virtio_config.ts';
import { VIRTIO_MSI_NO_VECTOR } from '../protocol/virtio_pci.ts';
import type { VirtioBus, VirtioConfigOps, VqInfo } from './virtio.ts';
import { VIRTIO_TRANSPORT_F_END, VIRTIO_TRANSPORT_F_START, VirtioDevice } from './virtio.ts';
import type { VirtQueue } from './virtio_ring.ts';
import { createVirtqueue } from './virtio_ring.ts';
import { VpModernDevice, vpModernProbe } from './virtio_pci_modern.ts';

const EINVAL = 22;
const ENOENT = 2;
const EBUSY = 16;
const ENODEV = 19;

/** Everything the transport needs from the rest of the guest kernel. */
export interface VirtioPciContext {
  readonly mem: GuestMemory;
  readonly dma: DmaAllocator;
  readonly irq: IrqController;
  readonly virtio: VirtioBus;
  readonly log: KernelLog;
}

interface VqPciInfo {
  readonly vq: VirtQueue;
  readonly msixVector: number;
  readonly notifyOffset: number;
}

/** Ring features vring_transport_features keeps (the rest of 28..40 is cleared). */
const RING_TRANSPORT_FEATURES = [
  VIRTIO_RING_F_INDIRECT_DESC,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_F_VERSION_1,
  VIRTIO_F_ACCESS_PLATFORM,
  VIRTIO_F_RING_PACKED,
  VIRTIO_F_ORDER_PLATFORM,
] as const;

/** struct virtio_pci_device */
export class VirtioPciDevice {
  readonly pdev: PciDev;
  readonly mdev: VpModernDevice;
  readonly vdev: VirtioDevice;
  readonly ctx: VirtioPciContext;
  msixEnabled = false;
  msixVectors = 0;
  msixUsedVectors = 0;
  /** irq action names per MSI-X entry (`virtio0-config`, …). */
  msixNames: string[] = [];
  perVqVectors = false;
  readonly infos = new Map<number, VqPciInfo>();

  constructor(pdev: PciDev, mdev: VpModernDevice, ctx: VirtioPciContext) {
    this.pdev = pdev;
    this.mdev = mdev;
    this.ctx = ctx;
    this.vdev = new VirtioDevice({
      id: mdev.id,
      config: virtioPciConfigOps,
      parent: { name: pdev.name, devPath: `pci0000:00/${pdev.name}` },
      mem: ctx.mem,
      dma: ctx.dma,
    });
    this.vdev.transport = this;
  }

  pciErr(text: string): void {
    this.ctx.log.printk(KERN.ERR, `virtio-pci ${this.pdev.name}: ${text}`);
  }
}

function vpOf(vdev: VirtioDevice): VirtioPciDevice {
  return vdev.transport as VirtioPciDevice;
}

/** vp_interrupt for a queue vector: vring_interrupt on that queue. */
function vringIrq(vq: VirtQueue): () => void {
  return () => {
    vq.interrupt();
  };
}

function requestMsixVectors(vp: VirtioPciDevice, nvectors: number, perVq: boolean, affinity?: IrqAffinity): number {
  const name = vp.vdev.name;
  vp.msixVectors = nvectors;
  vp.msixNames = [];
  // The config vector is one more vector kept out of the affinity spreading.
  const desc = affinity ? { preVectors: affinity.preVectors + 1, postVectors: affinity.postVectors ?? 0 } : undefined;
  const got = vp.pdev.allocIrqVectors(nvectors, nvectors, desc);
  if (got < 0) return got;
  vp.msixEnabled = true;
  let v = vp.msixUsedVectors;
  vp.msixNames[v] = `${name}-config`;
  const rc = vp.ctx.irq.requestIrq(vp.pdev.irqVector(v), () => vp.ctx.virtio.configChanged(vp.vdev), vp.msixNames[v]!);
  if (rc) return rc;
  ++vp.msixUsedVectors;
  if (vp.mdev.configVector(v) === VIRTIO_MSI_NO_VECTOR) return -EBUSY;
  if (!perVq) {
    v = vp.msixUsedVectors;
    vp.msixNames[v] = `${name}-virtqueues`;
    vp.ctx.irq.requestIrq(
      vp.pdev.irqVector(v),
      () => {
        for (const info of vp.infos.values()) if (info.vq.callback) info.vq.interrupt();
      },
      vp.msixNames[v]!,
    );
    ++vp.msixUsedVectors;
  }
  return 0;
}

/** setup_vq (virtio_pci_modern.c) + vp_active_vq. */
function setupVq(vp: VirtioPciDevice, index: number, info: VqInfo, msixVec: number): VirtQueue | number {
  const m = vp.mdev;
  if (index >= m.getNumQueues()) return -EINVAL;
  const num = m.getQueueSize(index);
  if (!num || m.getQueueEnable(index)) return -ENOENT;
  if (num & (num - 1)) {
    vp.ctx.log.printk(KERN.WARNING, `virtio-pci ${vp.pdev.name}: bad queue size ${num}`);
    return -EINVAL;
  }
  const vdev = vp.vdev;
  const notifyOffset = m.vqNotifyOffset(index);
  if (notifyOffset === null) {
    vp.pciErr(`bad notification offset ${index}`);
    return -EINVAL;
  }
  const notifyBar = m.notify.bar;
  const pdev = vp.pdev;
  const vq = createVirtqueue({
    index,
    num,
    name: info.name,
    mem: vp.ctx.mem,
    dma: vp.ctx.dma,
    host: {
      eventIdx: hasBit(vdev.features, VIRTIO_RING_F_EVENT_IDX),
      indirect: hasBit(vdev.features, VIRTIO_RING_F_INDIRECT_DESC),
      devErr: (t) => vdev.devPrintk(KERN.ERR, t),
    },
    // vp_notify: a 16-bit write of the queue index to the queue's notify address.
    notify: () => {
      pdev.barWrite(notifyBar, notifyOffset, 2, index);
      return true;
    },
    callback: info.callback,
    mayReduceNum: true,
  });
  if (typeof vq === 'number') return vq;
  m.setQueueSize(index, vq.num);
  m.queueAddress(index, vq.descAddr, vq.availAddr, vq.usedAddr);
  if (msixVec !== VIRTIO_MSI_NO_VECTOR && m.queueVector(index, msixVec) === VIRTIO_MSI_NO_VECTOR) {
    vq.free();
    return -EBUSY;
  }
  vp.infos.set(index, { vq, msixVector: msixVec, notifyOffset });
  return vq;
}

function findVqsMsix(vp: VirtioPciDevice, infos: readonly VqInfo[], perVq: boolean, affinity?: IrqAffinity): VirtQueue[] | number {
  let nvectors = 1;
  if (perVq) {
    for (const i of infos) if (i.callback) nvectors++;
  } else nvectors = 2;
  let err = requestMsixVectors(vp, nvectors, perVq, perVq ? affinity : undefined);
  if (err) {
    delVqs(vp.vdev);
    return err;
  }
  vp.perVqVectors = perVq;
  let allocated = vp.msixUsedVectors;
  const vqs: VirtQueue[] = [];
  for (let qi = 0; qi < infos.length; qi++) {
    const info = infos[qi]!;
    const msixVec = !info.callback ? VIRTIO_MSI_NO_VECTOR : perVq ? allocated++ : 1;
    const vq = setupVq(vp, qi, info, msixVec);
    if (typeof vq === 'number') {
      delVqs(vp.vdev);
      return vq;
    }
    vqs.push(vq);
    vp.vdev.vqs.push(vq);
    if (!perVq || msixVec === VIRTIO_MSI_NO_VECTOR) continue;
    vp.msixNames[msixVec] = `${vp.vdev.name}-${info.name}`;
    err = vp.ctx.irq.requestIrq(vp.pdev.irqVector(msixVec), vringIrq(vq), vp.msixNames[msixVec]!);
    if (err) {
      delVqs(vp.vdev);
      return err;
    }
  }
  return vqs;
}

/** vp_modern_find_vqs → vp_find_vqs, then enable every queue. */
function findVqs(vdev: VirtioDevice, infos: readonly VqInfo[], affinity?: IrqAffinity): VirtQueue[] | number {
  const vp = vpOf(vdev);
  let r = findVqsMsix(vp, infos, true, affinity);
  if (typeof r === 'number') r = findVqsMsix(vp, infos, false, affinity);
  if (typeof r === 'number') return r;
  for (const vq of r) vp.mdev.setQueueEnable(vq.index, true);
  return r;
}

/** vp_del_vqs */
function delVqs(vdev: VirtioDevice): void {
  const vp = vpOf(vdev);
  for (const [index, info] of vp.infos) {
    if (vp.perVqVectors && info.msixVector !== VIRTIO_MSI_NO_VECTOR)
      vp.ctx.irq.freeIrq(vp.pdev.irqVector(info.msixVector), vp.msixNames[info.msixVector]!);
    if (vp.msixEnabled) vp.mdev.queueVector(index, VIRTIO_MSI_NO_VECTOR);
    info.vq.free();
  }
  vp.infos.clear();
  vdev.vqs = [];
  vp.perVqVectors = false;
  for (let i = 0; i < vp.msixUsedVectors; i++) vp.ctx.irq.freeIrq(vp.pdev.irqVector(i), vp.msixNames[i]!);
  if (vp.msixEnabled) {
    vp.mdev.configVector(VIRTIO_MSI_NO_VECTOR);
    vp.pdev.freeIrqVectors();
    vp.msixEnabled = false;
  }
  vp.msixVectors = 0;
  vp.msixUsedVectors = 0;
  vp.msixNames = [];
}

/** vp_finalize_features: ring and PCI transport bits, then VERSION_1 is mandatory for modern. */
function finalizeFeatures(vdev: VirtioDevice): number {
  const vp = vpOf(vdev);
  const offered = vdev.features;
  for (let i = VIRTIO_TRANSPORT_F_START; i < VIRTIO_TRANSPORT_F_END; i++)
    if (!(RING_TRANSPORT_FEATURES as readonly number[]).includes(i)) vdev.features &= ~bit(i);
  if (hasBit(offered, VIRTIO_F_RING_RESET)) vdev.features |= bit(VIRTIO_F_RING_RESET);
  if (!hasBit(vdev.features, VIRTIO_F_VERSION_1)) {
    vdev.devPrintk(KERN.ERR, 'virtio: device uses modern interface but does not have VIRTIO_F_VERSION_1');
    return -EINVAL;
  }
  vp.mdev.setFeatures(vdev.features);
  return 0;
}

export const virtioPciConfigOps: VirtioConfigOps = {
  get(vdev, offset, len) {
    const m = vpOf(vdev).mdev;
    if (!m.device || offset + len > m.device.length) throw new RangeError(`virtio config read ${len}@${offset} beyond device cfg`);
    return m.deviceRead(offset, len);
  },
  set(vdev, offset, len, value) {
    const m = vpOf(vdev).mdev;
    if (!m.device || offset + len > m.device.length) throw new RangeError(`virtio config write ${len}@${offset} beyond device cfg`);
    m.deviceWrite(offset, len, value);
  },
  generation: (vdev) => vpOf(vdev).mdev.generation(),
  getStatus: (vdev) => vpOf(vdev).mdev.getStatus(),
  setStatus(vdev, status) {
    // We should never be setting status to 0 here (that is reset).
    vpOf(vdev).mdev.setStatus(status);
  },
  reset(vdev) {
    const m = vpOf(vdev).mdev;
    m.setStatus(0);
    // The device must read back 0 before re-initialisation; bounded so a broken device can't hang us.
    for (let i = 0; i < 1000 && m.getStatus() !== 0; i++);
  },
  findVqs,
  delVqs,
  getFeatures: (vdev) => vpOf(vdev).mdev.getFeatures(),
  finalizeFeatures,
  busName: (vdev) => vpOf(vdev).pdev.name,
};

/** The `virtio-pci` PCI driver (id table: vendor 0x1af4, any device; probe narrows to 0x1000-0x107f). */
export function virtioPciDriver(ctx: VirtioPciContext): PciDriver {
  return {
    name: 'virtio-pci',
    idTable: [{ vendor: VIRTIO_PCI_VENDOR_ID, device: PCI_ANY_ID }],
    async probe(pdev) {
      let rc = pdev.enableDevice();
      if (rc) return rc;
      const mdev = vpModernProbe(
        pdev,
        (t) => ctx.log.printk(KERN.ERR, `virtio-pci ${pdev.name}: ${t}`),
        (t) => ctx.log.printk(KERN.INFO, `virtio-pci ${pdev.name}: ${t}`),
      );
      if (typeof mdev === 'number') {
        // No legacy (virtio 0.9) transport in this model: a device without modern caps stays unbound.
        pdev.disableDevice();
        return mdev === -ENODEV ? -ENODEV : mdev;
      }
      pdev.setMaster();
      const vp = new VirtioPciDevice(pdev, mdev, ctx);
      pdev.driverData = vp;
      rc = await ctx.virtio.registerVirtioDevice(vp.vdev);
      if (rc) {
        pdev.disableDevice();
        return rc;
      }
      return 0;
    },
    async remove(pdev) {
      const vp = pdev.driverData as VirtioPciDevice | null;
      if (!vp) return;
      await ctx.virtio.unregisterVirtioDevice(vp.vdev);
      pdev.disableDevice();
    },
  };
}

/** The VirtioPciDevice a PCI function is bound to (for sysfs and tests). */
export function virtioPciOf(pdev: PciDev): VirtioPciDevice | null {
  return pdev.driverData instanceof VirtioPciDevice ? pdev.driverData : null;
}

