// Models editors/sed.c (busybox 1.36): sed [-inrEs] [-e SCRIPT]… [-f FILE]… [SCRIPT] [FILE]… — addresses
// (N, $, /RE/, \cREc, ranges A1,A2 and A1,+N, `!`), commands s (g, p, N, I, w), p, P, d, D, q, Q, =, a, i,
// c, y, n, N, h, H, g, G, x, l, b/t/T with labels, { }, #; POSIX basic regular expressions (extended with
// -r/-E) translated to JavaScript ones; -i edits files in place.

import { isErrno } from '../kernel/errno.ts';
import { O_CREAT, O_TRUNC, O_WRONLY } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, err, latin1, readFile, resolvePath } from './applet.ts';

type Addr = { kind: 'line'; n: number } | { kind: 'last' } | { kind: 're'; re: RegExp | null } | { kind: 'step'; n: number };

interface Cmd {
  a1: Addr | null;
  a2: Addr | null;
  neg: boolean;
  name: string;
  /** s: regex (null = the last one used), replacement, flags. */
  re?: RegExp | null;
  repl?: string;
  global?: boolean;
  nth?: number;
  print?: number;
  wfile?: string;
  /** a, i, c: text; b, t, T: label; y: the two sets; w: file. */
  text?: string;
  label?: string;
  ySrc?: string;
  yDst?: string;
  /** { … }: index of the matching }. */
  blockEnd?: number;
  /** Range state. */
  inRange?: boolean;
  rangeEnd?: number;
}

class SedError extends Error {}

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: '0-9A-Za-z', upper: 'A-Z', lower: 'a-z', space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', print: ' -~', graph: '!-~', cntrl: '\\x00-\\x1f\\x7f', xdigit: '0-9A-Fa-f',
};

/** A POSIX regular expression (basic unless `ere`) as a JavaScript one. */
export function posixRegex(src: string, ere: boolean, flags: string): RegExp {
  let out = '';
  let atStart = true;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '[') {
      let j = i + 1;
      let body = '';
      if (src[j] === '^') { body += '^'; j++; }
      if (src[j] === ']') { body += '\\]'; j++; }
      for (; j < src.length && src[j] !== ']'; j++) {
        const cls = /^\[:([a-z]+):\]/.exec(src.slice(j));
        if (cls && CLASSES[cls[1]!] !== undefined) {
          body += CLASSES[cls[1]!];
          j += cls[0].length - 1;
        } else if (src[j] === '\\') body += '\\\\';
        else if (src[j] === '[') body += '\\[';
        else body += src[j];
      }
      if (j >= src.length) throw new SedError('unmatched [');
      out += `[${body}]`;
      i = j;
      atStart = false;
      continue;
    }
    if (c === '\\' && i + 1 < src.length) {
      const n = src[++i]!;
      if (!ere && '(){}+?|'.includes(n)) {
        out += n;
        atStart = n === '(' || n === '|';
        continue;
      }
      if (n === 'n') out += '\\n';
      else if (n === 't') out += '\\t';
      else if (/[1-9]/.test(n)) out += `\\${n}`;
      else if (n === '<' || n === '>') out += '\\b';
      else if (/[a-zA-Z]/.test(n) && !'wWsSbB'.includes(n)) out += n;
      else out += `\\${n}`;
      atStart = false;
      continue;
    }
    if (c === '*' && atStart) {
      out += '\\*';
      atStart = false;
      continue;
    }
    if (!ere && '(){}+?|'.includes(c)) out += `\\${c}`;
    else if (c === '/') out += '\\/';
    else out += c;
    atStart = c === '^' || (ere && (c === '(' || c === '|'));
  }
  return new RegExp(out, flags);
}

/** Parses the script text into commands. */
class Parser {
  readonly cmds: Cmd[] = [];
  readonly ere: boolean;
  #s = '';
  #i = 0;
  readonly #blocks: number[] = [];

  constructor(ere: boolean) {
    this.ere = ere;
  }

