// Models drivers/scsi/scsi_scan.c (+ the add/remove halves of scsi_sysfs.c and scsi_attach_vpd of
// scsi.c), Linux 6.1.
//
// The algorithm, as the kernel's header comment would state it:
//   scan a host  = for each channel, for each target id 0..max_id-1: scan the target;
//   scan a target = probe LUN 0 with INQUIRY; if something answered (a LU, or a target that says
//                   "no LU here" with PQ 1/PDT 0x1f), ask REPORT LUNS and probe every listed LUN;
//                   if REPORT LUNS is not usable, probe LUNs 1, 2, … sequentially until one is missing;
//                   a target left with no visible LU is reaped.
//   probe a LUN  = INQUIRY (36 bytes, then the full length if the device offers more), retried past
//                  power-on/reset unit attentions; PQ 3 means "no LU"; otherwise record what INQUIRY
//                  says, read the VPD pages, and make the LU visible (sysfs, then upper drivers).
// With `scsi_mod.scan=async` (the default) an initial host scan publishes the LUs it found together
// once the whole host is scanned; scans started from sysfs or hotplug publish each LU as found.

import { Errno } from '../kernel/errno.ts';
import { KERN_ERR, KERN_INFO, KERN_NOTICE } from '../kernel/kernel.ts';
import { NS_PER_S } from '../sim/event_loop.ts';
import type { ScsiMod } from './scsi.ts';
import {
  SCSI_2,
  SCSI_3,
  SCSI_SPC_2,
  SCSI_UNKNOWN,
  TYPE_RBC,
  TYPE_ROM,
  TYPE_WLUN,
  scsiDeviceType,
  scsiLevelFromInquiry,
  scsilunToInt,
  statusByte,
} from './scsi_common.ts';
import { ScsiDevice, ScsiTarget } from './scsi_device.ts';
import { blist, getDeviceFlags, hasBlist } from './scsi_devinfo.ts';
import type { ScsiHost } from './scsi_host.ts';
import { scsiDeviceSetState, scsiExecute } from './scsi_lib.ts';
import { scsiLogging, sdevPrintk, shostPrintk } from './scsi_logging.ts';
import {
  SCAN_WILD_CARD,
  enableRuntimePm,
  sdevAttrs,
  sdevBinAttrs,
  sdevDevices,
  targetDevice,
} from './scsi_sysfs.ts';

export type ScanResult = 'no-response' | 'target-present' | 'lun-present';
export type RescanMode = 'initial' | 'rescan' | 'manual';

const SCSI_TIMEOUT = 30;

// ---- targets and devices -------------------------------------------------------------------------

function targetKey(channel: number, id: number): string {
  return `${channel}:${id}`;
}

/** scsi_alloc_target: find or create the (invisible until populated) target. */
export function allocTarget(mod: ScsiMod, host: ScsiHost, channel: number, id: number): ScsiTarget {
  const key = targetKey(channel, id);
  let t = host.targets.get(key);
  if (!t || t.state === 'del') {
    t = new ScsiTarget(host, channel, id, targetDevice(mod, host, channel, id), SCSI_2);
    host.targets.set(key, t);
    host.template.targetAlloc?.(t);
  }
  t.reapRef++;
  return t;
}

/** scsi_target_reap: drop a scan's hold; a target with no LU left is removed. */
export function reapTarget(mod: ScsiMod, t: ScsiTarget): void {
  t.reapRef = Math.max(0, t.reapRef - 1);
  if (t.reapRef > 0 || t.devices.length > 0) return;
  if (t.dev.registered) mod.kernel.dm.del(t.dev);
  t.state = 'del';
  if (t.host.targets.get(targetKey(t.channel, t.id)) === t) t.host.targets.delete(targetKey(t.channel, t.id));
}

