// Ours: mt-st 1.4 against the st driver over the fake tape drive.
import { describe, expect, it } from 'vitest';
import { tapeWorld } from './tape_world.ts';

const rec = (n: number) => ({ kind: 'rec' as const, data: new Uint8Array(n) });
const FM = { kind: 'fm' as const };

describe('mt status', () => {
  it('prints mt-st’s status of a fresh tape at BOT', async () => {
    const w = await tapeWorld();
    const r = await w.sh$('mt -f /dev/nst0 status');
    expect(r.stderr).toBe('');
    expect(r.rc).toBe(0);
    expect(r.stdout).toBe(
      [
        'SCSI 2 tape drive:',
        'File number=0, block number=0, partition=0.',
        'Tape block size 0 bytes. Density code 0x0 (default).',
        'Soft error count since last status=0',
        'General status bits on (41010000):',
        ' BOT ONLINE IM_REP_EN',
        '',
      ].join('\n'),
    );
  });

  it('follows writes, filemarks and spacing on the non-rewinding node', async () => {
    const w = await tapeWorld();
    expect((await w.sh$('echo hello | dd of=/dev/nst0 2>/dev/null; mt -f /dev/nst0 weof 1')).rc).toBe(0);
    expect(w.layout()).toBe('6,FM,FM'); // dd's record, the weof, and the filemark of close after dd's write
    let r = await w.sh$('mt -f /dev/nst0 status');
    expect(r.stdout.split('\n').slice(1, 2)).toEqual(['File number=2, block number=0, partition=0.']);
    expect(r.stdout).toContain('General status bits on (81010000):\n EOF ONLINE IM_REP_EN\n');
    await w.sh$('mt -f /dev/nst0 rewind');
    r = await w.sh$('mt -f /dev/nst0 fsf 1; mt -f /dev/nst0 status');
    expect(r.stdout).toContain('File number=1, block number=0, partition=0.');
    r = await w.sh$('mt -f /dev/nst0 eod; mt -f /dev/nst0 status');
    expect(r.stdout).toContain('File number=2, block number=-1, partition=0.');
    expect(r.stdout).toContain('General status bits on (9010000):\n EOD ONLINE IM_REP_EN\n');
    r = await w.sh$('mt -f /dev/nst0 bsf 1; mt -f /dev/nst0 tell');
    expect(r.stdout).toBe('At block 2.\n');
  });

  it('sets the block size and density', async () => {
    const w = await tapeWorld();
    const r = await w.sh$('mt -f /dev/nst0 setblk 512; mt -f /dev/nst0 setdensity 0x42; mt -f /dev/nst0 status');
    expect(r.stdout).toContain('Tape block size 512 bytes. Density code 0x42 (LTO-2).\n');
    expect(w.tape.blockSize).toBe(512);
  });

  it('records and blocks with fsr/bsr', async () => {
    const w = await tapeWorld({ items: [rec(10), rec(20), rec(30), FM] });
    const r = await w.sh$('mt -f /dev/nst0 fsr 2; mt -f /dev/nst0 status; mt -f /dev/nst0 bsr; mt -f /dev/nst0 tell');
    expect(r.stdout).toContain('File number=0, block number=2, partition=0.');
    expect(r.stdout).toContain('At block 1.\n');
  });

  it('goes offline, then reports the open drive; a command needing a tape fails as mt-st does', async () => {
    const w = await tapeWorld();
    expect((await w.sh$('mt -f /dev/nst0 offline')).rc).toBe(0);
    let r = await w.sh$('mt -f /dev/nst0 status');
    expect(r.stdout).toBe(
      'SCSI 2 tape drive:\nFile number=-1, block number=-1, partition=0.\nTape block size 0 bytes. Density code 0x0 (default).\n' +
        'Soft error count since last status=0\nGeneral status bits on (50000):\n DR_OPEN IM_REP_EN\n',
    );
    r = await w.sh$('mt -f /dev/nst0 rewind');
    expect(r).toMatchObject({ rc: 1, stdout: '', stderr: '/dev/nst0: No medium found\n' });
    r = await w.sh$('mt -f /dev/nst0 load; mt -f /dev/nst0 status');
    expect(r.stdout).toContain(' BOT ONLINE IM_REP_EN\n');
  });

  it('erases from the head, and reports a write-protected tape after a failed weof', async () => {
    const w = await tapeWorld({ items: [rec(10), FM, rec(20), FM] });
    await w.sh$('mt -f /dev/nst0 fsf 1; mt -f /dev/nst0 erase');
    expect(w.layout()).toBe('10,FM');
    w.tape.writeProtected = true;
    await w.sh$('mt -f /dev/nst0 rewind'); // the next open sees the protection
    const r = await w.sh$('mt -f /dev/nst0 weof');
    expect(r).toMatchObject({ rc: 1, stderr: '/dev/nst0: Read-only file system\n' });
  });

  it('knows its commands: prefixes, unknown and ambiguous ones, bad counts', async () => {
    const w = await tapeWorld();
    expect((await w.sh$('mt -f /dev/nst0 stat')).stdout).toContain('SCSI 2 tape drive:');
    let r = await w.sh$('mt -f /dev/nst0 frob');
    expect(r.rc).toBe(1);
    expect(r.stderr.split('\n').slice(0, 4)).toEqual([
      'mt: unknown command "frob"',
      'usage: mt [-v] [--version] [-h] [ -f device ] command [ count ]',
      'default tape device: /dev/tape',
      'commands: weof, wset, eof, fsf, fsfm, bsf, bsfm, fsr, bsr, fss, bss, rewind, ', // mt-st ends the line after ', '
    ]);
    r = await w.sh$('mt -f /dev/nst0 e');
    expect(r.stderr.split('\n')[0]).toBe('mt: ambiguous command "e"');
    r = await w.sh$('mt -f /dev/nst0 fsf 1x');
    expect(r).toMatchObject({ rc: 3, stderr: 'mt: illegal count unit.\n' });
    r = await w.sh$('mt -f /dev/nst0 rewind 1');
    expect(r).toMatchObject({ rc: 1, stderr: "mt: too many arguments for the command 'rewind'.\n" });
    r = await w.sh$('mt -f /dev/nst0 setpartition 1');
    expect(r).toMatchObject({ rc: 2, stderr: '/dev/nst0: Invalid argument\n' });
    expect((await w.sh$('mt -v')).stdout).toBe('mt-st v. 1.4\ndefault tape device: /dev/tape\n');
  });

  it('shows the sysfs options of the node’s mode', async () => {
    const w = await tapeWorld();
    expect((await w.sh$('mt -f /dev/nst0 stshowoptions')).stdout).toBe('The options set: buffer-writes async-writes read-ahead can-bsr\n');
    await w.sh$('mt -f /dev/nst0 stsetoptions two-fms can-bsr');
    expect((await w.sh$('cat /sys/class/scsi_tape/nst0/options')).stdout).toBe('0x00000117\n');
  });
});

