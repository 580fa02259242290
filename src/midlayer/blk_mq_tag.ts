// Models lib/sbitmap.c as blk-mq's tag allocator uses it (Linux 6.1, not round-robin): tags in words of
// 64 bits; a search starts at the allocation hint and wraps inside its word; a freed tag is only
// "deferred" clear — it becomes free again when its word runs out — and leaves the hint on itself, so
// consecutive commands take consecutive tags (tag#192, tag#193, … in the captures). The hint starts
// at a random place, as the kernel seeds it; here from the machine's seeded generator.

const WORD = 64;

export class SbitmapTags {
  readonly depth: number;
  readonly #busy: Uint8Array;
  readonly #deferred: Uint8Array;
  #hint: number;

  constructor(depth: number, initialHint: number) {
    this.depth = depth;
    this.#busy = new Uint8Array(depth);
    this.#deferred = new Uint8Array(depth);
    this.#hint = initialHint % depth;
  }

  /** sbitmap_get: a tag, or -1 when every tag is in use. */
  get(): number {
    const words = Math.ceil(this.depth / WORD);
    let index = Math.floor(this.#hint / WORD);
    let bit = this.#hint % WORD;
    for (let n = 0; n < words; n++) {
      const base = index * WORD;
      const end = Math.min(WORD, this.depth - base);
      let nr = this.#findInWord(base, end, bit);
      if (nr < 0 && this.#applyDeferred(base, end)) nr = this.#findInWord(base, end, bit);
      if (nr >= 0) {
        const tag = base + nr;
        this.#busy[tag] = 1;
        if (tag === this.#hint) this.#hint = tag + 1 >= this.depth - 1 ? 0 : tag + 1;
        return tag;
      }
      index = (index + 1) % words;
      bit = 0;
    }
    return -1;
  }

  /** sbitmap_queue_clear: deferred clear, and the hint moves to the freed tag. */
  put(tag: number): void {
    if (tag < 0 || tag >= this.depth || !this.#busy[tag]) return;
    this.#deferred[tag] = 1;
    this.#hint = tag;
  }

  #findInWord(base: number, end: number, from: number): number {
    for (let i = 0; i < end; i++) {
      const b = (from + i) % end;
      if (!this.#busy[base + b]) return b;
    }
    return -1;
  }

  #applyDeferred(base: number, end: number): boolean {
    let any = false;
    for (let b = 0; b < end; b++) {
      if (this.#deferred[base + b]) {
        this.#deferred[base + b] = 0;
        this.#busy[base + b] = 0;
        any = true;
      }
    }
    return any;
  }
}
