// The scsi-cd tray / lock / medium state machine (CD_TRAY_TABLE in scsi-disk.ts), checked on the wire.
//
// (a) Every row of the table: a fresh machine is driven into a state where that row applies (the path
//     is found by a breadth-first search over the reference model below), then the row's event is sent
//     and the device's answer (status, sense bytes, GESN bytes, DEVICE_TRAY_MOVED) is compared with the row.
// (b) A fast-check property over random sequences of guest commands (through a TestHba on the
//     machine's SCSI bus) and monitor actions (HMP eject / eject -f / change, QMP eject,
//     blockdev-open-tray, blockdev-close-tray, blockdev-change-medium, system_reset): every answer must
//     equal the model's, the device's state must equal the model's, query-block must agree with the
//     device, and the invariants stated in `invariants` must hold after every step.
//
// The reference model applies the table (it is the spec) plus what QEMU 7.2 does around it: the bus's
// UA slot (a UA preempts every command but INQUIRY / REPORT LUNS / GET CONFIGURATION / GESN, is
// replaced only by a more important one, and its report triggers `ua-reported`) and blockdev.c's
// do_open_tray / blockdev-close-tray / blockdev-change-medium sequencing of the BlockDevOps callbacks.
import '../../seed.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SyncFs } from '../../../src/host/block/block-backend.ts';
import { CHECK_CONDITION, GOOD } from '../../../src/host/scsi/scsi.ts';
import { SENSE, uaPrecedence, type ScsiSense } from '../../../src/host/scsi/scsi-sense.ts';
import {
  CD_TRAY_TABLE, GESN_MEDIA, ScsiDisk, TRAY_INITIAL, trayMediaStatus, trayNext, trayRow,
  type TrayEvent, type TrayRow, type TrayState,
} from '../../../src/host/scsi/scsi-disk.ts';
import { TestHba, hex, only } from '../../fakes/test_hba.ts';
import { MiB, makeMachine, type MonRig } from '../monitor/setup.ts';

// ---- the rig ----------------------------------------------------------------------------------------

const ARGS = '-device virtio-scsi-pci,id=scsi0 -drive file=/w/cd.iso,if=none,media=cdrom,id=cd0 -device scsi-cd,drive=cd0,id=cdrom0,scsi-id=0,lun=0';
/** Image index → path; byte 0 of each image is its marker (READ shows which medium is in). */
const IMAGES = ['/w/cd.iso', '/w/a.iso', '/w/b.iso'] as const;
const MARK = (i: number): number => [0x00, 0xa1, 0xb2][i]!;

interface Cd {
  r: MonRig;
  hba: TestHba;
  cd: ScsiDisk;
  /** DEVICE_TRAY_MOVED values a QMP reply carried (QMP drains the machine's events itself). */
  qmpMoves: boolean[];
}

function boot(): Cd {
  const r = makeMachine(ARGS, { '/w/cd.iso': MiB, '/w/a.iso': MiB, '/w/b.iso': MiB });
  for (let i = 1; i < IMAGES.length; i++) {
    const img = new Uint8Array(MiB);
    img[0] = MARK(i);
    r.vol.writeFileSync(IMAGES[i]!, img);
  }
  const cd = [...r.machine.scsi.keys()].find((d): d is ScsiDisk => d instanceof ScsiDisk && d.kind === 'scsi-cd');
  if (!cd) throw new Error('no scsi-cd');
  return { r, hba: new TestHba(r.machine.hbas.get('scsi0.0')!.bus), cd, qmpMoves: [] };
}

/** What one guest command answered: status, sense key/asc/ascq, and its data-in. */
interface Wire {
  status: number;
  sense: string;
  data: string;
}

const TUR = [0x00, 0, 0, 0, 0, 0];
const READ10 = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]; // LBA 0, one 2048-byte block
const GESN = [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0]; // polled, media class, 8 bytes
const startStop = (start: boolean): number[] => [0x1b, 0, 0, 0, 2 | (start ? 1 : 0), 0]; // LoEj
const preventAllow = (prevent: boolean): number[] => [0x1e, 0, 0, 0, prevent ? 1 : 0, 0];

