// Ours: the shell's parser front end — mvdan/sh's POSIX parser (npm `mvdan-sh`, a GopherJS build of
// mvdan.cc/sh/v3/syntax) turned into a small typed AST that src/shell/sh.ts executes.
//
// Why a library: the grammar (quoting, here-documents, nested `$(…)`/backticks, case patterns,
// incomplete-input detection for continuation lines) is the part of a shell that is easy to get
// subtly wrong; mvdan/sh is the best-kept shell parser there is and its LangPOSIX mode is the
// language ash accepts. See docs/SHELL.md for the comparison with the other candidates.
//
// mvdan-sh hands back Go structs with numeric token codes whose values depend on the Go build, so the
// codes are calibrated once at load time by parsing one probe per operator, never hard-coded.

import { createRequire } from 'node:module';

// ---- the typed AST the executor sees ----

export type WordPart =
  | { readonly k: 'lit'; readonly v: string } // raw text, backslashes still in it
  | { readonly k: 'sq'; readonly v: string }
  | { readonly k: 'dq'; readonly parts: readonly WordPart[] }
  | { readonly k: 'param'; readonly name: string; readonly length: boolean; readonly op: ParamOp | null; readonly arg: Word | null }
  | { readonly k: 'cmdsubst'; readonly body: readonly Stmt[] }
  | { readonly k: 'arith'; readonly expr: Arith };

export type Word = readonly WordPart[];

export type ParamOp = ':-' | '-' | ':=' | '=' | ':?' | '?' | ':+' | '+' | '#' | '##' | '%' | '%%';

export type Arith =
  | { readonly k: 'word'; readonly w: Word }
  | { readonly k: 'bin'; readonly op: string; readonly x: Arith; readonly y: Arith }
  | { readonly k: 'un'; readonly op: string; readonly post: boolean; readonly x: Arith }
  | { readonly k: 'paren'; readonly x: Arith };

export type RedirOp = '>' | '>>' | '<' | '<>' | '>&' | '<&' | '>|' | '<<' | '<<-';

export interface Redir {
  readonly op: RedirOp;
  readonly fd: number | null;
  readonly word: Word;
  readonly hdoc: Word | null;
  readonly hdocQuoted: boolean;
}

export interface Stmt {
  readonly cmd: Cmd | null;
  readonly redirs: readonly Redir[];
  readonly negated: boolean;
  readonly background: boolean;
}

export interface CaseItem {
  readonly patterns: readonly Word[];
  readonly body: readonly Stmt[];
}

export type Cmd =
  | { readonly k: 'call'; readonly assigns: readonly { name: string; value: Word }[]; readonly args: readonly Word[] }
  | { readonly k: 'and' | 'or' | 'pipe'; readonly x: Stmt; readonly y: Stmt }
  | { readonly k: 'if'; readonly cond: readonly Stmt[]; readonly then: readonly Stmt[]; readonly else: readonly Stmt[] | null }
  | { readonly k: 'while'; readonly until: boolean; readonly cond: readonly Stmt[]; readonly body: readonly Stmt[] }
  | { readonly k: 'for'; readonly name: string; readonly items: readonly Word[] | null; readonly body: readonly Stmt[] }
  | { readonly k: 'case'; readonly word: Word; readonly items: readonly CaseItem[] }
  | { readonly k: 'func'; readonly name: string; readonly body: Stmt }
  | { readonly k: 'block' | 'subshell'; readonly body: readonly Stmt[] };

export class ShSyntaxError extends Error {
  readonly incomplete: boolean;
  constructor(message: string, incomplete: boolean) {
    super(message);
    this.incomplete = incomplete;
  }
}

// ---- mvdan-sh binding ----

/* eslint-disable @typescript-eslint/no-explicit-any -- GopherJS objects have no type declarations */
type GoNode = any;
interface MvdanSyntax {
  NewParser(...opts: unknown[]): { Parse(src: string, name: string): GoNode };
  Variant(lang: unknown): unknown;
  LangPOSIX: unknown;
  NodeType(n: GoNode): string;
  IsIncomplete(e: unknown): boolean;
}
const mvdan = createRequire(import.meta.url)('mvdan-sh') as { syntax: MvdanSyntax };
const syntax = mvdan.syntax;
const parser = syntax.NewParser(syntax.Variant(syntax.LangPOSIX));

function rawParse(src: string): GoNode {
  return parser.Parse(src, '');
}

