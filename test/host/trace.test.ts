// Ours: QEMU's -trace selection and "log" backend lines, against the goldens' raw trace lines.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TRACE_EVENTS,
  TraceControl,
  cFormat,
  formatTraceEvent,
  isTraceHelpOption,
  makeTracer,
  missingTraceArgs,
  patternGlob,
  traceEventByName,
  type TraceArgs,
} from '../../src/host/trace.ts';
import { addCd, addHd, rig } from './scsi/setup.ts';
import { makeRig } from './virtio/setup.ts';

/** The `-trace events=` file the goldens were captured with (golden `trace.events_enabled`). */
const GOLDEN_EVENTS = [
  'virtio_scsi_cmd_req', 'virtio_scsi_cmd_resp', 'virtio_scsi_tmf_req', 'virtio_scsi_tmf_resp', 'virtio_scsi_an_req',
  'virtio_scsi_an_resp', 'virtio_scsi_event', 'scsi_req_parsed', 'scsi_req_parsed_lba', 'scsi_req_parse_bad',
  'scsi_req_build_sense', 'scsi_req_cancel', 'scsi_device_set_ua', 'scsi_report_luns', 'scsi_inquiry',
  'scsi_test_unit_ready', 'scsi_request_sense', 'scsi_disk_check_condition', 'scsi_disk_emulate_vpd_page_*',
  'scsi_disk_emulate_mode_sense', 'scsi_disk_emulate_read_toc', 'scsi_disk_emulate_command_*',
  'scsi_disk_dma_command_*', 'scsi_disk_mode_select_*', 'scsi_generic_*',
];

/** Golden `trace.by_phase` lines are `t event args`: drop the time. */
const untimed = (l: string): string => l.slice(l.indexOf(' ') + 1);