const senseText = (s: ScsiSense): string => `${s.key.toString(16)}/${hex([s.asc])}/${hex([s.ascq])}`;

async function send(c: Cd, cdb: number[]): Promise<Wire> {
  const e = c.hba.submit(cdb, { id: c.cd.id, lun: c.cd.lun });
  await c.r.loop.runUntilIdle();
  const o = only(e);
  if (o.kind !== 'complete') throw new Error(`not completed: ${o.kind}`);
  const sense = o.sense.length ? `${(o.sense[2]! & 0xf).toString(16)}/${hex([o.sense[12]!])}/${hex([o.sense[13]!])}` : '';
  const data = o.status === GOOD ? hex(cdb[0] === 0x28 ? o.data.subarray(0, 1) : o.data.subarray(0, o.data.length - o.resid)) : '';
  return { status: o.status, sense, data };
}

/** DEVICE_TRAY_MOVED events since the last call, as their tray-open values. */
function trayMoves(c: Cd): boolean[] {
  const direct = c.r.machine
    .drainEvents()
    .filter((e) => e.event === 'DEVICE_TRAY_MOVED')
    .map((e) => e.data?.['tray-open'] as boolean);
  return [...c.qmpMoves.splice(0), ...direct];
}

/** A QMP command: whether it failed; its DEVICE_TRAY_MOVED events go to c.qmpMoves. */
function qmp(c: Cd, execute: string, args: Record<string, unknown> = {}): boolean {
  const { reply, events } = c.r.mon.qmp(JSON.stringify({ execute, arguments: args }));
  for (const e of events) {
    const ev = JSON.parse(e) as { event: string; data?: Record<string, unknown> };
    if (ev.event === 'DEVICE_TRAY_MOVED') c.qmpMoves.push(ev.data?.['tray-open'] as boolean);
  }
  return reply.startsWith('{"error"');
}

function queryBlockCd(c: Cd): { locked: boolean; tray_open?: boolean; inserted?: unknown } {
  const { reply, events } = c.r.mon.qmp('{"execute": "query-block"}');
  expect(events, 'no event is pending when query-block runs').toEqual([]);
  const rsp = JSON.parse(reply) as { return: Array<{ device: string; locked: boolean; tray_open?: boolean; inserted?: unknown }> };
  const b = rsp.return.find((x) => x.device === 'cd0');
  if (!b) throw new Error('cd0 not in query-block');
  return b;
}

// ---- the reference model ----------------------------------------------------------------------------

interface Model {
  tray: TrayState;
  /** The image in the drive, or -1. */
  image: number;
  /** The device's pending UA. */
  ua: ScsiSense | null;
  /** DEVICE_TRAY_MOVED values the step should have raised. */
  moves: boolean[];
}

const initial = (): Model => ({ tray: TRAY_INITIAL, image: 0, ua: null, moves: [] });
const clone = (m: Model): Model => ({ ...m, moves: [] });

function setUa(m: Model, s: ScsiSense): void {
  if (!m.ua || uaPrecedence(s) < uaPrecedence(m.ua)) m.ua = s;
}

function fire(m: Model, ev: TrayEvent): TrayRow {
  const row = trayRow(m.tray, m.image >= 0, ev);
  m.tray = trayNext(m.tray, row);
  if (row.ua) setUa(m, row.ua);
  if (row.trayMoved !== undefined) m.moves.push(row.trayMoved);
  return row;
}

type Guest =
  | { g: 'tur' }
  | { g: 'read' }
  | { g: 'start-stop'; start: boolean }
  | { g: 'prevent'; on: boolean }
  | { g: 'gesn' };

type Monitor =
  | { m: 'eject'; force: boolean; via: 'hmp' | 'qmp' }
  | { m: 'open-tray'; force: boolean }
  | { m: 'close-tray' }
  | { m: 'change'; image: number; force: boolean; via: 'hmp' | 'qmp' }
  | { m: 'system-reset' };

/** Direct BlockDevOps callbacks and BlockBackend medium moves: only the table walk uses them. */
type Host =
  | { h: 'change-media'; load: boolean }
  | { h: 'eject-request'; force: boolean }
  | { h: 'remove-medium' }
  | { h: 'insert-medium'; image: number };

