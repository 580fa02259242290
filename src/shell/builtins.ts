// Models coreutils/echo.c, coreutils/printf.c and coreutils/test.c (busybox 1.36): the applets ash
// also runs as builtins. `prog` is the name errors carry: `sh` as a builtin, the applet's own name
// when run by path (/bin/echo).

import { isErrno } from '../kernel/errno.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../kernel/syscalls.ts';
import type { Stat } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { err, resolvePath } from './applet.ts';

/** Backslash escapes of `echo -e` and printf's format; returns the text and whether \c stopped output. */
function unescape(s: string, octalNeedsZero: boolean): { text: string; stop: boolean } {
  let t = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      t += c;
      continue;
    }
    const n = s[++i]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (simple[n] !== undefined) t += simple[n];
    else if (n === 'c') return { text: t, stop: true };
    else if (n === 'x' && /[0-9a-fA-F]/.test(s[i + 1] ?? '')) {
      const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 1))![0];
      t += String.fromCharCode(parseInt(m, 16));
      i += m.length;
    } else if (/[0-7]/.test(n) && (n === '0' || !octalNeedsZero)) {
      const start = n === '0' && octalNeedsZero ? i + 1 : i;
      const m = /^[0-7]{0,3}/.exec(s.slice(start))![0];
      t += String.fromCharCode(parseInt(m || '0', 8) & 255);
      i = start + m.length - 1;
    } else t += `\\${n}`;
  }
  return { text: t, stop: false };
}

async function writeAll(p: Process, prog: string, text: string): Promise<number> {
  try {
    await p.stdout.write(text);
    return 0;
  } catch (e) {
    if (!isErrno(e)) throw e;
    await err(p, `${prog}: write error: ${e.message}\n`);
    return 1;
  }
}

/** echo [-neE] ARGS: one write(2) of the whole line, as busybox does. */
export async function echoMain(p: Process, prog: string): Promise<number> {
  const args = p.argv.slice(1);
  let nl = true;
  let esc = false;
  while (args.length > 0 && /^-[neE]+$/.test(args[0]!)) {
    for (const f of args.shift()!.slice(1)) {
      if (f === 'n') nl = false;
      else if (f === 'e') esc = true;
      else esc = false;
    }
  }
  let text = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) text += ' ';
    if (esc) {
      const u = unescape(args[i]!, true);
      text += u.text;
      if (u.stop) return writeAll(p, prog, text);
    } else text += args[i]!;
  }
  if (nl) text += '\n';
  return writeAll(p, prog, text);
}