describe('pattern matching (g_pattern_match_simple)', () => {
  it('* and ? wildcards', () => {
    expect(patternGlob('scsi_*', 'scsi_req_parsed')).toBe(true);
    expect(patternGlob('scsi_req_parse?', 'scsi_req_parsed')).toBe(true);
    expect(patternGlob('scsi_req_parse?', 'scsi_req_parse_bad')).toBe(false);
    expect(patternGlob('*_resp', 'virtio_scsi_cmd_resp')).toBe(true);
    expect(patternGlob('*_resp', 'virtio_scsi_cmd_req')).toBe(false);
    expect(patternGlob('*', '')).toBe(true);
    expect(patternGlob('a*b*c', 'axxbyyc')).toBe(true);
    expect(patternGlob('a*b*c', 'axxbyy')).toBe(false);
    expect(patternGlob('virtio', 'virtio_notify')).toBe(false);
  });

  it('agrees with a regular-expression reading of the glob', () => {
    const alpha = fc.constantFrom('a', 'b', '_');
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', '_', '*', '?'), { maxLength: 8 }), fc.array(alpha, { maxLength: 10 }), (p, n) => {
        const pat = p.join('');
        const re = new RegExp(`^${pat.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
        expect(patternGlob(pat, n.join(''))).toBe(re.test(n.join('')));
      }),
    );
  });
});

describe('TraceControl (trace_enable_events / trace_init_events)', () => {
  it('a pattern enables every match; a leading - disables', () => {
    const c = new TraceControl();
    c.enableEvents('virtio_scsi_*');
    expect(c.enabledEvents).toEqual([
      'virtio_scsi_cmd_req', 'virtio_scsi_cmd_resp', 'virtio_scsi_tmf_req', 'virtio_scsi_tmf_resp',
      'virtio_scsi_an_req', 'virtio_scsi_an_resp', 'virtio_scsi_event',
    ]);
    c.enableEvents('-virtio_scsi_*_resp');
    expect(c.isEnabled('virtio_scsi_cmd_resp')).toBe(false);
    expect(c.isEnabled('virtio_scsi_cmd_req')).toBe(true);
  });

  it('a plain name that matches nothing is a warning; a pattern that matches nothing is not', () => {
    const c = new TraceControl();
    expect(c.enableEvents('no_such_event')).toEqual(["trace event 'no_such_event' does not exist"]);
    expect(c.enableEvents('-no_such_event')).toEqual(["trace event 'no_such_event' does not exist"]);
    expect(c.enableEvents('nothing_*')).toEqual([]);
    expect(c.enabledEvents).toEqual([]);
  });

  it('a plain name with ? switches only the first event it matches', () => {
    const c = new TraceControl();
    expect(c.enableEvents('scsi_req_???a')).toEqual([]); // not a pattern (no *): first match only
    expect(c.enabledEvents).toEqual(['scsi_req_data']);
  });

  it('events=FILE: comments and empty lines skipped, the last byte of each line dropped, warnings per line', () => {
    const c = new TraceControl();
    const w = c.initEvents('# comment\n\nscsi_inquiry\nbogus\nscsi_report_lunsX');
    expect(c.enabledEvents).toEqual(['scsi_report_luns', 'scsi_inquiry']);
    expect(w).toEqual([{ line: 4, message: "trace event 'bogus' does not exist" }]);
  });

  it('the golden events file enables exactly the events of its traces', () => {
    const c = new TraceControl();
    expect(c.initEvents(GOLDEN_EVENTS.map((l) => `${l}\n`).join(''))).toEqual([]);
    expect(c.isEnabled('scsi_disk_dma_command_READ')).toBe(true);
    expect(c.isEnabled('scsi_disk_emulate_vpd_page_80_not_supported')).toBe(true);
    expect(c.isEnabled('scsi_req_alloc')).toBe(false);
    expect(c.isEnabled('virtqueue_pop')).toBe(false);
  });

  it('help and ? are help options; listEvents names every event once', () => {
    expect(isTraceHelpOption('help')).toBe(true);
    expect(isTraceHelpOption('?')).toBe(true);
    expect(isTraceHelpOption('scsi_*')).toBe(false);
    const names = new TraceControl().listEvents();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('virtio_queue_notify');
  });
});

describe('printf conversions as C does them', () => {
  it('signed/unsigned views of the same bits, widths, zero padding, %p', () => {
    const i32 = (v: number) => ({ bits: 32 as const, v: BigInt.asUintN(32, BigInt(v)) });
    expect(cFormat('%d', [i32(0xc2197610)])).toBe('-1038518768'); // int tag as QEMU prints it
    expect(cFormat('%u', [i32(-1)])).toBe('4294967295');
    expect(cFormat('0x%02x', [i32(6)])).toBe('0x06');
    expect(cFormat('(0x%2.2x)', [i32(0xa)])).toBe('(0x0a)');
    expect(cFormat('%5d|%-5d|', [i32(-3), i32(7)])).toBe('   -3|7    |');
    expect(cFormat('%p %p', [{ bits: 64, v: 0n }, { bits: 64, v: 0x55d5c3a2b8f0n }])).toBe('(nil) 0x55d5c3a2b8f0');
    expect(cFormat('100%% %s', ['done'])).toBe('100% done');
  });
});

/** One golden line per event type, with the arguments in the shape the device models pass them. */
const GOLDEN_CASES: Array<[string, TraceArgs, string]> = [
  ['virtio_scsi_cmd_req', { lun: 0, tag: 0xffff8880c2197610n, cmd: 0x12 }, 'virtio_scsi_cmd_req virtio_scsi_cmd_req lun=0 tag=0xc2197610 cmd=0x12'],
  ['virtio_scsi_cmd_resp', { lun: 0, tag: 0xd2fea390n, response: 0, status: 2 }, 'virtio_scsi_cmd_resp virtio_scsi_cmd_resp lun=0 tag=0xd2fea390 response=0 status=0x2'],
  ['virtio_scsi_tmf_req', { lun: 0, tag: 0n, subtype: 5 }, 'virtio_scsi_tmf_req virtio_scsi_tmf_req lun=0 tag=0x0 subtype=5'],
  ['virtio_scsi_tmf_resp', { lun: 0, tag: 0n, response: 0 }, 'virtio_scsi_tmf_resp virtio_scsi_tmf_resp lun=0 tag=0x0 response=0'],
  ['virtio_scsi_event', { lun: 0, event: 1, reason: 1 }, 'virtio_scsi_event virtio_scsi_event lun=0 event=1 reason=1'],
  ['scsi_req_parsed', { target: 0, lun: 0, tag: 0xc2197610, command: 18, dir: 1, length: 36 }, 'scsi_req_parsed target 0 lun 0 tag -1038518768 command 18 dir 1 length 36'],
  ['scsi_req_parsed_lba', { target: 0, lun: 0, tag: 0xc2197950, command: 18, lba: 65536 }, 'scsi_req_parsed_lba target 0 lun 0 tag -1038517936 command 18 lba 65536'],
  ['scsi_req_build_sense', { target: 0, lun: 0, tag: 0xd2fea390, key: 6, asc: 0x29, ascq: 0 }, 'scsi_req_build_sense target 0 lun 0 tag -755063920 key 0x06 asc 0x29 ascq 0x00'],
  ['scsi_device_set_ua', { target: 0, lun: 0, key: 6, asc: 0x29, ascq: 0 }, 'scsi_device_set_ua target 0 lun 0 key 0x06 asc 0x29 ascq 0x00'],
  ['scsi_report_luns', { target: 0, lun: 0, tag: 0 }, 'scsi_report_luns target 0 lun 0 tag 0'],
  ['scsi_inquiry', { target: 0, lun: 0, tag: 0xc2198990, cdb1: 1, cdb2: 0x83 }, 'scsi_inquiry target 0 lun 0 tag -1038513776 page 0x01/0x83'],
  ['scsi_test_unit_ready', { target: 0, lun: 0, tag: 0xd2fea390 }, 'scsi_test_unit_ready target 0 lun 0 tag -755063920'],
  ['scsi_request_sense', { target: 0, lun: 0, tag: 0 }, 'scsi_request_sense target 0 lun 0 tag 0'],
  ['scsi_disk_check_condition', { tag: 0xd2feb710, key: 5, asc: 0x20, ascq: 0 }, 'scsi_disk_check_condition Command complete tag=0xd2feb710 sense=5/32/0'],
  ['scsi_disk_dma_command_READ', { lba: 0, len: 1 }, 'scsi_disk_dma_command_READ Read (sector 0, count 1)'],
  ['scsi_disk_emulate_command_SAI_16', {}, 'scsi_disk_emulate_command_SAI_16 SAI READ CAPACITY(16)'],
  ['scsi_disk_emulate_command_UNKNOWN', { cmd: 0xa3, name: 'MAINTENANCE_IN' }, 'scsi_disk_emulate_command_UNKNOWN Unknown SCSI command (0xa3=MAINTENANCE_IN)'],
  ['scsi_disk_emulate_mode_sense', { cmd: 6, page: 63, xfer: 4, page_control: 0 }, 'scsi_disk_emulate_mode_sense Mode Sense(6) (page 63, xfer 4, page_control 0)'],
  ['scsi_disk_emulate_read_toc', { start_track: 0, format: 0, msf: 0 }, 'scsi_disk_emulate_read_toc Read TOC (track 0 format 0 msf 0)'],
  ['scsi_disk_emulate_vpd_page_00', { xfer: 4 }, 'scsi_disk_emulate_vpd_page_00 Inquiry EVPD[Supported pages] buffer size 4'],
  ['scsi_disk_emulate_vpd_page_80_not_supported', {}, 'scsi_disk_emulate_vpd_page_80_not_supported Inquiry (EVPD[Serial number] not supported'],
  ['scsi_disk_emulate_vpd_page_83', { xfer: 13 }, 'scsi_disk_emulate_vpd_page_83 Inquiry EVPD[Device identification] buffer size 13'],
];

describe('log backend lines = golden trace lines (time dropped)', () => {
  it.each(GOLDEN_CASES)('%s', (event, args, golden) => {
    expect(formatTraceEvent(event, args)).toBe(golden);
  });

  it('makeTracer: only enabled events, no prefix by default; -msg timestamp=on adds pid@sec.usec:', () => {
    const out: string[] = [];
    let now = 0;
    const clock = { now: () => now };
    const t = makeTracer(['scsi_report_luns'], (l) => out.push(l), clock);
    t('scsi_report_luns', { target: 0, lun: 0, tag: 0 });
    t('scsi_inquiry', { target: 0, lun: 0, tag: 0, cdb1: 0, cdb2: 0 });
    expect(out).toEqual(['scsi_report_luns target 0 lun 0 tag 0']);
    const ts: string[] = [];
    const t2 = makeTracer(['scsi_*'], (l) => ts.push(l), clock, { timestamp: true, pid: 4242, epochNs: 1_700_000_000_000_000_000n });
    now = 13_760_011_500;
    t2('scsi_report_luns', { target: 0, lun: 0, tag: 0 });
    expect(ts).toEqual(['4242@1700000013.760011:scsi_report_luns target 0 lun 0 tag 0']);
  });
});

describe('the device models feed the formatter', () => {
  it('sd probe on scsi-hd replays the golden lines (seed_single_disk, modprobe:sd_mod, golden tags)', () => {
    const r = rig();
    const lines: string[] = [];
    const c = new TraceControl();
    c.initEvents(GOLDEN_EVENTS.map((l) => `${l}\n`).join(''));
    const tracer = makeTracer(c, (l) => lines.push(l), r.loop);
    // Re-point the bus's sink at the tracer (the rig records raw events too).
    r.bus.trace = (e, a) => tracer(e, a);
    addHd(r);
    r.bus.reset();
    lines.length = 0;
    const cdbs: Array<[number[], number, number]> = [
      [[0x00, 0, 0, 0, 0, 0], 0xd2fea390, 0],
      [[0x00, 0, 0, 0, 0, 0], 0xd2fea6d0, 0],
      [[0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0], 0xd2feaa10, 32],
      [[0x1a, 0, 0x3f, 0, 4, 0], 0xd2fead50, 4],
      [[0x1a, 0, 0x08, 0, 4, 0], 0xd2feb090, 4],
      [[0x1a, 0, 0x08, 0, 32, 0], 0xd2feb3d0, 32],
      [[0xa3, 0x0c, 0x01, 0x12, 0, 0, 0, 0, 0, 0x0a, 0, 0], 0xd2feb710, 10],
    ];
    for (const [cdb, tag, dataIn] of cdbs) r.hba.submit(cdb, { tag: BigInt(tag), dataIn });
    r.loop.runUntilIdle();
    // seed_single_disk trace.by_phase["modprobe:sd_mod"], virtio_scsi_* lines left out (no virtio here).
    const golden = [
      '18.589175 scsi_req_parsed target 0 lun 0 tag -755063920 command 0 dir 0 length 0',
      '18.589180 scsi_req_parsed_lba target 0 lun 0 tag -755063920 command 0 lba 0',
      '18.589184 scsi_req_build_sense target 0 lun 0 tag -755063920 key 0x06 asc 0x29 ascq 0x00',
      '18.589188 scsi_test_unit_ready target 0 lun 0 tag -755063920',
      '18.592741 scsi_req_parsed target 0 lun 0 tag -755063088 command 0 dir 0 length 0',
      '18.592746 scsi_req_parsed_lba target 0 lun 0 tag -755063088 command 0 lba 0',
      '18.592752 scsi_test_unit_ready target 0 lun 0 tag -755063088',
      '18.593495 scsi_req_parsed target 0 lun 0 tag -755062256 command 158 dir 1 length 32',
      '18.593499 scsi_req_parsed_lba target 0 lun 0 tag -755062256 command 158 lba 0',
      '18.593507 scsi_disk_emulate_command_SAI_16 SAI READ CAPACITY(16)',
      '18.595984 scsi_req_parsed target 0 lun 0 tag -755061424 command 26 dir 1 length 4',
      '18.595987 scsi_req_parsed_lba target 0 lun 0 tag -755061424 command 26 lba 16128',
      '18.595999 scsi_disk_emulate_mode_sense Mode Sense(6) (page 63, xfer 4, page_control 0)',
      '18.597100 scsi_req_parsed target 0 lun 0 tag -755060592 command 26 dir 1 length 4',
      '18.597103 scsi_req_parsed_lba target 0 lun 0 tag -755060592 command 26 lba 2048',
      '18.597113 scsi_disk_emulate_mode_sense Mode Sense(6) (page 8, xfer 4, page_control 0)',
      '18.597609 scsi_req_parsed target 0 lun 0 tag -755059760 command 26 dir 1 length 32',
      '18.597612 scsi_req_parsed_lba target 0 lun 0 tag -755059760 command 26 lba 2048',
      '18.597621 scsi_disk_emulate_mode_sense Mode Sense(6) (page 8, xfer 32, page_control 0)',
      '18.598842 scsi_req_parsed target 0 lun 0 tag -755058928 command 163 dir 1 length 10',
      '18.598845 scsi_req_parsed_lba target 0 lun 0 tag -755058928 command 163 lba 17956864',
      '18.598853 scsi_disk_emulate_command_UNKNOWN Unknown SCSI command (0xa3=MAINTENANCE_IN)',
      '18.598857 scsi_disk_check_condition Command complete tag=0xd2feb710 sense=5/32/0',
      '18.598861 scsi_req_build_sense target 0 lun 0 tag -755058928 key 0x05 asc 0x20 ascq 0x00',
    ].map(untimed);
    expect(lines).toEqual(golden);
  });

  it('every event the scsi models emit is in the table and formats with all its arguments', () => {
    const r = rig();
    addHd(r);
    addCd(r);
    const cdbs = [
      [0x12, 0, 0, 0, 36, 0], [0x12, 1, 0x00, 0, 36, 0], [0x12, 1, 0x80, 0, 36, 0], [0x12, 1, 0x83, 0, 36, 0],
      [0x12, 1, 0xb0, 0, 64, 0], [0x00, 0, 0, 0, 0, 0], [0x03, 0, 0, 0, 18, 0], [0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0],
      [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0], [0x1a, 0, 0x3f, 0, 4, 0],
      [0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 0x20, 0], [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], [0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0],
      [0x2b, 0, 0, 0, 0, 8, 0, 0, 0, 0], [0x2f, 0, 0, 0, 0, 0, 0, 0, 1, 0], [0xa3, 0x0c, 1, 0x12, 0, 0, 0, 0, 0, 10, 0, 0],
      [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0xff, 0, 0, 0, 0, 0], [],
    ];
    for (const [lun, cdbList] of [[0, cdbs], [1, [[0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0], [0x12, 1, 0xb0, 0, 64, 0], ...cdbs]]] as const) {
      for (const cdb of cdbList) {
        const dataOut = cdb[0] === 0x2a ? new Uint8Array(512) : undefined;
        r.hba.submit([...cdb], { lun, dataIn: dataOut ? 0 : 4096, ...(dataOut ? { dataOut } : {}) });
        r.loop.runUntilIdle();
      }
    }
    expect(r.events.length).toBeGreaterThan(50);
    const problems = r.events
      .map(([e, a]) => ({ e, missing: missingTraceArgs(e, a) }))
      .filter((p) => p.missing.length > 0);
    expect(problems).toEqual([]);
    for (const [e, a] of r.events) expect(formatTraceEvent(e, a)).toMatch(new RegExp(`^${e} `));
  });

  it('virtio models: virtio_scsi_*, virtio_queue_notify, virtio_notify, virtqueue_pop, virtio_set_status format', async () => {
    const { drv, trace } = makeRig({ traced: true });
    drv.init();
    await drv.finish(drv.startCommand(0, 0, [0, 0, 0, 0, 0, 0]));
    const seen = new Set(trace.map((t) => t.event));
    for (const e of ['virtio_scsi_cmd_req', 'virtio_scsi_cmd_resp', 'virtio_queue_notify', 'virtio_notify', 'virtio_set_status']) {
      expect(seen).toContain(e);
    }
    for (const { event, args } of trace) {
      expect(missingTraceArgs(event, args as TraceArgs)).toEqual([]);
      expect(formatTraceEvent(event, args as TraceArgs)).toBeDefined();
    }
    const notify = trace.find((t) => t.event === 'virtio_queue_notify')!;
    expect(formatTraceEvent(notify.event, notify.args as TraceArgs)).toMatch(/^virtio_queue_notify vdev 0x[0-9a-f]+ n \d+ vq 0x[0-9a-f]+$/);
  });
});

describe('the table', () => {
  it('every event parses with as many conversions as parameters', () => {
    for (const ev of TRACE_EVENTS) {
      const convs = ev.fmt.replace(/%%/g, '').match(/%[-0 +#]*\d*(?:\.\d+)?(?:hh|h|ll|l|z)?[diouxXcsp]/g) ?? [];
      expect([ev.name, convs.length]).toEqual([ev.name, ev.params.length]);
    }
    expect(traceEventByName('scsi_req_parsed_lba')?.fmt).toBe('target %d lun %d tag %d command %d lba %lu');
  });
});
