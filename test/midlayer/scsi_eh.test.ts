import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ScsiCmnd } from '../../src/midlayer/scsi_cmnd.ts';
import { scsiEhIoctlReset, scsiEhRuns } from '../../src/midlayer/scsi_eh.ts';
import type { EhResult } from '../../src/midlayer/scsi_host.ts';
import { scsiQueueCommand, scsiWaitingCount } from '../../src/midlayer/scsi_lib.ts';
import { NS_PER_S } from '../../src/sim/event_loop.ts';
import { O_RDONLY, O_WRONLY } from '../../src/kernel/syscalls.ts';
import { ehRig } from '../fakes/fake_eh_lld.ts';
import type { CmdBehaviour, EhRig, HandlerBehaviour } from '../fakes/fake_eh_lld.ts';

const READ10 = [0x28, 0, 0, 0, 0, 100, 0, 0, 1, 0];
const READ10_HEX = '28 00 00 00 00 64 00 00 01 00';
const TUR_HEX = '00 00 00 00 00 00';
const REQUEST_SENSE_HEX = '03 00 00 00 60 00';
const START_UNIT_HEX = '1b 00 00 00 01 00';
const DID_TIME_OUT = 0x03;
const DID_NO_CONNECT = 0x01;

interface Issued {
  readonly cmd: ScsiCmnd;
  /** How many times the mid-layer finished the command (must end at exactly 1). */
  completions(): number;
  /** Virtual time of the first completion. */
  doneAt(): number | undefined;
}

function issue(r: EhRig, o: { cdb?: number[]; timeout?: number; allowed?: number; lun?: number } = {}): Issued {
  const sdev = r.host.devices[o.lun ?? 0]!;
  const cmd = new ScsiCmnd(sdev);
  cmd.setCdb(o.cdb ?? READ10);
  cmd.timeout = (o.timeout ?? 30) * NS_PER_S;
  cmd.allowed = o.allowed ?? 5;
  cmd.jiffiesAtAlloc = r.k.loop.now();
  let n = 0;
  let at: number | undefined;
  // finishCommand clears `complete` before calling it; re-arming it makes a second finish visible.
  const count = (): void => {
    n++;
    at ??= r.k.loop.now();
    cmd.complete = count;
  };
  cmd.complete = count;
  scsiQueueCommand(r.mod, cmd);
  return { cmd, completions: () => n, doneAt: () => at };
}

/** Lets virtual time pass (daemon timers included), then runs what is left. */
async function runFor(r: EhRig, seconds: number): Promise<void> {
  await r.k.loop.advance(seconds * NS_PER_S);
  await r.k.loop.runUntilIdle();
}

const seq = (...b: CmdBehaviour[]) => (_cdb: Uint8Array, n: number): CmdBehaviour => b[n] ?? { kind: 'normal' };
const hostByte = (result: number): number => (result >>> 16) & 0xff;

async function readAttr(r: EhRig, path: string): Promise<string> {
  const sys = r.k.vfs.syscalls();
  const fd = await sys.open(path, O_RDONLY);
  const t = new TextDecoder().decode(await sys.read(fd, 4096));
  await sys.close(fd);
  return t;
}

async function writeAttr(r: EhRig, path: string, text: string): Promise<void> {
  const sys = r.k.vfs.syscalls();
  const fd = await sys.open(path, O_WRONLY);
  try {
    await sys.write(fd, new TextEncoder().encode(text));
  } finally {
    await sys.close(fd);
  }
}