type Action = Guest | Monitor | Host;

const good = (data = ''): Wire => ({ status: GOOD, sense: '', data });
const check = (s: ScsiSense): Wire => ({ status: CHECK_CONDITION, sense: senseText(s), data: '' });

/** The guest's command as the model answers it. */
function modelGuest(m: Model, a: Guest): Wire {
  if (a.g !== 'gesn' && m.ua) {
    // scsi_req_new turns the command into a UA report; it does not run.
    const s = m.ua;
    m.ua = null;
    fire(m, 'ua-reported');
    return check(s);
  }
  switch (a.g) {
    case 'tur': {
      const row = fire(m, 'guest-medium-access');
      return row.fail ? check(row.fail) : good();
    }
    case 'read': {
      const row = fire(m, 'guest-medium-access');
      return row.fail ? check(row.fail) : good(hex([MARK(m.image)]));
    }
    case 'start-stop': {
      const row = fire(m, a.start ? 'guest-load' : 'guest-eject');
      return row.fail ? check(row.fail) : good();
    }
    case 'prevent':
      fire(m, a.on ? 'guest-prevent' : 'guest-allow');
      return good();
    case 'gesn': {
      const status = trayMediaStatus(m.tray, m.image >= 0);
      const row = fire(m, 'guest-gesn-media');
      return good(hex([0, 4, 4, 0x10, row.gesn!, status, 0, 0]));
    }
  }
}

/** blockdev.c do_open_tray: 0, or EINPROGRESS when the guest was only asked. */
function modelOpenTray(m: Model, force: boolean): 0 | 'EINPROGRESS' {
  if (m.tray.open) return 0;
  const locked = m.tray.locked;
  if (locked) fire(m, force ? 'host-eject-request-force' : 'host-eject-request');
  if (!locked || force) fire(m, 'host-unload');
  return locked && !force ? 'EINPROGRESS' : 0;
}

/** The monitor action as the model carries it out: whether it reported an error. */
function modelMonitor(m: Model, a: Monitor): boolean {
  switch (a.m) {
    case 'eject':
      if (modelOpenTray(m, a.force)) return true;
      m.image = -1; // blockdev_remove_medium: the tray is open now
      return false;
    case 'open-tray':
      modelOpenTray(m, a.force); // EINPROGRESS is success for QMP
      return false;
    case 'close-tray':
      if (m.tray.open) fire(m, 'host-load');
      return false;
    case 'change':
      if (modelOpenTray(m, a.force)) return true;
      m.image = a.image;
      if (m.tray.open) fire(m, 'host-load');
      return false;
    case 'system-reset':
      setUa(m, SENSE.RESET); // purging the requests, then the tray row
      fire(m, 'reset');
      return false;
  }
}

function modelHost(m: Model, a: Host): void {
  switch (a.h) {
    case 'change-media':
      fire(m, a.load ? 'host-load' : 'host-unload');
      break;
    case 'eject-request':
      fire(m, a.force ? 'host-eject-request-force' : 'host-eject-request');
      break;
    case 'remove-medium':
      m.image = -1;
      break;
    case 'insert-medium':
      m.image = a.image;
      break;
  }
}

// ---- running an action on the machine ---------------------------------------------------------------

function guestCdb(a: Guest): number[] {
  switch (a.g) {
    case 'tur':
      return TUR;
    case 'read':
      return READ10;
    case 'start-stop':
      return startStop(a.start);
    case 'prevent':
      return preventAllow(a.on);
    case 'gesn':
      return GESN;
  }
}

function runMonitor(c: Cd, a: Monitor): boolean {
  const mon = c.r.mon;
  switch (a.m) {
    case 'eject':
      return a.via === 'hmp' ? mon.hmp(`eject ${a.force ? '-f ' : ''}cd0`).error : qmp(c, 'eject', { device: 'cd0', force: a.force });
    case 'open-tray':
      return qmp(c, 'blockdev-open-tray', { id: 'cdrom0', force: a.force });
    case 'close-tray':
      return qmp(c, 'blockdev-close-tray', { id: 'cdrom0' });
    case 'change':
      return a.via === 'hmp'
        ? mon.hmp(`change cd0 ${a.force ? '-f ' : ''}${IMAGES[a.image]!} raw`).error
        : qmp(c, 'blockdev-change-medium', { device: 'cd0', filename: IMAGES[a.image]!, format: 'raw', force: a.force });
    case 'system-reset':
      return mon.hmp('system_reset').error;
  }
}

