// Ours: the reference model of the property-testing kit. It predicts, from Linux 6.1's and QEMU 7.2's
// rules (never by running the simulator), what a guest shows after each monitor or guest action:
// /sys/bus/scsi/devices, /sys/block, /dev/sd*, /dev/sr*, /dev/sg*, /dev/bsg, /dev/disk/by-path and
// `lsscsi -g`, plus the outcome of every action (rc, data read back).
//
// The rules it encodes:
//   QEMU side — a controller per PCI slot (lowest free slot from 4 on `-machine pc`); SCSI devices in
//   bus-child order, newest first (bus_add_child inserts at the head), which is the order REPORT LUNS
//   lists them in after LUN 0; automatic addresses (lowest free scsi-id for the LUN, or lowest free LUN
//   on the target); a legacy drive goes away with its device.
//   Linux side — hotplug on: RESCAN for LUN 0 scans the whole target (REPORT LUNS), for any other LUN
//   adds just that LUN; REMOVED removes the LU. Hotplug off: nothing until a scan; a stale LU stays
//   (state running, I/O fails) through every scan until `delete`. Target scan: an existing LUN-0 LU
//   gets REPORT LUNS (unless it is a CD: its stored NOREPORTLUN flag means a sequential scan from LUN 1
//   to the first gap), which fails on a gone target (then the sequential scan stops at the first LUN with
//   no LU: nothing is added); otherwise INQUIRY LUN 0 and, if the target answers, REPORT LUNS and every
//   listed LUN not known yet. Flat-space LUNs (≥ 256) come back from REPORT LUNS and events as
//   0x4000 + LUN, and a probe of Linux LUN L reaches QEMU LUN L & 0x3fff. Names: hostN, virtioN, sg,
//   bsg, sd and sr indices are the lowest free; at boot sg follows bus order and sd the async probe
//   order the captures show on an SMP guest (with three or more LUs the second disk overtakes the first).
//   The `scan` attribute parses sscanf("%10s %10s %16s %c") = exactly 3 tokens, each `-` or a number in
//   C's base-0 syntax with nothing left over, then checks channel ≤ 0, id < 256, lun < 32768.

export type LunKind = 'disk' | 'cd';

/** One LU on the command line: its address, kind and image size. */
export interface LunSpec {
  readonly target: number;
  readonly lun: number;
  readonly kind: LunKind;
  readonly sizeMiB: number;
}

export interface ControllerSpec {
  readonly hotplug: boolean;
  readonly luns: readonly LunSpec[];
}

/** What the machine boots with: 1–3 virtio-scsi-pci controllers and their LUs. */
export interface Topology {
  readonly controllers: readonly ControllerSpec[];
}

/** What the guest shows, in comparable form (lists sorted, lsscsi as printed). */
export interface Snapshot {
  readonly busDevices: readonly string[];
  readonly block: readonly string[];
  readonly devSd: readonly string[];
  readonly devSr: readonly string[];
  readonly devSg: readonly string[];
  readonly devBsg: readonly string[];
  readonly byPath: Readonly<Record<string, string>>;
  readonly lsscsi: string;
}

export const FIRST_SLOT = 4; // -machine pc: 00:02.0 VGA, 00:03.0 NIC, the first free slot is 4
export const MAX_SLOT = 31;
export const SCAN_MAX_ID = 256;
export const SCAN_MAX_LUN = 32768;
export const QEMU_MAX_LUN = 16383;
export const SECTOR = 512;

interface QDev {
  readonly id: string;
  readonly target: number;
  readonly lun: number;
  readonly kind: LunKind;
  readonly drive: QDrive;
}

interface QCtrl {
  readonly id: string;
  readonly slot: number;
  readonly hotplug: boolean;
  /** Bus children, newest first. */
  devices: QDev[];
  host: GHost | null;
}

interface QDrive {
  readonly id: string;
  readonly file: string;
  readonly kind: LunKind;
  readonly sizeBytes: number;
  attached: boolean;
  /** Sectors written through the guest: sector → the tag printed into it. */
  readonly data: Map<number, string>;
}

interface GDev {
  readonly host: GHost;
  readonly target: number;
  /** Linux's LUN (0x4000 + LUN for flat-space LUNs found by REPORT LUNS or events). */
  readonly lun: number;
  readonly kind: LunKind;
  sg: number;
  bsg: number;
  /** sd index for disks, sr index for CDs. */
  blk: number;
  /** What sd last read with READ CAPACITY, in 512-byte sectors (0 after a failed revalidation). */
  capacity: number;
}