/** scsi_alloc_sdev: state CREATED, queue depth cmd_per_lun, LLD slave_alloc. */
function allocSdev(mod: ScsiMod, t: ScsiTarget, lun: number): ScsiDevice {
  const host = t.host;
  const { gendev, classdev } = sdevDevices(mod, t, lun);
  const sdev = new ScsiDevice(host, t, lun, gendev, classdev, host.cmdPerLun || 1, SCSI_TIMEOUT * NS_PER_S, 10 * NS_PER_S);
  gendev.ueventVars = () => [['MODALIAS', `scsi:t-0x${(sdev.type & 0xff).toString(16).padStart(2, '0')}`]];
  t.devices.push(sdev);
  host.devices.push(sdev);
  const ak = sdevAddrKey(sdev.channel, sdev.id, sdev.lun);
  const same = host.devicesByAddr.get(ak);
  if (same) same.push(sdev);
  else host.devicesByAddr.set(ak, [sdev]);
  host.template.slaveAlloc?.(sdev);
  return sdev;
}

function forgetSdev(sdev: ScsiDevice): void {
  const t = sdev.target;
  t.devices.splice(t.devices.indexOf(sdev), 1);
  const hd = sdev.host.devices;
  hd.splice(hd.indexOf(sdev), 1);
  const ak = sdevAddrKey(sdev.channel, sdev.id, sdev.lun);
  const same = sdev.host.devicesByAddr.get(ak);
  if (same) {
    same.splice(same.indexOf(sdev), 1);
    if (same.length === 0) sdev.host.devicesByAddr.delete(ak);
  }
  sdev.host.template.slaveDestroy?.(sdev);
}

function sdevAddrKey(channel: number, id: number, lun: number): string {
  return `${channel}:${id}:${lun}`;
}

export function findSdev(host: ScsiHost, channel: number, id: number, lun: number): ScsiDevice | undefined {
  return host.devicesByAddr.get(sdevAddrKey(channel, id, lun))?.find((d) => d.state !== 'deleted');
}

// ---- INQUIRY -------------------------------------------------------------------------------------

/** Bytes < 0x20 or > 0x7e become spaces; a NUL ends the string (scsi_sanitize_inquiry_string). */
function sanitize(inq: Uint8Array, off: number, len: number): void {
  let terminated = false;
  for (let i = off; i < off + len; i++) {
    const c = inq[i]!;
    if (terminated || c === 0) {
      terminated = true;
      inq[i] = 0x20;
    } else if (c < 0x20 || c > 0x7e) inq[i] = 0x20;
  }
}

const isUaRetryable = (asc: number, ascq: number): boolean => (asc === 0x28 || asc === 0x29) && ascq === 0;