function runHost(c: Cd, a: Host): void {
  switch (a.h) {
    case 'change-media':
      c.cd.changeMediaCb(a.load);
      break;
    case 'eject-request':
      c.cd.ejectRequestCb(a.force);
      break;
    case 'remove-medium':
      c.cd.blk!.removeMedium();
      break;
    case 'insert-medium':
      expect(c.cd.blk!.insertMedium(c.r.vol as unknown as SyncFs, IMAGES[a.image]!)).toBeNull();
      break;
  }
}

/** Runs `a` on both; the device's answer must be the model's. */
async function step(c: Cd, m: Model, a: Action): Promise<Wire | boolean | null> {
  m.moves = [];
  let got: Wire | boolean | null;
  let want: Wire | boolean | null;
  if ('g' in a) {
    want = modelGuest(m, a);
    got = await send(c, guestCdb(a));
  } else if ('m' in a) {
    want = modelMonitor(m, a);
    got = runMonitor(c, a);
  } else {
    modelHost(m, a);
    runHost(c, a);
    want = got = null;
  }
  expect(got, JSON.stringify(a)).toEqual(want);
  expect(trayMoves(c), `DEVICE_TRAY_MOVED after ${JSON.stringify(a)}`).toEqual(m.moves);
  sameState(c, m);
  return got;
}

function sameState(c: Cd, m: Model): void {
  expect(c.cd.tray).toEqual(m.tray);
  expect(c.cd.blk!.inserted).toBe(m.image >= 0);
  expect(c.cd.unitAttention).toEqual(m.ua ?? SENSE.NO_SENSE);
  // query-block reports what the device says
  const q = queryBlockCd(c);
  expect([q.tray_open, q.locked, q.inserted !== undefined]).toEqual([c.cd.trayOpen, c.cd.trayLocked, c.cd.blk!.inserted]);
}

/** Clears the boot-time UA (if any) so runs start from the model's initial state. */
async function settle(c: Cd): Promise<void> {
  for (let i = 0; i < 4 && (await send(c, TUR)).status !== GOOD; i++);
  c.r.machine.drainEvents();
}

// ---- (a) every row of the table ---------------------------------------------------------------------

/** The table as text, to be read against QEMU 7.2 scsi-disk.c; a change to the table shows up here. */
const TABLE_TEXT = [
  'guest-eject {"open":false,"locked":true,"inserted":true} → {} fail 5/53/02',
  'guest-eject {"open":false,"locked":true,"inserted":false} → {} fail 2/53/02',
  'guest-eject {"open":false} → {"open":true} moved open',
  'guest-eject {"open":true} → {}',
  'guest-load {"open":true} → {"open":false} moved closed',
  'guest-load {"open":false} → {}',
  'guest-prevent {} → {"locked":true}',
  'guest-allow {} → {"locked":false}',
  'guest-medium-access {"open":true} → {} fail 2/3a/00',
  'guest-medium-access {"inserted":false} → {} fail 2/3a/00',
  'guest-medium-access {} → {}',
  'guest-gesn-media {"open":true} → {} gesn 0',
  'guest-gesn-media {"mediaEvent":true} → {"mediaEvent":false} gesn 2',
  'guest-gesn-media {"ejectRequest":true} → {"ejectRequest":false} gesn 1',
  'guest-gesn-media {} → {} gesn 0',
  'ua-reported {"mediaChanged":true} → {"mediaChanged":false} ua 6/28/00',
  'ua-reported {} → {}',
  'host-unload {"open":false} → {"open":true,"mediaChanged":false,"mediaEvent":true,"ejectRequest":false} ua 6/3a/00 moved open',
  'host-unload {"open":true} → {"mediaChanged":false,"mediaEvent":true,"ejectRequest":false} ua 6/3a/00',
  'host-load {"open":true} → {"open":false,"mediaChanged":true,"mediaEvent":true,"ejectRequest":false} ua 6/3a/00 moved closed',
  'host-load {"open":false} → {"mediaChanged":true,"mediaEvent":true,"ejectRequest":false} ua 6/3a/00',
  'host-eject-request {} → {"ejectRequest":true}',
  'host-eject-request-force {} → {"ejectRequest":true,"locked":false}',
  'reset {} → {"open":false,"locked":false}',
];