interface GHost {
  readonly no: number;
  readonly virtio: number;
  readonly ctrl: QCtrl;
  /** shost->__devices in allocation order. */
  readonly devices: GDev[];
  /** Targets whose scsi_level is SCSI_UNKNOWN (last INQUIRY answered for a missing LUN). */
  readonly unknownLevel: Set<number>;
}

/** The outcome the model predicts for one action. */
export interface Expectation {
  readonly rc: number | 'nonzero';
  /** Exact stdout, when the model knows it. */
  readonly stdout?: string;
}

/** sd_format_disk_name: a..z, aa..zz, aaa… */
export function sdName(index: number): string {
  let s = '';
  let i = index;
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return `sd${s}`;
}

/** Linux's LUN for a LUN QEMU reports (REPORT LUNS entry or event): flat space above 255. */
export function linuxLunOf(qemuLun: number): number {
  return qemuLun < 256 ? qemuLun : 0x4000 | qemuLun;
}

/** The QEMU LUN a command to Linux LUN `lun` reaches (virtio_scsi sets 0x40 in byte 2, QEMU masks 14 bits). */
export function qemuLunOf(linuxLun: number): number {
  return linuxLun & 0x3fff;
}

/** One `%Ns` of the kernel's vsscanf: skip white space, take up to `width` non-space characters. */
function scanToken(s: string, pos: number, width: number): { tok: string; pos: number } | null {
  let p = pos;
  while (p < s.length && /\s/.test(s[p]!)) p++;
  if (p >= s.length) return null;
  const start = p;
  while (p < s.length && p - start < width && !/\s/.test(s[p]!)) p++;
  return { tok: s.slice(start, p), pos: p };
}

/** simple_strtoull(base 0) with the "nothing left over" rule; `-` is the wildcard (-1). */
function scanValue(tok: string): number | null {
  if (tok === '-') return -1;
  let base = 10;
  let digits = tok;
  if (/^0[xX][0-9a-fA-F]/.test(tok)) {
    base = 16;
    digits = tok.slice(2);
  } else if (tok.startsWith('0')) base = 8;
  const valid = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return null;
  const v = Number.parseInt(digits, base);
  return Number.isSafeInteger(v) ? v : Number.MAX_SAFE_INTEGER;
}

/**
 * The host `scan` attribute as Linux parses the bytes written (echo adds "\n"): the channel, id and lun
 * (-1 = wildcard), or null for EINVAL (parse or range error).
 */
export function parseScanString(written: string): { channel: number; id: number; lun: number } | null {
  const toks: string[] = [];
  let pos = 0;
  for (const width of [10, 10, 16]) {
    const t = scanToken(written, pos, width);
    if (!t) return null;
    toks.push(t.tok);
    pos = t.pos;
  }
  while (pos < written.length && /\s/.test(written[pos]!)) pos++;
  if (pos < written.length) return null; // the fourth conversion (%c) matched: trailing junk
  const [channel, id, lun] = toks.map(scanValue);
  if (channel === null || id === null || lun === null || channel === undefined || id === undefined || lun === undefined) return null;
  if (channel !== -1 && channel > 0) return null;
  if (id !== -1 && id >= SCAN_MAX_ID) return null;
  if (lun !== -1 && lun >= SCAN_MAX_LUN) return null;
  return { channel, id, lun };
}

function lowestFree(used: Iterable<number>, from = 0): number {
  const set = new Set(used);
  let i = from;
  while (set.has(i)) i++;
  return i;
}

const pad = (s: string, n: number): string => s.padEnd(n, ' ');

export interface ModelOptions {
  /**
   * Order of the non-zero LUNs in QEMU's REPORT LUNS answer: 'newest-first' is QEMU 7.2's (bus children
   * are inserted at the head of the list). 'oldest-first' exists only to keep a suite green around a
   * known divergence of the simulator; see test/model-based/regressions.test.ts.
   */
  readonly reportLunsOrder?: 'newest-first' | 'oldest-first';
  /** vCPUs: more than one gives the SMP async-probe order of sd names at boot. */
  readonly cpus?: number;
}

/** The reference model: QEMU's view and Linux's view of the same machine, advanced action by action. */
export class ScsiModel {
  readonly ctrls: QCtrl[] = [];
  readonly hosts: GHost[] = [];
  readonly drives = new Map<string, QDrive>();
  readonly #opts: Required<ModelOptions>;

