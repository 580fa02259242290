// Ours: the busybox text and file applets added for the scenarios' scripts — sed, xargs, tee, cp, mv —
// run through the guest shell on the fake kernel.
import { describe, expect, it } from 'vitest';
import { posixRegex } from '../../../src/shell/sed.ts';
import { setup } from '../harness.ts';

describe('sed', () => {
  it('s///, s///g, the Nth match, & and \\1 in the replacement', async () => {
    const { run } = setup();
    expect((await run("printf 'a-a-a\\nbab\\n' | sed 's/a/X/'")).stdout).toBe('X-a-a\nbXb\n');
    expect((await run("printf 'a-a-a\\n' | sed 's/a/X/g'")).stdout).toBe('X-X-X\n');
    expect((await run("printf 'a-a-a\\n' | sed 's/a/X/2'")).stdout).toBe('a-X-a\n');
    expect((await run("echo hello world | sed 's/\\(hel*\\)o/[\\1|&]/'")).stdout).toBe('[hell|hello] world\n');
    expect((await run("echo 'sda sdb' | sed -E 's/(sd)([a-z])/\\2\\1/g'")).stdout).toBe('asd bsd\n');
    expect((await run("echo /dev/sda | sed 's|/dev/||'")).stdout).toBe('sda\n');
  });

  it('-n with p, line ranges, $, /re/ addresses, ! and d', async () => {
    const { run } = setup();
    const five = "printf '1\\n2\\n3\\n4\\n5\\n'";
    expect((await run(`${five} | sed -n '2,4p'`)).stdout).toBe('2\n3\n4\n');
    expect((await run(`${five} | sed -n '$p'`)).stdout).toBe('5\n');
    expect((await run(`${five} | sed '2d;4d'`)).stdout).toBe('1\n3\n5\n');
    expect((await run(`${five} | sed -n '/3/,$p'`)).stdout).toBe('3\n4\n5\n');
    expect((await run(`${five} | sed '/[24]/!d'`)).stdout).toBe('2\n4\n');
    expect((await run(`${five} | sed -n -e 1p -e 5p`)).stdout).toBe('1\n5\n');
    expect((await run(`${five} | sed 3q`)).stdout).toBe('1\n2\n3\n');
    expect((await run(`${five} | sed -n '2,+1p'`)).stdout).toBe('2\n3\n');
    expect((await run(`${five} | sed -n '$='`)).stdout).toBe('5\n');
  });

  it('s///p with -n prints only substituted lines; a, i, c, y; a missing final newline is kept', async () => {
    const { run } = setup();
    expect((await run("printf 'x1\\ny2\\nx3\\n' | sed -n 's/x/z/p'")).stdout).toBe('z1\nz3\n');
    expect((await run("printf 'a\\nb\\n' | sed '1a after'")).stdout).toBe('a\nafter\nb\n');
    expect((await run("printf 'a\\nb\\n' | sed '2i before'")).stdout).toBe('a\nbefore\nb\n');
    expect((await run("printf 'a\\nb\\n' | sed '1c\\\nnew'")).stdout).toBe('new\nb\n');
    expect((await run("echo abc | sed 'y/abc/xyz/'")).stdout).toBe('xyz\n');
    expect((await run("printf 'a\\nb' | sed 's/b/c/'")).stdout).toBe('a\nc');
  });

  it('reads files, reports the ones it cannot open, and rejects bad scripts with busybox texts', async () => {
    const { run } = setup();
    await run("printf 'one\\ntwo\\n' > /tmp/f");
    expect(await run('sed -n 2p /tmp/f')).toMatchObject({ stdout: 'two\n', rc: 0 });
    expect(await run('sed p /tmp/nope')).toMatchObject({ stderr: "sed: can't open '/tmp/nope': No such file or directory\n", rc: 1 });
    expect(await run("echo a | sed 's/a/b'")).toMatchObject({ stderr: "sed: unmatched '/'\n", rc: 1 });
    expect(await run("echo a | sed 'k'")).toMatchObject({ stderr: 'sed: unsupported command k\n', rc: 1 });
  });

  it('-i edits the file in place', async () => {
    const { run } = setup();
    await run("printf 'sg0\\nsg1\\n' > /tmp/g");
    expect((await run("sed -i 's/sg/bsg/' /tmp/g; cat /tmp/g")).stdout).toBe('bsg0\nbsg1\n');
  });

  it('translates POSIX basic regular expressions (\\( \\) \\{ \\} groups, literal + ? |, classes)', () => {
    expect(posixRegex('a\\{2\\}', false, '').test('xaay')).toBe(true);
    expect(posixRegex('a+', false, '').test('a+')).toBe(true);
    expect(posixRegex('a+', false, '').test('aa')).toBe(false);
    expect(posixRegex('[[:digit:]]\\+', false, '').exec('ab123')![0]).toBe('123');
    expect(posixRegex('*x', false, '').test('*x')).toBe(true);
  });
});