function rowText(r: TrayRow): string {
  const parts = [r.on, JSON.stringify(r.when), '→', JSON.stringify(r.next)];
  if (r.fail) parts.push(`fail ${senseText(r.fail)}`);
  if (r.ua) parts.push(`ua ${senseText(r.ua)}`);
  if (r.gesn !== undefined) parts.push(`gesn ${r.gesn}`);
  if (r.trayMoved !== undefined) parts.push(`moved ${r.trayMoved ? 'open' : 'closed'}`);
  return parts.join(' ');
}

/** The actions the table walk may use to reach a row's state. */
const REACH: readonly Action[] = [
  { g: 'tur' }, { g: 'gesn' }, { g: 'start-stop', start: false }, { g: 'start-stop', start: true },
  { g: 'prevent', on: true }, { g: 'prevent', on: false },
  { h: 'change-media', load: false }, { h: 'change-media', load: true },
  { h: 'eject-request', force: false }, { h: 'remove-medium' }, { h: 'insert-medium', image: 1 },
];

function applies(m: Model, row: TrayRow): boolean {
  // a guest command meets a pending UA first, so only `ua-reported` wants one
  const uaOk = row.on === 'ua-reported' ? m.ua !== null : m.ua === null;
  return uaOk && trayRow(m.tray, m.image >= 0, row.on) === row;
}

/** Shortest action sequence from the initial state to one where `row` applies (BFS over the model). */
function pathTo(row: TrayRow): Action[] {
  const key = (m: Model): string => JSON.stringify([m.tray, m.image, m.ua]);
  const seen = new Set<string>();
  let frontier: Array<[Model, Action[]]> = [[initial(), []]];
  for (let depth = 0; depth < 10; depth++) {
    const next: Array<[Model, Action[]]> = [];
    for (const [m, path] of frontier) {
      if (applies(m, row)) return path;
      for (const a of REACH) {
        if ('h' in a && (a.h === 'remove-medium' || a.h === 'insert-medium')) {
          // the block layer moves media only with the tray open
          if (!m.tray.open || (a.h === 'remove-medium') !== m.image >= 0) continue;
        }
        const n = clone(m);
        if ('g' in a) modelGuest(n, a);
        else if ('h' in a) modelHost(n, a);
        if (!seen.has(key(n))) {
          seen.add(key(n));
          next.push([n, [...path, a]]);
        }
      }
    }
    frontier = next;
  }
  throw new Error(`no path to ${rowText(row)}`);
}

/** The wire (or host) stimulus of a row's event, and the answer the row promises. */
async function fireRow(c: Cd, m: Model, row: TrayRow): Promise<void> {
  const before = m.tray;
  const pendingUa = m.ua;
  const inserted = m.image >= 0;
  const cdbOf: Partial<Record<TrayEvent, number[]>> = {
    'guest-eject': startStop(false), 'guest-load': startStop(true), 'guest-prevent': preventAllow(true),
    'guest-allow': preventAllow(false), 'guest-medium-access': TUR, 'guest-gesn-media': GESN, 'ua-reported': TUR,
  };
  const cdb = cdbOf[row.on];
  if (cdb) {
    const w = await send(c, cdb);
    if (row.on === 'ua-reported') expect(w).toEqual(check(pendingUa!));
    else if (row.on === 'guest-gesn-media') expect(w).toEqual(good(hex([0, 4, 4, 0x10, row.gesn!, trayMediaStatus(before, inserted), 0, 0])));
    else expect(w).toEqual(row.fail ? check(row.fail) : good());
  } else if (row.on === 'reset') {
    c.cd.reset();
  } else {
    runHost(c, row.on.startsWith('host-eject-request')
      ? { h: 'eject-request', force: row.on === 'host-eject-request-force' }
      : { h: 'change-media', load: row.on === 'host-load' });
  }
  expect(trayMoves(c)).toEqual(row.trayMoved === undefined ? [] : [row.trayMoved]);
  expect(c.cd.tray).toEqual(trayNext(before, row));
  // the UA the row raises is what the guest hears next (none was pending before, but for ua-reported)
  if (row.ua) expect(await send(c, TUR)).toEqual(check(row.on === 'ua-reported' ? row.ua : (pendingUa ?? row.ua)));
  if (row.on === 'reset') expect(await send(c, TUR)).toEqual(check(SENSE.RESET));
}

