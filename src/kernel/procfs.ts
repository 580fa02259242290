// Models fs/proc (Linux 6.1), reduced: a read-only tree of generated files. Each file's text is made
// when it is opened (seq_file), from whoever registered it — /proc/partitions by the block layer,
// /proc/devices by the device-number registry, /proc/interrupts by the interrupt core.

import { Errno } from './errno.ts';
import { DirNode, FileNode, bytes } from './fs.ts';
import type { FileOps } from './fs.ts';

export const PROC_DEV = 0x4;

export class ProcFs {
  readonly root: DirNode;
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
    this.root = new DirNode('', 0o555, now(), PROC_DEV, 'zero', true);
  }

  /** Registers `path` (relative to /proc) whose contents `show()` produces at open time. */
  addFile(path: string, show: () => string, opts: { mode?: number; write?: (text: string) => void } = {}): void {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    let dir = this.root;
    for (const p of parts) dir = dir.mkdir(p, 0o555, this.#now());
    dir.remove(name);
    const write = opts.write;
    const ops = (): FileOps => {
      let text: Uint8Array | null = null;
      const o: FileOps = {
        read: (pos, len) => {
          text ??= bytes(show());
          return text.slice(pos, Math.min(text.length, pos + len));
        },
      };
      if (write) {
        o.write = (_pos, data) => {
          write(new TextDecoder().decode(data));
          return data.length;
        };
      }
      return o;
    };
    dir.add(new FileNode(name, opts.mode ?? 0o444, this.#now(), PROC_DEV, ops, 0));
  }

  remove(path: string): void {
    const parts = path.split('/').filter(Boolean);
    const name = parts.pop()!;
    let dir: DirNode | undefined = this.root;
    for (const p of parts) {
      const next: unknown = dir?.get(p);
      dir = next instanceof DirNode ? next : undefined;
    }
    if (!dir?.get(name)) throw new Errno('ENOENT');
    dir.remove(name);
  }
}
