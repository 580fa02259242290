// Ours (test helper): builds a GoldenSysfsKernel for one golden snapshot, with every sg/sd/sr node answering
// SG_IO like the captured device did. Responses come from the same capture: INQUIRY and VPD pages from the
// cached sysfs `inquiry`/`vpd_pg*` files (or the golden hex dumps for pages the kernel did not cache),
// REPORT LUNS from `sg_luns -H`, READ CAPACITY from the block size attributes, MODE SENSE from `sg_modes -a`.

import {
  GoldenSysfsKernel, fixedSense, loadGolden, type GoldenSnapshot, type ScsiReply, type ScsiResponder,
} from '../../fakes/golden_sysfs_kernel.ts';

/** Parses sg3_utils' `hex2stdout(..., 0|1)` dump lines back into bytes (offset column, then up to 16 bytes). */
export function parseHexDump(text: string): Uint8Array {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!/^ [0-9a-f]{2,}\s{4,}[0-9a-f]{2}/.test(line)) continue;
    for (const tok of line.slice(8, 57).trim().split(/\s+/)) if (/^[0-9a-f]{2}$/.test(tok)) out.push(parseInt(tok, 16));
  }
  return Uint8Array.from(out);
}

/** The MODE SENSE(10) response an `sg_modes -a` dump was made from: header, block descriptors, pages. */
export function modeSense10FromDump(text: string): Uint8Array {
  const mdl = /Mode data length=(\d+), medium type=0x([0-9a-f]+), (?:WP=(\d), DpoFua=(\d)|specific param=0x([0-9a-f]+))/.exec(text);
  const bdl = /Block descriptor length=(\d+)/.exec(text);
  if (!mdl || !bdl) throw new Error('not an sg_modes dump');
  const total = Number(mdl[1]);
  const specific = mdl[5] !== undefined ? parseInt(mdl[5], 16) : (Number(mdl[3]) << 7) | (Number(mdl[4]) << 4);
  const chunks = text.split(/^(?:> .*|>> .*)$/m).slice(1).map(parseHexDump);
  const body = chunks.flatMap((c) => Array.from(c));
  const hdr = [
    (total - 2) >> 8, (total - 2) & 0xff, // mode data length (excludes itself)
    parseInt(mdl[2]!, 16), // medium type
    specific, // device-specific parameter (WP, DPOFUA)
    0, 0, // reserved, LONGLBA=0
    0, Number(bdl[1]), // block descriptor length
  ];
  return Uint8Array.from([...hdr, ...body]);
}

export interface LuData {
  readonly sysDir: string;
  readonly sg: string;
  /** Extra VPD pages (e.g. the CD's, which the kernel never caches). */
  readonly vpd?: ReadonlyMap<number, Uint8Array>;
  readonly reportLuns?: Uint8Array | 'refuse';
  readonly capacity?: { readonly blocks: number; readonly blockLen: number; readonly lbpme: boolean };
  readonly modeSense?: Uint8Array;
  /** When set, every command fails with this host byte (a removed device). */
  readonly hostStatus?: number;
  /** When set, every command but INQUIRY gets CHECK CONDITION with this sense (a pending unit attention). */
  readonly checkAll?: Uint8Array;
}

function readHexFile(k: GoldenSysfsKernel, path: string): Uint8Array | null {
  const n = k.nodes.get(path);
  return n?.t === 'f' && typeof n.data !== 'string' ? n.data : null;
}

export function luResponder(k: GoldenSysfsKernel, lu: LuData): ScsiResponder {
  const invalidField: ScsiReply = { kind: 'check', sense: fixedSense(0x5, 0x24, 0x00) };
  return (cdb) => {
    if (lu.hostStatus !== undefined) return { kind: 'host', hostStatus: lu.hostStatus };
    if (lu.checkAll !== undefined && cdb[0] !== 0x12) return { kind: 'check', sense: lu.checkAll };
    switch (cdb[0]) {
      case 0x00: return { kind: 'good' }; // TEST UNIT READY
      case 0x12: { // INQUIRY
        const alloc = (cdb[3]! << 8) | cdb[4]!;
        if ((cdb[1]! & 1) === 0) {
          const inq = readHexFile(k, `${lu.sysDir}/inquiry`);
          return inq ? { kind: 'good', data: inq.slice(0, alloc) } : invalidField;
        }
        const page = cdb[2]!;
        const name = `${lu.sysDir}/vpd_pg${page === 0 ? '0' : page.toString(16)}`;
        const data = lu.vpd?.get(page) ?? readHexFile(k, name);
        return data ? { kind: 'good', data: data.slice(0, alloc) } : invalidField;
      }
      case 0xa0: // REPORT LUNS
        if (lu.reportLuns === 'refuse' || lu.reportLuns === undefined) {
          return { kind: 'check', sense: fixedSense(0x5, 0x25, 0x00) };
        }
        return { kind: 'good', data: lu.reportLuns };
      case 0x25: { // READ CAPACITY(10)
        if (!lu.capacity) return invalidField;
        const d = new DataView(new ArrayBuffer(8));
        d.setUint32(0, lu.capacity.blocks - 1); // last LBA
        d.setUint32(4, lu.capacity.blockLen); // block length
        return { kind: 'good', data: new Uint8Array(d.buffer) };
      }
      case 0x9e: { // SERVICE ACTION IN(16): READ CAPACITY(16)
        if (!lu.capacity || (cdb[1]! & 0x1f) !== 0x10) return invalidField;
        const d = new DataView(new ArrayBuffer(32));
        d.setBigUint64(0, BigInt(lu.capacity.blocks - 1)); // last LBA
        d.setUint32(8, lu.capacity.blockLen); // block length
        d.setUint8(14, lu.capacity.lbpme ? 0x80 : 0); // LBPME, LBPRZ=0, lowest aligned LBA 0
        return { kind: 'good', data: new Uint8Array(d.buffer) };
      }
      case 0x5a: // MODE SENSE(10)
        return lu.modeSense ? { kind: 'good', data: lu.modeSense } : invalidField;
      default:
        return { kind: 'check', sense: fixedSense(0x5, 0x20, 0x00) };
    }
  };
}

