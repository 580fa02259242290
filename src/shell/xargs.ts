// Models findutils/xargs.c (busybox 1.36): xargs [-0rt] [-n N] [-s N] [-I STR] [-E STR] [PROG [ARGS]] — reads
// blank-separated (quote- and backslash-aware) or NUL-separated items from stdin and runs PROG (default
// echo) with as many as fit; exit 123 when a run failed with 1..125, 124 for 255, 126/127 when PROG could
// not be run.

import type { Process } from './process.ts';
import type { CommandRegistry } from './registry.ts';
import { err, latin1 } from './applet.ts';

const USAGE = 'BusyBox v1.36.1 multi-call binary.\n\nUsage: xargs [OPTIONS] [PROG ARGS]\n';
/** Busybox's default limit on the command line it builds (bytes). */
const DEFAULT_MAX_CHARS = 128 * 1024;

/** Items of xargs' default input syntax: blanks separate, quotes group, backslash escapes. */
function splitItems(text: string): { items: string[]; error: string | null } {
  const items: string[] = [];
  let cur = '';
  let inItem = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === '\n') return { items, error: `unmatched ${quote === '"' ? 'double' : 'single'} quote` };
      else cur += c;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) {
      cur += text[++i]!;
      inItem = true;
    } else if (c === '"' || c === "'") {
      quote = c;
      inItem = true;
    } else if (/[ \t\n]/.test(c)) {
      if (inItem) items.push(cur);
      cur = '';
      inItem = false;
    } else {
      cur += c;
      inItem = true;
    }
  }
  if (quote !== null) return { items, error: `unmatched ${quote === '"' ? 'double' : 'single'} quote` };
  if (inItem) items.push(cur);
  return { items, error: null };
}

export function makeXargs(registry: CommandRegistry) {
  return async (p: Process): Promise<number> => {
    const args = p.argv.slice(1);
    let nul = false;
    let noRunIfEmpty = false;
    let trace = false;
    let maxArgs = Infinity;
    let maxChars = DEFAULT_MAX_CHARS;
    let repl: string | null = null;
    let eofStr: string | null = null;
    let i = 0;
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--') { i++; break; }
      if (!a.startsWith('-') || a === '-') break;
      let stop = false;
      for (let j = 1; j < a.length && !stop; j++) {
        const c = a[j]!;
        if (c === '0') nul = true;
        else if (c === 'r') noRunIfEmpty = true;
        else if (c === 't') trace = true;
        else if (c === 'x' || c === 'p') continue;
        else if ('nsIE'.includes(c)) {
          const v = j + 1 < a.length ? a.slice(j + 1) : args[++i];
          if (v === undefined) {
            await err(p, `xargs: option requires an argument -- '${c}'\n${USAGE}`);
            return 1;
          }
          if (c === 'I') repl = v;
          else if (c === 'E') eofStr = v;
          else {
            if (!/^\d+$/.test(v) || Number(v) === 0) {
              await err(p, `xargs: invalid number '${v}'\n`);
              return 1;
            }
            if (c === 'n') maxArgs = Number(v);
            else maxChars = Number(v);
          }
          stop = true;
        } else {
          await err(p, `xargs: invalid option -- '${c}'\n${USAGE}`);
          return 1;
        }
      }
    }
    const prog = args.slice(i);
    if (prog.length === 0) prog.push('echo');
    const text = latin1(await p.stdin.readAll());
    let items: string[];
    if (repl !== null) {
      // -I: one command per input line, leading blanks dropped.
      items = text.split('\n').map((l) => l.replace(/^[ \t]+/, ''));
      if (items[items.length - 1] === '') items.pop();
      items = items.filter((l) => l !== '');
    } else if (nul) {
      items = text.split('\0');
      if (items[items.length - 1] === '') items.pop();
    } else {
      const r = splitItems(text);
      if (r.error !== null) {
        await err(p, `xargs: ${r.error}\n`);
        return 1;
      }
      items = r.items;
    }
    if (eofStr !== null) {
      const at = items.indexOf(eofStr);
      if (at >= 0) items = items.slice(0, at);
    }
    const entry = registry.lookup(prog[0]!);
    let status = 0;
    const runOne = async (argv: string[]): Promise<number | null> => {
      if (trace) await err(p, `${argv.join(' ')}\n`);
      if (!entry) {
        await err(p, `xargs: ${argv[0]!}: No such file or directory\n`);
        return 127;
      }
      const rc = await entry.run({ ...p, argv, stdin: { readAll: async () => new Uint8Array(0), read: async () => new Uint8Array(0) } });
      if (rc === 255) {
        await err(p, `xargs: ${argv[0]!}: exited with status 255; aborting\n`);
        return 124;
      }
      if (rc >= 1 && rc <= 125) status = 123;
      return null;
    };
    if (repl !== null) {
      for (const item of items) {
        const r = await runOne(prog.map((a) => a.split(repl!).join(item)));
        if (r !== null) return r;
      }
      return status;
    }
    if (items.length === 0) {
      if (noRunIfEmpty) return 0;
      const r = await runOne([...prog]);
      return r ?? status;
    }
    const base = prog.reduce((n, a) => n + a.length + 1, 0);
    for (let k = 0; k < items.length; ) {
      const batch: string[] = [];
      let size = base;
      while (k < items.length && batch.length < maxArgs) {
        const add = items[k]!.length + 1;
        if (batch.length > 0 && size + add > maxChars) break;
        batch.push(items[k]!);
        size += add;
        k++;
      }
      const r = await runOne([...prog, ...batch]);
      if (r !== null) return r;
    }
    return status;
  };
}