/** scsi_probe_lun: returns the INQUIRY data and bflags, or null when the LU did not answer. */
async function probeLun(mod: ScsiMod, sdev: ScsiDevice): Promise<{ inq: Uint8Array; bflags: bigint } | null> {
  const firstLen = sdev.inquiryLen || 36;
  let tryLen = firstLen;
  let pass = 1;
  let inq: Uint8Array = new Uint8Array(0);
  let bflags = 0n;
  let responseLen = 0;
  const timeout = 0.5 + mod.params.inqTimeout;
  for (;;) {
    if (scsiLogging(mod, 'SCAN', 3)) sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: INQUIRY pass ${pass} length ${tryLen}`);
    let ok = false;
    let result = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await scsiExecute(mod, sdev, { cdb: [0x12, 0, 0, 0, tryLen, 0], dir: 'from-dev', length: tryLen, timeout, retries: 3 });
      result = r.result;
      if (r.result !== 0) {
        if (statusByte(r.result) === 0x02 && r.sshdr && r.sshdr.senseKey === 6 && isUaRetryable(r.sshdr.asc, r.sshdr.ascq)) continue;
        break;
      }
      if (r.resid === tryLen) continue;
      inq = r.data;
      ok = true;
      break;
    }
    if (scsiLogging(mod, 'SCAN', 3)) {
      sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: INQUIRY ${ok ? 'successful' : 'failed'} with code 0x${result.toString(16)}`);
    }
    if (!ok) {
      if (pass === 1) return null;
      sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: ${tryLen} byte inquiry failed.  Consider BLIST_INQUIRY_36 for this device`);
      tryLen = firstLen;
      pass = 3;
      continue;
    }
    if (pass === 1) {
      sanitize(inq, 8, 8);
      sanitize(inq, 16, 16);
      sanitize(inq, 32, 4);
      responseLen = inq[4]! + 5;
      if (responseLen > 255) responseLen = firstLen;
      const vendor = String.fromCharCode(...inq.subarray(8, 16));
      const model = String.fromCharCode(...inq.subarray(16, 32));
      bflags = getDeviceFlags(vendor, model, sdev.bflags, BigInt(mod.params.defaultDevFlags));
      const next = hasBlist(bflags, 'INQUIRY_36') ? 36 : responseLen;
      if (next > tryLen) {
        tryLen = next;
        pass = 2;
        continue;
      }
    }
    break;
  }
  sdev.inquiryLen = Math.min(tryLen, responseLen);
  if (sdev.inquiryLen < 36) {
    if (!sdev.host.asyncScan) sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: INQUIRY result too short (${sdev.inquiryLen}), using 36`);
    sdev.inquiryLen = 36;
  }
  sdev.scsiLevel = scsiLevelFromInquiry(inq);
  sdev.target.scsiLevel = sdev.scsiLevel;
  sdev.lunInCdb = sdev.scsiLevel <= SCSI_2 && sdev.scsiLevel !== SCSI_UNKNOWN;
  return { inq, bflags };
}

// ---- scsi_add_lun -------------------------------------------------------------------------------

/** Returns the (possibly amended) bflags, or null when the LU could not be brought up. */
async function addLun(mod: ScsiMod, sdev: ScsiDevice, inq: Uint8Array, bflags: bigint, async: boolean): Promise<bigint | null> {
  const len = Math.max(sdev.inquiryLen, 36);
  sdev.inquiry = new Uint8Array(len);
  sdev.inquiry.set(inq.subarray(0, Math.min(len, inq.length)));
  sdev.vendor = String.fromCharCode(...sdev.inquiry.subarray(8, 16));
  sdev.model = String.fromCharCode(...sdev.inquiry.subarray(16, 32));
  sdev.rev = String.fromCharCode(...sdev.inquiry.subarray(32, 36));
  if (hasBlist(bflags, 'ISROM')) {
    sdev.type = TYPE_ROM;
    sdev.removable = true;
  } else {
    sdev.type = inq[0]! & 0x1f;
    sdev.removable = (inq[1]! >> 7) === 1;
    if (sdev.type === TYPE_WLUN && scsilunToIntIsWlun(sdev.lun) === false) sdev.type = 0x1f;
  }
  if (sdev.type === TYPE_RBC || sdev.type === TYPE_ROM) {
    if (!hasBlist(bflags, 'REPORTLUN2')) bflags |= blist('NOREPORTLUN');
  }
  if (sdev.type === TYPE_ROM) {
    // The captured 6.1.192 kernel reads no VPD pages from MMC devices: `blacklist` shows
    // NOREPORTLUN SKIP_VPD_PAGES for QEMU's scsi-cd, without the LLD's TRY_VPD_PAGES.
    bflags = (bflags & ~blist('TRY_VPD_PAGES')) | blist('SKIP_VPD_PAGES');
  }
  sdev.inqPeriphQual = (inq[0]! >> 5) & 7;
  sdev.lockable = sdev.removable;
  const ccs = (inq[3]! & 0x0f) === 1 ? ' CCS' : '';
  sdevPrintk(
    mod,
    KERN_NOTICE,
    sdev,
    `${scsiDeviceType(sdev.type)} ${sdev.vendor} ${sdev.model} ${sdev.rev} PQ: ${sdev.inqPeriphQual} ANSI: ${inq[2]! & 7}${ccs}`,
  );
  if (sdev.scsiLevel >= SCSI_2 && inq[7]! & 2 && !hasBlist(bflags, 'NOTQ')) {
    sdev.taggedSupported = true;
    sdev.simpleTags = true;
  }
  sdev.use10ForRw = true;
  if (hasBlist(bflags, 'TRY_VPD_PAGES')) sdev.tryVpdPages = true;
  else if (hasBlist(bflags, 'SKIP_VPD_PAGES')) sdev.skipVpdPages = true;
  if (hasBlist(bflags, 'NO_RSOC')) sdev.noReportOpcodes = true;
  try {
    scsiDeviceSetState(sdev, 'running');
  } catch {
    try {
      scsiDeviceSetState(sdev, 'blocked');
    } catch {
      sdevPrintk(mod, KERN_ERR, sdev, `scsi scan: in wrong state ${sdev.state} to complete scan`);
      return null;
    }
  }
  sdev.host.template.slaveConfigure?.(sdev);
  if (sdev.scsiLevel >= SCSI_3) await attachVpd(mod, sdev);
  sdev.maxQueueDepth = sdev.queueDepth;
  sdev.bflags = bflags;
  if (!async) await sysfsAddSdev(mod, sdev);
  return bflags;
}

