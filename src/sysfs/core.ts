// Models drivers/base/{core,bus,class,dd}.c and power/sysfs.c (Linux 6.1), reduced to what the SCSI
// stack shows: device directories with `uevent`, `subsystem` and `power/`, class "glue" directories
// (host0/scsi_host/host0), bus and class links, /sys/dev/{block,char} links, driver binding links,
// and uevents to whoever listens (the udev model).
//
// Placement rule (get_device_parent): a class device whose parent is not of the same class goes into
// a directory named after the class under the parent; a device with no parent goes under
// /sys/devices/virtual/<class>.

import { Errno } from '../kernel/errno.ts';
import type { DirNode } from '../kernel/fs.ts';
import { createDir, createFile, createFiles, createLink, removeDir, removeNode } from './kernfs.ts';
import type { AttrSpec } from './kernfs.ts';

export interface Bus {
  readonly name: string;
  readonly dir: DirNode;
  readonly devices: DirNode;
  readonly drivers: DirNode;
}

export interface DevClass {
  readonly name: string;
  readonly dir: DirNode;
}

export interface Driver {
  readonly name: string;
  readonly bus: Bus;
  readonly dir: DirNode;
}

/** Runtime-PM view shown in power/ (what the driver core knows about the device). */
export interface PowerInfo {
  /** runtime_enabled: 'enabled', 'disabled' or 'forbidden'. */
  enabled: 'enabled' | 'disabled' | 'forbidden';
  status: 'active' | 'suspended' | 'unsupported';
  control: 'auto' | 'on';
  /** undefined → reading autosuspend_delay_ms fails with EIO (no autosuspend). */
  autosuspendDelayMs: number | undefined;
  usage: number;
  /** power/async */
  async: 'enabled' | 'disabled';
  /** ms spent active, counted from the moment runtime PM was enabled. */
  activeSince: number | undefined;
}

export type UeventAction = 'add' | 'remove' | 'change' | 'bind' | 'unbind' | 'move';

export interface Uevent {
  readonly action: UeventAction;
  /** devpath below /sys, e.g. /devices/pci0000:00/0000:00:04.0/virtio0/host0 */
  readonly devpath: string;
  readonly subsystem: string;
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly device: Device;
}

export interface DevT {
  readonly kind: 'block' | 'char';
  readonly major: number;
  readonly minor: number;
  /** Name below /dev (e.g. `sda`, `bsg/0:0:0:0`). */
  readonly devname: string;
  readonly mode?: number;
}

export class Device {
  readonly name: string;
  parent: Device | null;
  bus: Bus | null = null;
  cls: DevClass | null = null;
  /** DEVTYPE in uevent. */
  devtype: string | null = null;
  devt: DevT | null = null;
  driver: Driver | null = null;
  /** Extra uevent variables (bus/class uevent callbacks), in order. */
  ueventVars: () => Array<readonly [string, string]> = () => [];
  power: PowerInfo | null = null;
  dir: DirNode | null = null;
  /** Directory created for class glue under the parent, when this device needed one. */
  glue: DirNode | null = null;
  /** Registered children (for power/runtime_active_kids). */
  readonly children: Device[] = [];

  constructor(name: string, parent: Device | null) {
    this.name = name;
    this.parent = parent;
  }

  get registered(): boolean {
    return this.dir !== null;
  }
}

/** Default runtime-PM state for a plain device that never enabled runtime PM (async suspend off). */
export function powerUnsupported(): PowerInfo {
  return { enabled: 'disabled', status: 'unsupported', control: 'auto', autosuspendDelayMs: undefined, usage: 0, async: 'disabled', activeSince: undefined };
}

export class DeviceModel {
  readonly sys: DirNode;
  readonly devicesDir: DirNode;
  readonly busDir: DirNode;
  readonly classDir: DirNode;
  readonly devDir: { block: DirNode; char: DirNode };
  readonly #buses = new Map<string, Bus>();
  readonly #classes = new Map<string, DevClass>();
  readonly #listeners: Array<(ev: Uevent) => void> = [];
  readonly #nowMs: () => number;
  #seqnum = 0;

