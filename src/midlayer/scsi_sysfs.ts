// Models drivers/scsi/scsi_sysfs.c (Linux 6.1): the sysfs face of hosts, targets and LUs — their
// attributes, the `scan`, `delete`, `rescan` and `state` stores — and making a scanned LU visible
// (scsi_sysfs_add_sdev: target, bus device → upper-level driver probe, class device → class
// interfaces such as sg) or removing it again (__scsi_remove_device, in the reverse order).

import { Errno } from '../kernel/errno.ts';
import { NS_PER_S } from '../sim/event_loop.ts';
import { Device, powerUnsupported } from '../sysfs/core.ts';
import { createBinFile, createFile, removeNode } from '../sysfs/kernfs.ts';
import type { AttrSpec } from '../sysfs/kernfs.ts';
import type { ScsiMod } from './scsi.ts';
import { blistNames } from './scsi_devinfo.ts';
import type { ScsiDevice, ScsiTarget } from './scsi_device.ts';
import { SDEV_STATES } from './scsi_device_state.ts';
import type { SdevState } from './scsi_device_state.ts';
import type { ScsiHost } from './scsi_host.ts';
import { scsiDeviceSetState, scsiHostInRecovery } from './scsi_lib.ts';

/** CONFIG_HZ of the captured Debian kernel. */
const HZ = 250;

export const SCAN_WILD_CARD = -1;

/** Reads a `%Ns` conversion as sscanf does: skip white space, take up to `width` non-space characters. */
function scanToken(s: string, pos: number, width: number): { tok: string; pos: number } | null {
  while (pos < s.length && /\s/.test(s[pos]!)) pos++;
  if (pos >= s.length) return null;
  const start = pos;
  while (pos < s.length && pos - start < width && !/\s/.test(s[pos]!)) pos++;
  return { tok: s.slice(start, pos), pos };
}

/** simple_strtoull(s, &last, 0): base from the prefix; returns the value and whether all of s was used. */
function strtoullBase0(s: string): { value: bigint; complete: boolean } {
  let base = 10;
  let i = 0;
  if (s[0] === '0') {
    if ((s[1] === 'x' || s[1] === 'X') && /[0-9a-fA-F]/.test(s[2] ?? '')) {
      base = 16;
      i = 2;
    } else base = 8;
  }
  let value = 0n;
  for (; i < s.length; i++) {
    const d = parseInt(s[i]!, 16);
    if (Number.isNaN(d) || d >= base) break;
    value = (value * BigInt(base) + BigInt(d)) & 0xffff_ffff_ffff_ffffn;
  }
  return { value, complete: i === s.length };
}

export interface ScanTriple {
  readonly channel: number;
  readonly id: number;
  readonly lun: number;
}

/**
 * The host `scan` attribute's parser (scsi_scan in scsi_sysfs.c): sscanf("%10s %10s %16s %c") must
 * match exactly three tokens; each is `-` (wildcard) or a whole number in C notation (0x…, 0…).
 * Returns null for EINVAL. Range checks against the host are scsi_scan_host_selected's.
 */
export function parseScanString(text: string): ScanTriple | null {
  const widths = [10, 10, 16];
  const toks: string[] = [];
  let pos = 0;
  for (const w of widths) {
    const t = scanToken(text, pos, w);
    if (!t) return null;
    toks.push(t.tok);
    pos = t.pos;
  }
  // " %c": any further non-space character is a fourth conversion — too many.
  while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  if (pos < text.length) return null;
  const vals: number[] = [];
  for (const t of toks) {
    if (t === '-') {
      vals.push(SCAN_WILD_CARD);
      continue;
    }
    const { value, complete } = strtoullBase0(t);
    if (!complete) return null;
    vals.push(value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value));
  }
  return { channel: vals[0]!, id: vals[1]!, lun: vals[2]! };
}

// ---- attributes ----------------------------------------------------------------------------------

const hex64 = (n: number): string => `0x${n.toString(16)}\n`;