function scsilunToIntIsWlun(lun: number): boolean {
  return (lun & 0xff00) === 0xc100;
}

// ---- VPD ------------------------------------------------------------------------------------------

const VPD_PAGES_CACHED = [0x00, 0x80, 0x83, 0x89, 0xb0, 0xb1, 0xb2];

async function vpdInquiry(mod: ScsiMod, sdev: ScsiDevice, page: number, len: number): Promise<Uint8Array | null> {
  const r = await scsiExecute(mod, sdev, { cdb: [0x12, 1, page, len >> 8, len & 0xff, 0], dir: 'from-dev', length: len, timeout: SCSI_TIMEOUT, retries: 3 });
  if (r.result !== 0) return null;
  if (r.data[1] !== page) return null;
  return r.data.subarray(0, len - r.resid);
}

/** scsi_get_vpd_buf: header first to learn the length, then the whole page. */
async function getVpdBuf(mod: ScsiMod, sdev: ScsiDevice, page: number): Promise<Uint8Array | null> {
  const hdr = await vpdInquiry(mod, sdev, page, 4);
  if (!hdr || hdr.length < 4) return null;
  const size = ((hdr[2]! << 8) | hdr[3]!) + 4;
  if (size <= 4) return null;
  const full = await vpdInquiry(mod, sdev, page, size);
  return full && full.length >= 4 ? full.slice() : null;
}

function scsiDeviceSupportsVpd(sdev: ScsiDevice): boolean {
  if (sdev.tryVpdPages) return true;
  return sdev.scsiLevel >= SCSI_SPC_2 && !sdev.skipVpdPages;
}

/**
 * scsi_attach_vpd as the captured 6.1.192 kernel does it: page 0 (header, body), page 0 again as a
 * listed page, then for every other listed page of interest a 36-byte page-0 presence check, the
 * page header and the page.
 */
export async function attachVpd(mod: ScsiMod, sdev: ScsiDevice): Promise<void> {
  if (!scsiDeviceSupportsVpd(sdev)) return;
  const pg0 = await getVpdBuf(mod, sdev, 0);
  if (!pg0) return;
  const listed = [...pg0.subarray(4, 4 + ((pg0[2]! << 8) | pg0[3]!))];
  for (const code of listed) {
    if (!VPD_PAGES_CACHED.includes(code)) continue;
    if (code !== 0) {
      const check = await vpdInquiry(mod, sdev, 0, 36);
      if (!check || !check.subarray(4).includes(code)) continue;
    }
    const buf = await getVpdBuf(mod, sdev, code);
    if (buf) sdev.vpd.set(code, buf);
    else sdev.vpd.delete(code);
  }
}

