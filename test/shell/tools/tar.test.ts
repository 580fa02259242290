// Ours: busybox tar to and from the tape (and a regular file), through st over the fake tape drive.
import { describe, expect, it } from 'vitest';
import { tapeWorld } from './tape_world.ts';

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

async function withFiles() {
  const w = await tapeWorld();
  const put = async (path: string, text: string): Promise<void> => {
    const fd = await w.sys.open(path, 0o101, 0o644);
    await w.sys.write(fd, enc.encode(text));
    await w.sys.close(fd);
  };
  await w.sys.mkdir('/tmp');
  await w.sys.mkdir('/tmp/src');
  await put('/tmp/src/a.txt', 'alpha\n');
  await w.sys.mkdir('/tmp/src/sub');
  await put('/tmp/src/sub/b.bin', 'b'.repeat(700));
  return w;
}

describe('tar on /dev/nst0', () => {
  it('creates an archive in 10240-byte records followed by a filemark', async () => {
    const w = await withFiles();
    const r = await w.sh$('cd /tmp && tar -cvf /dev/nst0 src');
    expect(r).toMatchObject({ rc: 0, stderr: '', stdout: 'src/\nsrc/a.txt\nsrc/sub/\nsrc/sub/b.bin\n' });
    // 4 headers + 1 + 2 data blocks + 2 end blocks = 4608 bytes: one record, padded.
    expect(w.layout()).toBe('10240,FM');
    const rec = w.tape.items[0]!;
    if (rec.kind !== 'rec') throw new Error('no record');
    const h = rec.data.subarray(0, 512);
    const field = (off: number, len: number): string => dec.decode(h.subarray(off, off + len));
    expect(field(0, 5)).toBe('src/\0'); // name, NUL-padded
    expect(field(100, 8)).toBe('0000755\0'); // mode: octal, leading zero dropped, NUL
    expect(field(108, 8)).toBe('0000000\0'); // uid
    expect(field(124, 12)).toBe('00000000000\0'); // size 0 for a directory
    expect(field(156, 1)).toBe('5'); // typeflag: directory
    expect(field(257, 8)).toBe('ustar  \0'); // busybox's (GNU) magic + version
    const sum = h.reduce((s, b, i) => s + (i >= 148 && i < 156 ? 0x20 : b), 0);
    expect(field(148, 8)).toBe(`${sum.toString(8).padStart(6, '0')}\0 `); // checksum: 6 digits, NUL, space
    const a = rec.data.subarray(512, 1024);
    expect(dec.decode(a.subarray(124, 136))).toBe('00000000006\0'); // a.txt: 6 bytes
    expect(dec.decode(rec.data.subarray(1024, 1030))).toBe('alpha\n');
  });

  it('lists and extracts after a rewind, and leaves the tape after the archive’s filemark', async () => {
    const w = await withFiles();
    await w.sh$('cd /tmp && tar cf /dev/nst0 src');
    let r = await w.sh$('mt -f /dev/nst0 rewind; tar tf /dev/nst0');
    expect(r).toMatchObject({ rc: 0, stdout: 'src/\nsrc/a.txt\nsrc/sub/\nsrc/sub/b.bin\n' });
    r = await w.sh$('mt -f /dev/nst0 status');
    expect(r.stdout).toContain('File number=1, block number=0, partition=0.'); // busybox reads to the end
    r = await w.sh$('mt -f /dev/nst0 rewind; tar -tvf /dev/nst0');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^drwxr-xr-x 0\/0 {9}0 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d src\/$/);
    expect(lines[3]).toMatch(/^-rw-r--r-- 0\/0 {7}700 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d src\/sub\/b\.bin$/);
    r = await w.sh$('mt -f /dev/nst0 rewind; mkdir /tmp/out; tar xvf /dev/nst0 -C /tmp/out');
    expect(r).toMatchObject({ rc: 0, stderr: '', stdout: 'src/\nsrc/a.txt\nsrc/sub/\nsrc/sub/b.bin\n' });
    expect((await w.sh$('cat /tmp/out/src/a.txt')).stdout).toBe('alpha\n');
    expect((await w.sh$('cat /tmp/out/src/sub/b.bin')).stdout).toBe('b'.repeat(700));
  });

  it('appends a second archive after the first with the non-rewinding node, and finds it with fsf', async () => {
    const w = await withFiles();
    await w.sh$('cd /tmp && tar cf /dev/nst0 src/a.txt && tar cf /dev/nst0 src/sub');
    expect(w.layout()).toBe('10240,FM,10240,FM');
    const r = await w.sh$('mt -f /dev/nst0 rewind; mt -f /dev/nst0 fsf 1; tar tf /dev/nst0');
    expect(r.stdout).toBe('src/sub/\nsrc/sub/b.bin\n');
  });

  it('rewinds at close through /dev/st0', async () => {
    const w = await withFiles();
    await w.sh$('cd /tmp && tar cf /dev/st0 src');
    expect(w.tape.pos).toBe(0);
    expect((await w.sh$('tar tf /dev/st0')).stdout).toBe('src/\nsrc/a.txt\nsrc/sub/\nsrc/sub/b.bin\n');
  });
});

describe('tar on a regular file', () => {
  it('writes whole records and strips a leading slash', async () => {
    const w = await withFiles();
    const r = await w.sh$('tar cf /tmp/a.tar /tmp/src/a.txt; ls -l /tmp/a.tar; tar tf /tmp/a.tar');
    expect(r.stderr).toBe("tar: removing leading '/' from member names\n");
    expect(r.stdout).toMatch(/ 10240 .*\/tmp\/a\.tar\ntmp\/src\/a\.txt\n$/);
  });

  it('refuses an empty archive and reports a missing mode', async () => {
    const w = await withFiles();
    expect(await w.sh$('tar cf /tmp/x.tar')).toMatchObject({ rc: 1, stderr: 'tar: empty archive\n' });
    expect((await w.sh$('tar f /tmp/x.tar')).rc).toBe(1);
  });
});
