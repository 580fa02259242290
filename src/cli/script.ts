// Ours: the `vscsi` script and transcript contract (shared/CONTRACT.md §"The vscsi script and JSON
// contract"): splitting a script into records, and rendering each record as a terminal transcript or
// as one JSON object per line.

/** One executed line: `cmd` verbatim (with its `(qemu) ` / `(qmp) ` prefix), its output and status. */
export interface RecordResult {
  readonly cmd: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly rc: number;
  /** Both streams in write order; when absent the transcript shows stdout, then stderr. */
  readonly tty?: string;
  /** Still running: the record is printed later, when the line completes. */
  readonly pending?: boolean;
}

export type RecordKind = 'guest' | 'monitor' | 'qmp';

export interface ScriptRecord {
  readonly text: string;
  readonly kind: RecordKind;
  /** The command without its prefix. */
  readonly body: string;
}

export function classify(text: string): ScriptRecord {
  if (text.startsWith('(qemu) ')) return { text, kind: 'monitor', body: text.slice(7) };
  if (text.startsWith('(qemu)')) return { text, kind: 'monitor', body: text.slice(6).trimStart() };
  if (text.startsWith('(qmp) ')) return { text, kind: 'qmp', body: text.slice(6) };
  return { text, kind: 'guest', body: text };
}

/**
 * Splits a script into records: each non-blank line that is not a `#` comment is one record; a guest
 * line whose compound command is still open (or ends in `\`) takes the following lines with it.
 */
export function splitScript(script: string, isIncomplete: (text: string) => boolean): ScriptRecord[] {
  const lines = script.split('\n');
  const out: ScriptRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const rec = classify(line);
    if (rec.kind !== 'guest') {
      out.push(rec);
      continue;
    }
    let text = line;
    while (isIncomplete(text) && i + 1 < lines.length) text += '\n' + lines[++i]!.replace(/\r$/, '');
    out.push(classify(text));
  }
  return out;
}

/** The terminal rendering: the prompt and command, then what it printed in the order it was written. */
export function transcript(r: RecordResult): string {
  const prompt = r.cmd.startsWith('(qemu)') || r.cmd.startsWith('(qmp)') ? '' : '# ';
  const shown = prompt + r.cmd.split('\n').join('\n> ');
  return `${shown}\n${r.tty ?? r.stdout + r.stderr}`;
}

export function jsonLine(r: RecordResult): string {
  return JSON.stringify({ cmd: r.cmd, stdout: r.stdout, stderr: r.stderr, rc: r.rc });
}
