// Ours: command lookup for the guest shell — a bare name or an absolute path (/bin/x, /usr/bin/x,
// /sbin/x, /usr/sbin/x) finds the same tool, as on the captured guest where busybox links every applet.
// Other engineers' tools (lsscsi, sg3_utils, udevadm …) are added with `add()`.

import type { Command, CommandEntry } from './process.ts';

export const STANDARD_DIRS = ['/bin', '/usr/bin', '/sbin', '/usr/sbin'] as const;

export class CommandRegistry {
  readonly #byName = new Map<string, CommandEntry>();
  readonly #byPath = new Map<string, CommandEntry>();

  add(entry: CommandEntry): this {
    this.#byName.set(entry.name, entry);
    for (const p of entry.paths) this.#byPath.set(p, entry);
    return this;
  }

  /** Registers `run` under `name` and its paths in every standard directory. */
  addCommand(name: string, run: Command, paths: readonly string[] = STANDARD_DIRS.map((d) => `${d}/${name}`)): this {
    return this.add({ name, paths, run });
  }

  /** A bare name, or an absolute path in one of the standard directories (or one the entry declares). */
  lookup(nameOrPath: string): CommandEntry | undefined {
    if (!nameOrPath.includes('/')) return this.#byName.get(nameOrPath);
    const exact = this.#byPath.get(nameOrPath);
    if (exact) return exact;
    const slash = nameOrPath.lastIndexOf('/');
    const dir = nameOrPath.slice(0, slash);
    const base = nameOrPath.slice(slash + 1);
    if ((STANDARD_DIRS as readonly string[]).includes(dir)) return this.#byName.get(base);
    return undefined;
  }

  /** Every registered name, sorted (for `help`). */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }
}
