// Ours: the fault rules from the monitor — HMP fault_add / fault_del / info faults, QMP x-fault-add /
// x-fault-del / x-query-faults — and the `vscsi_fault_inject` trace event each injection raises.
import { describe, expect, it } from 'vitest';
import {
  VIRTIO_SCSI_S_FUNCTION_REJECTED,
  VIRTIO_SCSI_S_OK,
  VIRTIO_SCSI_S_TRANSPORT_FAILURE,
  VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET,
} from '../../../src/protocol/virtio_scsi.ts';
import { TraceControl, makeTracer } from '../../../src/host/trace.ts';
import { MiB, bringUp, makeMachine } from './setup.ts';

const ARGS = '-machine pc -drive file=/w/disk.img,if=none,format=raw,id=d0 -device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d0,id=hd0,scsi-id=0,lun=0';
const IMAGES = { '/w/disk.img': 64 * MiB };
const TUR = [0, 0, 0, 0, 0, 0];
// READ(10) of one block at LBA 8
const READ10 = [0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0];

describe('HMP fault_add / fault_del / info faults', () => {
  it('adds rules with increasing ids, lists them with counters, removes one or all', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.hmp('info faults')).toEqual({ output: '', error: false });
    expect(r.mon.hmp('fault_add drive=d0,opcode=0x28,action=busy')).toEqual({ output: 'fault 1 added\n', error: false });
    expect(r.mon.hmp('fault_add target=0,tmf=abort,action=tmf-fail')).toEqual({ output: 'fault 2 added\n', error: false });
    expect(r.mon.hmp('info faults')).toEqual({
      output: '1: drive=d0,opcode=0x28,action=busy (hits 0, fired 0)\n2: target=0,tmf=abort,action=tmf-fail,response=function-rejected (hits 0, fired 0)\n',
      error: false,
    });
    expect(r.mon.hmp('fault_del 1')).toEqual({ output: '', error: false });
    expect(r.mon.hmp('info faults').output).toBe('2: target=0,tmf=abort,action=tmf-fail,response=function-rejected (hits 0, fired 0)\n');
    expect(r.mon.hmp('fault_add event=transport-reset,action=drop-event')).toEqual({ output: 'fault 3 added\n', error: false });
    expect(r.mon.hmp('fault_del all')).toEqual({ output: '', error: false });
    expect(r.mon.hmp('info faults').output).toBe('');
    expect(r.machine.faults.list()).toEqual([]);
  });

  it('refuses a bad rule, a missing argument, an unknown id, and extra words', () => {
    const r = makeMachine(ARGS, IMAGES);
    const bad = r.machine.faults.add('opcode=0x28,action=explode');
    expect('error' in bad).toBe(true);
    const text = (bad as { error: string }).error;
    expect(r.mon.hmp('fault_add opcode=0x28,action=explode')).toEqual({ output: `Error: ${text}\n`, error: true });
    expect(r.mon.hmp('fault_add')).toEqual({ output: 'fault_add: string expected\nTry "help fault_add" for more information\n', error: true });
    expect(r.mon.hmp('fault_add action=busy more')).toEqual({
      output: 'fault_add: extraneous characters at the end of line\nTry "help fault_add" for more information\n',
      error: true,
    });
    expect(r.mon.hmp('fault_del 7')).toEqual({ output: 'Error: Fault rule 7 not found\n', error: true });
    expect(r.mon.hmp('fault_del x')).toEqual({ output: "Error: Parameter 'id' expects a rule number or 'all'\n", error: true });
    expect(r.mon.hmp('fault_del')).toEqual({ output: 'fault_del: string expected\nTry "help fault_del" for more information\n', error: true });
    expect(r.mon.hmp('info faults x')).toEqual({
      output: 'faults: extraneous characters at the end of line\nTry "help info" for more information\n',
      error: true,
    });
    // nothing was added by the failures
    expect(r.machine.faults.list()).toEqual([]);
  });

  it('help lists the commands', () => {
    const r = makeMachine(ARGS, IMAGES);
    const help = r.mon.hmp('help').output;
    expect(help).toContain('fault_add rule -- add a fault rule to the SCSI device models (vscsi, see docs/FAULTS.md)\n');
    expect(help).toContain('fault_del id|all -- remove a fault rule, or all of them (vscsi)\n');
    expect(help).toContain('block_set_io_throttle device bps bps_rd bps_wr iops iops_rd iops_wr -- change I/O throttle limits for a block drive\n');
    // sorted by name, as help_cmd_dump does
    expect(help.indexOf('block_resize')).toBeLessThan(help.indexOf('block_set_io_throttle'));
    expect(help.indexOf('fault_add')).toBeLessThan(help.indexOf('fault_del'));
    expect(r.mon.hmp('help info').output).toContain('info faults  -- show the fault rules of the SCSI device models (vscsi)\n');
  });

  it('a rule added from the monitor reaches the wire, and info faults counts it', async () => {
    const r = makeMachine(ARGS, IMAGES);
    await bringUp(r);
    await r.drv.doCommand(0, 0, TUR); // the power-on UA is not faulted; consume it
    r.mon.hmp('fault_add drive=d0,opcode=0x28,action=response,response=transport-failure,count=1');
    const failed = await r.drv.doCommand(0, 0, READ10, undefined, 512);
    expect(failed?.response).toBe(VIRTIO_SCSI_S_TRANSPORT_FAILURE);
    const ok = await r.drv.doCommand(0, 0, READ10, undefined, 512);
    expect([ok?.response, ok?.status]).toEqual([VIRTIO_SCSI_S_OK, 0]);
    expect(r.mon.hmp('info faults').output).toBe('1: drive=d0,opcode=0x28,action=response,response=transport-failure,count=1 (hits 1, fired 1)\n');
  });
});