/** Attributes of the scsi_host class device (shost_attrs). */
export function hostAttrs(mod: ScsiMod, host: ScsiHost, scan: (t: ScanTriple) => Promise<void>): AttrSpec[] {
  return [
    { name: 'unique_id', mode: 0o444, show: () => `${host.uniqueId}\n` },
    { name: 'host_busy', mode: 0o444, show: () => `${host.hostBusy}\n` },
    { name: 'cmd_per_lun', mode: 0o444, show: () => `${host.cmdPerLun}\n` },
    { name: 'can_queue', mode: 0o444, show: () => `${host.canQueue}\n` },
    { name: 'sg_tablesize', mode: 0o444, show: () => `${host.sgTablesize}\n` },
    { name: 'sg_prot_tablesize', mode: 0o444, show: () => '0\n' },
    { name: 'proc_name', mode: 0o444, show: () => `${host.template.procName}\n` },
    {
      name: 'scan',
      mode: 0o200,
      store: async (text) => {
        const t = parseScanString(text);
        if (!t) throw new Errno('EINVAL');
        await scan(t);
      },
    },
    {
      name: 'state',
      mode: 0o644,
      show: () => `${host.state}\n`,
      store: () => {
        throw new Errno('EINVAL');
      },
    },
    { name: 'supported_mode', mode: 0o444, show: () => 'Initiator\n' },
    { name: 'active_mode', mode: 0o444, show: () => 'Initiator\n' },
    { name: 'prot_capabilities', mode: 0o444, show: () => '0\n' },
    { name: 'prot_guard_type', mode: 0o444, show: () => '0\n' },
    {
      name: 'host_reset',
      mode: 0o200,
      store: async (text) => {
        const type = text.replace(/\n$/, '');
        if (type !== 'adapter' && type !== 'firmware') throw new Errno('EINVAL');
        const err = host.template.hostReset ? await host.template.hostReset(host, type) : 'EOPNOTSUPP';
        if (err) throw new Errno(err);
      },
    },
    {
      name: 'eh_deadline',
      mode: 0o644,
      show: () => (host.ehDeadline < 0 ? 'off\n' : `${host.ehDeadline}\n`),
      // store_shost_eh_deadline: only a host with a host-reset handler has a deadline (never
      // virtio: EINVAL); `off` or seconds (kstrtoul, at most UINT_MAX jiffies); EBUSY in recovery.
      store: (text) => {
        if (!host.template.ehHostResetHandler) throw new Errno('EINVAL');
        let deadline = -1;
        if (!text.startsWith('off')) {
          const m = /^(\d+)\n?$/.exec(text);
          if (!m) throw new Errno('EINVAL');
          deadline = Number(m[1]);
          if (deadline * HZ > 0xffff_ffff) throw new Errno('EINVAL');
        }
        if (scsiHostInRecovery(host)) throw new Errno('EBUSY');
        host.ehDeadline = deadline;
      },
    },
    { name: 'use_blk_mq', mode: 0o444, show: () => '1\n' },
    { name: 'nr_hw_queues', mode: 0o444, show: () => `${host.nrHwQueues}\n` },
  ];
}

