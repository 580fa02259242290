// Ours (≈ kernel/dma/direct.c + mm/slab_common.c, reduced): where the guest kernel gets guest-physical
// memory for rings, indirect tables, command headers and data buffers.
//
// `alloc` is dma_alloc_coherent's shape: zeroed, rounded up to whole pages, page-aligned (or more).
// `kmalloc` serves small objects (indirect descriptor tables, per-command headers) from power-of-two
// size classes carved out of pages, like the kmalloc-N caches. Both are first-fit over an address-
// ordered free list, so the same sequence of calls always yields the same addresses.

import type { Gpa, GuestMemory } from '../platform/guest_memory.ts';

export const PAGE_SIZE = 4096;
const KMALLOC_MIN = 16;

interface Range {
  start: number;
  size: number;
}

export class DmaAllocator {
  readonly #mem: GuestMemory;
  readonly #free: Range[]; // sorted by start, coalesced
  readonly #blocks = new Map<number, number>(); // start -> size of page allocations
  readonly #slabFree = new Map<number, number[]>(); // size class -> free objects (LIFO)
  readonly #slabOf = new Map<number, number>(); // object -> size class
  #inUse = 0;
  #objects = 0;

  /** Manages [base, base+size) of `mem`; base and size are rounded inward to pages. */
  constructor(mem: GuestMemory, base: Gpa, size: number) {
    this.#mem = mem;
    const start = Math.ceil(base / PAGE_SIZE) * PAGE_SIZE;
    const end = Math.floor((base + size) / PAGE_SIZE) * PAGE_SIZE;
    this.#free = end > start ? [{ start, size: end - start }] : [];
  }

  /** Bytes handed out by `alloc` (pages) — slab pages count once they are carved. */
  get bytesInUse(): number {
    return this.#inUse;
  }

  /** Live kmalloc objects (leak checks in tests). */
  get objectsInUse(): number {
    return this.#objects;
  }

  /** Zeroed, page-granular, aligned to max(align, PAGE_SIZE). Null when no range fits (-ENOMEM). */
  alloc(size: number, align = PAGE_SIZE): Gpa | null {
    if (!(size > 0)) return null;
    const len = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const al = Math.max(align, PAGE_SIZE);
    for (let i = 0; i < this.#free.length; i++) {
      const r = this.#free[i]!;
      const a = Math.ceil(r.start / al) * al;
      if (a + len > r.start + r.size) continue;
      const tail = r.start + r.size - (a + len);
      // Carve [a, a+len) out of r in place: the head stays in r, a tail becomes a new range.
      if (a > r.start) {
        r.size = a - r.start;
        if (tail > 0) this.#free.splice(i + 1, 0, { start: a + len, size: tail });
      } else if (tail > 0) {
        r.start = a + len;
        r.size = tail;
      } else this.#free.splice(i, 1);
      this.#blocks.set(a, len);
      this.#inUse += len;
      this.#mem.fill(a, len, 0);
      return a;
    }
    return null;
  }

  /** Returns a block from `alloc`. Freeing an unknown address is a kernel bug. */
  free(addr: Gpa): void {
    const len = this.#blocks.get(addr);
    if (len === undefined) throw new Error(`dma free of unallocated 0x${addr.toString(16)}`);
    this.#blocks.delete(addr);
    this.#inUse -= len;
    // First range above addr (binary search: the list is address-ordered).
    let i = 0;
    for (let hi = this.#free.length; i < hi; ) {
      const mid = (i + hi) >> 1;
      if (this.#free[mid]!.start < addr) i = mid + 1;
      else hi = mid;
    }
    this.#free.splice(i, 0, { start: addr, size: len });
    // coalesce with the neighbours
    const next = this.#free[i + 1];
    if (next && addr + len === next.start) {
      this.#free[i]!.size += next.size;
      this.#free.splice(i + 1, 1);
    }
    const prev = this.#free[i - 1];
    if (prev && prev.start + prev.size === addr) {
      prev.size += this.#free[i]!.size;
      this.#free.splice(i, 1);
    }
  }

  /** Small zeroed object, naturally aligned to its size class (16 … 2048); larger sizes get pages. */
  kmalloc(size: number): Gpa | null {
    if (!(size > 0)) return null;
    if (size > PAGE_SIZE / 2) {
      const a = this.alloc(size);
      if (a !== null) this.#objects++;
      return a;
    }
    let cls = KMALLOC_MIN;
    while (cls < size) cls *= 2;
    let list = this.#slabFree.get(cls);
    if (!list) this.#slabFree.set(cls, (list = []));
    if (list.length === 0) {
      const page = this.alloc(PAGE_SIZE);
      if (page === null) return null;
      for (let off = PAGE_SIZE - cls; off >= 0; off -= cls) {
        list.push(page + off);
        this.#slabOf.set(page + off, cls);
      }
    }
    const obj = list.pop()!;
    this.#objects++;
    this.#mem.fill(obj, cls, 0);
    return obj;
  }

  kfree(addr: Gpa): void {
    const cls = this.#slabOf.get(addr);
    if (cls === undefined) {
      this.free(addr);
      this.#objects--;
      return;
    }
    this.#slabFree.get(cls)!.push(addr);
    this.#objects--;
  }
}