/** printf FORMAT [ARGS]: the format is reused while arguments remain. */
export async function printfMain(p: Process, prog: string): Promise<number> {
  const fmt = p.argv[1];
  if (fmt === undefined) {
    await err(p, `${prog}: usage: printf FORMAT [ARGUMENT]...\n`);
    return 1;
  }
  const args = p.argv.slice(2);
  let ai = 0;
  let rc = 0;
  let text = '';
  const next = (): string | undefined => args[ai++];
  const toNum = async (s: string | undefined): Promise<number> => {
    if (s === undefined || s === '') return 0;
    if (/^'/.test(s) || /^"/.test(s)) return s.charCodeAt(1) || 0;
    const v = /^0x/i.test(s) ? parseInt(s, 16) : /^-?\d+$/.test(s) ? Number(s) : NaN;
    if (Number.isNaN(v)) {
      await err(p, `${prog}: invalid number '${s}'\n`);
      rc = 1;
      return 0;
    }
    return v;
  };
  do {
    for (let i = 0; i < fmt.length; i++) {
      const c = fmt[i]!;
      if (c === '\\') {
        const m = /^\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/s.exec(fmt.slice(i))![0];
        const u = unescape(m, false);
        text += u.text;
        if (u.stop) return (await writeAll(p, prog, text)) || rc;
        i += m.length - 1;
        continue;
      }
      if (c !== '%') {
        text += c;
        continue;
      }
      const m = /^%([-+ #0]*)(\d+|\*)?(?:\.(\d+|\*))?([sdiuxXocb%])/.exec(fmt.slice(i));
      if (!m) {
        text += c;
        continue;
      }
      i += m[0].length - 1;
      const conv = m[4]!;
      if (conv === '%') {
        text += '%';
        continue;
      }
      const flags = m[1] ?? '';
      const width = m[2] === '*' ? await toNum(next()) : m[2] ? Number(m[2]) : 0;
      const prec = m[3] === '*' ? await toNum(next()) : m[3] !== undefined ? Number(m[3]) : undefined;
      let s: string;
      const a = next();
      switch (conv) {
        case 's':
          s = a ?? '';
          if (prec !== undefined) s = s.slice(0, prec);
          break;
        case 'b':
          s = unescape(a ?? '', true).text;
          break;
        case 'c':
          s = (a ?? '').slice(0, 1);
          break;
        default: {
          const v = await toNum(a);
          const base = conv === 'x' || conv === 'X' ? 16 : conv === 'o' ? 8 : 10;
          let digits = Math.abs(Math.trunc(v)).toString(base);
          if (conv === 'X') digits = digits.toUpperCase();
          if (prec !== undefined) digits = digits.padStart(prec, '0');
          const sign = v < 0 ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '';
          if (flags.includes('#') && v !== 0 && base !== 10) digits = (base === 16 ? (conv === 'X' ? '0X' : '0x') : '0') + digits;
          s = sign + digits;
          if (flags.includes('0') && !flags.includes('-') && prec === undefined) s = sign + digits.padStart(width - sign.length, '0');
        }
      }
      text += flags.includes('-') ? s.padEnd(width) : s.padStart(width);
    }
  } while (ai < args.length && /%[^%]/.test(fmt));
  return (await writeAll(p, prog, text)) || rc;
}

// ---- test / [ ----

class TestError {
  readonly msg: string;
  constructor(msg: string) {
    this.msg = msg;
  }
}

const FILE_OPS = new Set(['-e', '-f', '-d', '-L', '-h', '-b', '-c', '-p', '-S', '-r', '-w', '-x', '-s', '-k', '-u', '-g', '-O', '-G']);
const BIN_OPS = new Set(['=', '==', '!=', '-eq', '-ne', '-lt', '-le', '-gt', '-ge', '-nt', '-ot', '-ef', '<', '>']);

/** test EXPR / [ EXPR ]: 0 true, 1 false, 2 on error. */
export async function testMain(p: Process, prog: string): Promise<number> {
  let args = p.argv.slice(1);
  const name = p.argv[0] ?? 'test';
  const me = prog === 'sh' ? `sh: ${name}` : name;
  if (name === '[' || name.endsWith('/[')) {
    if (args[args.length - 1] !== ']') {
      await err(p, `${me}: missing ]\n`);
      return 2;
    }
    args = args.slice(0, -1);
  }
  const statOf = async (path: string, link: boolean): Promise<Stat | null> => {
    try {
      const full = resolvePath(p.cwd, path);
      return link ? await p.sys.lstat(full) : await p.sys.stat(full);
    } catch {
      return null;
    }
  };
  const num = (s: string): number => {
    const t = s.trim();
    if (!/^[-+]?\d+$/.test(t)) throw new TestError(`${s}: bad number`);
    return Number(t);
  };
  const cred = p.sys.getcred();
  const access = (st: Stat, bit: number): boolean => {
    if (cred.uid === 0) return bit !== 1 || (st.mode & 0o111) !== 0 || (st.mode & S_IFMT) === S_IFDIR;
    const shift = st.uid === cred.uid ? 6 : st.gid === cred.gid ? 3 : 0;
    return ((st.mode >> shift) & bit) !== 0;
  };
  const fileTest = async (op: string, path: string): Promise<boolean> => {
    const st = await statOf(path, op === '-L' || op === '-h');
    if (!st) return false;
    const t = st.mode & S_IFMT;
    switch (op) {
      case '-e':
        return true;
      case '-f':
        return t === S_IFREG;
      case '-d':
        return t === S_IFDIR;
      case '-L':
      case '-h':
        return t === S_IFLNK;
      case '-b':
        return t === S_IFBLK;
      case '-c':
        return t === S_IFCHR;
      case '-p':
        return t === S_IFIFO;
      case '-S':
        return t === S_IFSOCK;
      case '-s':
        return st.size > 0;
      case '-r':
        return access(st, 4);
      case '-w':
        return access(st, 2);
      case '-x':
        return access(st, 1);
      case '-k':
        return (st.mode & 0o1000) !== 0;
      case '-u':
        return (st.mode & 0o4000) !== 0;
      case '-g':
        return (st.mode & 0o2000) !== 0;
      case '-O':
        return st.uid === cred.uid;
      case '-G':
        return st.gid === cred.gid;
      default:
        return false;
    }
  };
  const binary = async (a: string, op: string, b: string): Promise<boolean> => {
    switch (op) {
      case '=':
      case '==':
        return a === b;
      case '!=':
        return a !== b;
      case '<':
        return a < b;
      case '>':
        return a > b;
      case '-eq':
        return num(a) === num(b);
      case '-ne':
        return num(a) !== num(b);
      case '-lt':
        return num(a) < num(b);
      case '-le':
        return num(a) <= num(b);
      case '-gt':
        return num(a) > num(b);
      case '-ge':
        return num(a) >= num(b);
      default: {
        const sa = await statOf(a, false);
        const sb = await statOf(b, false);
        if (op === '-ef') return !!sa && !!sb && sa.ino === sb.ino && sa.dev === sb.dev;
        if (op === '-nt') return !!sa && (!sb || sa.mtime > sb.mtime);
        return !!sb && (!sa || sa.mtime < sb.mtime);
      }
    }
  };
  // Recursive descent over: or := and (-o and)*; and := not (-a not)*; not := ! not | primary.
  let i = 0;
  const peek = (k = 0): string | undefined => args[i + k];
  const primary = async (): Promise<boolean> => {
    const a = peek();
    if (a === undefined) throw new TestError('argument expected');
    if (a === '(' && args.length - i > 1 && !BIN_OPS.has(peek(1) ?? '')) {
      i++;
      const v = await orExpr();
      if (peek() !== ')') throw new TestError(`')' expected`);
      i++;
      return v;
    }
    if (BIN_OPS.has(peek(1) ?? '') && peek(2) !== undefined) {
      i += 3;
      return binary(a, args[i - 2]!, args[i - 1]!);
    }
    if (FILE_OPS.has(a) && peek(1) !== undefined) {
      i += 2;
      return fileTest(a, args[i - 1]!);
    }
    if ((a === '-n' || a === '-z') && peek(1) !== undefined) {
      i += 2;
      return a === '-n' ? args[i - 1]! !== '' : args[i - 1]! === '';
    }
    if (a === '-t' && peek(1) !== undefined) {
      i += 2;
      return false;
    }
    i++;
    return a !== '';
  };
  const notExpr = async (): Promise<boolean> => {
    if (peek() === '!' && args.length - i > 1) {
      i++;
      return !(await notExpr());
    }
    return primary();
  };
  const andExpr = async (): Promise<boolean> => {
    let v = await notExpr();
    while (peek() === '-a') {
      i++;
      const r = await notExpr();
      v = v && r;
    }
    return v;
  };
  const orExpr = async (): Promise<boolean> => {
    let v = await andExpr();
    while (peek() === '-o') {
      i++;
      const r = await andExpr();
      v = v || r;
    }
    return v;
  };
  try {
    if (args.length === 0) return 1;
    const v = await orExpr();
    if (i < args.length) throw new TestError(`${args[i]}: unknown operand`);
    return v ? 0 : 1;
  } catch (e) {
    if (!(e instanceof TestError)) throw e;
    await err(p, `${me}: ${e.msg}\n`);
    return 2;
  }
}