  constructor(sys: DirNode, nowMs: () => number) {
    this.sys = sys;
    this.#nowMs = nowMs;
    this.devicesDir = createDir(sys, 'devices');
    this.busDir = createDir(sys, 'bus');
    this.classDir = createDir(sys, 'class');
    const dev = createDir(sys, 'dev');
    this.devDir = { block: createDir(dev, 'block'), char: createDir(dev, 'char') };
    createDir(sys, 'block');
    createDir(sys, 'module');
  }

  onUevent(fn: (ev: Uevent) => void): void {
    this.#listeners.push(fn);
  }

  get seqnum(): number {
    return this.#seqnum;
  }

  bus(name: string): Bus {
    let b = this.#buses.get(name);
    if (!b) {
      const dir = createDir(this.busDir, name);
      const devices = createDir(dir, 'devices');
      const drivers = createDir(dir, 'drivers');
      createFile(dir, { name: 'drivers_autoprobe', mode: 0o644, show: () => '1\n', store: () => {} });
      createFile(dir, { name: 'drivers_probe', mode: 0o200, store: () => {} });
      createFile(dir, { name: 'uevent', mode: 0o200, store: () => {} });
      b = { name, dir, devices, drivers };
      this.#buses.set(name, b);
    }
    return b;
  }

  cls(name: string): DevClass {
    let c = this.#classes.get(name);
    if (!c) {
      c = { name, dir: createDir(this.classDir, name) };
      this.#classes.set(name, c);
    }
    return c;
  }

  driver(bus: Bus, name: string): Driver {
    const dir = createDir(bus.drivers, name);
    createFile(dir, { name: 'bind', mode: 0o200, store: () => {} });
    createFile(dir, { name: 'unbind', mode: 0o200, store: () => {} });
    createFile(dir, { name: 'uevent', mode: 0o200, store: () => {} });
    return { name, bus, dir };
  }

  /** Absolute sysfs path of a registered device. */
  path(dev: Device): string {
    const parts: string[] = [];
    let d: DirNode | null = dev.dir;
    while (d && d !== this.sys) {
      parts.push(d.name);
      d = d.parent;
    }
    return '/sys/' + parts.reverse().join('/');
  }

  devpath(dev: Device): string {
    return this.path(dev).slice('/sys'.length);
  }