// ---- probe and add ------------------------------------------------------------------------------

async function probeAndAddLun(mod: ScsiMod, t: ScsiTarget, lun: number, rescan: RescanMode, bflagsOut?: { v: bigint }): Promise<ScanResult> {
  const host = t.host;
  const existing = findSdev(host, t.channel, t.id, lun);
  if (existing) {
    if (rescan !== 'initial' || existing.state !== 'created') {
      if (scsiLogging(mod, 'SCAN', 3)) sdevPrintk(mod, KERN_INFO, existing, `scsi scan: device exists on ${existing.hctl}`);
      if (bflagsOut) bflagsOut.v = existing.bflags;
      return 'lun-present';
    }
  }
  const sdev = existing ?? allocSdev(mod, t, lun);
  const probed = await probeLun(mod, sdev);
  if (!probed) {
    if (!sdev.isVisible) destroySdev(mod, sdev);
    return 'no-response';
  }
  const { inq, bflags } = probed;
  if (bflagsOut) bflagsOut.v = bflags;
  const pq = (inq[0]! >> 5) & 7;
  const pdt = inq[0]! & 0x1f;
  if (pq === 3) {
    if (scsiLogging(mod, 'SCAN', 3)) sdevPrintk(mod, KERN_INFO, sdev, 'scsi scan: peripheral qualifier of 3, device not added');
    destroySdev(mod, sdev);
    return 'target-present';
  }
  if ((pq === 1 || t.pdt1fForNoLun) && pdt === 0x1f && !scsilunToIntIsWlun(lun)) {
    if (scsiLogging(mod, 'SCAN', 3)) sdevPrintk(mod, KERN_INFO, sdev, 'scsi scan: peripheral device type of 31, no device added');
    destroySdev(mod, sdev);
    return 'target-present';
  }
  const amended = await addLun(mod, sdev, inq, bflags, host.asyncScan && rescan === 'initial');
  // The caller sees the flags from before scsi_add_lun amended them: a CD still gets REPORT LUNS
  // from the target scan (captured: `1:0 REPORT LUNS` for a scsi-cd alone on target 1).
  return amended === null ? 'no-response' : 'lun-present';
}

/** Drops an sdev that was never made visible (the scan's temporary LUN 0, or a failed probe). */
function destroySdev(mod: ScsiMod, sdev: ScsiDevice): void {
  if (sdev.isVisible) return;
  try {
    scsiDeviceSetState(sdev, 'deleted');
  } catch {
    sdev.state = 'deleted';
  }
  forgetSdev(sdev);
}