/** Attributes of a LU's bus device (scsi_sdev_attrs), minus the binary ones. */
export function sdevAttrs(mod: ScsiMod, sdev: ScsiDevice, ops: { rescan(): Promise<void>; remove(): Promise<void> }): AttrSpec[] {
  const evt = (name: string): AttrSpec => ({
    name,
    mode: 0o644,
    show: () => '0\n',
    store: (t) => {
      if (!/^[01]\s*$/.test(t)) throw new Errno('EINVAL');
    },
  });
  return [
    { name: 'device_blocked', mode: 0o444, show: () => `${sdev.deviceBlocked}\n` },
    { name: 'type', mode: 0o444, show: () => `${sdev.type}\n` },
    { name: 'scsi_level', mode: 0o444, show: () => `${sdev.scsiLevel}\n` },
    { name: 'device_busy', mode: 0o444, show: () => `${sdev.deviceBusy}\n` },
    { name: 'vendor', mode: 0o444, show: () => `${sdev.vendor}\n` },
    { name: 'model', mode: 0o444, show: () => `${sdev.model}\n` },
    { name: 'rev', mode: 0o444, show: () => `${sdev.rev}\n` },
    { name: 'rescan', mode: 0o200, store: () => ops.rescan() },
    {
      name: 'delete',
      mode: 0o200,
      store: async () => {
        if (sdev.state === 'deleted' || sdev.state === 'cancel') throw new Errno('ENODEV');
        if (sdev.sdevGendev.dir) removeNode(sdev.sdevGendev.dir, 'delete');
        await ops.remove();
      },
    },
    {
      name: 'state',
      mode: 0o644,
      show: () => `${sdev.state}\n`,
      store: async (t) => {
        const name = t.endsWith('\n') ? t.slice(0, -1) : t;
        const st = SDEV_STATES.find((s) => s === name) as SdevState | undefined;
        if (!st || (st !== 'running' && st !== 'offline')) throw new Errno('EINVAL');
        if (sdev.state !== 'running' && sdev.state !== 'offline') throw new Errno('EINVAL');
        const was = sdev.state;
        scsiDeviceSetState(sdev, st);
        if (was === 'offline' && st === 'running') await ops.rescan();
      },
    },
    {
      name: 'timeout',
      mode: 0o644,
      show: () => `${Math.floor(sdev.timeout / NS_PER_S)}\n`,
      store: (t) => {
        const m = /^\s*([+-]?\d+)/.exec(t);
        if (!m) throw new Errno('EINVAL');
        sdev.timeout = Number(m[1]) * NS_PER_S;
      },
    },
    {
      name: 'eh_timeout',
      mode: 0o644,
      show: () => `${Math.floor(sdev.ehTimeout / NS_PER_S)}\n`,
      store: (t) => {
        const m = /^(\d+)\n?$/.exec(t);
        if (!m) throw new Errno('EINVAL');
        sdev.ehTimeout = Number(m[1]) * NS_PER_S;
      },
    },
    { name: 'iocounterbits', mode: 0o444, show: () => '32\n' },
    { name: 'iorequest_cnt', mode: 0o444, show: () => hex64(sdev.iorequestCnt) },
    { name: 'iodone_cnt', mode: 0o444, show: () => hex64(sdev.iodoneCnt) },
    { name: 'ioerr_cnt', mode: 0o444, show: () => hex64(sdev.ioerrCnt) },
    { name: 'iotmo_cnt', mode: 0o444, show: () => hex64(sdev.iotmoCnt) },
    { name: 'modalias', mode: 0o444, show: () => `scsi:t-0x${hexByte(sdev.type)}\n` },
    {
      name: 'queue_depth',
      mode: sdev.host.template.changeQueueDepth ? 0o644 : 0o444,
      show: () => `${sdev.queueDepth}\n`,
      store: (t) => {
        const change = sdev.host.template.changeQueueDepth;
        if (!change) throw new Errno('EINVAL');
        const m = /^\s*(\d+)/.exec(t);
        const depth = m ? Number(m[1]) : 0;
        if (depth < 1 || depth > sdev.host.canQueue) throw new Errno('EINVAL');
        sdev.queueDepth = change(sdev, depth);
        sdev.maxQueueDepth = sdev.queueDepth;
      },
    },
    {
      name: 'queue_type',
      mode: 0o644,
      show: () => (sdev.simpleTags ? 'simple\n' : 'none\n'),
      store: () => {
        if (!sdev.taggedSupported) throw new Errno('EINVAL');
      },
    },
    {
      name: 'wwid',
      mode: 0o444,
      show: () => {
        const w = vpdLunId(sdev);
        if (w === null) throw new Errno(sdev.vpd.has(0x83) ? 'EINVAL' : 'ENXIO');
        return `${w}\n`;
      },
    },
    { name: 'blacklist', mode: 0o444, show: () => `${blistNames(sdev.bflags)}\n` },
    { name: 'dh_state', mode: 0o644, show: () => 'detached\n', store: () => {} },
    {
      name: 'access_state',
      mode: 0o444,
      show: () => {
        throw new Errno('EINVAL');
      },
    },
    {
      name: 'preferred_path',
      mode: 0o444,
      show: () => {
        throw new Errno('EINVAL');
      },
    },
    {
      name: 'queue_ramp_up_period',
      mode: 0o644,
      show: () => `${sdev.queueRampUpPeriod}\n`,
      store: (t) => {
        const m = /^(\d+)\n?$/.exec(t);
        if (!m) throw new Errno('EINVAL');
        sdev.queueRampUpPeriod = Number(m[1]);
      },
    },
    evt('evt_media_change'),
    evt('evt_inquiry_change_reported'),
    evt('evt_capacity_change_reported'),
    evt('evt_soft_threshold_reached'),
    evt('evt_mode_parameter_change_reported'),
    evt('evt_lun_change_reported'),
  ];
}