  add(script: string): void {
    this.#s = script;
    this.#i = 0;
    while (this.#i < this.#s.length) this.#one();
  }

  finish(): Cmd[] {
    if (this.#blocks.length > 0) throw new SedError('unmatched {');
    return this.cmds;
  }

  #peek(): string | undefined {
    return this.#s[this.#i];
  }

  #skipWs(): void {
    while (this.#i < this.#s.length && /[ \t]/.test(this.#s[this.#i]!)) this.#i++;
  }

  /**
   * Text up to an unescaped `delim`: `\delim` stands for the delimiter itself (kept escaped when it is `&` in a
   * replacement, `repl`), every other escape is kept for the regex or replacement parser.
   */
  #delimited(delim: string, repl: boolean): string {
    let t = '';
    for (; this.#i < this.#s.length; this.#i++) {
      const c = this.#s[this.#i]!;
      if (c === '\\' && this.#i + 1 < this.#s.length) {
        const n = this.#s[++this.#i]!;
        t += n === delim && !(repl && n === '&') ? n : `\\${n}`;
        continue;
      }
      if (c === delim) {
        this.#i++;
        return t;
      }
      if (c === '\n' && !repl) break;
      t += c;
    }
    throw new SedError(`unmatched '${delim}'`);
  }

  #addr(): Addr | null {
    const c = this.#peek();
    if (c === undefined) return null;
    if (/[0-9]/.test(c)) {
      const m = /^\d+/.exec(this.#s.slice(this.#i))!;
      this.#i += m[0].length;
      return { kind: 'line', n: Number(m[0]) };
    }
    if (c === '$') {
      this.#i++;
      return { kind: 'last' };
    }
    if (c === '/' || c === '\\') {
      let delim = '/';
      if (c === '\\') {
        delim = this.#s[this.#i + 1] ?? '';
        this.#i++;
      }
      this.#i++;
      const src = this.#delimited(delim, false);
      let flags = '';
      if (this.#peek() === 'I') {
        flags = 'i';
        this.#i++;
      }
      return { kind: 're', re: src === '' ? null : posixRegex(src, this.ere, flags) };
    }
    return null;
  }

  /** a/i/c text: `a text`, `a\` newline text, with `\` continuing lines. */
  #text(): string {
    this.#skipWs();
    if (this.#peek() === '\\') {
      this.#i++;
      if (this.#peek() === '\n') this.#i++;
      else this.#skipWs();
    }
    let t = '';
    for (; this.#i < this.#s.length; this.#i++) {
      const c = this.#s[this.#i]!;
      if (c === '\\' && this.#i + 1 < this.#s.length) {
        t += this.#s[++this.#i]!;
        continue;
      }
      if (c === '\n') {
        this.#i++;
        break;
      }
      t += c;
    }
    return t;
  }