/** Token codes, learnt from probes (see the file comment). */
function calibrate<T extends string>(ops: readonly T[], probe: (op: T) => string, pick: (f: GoNode) => number): Map<number, T> {
  const m = new Map<number, T>();
  for (const op of ops) m.set(pick(rawParse(probe(op))), op);
  return m;
}
const BIN_OPS = calibrate(['&&', '||', '|'] as const, (op) => `a ${op} b`, (f) => f.Stmts[0].Cmd.Op);
const REDIR_OPS = calibrate(
  ['>', '>>', '<', '<>', '>&', '<&', '>|', '<<', '<<-'] as const,
  (op) => (op.startsWith('<<') ? `a ${op}E\nE\n` : `a ${op}b`),
  (f) => f.Stmts[0].Redirs[0].Op,
);
const PARAM_OPS = calibrate(
  [':-', '-', ':=', '=', ':?', '?', ':+', '+', '#', '##', '%', '%%'] as const,
  (op) => `\${a${op}b}`,
  (f) => f.Stmts[0].Cmd.Args[0].Parts[0].Exp.Op,
);
const ARITH_BIN = calibrate(
  ['+', '-', '*', '/', '%', '<<', '>>', '<', '<=', '>', '>=', '==', '!=', '&', '|', '^', '&&', '||', '=', '+=', '-=', '*=', '/=', '%=', ',', '?', ':'] as const,
  (op) => (op === '?' ? '$((a?b:c))' : op === ':' ? '$((a?b:c))' : `$((a${op}b))`),
  (f) => {
    const x = f.Stmts[0].Cmd.Args[0].Parts[0].X;
    return x.Op;
  },
);
// `a?b:c` parses as ? with Y = (b : c): learn the ':' code from the inner node.
{
  const x = rawParse('$((a?b:c))').Stmts[0].Cmd.Args[0].Parts[0].X;
  ARITH_BIN.set(x.Op, '?');
  ARITH_BIN.set(x.Y.Op, ':');
}
const ARITH_UN = calibrate(['!', '~', '-', '+', '++', '--'] as const, (op) => `$((${op}a))`, (f) => f.Stmts[0].Cmd.Args[0].Parts[0].X.Op);

function need<T>(m: Map<number, T>, code: number, what: string): T {
  const v = m.get(code);
  if (v === undefined) throw new ShSyntaxError(`unsupported ${what}`, false);
  return v;
}

function conv(stmts: GoNode): Stmt[] {
  const out: Stmt[] = [];
  for (const s of stmts ?? []) out.push(convStmt(s));
  return out;
}

function convStmt(s: GoNode): Stmt {
  const redirs: Redir[] = [];
  for (const r of s.Redirs ?? []) {
    const op = need(REDIR_OPS, r.Op, 'redirection');
    const word = convWord(r.Word);
    let hdoc: Word | null = null;
    let hdocQuoted = false;
    if (op === '<<' || op === '<<-') {
      hdocQuoted = word.some((p) => p.k === 'sq' || p.k === 'dq' || (p.k === 'lit' && p.v.includes('\\')));
      hdoc = r.Hdoc ? convWord(r.Hdoc) : [];
      if (hdocQuoted) hdoc = [{ k: 'sq', v: hdoc.map((p) => (p.k === 'lit' ? p.v : '')).join('') }];
      if (op === '<<-') hdoc = stripTabs(hdoc);
    }
    redirs.push({ op, fd: r.N ? Number(r.N.Value) : null, word, hdoc, hdocQuoted });
  }
  return { cmd: s.Cmd ? convCmd(s.Cmd) : null, redirs, negated: !!s.Negated, background: !!s.Background };
}

function stripTabs(w: Word): Word {
  let atLineStart = true;
  return w.map((p) => {
    if (p.k !== 'lit' && p.k !== 'sq') {
      atLineStart = false;
      return p;
    }
    let v = p.v.replace(/\n\t+/g, '\n');
    if (atLineStart) v = v.replace(/^\t+/, '');
    atLineStart = v.endsWith('\n');
    return { k: p.k, v };
  });
}