describe('QMP x-fault-add / x-fault-del / x-query-faults', () => {
  it('returns the id, lists the rules, deletes by id or all', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.qmp('{"execute": "x-fault-add", "arguments": {"rule": "target=0,action=busy"}}').reply).toBe('{"return": {"id": 1}}');
    expect(r.mon.qmp('{"execute": "x-fault-add", "arguments": {"rule": "lun=0,opcode=0x2a,action=hang"}, "id": "a"}').reply).toBe(
      '{"return": {"id": 2}, "id": "a"}',
    );
    const q = r.mon.qmp('{"execute": "x-query-faults"}').reply;
    expect(JSON.parse(q)).toEqual({
      return: [
        { id: 1, rule: 'target=0,action=busy', hits: 0, fired: 0 },
        { id: 2, rule: 'lun=0,opcode=0x2a,action=hang', hits: 0, fired: 0 },
      ],
    });
    expect(r.mon.qmp('{"execute": "x-fault-del", "arguments": {"id": 1}}').reply).toBe('{"return": {}}');
    expect(JSON.parse(r.mon.qmp('{"execute": "x-query-faults"}').reply).return).toHaveLength(1);
    expect(r.mon.qmp('{"execute": "x-fault-del", "arguments": {"all": true}}').reply).toBe('{"return": {}}');
    expect(r.mon.qmp('{"execute": "x-query-faults"}').reply).toBe('{"return": []}');
  });

  it('errors as GenericError with the rule parser text, or the QAPI visitor text', () => {
    const r = makeMachine(ARGS, IMAGES);
    const text = (r.machine.faults.add('action=nope') as { error: string }).error;
    const err = (desc: string): string => JSON.stringify({ error: { class: 'GenericError', desc } }).replace(/":/g, '": ').replace(/,"/g, ', "');
    expect(r.mon.qmp('{"execute": "x-fault-add", "arguments": {"rule": "action=nope"}}').reply).toBe(err(text));
    expect(r.mon.qmp('{"execute": "x-fault-add"}').reply).toBe(err("Parameter 'rule' is missing"));
    expect(r.mon.qmp('{"execute": "x-fault-add", "arguments": {"rule": 5}}').reply).toBe(err("Invalid parameter type for 'rule', expected: string"));
    expect(r.mon.qmp('{"execute": "x-fault-del", "arguments": {"id": 9}}').reply).toBe(err('Fault rule 9 not found'));
    expect(r.mon.qmp('{"execute": "x-fault-del"}').reply).toBe(err("Need exactly one of 'id' and 'all'"));
    expect(r.mon.qmp('{"execute": "x-fault-del", "arguments": {"id": 1, "all": true}}').reply).toBe(err("Need exactly one of 'id' and 'all'"));
    expect(r.mon.qmp('{"execute": "x-query-faults", "arguments": {"x": 1}}').reply).toBe(err("Parameter 'x' is unexpected"));
  });

  it('human-monitor-command reaches the HMP commands', () => {
    const r = makeMachine(ARGS, IMAGES);
    expect(r.mon.qmp('{"execute": "human-monitor-command", "arguments": {"command-line": "fault_add action=busy"}}').reply).toBe(
      '{"return": "fault 1 added\\n"}',
    );
  });
});

describe('vscsi_fault_inject trace event', () => {
  it('-trace vscsi_* prints one line per injection: rule, kind, target, lun, opcode', async () => {
    const lines: string[] = [];
    const control = new TraceControl();
    expect(control.enableEvents('vscsi_*')).toEqual([]);
    const r = makeMachine(ARGS, IMAGES, { trace: makeTracer(control, (l) => lines.push(l), { now: () => 0 }) });
    await bringUp(r);
    await r.drv.doCommand(0, 0, TUR);
    r.mon.hmp('fault_add target=0,opcode=0x28,action=busy,count=2');
    r.mon.hmp('fault_add target=0,tmf=lun-reset,action=tmf-fail');
    const busy = await r.drv.doCommand(0, 0, READ10, undefined, 512);
    expect(busy?.status).toBe(0x08); // BUSY
    await r.drv.doCommand(0, 0, READ10, undefined, 512);
    await r.drv.doCommand(0, 0, READ10, undefined, 512); // count used up: not faulted, no line
    const tmf = await r.drv.tmf(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0);
    expect(tmf?.response).toBe(VIRTIO_SCSI_S_FUNCTION_REJECTED);
    expect(lines).toEqual([
      'vscsi_fault_inject rule 1 cmd target 0 lun 0 opcode 0x28',
      'vscsi_fault_inject rule 1 cmd target 0 lun 0 opcode 0x28',
      'vscsi_fault_inject rule 2 tmf target 0 lun 0 opcode 0x05',
    ]);
  });

  it('is not printed unless selected', async () => {
    const lines: string[] = [];
    const r = makeMachine(ARGS, IMAGES, { trace: makeTracer(['scsi_req_parsed'], (l) => lines.push(l), { now: () => 0 }) });
    await bringUp(r);
    r.mon.hmp('fault_add opcode=0x00,action=busy');
    await r.drv.doCommand(0, 0, TUR);
    await r.drv.doCommand(0, 0, TUR);
    expect(r.machine.faults.list()[0]?.fired).toBe(1);
    expect(lines.some((l) => l.startsWith('vscsi_'))).toBe(false);
    expect(lines.some((l) => l.startsWith('scsi_req_parsed'))).toBe(true);
  });
});
