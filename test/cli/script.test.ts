import { describe, expect, it } from 'vitest';
import { parseCli } from '../../src/cli/vscsi.ts';
import { classify, jsonLine, splitScript, transcript } from '../../src/cli/script.ts';
import { isIncomplete } from '../../src/shell/sh.ts';

describe('vscsi options', () => {
  it('takes its own options anywhere among QEMU options', () => {
    const r = parseCli(['-m', '512', '--json', '-x', 'lsscsi', '-drive', 'file=a', '-v', '--seed', '7', '-x', '(qemu) info status']);
    expect(r).toEqual({
      ok: true,
      opts: { qemuArgs: ['-m', '512', '-drive', 'file=a'], commands: ['lsscsi', '(qemu) info status'], scriptFile: undefined, json: true, verbose: true, seed: 7 },
    });
    expect(parseCli(['-x'])).toEqual({ ok: false, error: 'vscsi: -x: requires an argument' });
  });
});

describe('scripts', () => {
  it('splits records: comments and blank lines skipped, open compound commands continued', () => {
    const recs = splitScript(
      ['# a comment', '', 'for h in /sys/class/scsi_host/host*; do', '  echo "- - -" > $h/scan', 'done', '(qemu) info status', '(qmp) {"execute":"query-status"}', 'ls \\', '/dev'].join('\n'),
      isIncomplete,
    );
    expect(recs.map((r) => [r.kind, r.text])).toEqual([
      ['guest', 'for h in /sys/class/scsi_host/host*; do\n  echo "- - -" > $h/scan\ndone'],
      ['monitor', '(qemu) info status'],
      ['qmp', '(qmp) {"execute":"query-status"}'],
      ['guest', 'ls \\\n/dev'],
    ]);
    expect(classify('(qemu) device_del hp1').body).toBe('device_del hp1');
  });

  it('renders a transcript after the prompt and JSON lines with cmd verbatim', () => {
    expect(transcript({ cmd: 'ls /x', stdout: '', stderr: "ls: /x: No such file or directory\n", rc: 1 })).toBe('# ls /x\nls: /x: No such file or directory\n');
    expect(transcript({ cmd: '(qemu) info status', stdout: 'VM status: running\r\n', stderr: '', rc: 0 })).toBe('(qemu) info status\nVM status: running\r\n');
    expect(jsonLine({ cmd: '(qemu) q', stdout: '', stderr: '', rc: 0 })).toBe('{"cmd":"(qemu) q","stdout":"","stderr":"","rc":0}');
  });
});