describe('scsi_eh: get sense', () => {
  it('sends REQUEST SENSE for a CHECK CONDITION without sense and finishes the command with the sense it got', async () => {
    const r = await ehRig({ params: { 'scsi_mod.scsi_logging_level': '7' } });
    r.st.rule = seq({ kind: 'cc-nosense' });
    r.st.requestSense = [0x03, 0x11, 0x00];
    const c = issue(r);
    await runFor(r, 1);
    expect(c.completions()).toBe(1);
    // The READ, then the EH's REQUEST SENSE (96 bytes) on the same tag; no reset.
    expect(r.st.cdbs).toEqual([READ10_HEX, REQUEST_SENSE_HEX]);
    expect(r.st.calls).toEqual([]);
    // MEDIUM ERROR 11/00 is final: status CHECK CONDITION, sense kept, no retry.
    expect(c.cmd.result).toBe(2);
    expect([c.cmd.senseBuffer[2], c.cmd.senseBuffer[12]]).toEqual([0x03, 0x11]);
    expect(c.cmd.ml).toBe('MED_ERROR');
    expect(r.host.state).toBe('running');
    expect([r.host.hostBusy, r.host.hostFailed]).toEqual([0, 0]);
    // Error-recovery logging (scsi_logging_level ERROR field 7).
    expect(r.k.log).toContain('scsi host0: scsi_eh_0: waking up 0/1/1');
    expect(r.k.log).toContain('scsi host0: Total of 1 commands on 1 devices require eh work');
    expect(r.k.log).toContain(`scsi 0:0:0:0: tag#${c.cmd.tag} scsi_eh_0: requesting sense`);
    expect(r.k.log).toContain('scsi host0: waking up host to restart');
    expect(r.k.log.at(-1)).toBe('scsi host0: scsi_eh_0: sleeping');
  });

  it('prints no error-recovery lines when scsi_logging_level is 0', async () => {
    const r = await ehRig();
    r.st.rule = seq({ kind: 'cc-nosense' });
    r.st.requestSense = [0x03, 0x11, 0x00];
    const before = r.k.log.length;
    issue(r);
    await runFor(r, 1);
    expect(r.k.log.slice(before)).toEqual([]);
    expect(scsiEhRuns(r.host)).toBe(1);
  });
});

