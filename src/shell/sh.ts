// Models shell/ash.c (busybox 1.36): the guest's `sh` — executes parsed command lines with ash's
// semantics and ash's own error texts, against the kernel only through Syscalls.
//
// Parser choice (details in docs/SHELL.md): the grammar comes from mvdan/sh (npm `mvdan-sh`,
// LangPOSIX), adapted in sh_parse.ts; this file is the executor. Candidates weighed:
//  - just-bash: a whole simulated bash (25 MB installed with its dependencies), bash semantics and
//    bash error texts, its own filesystem interface; we need ash's texts and our Syscalls.
//  - sh-syntax (mvdan/sh as wasm): async-only, ~4 ms a parse, and its JSON AST drops node types.
//  - bash-parser: unmaintained since 2017, bash grammar, no incomplete-input signal.
//  - mvdan-sh: synchronous, ~0.3 ms a parse, full typed AST, a POSIX mode, and IsIncomplete() for
//    continuation lines. Chosen; token codes are calibrated at load (sh_parse.ts).
//
// Execution is async all the way down: a command waiting on the virtual clock (sleep, I/O on a
// device) never blocks a background job, which runs as its own promise. Subshells, pipeline stages,
// `$(…)` and `&` jobs get a copy of the shell state, as ash's fork would give them.

import { Errno, isErrno } from '../kernel/errno.ts';
import type { Syscalls } from '../kernel/syscalls.ts';
import { O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFDIR, S_IFMT, S_IFREG } from '../kernel/syscalls.ts';
import type { Command, InputStream, OutputStream, Process } from './process.ts';
import type { CommandRegistry } from './registry.ts';
import { BytesChannel, KernelChannel, LineRecord, Pipe, RecordChannel, SigPipe } from './sh_io.ts';
import type { Channel, LineResult } from './sh_io.ts';
import type { Arith, Cmd, Redir, Stmt, Word, WordPart } from './sh_parse.ts';
import { ShSyntaxError, parseScript } from './sh_parse.ts';
import { echoMain, printfMain, testMain } from './builtins.ts';
import { normalizePath, resolvePath } from './applet.ts';

export { isIncomplete } from './sh_parse.ts';

export type { LineResult } from './sh_io.ts';

interface State {
  vars: Map<string, string>;
  exported: Set<string>;
  funcs: Map<string, Stmt>;
  cwd: string;
  positional: string[];
  errexit: boolean;
  status: number;
  lastBg: number | null;
}

function cloneState(s: State): State {
  return {
    vars: new Map(s.vars),
    exported: new Set(s.exported),
    funcs: new Map(s.funcs),
    cwd: s.cwd,
    positional: [...s.positional],
    errexit: s.errexit,
    status: s.status,
    lastBg: s.lastBg,
  };
}

interface Ctx {
  readonly st: State;
  readonly fds: Map<number, Channel>;
  readonly sys: Syscalls;
  /** In an if/while condition or the left of && ||: `set -e` does not apply. */
  readonly cond: boolean;
  /** Inside a function (for `return` and `local`). */
  readonly fn: boolean;
  /** Inside a subshell: `exit` ends only it. */
  readonly sub: boolean;
}

/** Control flow, as exceptions through the async executor. */
class ExitSignal {
  readonly status: number;
  constructor(status: number) {
    this.status = status;
  }
}
class ReturnSignal {
  readonly status: number;
  constructor(status: number) {
    this.status = status;
  }
}
class LoopSignal {
  readonly kind: 'break' | 'continue';
  levels: number;
  constructor(kind: 'break' | 'continue', levels: number) {
    this.kind = kind;
    this.levels = levels;
  }
}
/** An ash error that aborts the current command line (ash_msg_and_raise_error): `sh: MSG`. */
class ShError {
  readonly msg: string;
  readonly status: number;
  constructor(msg: string, status = 2) {
    this.msg = msg;
    this.status = status;
  }
}

/** A piece of an expanded word: quoted text takes no field splitting or globbing. */
interface Frag {
  s: string;
  q: boolean;
  split: boolean;
}
type Piece = Frag | 'break';

const DEFAULT_IFS = ' \t\n';

export interface ShellOptions {
  readonly sys: Syscalls;
  readonly registry: CommandRegistry;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

interface Job {
  readonly pid: number;
  readonly done: Promise<number>;
  status: number | null;
}

/** A persistent `sh`: variables, functions, cwd and background jobs live across lines. */
export class Shell {
  readonly sys: Syscalls;
  readonly registry: CommandRegistry;
  readonly #st: State;
  readonly #jobs = new Map<number, Job>();
  #nextPid = 200;
  /** Lines still running, oldest first: background output goes to the newest. */
  readonly #active: LineRecord[] = [];
  /** Output written by background jobs while no line was running. */
  #pending = new LineRecord();
  #exited: number | null = null;

  constructor(opts: ShellOptions) {
    this.sys = opts.sys;
    this.registry = opts.registry;
    const env: Record<string, string> = { PATH: '/sbin:/usr/sbin:/bin:/usr/bin', HOME: '/', TERM: 'linux', ...opts.env };
    const cwd = opts.cwd ?? '/';
    this.#st = {
      vars: new Map([...Object.entries(env), ['PWD', cwd]]),
      exported: new Set([...Object.keys(env), 'PWD']),
      funcs: new Map(),
      cwd,
      positional: [],
      errexit: false,
      status: 0,
      lastBg: null,
    };
    this.#st.vars.set('IFS', DEFAULT_IFS);
    this.#st.vars.set('PS1', '# ');
  }

  /** Exit status given to `exit`, once the shell has exited (further lines are not run). */
  get exited(): number | null {
    return this.#exited;
  }

  get cwd(): string {
    return this.#st.cwd;
  }

  getVar(name: string): string | undefined {
    return this.#st.vars.get(name);
  }

  /** True while a background job is still running. */
  get hasJobs(): boolean {
    return [...this.#jobs.values()].some((j) => j.status === null);
  }

  /** Output that background jobs wrote while no line was running (taken once). */
  takePendingOutput(): { stdout: string; stderr: string; tty: string } {
    const r = this.#pending;
    this.#pending = new LineRecord();
    return { stdout: r.stdout, stderr: r.stderr, tty: r.tty };
  }

  #currentRecord(): LineRecord {
    return this.#active[this.#active.length - 1] ?? this.#pending;
  }

