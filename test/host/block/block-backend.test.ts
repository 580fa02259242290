// BlockBackend: virtual-latency completion on the event loop, errno values instead of throws, cache
// options, error policy, resize, medium removal.
import { describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLoop } from '../../../src/sim/event_loop.ts';
import { BlockBackend, type BlockErrno, type SyncFs } from '../../../src/host/block/block-backend.ts';
import { memoryBackend } from '../../fakes/memory_backend.ts';

describe('BlockBackend', () => {
  it('completes after the configured latency, with data moved at completion', async () => {
    const loop = new EventLoop();
    const { blk } = memoryBackend(loop, 4096, { latencyNs: 50_000 });
    const seen: Array<[number, BlockErrno | null]> = [];
    const buf = new Uint8Array(512).fill(9);
    blk.write(512, buf, (tag: number, err) => seen.push([tag, err]), 1);
    expect(seen).toEqual([]);
    const out = new Uint8Array(512);
    blk.read(512, out, (tag: number, err) => seen.push([tag, err]), 2);
    await loop.runUntilIdle();
    expect(loop.now()).toBe(50_000);
    expect(seen).toEqual([[1, null], [2, null]]);
    expect(out[0]).toBe(9);
  });

  it('reports errors as errno values: no medium, read-only, fault hook, write past the end', async () => {
    const loop = new EventLoop();
    const { blk } = memoryBackend(loop, 1024);
    const errs: Array<BlockErrno | null> = [];
    const cb = (_: null, e: BlockErrno | null): void => void errs.push(e);
    blk.write(1024, new Uint8Array(512), cb, null);
    blk.faultHook = (op) => (op === 'flush' ? 'EIO' : null);
    blk.flush(cb, null);
    await loop.runUntilIdle();
    blk.readOnly = true;
    blk.write(0, new Uint8Array(1), cb, null);
    await loop.runUntilIdle();
    blk.removeMedium();
    blk.read(0, new Uint8Array(1), cb, null);
    await loop.runUntilIdle();
    expect(errs).toEqual(['EIO', 'EIO', 'EROFS', 'ENOMEDIUM']);
  });

  it('cancel drops an operation before it runs', async () => {
    const loop = new EventLoop();
    const { blk, bytes } = memoryBackend(loop, 1024);
    let called = false;
    const aio = blk.write(0, new Uint8Array(512).fill(1), () => (called = true), null);
    aio.cancel();
    await loop.runUntilIdle();
    expect([called, bytes()[0], blk.inFlight]).toEqual([false, 0, 0]);
  });

  it('error policy: defaults report/enospc; stop sets io-status failed and the event has nospace', () => {
    const loop = new EventLoop();
    const { blk } = memoryBackend(loop, 1024, { name: 'd0', rerror: 'stop' });
    expect(blk.getErrorAction(true, 'EIO')).toBe('stop');
    expect(blk.getErrorAction(false, 'EIO')).toBe('report');
    expect(blk.getErrorAction(false, 'ENOSPC')).toBe('stop');
    const evs: unknown[] = [];
    blk.onIoError = (e) => evs.push(e);
    blk.errorAction('stop', true, 'EIO');
    expect(blk.ioStatus).toBe('failed');
    expect(evs).toEqual([{ device: 'd0', nodeName: undefined, operation: 'read', action: 'stop', reason: 'Input/output error', nospace: false }]);
  });

  it('resize notifies listeners and changes the size; open errors come back as codes', () => {
    const loop = new EventLoop();
    const { blk, fs } = memoryBackend(loop, 1024);
    let n = 0;
    blk.onResize(() => n++);
    expect(blk.resize(4096)).toBeNull();
    expect([blk.size, blk.nbSectors, n]).toEqual([4096, 8, 1]);
    expect(BlockBackend.open(loop, fs, '/missing')).toEqual({ error: 'ENOENT' });
  });

  it("works over Node's own fs", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blk-'));
    const path = join(dir, 'disk.img');
    writeFileSync(path, new Uint8Array(2048));
    const loop = new EventLoop();
    const fs: SyncFs = nodeFs;
    const blk = BlockBackend.open(loop, fs, path);
    if (!(blk instanceof BlockBackend)) throw new Error(blk.error);
    let err: BlockErrno | null | undefined;
    blk.write(0, new Uint8Array([1, 2, 3]), (_: null, e) => (err = e), null);
    await loop.runUntilIdle();
    expect(err).toBeNull();
    expect(Array.from(nodeFs.readFileSync(path).subarray(0, 3))).toEqual([1, 2, 3]);
    blk.removeMedium();
  });
});
