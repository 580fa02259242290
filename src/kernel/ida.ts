// Ours (≈ lib/idr.c's IDA, reduced): an allocator that always hands out the lowest free id, as
// ida_alloc does for sd/sr/sg indexes and bsg minors. Allocation and release cost O(log n), so
// adding one device to a host that already has thousands does not walk the ids in use.
//
// The free ids are [high, ∞) plus the released ids below `high`, kept in a min-heap; the lowest of
// the two is the lowest free id.

export class Ida {
  readonly #used = new Set<number>();
  /** Every id ≥ high is free. */
  #high = 0;
  /** Released ids below `high` (a binary min-heap). */
  readonly #freed: number[] = [];

  /** The id alloc() would return. */
  peek(): number {
    return this.#freed.length > 0 ? this.#freed[0]! : this.#high;
  }

  /** Takes the lowest free id; −1 (nothing taken) when that id is not below `limit`. */
  alloc(limit = Number.POSITIVE_INFINITY): number {
    const id = this.peek();
    if (id >= limit) return -1;
    if (this.#freed.length > 0) this.#pop();
    else this.#high++;
    this.#used.add(id);
    return id;
  }

  /** Returns an id to the pool; ids not in use are ignored. */
  free(id: number): void {
    if (!this.#used.delete(id)) return;
    this.#push(id);
  }

  has(id: number): boolean {
    return this.#used.has(id);
  }

  #push(id: number): void {
    const h = this.#freed;
    let i = h.push(id) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]! <= id) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = id;
  }

  #pop(): void {
    const h = this.#freed;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