  /** Runs one command line (possibly several lines of a compound command) and returns its record. */
  async run(line: string): Promise<LineResult> {
    const rec = new LineRecord();
    rec.prepend(this.takePendingOutput());
    if (this.#exited !== null) return rec.result(this.#exited);
    this.#active.push(rec);
    const ctx: Ctx = {
      st: this.#st,
      fds: new Map<number, Channel>([
        [0, new BytesChannel('')],
        [1, new RecordChannel(() => rec, 'stdout')],
        [2, new RecordChannel(() => rec, 'stderr')],
      ]),
      sys: this.sys,
      cond: false,
      fn: false,
      sub: false,
    };
    try {
      let stmts: Stmt[];
      try {
        stmts = parseScript(line);
      } catch (e) {
        if (!(e instanceof ShSyntaxError)) throw e;
        rec.append('stderr', `sh: syntax error: ${ashSyntaxText(e)}\n`);
        this.#st.status = 2;
        return rec.result(2);
      }
      await this.#guard(ctx, () => this.#list(stmts, ctx));
      return rec.result(this.#st.status);
    } finally {
      this.#active.splice(this.#active.indexOf(rec), 1);
    }
  }

  /**
   * Runs a script with the given standard streams (for `sh -c`, `su -c`, `sh FILE`): the streams
   * are the caller's, not a record. Returns the exit status.
   */
  async exec(text: string, io: { stdin: InputStream; stdout: OutputStream; stderr: OutputStream }, argv0Args: readonly string[] = []): Promise<number> {
    const wrap = (s: Partial<InputStream & OutputStream>): Channel => ({
      read: (n) => (s.read ? s.read(n) : Promise.reject(new Errno('EBADF', 'read'))),
      readAll: () => (s.readAll ? s.readAll() : Promise.reject(new Errno('EBADF', 'read'))),
      write: (d) => (s.write ? s.write(d) : Promise.reject(new Errno('EBADF', 'write'))),
      close: async () => {},
    });
    this.#st.positional = [...argv0Args];
    const ctx: Ctx = {
      st: this.#st,
      fds: new Map<number, Channel>([
        [0, wrap(io.stdin)],
        [1, wrap(io.stdout)],
        [2, wrap(io.stderr)],
      ]),
      sys: this.sys,
      cond: false,
      fn: false,
      sub: false,
    };
    let stmts: Stmt[];
    try {
      stmts = parseScript(text);
    } catch (e) {
      if (!(e instanceof ShSyntaxError)) throw e;
      await this.#err(ctx, `sh: syntax error: ${ashSyntaxText(e)}\n`);
      return 2;
    }
    await this.#guard(ctx, () => this.#list(stmts, ctx));
    await this.waitJobs([]);
    return this.#exited ?? this.#st.status;
  }

  /** Top-level handler: `exit`, and ash errors that abort the line. */
  async #guard(ctx: Ctx, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof ExitSignal) {
        ctx.st.status = e.status;
        if (!ctx.sub) this.#exited = e.status;
      } else if (e instanceof ShError) {
        await this.#err(ctx, `sh: ${e.msg}\n`);
        ctx.st.status = e.status;
      } else if (e instanceof ReturnSignal) {
        ctx.st.status = e.status;
      } else if (e instanceof LoopSignal) {
        // break/continue outside a loop is ignored, as in ash
      } else if (e instanceof SigPipe) {
        ctx.st.status = 141;
      } else {
        throw e;
      }
    }
  }

  async #err(ctx: Ctx, text: string): Promise<void> {
    const ch = ctx.fds.get(2);
    if (!ch) return;
    try {
      await ch.write(text);
    } catch {
      // nowhere left to report it
    }
  }

  // ---- lists and compound commands ----

  async #list(stmts: readonly Stmt[], ctx: Ctx): Promise<number> {
    let status = ctx.st.status;
    for (const s of stmts) status = await this.#stmt(s, ctx);
    return status;
  }

  async #stmt(s: Stmt, ctx: Ctx): Promise<number> {
    if (s.background) {
      this.#spawn(s, ctx);
      ctx.st.status = 0;
      return 0;
    }
    let status: number;
    const c = s.cmd;
    if (c === null || c.k === 'call') {
      status = await this.#simple(c?.k === 'call' ? c : { k: 'call', assigns: [], args: [] }, s.redirs, ctx);
    } else if (s.redirs.length > 0) {
      const opened: Channel[] = [];
      const fds = new Map(ctx.fds);
      const ok = await this.#redirect(s.redirs, fds, opened, ctx);
      if (!ok) status = 1;
      else {
        try {
          status = await this.#compound(c, { ...ctx, fds });
        } finally {
          for (const ch of opened) await ch.close();
        }
      }
    } else {
      status = await this.#compound(c, ctx);
    }
    if (s.negated) status = status === 0 ? 1 : 0;
    ctx.st.status = status;
    const andOr = c !== null && (c.k === 'and' || c.k === 'or');
    if (ctx.st.errexit && status !== 0 && !ctx.cond && !s.negated && !andOr) throw new ExitSignal(status);
    return status;
  }

  #spawn(s: Stmt, ctx: Ctx): void {
    const pid = this.#nextPid++;
    const fds = new Map<number, Channel>();
    for (const [n, ch] of ctx.fds) {
      // A job's terminal output belongs to whichever line is running when it writes.
      fds.set(n, ch instanceof RecordChannel ? new RecordChannel(() => this.#currentRecord(), ch.which, true) : ch);
    }
    fds.set(0, new BytesChannel(''));
    const sub: Ctx = { ...ctx, st: cloneState(ctx.st), fds, sub: true, cond: false };
    const job: Job = {
      pid,
      status: null,
      done: (async () => {
        await this.#guard(sub, () => this.#stmt({ ...s, background: false }, sub));
        return sub.st.status;
      })(),
    };
    void job.done.then((st) => (job.status = st));
    this.#jobs.set(pid, job);
    ctx.st.lastBg = pid;
  }

  async #compound(c: Cmd, ctx: Ctx): Promise<number> {
    switch (c.k) {
      case 'call':
        return this.#simple(c, [], ctx);
      case 'and':
      case 'or': {
        const x = await this.#stmt(c.x, { ...ctx, cond: true });
        if ((c.k === 'and') === (x === 0)) return this.#stmt(c.y, ctx);
        return x;
      }
      case 'pipe':
        return this.#pipeline(c, ctx);
      case 'if': {
        await this.#list(c.cond, { ...ctx, cond: true });
        if (ctx.st.status === 0) return this.#list(c.then, ctx);
        if (c.else) return this.#list(c.else, ctx);
        return 0;
      }
      case 'while': {
        let status = 0;
        for (;;) {
          const r = await this.#list(c.cond, { ...ctx, cond: true });
          if ((r === 0) === c.until) break;
          const sig = await this.#loopBody(c.body, ctx);
          status = ctx.st.status;
          if (sig === 'break') break;
        }
        return status;
      }
      case 'for': {
        const items = c.items === null ? [...ctx.st.positional] : await this.#expandWords(c.items, ctx);
        let status = 0;
        for (const it of items) {
          this.#setVar(ctx, c.name, it);
          const sig = await this.#loopBody(c.body, ctx);
          status = ctx.st.status;
          if (sig === 'break') break;
        }
        return status;
      }
      case 'case': {
        const w = await this.#expandNoSplit(c.word, ctx);
        for (const it of c.items) {
          for (const p of it.patterns) {
            const re = patternRegExp(await this.#expandPieces(p, ctx, false, true), true);
            if (re.test(w)) return this.#list(it.body, ctx);
          }
        }
        return 0;
      }
      case 'func':
        ctx.st.funcs.set(c.name, c.body);
        return 0;
      case 'block':
        return this.#list(c.body, ctx);
      case 'subshell':
        return this.#subshell(ctx, (sub) => this.#list(c.body, sub));
    }
  }

  async #loopBody(body: readonly Stmt[], ctx: Ctx): Promise<'break' | 'continue' | null> {
    try {
      await this.#list(body, ctx);
      return null;
    } catch (e) {
      if (!(e instanceof LoopSignal)) throw e;
      if (e.levels > 1) {
        e.levels--;
        throw e;
      }
      return e.kind;
    }
  }

  async #subshell(ctx: Ctx, fn: (sub: Ctx) => Promise<unknown>, fds = ctx.fds): Promise<number> {
    const sub: Ctx = { ...ctx, st: cloneState(ctx.st), fds, sub: true, fn: false };
    await this.#guard(sub, () => fn(sub));
    return sub.st.status;
  }

  async #pipeline(c: { readonly x: Stmt; readonly y: Stmt }, ctx: Ctx): Promise<number> {
    const stages: Stmt[] = [];
    const flat = (s: Stmt): void => {
      if (s.cmd?.k === 'pipe' && !s.negated && s.redirs.length === 0) {
        flat(s.cmd.x);
        flat(s.cmd.y);
      } else stages.push(s);
    };
    flat(c.x);
    flat(c.y);
    const runs: Promise<number>[] = [];
    let input: Channel | null = null;
    for (let i = 0; i < stages.length; i++) {
      const fds = new Map(ctx.fds);
      const toClose: Channel[] = [];
      if (input) {
        fds.set(0, input);
        toClose.push(input);
      }
      if (i < stages.length - 1) {
        const p = new Pipe();
        fds.set(1, p.writer);
        toClose.push(p.writer);
        input = p.reader;
      }
      const stage = stages[i]!;
      runs.push(
        this.#subshell(ctx, (sub) => this.#stmt(stage, sub), fds).finally(async () => {
          for (const ch of toClose) await ch.close();
        }),
      );
    }
    const statuses = await Promise.all(runs);
    return statuses[statuses.length - 1] ?? 0;
  }

  // ---- simple commands ----

  async #simple(c: Cmd & { k: 'call' }, redirs: readonly Redir[], ctx: Ctx): Promise<number> {
    let substStatus: number | null = null;
    const track = { onSubst: (st: number) => (substStatus = st) };
    const argv = await this.#expandWords(c.args, ctx, track);
    const assigns: [string, string][] = [];
    for (const a of c.assigns) assigns.push([a.name, await this.#expandNoSplit(a.value, ctx, track)]);

    const fds = new Map(ctx.fds);
    const opened: Channel[] = [];
    try {
      if (!(await this.#redirect(redirs, fds, opened, ctx))) return 1;
      const cctx: Ctx = { ...ctx, fds };
      if (argv.length === 0) {
        for (const [n, v] of assigns) this.#setVar(ctx, n, v);
        return substStatus ?? 0;
      }
      const name = argv[0]!;
      const fn = ctx.st.funcs.get(name);
      if (fn) return await this.#callFunction(fn, argv, assigns, cctx);
      const bi = BUILTINS[name];
      if (bi) {
        if (SPECIAL.has(name)) for (const [n, v] of assigns) this.#setVar(ctx, n, v);
        return await bi(this, argv, cctx);
      }
      return await this.#external(argv, assigns, cctx);
    } finally {
      for (const ch of opened) await ch.close();
    }
  }

  async #callFunction(body: Stmt, argv: string[], assigns: [string, string][], ctx: Ctx): Promise<number> {
    const saved = ctx.st.positional;
    const savedVars = assigns.map(([n]) => [n, ctx.st.vars.get(n)] as const);
    for (const [n, v] of assigns) this.#setVar(ctx, n, v);
    ctx.st.positional = argv.slice(1);
    try {
      return await this.#stmt(body, { ...ctx, fn: true });
    } catch (e) {
      if (e instanceof ReturnSignal) {
        ctx.st.status = e.status;
        return e.status;
      }
      throw e;
    } finally {
      ctx.st.positional = saved;
      for (const [n, v] of savedVars) {
        if (v === undefined) ctx.st.vars.delete(n);
        else ctx.st.vars.set(n, v);
      }
    }
  }

  async #external(argv: string[], assigns: [string, string][], ctx: Ctx): Promise<number> {
    const name = argv[0]!;
    const entry = this.registry.lookup(name);
    if (!entry) {
      if (name.includes('/')) {
        const path = resolvePath(ctx.st.cwd, name);
        let mode: number | null = null;
        try {
          mode = (await ctx.sys.stat(path)).mode;
        } catch {
          mode = null;
        }
        if (mode !== null && (mode & S_IFMT) === S_IFREG) return this.#script(path, argv, ctx);
        if (mode !== null) {
          await this.#err(ctx, `sh: ${name}: Permission denied\n`);
          return 126;
        }
      }
      await this.#err(ctx, `sh: ${name}: not found\n`);
      return 127;
    }
    return this.runCommand(entry.run, argv, ctx.sys, ctx.fds, this.#environ(ctx, assigns), ctx.st.cwd);
  }

  /** A file that is not a known binary: ash's execve fails with ENOEXEC and it runs the file as a script. */
  async #script(path: string, argv: string[], ctx: Ctx): Promise<number> {
    let text: string;
    try {
      const fd = await ctx.sys.open(path, O_RDONLY);
      const ch = new KernelChannel(ctx.sys, fd);
      text = new TextDecoder().decode(await ch.readAll());
      await ch.close();
    } catch (e) {
      if (!isErrno(e)) throw e;
      await this.#err(ctx, `sh: ${argv[0]}: ${e.message}\n`);
      return 126;
    }
    return this.#subshell(ctx, async (sub) => {
      sub.st.positional = argv.slice(1);
      sub.st.funcs.clear();
      try {
        await this.#list(parseScript(text), sub);
      } catch (e) {
        if (e instanceof ShSyntaxError) throw new ShError(`${argv[0]}: syntax error: ${ashSyntaxText(e)}`);
        throw e;
      }
    });
  }

  #environ(ctx: Ctx, assigns: [string, string][]): Map<string, string> {
    const env = new Map<string, string>();
    for (const n of ctx.st.exported) {
      const v = ctx.st.vars.get(n);
      if (v !== undefined) env.set(n, v);
    }
    for (const [n, v] of assigns) env.set(n, v);
    return env;
  }

  /** Runs a Command with the given fds as its stdin/stdout/stderr; an uncaught errno is reported as `name: error`. */
  async runCommand(run: Command, argv: readonly string[], sys: Syscalls, fds: Map<number, Channel>, env: Map<string, string>, cwd: string): Promise<number> {
    const closed: Channel = new BytesChannel('');
    const p: Process = {
      sys,
      argv,
      env,
      cwd,
      stdin: fds.get(0) ?? closed,
      stdout: fds.get(1) ?? closed,
      stderr: fds.get(2) ?? closed,
    };
    try {
      return (await run(p)) & 255;
    } catch (e) {
      if (e instanceof SigPipe) return 141;
      if (isErrno(e)) {
        try {
          await p.stderr.write(`${basename(argv[0] ?? 'sh')}: ${e.message}\n`);
        } catch {
          // stderr itself is broken
        }
        return 1;
      }
      throw e;
    }
  }

  // ---- redirections ----

  async #redirect(redirs: readonly Redir[], fds: Map<number, Channel>, opened: Channel[], ctx: Ctx): Promise<boolean> {
    for (const r of redirs) {
      const dflt = r.op.startsWith('<') ? 0 : 1;
      const n = r.fd ?? dflt;
      if (r.op === '<<' || r.op === '<<-') {
        const text = r.hdoc ? await this.#expandHeredoc(r.hdoc, r.hdocQuoted, ctx) : '';
        fds.set(n, new BytesChannel(text));
        continue;
      }
      const target = await this.#expandNoSplit(r.word, ctx);
      if (r.op === '>&' || r.op === '<&') {
        if (target === '-') {
          fds.delete(n);
          continue;
        }
        if (/^\d+$/.test(target)) {
          const src = fds.get(Number(target));
          if (!src) {
            await this.#err(ctx, `sh: ${target}: Bad file descriptor\n`);
            return false;
          }
          fds.set(n, src);
          continue;
        }
      }
      const flags =
        r.op === '<'
          ? O_RDONLY
          : r.op === '<>'
            ? O_RDWR | O_CREAT
            : r.op === '>>'
              ? O_WRONLY | O_CREAT | O_APPEND
              : O_WRONLY | O_CREAT | O_TRUNC;
      try {
        const fd = await ctx.sys.open(resolvePath(ctx.st.cwd, target), flags, 0o666);
        const ch = new KernelChannel(ctx.sys, fd);
        opened.push(ch);
        fds.set(n, ch);
      } catch (e) {
        if (!isErrno(e)) throw e;
        const missing = e.code === 'ENOENT' || e.code === 'ENOTDIR';
        const msg =
          r.op === '<'
            ? `can't open ${target}: ${missing ? 'no such file' : e.message}`
            : `can't create ${target}: ${missing ? 'nonexistent directory' : e.message}`;
        await this.#err(ctx, `sh: ${msg}\n`);
        return false;
      }
    }
    return true;
  }

  // ---- expansion ----

  async #expandWords(words: readonly Word[], ctx: Ctx, track?: { onSubst(st: number): void }): Promise<string[]> {
    const out: string[] = [];
    for (const w of words) {
      const pieces = await this.#expandPieces(w, ctx, false, false, track);
      for (const field of splitFields(pieces, ifsOf(ctx.st))) {
        if (field.some((f) => !f.q && /[*?[]/.test(f.s))) {
          const matches = await this.#glob(field, ctx);
          if (matches.length > 0) {
            out.push(...matches);
            continue;
          }
        }
        out.push(field.map((f) => f.s).join(''));
      }
    }
    return out;
  }

  async #expandNoSplit(w: Word, ctx: Ctx, track?: { onSubst(st: number): void }): Promise<string> {
    const pieces = await this.#expandPieces(w, ctx, false, false, track);
    return pieces.map((p) => (p === 'break' ? ' ' : p.s)).join('');
  }

  async #expandHeredoc(w: Word, quoted: boolean, ctx: Ctx): Promise<string> {
    if (quoted) return w.map((p) => (p.k === 'sq' || p.k === 'lit' ? p.v : '')).join('');
    const pieces: Piece[] = [];
    for (const p of w) {
      if (p.k === 'lit') pieces.push({ s: unescapeHeredoc(p.v), q: true, split: false });
      else pieces.push(...(await this.#expandPart(p, ctx, true, false)));
    }
    return pieces.map((p) => (p === 'break' ? ' ' : p.s)).join('');
  }

  async #expandPieces(w: Word, ctx: Ctx, inDq: boolean, pattern: boolean, track?: { onSubst(st: number): void }): Promise<Piece[]> {
    const out: Piece[] = [];
    for (let i = 0; i < w.length; i++) {
      const p = w[i]!;
      if (p.k === 'lit' && i === 0 && !inDq && p.v.startsWith('~')) {
        const m = /^~([^/]*)(.*)$/s.exec(p.v)!;
        if (m[1] === '') {
          out.push({ s: ctx.st.vars.get('HOME') ?? '/', q: true, split: false });
          out.push(...litPieces(m[2]!));
          continue;
        }
      }
      out.push(...(await this.#expandPart(p, ctx, inDq, pattern, track)));
    }
    return out;
  }

  async #expandPart(p: WordPart, ctx: Ctx, inDq: boolean, pattern: boolean, track?: { onSubst(st: number): void }): Promise<Piece[]> {
    switch (p.k) {
      case 'lit':
        return inDq ? [{ s: unescapeDq(p.v), q: true, split: false }] : litPieces(p.v);
      case 'sq':
        return [{ s: p.v, q: true, split: false }];
      case 'dq': {
        if (p.parts.length === 0) return [{ s: '', q: true, split: false }];
        const inner = await this.#expandPieces(p.parts, ctx, true, pattern, track);
        return inner.length === 0 ? [{ s: '', q: true, split: false }] : inner;
      }
      case 'param':
        return this.#param(p, ctx, inDq);
      case 'cmdsubst': {
        const { text, status } = await this.#captureOutput(p.body, ctx);
        track?.onSubst(status);
        const s = text.replace(/\n+$/, '');
        return [{ s, q: inDq, split: !inDq }];
      }
      case 'arith': {
        const v = String(await this.#arith(p.expr, ctx));
        return [{ s: v, q: inDq, split: !inDq }];
      }
    }
  }

  async #captureOutput(body: readonly Stmt[], ctx: Ctx): Promise<{ text: string; status: number }> {
    const pipe = new Pipe();
    const fds = new Map(ctx.fds);
    fds.set(1, pipe.writer);
    const running = this.#subshell(ctx, (sub) => this.#list(body, sub), fds).finally(() => pipe.writer.close());
    const data = await pipe.reader.readAll();
    const status = await running;
    ctx.st.status = status;
    return { text: new TextDecoder().decode(data), status };
  }

  #paramValue(name: string, ctx: Ctx): string | undefined {
    const st = ctx.st;
    if (/^\d+$/.test(name)) {
      const n = Number(name);
      return n === 0 ? 'sh' : st.positional[n - 1];
    }
    switch (name) {
      case '?':
        return String(st.status);
      case '#':
        return String(st.positional.length);
      case '$':
        return '1';
      case '!':
        return st.lastBg === null ? '' : String(st.lastBg);
      case '-':
        return st.errexit ? 'e' : '';
      case '@':
      case '*':
        return st.positional.join(' ');
      default:
        return st.vars.get(name);
    }
  }

  async #param(p: WordPart & { k: 'param' }, ctx: Ctx, inDq: boolean): Promise<Piece[]> {
    const mk = (s: string): Piece[] => [{ s, q: inDq, split: !inDq }];
    if ((p.name === '@' || p.name === '*') && !p.length && p.op === null) {
      const args = ctx.st.positional;
      if (inDq && p.name === '*') return mk(args.join((ifsOf(ctx.st) ?? ' ').slice(0, 1)));
      if (inDq && args.length === 0) return [];
      const out: Piece[] = [];
      args.forEach((a, i) => {
        if (i > 0) out.push('break');
        out.push({ s: a, q: inDq, split: !inDq });
      });
      return out;
    }
    let v = this.#paramValue(p.name, ctx);
    if (p.length) return mk(String((v ?? '').length));
    if (p.op === null) return mk(v ?? '');
    const colon = p.op.startsWith(':');
    const unset = v === undefined || (colon && v === '');
    const arg = async (): Promise<string> => (p.arg ? this.#expandNoSplit(p.arg, ctx) : '');
    switch (p.op) {
      case '-':
      case ':-':
        return unset ? (p.arg ? this.#expandPieces(p.arg, ctx, inDq, false) : []) : mk(v!);
      case '=':
      case ':=':
        if (unset) {
          v = await arg();
          this.#setVar(ctx, p.name, v);
        }
        return mk(v!);
      case '?':
      case ':?':
        if (unset) {
          const m = await arg();
          throw new ShError(`${p.name}: ${m || 'parameter not set'}`);
        }
        return mk(v!);
      case '+':
      case ':+':
        return unset ? [] : p.arg ? this.#expandPieces(p.arg, ctx, inDq, false) : [];
      case '#':
      case '##':
      case '%':
      case '%%': {
        const s = v ?? '';
        const pat = patternRegExp(p.arg ? await this.#expandPieces(p.arg, ctx, false, true) : [], true);
        const longest = p.op.length === 2;
        const prefix = p.op.startsWith('#');
        const cands: number[] = [];
        for (let i = 0; i <= s.length; i++) cands.push(i);
        if (longest) cands.reverse();
        for (const i of cands) {
          const part = prefix ? s.slice(0, i) : s.slice(s.length - i);
          if (pat.test(part)) return mk(prefix ? s.slice(i) : s.slice(0, s.length - i));
        }
        return mk(s);
      }
    }
  }

  async #arith(e: Arith, ctx: Ctx): Promise<number> {
    const num = (s: string): number => {
      const t = s.trim();
      if (t === '') return 0;
      if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t, 16);
      if (/^0[0-7]+$/.test(t)) return parseInt(t, 8);
      if (/^-?\d+$/.test(t)) return Number(t);
      throw new ShError(`arithmetic syntax error`);
    };
    const varOf = (x: Arith): string | null => (x.k === 'word' && x.w.length === 1 && x.w[0]!.k === 'lit' && /^[A-Za-z_]\w*$/.test(x.w[0]!.v) ? x.w[0]!.v : null);
    const val = async (x: Arith): Promise<number> => {
      switch (x.k) {
        case 'word': {
          const name = varOf(x);
          if (name !== null) return num(ctx.st.vars.get(name) ?? '0');
          const s = await this.#expandNoSplit(x.w, ctx);
          return /^[A-Za-z_]\w*$/.test(s) ? num(ctx.st.vars.get(s) ?? '0') : num(s);
        }
        case 'paren':
          return val(x.x);
        case 'un': {
          if (x.op === '++' || x.op === '--') {
            const name = varOf(x.x);
            if (name === null) throw new ShError('arithmetic syntax error');
            const old = num(ctx.st.vars.get(name) ?? '0');
            const nv = x.op === '++' ? old + 1 : old - 1;
            this.#setVar(ctx, name, String(nv));
            return x.post ? old : nv;
          }
          const v = await val(x.x);
          return x.op === '!' ? Number(v === 0) : x.op === '~' ? ~v : x.op === '-' ? -v : v;
        }
        case 'bin': {
          if (x.op === '=' || /^[-+*/%]=$/.test(x.op)) {
            const name = varOf(x.x);
            if (name === null) throw new ShError('arithmetic syntax error');
            const rhs = await val(x.y);
            const cur = num(ctx.st.vars.get(name) ?? '0');
            const nv = x.op === '=' ? rhs : binop(x.op[0]!, cur, rhs);
            this.#setVar(ctx, name, String(nv));
            return nv;
          }
          if (x.op === '&&') return (await val(x.x)) !== 0 && (await val(x.y)) !== 0 ? 1 : 0;
          if (x.op === '||') return (await val(x.x)) !== 0 || (await val(x.y)) !== 0 ? 1 : 0;
          if (x.op === '?') {
            const c = await val(x.x);
            if (x.y.k !== 'bin' || x.y.op !== ':') throw new ShError('arithmetic syntax error');
            return c !== 0 ? val(x.y.x) : val(x.y.y);
          }
          return binop(x.op, await val(x.x), await val(x.y));
        }
      }
    };
    return val(e);
  }

  async #glob(field: Frag[], ctx: Ctx): Promise<string[]> {
    // Split into path components; each component keeps its quoting.
    const comps: Frag[][] = [[]];
    for (const f of field) {
      const parts = f.s.split('/');
      parts.forEach((s, i) => {
        if (i > 0) comps.push([]);
        if (s !== '') comps[comps.length - 1]!.push({ s, q: f.q, split: false });
      });
    }
    const absolute = comps[0]!.length === 0 && comps.length > 1;
    let paths: string[] = [absolute ? '/' : ''];
    const start = absolute ? 1 : 0;
    for (let i = start; i < comps.length; i++) {
      const comp = comps[i]!;
      const last = i === comps.length - 1;
      const next: string[] = [];
      const magic = comp.some((f) => !f.q && /[*?[]/.test(f.s));
      for (const base of paths) {
        const join = (name: string): string => (base === '' ? name : base.endsWith('/') ? base + name : `${base}/${name}`);
        if (comp.length === 0) {
          if (last) next.push(join(''));
          continue;
        }
        if (!magic) {
          const name = comp.map((f) => f.s).join('');
          const full = join(name);
          if (last) {
            try {
              await ctx.sys.lstat(resolvePath(ctx.st.cwd, full));
              next.push(full);
            } catch {
              // no such entry: no match
            }
          } else next.push(full);
          continue;
        }
        let names: string[];
        try {
          names = (await ctx.sys.readdir(resolvePath(ctx.st.cwd, base === '' ? '.' : base))).map((d) => d.name);
        } catch {
          continue;
        }
        const re = patternRegExp(comp, false);
        const dotOk = comp[0]!.s.startsWith('.');
        for (const n of names) {
          if (n.startsWith('.') && !dotOk) continue;
          if (re.test(n)) next.push(join(n));
        }
      }
      paths = next;
      if (paths.length === 0) return [];
    }
    return paths.sort(strcmp);
  }

  #setVar(ctx: Ctx, name: string, value: string): void {
    ctx.st.vars.set(name, value);
  }

  // ---- what builtins need ----

  /** @internal */ async waitJobs(pids: number[]): Promise<number> {
    let status = 0;
    const targets = pids.length > 0 ? pids : [...this.#jobs.keys()];
    for (const pid of targets) {
      const job = this.#jobs.get(pid);
      if (!job) {
        status = 127;
        continue;
      }
      status = await job.done;
      this.#jobs.delete(pid);
    }
    return status;
  }

  /** @internal */ async evalText(text: string, ctx: Ctx): Promise<number> {
    let stmts: Stmt[];
    try {
      stmts = parseScript(text);
    } catch (e) {
      if (!(e instanceof ShSyntaxError)) throw e;
      throw new ShError(`syntax error: ${ashSyntaxText(e)}`);
    }
    return this.#list(stmts, ctx);
  }
}

