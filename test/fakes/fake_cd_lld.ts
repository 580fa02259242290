// A CD drive with a tray, on top of fake_disk_lld.ts: the commands whose answer depends on the tray and
// the lock are answered here as QEMU 7.2's scsi-cd does — TEST UNIT READY (2/3a/00 while the tray is
// open or empty), PREVENT ALLOW MEDIUM REMOVAL (the lock), START STOP UNIT with LoEj (refused with
// 5/53/02 while locked, else the tray moves), GET EVENT STATUS NOTIFICATION (tray/medium status, "new
// media" and "eject requested" events), READ SUB-CHANNEL (not implemented: 5/20/00), and every media
// command with 2/3a/00 while the tray is open. Everything else goes to fake_disk_lld.ts.

import { ScsiMod } from '../../src/midlayer/scsi.ts';
import type { ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import { scsiAddHost, scsiHostAlloc } from '../../src/midlayer/hosts.ts';
import { scsiDone } from '../../src/midlayer/scsi_lib.ts';
import { scanHost } from '../../src/midlayer/scsi_scan.ts';
import { Device } from '../../src/sysfs/core.ts';
import { fakeDiskLld } from './fake_disk_lld.ts';
import type { FakeDiskState } from './fake_disk_lld.ts';
import { senseFixed } from './fake_lld.ts';
import { testKernel } from './test_kernel.ts';
import { loopRunner } from './loop_run.ts';

export interface FakeTray {
  open: boolean;
  locked: boolean;
  /** The next GESN reports "new media" (a medium was inserted by the host). */
  mediaEvent: boolean;
  /** The next GESN reports "eject requested" (the host's eject button). */
  ejectRequest: boolean;
}

type Reply = { status: number; data?: number[]; sense?: number[] };

/** Opcodes QEMU answers without a medium (scsi-disk.c's list, reduced to what sr sends). */
const NO_MEDIUM_OK = new Set([0x12, 0x03, 0x1a, 0x5a, 0x1e, 0x1b, 0x46, 0x4a, 0xa0, 0x42]);

function trayAnswer(st: FakeDiskState, tray: FakeTray, cmd: ScsiCmnd): Reply | null {
  const sdev = cmd.device;
  const key = `${sdev.id}:${sdev.lun}`;
  const m = st.media.get(key);
  if (!m || m.kind !== 'cd' || st.lus.get(key)?.ua) return null;
  const c = cmd.cdb;
  const op = c[0]!;
  const available = m.image !== null && !tray.open;
  if (!available && !NO_MEDIUM_OK.has(op)) return { status: 2, sense: senseFixed(2, 0x3a, 0) };
  switch (op) {
    case 0x1e:
      tray.locked = (c[4]! & 1) !== 0;
      return { status: 0 };
    case 0x1b: {
      const start = (c[4]! & 1) !== 0;
      if (!(c[4]! & 2)) return { status: 0 };
      if (!start && !tray.open && tray.locked) return { status: 2, sense: m.image ? senseFixed(5, 0x53, 2) : senseFixed(2, 0x53, 2) };
      tray.open = !start;
      return { status: 0 };
    }
    case 0x4a: {
      const status = tray.open ? 1 : m.image ? 2 : 0;
      let event = 0;
      if (status !== 1 && tray.mediaEvent) {
        event = 2;
        tray.mediaEvent = false;
      } else if (status !== 1 && tray.ejectRequest) {
        event = 1;
        tray.ejectRequest = false;
      }
      return { status: 0, data: [0, 6, 4, 0x10, event, status, 0, 0] };
    }
    case 0x42:
      return { status: 2, sense: senseFixed(5, 0x20, 0) };
  }
  return null;
}

/** A test kernel with one fake host and one CD drive at 0:0:0:1 (like the golden), with a tray. */
export function cdSetup(image: Uint8Array | null) {
  const k = testKernel();
  const mod = new ScsiMod(k);
  const st: FakeDiskState = { lus: new Map(), cdbs: [], media: new Map() };
  st.lus.set('0:1', { type: 5, model: 'QEMU CD-ROM', ua: [0x29, 0] });
  st.media.set('0:1', { kind: 'cd', image, blockSize: 2048 });
  const tray: FakeTray = { open: false, locked: false, mediaEvent: false, ejectRequest: false };
  const base = fakeDiskLld(mod, k, st);
  const template = {
    ...base,
    queuecommand(host: Parameters<typeof base.queuecommand>[0], cmd: ScsiCmnd): number {
      const a = trayAnswer(st, tray, cmd);
      if (a === null) return base.queuecommand(host, cmd);
      st.cdbs.push(`${cmd.device.id}:${cmd.device.lun} ${[...cmd.cdb].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
      k.loop.after(1000, () => {
        cmd.result = a.status;
        let resid = cmd.length;
        if (a.data && cmd.dir === 'from-dev' && cmd.sgl[0]) {
          const n = Math.min(a.data.length, cmd.length);
          k.mem.writeBytes(cmd.sgl[0].addr, Uint8Array.from(a.data.slice(0, n)));
          resid = cmd.length - n;
        }
        cmd.resid = a.status === 0 ? resid : 0;
        if (a.sense) cmd.senseBuffer.set(a.sense);
        scsiDone(mod, cmd);
      });
      return 0;
    },
  };
  const parent = new Device('virtio0', null);
  k.dm.add(parent);
  const host = scsiHostAlloc(mod, template, st, parent);
  host.maxId = 8;
  host.maxLun = 16;
  host.maxCmdLen = 32;
  host.nrHwQueues = 2;
  const scan = (): Promise<void> => {
    scsiAddHost(mod, host);
    return scanHost(mod, host);
  };
  const { run } = loopRunner(k, mod);
  /** Inserts a new medium (closed tray), as QEMU's change-media does: "new media" event and UA 6/28/00. */
  const changeMedium = (img: Uint8Array | null): void => {
    st.media.get('0:1')!.image = img;
    tray.open = false;
    tray.mediaEvent = img !== null;
    st.lus.get('0:1')!.ua = [0x28, 0];
  };
  return { k, mod, st, tray, host, scan, run, changeMedium, sys: k.vfs.syscalls() };
}
