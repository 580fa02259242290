// Models drivers/pci/pci-sysfs.c + probe.c's device registration (Linux 6.1), reduced to what a
// virtio-scsi-pci function shows: /sys/devices/pci0000:00/<dev> with its attributes, the binary
// `config`, `msi_irqs/`, `resource*`, the ACPI `firmware_node` link, and the pci bus and driver links.

import type { PciDev, PciResource, PciSubsystem } from './pci.ts';
import { Device } from '../sysfs/core.ts';
import type { DeviceModel, Driver } from '../sysfs/core.ts';
import type { DirNode } from './fs.ts';
import { createBinFile, createDir, createFile, createLink, removeNode } from '../sysfs/kernfs.ts';
import type { AttrSpec } from '../sysfs/kernfs.ts';

const hex = (n: number, w: number): string => `0x${n.toString(16).padStart(w, '0')}`;

export class PciSysfs {
  readonly #dm: DeviceModel;
  readonly #pci: PciSubsystem;
  readonly #nrCpus: number;
  readonly root: Device;
  readonly #devs = new Map<PciDev, Device>();
  readonly #drivers = new Map<string, Driver>();
  readonly #acpiBridge: DirNode;

  constructor(dm: DeviceModel, pci: PciSubsystem, nrCpus: number) {
    this.#dm = dm;
    this.#pci = pci;
    this.#nrCpus = nrCpus;
    this.root = new Device('pci0000:00', null);
    dm.add(this.root);
    dm.bus('pci');
    // The ACPI namespace node of the host bridge, whose children the functions' firmware_node links name.
    this.#acpiBridge = createDir(createDir(createDir(dm.devicesDir, 'LNXSYSTM:00'), 'LNXSYBUS:00'), 'PNP0A03:00');
  }

  deviceOf(pdev: PciDev): Device | undefined {
    return this.#devs.get(pdev);
  }