// ---- helpers ----

function binop(op: string, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
    case '%':
      if (b === 0) throw new ShError('divide by zero');
      return op === '/' ? Math.trunc(a / b) : a % b;
    case '<<':
      return a << b;
    case '>>':
      return a >> b;
    case '<':
      return Number(a < b);
    case '<=':
      return Number(a <= b);
    case '>':
      return Number(a > b);
    case '>=':
      return Number(a >= b);
    case '==':
      return Number(a === b);
    case '!=':
      return Number(a !== b);
    case '&':
      return a & b;
    case '|':
      return a | b;
    case '^':
      return a ^ b;
    case ',':
      return b;
    default:
      throw new ShError('arithmetic syntax error');
  }
}

export function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function ifsOf(st: State): string {
  return st.vars.get('IFS') ?? DEFAULT_IFS;
}

/** Unquoted literal text: a backslash quotes the next character; backslash-newline vanishes. */
function litPieces(v: string): Piece[] {
  const out: Frag[] = [];
  let cur = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch === '\\' && i + 1 < v.length) {
      const nx = v[++i]!;
      if (nx === '\n') continue;
      if (cur) out.push({ s: cur, q: false, split: false });
      cur = '';
      out.push({ s: nx, q: true, split: false });
    } else cur += ch;
  }
  if (cur) out.push({ s: cur, q: false, split: false });
  return out;
}

