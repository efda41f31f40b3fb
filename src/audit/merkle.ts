/**
 * The Merkle tree over the audit ledger, exactly as RFC 6962 / RFC 9162 §2.1 define it (SHA-256, node:crypto):
 *
 *   leaf hash  = SHA-256(0x00 || leaf data)        leaf data of entry seq s = its entry_hash, hex-decoded (32 bytes)
 *   node hash  = SHA-256(0x01 || left || right)    leaf index of entry seq s = s - 1
 *   MTH({})    = SHA-256()                          MTH(D[n]) splits at k = the largest power of two below n
 *
 * Everything here is pure (no database). Sizes and indices are JS numbers, checked to be safe integers; no bit
 * operators are used on them (those are 32-bit in JS).
 *
 * STREAMING ROOTS: `MerkleAccumulator` keeps only the roots of the perfect subtrees that make up the leaves pushed
 * so far (one per set bit of the size: O(log n) memory). `root()` at any moment is MTH of the leaves so far, so one
 * pass over the ledger gives the root at every checkpoint size on the way. `onSubtree` reports each perfect,
 * aligned subtree as it completes — proofs are built from exactly those (see `proofPieces`).
 *
 * COMPACT RANGE: those O(log n) subtree roots are all a sealer needs to continue the tree (`MerkleAccumulator.resume`),
 * and — with the leaves after it — the old-tree side of a consistency proof from that size (see consistencyRanges:
 * every range inside the old tree is one of its compact-range subtrees).
 *
 * PROOFS: every hash in an inclusion or consistency proof is MTH of a range [start, end) of leaves that is either a
 * perfect aligned subtree or ends at the tree size; `inclusionRanges` / `consistencyRanges` list those ranges in
 * RFC order (leaf side first), `rangePieces` splits a range into perfect aligned subtrees and `foldPieces` combines
 * their roots into the range's MTH. The verifiers are RFC 9162 §2.1.3.2 and §2.1.4.2, step by step.
 */
import { createHash, hash } from 'node:crypto';

export const HASH_BYTES = 32;
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
const HEX64 = /^[0-9a-f]{64}$/;

/** A half-open range of leaf indices [start, end). */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/** A perfect, aligned subtree: leaves [start, start + 2^level), start a multiple of 2^level. */
export interface Subtree {
  readonly start: number;
  readonly level: number;
}

// One-shot SHA-256 (node:crypto `hash`) over the prefixed input: the same digests as createHash().update()…, at
// about half the cost for inputs this small (verification and sealing hash every leaf and node).
export function leafHash(leafData: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, leafData]), 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right], 1 + left.length + right.length), 'buffer');
}

/** MTH of the empty list. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

/** The leaf data of a ledger entry: its entry_hash (64 lowercase hex characters) as 32 bytes. */
export function ledgerLeafData(entryHashHex: string): Buffer {
  if (!HEX64.test(entryHashHex)) throw new TypeError('an entry hash must be 64 lowercase hex characters');
  return Buffer.from(entryHashHex, 'hex');
}

/** The leaf hash of a ledger entry, from its entry_hash. */
export function ledgerLeafHash(entryHashHex: string): Buffer {
  return leafHash(ledgerLeafData(entryHashHex));
}

export function isHash(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}

export function toHex(hash: Uint8Array): string {
  return Buffer.from(hash).toString('hex');
}