  /** pci_device_add + pci_create_sysfs_dev_files */
  add(pdev: PciDev): Device {
    const dm = this.#dm;
    const dev = new Device(pdev.name, this.root);
    dev.bus = dm.bus('pci');
    const modalias = (): string =>
      `pci:v${h8(pdev.vendor)}d${h8(pdev.device)}sv${h8(pdev.subsystemVendor)}sd${h8(pdev.subsystemDevice)}bc${h2(pdev.classCode >> 16)}sc${h2((pdev.classCode >> 8) & 0xff)}i${h2(pdev.classCode & 0xff)}`;
    dev.ueventVars = () => [
      ['PCI_CLASS', (pdev.classCode >>> 0).toString(16).toUpperCase()],
      ['PCI_ID', `${h4(pdev.vendor)}:${h4(pdev.device)}`],
      ['PCI_SUBSYS_ID', `${h4(pdev.subsystemVendor)}:${h4(pdev.subsystemDevice)}`],
      ['PCI_SLOT_NAME', pdev.name],
      ['MODALIAS', modalias()],
    ];
    dev.power = { enabled: 'forbidden', status: 'active', control: 'on', autosuspendDelayMs: undefined, usage: 2, async: 'enabled', activeSince: 0 };
    const cpuMask = (1n << BigInt(this.#nrCpus)) - 1n;
    const attrs: AttrSpec[] = [
      { name: 'ari_enabled', mode: 0o444, show: () => '0\n' },
      { name: 'broken_parity_status', mode: 0o644, show: () => '0\n', store: () => {} },
      { name: 'class', mode: 0o444, show: () => `${hex(pdev.classCode, 6)}\n` },
      { name: 'consistent_dma_mask_bits', mode: 0o444, show: () => '64\n' },
      { name: 'd3cold_allowed', mode: 0o644, show: () => '0\n', store: () => {} },
      { name: 'device', mode: 0o444, show: () => `${hex(pdev.device, 4)}\n` },
      { name: 'dma_mask_bits', mode: 0o444, show: () => '64\n' },
      { name: 'driver_override', mode: 0o644, show: () => '(null)\n', store: () => {} },
      { name: 'enable', mode: 0o644, show: () => `${pdev.enableCnt > 0 ? 1 : 0}\n`, store: () => {} },
      { name: 'irq', mode: 0o444, show: () => `${pdev.irq}\n` },
      { name: 'local_cpulist', mode: 0o444, show: () => `${this.#nrCpus > 1 ? `0-${this.#nrCpus - 1}` : '0'}\n` },
      { name: 'local_cpus', mode: 0o444, show: () => `${cpuMask.toString(16)}\n` },
      { name: 'modalias', mode: 0o444, show: () => `${modalias()}\n` },
      { name: 'msi_bus', mode: 0o644, show: () => '1\n', store: () => {} },
      { name: 'numa_node', mode: 0o644, show: () => '-1\n', store: () => {} },
      { name: 'power_state', mode: 0o444, show: () => 'D0\n' },
      { name: 'remove', mode: 0o220, store: () => {} },
      { name: 'rescan', mode: 0o200, store: () => {} },
      { name: 'revision', mode: 0o444, show: () => `${hex(pdev.revision, 2)}\n` },
      { name: 'subsystem_device', mode: 0o444, show: () => `${hex(pdev.subsystemDevice, 4)}\n` },
      { name: 'subsystem_vendor', mode: 0o444, show: () => `${hex(pdev.subsystemVendor, 4)}\n` },
      { name: 'vendor', mode: 0o444, show: () => `${hex(pdev.vendor, 4)}\n` },
      {
        name: 'resource',
        mode: 0o444,
        show: () => {
          let out = '';
          for (let i = 0; i < 13; i++) {
            const r = pdev.resources[i];
            const f = (n: number): string => `0x${n.toString(16).padStart(16, '0')}`;
            out += r ? `${f(r.start)} ${f(r.start + r.size - 1)} ${f(resourceFlags(r))}\n` : `${f(0)} ${f(0)} ${f(0)}\n`;
          }
          return out;
        },
      },
    ];
    dm.add(dev, attrs);
    const dir = dev.dir!;
    createBinFile(dir, { name: 'config', mode: 0o644, size: 256, read: () => Uint8Array.from({ length: 256 }, (_, i) => pdev.configRead(i, 1)) });
    createDir(dir, 'link');
    pdev.resources.forEach((r, i) => {
      if (!r) return;
      createBinFile(dir, { name: `resource${i}`, mode: 0o600, size: r.size });
      if (r.prefetch) createBinFile(dir, { name: `resource${i}_wc`, mode: 0o600, size: r.size });
    });
    // The DSDT's slot devices are numbered from device:01 for slot 0 (00:04.0 → device:05, as captured).
    createLink(dir, 'firmware_node', createDir(this.#acpiBridge, `device:${h2(pdev.slot + 1).toLowerCase()}`));
    this.#devs.set(pdev, dev);
    return dev;
  }

  /** After pci_enable_msix: msi_irqs/<irq> files, each `msix`. */
  msiIrqs(pdev: PciDev, irqs: readonly number[]): void {
    const dev = this.#devs.get(pdev);
    if (!dev?.dir) return;
    const d = createDir(dev.dir, 'msi_irqs');
    for (const irq of irqs) createFile(d, { name: String(irq), mode: 0o444, show: () => 'msix\n' });
  }

  bind(pdev: PciDev, name: string): void {
    const dev = this.#devs.get(pdev);
    if (!dev) return;
    let drv = this.#drivers.get(name);
    if (!drv) {
      drv = this.#dm.driver(this.#dm.bus('pci'), name);
      this.#drivers.set(name, drv);
    }
    this.#dm.bind(dev, drv);
  }

  unbind(pdev: PciDev): void {
    const dev = this.#devs.get(pdev);
    if (dev) this.#dm.unbind(dev);
  }

  remove(pdev: PciDev): void {
    const dev = this.#devs.get(pdev);
    if (!dev) return;
    if (dev.dir) removeNode(dev.dir, 'msi_irqs');
    this.#dm.del(dev);
    this.#devs.delete(pdev);
  }

  get pci(): PciSubsystem {
    return this.#pci;
  }
}

/** IORESOURCE_* bits as /proc and sysfs `resource` print them (include/linux/ioport.h). */
function resourceFlags(r: PciResource): number {
  if (r.io) return 0x40101;
  return 0x40200 | (r.prefetch ? 0x2000 : 0) | (r.is64 ? 0x100000 : 0);
}

function h2(n: number): string {
  return (n & 0xff).toString(16).toUpperCase().padStart(2, '0');
}
function h4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}
function h8(n: number): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}