/** scsi_report_lun_scan: true when the target was handled, false to fall back to sequential scanning. */
async function reportLunScan(mod: ScsiMod, t: ScsiTarget, bflags: bigint, rescan: RescanMode): Promise<boolean> {
  const host = t.host;
  if (hasBlist(bflags, 'NOREPORTLUN')) return false;
  if (t.scsiLevel < SCSI_2 && t.scsiLevel !== SCSI_UNKNOWN) return false;
  if (t.scsiLevel < SCSI_3 && (!hasBlist(bflags, 'REPORTLUN2') || host.maxLun <= 8)) return false;
  if (t.noReportLuns) return false;
  if (hasBlist(bflags, 'NOLUN')) return true;
  let sdev = findSdev(host, t.channel, t.id, 0);
  const temporary = !sdev;
  sdev ??= allocSdev(mod, t, 0);
  let length = (511 + 1) * 8;
  let data: Uint8Array | null = null;
  for (;;) {
    let ok = false;
    for (let i = 0; i < 3; i++) {
      if (scsiLogging(mod, 'SCAN', 3)) sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: Sending REPORT LUNS to (try ${i})`);
      const cdb = [0xa0, 0, 0, 0, 0, 0, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff, 0, 0];
      const r = await scsiExecute(mod, sdev, { cdb, dir: 'from-dev', length, timeout: SCSI_TIMEOUT, retries: 3 });
      if (scsiLogging(mod, 'SCAN', 3)) {
        sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: REPORT LUNS ${r.result ? 'failed' : 'successful'} (try ${i}) result 0x${r.result.toString(16)}`);
      }
      if (r.result === 0) {
        data = r.data;
        ok = true;
        break;
      }
      if (r.sshdr && r.sshdr.senseKey !== 6) break;
    }
    if (!ok || !data) {
      if (temporary) destroySdev(mod, sdev);
      return false;
    }
    const listLen = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
    if (listLen + 8 > length) {
      length = listLen + 8;
      continue;
    }
    break;
  }
  const listLen = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  const n = Math.floor(listLen / 8);
  if (scsiLogging(mod, 'SCAN', 3)) sdevPrintk(mod, KERN_INFO, sdev, `scsi scan: REPORT LUN scan`);
  for (let i = 0; i < n; i++) {
    const lun = scsilunToInt(data, 8 + 8 * i);
    if (lun > host.maxLun) {
      sdevPrintk(mod, KERN_INFO, sdev, `lun${lun} has a LUN larger than allowed by the host adapter`);
      continue;
    }
    const res = await probeAndAddLun(mod, t, lun, rescan);
    if (res === 'no-response') {
      sdevPrintk(mod, KERN_ERR, sdev, `Unexpected response from lun ${lun} while scanning, scan aborted`);
      break;
    }
  }
  // The temporary LUN-0 device goes unless LUN 0 turned out to exist (scsi_device_created).
  if (sdev.state === 'created') destroySdev(mod, sdev);
  return true;
}

async function sequentialLunScan(mod: ScsiMod, t: ScsiTarget, bflags: bigint, rescan: RescanMode): Promise<void> {
  const host = t.host;
  let maxDevLun = Math.min(mod.params.maxLuns, host.maxLun);
  let sparse = false;
  if (hasBlist(bflags, 'SPARSELUN')) {
    maxDevLun = host.maxLun;
    sparse = true;
  }
  if (hasBlist(bflags, 'FORCELUN')) maxDevLun = host.maxLun;
  if (hasBlist(bflags, 'MAX5LUN')) maxDevLun = Math.min(5, maxDevLun);
  if (t.scsiLevel < SCSI_3 && !hasBlist(bflags, 'LARGELUN')) maxDevLun = Math.min(8, maxDevLun);
  else maxDevLun = Math.min(256, maxDevLun);
  for (let lun = 1; lun < maxDevLun; lun++) {
    const r = await probeAndAddLun(mod, t, lun, rescan);
    if (r !== 'lun-present' && !sparse) return;
  }
}

/** __scsi_scan_target */
async function scanTarget(mod: ScsiMod, host: ScsiHost, channel: number, id: number, lun: number, rescan: RescanMode): Promise<void> {
  if (id === host.thisId) return;
  const t = allocTarget(mod, host, channel, id);
  try {
    if (lun !== SCAN_WILD_CARD) {
      await probeAndAddLun(mod, t, lun, rescan);
      return;
    }
    const bf = { v: 0n };
    const res = await probeAndAddLun(mod, t, 0, rescan, bf);
    if (res === 'lun-present' || res === 'target-present') {
      if (!(await reportLunScan(mod, t, bf.v, rescan))) await sequentialLunScan(mod, t, bf.v, rescan);
    }
  } finally {
    reapTarget(mod, t);
  }
}