export function fromHex(hex: string): Buffer {
  if (!HEX64.test(hex)) throw new TypeError('a hash must be 64 lowercase hex characters');
  return Buffer.from(hex, 'hex');
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer`);
}

/** The largest power of two strictly below n (n >= 2). */
export function splitPoint(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new RangeError('splitPoint needs n >= 2');
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

// ---------------------------------------------------------------------------------------------------------------
// Streaming root

export interface AccumulatorOptions {
  /** Global index of the first leaf pushed (default 0). Must be a multiple of every subtree built on top of it. */
  readonly offset?: number;
  /** Called for every perfect aligned subtree as it completes (leaves are level 0). */
  readonly onSubtree?: (subtree: Subtree, hash: Buffer) => void;
}

/**
 * MTH of a growing list of leaves in O(log n) memory: a stack of perfect-subtree roots, largest (leftmost) first;
 * two neighbours of equal size merge as soon as they exist.
 */
export class MerkleAccumulator {
  private readonly stack: Array<{ level: number; hash: Buffer }> = [];
  private count = 0;
  private readonly offset: number;
  private readonly onSubtree: AccumulatorOptions['onSubtree'];

  constructor(options: AccumulatorOptions = {}) {
    this.offset = options.offset ?? 0;
    checkSize(this.offset, 'offset');
    this.onSubtree = options.onSubtree;
  }

  /** Leaves pushed so far. */
  get size(): number {
    return this.count;
  }

  /** Push one leaf by its data (hashed here as a leaf). */
  pushLeafData(data: Uint8Array): void {
    this.pushSubtree(0, leafHash(data));
  }

  /** Push one leaf by its leaf hash. */
  pushLeafHash(hash: Uint8Array): void {
    this.pushSubtree(0, Buffer.from(hash));
  }

  /**
   * Push a whole perfect subtree of 2^level leaves by its root. Allowed only where such a subtree is aligned:
   * the current size must be a multiple of 2^level, and no smaller subtree may be pending on the stack.
   */
  pushSubtree(level: number, hash: Uint8Array): void {
    if (!Number.isInteger(level) || level < 0 || level > 52) throw new RangeError('level must be an integer from 0 to 52');
    if (hash.length !== HASH_BYTES) throw new RangeError(`a hash must be ${HASH_BYTES} bytes`);
    const width = 2 ** level;
    const top = this.stack[this.stack.length - 1];
    if (this.count % width !== 0 || (top !== undefined && top.level < level)) {
      throw new RangeError(`a subtree of ${width} leaves is not aligned at ${this.count}`);
    }
    if (!Number.isSafeInteger(this.offset + this.count + width)) throw new RangeError('tree size beyond the safe integer range');
    let current: { level: number; hash: Buffer } = { level, hash: Buffer.from(hash) };
    this.count += width;
    if (level === 0) this.onSubtree?.({ start: this.offset + this.count - 1, level: 0 }, current.hash);
    for (;;) {
      const last = this.stack[this.stack.length - 1];
      if (!last || last.level !== current.level) break;
      this.stack.pop();
      current = { level: current.level + 1, hash: nodeHash(last.hash, current.hash) };
      this.onSubtree?.({ start: this.offset + this.count - 2 ** current.level, level: current.level }, current.hash);
    }
    this.stack.push(current);
  }

  /**
   * An accumulator that continues a tree of `size` leaves from its compact range (the roots of the perfect subtrees
   * on its right edge, leftmost first: one per set bit of `size`, see `compactRangeLevels`). Pushing the leaves after
   * `size` then costs O(new leaves + log n), without reading the first `size` leaves again.
   */
  static resume(size: number, compactRange: readonly Uint8Array[], options: Pick<AccumulatorOptions, 'onSubtree'> = {}): MerkleAccumulator {
    const levels = compactRangeLevels(size);
    if (levels.length !== compactRange.length)
      throw new RangeError(`a tree of ${size} leaves has a compact range of ${levels.length} hashes, not ${compactRange.length}`);
    const acc = new MerkleAccumulator(options);
    levels.forEach((level, i) => {
      const hash = compactRange[i] as Uint8Array;
      if (hash.length !== HASH_BYTES) throw new RangeError(`a hash must be ${HASH_BYTES} bytes`);
      acc.stack.push({ level, hash: Buffer.from(hash) });
    });
    acc.count = size;
    return acc;
  }

  /** The compact range: the pending perfect-subtree roots, leftmost first (what `resume` takes). */
  compactRange(): Buffer[] {
    return this.stack.map((s) => s.hash);
  }

  /** MTH of the leaves pushed so far (the empty hash for none). */
  root(): Buffer {
    let i = this.stack.length - 1;
    const last = this.stack[i];
    if (!last) return emptyRoot();
    let root = last.hash;
    for (i -= 1; i >= 0; i--) root = nodeHash((this.stack[i] as { hash: Buffer }).hash, root);
    return root;
  }

  /** The pending perfect subtrees (global start, level, hash), leftmost first. */
  pieces(): Array<Subtree & { hash: Buffer }> {
    const out: Array<Subtree & { hash: Buffer }> = [];
    let start = this.offset;
    for (const { level, hash } of this.stack) {
      out.push({ start, level, hash });
      start += 2 ** level;
    }
    return out;
  }
}

/** The levels of the compact range of a tree of `size` leaves: one per set bit, largest first. */
export function compactRangeLevels(size: number): number[] {
  checkSize(size, 'size');
  const levels: number[] = [];
  let rest = size;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (rest >= width) {
      levels.push(level);
      rest -= width;
    }
  }
  return levels;
}

/** The perfect subtrees of a compact range of `size` leaves (global start, level), leftmost first. */
export function compactRangeSubtrees(size: number): Subtree[] {
  let start = 0;
  return compactRangeLevels(size).map((level) => {
    const s = { start, level };
    start += 2 ** level;
    return s;
  });
}

/** MTH of the tree whose compact range this is (the root a checkpoint of that size signs). */
export function compactRangeRoot(compactRange: readonly Uint8Array[]): Buffer {
  if (compactRange.length === 0) return emptyRoot();
  return foldPieces(compactRange);
}

/** MTH of a list of leaf data held in memory (convenience for small lists and tests). */
export function merkleRoot(leaves: Iterable<Uint8Array>): Buffer {
  const acc = new MerkleAccumulator();
  for (const leaf of leaves) acc.pushLeafData(leaf);
  return acc.root();
}

// ---------------------------------------------------------------------------------------------------------------
// Proof shapes (which ranges' MTH make up a proof)

/** RFC 9162 §2.1.3.1 PATH(m, D[n]): the sibling ranges, leaf side first. */
export function inclusionRanges(leafIndex: number, treeSize: number): LeafRange[] {
  checkSize(treeSize, 'treeSize');
  if (!Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= treeSize) throw new RangeError('leafIndex must be below treeSize');
  const out: LeafRange[] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (leafIndex - lo < k) {
      out.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      out.push({ start: lo, end: lo + k });
      lo += k;
    }
  }
  return out.reverse();
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true): the ranges, innermost first. 0 < m <= n. */
export function consistencyRanges(oldSize: number, newSize: number): LeafRange[] {
  checkSize(newSize, 'newSize');
  if (!Number.isSafeInteger(oldSize) || oldSize < 1 || oldSize > newSize) throw new RangeError('oldSize must be from 1 to newSize');
  const out: LeafRange[] = [];
  let lo = 0;
  let hi = newSize;
  let m = oldSize;
  let complete = true;
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      out.push({ start: lo + k, end: hi });
      hi = lo + k;
    } else {
      out.push({ start: lo, end: lo + k });
      lo += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) out.push({ start: lo, end: hi });
  return out.reverse();
}

/**
 * Splits [start, end) into perfect aligned subtrees, largest first. Every range a proof uses qualifies (start is a
 * multiple of a power of two at least end - start); other ranges are refused.
 */
export function rangePieces(range: LeafRange): Subtree[] {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start)
    throw new RangeError('not a non-empty leaf range');
  const out: Subtree[] = [];
  let at = start;
  let previous = Number.POSITIVE_INFINITY;
  while (at < end) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level += 1;
    if (level >= previous) throw new RangeError(`[${start}, ${end}) is not a subtree range of a Merkle tree`);
    out.push({ start: at, level });
    previous = level;
    at += 2 ** level;
  }
  return out;
}

/** MTH of a range from the roots of its pieces (`rangePieces` order). */
export function foldPieces(hashes: readonly Uint8Array[]): Buffer {
  let i = hashes.length - 1;
  const last = hashes[i];
  if (!last) throw new RangeError('no pieces to fold');
  let root: Buffer = Buffer.from(last);
  for (i -= 1; i >= 0; i--) root = nodeHash(hashes[i] as Uint8Array, root);
  return root;
}

export const subtreeKey = (s: Subtree): string => `${s.level}:${s.start}`;

/** The perfect subtrees whose roots a set of ranges needs (deduplicated). */
export function proofPieces(ranges: readonly LeafRange[]): Subtree[] {
  const seen = new Map<string, Subtree>();
  for (const r of ranges) for (const p of rangePieces(r)) seen.set(subtreeKey(p), p);
  return [...seen.values()].sort((a, b) => a.start - b.start);
}

/** Builds proof hashes for `ranges` from the roots of their pieces (looked up by `subtreeKey`). */
export function assembleProof(ranges: readonly LeafRange[], pieceHashes: ReadonlyMap<string, Buffer>): Buffer[] {
  return ranges.map((r) =>
    foldPieces(
      rangePieces(r).map((p) => {
        const h = pieceHashes.get(subtreeKey(p));
        if (!h) throw new Error(`missing the root of subtree ${subtreeKey(p)}`);
        return h;
      }),
    ),
  );
}

/** Inclusion proof for leaf m of a tree of size n held in memory (leaf data). For tests and small trees. */
export function inclusionProof(leaves: readonly Uint8Array[], leafIndex: number, treeSize: number = leaves.length): Buffer[] {
  return assembleProof(inclusionRanges(leafIndex, treeSize), inMemoryPieces(leaves, treeSize));
}

/** Consistency proof between sizes m and n of a tree held in memory (leaf data). For tests and small trees. */
export function consistencyProof(leaves: readonly Uint8Array[], oldSize: number, newSize: number = leaves.length): Buffer[] {
  return assembleProof(consistencyRanges(oldSize, newSize), inMemoryPieces(leaves, newSize));
}

function inMemoryPieces(leaves: readonly Uint8Array[], treeSize: number): Map<string, Buffer> {
  if (treeSize > leaves.length) throw new RangeError('treeSize is larger than the number of leaves');
  const map = new Map<string, Buffer>();
  const acc = new MerkleAccumulator({ onSubtree: (s, h) => map.set(subtreeKey(s), h) });
  for (let i = 0; i < treeSize; i++) acc.pushLeafData(leaves[i] as Uint8Array);
  return map;
}

// ---------------------------------------------------------------------------------------------------------------
// Verifiers (RFC 9162 §2.1.3.2 and §2.1.4.2)

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === HASH_BYTES && b.length === HASH_BYTES && Buffer.from(a).equals(Buffer.from(b));
}

function wellFormed(proof: readonly Uint8Array[]): boolean {
  return proof.length <= 64 && proof.every((p) => p instanceof Uint8Array && p.length === HASH_BYTES);
}

/** The root that `proof` implies for leaf `leafIndex` of a tree of `treeSize`, or null if the proof cannot fit. */
export function rootFromInclusionProof(leafIndex: number, treeSize: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer | null {
  if (!Number.isSafeInteger(treeSize) || !Number.isSafeInteger(leafIndex) || leafIndex < 0 || leafIndex >= treeSize) return null;
  if (leaf.length !== HASH_BYTES || !wellFormed(proof)) return null;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return null;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        do {
          fn = half(fn);
          sn = half(sn);
        } while (!isOdd(fn) && fn !== 0);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

/** RFC 9162 §2.1.3.2: is `leaf` (a leaf HASH) at `leafIndex` in the tree of `treeSize` with `root`? */
export function verifyInclusion(
  leafIndex: number,
  treeSize: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const computed = rootFromInclusionProof(leafIndex, treeSize, leaf, proof);
  return computed !== null && equalHash(computed, root);
}

/** RFC 9162 §2.1.4.2: is the tree of `newSize` with `newRoot` an append-only extension of `oldSize` with `oldRoot`? */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 1 || oldSize > newSize) return false;
  if (oldRoot.length !== HASH_BYTES || newRoot.length !== HASH_BYTES || !wellFormed(proof)) return false;
  if (oldSize === newSize) return proof.length === 0 && equalHash(oldRoot, newRoot);
  // 1. If first is an exact power of 2, prepend first_hash to the proof.
  const isPowerOfTwo = (() => {
    let x = oldSize;
    while (x % 2 === 0) x /= 2;
    return x === 1;
  })();
  const c: Uint8Array[] = isPowerOfTwo ? [oldRoot, ...proof] : [...proof];
  const first = c[0];
  if (!first) return false;
  // 2-4.
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(first);
  let sr: Buffer = Buffer.from(first);
  // 5.
  for (const ci of c.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(ci, fr);
      sr = nodeHash(ci, sr);
      if (!isOdd(fn)) {
        do {
          fn = half(fn);
          sn = half(sn);
        } while (!isOdd(fn) && fn !== 0);
      }
    } else {
      sr = nodeHash(sr, ci);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // 6.
  return equalHash(fr, oldRoot) && equalHash(sr, newRoot) && sn === 0;
}
