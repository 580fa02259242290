import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Errno } from '../../src/kernel/errno.ts';
import { isIncomplete } from '../../src/shell/sh.ts';
import { setup } from './harness.ts';

describe('sh: lists, pipes, status', () => {
  it('runs ; && || and keeps $?', async () => {
    const { run } = setup();
    expect(await run('false; echo $?; true && echo yes || echo no; false || echo alt')).toEqual({ stdout: '1\nyes\nalt\n', stderr: '', rc: 0 });
    expect((await run('false')).rc).toBe(1);
    expect((await run('! false')).rc).toBe(0);
  });
  it('reports unknown commands as ash does (127), also by path', async () => {
    const { run } = setup();
    expect(await run('nosuch arg')).toEqual({ stdout: '', stderr: 'sh: nosuch: not found\n', rc: 127 });
    expect(await run('/usr/bin/nosuch')).toEqual({ stdout: '', stderr: 'sh: /usr/bin/nosuch: not found\n', rc: 127 });
    expect((await run('/bin/echo hi; /usr/bin/echo ho')).stdout).toBe('hi\nho\n');
  });
  it('pipes stdout into the next command; status is the last stage', async () => {
    const { run } = setup();
    expect(await run('printf "b\\na\\nc\\n" | sort | head -n 2')).toEqual({ stdout: 'a\nb\n', stderr: '', rc: 0 });
    expect((await run('echo x | false')).rc).toBe(1);
    expect((await run('false | echo y')).stdout).toBe('y\n');
  });
});