describe('scsi_eh: the ladder', () => {
  it('no sense even after REQUEST SENSE: LOGICAL UNIT RESET, TUR (UA retried once), then the command is retried', async () => {
    const r = await ehRig();
    r.st.rule = seq({ kind: 'cc-nosense' });
    r.st.requestSense = undefined;
    const c = issue(r);
    await runFor(r, 1);
    expect(c.completions()).toBe(1);
    expect(c.cmd.result).toBe(0);
    expect(r.st.calls).toEqual(['device']);
    // READ, REQUEST SENSE, TUR (gets 29/00), TUR again, then the retried READ.
    expect(r.st.cdbs).toEqual([READ10_HEX, REQUEST_SENSE_HEX, TUR_HEX, TUR_HEX, READ10_HEX]);
    expect(r.k.log).toContain('scsi 0:0:0:0: Power-on or device reset occurred');
    expect(r.host.devices[0]!.state).toBe('running');
  });

  it('NOT READY 04/02 with allow_restart: START UNIT, TUR, retry', async () => {
    const r = await ehRig();
    r.host.devices[0]!.allowRestart = true;
    r.st.rule = seq({ kind: 'cc', sense: [0x02, 0x04, 0x02] });
    const c = issue(r);
    await runFor(r, 1);
    expect(c.completions()).toBe(1);
    expect(c.cmd.result).toBe(0);
    expect(r.st.cdbs).toEqual([READ10_HEX, START_UNIT_HEX, TUR_HEX, READ10_HEX]);
    expect(r.st.calls).toEqual([]);
  });

  it('a timed-out command on the generic path: abort after 10 ms, then retried', async () => {
    const r = await ehRig();
    r.st.rule = seq({ kind: 'hang' });
    const t0 = r.k.loop.now();
    const c = issue(r, { timeout: 30 });
    await runFor(r, 40);
    expect(c.completions()).toBe(1);
    expect(c.cmd.result).toBe(0);
    expect(r.st.calls).toEqual(['abort']);
    expect(r.host.devices[0]!.iotmoCnt).toBe(1);
    // Timeout (30 s) + the abort work's 10 ms + the TMF's 2 µs + the retried READ's 1 µs.
    expect(c.doneAt()! - t0).toBe(30 * NS_PER_S + 10_000_000 + 2000 + 1000);
    expect(scsiEhRuns(r.host)).toBe(0);
  });

  it('timed out again after a successful abort: escalates to the EH (previous abort failed), device reset', async () => {
    const r = await ehRig({ params: { 'scsi_mod.scsi_logging_level': '4' } });
    r.st.rule = seq({ kind: 'hang' }, { kind: 'hang' });
    const c = issue(r, { timeout: 5 });
    await runFor(r, 60);
    expect(c.completions()).toBe(1);
    expect(r.st.calls).toEqual(['abort', 'device']);
    expect(r.k.log.filter((l) => l.endsWith('abort scheduled'))).toHaveLength(1);
    expect(r.k.log.some((l) => l.endsWith('previous abort failed'))).toBe(true);
    expect(c.cmd.result).toBe(0);
    expect(r.host.devices[0]!.iotmoCnt).toBe(2);
  });

  it('every rung fails: the device is offlined with Linux message, the command ends DID_TIME_OUT, I/O is rejected', async () => {
    const r = await ehRig();
    r.st.rule = () => ({ kind: 'hang' });
    r.st.handlers.abort = 'fail';
    r.st.handlers.device = 'fail';
    r.st.handlers.target = 'fail';
    r.st.handlers.bus = 'fail';
    r.st.handlers.host = 'fail';
    const c = issue(r, { timeout: 5 });
    await runFor(r, 30);
    expect(c.completions()).toBe(1);
    expect(r.st.calls).toEqual(['abort', 'device', 'target', 'bus', 'host']);
    expect(r.k.log).toContain('scsi 0:0:0:0: Device offlined - not ready after error recovery');
    expect(hostByte(c.cmd.result)).toBe(DID_TIME_OUT);
    expect(r.host.devices[0]!.state).toBe('offline');
    expect(await readAttr(r, '/sys/bus/scsi/devices/0:0:0:0/state')).toBe('offline\n');
    expect(r.host.state).toBe('running');
    expect(await readAttr(r, '/sys/class/scsi_host/host0/host_busy')).toBe('0\n');
    const next = issue(r);
    await runFor(r, 1);
    expect(next.completions()).toBe(1);
    expect(hostByte(next.cmd.result)).toBe(DID_NO_CONNECT);
    expect(r.k.log).toContain('scsi 0:0:0:0: rejecting I/O to offline device');
  });

  it('bus reset succeeds: the bus settles 10 s before the TUR', async () => {
    const r = await ehRig();
    r.st.rule = seq({ kind: 'hang' });
    r.st.handlers.abort = 'fail';
    r.st.handlers.device = 'fail';
    r.st.handlers.bus = 'success';
    const t0 = r.k.loop.now();
    const c = issue(r, { timeout: 5 });
    await runFor(r, 60);
    expect(c.completions()).toBe(1);
    expect(r.st.calls).toEqual(['abort', 'device', 'bus']);
    expect(c.cmd.result).toBe(0);
    // 5 s timeout + blk_round_jiffies' 1.024 s + 10 ms + three 2 µs TMFs + 10 s settle + TURs and the retry.
    expect(c.doneAt()! - t0).toBeGreaterThan(16 * NS_PER_S);
    expect(c.doneAt()! - t0).toBeLessThan(17 * NS_PER_S);
  });

  it('eh_deadline 0: every rung is skipped up to the host reset', async () => {
    const r = await ehRig({ params: { 'scsi_mod.eh_deadline': '0' } });
    expect(await readAttr(r, '/sys/class/scsi_host/host0/eh_deadline')).toBe('0\n');
    r.st.rule = seq({ kind: 'hang' });
    r.st.handlers.host = 'success';
    const c = issue(r, { timeout: 5 });
    await runFor(r, 60);
    expect(c.completions()).toBe(1);
    expect(r.st.calls).toEqual(['host']);
    expect(c.cmd.result).toBe(0);
  });

  it('eh_deadline is writable on a host with a host-reset handler: off, seconds, EINVAL for junk', async () => {
    const r = await ehRig();
    const p = '/sys/class/scsi_host/host0/eh_deadline';
    expect(await readAttr(r, p)).toBe('off\n');
    await writeAttr(r, p, '30\n');
    expect(await readAttr(r, p)).toBe('30\n');
    await writeAttr(r, p, 'off');
    expect(await readAttr(r, p)).toBe('off\n');
    await expect(writeAttr(r, p, 'soon')).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('the EH waits until every outstanding command has completed or failed', async () => {
    const r = await ehRig();
    // Command 0 fails without sense at once; command 1 is answered only after its 20 s timeout's abort.
    r.st.rule = seq({ kind: 'cc-nosense' }, { kind: 'hang' });
    r.st.requestSense = [0x03, 0x11, 0x00];
    const a = issue(r);
    const b = issue(r, { timeout: 20 });
    await r.k.loop.advance(10 * NS_PER_S);
    // host_busy 2, host_failed 1: the thread has not run; the failed command is not finished.
    expect([r.host.hostBusy, r.host.hostFailed]).toEqual([2, 1]);
    expect(scsiEhRuns(r.host)).toBe(0);
    expect(a.completions()).toBe(0);
    await runFor(r, 30);
    expect([a.completions(), b.completions()]).toEqual([1, 1]);
    expect(scsiEhRuns(r.host)).toBe(1);
  });
});

describe('scsi_eh: a reset that never returns', () => {
  it('hangs the EH thread; khungtaskd reports it after 120 s, as Linux does, and the guest counts as idle', async () => {
    const r = await ehRig();
    r.st.rule = () => ({ kind: 'hang' });
    r.st.handlers.abort = 'fail';
    r.st.handlers.device = 'hang';
    const c = issue(r, { timeout: 5 });
    await runFor(r, 10);
    expect(r.st.calls).toEqual(['abort', 'device']);
    // Nothing but daemon timers is left: the guest is idle although the EH is stuck.
    expect(r.k.loop.busy).toBe(false);
    expect(r.k.log.some((l) => l.startsWith('INFO: task'))).toBe(false);
    await r.k.loop.advance(250 * NS_PER_S);
    const i = r.k.log.findIndex((l) => l.startsWith('INFO: task'));
    expect(r.k.log.slice(i, i + 8)).toEqual([
      'INFO: task scsi_eh_0:173 blocked for more than 120 seconds.',
      '      Not tainted 6.1.0-56-amd64 #1',
      '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.',
      'task:scsi_eh_0       state:D stack:0     pid:173   ppid:2      flags:0x00004000',
      'Call Trace:',
      ' <TASK>',
      ' __schedule+0x351/0xa20',
      ' schedule+0x5d/0xe0',
    ]);
    expect(r.k.log).toContain(' scsi_error_handler+0x3c1/0x4f0 [scsi_mod]');
    expect(r.k.log.at(-1)).toBe(' </TASK>');
    // Reported again 120 s later, with the time it has been blocked.
    await r.k.loop.advance(120 * NS_PER_S);
    expect(r.k.log).toContain('INFO: task scsi_eh_0:173 blocked for more than 240 seconds.');
    expect(c.completions()).toBe(0);
    expect(r.host.state).toBe('recovery');
    expect(await readAttr(r, '/sys/class/scsi_host/host0/state')).toBe('recovery\n');
  });
});

describe('scsi_eh: the upper-level driver hooks', () => {
  it('eh_reset on entry, eh_action after a successful TUR; the driver may offline the LU', async () => {
    const r = await ehRig();
    const sdev = r.host.devices[0]!;
    const seen: string[] = [];
    r.mod.drivers.push({
      name: 'fakeuld',
      match: () => false,
      probe: async () => 'ok',
      remove: async () => {},
      ehReset: (c) => seen.push(`reset ${hostByte(c.result)}`),
      ehAction: (c, d: EhResult) => {
        seen.push(`action ${d} ${hostByte(c.result)}`);
        c.device.state = 'offline';
        return 'SUCCESS';
      },
    });
    sdev.driver = { name: 'fakeuld' };
    r.st.rule = seq({ kind: 'hang' }, { kind: 'hang' });
    const c = issue(r, { timeout: 5 });
    await runFor(r, 60);
    // First timeout: aborted and retried; second: the EH (DID_TIME_OUT), device reset, TUR, then
    // the driver's verdict. The fake's reset completes the held command with DID_RESET (as QEMU).
    expect(seen).toEqual([`reset ${DID_TIME_OUT}`, 'action SUCCESS 8']);
    expect(c.completions()).toBe(1);
    expect(sdev.state).toBe('offline');
  });
});

describe('SG_SCSI_RESET (scsi_ioctl_reset)', () => {
  it('device reset marks the LU reset; target/bus escalate until one works; NO_ESCALATE stops at the first', async () => {
    const r = await ehRig();
    const sdev = r.host.devices[0]!;
    const who = { comm: 'sg_reset', pid: 321 };
    const d = scsiEhIoctlReset(r.mod, sdev, 1, who);
    await r.k.loop.runUntilIdle();
    expect(await d).toBe(0);
    expect(r.st.calls).toEqual(['device']);
    expect([sdev.wasReset, sdev.expectingCcUa]).toEqual([true, true]);
    r.st.calls.length = 0;
    r.st.handlers.target = 'fail';
    r.st.handlers.bus = 'absent';
    r.st.handlers.host = 'fail';
    const t0 = r.k.loop.now();
    const p = scsiEhIoctlReset(r.mod, sdev, 4, who);
    await r.k.loop.runUntilIdle();
    expect(await p).toBe('EIO');
    expect(r.st.calls).toEqual(['target', 'host']);
    r.st.calls.length = 0;
    r.st.handlers.bus = 'success';
    const q = scsiEhIoctlReset(r.mod, sdev, 4 | 0x100, who);
    await r.k.loop.runUntilIdle();
    expect(await q).toBe('EIO');
    expect(r.st.calls).toEqual(['target']);
    r.st.calls.length = 0;
    const b = scsiEhIoctlReset(r.mod, sdev, 2, who);
    await r.k.loop.runUntilIdle();
    expect(await b).toBe(0);
    // A successful bus reset settles 10 s.
    expect(r.k.loop.now() - t0).toBeGreaterThanOrEqual(10 * NS_PER_S);
    expect(await scsiEhIoctlReset(r.mod, sdev, 9, who)).toBe('EINVAL');
  });

  it('a device reset that never returns: the calling process is reported hung', async () => {
    const r = await ehRig();
    r.st.handlers.device = 'hang';
    void scsiEhIoctlReset(r.mod, r.host.devices[0]!, 1, { comm: 'sg_reset', pid: 321 });
    await r.k.loop.advance(250 * NS_PER_S);
    expect(r.k.log).toContain('INFO: task sg_reset:321 blocked for more than 120 seconds.');
    expect(r.k.log).toContain('task:sg_reset        state:D stack:0     pid:321   ppid:1      flags:0x00000000');
    expect(r.k.log).toContain(' scsi_ioctl_reset+0x1c5/0x2b0 [scsi_mod]');
  });
});

describe('queue_depth', () => {
  it('a command beyond queue_depth waits in the LU queue until one completes', async () => {
    const r = await ehRig();
    const sdev = r.host.devices[0]!;
    sdev.queueDepth = 2;
    r.st.rule = seq({ kind: 'hang' }, { kind: 'hang' });
    const cmds = [issue(r, { timeout: 5 }), issue(r, { timeout: 5 }), issue(r, { timeout: 5 })];
    expect(sdev.deviceBusy).toBe(2);
    expect(scsiWaitingCount(sdev)).toBe(1);
    expect(r.st.cdbs).toHaveLength(2);
    await runFor(r, 30);
    expect(cmds.map((c) => c.completions())).toEqual([1, 1, 1]);
    expect(scsiWaitingCount(sdev)).toBe(0);
    expect(sdev.deviceBusy).toBe(0);
  });
});

// ---- property ----------------------------------------------------------------------------------

const cmdBehaviour: fc.Arbitrary<CmdBehaviour> = fc.oneof(
  fc.constant<CmdBehaviour>({ kind: 'normal' }),
  fc.constant<CmdBehaviour>({ kind: 'hang' }),
  fc.constant<CmdBehaviour>({ kind: 'cc-nosense' }),
  fc.constantFrom<readonly [number, number, number]>([3, 0x11, 0], [2, 4, 2], [6, 0x29, 0], [0xb, 0, 6], [2, 4, 1], [5, 0x20, 0], [4, 0x44, 0]).map((sense): CmdBehaviour => ({ kind: 'cc', sense })),
  fc.constantFrom(0x08, 0x28, 0x18, 0x40).map((status): CmdBehaviour => ({ kind: 'status', status })),
  fc.constantFrom(0x03, 0x07, 0x04, 0x0e, 0x0b).map((hostByte): CmdBehaviour => ({ kind: 'host', hostByte })),
);
const handlerBehaviour: fc.Arbitrary<HandlerBehaviour> = fc.constantFrom('success', 'fail', 'absent');

describe('scsi_eh property', () => {
  it('under random faults the EH always ends (LU running or offline) within bounded virtual time, and every command completes exactly once', async () => {
    // What the runs covered: the property must not hold only because the EH never ran.
    const seen = { ehRan: 0, offline: 0, aborted: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          faults: fc.array(cmdBehaviour, { maxLength: 14 }),
          senseAfter: fc.option(fc.constantFrom<readonly [number, number, number]>([3, 0x11, 0], [0xb, 0, 6]), { nil: undefined }),
          abort: handlerBehaviour,
          device: handlerBehaviour,
          target: handlerBehaviour,
          bus: handlerBehaviour,
          host: handlerBehaviour,
          allowRestart: fc.boolean(),
          commands: fc.integer({ min: 1, max: 4 }),
          timeout: fc.integer({ min: 1, max: 30 }),
          logging: fc.constantFrom(0, 7, 0o7777),
        }),
        async (p) => {
          const r = await ehRig({ params: { 'scsi_mod.scsi_logging_level': String(p.logging) } });
          r.st.rule = (_cdb, n) => p.faults[n] ?? { kind: 'normal' };
          r.st.requestSense = p.senseAfter;
          Object.assign(r.st.handlers, { abort: p.abort, device: p.device, target: p.target, bus: p.bus, host: p.host });
          r.host.devices[0]!.allowRestart = p.allowRestart;
          const t0 = r.k.loop.now();
          const cmds = Array.from({ length: p.commands }, () => issue(r, { timeout: p.timeout }));
          // Bound: each command lives at most (allowed + 1) × timeout, plus one last recovery
          // (TURs of 10 s each, two 10 s settles, the TMFs): 6 × 30 s + 120 s is ample.
          const bound = 6 * p.timeout + 120;
          await r.k.loop.advance(bound * NS_PER_S);
          expect(cmds.map((c) => c.completions())).toEqual(cmds.map(() => 1));
          for (const c of cmds) expect(c.doneAt()! - t0).toBeLessThanOrEqual(bound * NS_PER_S);
          await r.k.loop.runUntilIdle();
          const sdev = r.host.devices[0]!;
          expect(['running', 'offline']).toContain(sdev.state);
          expect(r.host.state).toBe('running');
          expect([r.host.hostBusy, r.host.hostFailed, sdev.deviceBusy]).toEqual([0, 0, 0]);
          expect(r.k.loop.busy).toBe(false);
          expect(r.k.log.some((l) => l.includes('undefined') || l.includes('NaN'))).toBe(false);
          if (scsiEhRuns(r.host) > 0) seen.ehRan++;
          if (sdev.state === 'offline') seen.offline++;
          if (r.st.calls.includes('abort')) seen.aborted++;
        },
      ),
      { numRuns: 150 },
    );
    expect(seen.ehRan).toBeGreaterThan(0);
    expect(seen.offline).toBeGreaterThan(0);
    expect(seen.aborted).toBeGreaterThan(0);
  });
});
