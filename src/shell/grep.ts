// Models findutils/grep.c (busybox 1.36): grep [-qvciEnolrshFwx] [-e PAT] PATTERN [FILE]… — exit 0
// when a line matched, 1 when none did, 2 on error; `F:` prefixes when several files are searched.

import { isErrno } from '../kernel/errno.ts';
import { S_IFDIR, S_IFMT } from '../kernel/syscalls.ts';
import type { Process } from './process.ts';
import { Out, err, getopt, latin1, readFile, resolvePath } from './applet.ts';

/** POSIX basic regular expression → JS (the common subset: \( \) \{ \} \| and literal + ? | ( ) { }). */
function breToJs(re: string): string {
  let out = '';
  for (let i = 0; i < re.length; i++) {
    const c = re[i]!;
    if (c === '\\' && i + 1 < re.length) {
      const n = re[++i]!;
      out += '(){}|+?'.includes(n) ? n : `\\${n}`;
    } else if ('(){}|+?'.includes(c)) out += `\\${c}`;
    else out += c;
  }
  return out;
}

export async function grepMain(p: Process): Promise<number> {
  const o = await getopt(p, 'grep', 'qvciEnolrRshFwxHe:f:');
  if (!o) return 2;
  const f = o.flags;
  const rest = [...o.rest];
  const pats = o.values.has('e') ? [o.values.get('e')!] : rest.length > 0 ? [rest.shift()!] : null;
  if (!pats) {
    await err(p, 'BusyBox v1.36.1 multi-call binary.\n\nUsage: grep [-HhnlLoqvsrRiwFE] [-m N] [-A|B|C N] { PATTERN | -e PATTERN... | -f FILE... } [FILE]...\n');
    return 2;
  }
  const src = pats[0]!
    .split('\n')
    .map((pt) => (f.has('F') ? pt.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&') : f.has('E') ? pt : breToJs(pt)))
    .map((pt) => (f.has('w') ? `\\b(?:${pt})\\b` : f.has('x') ? `^(?:${pt})$` : pt))
    .join('|');
  let re: RegExp;
  try {
    re = new RegExp(src, f.has('i') ? 'gi' : 'g');
  } catch {
    await err(p, `grep: bad regex '${pats[0]}'\n`);
    return 2;
  }
  const out = new Out(p, 'grep', true);
  let matched = false;
  let rc = 0;
  const files: string[] = [];
  const expand = async (name: string): Promise<void> => {
    if (!(f.has('r') || f.has('R')) || name === '-') {
      files.push(name);
      return;
    }
    const path = resolvePath(p.cwd, name);
    try {
      const st = await p.sys.stat(path);
      if ((st.mode & S_IFMT) === S_IFDIR) {
        const ents = (await p.sys.readdir(path)).map((d) => d.name).sort();
        for (const e of ents) await expand(name.endsWith('/') ? name + e : `${name}/${e}`);
        return;
      }
    } catch {
      // reported when read
    }
    files.push(name);
  };
  for (const n of rest.length > 0 ? rest : f.has('r') ? ['.'] : ['-']) await expand(n);
  const prefix = (files.length > 1 || f.has('r') || f.has('H')) && !f.has('h');
  for (const name of files) {
    let data: Uint8Array;
    try {
      data = name === '-' ? await p.stdin.readAll() : await readFile(p.sys, resolvePath(p.cwd, name));
    } catch (e) {
      if (!isErrno(e)) throw e;
      if (!f.has('s')) await err(p, `grep: ${name}: ${e.message}\n`);
      rc = 2;
      continue;
    }
    const text = latin1(data);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let count = 0;
    const shown = name === '-' ? '(standard input)' : name;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      re.lastIndex = 0;
      const hit = re.test(line) !== f.has('v');
      if (!hit) continue;
      count++;
      matched = true;
      if (f.has('q')) return 0;
      if (f.has('l') || f.has('c')) continue;
      const pre = `${prefix ? `${shown}:` : ''}${f.has('n') ? `${i + 1}:` : ''}`;
      if (f.has('o') && !f.has('v')) {
        re.lastIndex = 0;
        for (const m of line.matchAll(re)) if (m[0] !== '') out.print(`${pre}${m[0]}\n`);
      } else out.print(`${pre}${line}\n`);
    }
    if (f.has('c')) out.print(`${prefix ? `${shown}:` : ''}${count}\n`);
    if (f.has('l') && count > 0) out.print(`${shown}\n`);
    await out.flush(4096);
  }
  await out.flush();
  if (out.failed) return 2;
  return rc === 2 && !matched ? 2 : matched ? 0 : 1;
}
