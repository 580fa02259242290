// CONTRACT.md: a guest line blocked by a paused VM stays pending while later lines run, and its record
// is printed when it completes — here a write that werror=stop holds until the monitor's `cont`.
import { mkdtempSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/vscsi.ts';

function sink(): { write: (s: string) => boolean; text: () => string } {
  let buf = '';
  return {
    write: (s: string) => {
      buf += s;
      return true;
    },
    text: () => buf,
  };
}

describe('a line blocked by a paused VM', () => {
  it('lets the monitor lines run and is printed once cont lets it finish', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vscsi-pending-'));
    writeFileSync(join(dir, 'disk.img'), '');
    truncateSync(join(dir, 'disk.img'), 8 << 20);
    writeFileSync(join(dir, 'blk.conf'), '[inject-error]\nevent = "write_aio"\nerrno = "5"\nonce = "on"\n');
    writeFileSync(
      join(dir, 'run.vsh'),
      ['echo hello | dd of=/dev/sda bs=512 count=1 conv=sync oflag=direct', '(qemu) info status', '(qemu) cont', 'dd if=/dev/sda bs=5 count=1 2>/dev/null'].join('\n'),
    );
    const out = sink();
    const err = sink();
    const rc = await main(
      [
        '--json', '-drive', `file=blkdebug:${dir}/blk.conf:${dir}/disk.img,if=none,format=raw,id=d0,werror=stop`,
        '-device', 'virtio-scsi-pci', '-device', 'scsi-hd,drive=d0', '--script', join(dir, 'run.vsh'),
      ],
      { stdout: out, stderr: err, stdin: process.stdin } as unknown as Parameters<typeof main>[1],
    );
    expect(rc).toBe(0);
    const recs = out.text().trimEnd().split('\n').map((l) => JSON.parse(l) as { cmd: string; stdout: string; stderr: string; rc: number });
    expect(recs.map((r) => r.cmd)).toEqual([
      '(qemu) info status',
      '(qemu) cont',
      'echo hello | dd of=/dev/sda bs=512 count=1 conv=sync oflag=direct',
      'dd if=/dev/sda bs=5 count=1 2>/dev/null',
    ]);
    expect(recs[0]!.stdout).toBe('VM status: paused (io-error)\n');
    // The held write was re-executed by cont: acknowledged, and on the disk.
    expect([recs[2]!.stderr, recs[2]!.rc]).toEqual(['0+1 records in\n1+0 records out\n', 0]);
    expect(recs[3]!.stdout).toBe('hello');
  });
});
