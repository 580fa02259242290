import { describe, expect, it } from 'vitest';
import { setup } from './harness.ts';
import type { FakeKernel } from '../fakes/fake_kernel.ts';

/** The part of the seed_single_disk guest's /dev that the golden listings below show. */
function devTree(k: FakeKernel): void {
  k.mkdirp('/dev/block');
  k.addSymlink('/dev/block/8:0', '../sda');
  k.mkdirp('/dev/bsg');
  k.mknod('/dev/bsg/0:0:0:0', 'c', 248, 0);
  k.mknod('/dev/console', 'c', 5, 1);
  k.mkdirp('/dev/disk/by-diskseq');
  k.addSymlink('/dev/disk/by-diskseq/1', '../../sda');
  k.mkdirp('/dev/disk/by-id');
  k.addSymlink('/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_scsi0', '../../sda');
  k.mkdirp('/dev/disk/by-path');
  k.addSymlink('/dev/disk/by-path/pci-0000:00:04.0-scsi-0:0:0:0', '../../sda');
  k.mknod('/dev/kmsg', 'c', 1, 11, { mode: 0o644 });
  k.mknod('/dev/mem', 'c', 1, 1, { mode: 0o640 });
  k.mkdirp('/dev/pts');
  k.addSymlink('/dev/rtc', 'rtc0');
  k.mknod('/dev/rtc0', 'c', 251, 0);
  k.blockDevice('/dev/sda', 8, 0, new Uint8Array(64 * 1024), (off) => off >= 32768);
  k.mknod('/dev/sg0', 'c', 21, 0);
  k.mknod('/dev/tty0', 'c', 4, 0, { mode: 0o620 });
  k.mknod('/dev/tty1', 'c', 4, 1, { mode: 0o620 });
  k.mknod('/dev/tty10', 'c', 4, 10, { mode: 0o620 });
}

describe('ls', () => {
  it('ls -l /dev prints busybox columns (golden seed_single_disk ls_dev, these entries)', async () => {
    const { run, k } = setup();
    devTree(k);
    const r = await run('ls -l /dev');
    // Golden lines for the entries built above (null/zero come from the fake's base /dev, also in the golden).
    expect(r.stdout).toBe(
      [
        'total 0',
        'drwxr-xr-x    2 root     root            60 Nov 25 22:36 block',
        'drwxr-xr-x    2 root     root            60 Nov 25 22:36 bsg',
        'crw-------    1 root     root        5,   1 Nov 25 22:36 console',
        'drwxr-xr-x    5 root     root           100 Nov 25 22:36 disk',
        'crw-r--r--    1 root     root        1,  11 Nov 25 22:36 kmsg',
        'crw-r-----    1 root     root        1,   1 Nov 25 22:36 mem',
        'crw-rw-rw-    1 root     root        1,   3 Nov 25 22:36 null',
        'drwxr-xr-x    2 root     root            40 Nov 25 22:36 pts',
        'lrwxrwxrwx    1 root     root             4 Nov 25 22:36 rtc -> rtc0',
        'crw-------    1 root     root      251,   0 Nov 25 22:36 rtc0',
        'brw-------    1 root     root        8,   0 Nov 25 22:36 sda',
        'crw-------    1 root     root       21,   0 Nov 25 22:36 sg0',
        'crw--w----    1 root     root        4,   0 Nov 25 22:36 tty0',
        'crw--w----    1 root     root        4,   1 Nov 25 22:36 tty1',
        'crw--w----    1 root     root        4,  10 Nov 25 22:36 tty10',
        'crw-rw-rw-    1 root     root        1,   5 Nov 25 22:36 zero',
        '',
      ].join('\n'),
    );
    expect(r.rc).toBe(0);
  });
  it('ls -lR /dev/disk matches the golden ls_dev_disk byte for byte', async () => {
    const { run, k } = setup();
    devTree(k);
    expect(await run('ls -lR /dev/disk')).toEqual({
      stdout:
        '/dev/disk:\ntotal 0\n' +
        'drwxr-xr-x    2 root     root            60 Nov 25 22:36 by-diskseq\n' +
        'drwxr-xr-x    2 root     root            60 Nov 25 22:36 by-id\n' +
        'drwxr-xr-x    2 root     root            60 Nov 25 22:36 by-path\n\n' +
        '/dev/disk/by-diskseq:\ntotal 0\nlrwxrwxrwx    1 root     root             9 Nov 25 22:36 1 -> ../../sda\n\n' +
        '/dev/disk/by-id:\ntotal 0\nlrwxrwxrwx    1 root     root             9 Nov 25 22:36 scsi-0QEMU_QEMU_HARDDISK_scsi0 -> ../../sda\n\n' +
        '/dev/disk/by-path:\ntotal 0\nlrwxrwxrwx    1 root     root             9 Nov 25 22:36 pci-0000:00:04.0-scsi-0:0:0:0 -> ../../sda\n',
      stderr: '',
      rc: 0,
    });
  });
  it('plain ls is one name per line; -a adds . and ..; -d lists the dir itself; missing names fail', async () => {
    const { run, k } = setup();
    devTree(k);
    expect((await run('ls /dev/disk')).stdout).toBe('by-diskseq\nby-id\nby-path\n');
    expect((await run('ls -a /dev/bsg')).stdout).toBe('.\n..\n0:0:0:0\n');
    expect((await run('ls -1d /dev/disk /dev/sda')).stdout).toBe('/dev/disk\n/dev/sda\n');
    expect(await run('ls -lR /proc/scsi')).toEqual({ stdout: '', stderr: 'ls: /proc/scsi: No such file or directory\n', rc: 1 });
    expect((await run('ls /dev/bsg /dev/sg0')).stdout).toBe('/dev/sg0\n\n/dev/bsg:\n0:0:0:0\n');
  });
  it('prints the year for files older than six months', async () => {
    const { run, k } = setup();
    // seed_disk_and_cd_same_bus golden: the ISO's file, dated 2023.
    k.writeFile('/mnt/README.TXT', 'oracle cd one\n', { mode: 0o444, mtime: Date.UTC(2023, 10, 14, 10, 0) / 1000 });
    const { stdout } = await run('ls -l /mnt');
    expect(stdout).toBe('total 4\n-r--r--r--    1 root     root            14 Nov 14  2023 README.TXT\n');
  });
});

