// QMP hot-plug and hot-unplug of a scsi-hd on a blockdev-add node, replayed from the hotplug_event
// golden (QEMU 7.2.22): replies byte for byte, the virtio-scsi events the guest driver receives, the
// DEVICE_DELETED event, BAD_TARGET once the LU is gone, EVENTS_MISSED without event buffers.
import { describe, expect, it } from 'vitest';
import { VIRTIO_SCSI_S_BAD_TARGET, VIRTIO_SCSI_S_OK } from '../../../src/protocol/virtio_scsi.ts';
import { MiB, bringUp, makeMachine, readEvents, untimed } from './setup.ts';

const ARGS =
  '-machine pc -m 512 -smp 2 -drive file=/w/disk0.img,if=none,format=raw,id=d0 -device virtio-scsi-pci,id=scsi0 ' +
  '-device scsi-hd,drive=d0,scsi-id=0,lun=0';
const IMAGES = { '/w/disk0.img': 64 * MiB, '/w/hp1.img': 32 * MiB };

const BLOCKDEV_ADD =
  '{"execute": "blockdev-add", "arguments": {"driver": "raw", "node-name": "hpd1", "file": {"driver": "file", "filename": "/w/hp1.img"}}}';
const DEVICE_ADD =
  '{"execute": "device_add", "arguments": {"driver": "scsi-hd", "drive": "hpd1", "id": "hp1", "scsi-id": 1, "lun": 0}}';

// query-block as QEMU 7.2 answered it after the plug (golden qmp_log, {W} = /w). Two values differ by
// nature and are normalised: the automatic node name of d0 (QEMU's global id counter) and actual-size
// (allocated blocks of the host file).
const GOLDEN_QUERY_BLOCK =
  '{"return": [{"io-status": "ok", "device": "d0", "locked": false, "removable": false, "inserted": {"iops_rd": 0, "detect_zeroes": "off", "image": {"virtual-size": 67108864, "filename": "/w/disk0.img", "format": "raw", "actual-size": 0, "dirty-flag": false}, "iops_wr": 0, "ro": false, "node-name": "#block106", "backing_file_depth": 0, "drv": "raw", "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false, "bps": 0, "bps_rd": 0, "cache": {"no-flush": false, "direct": false, "writeback": true}, "file": "/w/disk0.img"}, "qdev": "/machine/peripheral-anon/device[0]", "type": "unknown"}, {"device": "floppy0", "locked": false, "removable": true, "qdev": "/machine/unattached/device[18]", "type": "unknown"}, {"device": "sd0", "locked": false, "removable": true, "type": "unknown"}, {"io-status": "ok", "device": "", "locked": false, "removable": false, "inserted": {"iops_rd": 0, "detect_zeroes": "off", "image": {"virtual-size": 33554432, "filename": "/w/hp1.img", "format": "raw", "actual-size": 0, "dirty-flag": false}, "iops_wr": 0, "ro": false, "node-name": "hpd1", "backing_file_depth": 0, "drv": "raw", "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false, "bps": 0, "bps_rd": 0, "cache": {"no-flush": false, "direct": false, "writeback": true}, "file": "/w/hp1.img"}, "qdev": "hp1", "type": "unknown"}]}';

const normalise = (s: string): string => s.replace(/"#block\d+"/g, '"#blockN"').replace(/"actual-size": \d+/g, '"actual-size": 0');

const INQUIRY = [0x12, 0, 0, 0, 36, 0];

