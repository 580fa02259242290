// A fake LLD for error-handler tests: QEMU-like answers (fake_lld's table) unless a test rule says
// otherwise per command — answer with CHECK CONDITION and sense, CHECK CONDITION without sense, a
// status, or never answer ("hang"). Each EH handler (abort, device/target/bus/host reset) succeeds,
// fails or never returns as configured; a successful abort completes the hung command with
// DID_ABORT and a successful reset completes the LU's hung commands with DID_RESET and posts a
// 29/00 unit attention, as QEMU does. Everything on the test kernel's event loop; every CDB and
// every handler call is recorded.

import type { ScsiMod } from '../../src/midlayer/scsi.ts';
import type { ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import type { EhResult, ScsiHost, ScsiHostTemplate } from '../../src/midlayer/scsi_host.ts';
import { scsiAddHost, scsiHostAlloc } from '../../src/midlayer/hosts.ts';
import { ScsiMod as ScsiModClass } from '../../src/midlayer/scsi.ts';
import { scsiDone } from '../../src/midlayer/scsi_lib.ts';
import { scanHost } from '../../src/midlayer/scsi_scan.ts';
import { Device } from '../../src/sysfs/core.ts';
import { answer, senseFixed } from './fake_lld.ts';
import type { FakeLldState } from './fake_lld.ts';
import { testKernel } from './test_kernel.ts';
import type { TestKernel } from './test_kernel.ts';

export type CmdBehaviour =
  | { readonly kind: 'normal' }
  | { readonly kind: 'hang' }
  | { readonly kind: 'cc'; readonly sense: readonly [number, number, number] }
  | { readonly kind: 'cc-nosense' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'host'; readonly hostByte: number };

export type HandlerBehaviour = 'success' | 'fail' | 'hang' | 'absent';

export type Handler = 'abort' | 'device' | 'target' | 'bus' | 'host';

export interface EhFakeState {
  readonly lld: FakeLldState;
  /** Decides each command's fate; `n` counts commands seen (from 0). */
  rule: (cdb: Uint8Array, n: number) => CmdBehaviour;
  /** REQUEST SENSE answer for `cc-nosense` commands (undefined: empty sense, i.e. no sense again). */
  requestSense: readonly [number, number, number] | undefined;
  readonly handlers: Record<Handler, HandlerBehaviour>;
  /** Every CDB sent (hex), REQUEST SENSE and TUR from the EH included. */
  readonly cdbs: string[];
  /** Every handler call, in order. */
  readonly calls: Handler[];
  /** Commands the device holds (never answered yet). */
  readonly hung: Set<ScsiCmnd>;
  seen: number;
}

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

function template(mod: ScsiMod, k: TestKernel, st: EhFakeState): ScsiHostTemplate<EhFakeState> {
  const reply = (cmd: ScsiCmnd, fn: () => void): void => {
    k.loop.after(1000, () => {
      fn();
      scsiDone(mod, cmd);
    });
  };
  const handler = (h: Handler, act: (cmd: ScsiCmnd) => void) => async (cmd: ScsiCmnd): Promise<EhResult> => {
    const b = st.handlers[h];
    // An absent handler behaves as the EH's missing one: FAILED at once, nothing sent.
    if (b === 'absent') return 'FAILED';
    st.calls.push(h);
    if (b === 'hang') return new Promise<EhResult>(() => {});
    // A TMF round trip takes a little virtual time.
    await new Promise<void>((r) => k.loop.after(2000, () => r()));
    if (b !== 'success') return 'FAILED';
    act(cmd);
    return 'SUCCESS';
  };
  const resetLu = (cmd: ScsiCmnd, all: (c: ScsiCmnd) => boolean): void => {
    for (const c of [...st.hung]) {
      if (!all(c)) continue;
      st.hung.delete(c);
      c.result = 0x08 << 16; // DID_RESET
      scsiDone(mod, c);
    }
    for (const sdev of cmd.device.host.devices) {
      if (!all({ device: sdev } as ScsiCmnd)) continue;
      const lu = st.lld.lus.get(`${sdev.id}:${sdev.lun}`);
      if (lu) lu.ua = [0x29, 0];
    }
  };
  const t: ScsiHostTemplate<EhFakeState> = {
    name: 'Fake EH HBA',
    procName: 'fake_eh',
    thisId: -1,
    canQueue: 64,
    cmdPerLun: 8,
    sgTablesize: 64,
    queuecommand(_host: ScsiHost<EhFakeState>, cmd: ScsiCmnd): number {
      const sdev = cmd.device;
      st.cdbs.push(hex(cmd.cdb));
      const op = cmd.cdb[0]!;
      if (op === 0x03) {
        // REQUEST SENSE from the EH: the sense the device has now.
        reply(cmd, () => {
          cmd.result = 0;
          const s = st.requestSense ? senseFixed(...st.requestSense) : new Array<number>(18).fill(0);
          const n = Math.min(s.length, cmd.length);
          k.mem.writeBytes(cmd.sgl[0]!.addr, Uint8Array.from(s.slice(0, n)));
          cmd.resid = cmd.length - n;
        });
        return 0;
      }
      const isScan = op === 0x12 || op === 0xa0;
      const b: CmdBehaviour = isScan ? { kind: 'normal' } : st.rule(cmd.cdb, st.seen++);
      if (b.kind === 'hang') {
        st.hung.add(cmd);
        return 0;
      }
      const a = answer(st.lld, sdev.id, sdev.lun, cmd.cdb);
      reply(cmd, () => {
        if (b.kind === 'cc') {
          cmd.result = 2;
          cmd.senseBuffer.set(senseFixed(...b.sense));
          return;
        }
        if (b.kind === 'cc-nosense') {
          cmd.result = 2;
          return;
        }
        if (b.kind === 'status') {
          cmd.result = b.status;
          return;
        }
        if (b.kind === 'host') {
          cmd.result = b.hostByte << 16;
          return;
        }
        // Normal: fake_lld's answer; READ/WRITE succeed without data.
        const rw = op === 0x28 || op === 0x2a || op === 0x1b;
        cmd.result = rw ? 0 : ((a.hostByte ?? 0) << 16) | a.status;
        if (!rw && a.sense) cmd.senseBuffer.set(a.sense);
        if (!rw && a.data && cmd.dir === 'from-dev') {
          const n = Math.min(a.data.length, cmd.length);
          k.mem.writeBytes(cmd.sgl[0]!.addr, Uint8Array.from(a.data.slice(0, n)));
          cmd.resid = cmd.length - n;
        }
      });
      return 0;
    },
  };
  return {
    ...t,
    ehAbortHandler: handler('abort', (cmd) => {
      // The aborted command is completed (ABORTED) before the TMF's answer, as QEMU does.
      for (const c of [...st.hung]) {
        if (c.tag !== cmd.tag || c.device !== cmd.device) continue;
        st.hung.delete(c);
        c.result = 0x05 << 16; // DID_ABORT
        scsiDone(mod, c);
      }
    }),
    ehDeviceResetHandler: handler('device', (cmd) => resetLu(cmd, (c) => c.device === cmd.device)),
    ehTargetResetHandler: handler('target', (cmd) => resetLu(cmd, (c) => c.device.id === cmd.device.id)),
    ehBusResetHandler: handler('bus', (cmd) => resetLu(cmd, () => true)),
    ehHostResetHandler: handler('host', (cmd) => resetLu(cmd, () => true)),
    ehTimedOut: () => 'done',
  };
}

export interface EhRig {
  readonly k: TestKernel;
  readonly mod: ScsiMod;
  readonly host: ScsiHost<EhFakeState>;
  readonly st: EhFakeState;
}

/** One host with LU 0:0:0:0 (a disk) scanned and running. */
export async function ehRig(opts: { params?: Record<string, string>; lus?: Array<[number, number]> } = {}): Promise<EhRig> {
  const k = testKernel(opts.params ?? {});
  const mod = new ScsiModClass(k);
  const st: EhFakeState = {
    lld: { lus: new Map(), cdbs: [] },
    rule: () => ({ kind: 'normal' }),
    requestSense: undefined,
    handlers: { abort: 'success', device: 'success', target: 'absent', bus: 'absent', host: 'absent' },
    cdbs: [],
    calls: [],
    hung: new Set(),
    seen: 0,
  };
  for (const [id, lun] of opts.lus ?? [[0, 0]]) st.lld.lus.set(`${id}:${lun}`, { type: 0, model: 'QEMU HARDDISK' });
  const parent = new Device('virtio0', null);
  k.dm.add(parent);
  const host = scsiHostAlloc(mod, template(mod, k, st), st, parent);
  scsiAddHost(mod, host);
  let done = false;
  void scanHost(mod, host).finally(() => (done = true));
  await k.loop.runUntilIdle(() => done);
  await k.loop.runUntilIdle();
  st.cdbs.length = 0;
  st.seen = 0;
  return { k, mod, host, st };
}