describe('xargs', () => {
  it('runs echo by default, batches with -n, substitutes with -I, and maps failures to 123', async () => {
    const { run } = setup();
    expect((await run("printf 'a b\\nc\\n' | xargs")).stdout).toBe('a b c\n');
    expect((await run("printf 'a b c\\n' | xargs -n 2 echo x")).stdout).toBe('x a b\nx c\n');
    expect((await run("printf 'sda\\nsdb\\n' | xargs -I{} echo /dev/{}")).stdout).toBe('/dev/sda\n/dev/sdb\n');
    expect((await run(`printf "'a b' \\"c d\\"\\n" | xargs -n 1`)).stdout).toBe('a b\nc d\n');
    expect((await run('echo x | xargs false; echo rc=$?')).stdout).toBe('rc=123\n');
    expect((await run('echo x | xargs nosuchcmd; echo rc=$?'))).toMatchObject({ stdout: 'rc=127\n', stderr: 'xargs: nosuchcmd: No such file or directory\n' });
    expect((await run('printf "" | xargs -r echo hi; echo rc=$?')).stdout).toBe('rc=0\n');
  });
});

describe('tee, cp, mv, mkdir -p, rm -r, touch', () => {
  it('tee copies stdin to stdout and files (-a appends)', async () => {
    const { run } = setup();
    expect((await run('echo one | tee /tmp/a /tmp/b')).stdout).toBe('one\n');
    expect((await run('echo two | tee -a /tmp/a >/dev/null; cat /tmp/a /tmp/b')).stdout).toBe('one\ntwo\none\n');
    expect(await run('echo x | tee /nodir/f')).toMatchObject({ stdout: 'x\n', stderr: "tee: can't open '/nodir/f': No such file or directory\n", rc: 1 });
  });

  it('cp copies files, into directories, recursively with -r; mv renames', async () => {
    const { run } = setup();
    await run('mkdir -p /tmp/d/e; echo data > /tmp/d/e/f; echo top > /tmp/t');
    expect((await run('cp /tmp/t /tmp/t2; cat /tmp/t2')).stdout).toBe('top\n');
    expect((await run('cp /tmp/t /tmp/d; cat /tmp/d/t')).stdout).toBe('top\n');
    expect(await run('cp /tmp/d /tmp/x')).toMatchObject({ stderr: "cp: omitting directory '/tmp/d'\n", rc: 1 });
    expect((await run('cp -r /tmp/d /tmp/x; cat /tmp/x/e/f')).stdout).toBe('data\n');
    expect(await run('cp /tmp/nope /tmp/y')).toMatchObject({ stderr: "cp: can't stat '/tmp/nope': No such file or directory\n", rc: 1 });
    expect((await run('mv /tmp/t2 /tmp/t3; cat /tmp/t3; ls /tmp/t2')).stdout).toBe('top\n');
    expect((await run('mv /tmp/t3 /tmp/d; ls /tmp/d')).stdout).toBe('e\nt\nt3\n');
    expect(await run('mv /tmp/nope /tmp/z')).toMatchObject({ stderr: "mv: can't rename '/tmp/nope': No such file or directory\n", rc: 1 });
    expect((await run('rm -r /tmp/x; ls /tmp/x; echo rc=$?')).stdout).toBe('rc=1\n');
    expect((await run('touch /tmp/new; ls /tmp/new')).stdout).toBe('/tmp/new\n');
  });
});
