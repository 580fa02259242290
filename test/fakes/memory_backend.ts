// Ours: BlockBackends over an in-memory filesystem (memfs) for device tests — zero-filled images like
// the goldens' raw disks, or a copy of a fixture file.

import { Volume } from 'memfs';
import { readFileSync } from 'node:fs';
import { BlockBackend, type BlockBackendOptions, type SyncFs } from '../../src/host/block/block-backend.ts';
import type { EventLoop } from '../../src/sim/event_loop.ts';

export interface MemoryImage {
  fs: SyncFs;
  path: string;
  blk: BlockBackend;
  bytes(): Uint8Array;
}

export function memoryBackend(loop: EventLoop, size: number, opts: BlockBackendOptions = {}, content?: Uint8Array): MemoryImage {
  const vol = new Volume();
  const path = '/image';
  const init = new Uint8Array(size);
  if (content) init.set(content.subarray(0, size));
  vol.writeFileSync(path, init);
  const fs = vol as unknown as SyncFs;
  const blk = BlockBackend.open(loop, fs, path, opts);
  if (!(blk instanceof BlockBackend)) throw new Error(blk.error);
  return { fs, path, blk, bytes: () => new Uint8Array(vol.readFileSync(path) as Uint8Array) };
}

export function fixtureBackend(loop: EventLoop, file: string, opts: BlockBackendOptions = {}): MemoryImage {
  const content = new Uint8Array(readFileSync(new URL(`../fixtures/${file}`, import.meta.url)));
  return memoryBackend(loop, content.length, opts, content);
}