  constructor(opts: ModelOptions = {}) {
    this.#opts = { reportLunsOrder: opts.reportLunsOrder ?? 'newest-first', cpus: opts.cpus ?? 2 };
  }

  // ---- boot ---------------------------------------------------------------------------------------

  /** The guest after boot: every controller probed in PCI order, its host scanned, then sg, sd, sr loaded. */
  static boot(topo: Topology, opts: ModelOptions = {}): ScsiModel {
    const m = new ScsiModel(opts);
    topo.controllers.forEach((c, ci) => {
      const ctrl: QCtrl = { id: `scsi${ci}`, slot: FIRST_SLOT + ci, hotplug: c.hotplug, devices: [], host: null };
      m.ctrls.push(ctrl);
      c.luns.forEach((l, li) => {
        const drive: QDrive = { id: `b${ci}_${li}`, file: `/images/b${ci}_${li}.img`, kind: l.kind, sizeBytes: l.sizeMiB << 20, attached: true, data: new Map() };
        m.drives.set(drive.id, drive);
        ctrl.devices.unshift({ id: `bd${ci}_${li}`, target: l.target, lun: l.lun, kind: l.kind, drive });
      });
    });
    // virtio_scsi probes each controller (virtioN, hostN in PCI order) and scans it; names come later.
    const found: GDev[] = [];
    for (const ctrl of m.ctrls) {
      const host = m.#attachHost(ctrl);
      for (let t = 0; t < SCAN_MAX_ID; t++) m.#scanTarget(host, t, (d) => found.push(d));
    }
    // sg loads first: attach order = bus order.
    found.forEach((d, i) => (d.sg = i));
    found.forEach((d, i) => (d.bsg = i));
    // sd_mod: async probes, whose race the kernel does not order; the captures' empirical rule on SMP:
    // two LUs take indices in bus order; with three or more the first item waits for a worker while
    // the next disk's probe runs first.
    let order = found;
    if (m.#opts.cpus > 1 && found.length > 2) {
      const rest = found.slice(1);
      const k = rest.findIndex((d) => d.kind === 'disk');
      if (k >= 0) order = [...rest.slice(0, k + 1), found[0]!, ...rest.slice(k + 1)];
    }
    let sd = 0;
    for (const d of order) if (d.kind === 'disk') d.blk = sd++;
    let sr = 0;
    for (const d of found) if (d.kind === 'cd') d.blk = sr++;
    return m;
  }

  // ---- queries ------------------------------------------------------------------------------------

  get liveCtrls(): QCtrl[] {
    return this.ctrls.filter((c) => c.host !== null);
  }

  get sdevs(): GDev[] {
    return this.hosts.flatMap((h) => h.devices);
  }

  get qdevs(): { ctrl: QCtrl; dev: QDev }[] {
    return this.liveCtrls.flatMap((ctrl) => ctrl.devices.map((dev) => ({ ctrl, dev })));
  }

  freeDrives(kind?: LunKind): QDrive[] {
    return [...this.drives.values()].filter((d) => !d.attached && (kind === undefined || d.kind === kind));
  }

  hctl(d: GDev): string {
    return `${d.host.no}:0:${d.target}:${d.lun}`;
  }

  devName(d: GDev): string {
    return d.kind === 'disk' ? sdName(d.blk) : `sr${d.blk}`;
  }

  /** The QEMU device a command to this LU reaches now, if any. */
  backing(d: GDev): QDev | undefined {
    const q = qemuLunOf(d.lun);
    return d.host.ctrl.devices.find((x) => x.target === d.target && x.lun === q);
  }

  findSdev(hctl: string): GDev | undefined {
    return this.sdevs.find((d) => this.hctl(d) === hctl);
  }

  // ---- monitor actions ---------------------------------------------------------------------------

  driveAdd(id: string, file: string, kind: LunKind, sizeBytes: number): Expectation {
    if (this.drives.has(id)) return { rc: 1 };
    this.drives.set(id, { id, file, kind, sizeBytes, attached: false, data: new Map() });
    return { rc: 0, stdout: 'OK\n' };
  }

