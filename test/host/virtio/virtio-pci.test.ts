import { describe, expect, it } from 'vitest';
import { makeRig } from './setup.ts';
import { BAR4_MMIO, LINUX_FEATURES } from '../../fakes/mini_virtio_driver.ts';
import * as P from '../../../src/protocol/virtio_pci.ts';
import { realizeVirtioScsiPci } from '../../../src/host/virtio/virtio-scsi-pci.ts';
import { FlatGuestMemory } from '../../../src/platform/guest_memory.ts';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { FakeScsiBus } from '../../fakes/fake_scsi_bus.ts';

// /sys/devices/pci0000:00/0000:00:04.0/config from golden seed_single_disk (boot snapshot): QEMU 7.2
// virtio-scsi-pci at 00:04.0 after SeaBIOS assigned the BARs and Linux enabled MSI-X.
const GOLDEN_CONFIG =
  'f41a041007051000000000010000000041c000000010bffe00000000000000000c0000fe0000000000000000f41a0800' +
  '000000009800000000000000' + '0b010000' +
  '09001001040000000000000000100000' + // 0x40 COMMON: next 0, len 16, bar 4, off 0, len 0x1000
  '09401003040000000010000000100000' + // 0x50 ISR: next 0x40, off 0x1000
  '09501004040000000020000000100000' + // 0x60 DEVICE: next 0x50, off 0x2000
  '0960140204000000003000000010000004000000' + // 0x70 NOTIFY: next 0x60, len 20, off 0x3000, multiplier 4
  '0970140500000000000000000000000000000000' + // 0x84 PCI_CFG: next 0x70, len 20, all zero
  '118404800100000001080000' + // 0x98 MSI-X: next 0x84, control 0x8004 (enabled, 5 entries), table BIR1@0, PBA BIR1@0x800
  '00'.repeat(256 - 0xa4);

function configBytes(read: (off: number) => number): string {
  let s = '';
  for (let i = 0; i < 256; i++) s += read(i).toString(16).padStart(2, '0');
  return s;
}

describe('virtio-scsi-pci configuration space', () => {
  it('matches the golden dump byte for byte once programmed like SeaBIOS + Linux', () => {
    const { drv } = makeRig();
    // What the firmware and the guest wrote: BARs, command (IO|MEM|MASTER|SERR|INTX_DISABLE), IRQ line, MSI-X enable.
    drv.cfgWrite(0x10, 4, 0xc040);
    drv.cfgWrite(0x14, 4, 0xfebf1000);
    drv.cfgWrite(0x20, 4, 0xfe000000);
    drv.cfgWrite(0x24, 4, 0);
    drv.cfgWrite(0x04, 2, 0x0507);
    drv.cfgWrite(0x3c, 1, 0x0b);
    drv.cfgWrite(0x9a, 2, 0x8000);
    expect(GOLDEN_CONFIG.length).toBe(512);
    expect(configBytes((i) => drv.cfgRead(i, 1))).toBe(GOLDEN_CONFIG);
  });

  it('reset values: ids, class, status CAP_LIST, pin INTA, BARs unassigned', () => {
    const { drv } = makeRig();
    expect(drv.cfgRead(0x00, 4)).toBe(0x10041af4); // vendor 1af4, device 1004 (transitional)
    expect(drv.cfgRead(0x04, 2)).toBe(0); // command
    expect(drv.cfgRead(0x06, 2)).toBe(0x0010); // status: capability list
    expect(drv.cfgRead(0x08, 4)).toBe(0x01000000); // revision 0, class 01/00/00
    expect(drv.cfgRead(0x10, 4)).toBe(0x00000001); // BAR0 I/O
    expect(drv.cfgRead(0x20, 4)).toBe(0x0000000c); // BAR4 64-bit prefetchable
    expect(drv.cfgRead(0x2c, 4)).toBe(0x00081af4); // subsystem 1af4:0008
    expect(drv.cfgRead(0x3d, 1)).toBe(1); // INTA
  });

  it('sizes BARs by writing all ones', () => {
    const { drv } = makeRig();
    expect(drv.barSizeMask(0) >>> 0).toBe(0xffffffc1); // 64 bytes of I/O
    expect(drv.barSizeMask(1) >>> 0).toBe(0xfffff000); // 4 KiB MSI-X table + PBA
    expect(drv.barSizeMask(2)).toBe(0);
    expect(drv.barSizeMask(3)).toBe(0);
    expect(drv.barSizeMask(4) >>> 0).toBe(0xffffc00c); // 16 KiB, 64-bit, prefetchable
    expect(drv.barSizeMask(5) >>> 0).toBe(0xffffffff); // upper half of BAR4
  });

  it('read-only registers ignore writes', () => {
    const { drv } = makeRig();
    drv.cfgWrite(0x00, 4, 0xdeadbeef);
    drv.cfgWrite(0x2c, 4, 0x12345678);
    drv.cfgWrite(0x40, 4, 0xffffffff);
    expect(drv.cfgRead(0x00, 4)).toBe(0x10041af4);
    expect(drv.cfgRead(0x2c, 4)).toBe(0x00081af4);
    expect(drv.cfgRead(0x40, 4)).toBe(0x01100009);
  });

  it('modern-only (disable-legacy=on): device 0x1048, revision 1, subsystem 0x1100, no BAR0', () => {
    const { drv } = makeRig({ props: { disableLegacy: 'on' } });
    expect(drv.cfgRead(0x02, 2)).toBe(0x1048);
    expect(drv.cfgRead(0x08, 1)).toBe(1);
    expect(drv.cfgRead(0x2e, 2)).toBe(0x1100);
    expect(drv.barSizeMask(0)).toBe(0);
  });

  it('MSI-X table size is num_queues + 3', () => {
    expect(makeRig({ smp: 2 }).drv.cfgRead(0x9a, 2) & 0x7ff).toBe(4); // 5 entries
    expect(makeRig({ smp: 4 }).drv.cfgRead(0x9a, 2) & 0x7ff).toBe(6); // 7 entries
    expect(makeRig({ smp: 1, props: { numQueues: 4 } }).drv.cfgRead(0x9a, 2) & 0x7ff).toBe(6);
  });
});