  #parentDir(dev: Device): DirNode {
    const p = dev.parent;
    if (!p) {
      if (dev.cls) return createDir(createDir(this.devicesDir, 'virtual'), dev.cls.name);
      return this.devicesDir;
    }
    if (!p.dir) throw new Error(`parent ${p.name} of ${dev.name} is not registered`);
    if (dev.cls && p.cls !== dev.cls) {
      dev.glue = createDir(p.dir, dev.cls.name);
      return dev.glue;
    }
    return p.dir;
  }

  /** The uevent environment (dev_uevent order: MAJOR, MINOR, DEVNAME, DEVTYPE, DRIVER, then subsystem vars). */
  ueventEnv(dev: Device): Array<readonly [string, string]> {
    const env: Array<readonly [string, string]> = [];
    if (dev.devt) {
      env.push(['MAJOR', String(dev.devt.major)], ['MINOR', String(dev.devt.minor)], ['DEVNAME', dev.devt.devname]);
    }
    if (dev.devtype) env.push(['DEVTYPE', dev.devtype]);
    if (dev.driver) env.push(['DRIVER', dev.driver.name]);
    env.push(...dev.ueventVars());
    return env;
  }

  /** device_add: directory, standard files, extra attributes, links; then the `add` uevent. */
  add(dev: Device, attrs: readonly AttrSpec[] = []): void {
    const parentDir = this.#parentDir(dev);
    const dir = createDir(parentDir, dev.name);
    dev.dir = dir;
    const subsystemDir = dev.bus ? dev.bus.dir : dev.cls ? dev.cls.dir : null;
    if (subsystemDir) createLink(dir, 'subsystem', subsystemDir);
    createFile(dir, {
      name: 'uevent',
      mode: 0o644,
      show: () =>
        this.ueventEnv(dev)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      store: (text) => this.uevent(dev, text.trim() === '' ? 'change' : (text.trim().split(/\s+/)[0] as UeventAction)),
    });
    // A class device links back to the device it hangs off (device_add_class_symlinks).
    if (dev.cls && dev.parent?.dir && dev.devtype !== 'partition') createLink(dir, 'device', dev.parent.dir);
    if (dev.devt) {
      const dt = dev.devt;
      createFile(dir, { name: 'dev', mode: 0o444, show: () => `${dt.major}:${dt.minor}\n` });
      createLink(this.devDir[dt.kind], `${dt.major}:${dt.minor}`, dir);
    }
    // Every device has power/, even when runtime PM was never enabled.
    dev.power ??= powerUnsupported();
    this.#powerDir(dir, dev);
    dev.parent?.children.push(dev);
    createFiles(dir, attrs);
    if (dev.bus) createLink(dev.bus.devices, dev.name, dir);
    if (dev.cls) createLink(dev.cls.dir, dev.name, dir);
    this.uevent(dev, 'add');
  }

  #powerDir(dir: DirNode, dev: Device): void {
    const p = dev.power!;
    const power = createDir(dir, 'power');
    // Children with runtime PM on (enabled or forbidden) that are active keep their parent active.
    const activeKids = (): number =>
      dev.children.filter((c) => c.power && c.power.enabled !== 'disabled' && c.power.status === 'active').length;
    createFiles(power, [
      { name: 'async', mode: 0o644, show: () => `${p.async}\n`, store: () => {} },
      {
        name: 'autosuspend_delay_ms',
        mode: 0o644,
        show: () => {
          // Without autosuspend the kernel's show fails with EIO.
          if (p.autosuspendDelayMs === undefined) throw new Errno('EIO');
          return `${p.autosuspendDelayMs}\n`;
        },
      },
      { name: 'control', mode: 0o644, show: () => `${p.control}\n`, store: () => {} },
      { name: 'runtime_active_kids', mode: 0o444, show: () => `${activeKids()}\n` },
      {
        name: 'runtime_active_time',
        mode: 0o444,
        show: () => `${p.activeSince === undefined ? 0 : Math.floor(this.#nowMs() - p.activeSince)}\n`,
      },
      { name: 'runtime_enabled', mode: 0o444, show: () => `${p.enabled}\n` },
      { name: 'runtime_status', mode: 0o444, show: () => `${p.status}\n` },
      { name: 'runtime_suspended_time', mode: 0o444, show: () => '0\n' },
      { name: 'runtime_usage', mode: 0o444, show: () => `${p.usage}\n` },
    ]);
  }

  /** device_del: the `remove` uevent, links and the directory (and an empty class glue directory). */
  del(dev: Device): void {
    if (!dev.dir) return;
    this.uevent(dev, 'remove');
    if (dev.bus) removeNode(dev.bus.devices, dev.name);
    if (dev.cls) removeNode(dev.cls.dir, dev.name);
    if (dev.devt) removeNode(this.devDir[dev.devt.kind], `${dev.devt.major}:${dev.devt.minor}`);
    removeDir(dev.dir);
    dev.dir = null;
    const siblings = dev.parent?.children;
    if (siblings?.includes(dev)) siblings.splice(siblings.indexOf(dev), 1);
    if (dev.glue && dev.glue.children.size === 0) removeDir(dev.glue);
    dev.glue = null;
  }

  /** Driver binding (really_probe → driver_sysfs_add): `driver` link on the device, device link in the driver. */
  bind(dev: Device, drv: Driver): void {
    dev.driver = drv;
    if (dev.dir) {
      createLink(dev.dir, 'driver', drv.dir);
      createLink(drv.dir, dev.name, dev.dir);
      this.uevent(dev, 'bind');
    }
  }

  unbind(dev: Device): void {
    const drv = dev.driver;
    if (!drv) return;
    if (dev.dir) {
      removeNode(dev.dir, 'driver');
      removeNode(drv.dir, dev.name);
    }
    dev.driver = null;
    if (dev.dir) this.uevent(dev, 'unbind');
  }

  uevent(dev: Device, action: UeventAction, extra: Array<readonly [string, string]> = []): void {
    if (!dev.dir && action !== 'remove') return;
    const subsystem = dev.bus?.name ?? dev.cls?.name ?? '';
    const env: Array<readonly [string, string]> = [
      ['ACTION', action],
      ['DEVPATH', this.devpath(dev)],
      ['SUBSYSTEM', subsystem],
      ...this.ueventEnv(dev),
      ...extra,
      ['SEQNUM', String(++this.#seqnum)],
    ];
    const ev: Uevent = { action, devpath: this.devpath(dev), subsystem, env, device: dev };
    for (const l of this.#listeners) l(ev);
  }
}