function unescapeDq(v: string): string {
  return v.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

function unescapeHeredoc(v: string): string {
  return v.replace(/\\([$`\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

/** Field splitting (POSIX 2.6.5): only unquoted expansion results split; quoted empties survive. */
function splitFields(pieces: Piece[], ifs: string): Frag[][] {
  const fields: Frag[][] = [];
  let cur: Frag[] = [];
  let live = false;
  const finish = (): void => {
    if (live) fields.push(cur);
    cur = [];
    live = false;
  };
  for (const p of pieces) {
    if (p === 'break') {
      finish();
      continue;
    }
    if (!p.split || ifs === '') {
      cur.push(p);
      if (p.q || p.s !== '') live = true;
      continue;
    }
    let buf = '';
    for (const ch of p.s) {
      if (ifs.includes(ch)) {
        const white = ' \t\n'.includes(ch);
        if (buf) {
          cur.push({ s: buf, q: false, split: false });
          live = true;
          buf = '';
        }
        if (white) {
          finish();
        } else {
          live = true;
          finish();
        }
      } else buf += ch;
    }
    if (buf) {
      cur.push({ s: buf, q: false, split: false });
      live = true;
    }
  }
  finish();
  return fields;
}

/** Shell pattern → RegExp (whole-string match). Quoted text matches literally. */
export function patternRegExp(pieces: readonly Piece[], slashOk: boolean): RegExp {
  let re = '';
  const any = slashOk ? '[^]' : '[^/]';
  for (const p of pieces) {
    if (p === 'break') {
      re += ' ';
      continue;
    }
    if (p.q) {
      re += escapeRe(p.s);
      continue;
    }
    const s = p.s;
    for (let i = 0; i < s.length; i++) {
      const ch = s[i]!;
      if (ch === '*') re += `${any}*`;
      else if (ch === '?') re += any;
      else if (ch === '\\' && i + 1 < s.length) re += escapeRe(s[++i]!);
      else if (ch === '[') {
        const end = s.indexOf(']', i + 2);
        if (end < 0) {
          re += '\\[';
          continue;
        }
        let body = s.slice(i + 1, end);
        let neg = false;
        if (body.startsWith('!') || body.startsWith('^')) {
          neg = true;
          body = body.slice(1);
        }
        body = body.replace(/[\\\]^]/g, '\\$&');
        re += `[${neg ? '^' : ''}${body}]`;
        i = end;
      } else re += escapeRe(ch);
    }
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** mvdan's parse error → ash's wording (`syntax error: unexpected "done"` / end of file / quote). */
function ashSyntaxText(e: ShSyntaxError): string {
  const m = e.message;
  if (/without closing quote|reached EOF without matching/.test(m)) return 'unterminated quoted string';
  if (e.incomplete) return 'unexpected end of file';
  const t = /encountered ["`]?([^\s"`]+)["`]?$/.exec(m)?.[1] ?? /^["`]?([^\s"`]+)["`]? (?:can only|is a reserved|must)/.exec(m)?.[1];
  if (t !== undefined && /^(\)|;;|do|done|then|fi|else|elif|esac|in|\}|;|&|\||&&|\|\|)$/.test(t)) return `unexpected "${t}"`;
  return m;
}

// ---- builtins (ash's own, run in the shell process; errors say `sh:`) ----

type Builtin = (sh: Shell, argv: string[], ctx: Ctx) => Promise<number>;

async function out(ctx: Ctx, fd: 1 | 2, text: string): Promise<void> {
  const ch = ctx.fds.get(fd);
  if (ch) await ch.write(text);
}

function applet(fn: (p: Process, prog: string) => Promise<number>): Builtin {
  return (sh, argv, ctx) =>
    sh.runCommand((p) => fn(p, 'sh'), argv, ctx.sys, ctx.fds, new Map(), ctx.st.cwd);
}

const SPECIAL = new Set([':', '.', 'break', 'continue', 'eval', 'exec', 'exit', 'export', 'readonly', 'return', 'set', 'shift', 'unset']);

const numArg = (s: string | undefined, dflt: number): number => {
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s)) throw new ShError(`Illegal number: ${s}`);
  return Number(s);
};

const BUILTINS: { readonly [name: string]: Builtin } = {
  ':': async () => 0,
  true: async () => 0,
  false: async () => 1,
  echo: applet(echoMain),
  printf: applet(printfMain),
  test: applet(testMain),
  '[': applet(testMain),
  exit: async (_sh, argv, ctx) => {
    throw new ExitSignal(numArg(argv[1], ctx.st.status) & 255);
  },
  return: async (_sh, argv, ctx) => {
    throw new ReturnSignal(numArg(argv[1], ctx.st.status) & 255);
  },
  break: async (_sh, argv) => {
    throw new LoopSignal('break', Math.max(1, numArg(argv[1], 1)));
  },
  continue: async (_sh, argv) => {
    throw new LoopSignal('continue', Math.max(1, numArg(argv[1], 1)));
  },
  cd: async (_sh, argv, ctx) => {
    const st = ctx.st;
    let dest = argv[1] ?? st.vars.get('HOME') ?? '/';
    if (dest === '-') dest = st.vars.get('OLDPWD') ?? st.cwd;
    const path = normalizePath(resolvePath(st.cwd, dest));
    try {
      const s = await ctx.sys.stat(path);
      if ((s.mode & S_IFMT) !== S_IFDIR) throw new Errno('ENOTDIR', 'chdir', path);
    } catch (e) {
      if (!isErrno(e)) throw e;
      await out(ctx, 2, `sh: cd: can't cd to ${dest}: ${e.message}\n`);
      return 2;
    }
    st.vars.set('OLDPWD', st.cwd);
    st.cwd = path;
    st.vars.set('PWD', path);
    if (argv[1] === '-') await out(ctx, 1, `${path}\n`);
    return 0;
  },
  pwd: async (_sh, _argv, ctx) => {
    await out(ctx, 1, `${ctx.st.cwd}\n`);
    return 0;
  },
  export: async (_sh, argv, ctx) => {
    const args = argv.slice(1).filter((a) => a !== '-p');
    if (args.length === 0) {
      const names = [...ctx.st.exported].filter((n) => ctx.st.vars.has(n)).sort(strcmp);
      await out(ctx, 1, names.map((n) => `export ${n}=${shQuote(ctx.st.vars.get(n)!)}\n`).join(''));
      return 0;
    }
    for (const a of args) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a : a.slice(0, eq);
      if (!/^[A-Za-z_]\w*$/.test(name)) throw new ShError(`export: ${name}: bad variable name`);
      if (eq >= 0) ctx.st.vars.set(name, a.slice(eq + 1));
      ctx.st.exported.add(name);
    }
    return 0;
  },
  unset: async (_sh, argv, ctx) => {
    for (const a of argv.slice(1)) {
      if (a === '-v') continue;
      if (a === '-f') continue;
      ctx.st.vars.delete(a);
      ctx.st.exported.delete(a);
      if (argv[1] === '-f') ctx.st.funcs.delete(a);
    }
    return 0;
  },
  local: async (_sh, argv, ctx) => {
    // Functions share the caller's variables in this model; `local` only assigns.
    for (const a of argv.slice(1)) {
      const eq = a.indexOf('=');
      if (eq >= 0) ctx.st.vars.set(a.slice(0, eq), a.slice(eq + 1));
      else if (!ctx.st.vars.has(a)) ctx.st.vars.set(a, '');
    }
    return 0;
  },
  set: async (_sh, argv, ctx) => {
    let i = 1;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--') {
        i++;
        break;
      }
      if (!/^[-+]/.test(a) || a.length < 2) break;
      const on = a[0] === '-';
      for (const f of a.slice(1)) if (f === 'e') ctx.st.errexit = on;
    }
    if (argv.length === 1) {
      const names = [...ctx.st.vars.keys()].sort(strcmp);
      await out(ctx, 1, names.map((n) => `${n}=${shQuote(ctx.st.vars.get(n)!)}\n`).join(''));
      return 0;
    }
    if (i < argv.length || argv.includes('--')) ctx.st.positional = argv.slice(i);
    return 0;
  },
  shift: async (_sh, argv, ctx) => {
    const n = numArg(argv[1], 1);
    if (n > ctx.st.positional.length) throw new ShError(`shift: can't shift that many`);
    ctx.st.positional = ctx.st.positional.slice(n);
    return 0;
  },
  wait: async (sh, argv) => sh.waitJobs(argv.slice(1).map(Number)),
  eval: async (sh, argv, ctx) => sh.evalText(argv.slice(1).join(' '), ctx),
  '.': async (sh, argv, ctx) => {
    const f = argv[1];
    if (f === undefined) return 0;
    const path = resolvePath(ctx.st.cwd, f);
    try {
      const fd = await ctx.sys.open(path, O_RDONLY);
      const ch = new KernelChannel(ctx.sys, fd);
      const text = new TextDecoder().decode(await ch.readAll());
      await ch.close();
      return sh.evalText(text, ctx);
    } catch (e) {
      if (!isErrno(e)) throw e;
      throw new ShError(`.: can't open '${f}': ${e.message}`);
    }
  },
  read: async (_sh, argv, ctx) => {
    const names = argv.slice(1).filter((a) => !a.startsWith('-'));
    const input = ctx.fds.get(0);
    if (!input) return 1;
    let line = '';
    let eof = true;
    for (;;) {
      const b = await input.read(1);
      if (b.length === 0) break;
      const ch = String.fromCharCode(b[0]!);
      if (ch === '\n') {
        eof = false;
        break;
      }
      line += ch;
    }
    const ifs = ifsOf(ctx.st);
    const words = line.split(new RegExp(`[${escapeRe(ifs)}]+`)).filter((w) => w !== '');
    if (names.length === 0) names.push('REPLY');
    names.forEach((n, i) => {
      const v = i === names.length - 1 ? words.slice(i).join(' ') : (words[i] ?? '');
      ctx.st.vars.set(n, v);
    });
    return eof && line === '' ? 1 : eof ? 1 : 0;
  },
  type: async (sh, argv, ctx) => {
    let rc = 0;
    for (const n of argv.slice(1)) {
      if (ctx.st.funcs.has(n)) await out(ctx, 1, `${n} is a function\n`);
      else if (BUILTINS[n]) await out(ctx, 1, `${n} is a ${SPECIAL.has(n) ? 'special ' : ''}shell builtin\n`);
      else {
        const e = sh.registry.lookup(n);
        if (e) await out(ctx, 1, `${n} is ${n.includes('/') ? n : (e.paths[0] ?? n)}\n`);
        else {
          await out(ctx, 1, `${n}: not found\n`);
          rc = 127;
        }
      }
    }
    return rc;
  },
  help: async (sh, _argv, ctx) => {
    // ash's helpcmd: the builtins, then every applet, eight to a line after a tab.
    const rows: string[] = [];
    const list = (names: string[]): void => {
      let line = '';
      for (const n of names) {
        line += ` ${n}`;
        if (line.length > 60) {
          rows.push(line);
          line = '';
        }
      }
      if (line) rows.push(line);
    };
    list(Object.keys(BUILTINS).sort(strcmp));
    list(sh.registry.names().filter((n) => !BUILTINS[n]));
    await out(ctx, 1, `Built-in commands:\n------------------\n${rows.join('\n')}\n`);
    return 0;
  },
};

function shQuote(v: string): string {
  return `'${v.replace(/'/g, `'"'"'`)}'`;
}

/** Convenience for one-off use: a fresh shell per call. */
export async function runShellLine(line: string, opts: ShellOptions): Promise<LineResult> {
  return new Shell(opts).run(line);
}