describe('CD_TRAY_TABLE', () => {
  it('reads as QEMU 7.2 behaves (one line per row)', () => {
    expect(CD_TRAY_TABLE.map(rowText)).toEqual(TABLE_TEXT);
  });

  it('every event has a catch-all, so the table is total; no row is shadowed by the rows above it', () => {
    const events = new Set(CD_TRAY_TABLE.map((r) => r.on));
    const bools = [false, true];
    for (const ev of events) {
      const used = new Set<TrayRow>();
      for (const open of bools) for (const locked of bools) for (const mediaChanged of bools) for (const mediaEvent of bools)
        for (const ejectRequest of bools) for (const inserted of bools) {
          used.add(trayRow({ open, locked, mediaChanged, mediaEvent, ejectRequest }, inserted, ev));
        }
      expect(used.size, ev).toBe(CD_TRAY_TABLE.filter((r) => r.on === ev).length);
    }
  });

  for (const [i, row] of CD_TRAY_TABLE.entries()) {
    it(`row ${i}: ${rowText(row)} — ${row.note}`, async () => {
      const c = boot();
      await settle(c);
      const m = initial();
      sameState(c, m);
      for (const a of pathTo(row)) await step(c, m, a);
      await fireRow(c, m, row);
    });
  }
});

// ---- (b) random guest and monitor sequences ---------------------------------------------------------

const guestArb: fc.Arbitrary<Guest> = fc.oneof(
  fc.constant<Guest>({ g: 'tur' }),
  fc.constant<Guest>({ g: 'read' }),
  fc.constant<Guest>({ g: 'gesn' }),
  fc.boolean().map((start): Guest => ({ g: 'start-stop', start })),
  fc.boolean().map((on): Guest => ({ g: 'prevent', on })),
);
const via = fc.constantFrom<'hmp' | 'qmp'>('hmp', 'qmp');
const monitorArb: fc.Arbitrary<Monitor> = fc.oneof(
  fc.record({ m: fc.constant('eject' as const), force: fc.boolean(), via }),
  fc.record({ m: fc.constant('open-tray' as const), force: fc.boolean() }),
  fc.constant<Monitor>({ m: 'close-tray' }),
  fc.record({ m: fc.constant('change' as const), image: fc.integer({ min: 1, max: 2 }), force: fc.boolean(), via }),
  { arbitrary: fc.constant<Monitor>({ m: 'system-reset' }), weight: 1 },
);
const actionArb: fc.Arbitrary<Action> = fc.oneof({ arbitrary: guestArb, weight: 3 }, { arbitrary: monitorArb, weight: 2 });

/**
 * Runs `actions` and checks, after each, the model agreement (in `step`) and these invariants, which
 * are stated without the table:
 * - a guest command never reads the medium, and TEST UNIT READY never says GOOD, while the tray is open
 *   (the answer is the pending UA or 2/3A/00);
 * - START STOP UNIT LoEj=1 Start=0 on a locked, closed tray fails 5/53/02 (2/53/02 when empty) and
 *   nothing moves;
 * - a non-forced eject / open-tray / change of a locked, closed tray leaves the medium in and the
 *   tray closed, and the guest's GESN polls then report the eject request;
 * - after a change that closes the tray, with no UA pending before it, TEST UNIT READY says 6/3A/00,
 *   then 6/28/00 exactly once, then GOOD.
 */