describe('QMP hot-plug (hotplug_event golden)', () => {
  it('blockdev-add + device_add: replies, RESCAN event for 1:0, query-block as QEMU printed it', async () => {
    const r = makeMachine(ARGS, IMAGES);
    const bufs = await bringUp(r);
    expect(r.mon.qmp(BLOCKDEV_ADD)).toEqual({ reply: '{"return": {}}', events: [] });
    expect(r.mon.qmp(DEVICE_ADD)).toEqual({ reply: '{"return": {}}', events: [] });
    await r.loop.runUntilIdle();
    // event 1 = TRANSPORT_RESET, reason 1 = RESCAN, for target 1 LUN 0
    expect(readEvents(r, bufs)).toEqual([{ event: 1, target: 1, lun: 0, reason: 1 }]);
    const qb = r.mon.qmp('{"execute": "query-block"}');
    expect(normalise(qb.reply)).toBe(normalise(GOLDEN_QUERY_BLOCK));
    // The new LU answers; its first command other than INQUIRY gets the power-on UA 29/00.
    const inq = await r.drv.doCommand(1, 0, INQUIRY, undefined, 36);
    expect(inq?.response).toBe(VIRTIO_SCSI_S_OK);
    expect(inq?.status).toBe(0);
    // no device_id: the node has no BlockBackend name, so VPD 0x83 is empty
    const pg83 = await r.drv.doCommand(1, 0, [0x12, 1, 0x83, 0, 255, 0], undefined, 255);
    expect([...pg83!.dataIn.subarray(0, 4)]).toEqual([0x00, 0x83, 0x00, 0x00]);
  });

  it('device_del: REMOVED event, DEVICE_DELETED with device and path, then BAD_TARGET; blockdev-del frees the node', async () => {
    const r = makeMachine(ARGS, IMAGES);
    const bufs = await bringUp(r);
    r.mon.qmp(BLOCKDEV_ADD);
    r.mon.qmp(DEVICE_ADD);
    await r.loop.runUntilIdle();
    readEvents(r, bufs);
    // in use: refused
    expect(r.mon.qmp('{"execute": "blockdev-del", "arguments": {"node-name": "hpd1"}}').reply).toBe(
      '{"error": {"class": "GenericError", "desc": "Node hpd1 is in use"}}',
    );
    const del = r.mon.qmp('{"execute": "device_del", "arguments": {"id": "hp1"}}');
    expect(del.reply).toBe('{"return": {}}');
    // golden: {"event": "DEVICE_DELETED", "data": {"device": "hp1", "path": "/machine/peripheral/hp1"}}
    expect(untimed(del.events)).toEqual(['{"event": "DEVICE_DELETED", "data": {"device": "hp1", "path": "/machine/peripheral/hp1"}}']);
    expect(del.events[0]).toMatch(/^\{"timestamp": \{"seconds": \d+, "microseconds": \d+\}, "event"/);
    await r.loop.runUntilIdle();
    // reason 2 = REMOVED
    expect(readEvents(r, bufs)).toEqual([{ event: 1, target: 1, lun: 0, reason: 2 }]);
    const after = await r.drv.doCommand(1, 0, INQUIRY, undefined, 36);
    expect(after?.response).toBe(VIRTIO_SCSI_S_BAD_TARGET);
    expect(r.mon.qmp('{"execute": "blockdev-del", "arguments": {"node-name": "hpd1"}}').reply).toBe('{"return": {}}');
    expect(r.mon.qmp('{"execute": "blockdev-del", "arguments": {"node-name": "hpd1"}}').reply).toBe(
      '{"error": {"class": "GenericError", "desc": "Failed to find node with node-name=\'hpd1\'"}}',
    );
    // and the id is free again
    expect(r.mon.qmp('{"execute": "device_del", "arguments": {"id": "hp1"}}').reply).toBe(
      '{"error": {"class": "DeviceNotFound", "desc": "Device \'hp1\' not found"}}',
    );
  });

  it('without posted event buffers the next event carries EVENTS_MISSED', async () => {
    const r = makeMachine(ARGS, IMAGES);
    await bringUp(r, 0);
    r.mon.qmp(BLOCKDEV_ADD);
    r.mon.qmp(DEVICE_ADD);
    await r.loop.runUntilIdle();
    const bufs = r.drv.postEventBuffers(1);
    await r.loop.runUntilIdle();
    // VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED
    expect(readEvents(r, bufs)).toEqual([{ event: 0x80000000, target: 0, lun: 0, reason: 0 }]);
  });

  it('device_add errors come back as GenericError with QEMU\'s texts', () => {
    const r = makeMachine(ARGS, IMAGES);
    const add = (args: string): string => r.mon.qmp(`{"execute": "device_add", "arguments": ${args}}`).reply;
    expect(add('{"driver": "scsi-hd", "drive": "nope"}')).toBe(
      '{"error": {"class": "GenericError", "desc": "Property \'scsi-hd.drive\' can\'t find value \'nope\'"}}',
    );
    expect(add('{"driver": "scsi-hd", "drive": "d0"}')).toBe(
      '{"error": {"class": "GenericError", "desc": "Drive \'d0\' is already in use by another device"}}',
    );
    expect(add('{"drive": "d0"}')).toBe('{"error": {"class": "GenericError", "desc": "Parameter \'driver\' is missing"}}');
    expect(r.mon.qmp('{"execute": "nope"}').reply).toBe('{"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}');
    expect(r.mon.qmp('{"execute": "device_del", "arguments": {"id": 3}}').reply).toBe(
      '{"error": {"class": "GenericError", "desc": "Invalid parameter type for \'id\', expected: string"}}',
    );
    expect(r.mon.qmp('[1]').reply).toBe('{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}');
    expect(r.mon.qmp('{"execute": "stop", "id": 7}').reply).toBe('{"return": {}, "id": 7}');
  });
});

describe('HMP view of a blockdev-add node', () => {
  it('info block names an anonymous BlockBackend by its node name', () => {
    const r = makeMachine(ARGS, IMAGES);
    r.mon.qmp(BLOCKDEV_ADD);
    r.mon.qmp(DEVICE_ADD);
    const out = r.mon.hmp('info block').output.split('\n\n');
    expect(out[3]).toBe('hpd1: /w/hp1.img (raw)\n    Attached to:      hp1\n    Cache mode:       writeback\n');
    expect(out[1]).toBe('floppy0: [not inserted]\n    Attached to:      /machine/unattached/device[18]\n    Removable device: not locked, tray closed');
  });
});
