import { subtreeKey, type Subtree } from './merkle';

/**
 * Roots of perfect aligned subtrees of at least 2^minLevel leaves, remembered from earlier passes so that an
 * inclusion proof reads only a few hundred leaves instead of the whole ledger. Needs no trust: a proof built from a
 * wrong value does not verify against the signed root (the receipt builder checks before answering). One cache
 * per database. Bounded: the oldest entries go first.
 */
export class SubtreeCache {
  private readonly map = new Map<string, Buffer>();
  constructor(
    readonly minLevel = 8,
    readonly maxEntries = 200_000,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(s: Subtree): Buffer | undefined {
    return this.map.get(subtreeKey(s));
  }

  remember(s: Subtree, hash: Buffer): void {
    if (s.level < this.minLevel) return;
    const key = subtreeKey(s);
    if (this.map.has(key)) return;
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, hash);
  }

  clear(): void {
    this.map.clear();
  }
}