/** scsi_scan_host_selected: EINVAL (thrown) for out-of-range numbers. */
export async function scanHostSelected(mod: ScsiMod, host: ScsiHost, channel: number, id: number, lun: number, rescan: RescanMode): Promise<void> {
  if ((channel !== SCAN_WILD_CARD && channel > host.maxChannel) || (id !== SCAN_WILD_CARD && id >= host.maxId) || (lun !== SCAN_WILD_CARD && lun >= host.maxLun)) {
    throw new Errno('EINVAL');
  }
  if (scsiLogging(mod, 'SCAN', 3)) {
    // The wildcard prints as the unsigned values it is in the kernel (~0 in 32 and 64 bits).
    const u32 = (v: number): string => (v === SCAN_WILD_CARD ? '4294967295' : String(v));
    const u64 = (v: number): string => (v === SCAN_WILD_CARD ? '18446744073709551615' : String(v));
    shostPrintk(mod, KERN_INFO, host, `scsi_scan_host_selected: <${u32(channel)}:${u32(id)}:${u64(lun)}>`);
  }
  await withScanLock(host, async () => {
    if (host.state !== 'running' && host.state !== 'recovery') return;
    for (let ch = 0; ch <= host.maxChannel; ch++) {
      if (channel !== SCAN_WILD_CARD && ch !== channel) continue;
      if (id === SCAN_WILD_CARD) {
        for (let i = 0; i < host.maxId; i++) await scanTarget(mod, host, ch, i, lun, rescan);
      } else await scanTarget(mod, host, ch, id, lun, rescan);
    }
  });
}

async function withScanLock<T>(host: ScsiHost, fn: () => Promise<T>): Promise<T> {
  const prev = host.scanLock;
  let release!: () => void;
  host.scanLock = new Promise((r) => (release = r));
  await prev;
  try {
    return await fn();
  } finally {
    release();
  }
}

/** scsi_scan_host: honours scsi_mod.scan; async scans publish everything found at the end. */
export async function scanHost(mod: ScsiMod, host: ScsiHost): Promise<void> {
  const mode = mod.params.scan;
  if (mode === 'none' || mode === 'manual') return;
  if (mode === 'async') {
    // scsi_prep_async_scan / scsi_finish_async_scan: hosts scan in parallel but publish their LUs in
    // the order their scans started (FIFO), so host0's devices appear before host1's.
    const earlier = mod.asyncScans;
    let finished!: () => void;
    mod.asyncScans = new Promise((r) => (finished = r));
    host.asyncScan = true;
    try {
      await scanHostSelected(mod, host, SCAN_WILD_CARD, SCAN_WILD_CARD, SCAN_WILD_CARD, 'initial');
      await earlier;
    } finally {
      host.asyncScan = false;
    }
    try {
      for (const sdev of [...host.devices]) if (sdev.state === 'running' && !sdev.isVisible) await sysfsAddSdev(mod, sdev);
    } finally {
      finished();
    }
    return;
  }
  await scanHostSelected(mod, host, SCAN_WILD_CARD, SCAN_WILD_CARD, SCAN_WILD_CARD, 'initial');
}

/** scsi_scan_target: a whole target, as a hot-plug RESCAN event for LUN 0 asks (SCSI_SCAN_INITIAL). */
export async function scsiScanTarget(mod: ScsiMod, host: ScsiHost, channel: number, id: number): Promise<void> {
  if (mod.params.scan === 'none') return;
  await withScanLock(host, async () => {
    if (host.state !== 'running' && host.state !== 'recovery') return;
    await scanTarget(mod, host, channel, id, SCAN_WILD_CARD, 'initial');
  });
}

/** scsi_add_device: probe exactly one LUN (hotplug events use this). */
export async function scsiAddDevice(mod: ScsiMod, host: ScsiHost, channel: number, id: number, lun: number): Promise<ScsiDevice | undefined> {
  if (mod.params.scan === 'none') return undefined;
  await withScanLock(host, async () => {
    const t = allocTarget(mod, host, channel, id);
    try {
      await probeAndAddLun(mod, t, lun, 'rescan');
    } finally {
      reapTarget(mod, t);
    }
  });
  return findSdev(host, channel, id, lun);
}