function hexByte(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

/** scsi_vpd_lun_id (scsi_lib.c), the designator kinds sysfs `wwid` can print. */
export function vpdLunId(sdev: ScsiDevice): string | null {
  const pg = sdev.vpd.get(0x83);
  if (!pg || pg.length < 4) return null;
  const end = Math.min(pg.length, 4 + ((pg[2]! << 8) | pg[3]!));
  let best: { prio: number; text: string } | null = null;
  for (let d = 4; d + 4 <= end; ) {
    const codeSet = pg[d]! & 0x0f;
    const assoc = (pg[d + 1]! >> 4) & 3;
    const type = pg[d + 1]! & 0x0f;
    const len = pg[d + 3]!;
    const body = pg.subarray(d + 4, d + 4 + len);
    d += 4 + len;
    if (assoc !== 0) continue;
    const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    let cand: { prio: number; text: string } | null = null;
    if (type === 3 && (len === 8 || len === 16)) cand = { prio: len === 16 ? 6 : 5, text: `naa.${hex(body)}` };
    else if (type === 2 && (len === 8 || len === 12 || len === 16)) cand = { prio: 4, text: `eui.${hex(body)}` };
    else if (type === 8 && codeSet === 3) cand = { prio: 3, text: new TextDecoder().decode(body).replace(/\0+$/, '') };
    else if (type === 1 && codeSet === 2) cand = { prio: 2, text: `t10.${new TextDecoder().decode(body)}` };
    if (cand && (!best || cand.prio > best.prio)) best = cand;
  }
  return best?.text ?? null;
}

// ---- devices -------------------------------------------------------------------------------------

/** The hostN bus device and its scsi_host class device (not yet added). */
export function hostDevices(mod: ScsiMod, hostNo: number, parent: Device): { gendev: Device; classdev: Device } {
  const gendev = new Device(`host${hostNo}`, parent);
  gendev.bus = mod.bus;
  gendev.devtype = 'scsi_host';
  const classdev = new Device(`host${hostNo}`, gendev);
  classdev.cls = mod.hostClass;
  // The SCSI core enables asynchronous suspend for its own devices (device_enable_async_suspend).
  classdev.power = { ...powerUnsupported(), async: 'enabled' };
  return { gendev, classdev };
}

export function targetDevice(mod: ScsiMod, host: ScsiHost, channel: number, id: number): Device {
  const dev = new Device(`target${host.hostNo}:${channel}:${id}`, host.shostGendev);
  dev.bus = mod.bus;
  dev.devtype = 'scsi_target';
  return dev;
}

export function sdevDevices(mod: ScsiMod, target: ScsiTarget, lun: number): { gendev: Device; classdev: Device } {
  const name = `${target.host.hostNo}:${target.channel}:${target.id}:${lun}`;
  const gendev = new Device(name, target.dev);
  gendev.bus = mod.bus;
  gendev.devtype = 'scsi_device';
  const classdev = new Device(name, gendev);
  classdev.cls = mod.deviceClass;
  classdev.power = { ...powerUnsupported(), async: 'enabled' };
  return { gendev, classdev };
}

/** Runtime-PM as the SCSI core sets it up (scsi_autopm_*): hosts and targets allow it, LUs forbid it. */
export function enableRuntimePm(mod: ScsiMod, dev: Device, kind: 'host' | 'target' | 'sdev'): void {
  const now = mod.kernel.loop.now() / 1e6;
  dev.power = {
    enabled: kind === 'sdev' ? 'forbidden' : 'enabled',
    status: 'active',
    control: kind === 'sdev' ? 'on' : 'auto',
    autosuspendDelayMs: kind === 'sdev' ? -1 : undefined,
    usage: kind === 'sdev' ? 2 : 0,
    async: 'enabled',
    activeSince: now,
  };
}

/** Adds the binary attributes of a LU (inquiry, vpd_pg*) for what the scan cached. */
export function sdevBinAttrs(sdev: ScsiDevice): void {
  const dir = sdev.sdevGendev.dir;
  if (!dir) return;
  createBinFile(dir, { name: 'inquiry', mode: 0o444, size: 0, read: () => sdev.inquiry.slice(0, sdev.inquiryLen) });
  for (const code of [0x00, 0x80, 0x83, 0x89, 0xb0, 0xb1, 0xb2]) {
    const name = `vpd_pg${code.toString(16)}`;
    if (sdev.vpd.has(code)) createBinFile(dir, { name, mode: 0o444, size: 0, read: () => sdev.vpd.get(code) ?? new Uint8Array(0) });
    else removeNode(dir, name);
  }
}

/** A driver-visible `generic` or other link helper kept here so ULDs share one implementation. */
export function addDeviceFile(dev: Device, spec: AttrSpec): void {
  if (dev.dir) createFile(dev.dir, spec);
}
