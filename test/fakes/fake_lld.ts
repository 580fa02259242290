// A fake LLD for mid-layer tests: a ScsiHostTemplate whose queuecommand answers from a table of
// logical units with QEMU's target semantics (BAD_TARGET for empty targets, "QEMU TARGET" PQ 1 for a
// missing LUN 0, PQ 3 for other missing LUNs, REPORT LUNS only on LUN 0, power-on UA 29/00).
// Completions arrive on the event loop after 1 µs; every CDB is recorded.

import type { Kernel } from '../../src/kernel/kernel.ts';
import type { ScsiMod } from '../../src/midlayer/scsi.ts';
import type { ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import type { ScsiHost, ScsiHostTemplate } from '../../src/midlayer/scsi_host.ts';
import { scsiDone } from '../../src/midlayer/scsi_lib.ts';

export interface FakeLu {
  type: number;
  model: string;
  /** Pending unit attention (asc, ascq), cleared by the first non-INQUIRY/REPORT LUNS command. */
  ua?: [number, number] | undefined;
}

export interface FakeLldState {
  readonly lus: Map<string, FakeLu>;
  readonly cdbs: string[];
}

const key = (id: number, lun: number): string => `${id}:${lun}`;

export function ascii(s: string, n: number): number[] {
  return [...s.padEnd(n, ' ').slice(0, n)].map((c) => c.charCodeAt(0));
}

export function senseFixed(key: number, asc: number, ascq: number): number[] {
  const s = new Array(18).fill(0);
  s[0] = 0x70;
  s[2] = key;
  s[7] = 10;
  s[12] = asc;
  s[13] = ascq;
  return s;
}

export function answer(st: FakeLldState, id: number, lun: number, cdb: Uint8Array): { hostByte?: number; status: number; data?: number[]; sense?: number[] } {
  const targetHasLus = [...st.lus.keys()].some((k) => k.startsWith(`${id}:`));
  if (!targetHasLus) return { hostByte: 0x04, status: 0 };
  const lu = st.lus.get(key(id, lun));
  const op = cdb[0]!;
  if (lu?.ua && op !== 0x12 && op !== 0xa0) {
    const [asc, ascq] = lu.ua;
    lu.ua = undefined;
    return { status: 2, sense: senseFixed(6, asc, ascq) };
  }
  if (op === 0xa0) {
    if (lun !== 0) return { status: 2, sense: senseFixed(5, 0x25, 0) };
    const luns = [0, ...[...st.lus.keys()].filter((k) => k.startsWith(`${id}:`)).map((k) => Number(k.split(':')[1])).filter((l) => l !== 0).sort((a, b) => a - b)];
    const out = [0, 0, (luns.length * 8) >> 8, (luns.length * 8) & 0xff, 0, 0, 0, 0];
    for (const l of luns) out.push(l < 256 ? 0 : 0x40 | (l >> 8), l & 0xff, 0, 0, 0, 0, 0, 0);
    return { status: 0, data: out };
  }
  if (op === 0x12) {
    const evpd = cdb[1]! & 1;
    if (!lu) {
      if (evpd) return { status: 0, data: [lun === 0 ? 0x3f : 0x7f, 0, 0, 1, 0] };
      if (lun === 0) return { status: 0, data: [0x3f, 0, 5, 0x12, 31, 0, 0, 0x12, ...ascii('QEMU', 8), ...ascii('QEMU TARGET', 16), ...ascii('2.5+', 4)] };
      return { status: 0, data: [0x7f, ...new Array(35).fill(0)] };
    }
    if (evpd) {
      if (cdb[2] === 0x00) return { status: 0, data: [lu.type, 0, 0, 2, 0x00, 0x83] };
      if (cdb[2] === 0x83) return { status: 0, data: [lu.type, 0x83, 0, 6, 2, 0, 0, 2, 0x64, 0x30] };
      return { status: 2, sense: senseFixed(5, 0x24, 0) };
    }
    return { status: 0, data: [lu.type, lu.type === 5 ? 0x80 : 0, 5, 0x12, 31, 0, 0, 0x12, ...ascii('QEMU', 8), ...ascii(lu.model, 16), ...ascii('2.5+', 4)] };
  }
  if (!lu) return { status: 2, sense: senseFixed(5, 0x25, 0) };
  if (op === 0x00) return { status: 0 };
  return { status: 2, sense: senseFixed(5, 0x20, 0) };
}

export function fakeLld(mod: ScsiMod, kernel: Kernel, st: FakeLldState): ScsiHostTemplate<FakeLldState> {
  return {
    name: 'Fake SCSI HBA',
    procName: 'fake_lld',
    thisId: -1,
    canQueue: 64,
    cmdPerLun: 16,
    sgTablesize: 64,
    queuecommand(_host: ScsiHost<FakeLldState>, cmd: ScsiCmnd): number {
      const sdev = cmd.device;
      st.cdbs.push(`${sdev.id}:${sdev.lun} ${[...cmd.cdb].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
      const a = answer(st, sdev.id, sdev.lun, cmd.cdb);
      kernel.loop.after(1000, () => {
        cmd.result = ((a.hostByte ?? 0) << 16) | a.status;
        let resid = cmd.length;
        if (a.data && cmd.dir === 'from-dev') {
          const n = Math.min(a.data.length, cmd.length);
          kernel.mem.writeBytes(cmd.sgl[0]!.addr, Uint8Array.from(a.data.slice(0, n)));
          resid = cmd.length - n;
        }
        cmd.resid = a.status === 0 && !a.hostByte ? resid : 0;
        if (a.sense) cmd.senseBuffer.set(a.sense);
        scsiDone(mod, cmd);
      });
      return 0;
    },
  };
}

/** What a fake device answers to one command. */
export type FakeReply = { status: number; data?: number[] | Uint8Array; sense?: number[]; hostByte?: number };

/**
 * Completes `cmd` with `a` 1 µs later, as an HBA would: the data scattered into the command's SG
 * list, the result, the residual and the sense. `residWhen` says when the residual counts: only on
 * success (a disk), or for every from-device transfer (a tape reports short reads with sense too).
 */
export function completeLater(mod: ScsiMod, kernel: Kernel, cmd: ScsiCmnd, a: FakeReply, residWhen: 'good' | 'from-dev'): void {
  kernel.loop.after(1000, () => {
    cmd.result = ((a.hostByte ?? 0) << 16) | a.status;
    let resid = cmd.length;
    if (a.data && cmd.dir === 'from-dev') {
      const data = Uint8Array.from(a.data);
      let at = 0;
      for (const sg of cmd.sgl) {
        const n = Math.max(0, Math.min(sg.len, data.length - at));
        if (n > 0) kernel.mem.writeBytes(sg.addr, data.subarray(at, at + n));
        at += n;
      }
      resid = cmd.length - Math.min(data.length, cmd.length);
    }
    const counts = residWhen === 'good' ? a.status === 0 && !a.hostByte : cmd.dir === 'from-dev';
    cmd.resid = counts ? resid : 0;
    if (a.sense) cmd.senseBuffer.set(a.sense);
    scsiDone(mod, cmd);
  });
}