function convCmd(c: GoNode): Cmd {
  const t = syntax.NodeType(c);
  switch (t) {
    case 'CallExpr':
      return {
        k: 'call',
        assigns: (c.Assigns ?? []).map((a: GoNode) => ({ name: String(a.Name.Value), value: a.Value ? convWord(a.Value) : [] })),
        args: (c.Args ?? []).map(convWord),
      };
    case 'BinaryCmd': {
      const op = need(BIN_OPS, c.Op, 'operator');
      return { k: op === '&&' ? 'and' : op === '||' ? 'or' : 'pipe', x: convStmt(c.X), y: convStmt(c.Y) };
    }
    case 'IfClause':
      return convIf(c);
    case 'WhileClause':
      return { k: 'while', until: !!c.Until, cond: conv(c.Cond), body: conv(c.Do) };
    case 'ForClause': {
      const loop = c.Loop;
      if (syntax.NodeType(loop) !== 'WordIter') throw new ShSyntaxError('unsupported for loop', false);
      const hasIn = loop.InPos && loop.InPos.IsValid();
      return { k: 'for', name: String(loop.Name.Value), items: hasIn ? (loop.Items ?? []).map(convWord) : null, body: conv(c.Do) };
    }
    case 'CaseClause':
      return {
        k: 'case',
        word: convWord(c.Word),
        items: (c.Items ?? []).map((it: GoNode) => ({
          patterns: (it.Patterns ?? []).map(convWord),
          body: conv(it.Stmts),
        })),
      };
    case 'FuncDecl':
      return { k: 'func', name: String(c.Name.Value), body: convStmt(c.Body) };
    case 'Block':
      return { k: 'block', body: conv(c.Stmts) };
    case 'Subshell':
      return { k: 'subshell', body: conv(c.Stmts) };
    default:
      throw new ShSyntaxError(`unsupported construct ${t}`, false);
  }
}

function convIf(c: GoNode): Cmd {
  let els: Stmt[] | null = null;
  const e = c.Else;
  if (e) {
    const cond = e.Cond ?? [];
    els = cond.length === 0 ? conv(e.Then) : [{ cmd: convIf(e), redirs: [], negated: false, background: false }];
  }
  return { k: 'if', cond: conv(c.Cond), then: conv(c.Then), else: els };
}

function convWord(w: GoNode): Word {
  if (!w) return [];
  return (w.Parts ?? []).map(convPart);
}

function convPart(p: GoNode): WordPart {
  const t = syntax.NodeType(p);
  switch (t) {
    case 'Lit':
      return { k: 'lit', v: String(p.Value) };
    case 'SglQuoted':
      return { k: 'sq', v: String(p.Value) };
    case 'DblQuoted':
      return { k: 'dq', parts: (p.Parts ?? []).map(convPart) };
    case 'ParamExp': {
      const exp = p.Exp;
      return {
        k: 'param',
        name: String(p.Param.Value),
        length: !!p.Length,
        op: exp ? need(PARAM_OPS, exp.Op, 'parameter expansion') : null,
        arg: exp ? convWord(exp.Word) : null,
      };
    }
    case 'CmdSubst':
      return { k: 'cmdsubst', body: conv(p.Stmts) };
    case 'ArithmExp':
      return { k: 'arith', expr: convArith(p.X) };
    default:
      throw new ShSyntaxError(`unsupported word part ${t}`, false);
  }
}

function convArith(x: GoNode): Arith {
  if (!x) return { k: 'word', w: [{ k: 'lit', v: '0' }] };
  const t = syntax.NodeType(x);
  switch (t) {
    case 'Word':
      return { k: 'word', w: convWord(x) };
    case 'BinaryArithm':
      return { k: 'bin', op: need(ARITH_BIN, x.Op, 'arithmetic operator'), x: convArith(x.X), y: convArith(x.Y) };
    case 'UnaryArithm':
      return { k: 'un', op: need(ARITH_UN, x.Op, 'arithmetic operator'), post: !!x.Post, x: convArith(x.X) };
    case 'ParenArithm':
      return { k: 'paren', x: convArith(x.X) };
    default:
      throw new ShSyntaxError(`unsupported arithmetic ${t}`, false);
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Parses a script; throws ShSyntaxError (with `incomplete` set when more input could complete it). */
export function parseScript(src: string): Stmt[] {
  let f;
  try {
    f = rawParse(src);
  } catch (e) {
    if (e instanceof ShSyntaxError) throw e;
    const ge = e as { Text?: unknown; message?: unknown };
    const msg = typeof ge.Text === 'string' ? ge.Text : typeof ge.message === 'string' ? ge.message : String(e);
    throw new ShSyntaxError(msg, syntax.IsIncomplete(e));
  }
  return conv(f.Stmts);
}

/**
 * True when `text` is the beginning of a command that continues on the next line: an open
 * `if`/`for`/`while`/`case`/`{`/`(`, an unclosed quote or here-document, a trailing `\`, `&&`, `||` or `|`.
 */
export function isIncomplete(text: string): boolean {
  if (/(^|[^\\])(\\\\)*\\$/.test(text)) return true;
  try {
    rawParse(text);
    return false;
  } catch (e) {
    return syntax.IsIncomplete(e);
  }
}
