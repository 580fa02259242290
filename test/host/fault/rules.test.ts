// The text syntax (parse ↔ format), the rule list API, and seeded probability being reproducible.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatFaultRule, parseFaultRule, type FaultRuleSpec } from '../../../src/host/fault.ts';
import { parseQemuArgs } from '../../../src/host/vl.ts';
import { TUR, clearUa, makeFaultRig } from './setup.ts';

function parsed(text: string): FaultRuleSpec {
  const r = parseFaultRule(text);
  if ('error' in r) throw new Error(r.error);
  return r;
}

describe('fault rule syntax', () => {
  it('reads the documented example', () => {
    expect(parsed('drive=d0,opcode=0x28,lba=65536-65543,action=check,sense=3/11/00,count=1')).toEqual({
      match: { drive: 'd0', opcodes: [0x28], lba: { first: 65536, last: 65543 } },
      action: { kind: 'check-condition', key: 3, asc: 0x11, ascq: 0 },
      count: 1,
    });
    expect(parsed('target=0,tmf=abort:lun-reset,action=tmf-fail').action).toEqual({ kind: 'tmf-fail', response: 11 });
    expect(parsed('opcode=0x2a,dir=write,prob=0.25,action=delay,delay=250ms')).toMatchObject({
      match: { dir: 'out', probability: 0.25 },
      action: { kind: 'delay', ns: 250_000_000 },
    });
  });

  it('gives QEMU-style errors for bad rules', () => {
    expect(parseFaultRule('drive=d0')).toEqual({ error: "Parameter 'action' is missing" });
    expect(parseFaultRule('colour=red,action=busy')).toEqual({ error: "Invalid parameter 'colour'" });
    expect(parseFaultRule('action=check,sense=3/11')).toEqual({ error: "Parameter 'sense' expects KEY/ASC/ASCQ in hex, e.g. 3/11/00" });
    expect(parseFaultRule('action=explode')).toEqual({ error: "Parameter 'action' does not accept value 'explode'" });
    expect(parseFaultRule('opcode=0x28,action=tmf-hang')).toEqual({ error: "Parameter 'opcode' does not apply to action 'tmf-hang'" });
    expect(parseFaultRule('action=busy,delay=1s')).toEqual({ error: "Parameter 'delay' does not apply to action 'busy'" });
    expect(parseFaultRule('lba=9-3,action=busy')).toEqual({ error: "Parameter 'lba' expects a block or a range FIRST-LAST" });
  });

  it('formats every rule back to text that parses to the same rule', () => {
    const texts = [
      'drive=d0,opcode=0x28:0x88,lba=65536-65543,action=check,sense=3/11/00,count=1',
      'dev=hd1,target=1,lun=0,dir=none,every=3,action=busy',
      'action=task-set-full', 'action=reservation-conflict', 'action=status,status=0x30',
      'dir=in,prob=0.5,action=response,response=target-failure', 'action=delay,delay=1500us', 'lba=7,action=hang',
      'tmf=lun-reset,action=tmf-hang', 'tmf=5:1,action=tmf-fail,response=failure',
      'event=transport-reset,action=drop-event,missed=on',
    ];
    for (const t of texts) {
      const r = parsed(t);
      expect(parsed(formatFaultRule(r)), t).toEqual(r);
    }
  });

  it('-fault on the command line: parsed into the MachineSpec, or refused with the option echoed', () => {
    const fs = { probe: () => undefined };
    const ok = parseQemuArgs(['-fault', 'drive=d0,action=busy,count=2'], fs);
    expect('spec' in ok && ok.spec.faults).toEqual([{ match: { drive: 'd0' }, action: { kind: 'status', status: 8 }, count: 2 }]);
    const bad = parseQemuArgs(['-fault', 'action=nope'], fs);
    expect('error' in bad && bad.error).toBe("vscsi: -fault action=nope: Parameter 'action' does not accept value 'nope'");
  });

  it('lists rules with their counters, removes one, clears all', async () => {
    const r = makeFaultRig();
    await clearUa(r);
    r.inj.add('target=1,opcode=0x00,every=2,action=busy');
    r.inj.add('drive=d0,action=hang,count=0');
    for (let i = 0; i < 3; i++) await r.drv.doCommand(1, 0, TUR);
    expect(r.inj.format()).toBe(
      '1: target=1,opcode=0x00,every=2,action=busy (hits 3, fired 1)\n2: drive=d0,action=hang,count=0 (hits 0, fired 0)\n',
    );
    expect(r.inj.remove(1)).toBe(true);
    expect(r.inj.remove(1)).toBe(false);
    expect(r.inj.list().map((x) => x.id)).toEqual([2]);
    r.inj.clear();
    expect(r.inj.format()).toBe('');
  });
});

describe('seeded probability', () => {
  async function pattern(seed: number, extraRuleFirst: boolean): Promise<number[]> {
    const r = makeFaultRig({ seed });
    await clearUa(r);
    if (extraRuleFirst) r.inj.add('target=1,prob=0.5,action=busy'); // another rule's draws must not shift ours
    r.inj.add('target=0,opcode=0x00,prob=0.3,action=busy');
    const out: number[] = [];
    for (let i = 0; i < 40; i++) out.push((await r.drv.doCommand(0, 0, TUR))!.status);
    return out;
  }

  it('the same seed gives the same faults; another seed other faults', async () => {
    const a = await pattern(7, false);
    expect(a.filter((s) => s === 8).length).toBeGreaterThan(0);
    expect(a.filter((s) => s === 0).length).toBeGreaterThan(0);
    expect(await pattern(7, false)).toEqual(a);
    expect(await pattern(7, true)).toEqual(a);
    expect(await pattern(8, false)).not.toEqual(a);
  });

  it('prob=0 never fires and prob=1 always does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffff }), async (seed) => {
        const r = makeFaultRig({ seed });
        await clearUa(r);
        r.inj.add('target=0,prob=0,action=busy');
        r.inj.add('target=1,prob=1,action=busy');
        expect((await r.drv.doCommand(0, 0, TUR))?.status).toBe(0);
        expect((await r.drv.doCommand(1, 0, TUR))?.status).toBe(8);
      }),
      { numRuns: 10 },
    );
  });
});