  #label(): string {
    this.#skipWs();
    const m = /^[^;\n}]*/.exec(this.#s.slice(this.#i))!;
    this.#i += m[0].length;
    return m[0].trim();
  }

  #one(): void {
    while (this.#i < this.#s.length && /[ \t\n;]/.test(this.#s[this.#i]!)) this.#i++;
    if (this.#i >= this.#s.length) return;
    if (this.#peek() === '#') {
      while (this.#i < this.#s.length && this.#s[this.#i] !== '\n') this.#i++;
      return;
    }
    const cmd: Cmd = { a1: this.#addr(), a2: null, neg: false, name: '' };
    if (cmd.a1 !== null && this.#peek() === ',') {
      this.#i++;
      if (this.#peek() === '+') {
        this.#i++;
        const m = /^\d+/.exec(this.#s.slice(this.#i));
        if (!m) throw new SedError('expected number');
        this.#i += m[0].length;
        cmd.a2 = { kind: 'step', n: Number(m[0]) };
      } else {
        cmd.a2 = this.#addr();
        if (cmd.a2 === null) throw new SedError('unexpected \',\'');
      }
    }
    this.#skipWs();
    while (this.#peek() === '!') {
      cmd.neg = true;
      this.#i++;
      this.#skipWs();
    }
    const name = this.#peek();
    if (name === undefined) throw new SedError('missing command');
    this.#i++;
    cmd.name = name;
    switch (name) {
      case '{':
        this.#blocks.push(this.cmds.length);
        break;
      case '}': {
        const open = this.#blocks.pop();
        if (open === undefined) throw new SedError('unexpected }');
        this.cmds[open]!.blockEnd = this.cmds.length;
        break;
      }
      case 's': {
        const delim = this.#peek();
        if (delim === undefined || delim === '\n' || delim === '\\') throw new SedError("unmatched 's'");
        this.#i++;
        const src = this.#delimited(delim, false);
        cmd.repl = this.#delimited(delim, true);
        cmd.global = false;
        cmd.nth = 1;
        cmd.print = 0;
        let flags = '';
        for (;;) {
          const f = this.#peek();
          if (f === 'g') cmd.global = true;
          else if (f === 'p') cmd.print!++;
          else if (f === 'i' || f === 'I') flags = 'i';
          else if (f !== undefined && /[0-9]/.test(f)) {
            const m = /^\d+/.exec(this.#s.slice(this.#i))!;
            cmd.nth = Number(m[0]);
            this.#i += m[0].length - 1;
          } else if (f === 'w') {
            this.#i++;
            cmd.wfile = this.#label();
            break;
          } else break;
          this.#i++;
        }
        cmd.re = src === '' ? null : posixRegex(src, this.ere, flags);
        break;
      }
      case 'y': {
        const delim = this.#peek() ?? '/';
        this.#i++;
        const unesc = (t: string): string => t.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
        cmd.ySrc = unesc(this.#delimited(delim, false));
        cmd.yDst = unesc(this.#delimited(delim, false));
        if ([...cmd.ySrc].length !== [...cmd.yDst].length) throw new SedError('strings for y command are different lengths');
        break;
      }
      case 'a': case 'i': case 'c':
        cmd.text = this.#text();
        break;
      case 'b': case 't': case 'T': case ':':
        cmd.label = this.#label();
        if (name === ':' && cmd.label === '') throw new SedError("':' lacks a label");
        break;
      case 'w': case 'r':
        cmd.text = this.#label();
        break;
      case 'p': case 'P': case 'd': case 'D': case 'q': case 'Q': case '=': case 'n': case 'N': case 'h': case 'H':
      case 'g': case 'G': case 'x': case 'l': case 'z':
        break;
      default:
        throw new SedError(`unsupported command ${name}`);
    }
    this.cmds.push(cmd);
  }
}

/** The `l` command's unambiguous form of the pattern space. */
function listLine(s: string): string {
  let t = '';
  const names: Record<string, string> = { '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    if (names[ch] !== undefined) t += names[ch];
    else if (code < 32 || code >= 127) t += `\\${code.toString(8).padStart(3, '0')}`;
    else t += ch;
  }
  return `${t}$\n`;
}

export async function sedMain(p: Process): Promise<number> {
  const args = p.argv.slice(1);
  let quiet = false;
  let inPlace: string | null = null;
  let ere = false;
  const scripts: string[] = [];
  const files: string[] = [];
  let i = 0;
  try {
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--') { i++; break; }
      if (!a.startsWith('-') || a === '-') {
        files.push(a);
        continue;
      }
      if (a === '--quiet' || a === '--silent') { quiet = true; continue; }
      if (a === '--regexp-extended') { ere = true; continue; }
      if (a.startsWith('--expression=')) { scripts.push(a.slice(13)); continue; }
      if (a.startsWith('--in-place')) { inPlace = a.startsWith('--in-place=') ? a.slice(11) : ''; continue; }
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === 'n') quiet = true;
        else if (c === 'r' || c === 'E') ere = true;
        else if (c === 's' || c === 'z') continue;
        else if (c === 'i') {
          inPlace = a.slice(j + 1);
          break;
        } else if (c === 'e' || c === 'f') {
          const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
          if (v === undefined) {
            await err(p, `sed: option requires an argument -- '${c}'\nBusyBox v1.36.1 multi-call binary.\n\nUsage: sed [-i[SFX]] [-nrE] [-f FILE]... [-e CMD]... [FILE]...\n`);
            return 1;
          }
          if (c === 'e') scripts.push(v);
          else {
            try {
              scripts.push(latin1(await readFile(p.sys, resolvePath(p.cwd, v))).replace(/\n$/, ''));
            } catch (e) {
              if (!isErrno(e)) throw e;
              await err(p, `sed: can't open '${v}': ${e.message}\n`);
              return 1;
            }
          }
          break;
        } else {
          await err(p, `sed: invalid option -- '${c}'\nBusyBox v1.36.1 multi-call binary.\n\nUsage: sed [-i[SFX]] [-nrE] [-f FILE]... [-e CMD]... [FILE]...\n`);
          return 1;
        }
      }
    }
    files.push(...args.slice(i));
    if (scripts.length === 0) {
      const s = files.shift();
      if (s === undefined) {
        await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: sed [-i[SFX]] [-nrE] [-f FILE]... [-e CMD]... [FILE]...\n');
        return 1;
      }
      scripts.push(s);
    }
    const parser = new Parser(ere);
    for (const s of scripts) parser.add(s);
    const cmds = parser.finish();
    if (inPlace !== null) {
      if (files.length === 0) {
        await err(p, 'sed: no files to edit in place\n');
        return 1;
      }
      let rc = 0;
      for (const f of files) {
        const path = resolvePath(p.cwd, f);
        let data: Uint8Array;
        try {
          data = await readFile(p.sys, path);
        } catch (e) {
          if (!isErrno(e)) throw e;
          await err(p, `sed: can't open '${f}': ${e.message}\n`);
          rc = 1;
          continue;
        }
        const run = new SedRun(p, cmds, quiet);
        await run.feed([latin1(data)]);
        const fd = await p.sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
        try {
          await p.sys.write(fd, Uint8Array.from(run.output, (c) => c.charCodeAt(0) & 255));
        } finally {
          await p.sys.close(fd);
        }
      }
      return rc;
    }
    const texts: string[] = [];
    let rc = 0;
    for (const f of files.length > 0 ? files : ['-']) {
      try {
        texts.push(latin1(f === '-' ? await p.stdin.readAll() : await readFile(p.sys, resolvePath(p.cwd, f))));
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(p, `sed: can't open '${f}': ${e.message}\n`);
        rc = 1;
      }
    }
    const run = new SedRun(p, cmds, quiet);
    await run.feed(texts);
    const out = new Out(p, 'sed', true);
    out.print(run.output);
    await out.flush();
    if (out.failed) return 4;
    return run.exitCode ?? rc;
  } catch (e) {
    if (e instanceof SedError) {
      await err(p, `sed: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** One pass of the commands over the concatenated input (files are one stream, as without -s). */
class SedRun {
  readonly #p: Process;
  readonly #cmds: Cmd[];
  readonly #quiet: boolean;
  output = '';
  exitCode: number | null = null;
  #lastRe: RegExp | null = null;
  #hold = '';
  #lines: string[] = [];
  #noFinalNewline = false;
  #idx = 0;
  #lineNo = 0;
  readonly #wfiles = new Map<string, string>();

  constructor(p: Process, cmds: Cmd[], quiet: boolean) {
    this.#p = p;
    this.#cmds = cmds;
    this.#quiet = quiet;
  }

  #isLast(): boolean {
    return this.#idx >= this.#lines.length;
  }

  #next(): string | null {
    if (this.#idx >= this.#lines.length) return null;
    this.#lineNo++;
    return this.#lines[this.#idx++]!;
  }

  #re(re: RegExp | null): RegExp {
    const r = re ?? this.#lastRe;
    if (r === null) throw new SedError('no previous regexp');
    this.#lastRe = r;
    return r;
  }

  #matchAddr(a: Addr, ps: string): boolean {
    switch (a.kind) {
      case 'line': return this.#lineNo === a.n;
      case 'last': return this.#isLast();
      case 're': {
        const r = this.#re(a.re);
        r.lastIndex = 0;
        return new RegExp(r.source, r.flags.replace('g', '')).test(ps);
      }
      case 'step': return false;
    }
  }

  #selected(c: Cmd, ps: string): boolean {
    let hit: boolean;
    if (c.a1 === null) hit = true;
    else if (c.a2 === null) hit = this.#matchAddr(c.a1, ps);
    else if (c.inRange) {
      hit = true;
      const a2 = c.a2;
      if (a2.kind === 'line') {
        if (this.#lineNo >= a2.n) c.inRange = false;
      } else if (a2.kind === 'step') {
        if (this.#lineNo >= (c.rangeEnd ?? 0)) c.inRange = false;
      } else if (this.#matchAddr(a2, ps)) c.inRange = false;
    } else if (this.#matchAddr(c.a1, ps)) {
      hit = true;
      const a2 = c.a2;
      c.inRange = true;
      if (a2.kind === 'line' && a2.n <= this.#lineNo) c.inRange = false;
      if (a2.kind === 'step') {
        c.rangeEnd = this.#lineNo + a2.n;
        if (a2.n === 0) c.inRange = false;
      }
      if (a2.kind === 'last' && this.#isLast()) c.inRange = false;
    } else hit = false;
    return c.neg ? !hit : hit;
  }

  #subst(c: Cmd, ps: string): string | null {
    const base = this.#re(c.re ?? null);
    const re = new RegExp(base.source, base.flags.includes('g') ? base.flags : `${base.flags}g`);
    let count = 0;
    let changed = false;
    const out = ps.replace(re, (...m: unknown[]) => {
      const match = m[0] as string;
      const groups = m.slice(1, -2) as (string | undefined)[];
      count++;
      if (count < (c.nth ?? 1) || (!c.global && count > (c.nth ?? 1))) return match;
      changed = true;
      let r = '';
      const repl = c.repl ?? '';
      for (let k = 0; k < repl.length; k++) {
        const ch = repl[k]!;
        if (ch === '\\' && k + 1 < repl.length) {
          const n = repl[++k]!;
          if (/[0-9]/.test(n)) r += n === '0' ? match : (groups[Number(n) - 1] ?? '');
          else if (n === 'n') r += '\n';
          else if (n === 't') r += '\t';
          else r += n;
        } else if (ch === '&') r += match;
        else r += ch;
      }
      return r;
    });
    return changed ? out : null;
  }

  #emit(s: string): void {
    this.output += `${s}\n`;
  }

  async feed(texts: string[]): Promise<void> {
    const all = texts.join('');
    this.#noFinalNewline = all.length > 0 && !all.endsWith('\n');
    this.#lines = all.split('\n');
    if (all.endsWith('\n') || all === '') this.#lines.pop();
    let ps = this.#next();
    let appendQueue: string[] = [];
    while (ps !== null) {
      let tFlag = false;
      let autoprint = !this.#quiet;
      let restart = false;
      let quit = false;
      let pc = 0;
      const flushAppends = (): void => {
        for (const a of appendQueue) this.#emit(a);
        appendQueue = [];
      };
      while (pc < this.#cmds.length) {
        const c = this.#cmds[pc]!;
        if (c.name === '}' || c.name === ':') {
          pc++;
          continue;
        }
        if (!this.#selected(c, ps)) {
          pc = c.name === '{' ? (c.blockEnd ?? pc) + 1 : pc + 1;
          continue;
        }
        switch (c.name) {
          case '{': break;
          case 's': {
            const r = this.#subst(c, ps);
            if (r !== null) {
              ps = r;
              tFlag = true;
              for (let k = 0; k < (c.print ?? 0); k++) this.#emit(ps);
              if (c.wfile) this.#wfiles.set(c.wfile, (this.#wfiles.get(c.wfile) ?? '') + `${ps}\n`);
            }
            break;
          }
          case 'p': this.#emit(ps); break;
          case 'P': this.#emit(ps.split('\n')[0]!); break;
          case 'd':
            autoprint = false;
            pc = this.#cmds.length;
            continue;
          case 'D': {
            const nl = ps.indexOf('\n');
            if (nl < 0) {
              autoprint = false;
              pc = this.#cmds.length;
              continue;
            }
            ps = ps.slice(nl + 1);
            restart = true;
            break;
          }
          case 'q':
            quit = true;
            pc = this.#cmds.length;
            continue;
          case 'Q':
            quit = true;
            autoprint = false;
            pc = this.#cmds.length;
            continue;
          case '=': this.output += `${this.#lineNo}\n`; break;
          case 'a': appendQueue.push(c.text ?? ''); break;
          case 'i': this.#emit(c.text ?? ''); break;
          case 'c':
            if (c.a2 === null || !c.inRange || c.neg) this.#emit(c.text ?? '');
            autoprint = false;
            pc = this.#cmds.length;
            continue;
          case 'y': {
            const src = [...(c.ySrc ?? '')];
            const dst = [...(c.yDst ?? '')];
            ps = [...ps].map((ch) => {
              const k = src.indexOf(ch);
              return k < 0 ? ch : dst[k]!;
            }).join('');
            break;
          }
          case 'n': {
            if (!this.#quiet) this.#emit(ps);
            flushAppends();
            const n = this.#next();
            if (n === null) {
              autoprint = false;
              quit = true;
              pc = this.#cmds.length;
              continue;
            }
            ps = n;
            break;
          }
          case 'N': {
            const n = this.#next();
            if (n === null) {
              // GNU and busybox print the pattern space when N runs out of input.
              pc = this.#cmds.length;
              quit = true;
              continue;
            }
            ps = `${ps}\n${n}`;
            break;
          }
          case 'h': this.#hold = ps; break;
          case 'H': this.#hold = `${this.#hold}\n${ps}`; break;
          case 'g': ps = this.#hold; break;
          case 'G': ps = `${ps}\n${this.#hold}`; break;
          case 'x': [ps, this.#hold] = [this.#hold, ps]; break;
          case 'l': this.output += listLine(ps); break;
          case 'z': ps = ''; break;
          case 'w': case 'r':
            if (c.name === 'w') this.#wfiles.set(c.text ?? '', (this.#wfiles.get(c.text ?? '') ?? '') + `${ps}\n`);
            break;
          case 'b': case 't': case 'T': {
            const jump = c.name === 'b' || (c.name === 't' ? tFlag : !tFlag);
            if (c.name !== 'b') tFlag = false;
            if (jump) {
              if (c.label === '') {
                pc = this.#cmds.length;
                continue;
              }
              const target = this.#cmds.findIndex((x) => x.name === ':' && x.label === c.label);
              if (target < 0) throw new SedError(`can't find label for jump to '${c.label ?? ''}'`);
              pc = target + 1;
              continue;
            }
            break;
          }
        }
        if (restart) break;
        pc++;
      }
      if (restart) {
        // D: the rest of the pattern space starts the next cycle, without reading input or printing.
        flushAppends();
        continue;
      }
      if (autoprint) this.#emit(ps);
      flushAppends();
      if (quit) break;
      ps = this.#next();
    }
    if (this.#noFinalNewline && this.#idx >= this.#lines.length && this.output.endsWith('\n')) this.output = this.output.slice(0, -1);
    for (const [file, data] of this.#wfiles) {
      try {
        const fd = await this.#p.sys.open(resolvePath(this.#p.cwd, file), O_WRONLY | O_CREAT | O_TRUNC, 0o666);
        try { await this.#p.sys.write(fd, Uint8Array.from(data, (ch) => ch.charCodeAt(0) & 255)); } finally { await this.#p.sys.close(fd); }
      } catch (e) {
        if (!isErrno(e)) throw e;
        await err(this.#p, `sed: can't open '${file}': ${e.message}\n`);
      }
    }
  }
}
