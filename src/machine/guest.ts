// Ours: the guest's composition root — one Linux 6.1 kernel instance (printk, memory, interrupts, PCI,
// the driver core and sysfs, devtmpfs, procfs, the VFS) with the SCSI stack loaded in the order the
// captured guest's /init loads it (virtio_pci, scsi_mod, virtio_scsi and its scan, sg, sd_mod, sr_mod,
// st), then the userland: udevd's coldplug and the busybox shell with the SCSI tools.
//
// Only guest-side modules are imported here; the host is reached through the PCI bus, guest memory
// and MSI messages the machine hands in.

import { Errno } from '../kernel/errno.ts';
import { DeviceNumbers } from '../kernel/char_dev.ts';
import { attachDevtmpfs } from '../kernel/devtmpfs.ts';
import { DmaAllocator } from '../kernel/dma.ts';
import { DirNode, FileNode, LinkNode, bytes } from '../kernel/fs.ts';
import { IrqController } from '../kernel/irq.ts';
import type { DmaAllocator as KernelDma, Kernel } from '../kernel/kernel.ts';
import { PciSubsystem } from '../kernel/pci.ts';
import { PciSysfs } from '../kernel/pci_sysfs.ts';
import {
  KERNEL_RELEASE,
  KERNEL_VERSION,
  PLATFORM_BLKDEVS,
  PLATFORM_CHAR_NODES,
  PLATFORM_CHRDEVS,
  PLATFORM_DEV_DIRS,
  PLATFORM_DEV_LINKS,
  PLATFORM_IRQS,
  PLATFORM_IRQ_FOOTER,
} from '../kernel/platform.ts';
import { KERN, KernelLog, formatDmesgLine } from '../kernel/printk.ts';
import type { LogLevel } from '../kernel/printk.ts';
import { ProcFs } from '../kernel/procfs.ts';
import { MEM_MAJOR, memDeviceOpen } from '../kernel/mem_devices.ts';
import { Rng } from '../sim/rng.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import { Vfs } from '../kernel/vfs.ts';
import { SgDriver } from '../highlevel/sg.ts';
import { SdDriver } from '../highlevel/sd.ts';
import { SrDriver } from '../highlevel/sr.ts';
import { StDriver } from '../highlevel/st.ts';
import { Bsg, ScsiBsg } from '../block/bsg.ts';
import { modParamVars, moduleParamFiles } from '../kernel/modparams.ts';
import type { ModParamVars } from '../kernel/modparams.ts';
import { blockLayer, procPartitions } from '../block/genhd.ts';
import { isofsMount } from '../kernel/isofs.ts';
import { Udevd } from '../udev/udevd.ts';
import { BLKID_FLAGS_LOWPROBE, blkidProbeDevice, udevBlkidProperties } from '../shell/libblkid.ts';
import { blkidEntry } from '../shell/blkid.ts';
import { mountEntry, umountEntry } from '../shell/mount.ts';
import { virtioScsiDriver } from '../lowlevel/virtio_scsi.ts';
import { ScsiMod } from '../midlayer/scsi.ts';
import type { GuestMemory, Gpa } from '../platform/guest_memory.ts';
import type { PciBus } from '../platform/pci_bus.ts';
import type { EventLoop } from '../sim/event_loop.ts';
import { NS_PER_S } from '../sim/event_loop.ts';
import { Device, DeviceModel } from '../sysfs/core.ts';
import { createFiles, createLink, setSysfsClock, sysfsRoot } from '../sysfs/kernfs.ts';
import { createBusyboxRegistry } from '../shell/busybox.ts';
import type { CommandRegistry } from '../shell/registry.ts';
import { Shell } from '../shell/sh.ts';
import { lsscsiEntry } from '../shell/lsscsi.ts';
import { sgInqEntry } from '../shell/sg_inq.ts';
import { sgVpdEntry } from '../shell/sg_vpd.ts';
import { sgReadcapEntry } from '../shell/sg_readcap.ts';
import { sgLunsEntry } from '../shell/sg_luns.ts';
import { sgTursEntry } from '../shell/sg_turs.ts';
import { sgModesEntry } from '../shell/sg_modes.ts';
import { udevadmEntry } from '../shell/udevadm.ts';
import { scsiIdEntry } from '../shell/scsi_id.ts';
import { sgDdEntry } from '../shell/sg_dd.ts';
import { sgResetEntry } from '../shell/sg_reset.ts';
import { sgStartEntry } from '../shell/sg_start.ts';
import { sgPreventEntry } from '../shell/sg_prevent.ts';
import { ejectEntry } from '../shell/eject.ts';
import { mtEntry } from '../shell/mt.ts';
import { tarEntry } from '../shell/tar.ts';
import { virtioPciDriver, virtioPciOf } from '../virtio/virtio_pci_common.ts';
import { VirtioBus } from '../virtio/virtio.ts';
import type { VirtioDevice } from '../virtio/virtio.ts';