describe('sh: variables and expansion', () => {
  it('expands ${…} forms', async () => {
    const { run } = setup();
    const r = await run('a=hello; b=; echo ${a} ${#a} ${u:-dflt} ${b:-e} ${b-f}x ${a:+set} ${a#he} ${a%l*} ${a%%l*} ${a##*l}; echo ${n:=new} $n');
    expect(r.stdout).toBe('hello 5 dflt e x set llo hel he o\nnew new\n');
  });
  it('field-splits unquoted expansions only and keeps quoted ones whole', async () => {
    const { run } = setup();
    expect((await run('x="a  b"; for w in $x; do echo "[$w]"; done; for w in "$x"; do echo "[$w]"; done')).stdout).toBe('[a]\n[b]\n[a  b]\n');
    expect((await run("echo 'single $x' \"dq $x\" a\\ b")).stdout).toBe('single $x dq a  b a b\n');
  });
  it('substitutes commands ($(…) and backticks) and arithmetic', async () => {
    const { run } = setup();
    expect((await run('echo $(echo a; echo b) `echo c` $((2 + 3 * 4)) $(( (1<2) && 7 ))')).stdout).toBe('a b c 14 1\n');
    expect((await run('i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i')).stdout).toBe('3\n');
  });
  it('aborts the line on ${x?msg}', async () => {
    const { run } = setup();
    expect(await run('echo ${nope?is missing}; echo after')).toEqual({ stdout: '', stderr: 'sh: nope: is missing\n', rc: 2 });
  });
  it('keeps variables, functions and cwd across lines', async () => {
    const { run } = setup();
    await run('v=42; f() { echo "f:$1:$#"; }; cd /tmp');
    expect((await run('echo $v; f a b; pwd')).stdout).toBe('42\nf:a:2\n/tmp\n');
  });
  it('property: echo "$x" prints x for any string without newline or NUL', async () => {
    const { run } = setup();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme-ascii' }).filter((s) => !/[\n\0]/.test(s)), async (s) => {
        const quoted = `'${s.replace(/'/g, `'\\''`)}'`;
        const r = await run(`x=${quoted}; echo "$x"`);
        expect(r.stdout).toBe(`${s}\n`);
      }),
      { numRuns: 50 },
    );
  });
});

describe('sh: compound commands', () => {
  it('if/elif/else, case, until, break/continue', async () => {
    const { run } = setup();
    expect((await run('if false; then echo 1; elif true; then echo 2; else echo 3; fi')).stdout).toBe('2\n');
    expect((await run('case sdb in sd[a-c]) echo disk;; sr*) echo cd;; *) echo other;; esac')).stdout).toBe('disk\n');
    expect((await run('n=0; until [ $n = 2 ]; do n=$((n+1)); done; echo $n')).stdout).toBe('2\n');
    expect((await run('for i in 1 2 3 4; do [ $i = 2 ] && continue; [ $i = 4 ] && break; echo $i; done')).stdout).toBe('1\n3\n');
  });
  it('subshells do not leak variables; braces do', async () => {
    const { run } = setup();
    expect((await run('x=1; (x=2; echo $x); echo $x; { x=3; }; echo $x')).stdout).toBe('2\n1\n3\n');
  });
  it('here-documents expand unless the delimiter is quoted; <<- strips tabs', async () => {
    const { run } = setup();
    expect((await run('v=V\ncat <<EOF\na $v\nEOF\ncat <<\'E\'\nb $v\nE\ncat <<-T\n\tc\n\tT\n')).stdout).toBe('a V\nb $v\nc\n');
  });
  it('set -e stops at the first failing command, not in conditions', async () => {
    const { run } = setup();
    const r = await run('set -e; if false; then :; fi; false && :; echo ok; false; echo never');
    expect(r.stdout).toBe('ok\n');
    expect(r.rc).toBe(1);
  });
  it('exit ends the shell with the status', async () => {
    const { run, sh } = setup();
    expect((await run('echo a; exit 3; echo b')).rc).toBe(3);
    expect(sh.exited).toBe(3);
  });
  it('reports syntax errors in ash words', async () => {
    const { run } = setup();
    expect(await run('echo )')).toEqual({ stdout: '', stderr: 'sh: syntax error: unexpected ")"\n', rc: 2 });
    expect((await run('echo "abc')).stderr).toBe('sh: syntax error: unterminated quoted string\n');
  });
});

describe('sh: globbing', () => {
  it('expands in strcmp order and leaves unmatched patterns alone', async () => {
    const { run, k } = setup();
    for (const h of ['host10', 'host2', 'host0']) k.writeFile(`/sys/class/scsi_host/${h}/proc_name`, 'virtio_scsi\n');
    k.writeFile('/sys/class/scsi_host/.hidden', '');
    expect((await run('echo /sys/class/scsi_host/host*')).stdout).toBe('/sys/class/scsi_host/host0 /sys/class/scsi_host/host10 /sys/class/scsi_host/host2\n');
    expect((await run('echo /sys/class/scsi_host/*/proc_name')).stdout.split(' ')).toHaveLength(3);
    expect((await run('echo /nope/* "/sys/class/scsi_host/host*"')).stdout).toBe('/nope/* /sys/class/scsi_host/host*\n');
    expect((await run('cd /sys/class/scsi_host; echo host?')).stdout).toBe('host0 host2\n');
  });
});

describe('sh: redirections', () => {
  it('creates, appends, reads and discards', async () => {
    const { run } = setup();
    expect(await run('echo one > /tmp/f; echo two >> /tmp/f; cat < /tmp/f; echo gone >/dev/null')).toEqual({ stdout: 'one\ntwo\n', stderr: '', rc: 0 });
    expect(await run('cat /nope 2>/dev/null; echo $?')).toEqual({ stdout: '1\n', stderr: '', rc: 0 });
    expect(await run('cat /nope 2>&1')).toEqual({ stdout: "cat: can't open '/nope': No such file or directory\n", stderr: '', rc: 1 });
    expect((await run('ls /nope 2>&1 >/dev/null | wc -l')).stdout).toBe('1\n');
  });
  it("prints ash's texts when a redirection fails (status 1, command not run)", async () => {
    const { run } = setup();
    expect(await run('echo x > /x/y')).toEqual({ stdout: '', stderr: "sh: can't create /x/y: nonexistent directory\n", rc: 1 });
    expect(await run('cat < /x')).toEqual({ stdout: '', stderr: "sh: can't open /x: no such file\n", rc: 1 });
  });
  it('one write(2) per echo to a sysfs-like attribute; its errno is the write error', async () => {
    const { run, k } = setup();
    const writes: string[] = [];
    k.attribute('/sys/class/scsi_host/host0/scan', {
      store: (t) => {
        if (!/^(-|\d+) (-|\d+) (-|\d+)\n?$/.test(t)) throw new Errno('EINVAL');
        writes.push(t);
      },
    });
    k.attribute('/sys/class/scsi_host/host0/host_reset', {
      store: () => {
        throw new Errno('EOPNOTSUPP');
      },
    });
    expect(await run('for h in /sys/class/scsi_host/host*; do echo "- - -" > $h/scan; done')).toEqual({ stdout: '', stderr: '', rc: 0 });
    expect(writes).toEqual(['- - -\n']);
    expect(await run('echo "x y" > /sys/class/scsi_host/host0/scan')).toEqual({ stdout: '', stderr: 'sh: write error: Invalid argument\n', rc: 1 });
    expect(await run('echo adapter > /sys/class/scsi_host/host0/host_reset; echo rc=$?')).toEqual({ stdout: 'rc=1\n', stderr: 'sh: write error: Operation not supported\n', rc: 0 });
    expect(await run('/bin/echo "x y" > /sys/class/scsi_host/host0/scan')).toEqual({ stdout: '', stderr: 'echo: write error: Invalid argument\n', rc: 1 });
  });
  it('EACCES: reading a write-only attribute, writing as nobody', async () => {
    const { run, k } = setup();
    k.attribute('/sys/class/scsi_host/host0/scan', { store: () => undefined });
    k.writeFile('/etc/secret', 'x', { mode: 0o600 });
    expect(await run('cat /sys/class/scsi_host/host0/scan')).toEqual({ stdout: '', stderr: "cat: can't open '/sys/class/scsi_host/host0/scan': Permission denied\n", rc: 1 });
    expect(await run("su nobody -c 'echo 1 > /sys/class/scsi_host/host0/scan; id -u; cat /etc/secret'")).toEqual({
      stdout: '65534\n',
      stderr: "sh: can't create /sys/class/scsi_host/host0/scan: Permission denied\ncat: can't open '/etc/secret': Permission denied\n",
      rc: 1,
    });
  });
});

describe('sh: background jobs on the virtual clock', () => {
  it('runs & jobs concurrently and wait collects them', async () => {
    const { run, loop } = setup();
    const r = await run('(sleep 2; echo slow) & (sleep 1; echo fast) & echo now; wait; echo done');
    expect(r.stdout).toBe('now\nfast\nslow\ndone\n');
    expect(loop.now()).toBe(2e9);
  });
  it("a job's output goes to the line running when it writes", async () => {
    const { run } = setup();
    expect((await run('(sleep 1; echo late) &')).stdout).toBe('');
    const r = await run('sleep 2; echo mine');
    expect(r.stdout).toBe('late\nmine\n');
    expect((await run('echo $!')).stdout).toMatch(/^\d+\n$/);
  });
  it('sleep takes fractions', async () => {
    const { run, loop } = setup();
    await run('sleep 0.25; sleep .5');
    expect(loop.now()).toBe(0.75e9);
  });
});

describe('isIncomplete', () => {
  it('knows when a line continues', () => {
    expect(isIncomplete('for h in a b; do')).toBe(true);
    expect(isIncomplete('if true; then echo')).toBe(true);
    expect(isIncomplete('echo a \\')).toBe(true);
    expect(isIncomplete('echo "abc')).toBe(true);
    expect(isIncomplete('echo a &&')).toBe(true);
    expect(isIncomplete('echo a; done')).toBe(false);
    expect(isIncomplete('echo a')).toBe(false);
  });
});