  /** device_add scsi-hd|scsi-cd: QEMU's address rules, then the guest's reaction to the RESCAN event. */
  deviceAdd(id: string, ctrlId: string, driveId: string, target: number | null, lun: number | null): Expectation {
    const ctrl = this.liveCtrls.find((c) => c.id === ctrlId);
    const drive = this.drives.get(driveId);
    if (!ctrl || !drive || drive.attached || this.qdevs.some((q) => q.dev.id === id)) return { rc: 1 };
    const at = (t: number, l: number): boolean => ctrl.devices.some((d) => d.target === t && d.lun === l);
    let t: number;
    let l: number;
    if (target === null) {
      l = lun ?? 0;
      t = 0;
      while (t <= 255 && at(t, l)) t++;
      if (t > 255) return { rc: 1 };
    } else if (lun === null) {
      t = target;
      l = 0;
      while (l <= QEMU_MAX_LUN && at(t, l)) l++;
      if (l > QEMU_MAX_LUN) return { rc: 1 };
    } else {
      t = target;
      l = lun;
      if (at(t, l)) return { rc: 1 };
    }
    drive.attached = true;
    ctrl.devices.unshift({ id, target: t, lun: l, kind: drive.kind, drive });
    const host = ctrl.host!;
    if (ctrl.hotplug) {
      // virtscsi_handle_transport_reset, reason RESCAN.
      const ll = linuxLunOf(l);
      if (ll === 0) this.#scanTarget(host, t, (d) => this.#name(d));
      else this.#probeLun(host, t, ll, (d) => this.#name(d));
    }
    return { rc: 0, stdout: '' };
  }

  /** device_del of a SCSI device: gone from QEMU with its drive; REMOVED takes the LU away if events are on. */
  deviceDel(id: string): Expectation {
    const q = this.qdevs.find((x) => x.dev.id === id);
    if (!q) {
      const c = this.liveCtrls.find((x) => x.id === id);
      if (c) return this.controllerDel(id);
      return { rc: 1 };
    }
    const { ctrl, dev } = q;
    ctrl.devices = ctrl.devices.filter((d) => d !== dev);
    this.drives.delete(dev.drive.id);
    if (ctrl.hotplug) {
      const host = ctrl.host!;
      const sd = host.devices.find((d) => d.target === dev.target && d.lun === linuxLunOf(dev.lun));
      if (sd) this.#remove(sd);
    }
    return { rc: 0, stdout: '' };
  }

  /** device_add virtio-scsi-pci: the lowest free PCI slot; the guest probes it (virtioN, hostN, an empty scan). */
  controllerAdd(id: string, hotplug: boolean): Expectation {
    if (this.liveCtrls.some((c) => c.id === id) || this.qdevs.some((q) => q.dev.id === id)) return { rc: 1 };
    const slot = lowestFree(this.liveCtrls.map((c) => c.slot), FIRST_SLOT);
    if (slot > MAX_SLOT) return { rc: 1 };
    const ctrl: QCtrl = { id, slot, hotplug, devices: [], host: null };
    this.ctrls.push(ctrl);
    this.#attachHost(ctrl);
    return { rc: 0, stdout: '' };
  }

  /** device_del of a controller: its SCSI devices (and drives) go with it; the guest removes the host. */
  controllerDel(id: string): Expectation {
    const ctrl = this.liveCtrls.find((c) => c.id === id);
    if (!ctrl) return { rc: 1 };
    const host = ctrl.host!;
    for (const d of [...host.devices]) this.#remove(d);
    this.hosts.splice(this.hosts.indexOf(host), 1);
    for (const d of ctrl.devices) this.drives.delete(d.drive.id);
    ctrl.devices = [];
    ctrl.host = null;
    return { rc: 0, stdout: '' };
  }

  // ---- guest actions -----------------------------------------------------------------------------

  /** `echo "<written>" > /sys/class/scsi_host/hostN/scan` (written without echo's newline). */
  scan(hostNo: number, written: string): Expectation {
    const host = this.hosts.find((h) => h.no === hostNo);
    if (!host) return { rc: 'nonzero' };
    const p = parseScanString(`${written}\n`);
    if (!p) return { rc: 1, stdout: '' };
    const targets = p.id === -1 ? Array.from({ length: SCAN_MAX_ID }, (_, i) => i) : [p.id];
    for (const t of targets) {
      if (p.lun === -1) this.#scanTarget(host, t, (d) => this.#name(d));
      else this.#probeLun(host, t, p.lun, (d) => this.#name(d));
    }
    return { rc: 0, stdout: '' };
  }

  /** `echo 1 > /sys/bus/scsi/devices/H:C:T:L/delete`. */
  deleteSdev(hctl: string): Expectation {
    const d = this.findSdev(hctl);
    if (!d) return { rc: 'nonzero' };
    this.#remove(d);
    return { rc: 0, stdout: '' };
  }