// ---- visibility --------------------------------------------------------------------------------

/** scsi_sysfs_add_sdev: target, LU bus device (upper driver probe), class device (class interfaces). */
export async function sysfsAddSdev(mod: ScsiMod, sdev: ScsiDevice): Promise<void> {
  const dm = mod.kernel.dm;
  const t = sdev.target;
  if (!t.dev.registered) {
    enableRuntimePm(mod, t.dev, 'target');
    dm.add(t.dev);
    t.state = 'running';
  }
  enableRuntimePm(mod, sdev.sdevGendev, 'sdev');
  sdev.isVisible = true;
  dm.add(
    sdev.sdevGendev,
    sdevAttrs(mod, sdev, {
      rescan: () => rescanDevice(mod, sdev),
      remove: () => removeDevice(mod, sdev),
    }),
  );
  sdevBinAttrs(sdev);
  // Bus probe: the first upper-level driver that accepts the device binds it.
  const probing = bindDriver(mod, sdev);
  dm.add(sdev.sdevDev);
  for (const intf of mod.interfaces) await intf.addDev(sdev);
  await probing;
}

/**
 * Bus probe: the first upper-level driver whose type check accepts the LU binds it. A driver that
 * prefers asynchronous probing (sd) is probed in the background; the scan goes on meanwhile.
 */
async function bindDriver(mod: ScsiMod, sdev: ScsiDevice): Promise<void> {
  const drv = mod.drivers.find((d) => d.match(sdev));
  if (!drv) return;
  const probe = async (): Promise<void> => {
    if (!sdev.isVisible) return;
    if ((await drv.probe(sdev)) === 'ok') attachDriver(mod, sdev, drv.name);
    else if (sdev.driver?.name === drv.name) sdev.driver = null;
  };
  // really_probe sets dev->driver before the driver's probe runs: messages printed meanwhile by
  // others (sg's `Attached scsi generic`) already carry the driver's name, as at hot-plug.
  sdev.driver = { name: drv.name };
  if (drv.asyncProbe) {
    mod.track(Promise.resolve().then(probe));
    return;
  }
  await probe();
}

function attachDriver(mod: ScsiMod, sdev: ScsiDevice, name: string): void {
  const drv = mod.kernel.dm.driver(mod.bus, name);
  sdev.driver = { name };
  mod.kernel.dm.bind(sdev.sdevGendev, drv);
}

/** scsi_remove_device / __scsi_remove_device. */
export async function removeDevice(mod: ScsiMod, sdev: ScsiDevice): Promise<void> {
  const dm = mod.kernel.dm;
  if (sdev.state === 'deleted') return;
  if (sdev.isVisible) {
    try {
      scsiDeviceSetState(sdev, 'cancel');
    } catch {
      sdev.state = 'deleted';
    }
    for (const intf of [...mod.interfaces].reverse()) await intf.removeDev(sdev);
    dm.del(sdev.sdevDev);
    const drv = mod.drivers.find((d) => d.name === sdev.driver?.name);
    if (drv) {
      await drv.remove(sdev);
      dm.unbind(sdev.sdevGendev);
      sdev.driver = null;
    }
    dm.del(sdev.sdevGendev);
    sdev.isVisible = false;
  }
  sdev.state = 'deleted';
  forgetSdev(sdev);
  const t = sdev.target;
  t.reapRef++;
  reapTarget(mod, t);
}

/** scsi_rescan_device: VPD pages again, then the upper driver's rescan. */
export async function rescanDevice(mod: ScsiMod, sdev: ScsiDevice): Promise<void> {
  await attachVpd(mod, sdev);
  sdevBinAttrs(sdev);
  const drv = mod.drivers.find((d) => d.name === sdev.driver?.name);
  await drv?.rescan?.(sdev);
}