describe('dd to and from tape', () => {
  it('keeps record boundaries: each write is a record, a bs-sized read returns one record', async () => {
    const w = await tapeWorld();
    await w.sys.mkdir('/tmp');
    const fd = await w.sys.open('/tmp/data', 0o101, 0o644);
    await w.sys.write(fd, new Uint8Array(3072).fill(7));
    await w.sys.close(fd);
    let r = await w.sh$('dd if=/tmp/data of=/dev/nst0 bs=1024 count=3');
    expect(r.stderr).toBe('3+0 records in\n3+0 records out\n');
    expect(w.layout()).toBe('1024,1024,1024,FM');
    await w.sh$('mt -f /dev/nst0 rewind');
    r = await w.sh$('dd if=/dev/nst0 of=/dev/null bs=4096');
    expect(r.stderr).toBe('0+3 records in\n0+3 records out\n'); // three short reads, then the filemark ends dd
    await w.sh$('mt -f /dev/nst0 rewind');
    r = await w.sh$('dd if=/dev/nst0 of=/dev/null bs=512');
    expect(r.rc).toBe(1);
    expect(r.stderr).toBe('dd: /dev/nst0: Out of memory\n'); // ENOMEM in the guest's errno table
    expect(w.k.log.at(-1)).toBe('st 0:0:0:0: [st0] Failed to read 1024 byte block with 512 byte transfer.');
  });
});
