import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DmaAllocator, PAGE_SIZE } from '../../src/kernel/dma.ts';
import { FlatGuestMemory } from '../../src/platform/guest_memory.ts';

describe('DMA allocator', () => {
  it('hands out zeroed, page-aligned blocks first-fit and coalesces on free', () => {
    const mem = new FlatGuestMemory(1 << 20);
    const dma = new DmaAllocator(mem, 0x10000, 0x10000);
    const a = dma.alloc(6726)!; // a 256-entry split ring
    const b = dma.alloc(100)!;
    expect([a, b]).toEqual([0x10000, 0x12000]);
    mem.fill(a, 8192, 0xee);
    dma.free(a);
    expect(dma.alloc(4096)).toBe(0x10000); // first fit reuses the hole
    expect(mem.read32(0x10000)).toBe(0); // zeroed
    expect(dma.alloc(0x100000)).toBeNull();
    expect(dma.alloc(0x4000, 0x4000)).toBe(0x14000);
  });

  it('serves kmalloc objects from size classes, naturally aligned', () => {
    const mem = new FlatGuestMemory(1 << 20);
    const dma = new DmaAllocator(mem, 0x10000, 0x10000);
    const x = dma.kmalloc(48)!;
    const y = dma.kmalloc(48)!;
    expect(x % 64).toBe(0);
    expect(y).toBe(x + 64);
    expect(dma.objectsInUse).toBe(2);
    dma.kfree(x);
    expect(dma.kmalloc(33)).toBe(x);
  });

  it('never hands out overlapping live blocks, and frees back to one range', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 5 * PAGE_SIZE })), { maxLength: 60 }), (ops) => {
        const mem = new FlatGuestMemory(1 << 20);
        const dma = new DmaAllocator(mem, 0, 1 << 20);
        const live: Array<[number, number]> = [];
        for (const [isAlloc, size] of ops) {
          if (isAlloc || live.length === 0) {
            const a = dma.alloc(size);
            if (a === null) continue;
            const len = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
            for (const [s, l] of live) expect(a + len <= s || s + l <= a).toBe(true);
            live.push([a, len]);
          } else dma.free(live.splice(size % live.length, 1)[0]![0]);
        }
        for (const [s] of live) dma.free(s);
        expect(dma.bytesInUse).toBe(0);
        expect(dma.alloc(1 << 20)).toBe(0);
      }),
    );
  });
});