describe('virtio-pci common configuration', () => {
  it('offers bits 1,2,28,29,32,40 through the modern window and Linux ends with the captured set', () => {
    const { drv } = makeRig();
    drv.probe();
    const f = drv.deviceFeatures();
    expect(f).toBe((1n << 1n) | (1n << 2n) | (1n << 28n) | (1n << 29n) | (1n << 32n) | (1n << 40n));
    const neg = drv.negotiate(LINUX_FEATURES);
    let s = '';
    for (let i = 0n; i < 64n; i++) s += (neg >> i) & 1n ? '1' : '0';
    // /sys/bus/virtio/devices/virtio0/features from the golden
    expect(s).toBe('0110000000000000000000000000110010000000100000000000000000000000');
    expect(drv.status()).toBe(0x0b); // FEATURES_OK stayed set
  });

  it('hotplug=off drops bit 1', () => {
    const { drv } = makeRig({ props: { hotplug: false } });
    drv.probe();
    expect((drv.deviceFeatures() >> 1n) & 1n).toBe(0n);
  });

  it('legacy register block offers the legacy bits (24, 27, 30) too', () => {
    const { drv, pci } = makeRig();
    drv.probe();
    expect(pci.ioRead(0xc040, 4) >>> 0).toBe(((1 << 1) | (1 << 2) | (1 << 24) | (1 << 27) | (1 << 28) | (1 << 29) | (1 << 30)) >>> 0);
  });

  it('queues: num_queues + 2, size 256, notify_off = index; reads back programmed addresses', () => {
    const { drv } = makeRig();
    drv.init();
    expect(drv.cr(P.VIRTIO_PCI_COMMON_NUMQ, 2)).toBe(4);
    drv.cw(P.VIRTIO_PCI_COMMON_Q_SELECT, 2, 3);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_SIZE, 2)).toBe(256);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_NOFF, 2)).toBe(3);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_ENABLE, 2)).toBe(1);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_DESCLO, 4)).toBe(drv.queues[3]!.desc);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_MSIX, 2)).toBe(4);
    drv.cw(P.VIRTIO_PCI_COMMON_Q_SELECT, 2, 4);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_SIZE, 2)).toBe(0); // no such queue
    expect(drv.status()).toBe(0x0f);
  });

  it('an MSI-X vector beyond the table reads back as NO_VECTOR', () => {
    const { drv } = makeRig();
    drv.probe();
    drv.cw(P.VIRTIO_PCI_COMMON_MSIX, 2, 5);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_MSIX, 2)).toBe(0xffff);
    drv.cw(P.VIRTIO_PCI_COMMON_MSIX, 2, 4);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_MSIX, 2)).toBe(4);
  });

  it('writing status 0 resets the device and the queue registers', () => {
    const { drv } = makeRig();
    drv.init();
    drv.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, 0);
    expect(drv.status()).toBe(0);
    drv.cw(P.VIRTIO_PCI_COMMON_Q_SELECT, 2, 2);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_ENABLE, 2)).toBe(0);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_DESCLO, 4)).toBe(0);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_MSIX, 2)).toBe(0xffff);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_MSIX, 2)).toBe(0xffff);
  });

  it('features cannot change after FEATURES_OK', () => {
    const { drv } = makeRig();
    drv.probe();
    drv.negotiate(LINUX_FEATURES);
    drv.cw(P.VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    drv.cw(P.VIRTIO_PCI_COMMON_GF, 4, 0);
    // the register window keeps what was written, the device keeps the negotiated set
    const { dev } = { dev: drv };
    expect(dev.features).toBe(LINUX_FEATURES);
  });

  it('the PCI_CFG window reaches the common config through configuration space', () => {
    const { drv } = makeRig();
    drv.probe();
    const cap = drv.caps.get(P.VIRTIO_PCI_CAP_PCI_CFG)!.at;
    drv.cfgWrite(cap + 4, 1, 4); // bar 4
    drv.cfgWrite(cap + 8, 4, P.VIRTIO_PCI_COMMON_NUMQ); // offset
    drv.cfgWrite(cap + 12, 4, 2); // length
    expect(drv.cfgRead(cap + 16, 2)).toBe(4);
  });
});