/** Seconds since the epoch at the guest's boot (virtual wall clock). */
export const BOOT_EPOCH = 1_700_000_000;

export interface GuestOptions {
  readonly loop: EventLoop;
  readonly mem: GuestMemory;
  readonly pciBus: PciBus;
  readonly nrCpus: number;
  /** The kernel command line (-append). */
  readonly cmdline: string;
  /** Seed of the guest's random sources (/dev/urandom). */
  readonly seed?: number;
}

/** Kernel.dma over the page/slab allocator: small buffers from kmalloc, the rest from whole pages. */
class KernelDmaAdapter implements KernelDma {
  readonly #a: DmaAllocator;
  readonly #slab = new Set<number>();
  constructor(a: DmaAllocator) {
    this.#a = a;
  }
  alloc(size: number, align = 8): Gpa {
    if (size <= 2048 && align <= 16) {
      const p = this.#a.kmalloc(size);
      if (p !== null) {
        this.#slab.add(p);
        return p;
      }
    }
    const p = this.#a.alloc(size, Math.max(align, 4096));
    if (p === null) throw new Errno('ENOMEM');
    return p;
  }
  free(addr: Gpa): void {
    if (this.#slab.delete(addr)) this.#a.kfree(addr);
    else this.#a.free(addr);
  }
}

/** Parses `a.b=c d e=f` into module parameters (`module.param`) and plain words. */
function parseCmdline(cmdline: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const w of cmdline.split(/\s+/).filter(Boolean)) {
    const eq = w.indexOf('=');
    out.set(eq < 0 ? w : w.slice(0, eq), eq < 0 ? '' : w.slice(eq + 1));
  }
  return out;
}