  /**
   * `echo 1 > …/rescan`: revalidation only; nothing appears or goes. sd reads the capacity again; when
   * READ CAPACITY fails (the LU is gone from QEMU) read_capacity_error sets it to 0.
   */
  rescanSdev(hctl: string): Expectation {
    const d = this.findSdev(hctl);
    if (!d) return { rc: 'nonzero' };
    if (d.kind === 'disk') {
      const q = this.backing(d);
      d.capacity = q && q.kind === 'disk' ? q.drive.sizeBytes / SECTOR : 0;
    }
    return { rc: 0, stdout: '' };
  }

  /** Whether a 512-byte read/write through this LU reaches a disk of the kind Linux thinks it is. */
  ioTarget(hctl: string): { sdev: GDev; qdev: QDev | undefined } | undefined {
    const d = this.findSdev(hctl);
    if (!d || d.kind !== 'disk') return undefined;
    return { sdev: d, qdev: this.backing(d) };
  }

  /** A direct read of one sector: the tag written there before, or zeros; an I/O error on a stale LU. */
  read(hctl: string, sector: number): Expectation {
    const io = this.ioTarget(hctl);
    if (!io) return { rc: 'nonzero' };
    // At or past the end the block layer has no sector to read: dd copies nothing and succeeds.
    if (sector >= io.sdev.capacity) return { rc: 0, stdout: '' };
    if (!io.qdev || io.qdev.kind !== 'disk' || (sector + 1) * SECTOR > io.qdev.drive.sizeBytes) return { rc: 'nonzero', stdout: '' };
    const tag = io.qdev.drive.data.get(sector);
    return { rc: 0, stdout: tag === undefined ? '\0'.repeat(SECTOR) : sectorText(tag) };
  }

  write(hctl: string, sector: number, tag: string): Expectation {
    const io = this.ioTarget(hctl);
    if (!io) return { rc: 'nonzero' };
    if (sector >= io.sdev.capacity) return { rc: 'nonzero' }; // ENOSPC
    if (!io.qdev || io.qdev.kind !== 'disk' || (sector + 1) * SECTOR > io.qdev.drive.sizeBytes) return { rc: 'nonzero' };
    io.qdev.drive.data.set(sector, tag);
    return { rc: 0 };
  }

  // ---- prediction --------------------------------------------------------------------------------

  snapshot(): Snapshot {
    const busDevices: string[] = [];
    const block: string[] = [];
    const devSd: string[] = [];
    const devSr: string[] = [];
    const devSg: string[] = [];
    const devBsg: string[] = [];
    const byPath: Record<string, string> = {};
    const lines: { key: number[]; text: string }[] = [];
    for (const h of this.hosts) {
      busDevices.push(`host${h.no}`);
      for (const t of new Set(h.devices.map((d) => d.target))) busDevices.push(`target${h.no}:0:${t}`);
      for (const d of h.devices) {
        const hctl = this.hctl(d);
        const name = this.devName(d);
        busDevices.push(hctl);
        block.push(name);
        (d.kind === 'disk' ? devSd : devSr).push(name);
        devSg.push(`sg${d.sg}`);
        devBsg.push(hctl);
        byPath[`pci-0000:00:${h.ctrl.slot.toString(16).padStart(2, '0')}.0-scsi-0:0:${d.target}:${d.lun}`] = `../../${name}`;
        lines.push({ key: [h.no, d.target, d.lun], text: lsscsiLine(hctl, d.kind, name, `sg${d.sg}`) });
      }
    }
    lines.sort((a, b) => a.key[0]! - b.key[0]! || a.key[1]! - b.key[1]! || a.key[2]! - b.key[2]!);
    return {
      busDevices: busDevices.sort(),
      block: block.sort(),
      devSd: devSd.sort(),
      devSr: devSr.sort(),
      devSg: devSg.sort(),
      devBsg: devBsg.sort(),
      byPath: Object.fromEntries(Object.entries(byPath).sort(([a], [b]) => (a < b ? -1 : 1))),
      lsscsi: lines.map((l) => l.text).join(''),
    };
  }

  // ---- Linux's scanning rules --------------------------------------------------------------------

