// Models drivers/char/mem.c (Linux 6.1): the memory character devices of major 1 that userland
// reaches for — /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom — and /dev/kmsg's reads.
// Randomness comes from the machine's seeded generator, so runs stay reproducible.

import { Errno } from './errno.ts';
import type { FileOps } from './fs.ts';
import type { Rng } from '../sim/rng.ts';

export const MEM_MAJOR = 1;

export function memDeviceOpen(minor: number, rng: Rng, kmsg: () => string): FileOps {
  switch (minor) {
    case 3: // null
      return { read: () => new Uint8Array(0), write: (_p, d) => d.length };
    case 5: // zero
      return { read: (_p, len) => new Uint8Array(len), write: (_p, d) => d.length };
    case 7: // full
      return {
        read: (_p, len) => new Uint8Array(len),
        write: () => {
          throw new Errno('ENOSPC');
        },
      };
    case 8: // random
    case 9: // urandom
      return {
        read: (_p, len) => {
          const out = new Uint8Array(len);
          for (let i = 0; i < len; i += 4) {
            const v = rng.nextU32();
            for (let j = 0; j < 4 && i + j < len; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
          }
          return out;
        },
        write: (_p, d) => d.length,
      };
    case 11: {
      // kmsg: the log, one record per read, as `dmesg -r` would see it.
      let text: Uint8Array | null = null;
      return {
        read: (pos, len) => {
          text ??= new TextEncoder().encode(kmsg());
          return text.slice(pos, pos + len);
        },
        write: (_p, d) => d.length,
      };
    }
    default:
      throw new Errno('ENXIO');
  }
}