export interface GoldenWorld {
  readonly snap: GoldenSnapshot;
  readonly kernel: GoldenSysfsKernel;
  cmd(label: string): { cmd: string; rc: number; stdout: string; stderr: string };
}

/** A device's dev attribute, "M:m". */
function devOf(k: GoldenSysfsKernel, dir: string): [number, number] | null {
  const d = readHexFile(k, `${dir}/dev`);
  if (!d) return null;
  const [ma, mi] = new TextDecoder().decode(d).trim().split(':').map(Number);
  return [ma!, mi!];
}

function textOf(k: GoldenSysfsKernel, path: string): string | null {
  const d = readHexFile(k, path);
  return d ? new TextDecoder().decode(d).replace(/\n$/, '') : null;
}

/**
 * Loads a golden snapshot: /sys from the capture, /dev nodes for every sd/sr/sg/bsg the sysfs shows, and an
 * SG_IO responder per LU built from the snapshot's own data.
 */
export function goldenWorld(scenario: string, snapshot: string,
  overrides: Readonly<Record<string, Partial<LuData>>> = {}): GoldenWorld {
  const snap = loadGolden(scenario).snapshots[snapshot]!;
  const k = GoldenSysfsKernel.fromSnapshot(snap);
  for (const p of [...k.nodes.keys()]) {
    const m = /^\/sys\/bus\/scsi\/devices\/(\d+:\d+:\d+:\d+)$/.exec(p);
    if (!m) continue;
    const hctl = m[1]!;
    const dir = k.resolve(p, true);
    const sgName = [...k.nodes.keys()].find((q) => q.startsWith(`${dir}/scsi_generic/sg`) && q.split('/').length === dir.split('/').length + 2);
    const sg = sgName ? sgName.slice(sgName.lastIndexOf('/') + 1) : '';
    const blockEnt = [...k.nodes.keys()].find((q) => q.startsWith(`${dir}/block/`) && q.split('/').length === dir.split('/').length + 2);
    let capacity: LuData['capacity'];
    if (blockEnt) {
      const size = Number(textOf(k, `${blockEnt}/size`) ?? 0);
      const lbs = Number(textOf(k, `${blockEnt}/queue/logical_block_size`) ?? 512);
      // LBPME as sd saw it: provisioning_mode "full" means the device did not report thin provisioning.
      // (QEMU's scsi-cd has no scsi_disk dir but sets LBPME like every scsi-disk.c device.)
      const prov = textOf(k, `${dir}/scsi_disk/${hctl}/provisioning_mode`);
      capacity = { blocks: (size * 512) / lbs, blockLen: lbs, lbpme: prov === null ? true : prov !== 'full' };
    }
    const cmds = snap.commands;
    const lunsHex = sg ? cmds[`${sg}.sg_luns_hex`] : undefined;
    const modes = sg ? cmds[`${sg}.sg_modes_a`] : undefined;
    const diHex = sg ? cmds[`${sg}.sg_vpd_di_hex`] : undefined;
    const vpd = new Map<number, Uint8Array>();
    if (diHex && diHex.rc === 0 && readHexFile(k, `${dir}/vpd_pg83`) === null) vpd.set(0x83, parseHexDump(diHex.stdout));
    for (const [pg, data] of overrides[hctl]?.vpd ?? []) vpd.set(pg, data);
    const { vpd: _ignored, ...rest } = overrides[hctl] ?? {};
    const lu: LuData = {
      sysDir: dir, sg, vpd,
      ...(lunsHex ? { reportLuns: lunsHex.rc === 0 ? parseHexDump(lunsHex.stdout) : 'refuse' as const } : {}),
      ...(capacity ? { capacity } : {}),
      ...(modes && modes.rc === 0 ? { modeSense: modeSense10FromDump(modes.stdout) } : {}),
      ...rest,
    };
    const responder = luResponder(k, lu);
    if (sg) {
      const d = devOf(k, `${dir}/scsi_generic/${sg}`);
      if (d) k.addDev(`/dev/${sg}`, 'c', d[0], d[1], responder);
    }
    if (blockEnt) {
      const d = devOf(k, blockEnt);
      if (d) k.addDev(`/dev/${blockEnt.slice(blockEnt.lastIndexOf('/') + 1)}`, 'b', d[0], d[1], responder);
    }
    const d = devOf(k, `${dir}/bsg/${hctl}`);
    if (d) k.addDev(`/dev/bsg/${hctl}`, 'c', d[0], d[1], responder);
  }
  return {
    snap, kernel: k,
    cmd(label) {
      const c = snap.commands[label];
      if (!c) throw new Error(`no golden command ${label}`);
      return c;
    },
  };
}