  #attachHost(ctrl: QCtrl): GHost {
    const host: GHost = {
      no: lowestFree(this.hosts.map((h) => h.no)),
      virtio: lowestFree(this.hosts.map((h) => h.virtio)),
      ctrl,
      devices: [],
      unknownLevel: new Set(),
    };
    ctrl.host = host;
    this.hosts.push(host);
    this.hosts.sort((a, b) => a.ctrl.slot - b.ctrl.slot);
    return host;
  }

  /** __scsi_scan_target with a wildcard LUN. */
  #scanTarget(host: GHost, t: number, added: (d: GDev) => void): void {
    const qtarget = host.ctrl.devices.filter((d) => d.target === t);
    const lun0 = host.devices.find((d) => d.target === t && d.lun === 0);
    // A gone target: INQUIRY or REPORT LUNS gets BAD_TARGET; the sequential fallback adds nothing.
    if (qtarget.length === 0) return;
    if (!lun0) this.#probeLun(host, t, 0, added);
    // scsi_report_lun_scan declines when the flags say NOREPORTLUN — an existing LU 0 hands back its
    // stored flags, and scsi_add_lun stored NOREPORTLUN for a CD (a LU 0 probed just now hands back
    // the flags from before that amendment) — or when the target's scsi_level is below SCSI-3, which
    // is the case after the last INQUIRY on the target was answered for a LUN that does not exist
    // (QEMU's TYPE_NO_LUN data has version 0: SCSI_UNKNOWN).
    const unknown = host.unknownLevel.has(t);
    if ((lun0 && lun0.kind === 'cd') || unknown) {
      this.#sequentialScan(host, t, unknown ? 8 : 256, added);
      return;
    }
    const reported = this.#opts.reportLunsOrder === 'newest-first' ? qtarget : [...qtarget].reverse();
    for (const q of reported) if (q.lun !== 0) this.#probeLun(host, t, linuxLunOf(q.lun), added);
  }

  /** scsi_sequential_lun_scan: LUNs 1..max-1, up to the first one that is not there. */
  #sequentialScan(host: GHost, t: number, max: number, added: (d: GDev) => void): void {
    for (let l = 1; l < max; l++) {
      if (host.devices.some((d) => d.target === t && d.lun === l)) continue;
      if (!this.#probeLun(host, t, l, added)) return;
    }
  }

  /**
   * scsi_probe_and_add_lun for one Linux LUN: an existing LU is left alone (present); a QEMU LU is
   * added. Every INQUIRY answered sets the target's scsi_level. Returns whether the LUN is present.
   */
  #probeLun(host: GHost, t: number, lun: number, added: (d: GDev) => void): boolean {
    if (host.devices.some((d) => d.target === t && d.lun === lun)) return true;
    const targetThere = host.ctrl.devices.some((d) => d.target === t);
    const q = host.ctrl.devices.find((d) => d.target === t && d.lun === qemuLunOf(lun));
    if (targetThere) {
      if (q || qemuLunOf(lun) === 0) host.unknownLevel.delete(t);
      else host.unknownLevel.add(t);
    }
    if (!q) {
      if (!host.devices.some((d) => d.target === t)) host.unknownLevel.delete(t); // the target is reaped
      return false;
    }
    const d: GDev = { host, target: t, lun, kind: q.kind, sg: -1, bsg: -1, blk: -1, capacity: q.drive.sizeBytes / SECTOR };
    host.devices.push(d);
    added(d);
    return true;
  }

  /** Names of an LU added after boot: the lowest free sg, bsg and sd/sr index. */
  #name(d: GDev): void {
    const all = this.sdevs.filter((x) => x !== d);
    d.sg = lowestFree(all.map((x) => x.sg));
    d.bsg = lowestFree(all.map((x) => x.bsg));
    d.blk = lowestFree(all.filter((x) => x.kind === d.kind).map((x) => x.blk));
  }

  #remove(d: GDev): void {
    const list = d.host.devices;
    list.splice(list.indexOf(d), 1);
    if (!list.some((x) => x.target === d.target)) d.host.unknownLevel.delete(d.target); // scsi_target_reap
  }
}

/** The 512 bytes `printf '%0512d' TAG` writes. */
export function sectorText(tag: string): string {
  return tag.padStart(SECTOR, '0');
}

/** One line of `lsscsi -g` for a QEMU disk or CD. */
export function lsscsiLine(hctl: string, kind: LunKind, dev: string, sg: string): string {
  const label = `[${hctl}]`;
  const head = label.length >= 13 ? `${label} ` : pad(label, 13);
  const type = kind === 'disk' ? 'disk    ' : 'cd/dvd  ';
  const model = kind === 'disk' ? 'QEMU HARDDISK' : 'QEMU CD-ROM';
  return `${head}${type}${pad('QEMU', 8)} ${pad(model, 16)} ${pad('2.5+', 4)}  ${pad(`/dev/${dev}`, 9)}  ${pad(`/dev/${sg}`, 9)}\n`;
}
