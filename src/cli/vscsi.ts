// Ours: the `vscsi` command — QEMU's own command line in, a simulated guest out.
//
//   vscsi [QEMU options] [-x CMD]... [--script FILE] [--json] [-v] [--seed N]
//
// Our options may stand anywhere among QEMU's. With -x/--script each line runs in turn and the
// output is a transcript (or JSON lines); otherwise, on a terminal, the boot log and an interactive
// guest shell. Exit status: 1 when the command line was refused, else 0 (guest failures are in the
// records).

import fs from 'node:fs';
import readline from 'node:readline';
import { createMachine } from '../machine/machine.ts';
import type { Machine } from '../machine/machine.ts';
import { classify, jsonLine, splitScript, transcript } from './script.ts';
import type { RecordResult, ScriptRecord } from './script.ts';

export interface CliOptions {
  readonly qemuArgs: string[];
  readonly commands: string[];
  readonly scriptFile: string | undefined;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly seed: number;
}

export type CliParse = { ok: true; opts: CliOptions } | { ok: false; error: string };

/** Separates vscsi's own options from QEMU's, in any order. */
export function parseCli(argv: readonly string[]): CliParse {
  const qemuArgs: string[] = [];
  const commands: string[] = [];
  let scriptFile: string | undefined;
  let json = false;
  let verbose = false;
  let seed = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string | undefined => argv[++i];
    if (a === '-x') {
      const v = value();
      if (v === undefined) return { ok: false, error: 'vscsi: -x: requires an argument' };
      commands.push(v);
    } else if (a === '--script') {
      const v = value();
      if (v === undefined) return { ok: false, error: 'vscsi: --script: requires an argument' };
      scriptFile = v;
    } else if (a.startsWith('--script=')) scriptFile = a.slice(9);
    else if (a === '--json') json = true;
    else if (a === '-v' || a === '--verbose') verbose = true;
    else if (a === '--seed' || a.startsWith('--seed=')) {
      const v = a === '--seed' ? value() : a.slice(7);
      if (v === undefined || !/^\d+$/.test(v)) return { ok: false, error: `vscsi: --seed: expects a non-negative integer` };
      seed = Number(v);
    } else qemuArgs.push(a);
  }
  return { ok: true, opts: { qemuArgs, commands, scriptFile, json, verbose, seed } };
}

async function runRecord(m: Machine, rec: ScriptRecord): Promise<RecordResult> {
  const r = rec.kind === 'guest' ? await m.guest(rec.body) : rec.kind === 'monitor' ? await m.monitor(rec.body) : await m.qmp(rec.body);
  return { cmd: rec.text, stdout: r.stdout, stderr: r.stderr, rc: r.rc, tty: r.tty, pending: r.pending ?? false };
}

export async function main(argv: readonly string[], io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  const parsed = parseCli(argv);
  if (!parsed.ok) {
    io.stderr.write(parsed.error + '\n');
    return 1;
  }
  const o = parsed.opts;
  const created = await createMachine(o.qemuArgs, { seed: o.seed, hostFs: fs, stderr: (line) => io.stderr.write(line + '\n') });
  for (const w of created.warnings) io.stderr.write(w + '\n');
  if ('help' in created) {
    io.stdout.write(created.help);
    return 0;
  }
  if ('error' in created) {
    io.stderr.write(created.error + '\n');
    return 1;
  }
  const m = created.machine;
  await m.boot();
  const scripted = o.commands.length > 0 || o.scriptFile !== undefined;
  if (o.verbose || !scripted) io.stderr.write(m.bootLog());
  if (!scripted && io.stdin.isTTY) return interactive(m, io);
  let records: ScriptRecord[];
  if (scripted) {
    records = o.commands.map((c) => classify(c));
    if (o.scriptFile !== undefined) {
      let text: string;
      try {
        text = fs.readFileSync(o.scriptFile === '-' ? 0 : o.scriptFile, 'utf8');
      } catch (e) {
        io.stderr.write(`vscsi: --script: ${(e as Error).message}\n`);
        return 1;
      }
      records = records.concat(splitScript(text, (t) => m.isIncomplete(t)));
    }
  } else {
    const chunks: Buffer[] = [];
    for await (const c of io.stdin) chunks.push(c as Buffer);
    records = splitScript(Buffer.concat(chunks).toString('utf8'), (t) => m.isIncomplete(t));
  }
  const print = (r: RecordResult): void => {
    io.stdout.write(o.json ? jsonLine(r) + '\n' : transcript(r));
  };
  for (const rec of records) {
    const r = await runRecord(m, rec);
    // A line still blocked (paused VM, unanswered request) is printed when it completes.
    if (!r.pending) print(r);
    for (const c of m.takeCompleted()) print({ cmd: c.line, ...c.out });
    if (m.quit) break;
  }
  await m.shutdown();
  return 0;
}

/** The guest console: `# ` prompt, line editing and history; `(qemu) CMD` reaches the monitor. */
async function interactive(m: Machine, io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; stdin: NodeJS.ReadStream }): Promise<number> {
  const rl = readline.createInterface({ input: io.stdin, output: io.stdout, prompt: '# ', terminal: true, historySize: 1000 });
  io.stdout.write('Guest shell. Lines starting with "(qemu) " go to the QEMU monitor; Ctrl-D leaves.\n');
  rl.prompt();
  let pending = '';
  for await (const line of rl) {
    const text = pending ? pending + '\n' + line : line;
    if (!text.startsWith('(q') && m.isIncomplete(text)) {
      pending = text;
      rl.setPrompt('> ');
      rl.prompt();
      continue;
    }
    pending = '';
    rl.setPrompt('# ');
    if (text.trim() !== '') {
      const r = await runRecord(m, classify(text));
      io.stdout.write(r.stdout);
      io.stderr.write(r.stderr);
    }
    // A line left blocked earlier (paused VM) writes its output once it completes.
    for (const c of m.takeCompleted()) {
      io.stdout.write(c.out.stdout);
      io.stderr.write(c.out.stderr);
    }
    if (m.quit) break;
    rl.prompt();
  }
  rl.close();
  await m.shutdown();
  return 0;
}