async function runSequence(actions: readonly Action[]): Promise<void> {
  const c = boot();
  await settle(c);
  const m = initial();
  sameState(c, m);
  for (const a of actions) {
    const wasOpen = c.cd.trayOpen;
    const wasLocked = c.cd.trayLocked;
    const wasImage = m.image;
    const hadUa = m.ua !== null;
    const got = await step(c, m, a);
    if ('g' in a && wasOpen && a.g !== 'gesn' && a.g !== 'start-stop' && a.g !== 'prevent') {
      const w = got as Wire;
      expect(w.status, 'medium readable with the tray open').toBe(CHECK_CONDITION);
      expect(w.sense === '2/3a/00' || w.sense.startsWith('6/'), w.sense).toBe(true);
    }
    if ('g' in a && a.g === 'start-stop' && !a.start && wasLocked && !wasOpen && !hadUa) {
      expect((got as Wire).sense).toBe(wasImage >= 0 ? '5/53/02' : '2/53/02');
      expect([c.cd.trayOpen, c.cd.trayLocked, m.image]).toEqual([false, true, wasImage]);
    }
    const plainEject = 'm' in a && (a.m === 'eject' || a.m === 'open-tray' || a.m === 'change') && !a.force;
    if (plainEject && wasLocked && !wasOpen) {
      expect(got, 'a locked eject is refused (QMP open-tray reports success)').toBe(a.m !== 'open-tray');
      expect([c.cd.trayOpen, c.cd.blk!.inserted, m.image]).toEqual([false, wasImage >= 0, wasImage]);
      const events: number[] = [];
      for (let i = 0; i < 3; i++) events.push(Number((await step(c, m, { g: 'gesn' }) as Wire).data.split(' ')[4]));
      expect(events, 'GESN reports the eject request').toContain(GESN_MEDIA.EJECT_REQUEST);
    }
    if ('m' in a && a.m === 'change' && got === false && !c.cd.trayOpen && !hadUa) {
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        const w = (await step(c, m, { g: 'tur' })) as Wire;
        seen.push(w.status === GOOD ? 'GOOD' : w.sense);
        if (w.status === GOOD) break;
      }
      expect(seen).toEqual(['6/3a/00', '6/28/00', 'GOOD']);
    }
  }
}

describe('scsi-cd tray: random guest and monitor sequences', () => {
  it('the device, the model, query-block and the invariants agree after every step', async () => {
    await fc.assert(fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 40 }), runSequence));
  });

  // QEMU 7.2 behaviour the property met, pinned so that a change to it is noticed.
  it('a second change before the guest saw the first 28/00: the 28/00 outranks 3A/00, so it comes twice', async () => {
    const c = boot();
    await settle(c);
    const m = initial();
    await step(c, m, { m: 'change', image: 1, force: false, via: 'hmp' });
    expect(await step(c, m, { g: 'tur' })).toEqual(check(SENSE.UNIT_ATTENTION_NO_MEDIUM));
    // 28/00 is pending now; the next change's 3A/00 cannot replace it (scsi_device_set_ua precedence)
    await step(c, m, { m: 'change', image: 2, force: false, via: 'qmp' });
    expect(await step(c, m, { g: 'tur' })).toEqual(check(SENSE.MEDIUM_CHANGED));
    expect(await step(c, m, { g: 'tur' })).toEqual(check(SENSE.MEDIUM_CHANGED));
    expect(await step(c, m, { g: 'read' })).toEqual(good(hex([MARK(2)])));
  });

  it('a locked tray the guest opened itself: a plain eject takes the medium (the lock guards only a closed tray)', async () => {
    const c = boot();
    await settle(c);
    const m = initial();
    await step(c, m, { g: 'start-stop', start: false });
    await step(c, m, { g: 'prevent', on: true });
    expect(await step(c, m, { m: 'eject', force: false, via: 'hmp' })).toBe(false);
    expect([c.cd.trayOpen, c.cd.trayLocked, c.cd.blk!.inserted]).toEqual([true, true, false]);
    // LoEj load while locked closes the tray (QEMU checks the lock only when ejecting)
    expect(await step(c, m, { g: 'start-stop', start: true })).toEqual(good());
    expect(await step(c, m, { g: 'tur' })).toEqual(check(SENSE.NO_MEDIUM));
  });
});