export class Guest implements Kernel {
  readonly loop: EventLoop;
  readonly mem: GuestMemory;
  readonly nrCpus: number;
  readonly cmdline: string;
  readonly log: KernelLog;
  readonly pages: DmaAllocator;
  readonly dma: KernelDma;
  readonly dm: DeviceModel;
  readonly devs = new DeviceNumbers();
  readonly irq: IrqController;
  readonly pci: PciSubsystem;
  readonly pciSysfs: PciSysfs;
  readonly virtio: VirtioBus;
  readonly vfs: Vfs;
  readonly proc: ProcFs;
  readonly root: DirNode;
  readonly #params: Map<string, string>;
  readonly #seed: number;
  scsi: ScsiMod | null = null;
  sg: SgDriver | null = null;
  sd: SdDriver | null = null;
  sr: SrDriver | null = null;
  st: StDriver | null = null;
  udevd: Udevd | null = null;
  readonly bsg: Bsg;
  scsiBsg: ScsiBsg | null = null;
  #modVars: ModParamVars | null = null;
  readonly #loaded = new Set<string>();
  readonly registry: CommandRegistry;
  readonly shell: Shell;
  readonly sys: Syscalls;
  /** Background kernel work not tied to one subsystem (module loads). */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(o: GuestOptions) {
    this.loop = o.loop;
    this.mem = o.mem;
    this.nrCpus = o.nrCpus;
    this.cmdline = o.cmdline;
    this.#params = parseCmdline(o.cmdline);
    this.#seed = o.seed ?? 1;
    this.log = new KernelLog(o.loop);
    // The first 16 MiB stand for the kernel image and low memory; DMA buffers come from above.
    const base = Math.min(16 << 20, Math.floor(o.mem.size / 4));
    this.pages = new DmaAllocator(o.mem, base, o.mem.size - base);
    this.dma = new KernelDmaAdapter(this.pages);
    const now = (): number => BOOT_EPOCH + Math.floor(o.loop.now() / NS_PER_S);
    setSysfsClock(now);
    const sys = sysfsRoot();
    this.dm = new DeviceModel(sys, () => o.loop.now() / 1e6);
    this.irq = new IrqController({ nrCpus: o.nrCpus, initialLoad: [1, 0] });
    for (const [irq, chip, name] of PLATFORM_IRQS) {
      this.irq.registerPlatformIrq({ irq, chip: chip.trim().split(/\s+/)[0]!, hwirq: Number(chip.trim().split(/\s+/)[1]!.split('-')[0]), flow: chip.trim().split(/\s+/)[1]!.split('-')[1]!, name, counts: [] });
    }
    // arch_show_interrupts: `%*s: ` then `%10u ` per CPU and `  <description>`; ERR/MIS have one count.
    this.irq.archLines = () =>
      PLATFORM_IRQ_FOOTER.map(([k, desc]) =>
        desc === null ? `${k.padStart(3)}: ${'0'.padStart(10)}` : `${k.padStart(3)}: ${'0'.padStart(10)} `.padEnd(5) + `${'0'.padStart(10)} `.repeat(o.nrCpus - 1) + `  ${desc}`,
      );
    this.pci = new PciSubsystem({ bus: o.pciBus, log: this.log, irq: this.irq });
    this.pciSysfs = new PciSysfs(this.dm, this.pci, o.nrCpus);
    this.virtio = new VirtioBus(this.log);
    // Filesystems: rootfs with /dev (devtmpfs), /sys, /proc, /run and /tmp (tmpfs).
    this.root = new DirNode('', 0o755, now(), 1);
    for (const d of ['bin', 'etc', 'lib', 'mnt', 'root', 'sbin', 'usr', 'var']) this.root.mkdir(d);
    const mountOn = (name: string, fsRoot: DirNode): void => {
      const mp = this.root.mkdir(name);
      mp.mounted = fsRoot;
      fsRoot.mountpoint = mp;
    };
    const dev = new DirNode('', 0o755, now(), 5);
    mountOn('dev', dev);
    attachDevtmpfs(this.dm, dev, now);
    // The platform's character devices: virtual class devices, whose nodes devtmpfs creates.
    for (const [name, major, minor, mode, cls] of PLATFORM_CHAR_NODES) {
      const d = new Device(name.split('/').at(-1)!, null);
      d.cls = this.dm.cls(cls);
      d.devt = { kind: 'char', major, minor, devname: name, mode };
      this.dm.add(d);
    }
    for (const d of PLATFORM_DEV_DIRS) dev.mkdir(d);
    for (const [name, target] of PLATFORM_DEV_LINKS) dev.add(new LinkNode(name, target, now(), 5));
    mountOn('sys', sys);
    this.proc = new ProcFs(now);
    mountOn('proc', this.proc.root);
    mountOn('run', new DirNode('', 0o755, now(), 0x18));
    const tmp = new DirNode('', 0o1777, now(), 0x19);
    mountOn('tmp', tmp);
    const etc = this.root.get('etc') as DirNode;
    const file = (dir: DirNode, name: string, text: string): void => {
      const f = new FileNode(name, 0o644, now(), 1);
      f.data = bytes(text);
      dir.add(f);
    };
    file(etc, 'passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    file(etc, 'group', 'root:x:0:\ndisk:x:6:\ncdrom:x:24:\ntape:x:26:\nnogroup:x:65534:\n');
    this.vfs = new Vfs(this.root, {
      time: now,
      uptime: () => o.loop.now() / NS_PER_S,
      sleep: (ns) => new Promise((r) => o.loop.after(ns, r)),
      syslog: () => this.log.records.map((r) => formatDmesgLine(r)),
      // do_init_module ends with async_synchronize_full(): modprobe returns after the driver's
      // asynchronous probes (sd) have finished.
      initModule: async (name) => {
        await this.loadModule(name);
        while (this.scsi && this.scsi.pending.size > 0) await Promise.allSettled([...this.scsi.pending]);
      },
      deleteModule: (name) => this.unloadModule(name),
      // The module aliases modprobe resolves for the kernel (modules.alias of the guest's kernel).
      requestModule: async (alias) => {
        const mod = ({ 'fs-iso9660': 'isofs' } as Record<string, string>)[alias];
        if (mod && !this.#loaded.has(mod)) await this.loadModule(mod);
      },
      uname: () => ({ sysname: 'Linux', nodename: '(none)', release: KERNEL_RELEASE, version: KERNEL_VERSION, machine: 'x86_64' }),
    });
    this.vfs.setDeviceOpener((kind, major, minor, flags) => this.devs.open(kind, major, minor, flags));
    for (const [major, name] of PLATFORM_CHRDEVS) this.devs.registerChrdev(major, name);
    const rng = new Rng(o.seed ?? 1).fork('random');
    this.devs.setOpen('chr', MEM_MAJOR, (minor) => memDeviceOpen(minor, rng, () => this.log.dmesg()));
    for (const [major, name] of PLATFORM_BLKDEVS) this.devs.registerBlkdev(major, name);
    // bsg is built in: it takes the next dynamic char major once the platform's are taken (248).
    this.bsg = Bsg.init(this);
    this.#procFiles();
    this.#wireSysfsHooks();
    this.registry = createBusyboxRegistry();
    for (const e of [lsscsiEntry, sgInqEntry, sgVpdEntry, sgReadcapEntry, sgLunsEntry, sgTursEntry, sgModesEntry, udevadmEntry, scsiIdEntry, blkidEntry, mountEntry, umountEntry,
      sgDdEntry, sgResetEntry, sgStartEntry, sgPreventEntry, ejectEntry, mtEntry, tarEntry]) {
      this.registry.add(e);
    }
    this.sys = this.vfs.syscalls({ uid: 0, gid: 0 }, () => '/');
    this.shell = new Shell({ sys: this.sys, registry: this.registry, cwd: '/', env: { PATH: '/sbin:/usr/sbin:/bin:/usr/bin', HOME: '/root' } });
  }

  /** Background work to wait for before the guest counts as idle (hot-plug handling …). */
  track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    const done = (): void => {
      this.#pending.delete(p);
    };
    p.then(done, done);
    return p;
  }

  #kernelRng: Rng | null = null;
  randomU32(): number {
    this.#kernelRng ??= new Rng(this.#seed).fork('kernel');
    return this.#kernelRng.nextU32();
  }

  printk(level: number, text: string): void {
    this.log.printk(level as LogLevel, text);
  }

  param(module: string, name: string): string | undefined {
    return this.#params.get(`${module}.${name}`);
  }

  #procFiles(): void {
    this.proc.addFile('devices', () => this.devs.procDevices());
    this.proc.addFile('interrupts', () => this.irq.show());
    this.proc.addFile('cmdline', () => `${this.cmdline}\n`);
    this.proc.addFile('uptime', () => {
      const up = this.loop.now() / NS_PER_S;
      return `${up.toFixed(2)} ${(up * this.nrCpus).toFixed(2)}\n`;
    });
    this.proc.addFile('version', () => `Linux version ${KERNEL_RELEASE} (debian-kernel@lists.debian.org) ${KERNEL_VERSION}\n`);
    this.proc.addFile('filesystems', () => 'nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\n');
    this.proc.addFile('partitions', () => procPartitions(this));
    this.proc.addFile('mounts', () => this.vfs.procMounts());
    this.proc.addFile('modules', () => this.#procModules());
  }

  /** Publishes PCI functions and virtio devices in sysfs as the driver core does. */
  #wireSysfsHooks(): void {
    this.pci.hooks = {
      deviceAdded: (pdev) => this.pciSysfs.add(pdev),
      deviceRemoved: (pdev) => this.pciSysfs.remove(pdev),
      bound: (pdev, drv) => this.pciSysfs.bind(pdev, drv.name),
      unbound: (pdev) => this.pciSysfs.unbind(pdev),
    };
    const vbus = this.dm.bus('virtio');
    this.virtio.hooks = {
      deviceAdded: (vdev) => this.#addVirtioDevice(vdev),
      deviceRemoved: (vdev) => {
        if (vdev.sysdev) this.dm.del(vdev.sysdev);
        vdev.sysdev = null;
      },
      bound: (vdev) => {
        if (vdev.sysdev && vdev.driver) this.dm.bind(vdev.sysdev, this.dm.driver(vbus, vdev.driver.name));
      },
      unbound: (vdev) => {
        if (vdev.sysdev) this.dm.unbind(vdev.sysdev);
      },
    };
  }