describe('stat, readlink, realpath, find, test', () => {
  it('stat -c matches the golden stat_dev_nodes loop', async () => {
    const { run, k } = setup();
    devTree(k);
    const r = await run(
      'for f in /dev/sd* /dev/sr* /dev/sg* /dev/st* /dev/nst* /dev/bsg/* /dev/cdrom* /dev/tape*; do [ -e "$f" -o -L "$f" ] && stat -c "%n|%F|%t:%T|%a|%U:%G|%N" "$f"; done',
    );
    expect(r).toEqual({
      stdout: '/dev/sda|block special file|8:0|600|root:root|/dev/sda\n/dev/sg0|character special file|15:0|600|root:root|/dev/sg0\n/dev/bsg/0:0:0:0|character special file|f8:0|600|root:root|/dev/bsg/0:0:0:0\n',
      stderr: '',
      rc: 1,
    });
    expect((await run('stat -c "%N %h %s %A" /dev/rtc')).stdout).toBe("'/dev/rtc' -> 'rtc0' 1 4 lrwxrwxrwx\n");
    expect(await run('stat /nope')).toEqual({ stdout: '', stderr: "stat: can't stat '/nope': No such file or directory\n", rc: 1 });
  });
  it('readlink, readlink -f, realpath', async () => {
    const { run, k } = setup();
    devTree(k);
    expect((await run('readlink /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_scsi0; readlink -f /dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_scsi0; realpath /dev/block/8:0')).stdout).toBe(
      '../../sda\n/dev/sda\n/dev/sda\n',
    );
    expect(await run('readlink /dev/sda')).toEqual({ stdout: '', stderr: '', rc: 1 });
  });
  it('find -maxdepth -type -name -path', async () => {
    const { run, k } = setup();
    devTree(k);
    expect((await run('find /dev/disk -type l')).stdout).toBe(
      '/dev/disk/by-diskseq/1\n/dev/disk/by-id/scsi-0QEMU_QEMU_HARDDISK_scsi0\n/dev/disk/by-path/pci-0000:00:04.0-scsi-0:0:0:0\n',
    );
    expect((await run('find /dev -maxdepth 1 -name "tty*"')).stdout).toBe('/dev/tty0\n/dev/tty1\n/dev/tty10\n');
    expect((await run('find /dev -path "*by-id*" -type d')).stdout).toBe('/dev/disk/by-id\n');
  });
  it('test / [ operators and errors', async () => {
    const { run, k } = setup();
    devTree(k);
    expect((await run('[ -b /dev/sda ] && [ -c /dev/sg0 ] && [ -L /dev/rtc ] && [ -d /dev ] && [ ! -e /x ] && [ 3 -gt 2 -a abc = abc ] && echo ok')).stdout).toBe('ok\n');
    expect(await run('[ 1 = 1')).toEqual({ stdout: '', stderr: 'sh: [: missing ]\n', rc: 2 });
    expect(await run('[ a -eq 1 ]')).toEqual({ stdout: '', stderr: 'sh: [: a: bad number\n', rc: 2 });
  });
});

