// The QMP JSON writer: QDict member order (hash buckets, newest first within a bucket) and escapes,
// checked against member orders seen on the wire in the goldens.
import '../../seed.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEvent, qdictOrder, qmpToJson } from '../../../src/host/monitor/qmp.ts';

describe('qmpToJson', () => {
  it('orders members as QEMU 7.2 wrote them (goldens: query-block, query-status, events)', () => {
    // BlockInfo members in QAPI order → as hotplug_event's query-block reply shows them
    expect(qdictOrder(['device', 'qdev', 'type', 'removable', 'locked', 'inserted', 'io-status'])).toEqual([
      'io-status', 'device', 'locked', 'removable', 'inserted', 'qdev', 'type',
    ]);
    // StatusInfo: `status` and `singlestep` share a bucket; the later one (status) comes first
    expect(qdictOrder(['running', 'singlestep', 'status'])).toEqual(['status', 'singlestep', 'running']);
    // BLOCK_IO_ERROR data (error_injection)
    expect(qdictOrder(['device', 'node-name', 'operation', 'action', 'nospace', 'reason'])).toEqual([
      'device', 'nospace', 'node-name', 'reason', 'operation', 'action',
    ]);
    expect(qdictOrder(['writeback', 'direct', 'no-flush'])).toEqual(['no-flush', 'direct', 'writeback']);
    expect(qdictOrder(['filename', 'format', 'dirty-flag', 'actual-size', 'virtual-size'])).toEqual([
      'virtual-size', 'filename', 'format', 'actual-size', 'dirty-flag',
    ]);
  });

  it('writes events with the virtual clock', () => {
    // 45.441 s of virtual time (+ an epoch offset) → seconds and microseconds
    expect(formatEvent({ ns: 45_441_000_123, event: 'STOP' }, 1_795_645_545_000_000_000)).toBe(
      '{"timestamp": {"seconds": 1795645590, "microseconds": 441000}, "event": "STOP"}',
    );
    expect(formatEvent({ ns: 0, event: 'DEVICE_DELETED', data: { device: 'hp1', path: '/machine/peripheral/hp1' } })).toBe(
      '{"timestamp": {"seconds": 0, "microseconds": 0}, "event": "DEVICE_DELETED", "data": {"device": "hp1", "path": "/machine/peripheral/hp1"}}',
    );
  });

  it('escapes like json-writer.c', () => {
    expect(qmpToJson('a"b\\c\n\u0001é')).toBe('"a\\"b\\\\c\\n\\u0001\\u00e9"');
    expect(qmpToJson({ return: {} })).toBe('{"return": {}}');
    expect(qmpToJson([1, true, null])).toBe('[1, true, null]');
  });

  it('always writes JSON that parses back to the same value', () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(fc.property(value, (v) => {
      expect(JSON.parse(qmpToJson(v))).toEqual(v);
    }));
  });
});