  #addVirtioDevice(vdev: VirtioDevice): void {
    const vp = [...this.pci.devices].map((p) => ({ p, vp: virtioPciOf(p) })).find((x) => x.p.name === vdev.parent.name);
    const parent = vp ? this.pciSysfs.deviceOf(vp.p) : undefined;
    const dev = new Device(vdev.name, parent ?? null);
    dev.bus = this.dm.bus('virtio');
    dev.ueventVars = () => [['MODALIAS', vdev.modalias]];
    dev.power = { enabled: 'disabled', status: 'unsupported', control: 'auto', autosuspendDelayMs: undefined, usage: 0, async: 'disabled', activeSince: undefined };
    this.dm.add(dev, [
      { name: 'device', mode: 0o444, show: () => `${vdev.deviceAttr}\n` },
      { name: 'vendor', mode: 0o444, show: () => `${vdev.vendorAttr}\n` },
      { name: 'status', mode: 0o444, show: () => `${vdev.statusAttr}\n` },
      { name: 'modalias', mode: 0o444, show: () => `${vdev.modalias}\n` },
      { name: 'features', mode: 0o444, show: () => `${vdev.featuresAttr}\n` },
    ]);
    vdev.sysdev = dev;
  }

  /** /sys/module/<name> with its parameters (the table in kernel/modparams.ts). */
  #moduleDir(name: string): DirNode {
    const mods = this.dm.sys.get('module') as DirNode;
    const m = mods.mkdir(name);
    if (this.scsi) {
      this.#modVars ??= modParamVars(this.scsi.params);
      const files = moduleParamFiles(name, { scsiMod: this.scsi.params, vars: this.#modVars });
      if (files.length) createFiles(m.mkdir('parameters'), files);
    }
    return m;
  }

  /** The driver's directory on the scsi bus with its `module` link (driver_register + module_add_driver). */
  #scsiDriverDir(driver: string, module: string): void {
    const drv = this.dm.driver(this.dm.bus('scsi'), driver);
    const mod = (this.dm.sys.get('module') as DirNode).get(module);
    if (mod) createLink(drv.dir, 'module', mod);
  }

  /** insmod/modprobe of one of the modules the guest knows (loading one twice is a no-op, as modprobe). */
  async loadModule(name: string): Promise<void> {
    if (this.#loaded.has(name)) return;
    this.#loaded.add(name);
    switch (name) {
      case 'virtio_pci': {
        this.pci.firmwareInit();
        this.pci.scanBus();
        await this.pci.registerDriver(virtioPciDriver({ mem: this.mem, dma: this.pages, irq: this.irq, virtio: this.virtio, log: this.log }));
        this.#moduleDir('virtio_pci');
        return;
      }
      case 'scsi_mod': {
        if (this.scsi) return;
        this.scsi = new ScsiMod(this);
        this.#moduleDir('scsi_mod');
        // scsi_mod registers bsg for every LU it makes visible (scsi_sysfs_add_sdev).
        this.scsiBsg = ScsiBsg.register(this.scsi, this.bsg);
        return;
      }
      case 'virtio_scsi': {
        if (!this.scsi) await this.loadModule('scsi_mod');
        await this.virtio.registerVirtioDriver(virtioScsiDriver(this.scsi!));
        this.#moduleDir('virtio_scsi');
        const drvDir = this.dm.driver(this.dm.bus('virtio'), 'virtio_scsi').dir;
        createLink(drvDir, 'module', (this.dm.sys.get('module') as DirNode).get('virtio_scsi')!);
        for (const pdev of this.pci.devices) this.pciSysfs.msiIrqs(pdev, pdev.msixIrqs);
        return;
      }
      case 'sg': {
        if (!this.scsi) await this.loadModule('scsi_mod');
        this.sg = SgDriver.register(this.scsi!);
        // The kernel adds bsg after the class interfaces; keep it last in the interface list.
        this.scsiBsg?.keepLast();
        for (const sdev of this.scsi!.hosts.flatMap((h) => h.devices)) if (sdev.isVisible) this.sg.addDev(sdev);
        this.#moduleDir('sg');
        return;
      }
      case 'sd_mod': {
        if (!this.scsi) await this.loadModule('scsi_mod');
        this.#moduleDir('sd_mod');
        this.sd = SdDriver.register(this.scsi!);
        this.#scsiDriverDir('sd', 'sd_mod');
        return;
      }
      case 'cdrom': {
        this.#moduleDir('cdrom');
        return;
      }
      case 'sr_mod': {
        if (!this.scsi) await this.loadModule('scsi_mod');
        await this.loadModule('cdrom');
        this.#moduleDir('sr_mod');
        this.sr = SrDriver.register(this.scsi!);
        this.#scsiDriverDir('sr', 'sr_mod');
        return;
      }
      case 'st': {
        if (!this.scsi) await this.loadModule('scsi_mod');
        this.#moduleDir('st');
        this.st = StDriver.register(this.scsi!);
        this.#scsiDriverDir('st', 'st');
        return;
      }
      case 'isofs': {
        this.vfs.registerFilesystem('iso9660', isofsMount({ openDevice: (n, f) => this.vfs.openNode(n, f), printk: (l, t) => this.printk(l, t) }));
        this.#moduleDir('isofs');
        return;
      }
      default:
        this.#loaded.delete(name);
        throw new Errno('ENOENT');
    }
  }

  /** Unbinds an upper-level driver from every LU it holds (driver_detach), as rmmod does. */
  async #detachScsiDriver(name: string): Promise<void> {
    const mod = this.scsi;
    if (!mod) return;
    const drv = mod.drivers.find((d) => d.name === name);
    if (!drv) return;
    for (const sdev of mod.hosts.flatMap((h) => h.devices)) {
      if (sdev.driver?.name !== name) continue;
      await drv.remove(sdev);
      this.dm.unbind(sdev.sdevGendev);
      sdev.driver = null;
    }
  }

  /** delete_module: the modules of the SCSI stack can go and come back (modprobe -r / modprobe). */
  async unloadModule(name: string): Promise<void> {
    if (!this.#loaded.has(name)) throw new Errno('ENOENT');
    const mods = this.dm.sys.get('module') as DirNode;
    switch (name) {
      case 'sd_mod':
        await this.#detachScsiDriver('sd');
        this.sd?.unregister();
        this.sd = null;
        break;
      case 'sr_mod':
        await this.#detachScsiDriver('sr');
        this.sr?.unregister();
        this.sr = null;
        break;
      case 'sg':
        this.sg?.unregister();
        this.sg = null;
        break;
      case 'virtio_scsi': {
        const drv = this.virtio.drivers.find((d) => d.name === 'virtio_scsi');
        if (drv) await this.virtio.unregisterVirtioDriver(drv);
        break;
      }
      case 'st':
        await this.#detachScsiDriver('st');
        this.st?.unregister();
        this.st = null;
        break;
      case 'isofs':
      case 'cdrom':
        break;
      default:
        // scsi_mod and virtio_pci hold everything else up.
        throw new Errno('EBUSY');
    }
    if (name === 'sd_mod' || name === 'sr_mod' || name === 'st') {
      const drvDir = (this.dm.bus('scsi').drivers.get(name === 'sd_mod' ? 'sd' : name === 'sr_mod' ? 'sr' : 'st'));
      if (drvDir) this.dm.bus('scsi').drivers.remove(drvDir.name);
    }
    mods.remove(name);
    this.#loaded.delete(name);
  }

  /** /proc/modules: name, size, use count, dependencies, state, address (as lsmod reads it). */
  #procModules(): string {
    return [...this.#loaded]
      .reverse()
      .map((m) => `${m} 16384 0 - Live 0x0000000000000000\n`)
      .join('');
  }

  /** systemd-udevd starts, then `udevadm trigger` and `udevadm settle`, as the captured /init does. */
  async startUdev(): Promise<void> {
    const udevd = new Udevd({
      sys: this.sys,
      dm: this.dm,
      loop: this.loop,
      blkid: async (sys, devnode) => {
        try {
          const r = await blkidProbeDevice(sys, devnode, BLKID_FLAGS_LOWPROBE);
          const props = udevBlkidProperties(r.values);
          return props.length ? props : null;
        } catch {
          return null;
        }
      },
    });
    this.udevd = udevd;
    udevd.start();
    // Debian's udev rules set the block layer's default media polling interval to 2 s.
    blockLayer(this).setEventsDflPollMsecs(2000);
    await udevd.trigger('add');
  }

  /** Waits until the guest has nothing left to do: no pending events, scans, probes or udev work. */
  async settle(): Promise<void> {
    // Work is pending while events are queued; promise chains that finish without an event get a
    // few turns of the microtask queue before the guest counts as idle.
    // udevd can be busy only while it waits for an event; if none is queued it is stuck, not busy.
    for (let quiet = 0, spins = 0; quiet < 3 && spins < 1000; spins++) {
      await this.loop.runUntilIdle();
      await this.loop.yieldToHost();
      quiet = this.loop.busy || this.udevd?.busy || this.#pending.size > 0 ? 0 : quiet + 1;
    }
  }

  /** The captured /init: modules one at a time, each waited for. */
  async boot(): Promise<void> {
    this.printk(KERN.NOTICE, `Linux version ${KERNEL_RELEASE} (debian-kernel@lists.debian.org) ${KERNEL_VERSION}`);
    this.printk(KERN.INFO, `Command line: ${this.cmdline}`);
    for (const m of ['virtio_pci', 'scsi_mod', 'virtio_scsi', 'sg', 'sd_mod', 'sr_mod', 'st']) {
      await this.loadModule(m);
      await this.settle();
    }
    await this.startUdev();
    await this.settle();
  }
}