describe('text applets', () => {
  it('head, tail, wc, cut, sort, grep, uniq, tr', async () => {
    const { run, k } = setup();
    k.writeFile('/tmp/t', 'b 2\na 10\nc 1\na 10\n');
    expect((await run('head -n 2 /tmp/t; tail -n 1 /tmp/t; head -c 3 /tmp/t; echo')).stdout).toBe('b 2\na 10\na 10\nb 2\n');
    expect((await run('wc -l /tmp/t; wc -l < /tmp/t; cat /tmp/t | wc -c')).stdout).toBe('4 /tmp/t\n4\n18\n');
    expect((await run("cut -d ' ' -f 2 /tmp/t | sort -n | uniq | tr '\\n' ,")).stdout).toBe('1,2,10,');
    expect((await run('sort -u /tmp/t; sort -rn -k 2 /tmp/t | head -1')).stdout).toBe('a 10\nb 2\nc 1\na 10\n');
    expect((await run('grep -c a /tmp/t; grep -n "^c" /tmp/t; grep -v a /tmp/t; grep -E -o "[0-9]+" /tmp/t | head -2; grep -q zzz /tmp/t; echo $?')).stdout).toBe(
      '2\n3:c 1\nb 2\nc 1\n2\n10\n1\n',
    );
    expect(await run('grep x /nope')).toEqual({ stdout: '', stderr: 'grep: /nope: No such file or directory\n', rc: 2 });
  });
});

describe('od and dd', () => {
  it('dd | od -A d -c matches the golden dd_read_direct step', async () => {
    const { run, k } = setup();
    devTree(k);
    expect(await run('dd if=/dev/sda bs=512 count=1 iflag=direct 2>&1 | od -A d -c | head -5')).toEqual({
      stdout:
        '0000000  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0  \\0\n*\n' +
        '0000512   1   +   0       r   e   c   o   r   d   s       i   n  \\n   1\n' +
        '0000528   +   0       r   e   c   o   r   d   s       o   u   t  \\n\n0000543\n',
      stderr: '',
      rc: 0,
    });
  });
  it('dd prints only the two record lines; a read error dies without them', async () => {
    const { run, k } = setup();
    devTree(k);
    expect(await run('dd if=/dev/sda of=/dev/null bs=4096 count=1 iflag=direct; echo dd_rc=$?')).toEqual({ stdout: 'dd_rc=0\n', stderr: '1+0 records in\n1+0 records out\n', rc: 0 });
    expect(await run('dd if=/dev/sda of=/dev/null bs=512 skip=64 count=8 iflag=direct; echo dd_rc=$?')).toEqual({
      stdout: 'dd_rc=1\n',
      stderr: 'dd: /dev/sda: Input/output error\n',
      rc: 0,
    });
    expect((await run('echo -n abcdefgh > /tmp/s; dd if=/tmp/s of=/tmp/o bs=3 2>&1; cat /tmp/o')).stdout).toBe('2+1 records in\n2+1 records out\nabcdefgh');
  });
  it('od -x and -t x1', async () => {
    const { run } = setup();
    expect((await run('printf "AB\\001" | od -x')).stdout).toBe('0000000 4241 0001\n0000003\n');
    expect((await run('printf "AB\\001" | od -A x -t x1')).stdout).toBe('000000 41 42 01\n000003\n');
  });
});

describe('echo, printf, id, su, dmesg, help', () => {
  it('echo -n -e; printf formats', async () => {
    const { run } = setup();
    expect((await run('echo -n a; echo -e "b\\tc\\0101"; echo -e "x\\cy"; printf "%s=%03d|%-3s|%x\\n" v 7 ab 255')).stdout).toBe('ab\tcA\nxv=007|ab |ff\n');
  });
  it('id as root and as nobody via su -s', async () => {
    const { run } = setup();
    expect((await run('id')).stdout).toBe('uid=0(root) gid=0(root) groups=0(root)\n');
    expect((await run("su -s /bin/sh nobody -c 'id -u; id -un'")).stdout).toBe('65534\nnobody\n');
    expect(await run('su nosuch -c true')).toEqual({ stdout: '', stderr: 'su: unknown user nosuch\n', rc: 1 });
  });
  it('dmesg prints the kernel log; help lists commands', async () => {
    const { run, k } = setup();
    k.printk('[    9.786103] scsi host0: Virtio SCSI HBA');
    expect((await run('dmesg | tail -1')).stdout).toBe('[    9.786103] scsi host0: Virtio SCSI HBA\n');
    const h = await run('help');
    expect(h.stdout).toMatch(/^Built-in commands:\n-+\n/);
    expect(h.stdout).toContain(' ls');
  });
});