describe('device configuration (virtio_scsi_config)', () => {
  it('is byte-exact with QEMU 7.2 defaults', () => {
    const { drv } = makeRig();
    drv.init();
    const bytes: number[] = [];
    for (let i = 0; i < 36; i++) bytes.push(drv.devRead(i, 1));
    expect(bytes).toEqual([
      2, 0, 0, 0, // num_queues: vCPUs
      254, 0, 0, 0, // seg_max: virtqueue_size - 2
      0xff, 0xff, 0, 0, // max_sectors 0xFFFF
      128, 0, 0, 0, // cmd_per_lun
      16, 0, 0, 0, // event_info_size
      96, 0, 0, 0, // sense_size
      32, 0, 0, 0, // cdb_size
      0, 0, // max_channel
      255, 0, // max_target
      0xff, 0x3f, 0, 0, // max_lun 16383
    ]);
    expect(drv.devRead(36, 1)).toBe(0xff); // past the end
  });

  it('properties reach the config: seg_max_adjust=off, virtqueue_size, max_sectors, cmd_per_lun', () => {
    const { drv } = makeRig({ props: { segMaxAdjust: false, virtqueueSize: 128, maxSectors: 1024, cmdPerLun: 4 } });
    drv.probe();
    expect(drv.devRead(4, 4)).toBe(126);
    expect(drv.devRead(8, 4)).toBe(1024);
    expect(drv.devRead(12, 4)).toBe(4);
    drv.cw(P.VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    expect(drv.cr(P.VIRTIO_PCI_COMMON_Q_SIZE, 2)).toBe(128);
  });

  it('sense_size and cdb_size are writable; other fields are not; reset restores them', () => {
    const { drv } = makeRig();
    drv.init();
    drv.devWrite(20, 4, 64);
    drv.devWrite(24, 4, 16);
    drv.devWrite(0, 4, 99);
    expect(drv.devRead(20, 4)).toBe(64);
    expect(drv.devRead(24, 4)).toBe(16);
    expect(drv.devRead(0, 4)).toBe(2);
    drv.cw(P.VIRTIO_PCI_COMMON_STATUS, 1, 0);
    expect(drv.devRead(20, 4)).toBe(96);
    expect(drv.devRead(24, 4)).toBe(32);
  });

  it('rejects sense_size >= 65536 with NEEDS_RESET and QEMU\'s message', () => {
    const { drv, log } = makeRig();
    drv.init();
    drv.devWrite(20, 4, 65536);
    expect(log).toEqual(['qemu-system-x86_64: bad data written to virtio-scsi configuration space']);
    expect(drv.status() & 0x40).toBe(0x40);
    expect(drv.devRead(20, 4)).toBe(96);
    expect(drv.irqs).toContain(0); // config vector
  });
});

describe('realize errors', () => {
  const env = (): Parameters<typeof realizeVirtioScsiPci>[1] => {
    const loop = new EventLoop();
    return { mem: new FlatGuestMemory(1 << 16), loop, msi: { msi: () => {} }, bus: new FakeScsiBus(loop, []), smpCpus: 2 };
  };
  it.each([
    [{ numQueues: 0 }, 'Invalid number of queues (= 0), must be a positive integer less than 1022.'],
    [{ numQueues: 1023 }, 'Invalid number of queues (= 1023), must be a positive integer less than 1022.'],
    [{ virtqueueSize: 2 }, 'invalid virtqueue_size property (= 2), must be > 2'],
    [{ disableLegacy: 'on' as const, disableModern: true }, 'device cannot work as neither modern nor legacy mode is enabled'],
  ])('%o → %s', (props, msg) => {
    const r = realizeVirtioScsiPci(props, env());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe(msg);
  });
  it('virtqueue_size above 1024 aborts like QEMU', () => {
    const r = realizeVirtioScsiPci({ virtqueueSize: 2048 }, env());
    expect(r.ok === false && r.abort).toBe(true);
  });
});

describe('kicks and MSI-X', () => {
  it('a kick is handled on the event loop, not inside the MMIO write', async () => {
    const { drv, bus } = makeRig();
    drv.init();
    const p = drv.startCommand(0, 0, [0x00, 0, 0, 0, 0, 0]);
    expect(bus.submitted.length).toBe(0);
    expect(drv.usedIdx(2)).toBe(0);
    const r = await drv.finish(p);
    expect(r?.response).toBe(0);
    expect(bus.submitted.length).toBe(1);
  });

  it('a masked vector latches its pending bit and fires on unmask', async () => {
    const { drv, pci } = makeRig();
    drv.init();
    pci.mmioWrite(0xfebf1000 + 16 * 3 + 12, 4, 1); // mask vector 3 (queue 2)
    const p = drv.startCommand(0, 0, [0x00, 0, 0, 0, 0, 0]);
    await drv.finish(p);
    expect(drv.irqs).not.toContain(3);
    expect(pci.mmioRead(0xfebf1000 + 0x800, 4) & (1 << 3)).toBe(1 << 3); // PBA bit 3
    pci.mmioWrite(0xfebf1000 + 16 * 3 + 12, 4, 0);
    expect(drv.irqs).toContain(3);
    expect(pci.mmioRead(0xfebf1000 + 0x800, 4) & (1 << 3)).toBe(0);
  });

  it('ISR is read-to-clear', async () => {
    const { drv } = makeRig();
    drv.init();
    await drv.doCommand(0, 0, [0x00, 0, 0, 0, 0, 0]);
    expect(drv.isr()).toBe(1);
    expect(drv.isr()).toBe(0);
    expect(BAR4_MMIO).toBe(0xfe000000);
  });
});

describe('legacy interface and INTx', () => {
  it('BAR0 legacy block: queue size, PFN-programmed rings, status, select', () => {
    const { drv, pci } = makeRig();
    drv.cfgWrite(0x10, 4, 0xc040);
    drv.cfgWrite(0x04, 2, 0x0001);
    pci.ioWrite(0xc040 + 18, 1, 0); // status: reset
    pci.ioWrite(0xc040 + 14, 2, 2); // queue select
    expect(pci.ioRead(0xc040 + 12, 2)).toBe(256); // queue num
    pci.ioWrite(0xc040 + 8, 4, 0x200); // PFN: rings at 0x200000
    expect(pci.ioRead(0xc040 + 8, 4)).toBe(0x200);
    pci.ioWrite(0xc040 + 18, 1, 7);
    expect(pci.ioRead(0xc040 + 18, 1)).toBe(7);
    expect(pci.ioRead(0xc040 + 20, 4)).toBe(2); // device config at 20 without MSI-X: num_queues
  });

  it('without MSI-X a used buffer raises INTx until the ISR is read', async () => {
    const levels: boolean[] = [];
    const { drv } = makeRig({ intx: (l) => levels.push(l) });
    drv.probe();
    drv.cfgWrite(0x9a, 2, 0); // MSI-X off again
    drv.negotiate();
    drv.setupQueues();
    drv.driverOk();
    await drv.doCommand(0, 0, [0, 0, 0, 0, 0, 0]);
    expect(levels).toEqual([true]);
    expect(drv.isr()).toBe(1);
    expect(levels).toEqual([true, false]);
    expect(drv.irqs).toEqual([]);
  });
});
