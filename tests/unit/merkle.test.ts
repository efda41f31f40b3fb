/**
 * The Merkle tree against the RFC itself: a naive recursive MTH / PATH / PROOF written straight from
 * RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, compared with the streaming root and the range-based proofs for every
 * tree size up to 40 and every leaf / old size; the verifiers accept every honest proof and refuse tampered ones.
 */
import { createHash } from 'node:crypto';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  ledgerLeafHash,
  MerkleAccumulator,
  merkleRoot,
  nodeHash,
  rangePieces,
  rootFromInclusionProof,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

// ---- the RFC, literally -------------------------------------------------------------------------------------
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function MTH(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return sha256();
  if (d.length === 1) return sha256(Buffer.from([0]), d[0] as Buffer);
  const k = largestPowerOfTwoBelow(d.length);
  return sha256(Buffer.from([1]), MTH(d.slice(0, k)), MTH(d.slice(k)));
}
function PATH(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const k = largestPowerOfTwoBelow(d.length);
  return m < k ? [...PATH(m, d.slice(0, k)), MTH(d.slice(k))] : [...PATH(m - k, d.slice(k)), MTH(d.slice(0, k))];
}
function SUBPROOF(m: number, d: readonly Buffer[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [MTH(d)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k ? [...SUBPROOF(m, d.slice(0, k), b), MTH(d.slice(k))] : [...SUBPROOF(m - k, d.slice(k), false), MTH(d.slice(0, k))];
}
const PROOF = (m: number, d: readonly Buffer[]): Buffer[] => SUBPROOF(m, d, true);
// -------------------------------------------------------------------------------------------------------------

const MAX = 40;
/** Leaf data as the ledger uses it: 32-byte entry hashes. */
const leaves: Buffer[] = Array.from({ length: MAX }, (_, i) => sha256(Buffer.from(`entry ${i + 1}`)));
const hex = (b: Buffer[]): string[] => b.map((x) => x.toString('hex'));
const flip = (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  c[c.length - 1] = (c[c.length - 1] as number) ^ 1;
  return c;
};

describe('RFC 6962 / 9162 hashing', () => {
  it('uses 0x00 for leaves, 0x01 for nodes and SHA-256() for the empty tree', () => {
    expect(leafHash(Buffer.from('abc')).equals(sha256(Buffer.from([0]), Buffer.from('abc')))).toBe(true);
    const a = Buffer.alloc(32, 1);
    const b = Buffer.alloc(32, 2);
    expect(nodeHash(a, b).equals(sha256(Buffer.from([1]), a, b))).toBe(true);
    expect(emptyRoot().toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(merkleRoot([]).equals(emptyRoot())).toBe(true);
  });

  it('matches the published RFC 6962 test vectors (certificate-transparency-go merkle tests)', () => {
    // Leaves from the CT reference implementation's test data; roots from the same file.
    const vectorLeaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
      Buffer.from(h, 'hex'),
    );
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    roots.forEach((root, i) => expect(merkleRoot(vectorLeaves.slice(0, i + 1)).toString('hex')).toBe(root));
  });

  it('hashes a ledger entry hash as 32 bytes of leaf data', () => {
    const h = 'ab'.repeat(32);
    expect(ledgerLeafHash(h).equals(leafHash(Buffer.from(h, 'hex')))).toBe(true);
    expect(() => ledgerLeafHash('AB'.repeat(32))).toThrow(TypeError);
    expect(() => ledgerLeafHash('ab')).toThrow(TypeError);
  });
});

describe('streaming root', () => {
  it(`equals MTH(D[n]) for every n from 0 to ${MAX}, in O(log n) stack`, () => {
    const acc = new MerkleAccumulator();
    expect(acc.root().equals(MTH([]))).toBe(true);
    for (let n = 1; n <= MAX; n++) {
      acc.pushLeafData(leaves[n - 1] as Buffer);
      expect(acc.size).toBe(n);
      expect(acc.root().toString('hex')).toBe(MTH(leaves.slice(0, n)).toString('hex'));
      // One pending subtree per set bit of n.
      expect(acc.pieces()).toHaveLength(n.toString(2).replace(/0/g, '').length);
    }
  });

  it('reports every perfect aligned subtree once, with its MTH', () => {
    const seen: string[] = [];
    const acc = new MerkleAccumulator({
      onSubtree: (s, h) => {
        seen.push(`${s.level}:${s.start}`);
        expect(h.equals(MTH(leaves.slice(s.start, s.start + 2 ** s.level)))).toBe(true);
      },
    });
    for (let i = 0; i < 13; i++) acc.pushLeafData(leaves[i] as Buffer);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(13 + 6 + 3 + 1); // 13 leaves, 6 pairs, 3 quads, 1 octet
  });

  it('accepts whole aligned subtrees and refuses misaligned ones', () => {
    const acc = new MerkleAccumulator();
    acc.pushSubtree(3, MTH(leaves.slice(0, 8)));
    acc.pushSubtree(2, MTH(leaves.slice(8, 12)));
    acc.pushLeafData(leaves[12] as Buffer);
    expect(acc.root().equals(MTH(leaves.slice(0, 13)))).toBe(true);
    expect(() => acc.pushSubtree(1, Buffer.alloc(32))).toThrow(RangeError);
    expect(() => acc.pushSubtree(0, Buffer.alloc(31))).toThrow(RangeError);
  });

  it('splits proof ranges into perfect aligned pieces and refuses ranges no tree has', () => {
    expect(rangePieces({ start: 8, end: 13 })).toEqual([
      { start: 8, level: 2 },
      { start: 12, level: 0 },
    ]);
    expect(rangePieces({ start: 0, end: 7 })).toEqual([
      { start: 0, level: 2 },
      { start: 4, level: 1 },
      { start: 6, level: 0 },
    ]);
    expect(() => rangePieces({ start: 1, end: 4 })).toThrow(RangeError);
    expect(() => rangePieces({ start: 3, end: 3 })).toThrow(RangeError);
    expect(splitPoint(2)).toBe(1);
    expect(splitPoint(9)).toBe(8);
    expect(splitPoint(8)).toBe(4);
  });
});

describe('inclusion proofs', () => {
  it(`equal PATH(m, D[n]) and verify, for every n up to ${MAX} and every m < n`, () => {
    for (let n = 1; n <= MAX; n++) {
      const d = leaves.slice(0, n);
      const root = MTH(d);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(d, m);
        expect(hex(proof)).toEqual(hex(PATH(m, d)));
        const leaf = leafHash(d[m] as Buffer);
        expect(verifyInclusion(m, n, leaf, proof, root)).toBe(true);
      }
    }
  });

  it('fail when anything is tampered with', () => {
    for (let n = 1; n <= MAX; n++) {
      const d = leaves.slice(0, n);
      const root = MTH(d);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(d, m);
        const leaf = leafHash(d[m] as Buffer);
        // wrong leaf, wrong root, wrong index, index beyond the tree. (The tree size is not tested here: it is
        // bound by the signed checkpoint, and a proof may fit two sizes whose roots are different anyway.)
        expect(verifyInclusion(m, n, flip(leaf), proof, root)).toBe(false);
        expect(verifyInclusion(m, n, leaf, proof, flip(root))).toBe(false);
        if (n > 1) expect(verifyInclusion((m + 1) % n, n, leaf, proof, root)).toBe(false);
        expect(verifyInclusion(n, n, leaf, proof, root)).toBe(false);
        // each proof element flipped, one dropped, one added, order reversed
        proof.forEach((_, i) =>
          expect(
            verifyInclusion(
              m,
              n,
              leaf,
              proof.map((p, j) => (i === j ? flip(p) : p)),
              root,
            ),
          ).toBe(false),
        );
        if (proof.length > 0) expect(verifyInclusion(m, n, leaf, proof.slice(0, -1), root)).toBe(false);
        expect(verifyInclusion(m, n, leaf, [...proof, root], root)).toBe(false);
        if (proof.length > 1) expect(verifyInclusion(m, n, leaf, [...proof].reverse(), root)).toBe(false);
        // a leaf's DATA is not its hash (second-preimage protection of the 0x00 prefix)
        expect(verifyInclusion(m, n, d[m] as Buffer, proof, root)).toBe(false);
      }
    }
  });

  it('refuses malformed input without throwing', () => {
    const d = leaves.slice(0, 5);
    const proof = inclusionProof(d, 2);
    const leaf = leafHash(d[2] as Buffer);
    expect(rootFromInclusionProof(-1, 5, leaf, proof)).toBeNull();
    expect(rootFromInclusionProof(2, 0, leaf, proof)).toBeNull();
    expect(rootFromInclusionProof(2, Number.MAX_SAFE_INTEGER + 2, leaf, proof)).toBeNull();
    expect(rootFromInclusionProof(2, 5, leaf, [Buffer.alloc(31)])).toBeNull();
    expect(verifyInclusion(0.5, 5, leaf, proof, MTH(d))).toBe(false);
  });
});

describe('consistency proofs', () => {
  it(`equal PROOF(m, D[n]) and verify, for every n up to ${MAX} and every 1 <= m <= n`, () => {
    for (let n = 1; n <= MAX; n++) {
      const d = leaves.slice(0, n);
      const newRoot = MTH(d);
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(d, m);
        expect(hex(proof)).toEqual(hex(PROOF(m, d)));
        expect(verifyConsistency(m, n, MTH(d.slice(0, m)), newRoot, proof)).toBe(true);
      }
    }
  });

  it('fail when anything is tampered with, or the old tree is not a prefix of the new', () => {
    for (let n = 1; n <= MAX; n++) {
      const d = leaves.slice(0, n);
      const newRoot = MTH(d);
      for (let m = 1; m <= n; m++) {
        const oldRoot = MTH(d.slice(0, m));
        const proof = consistencyProof(d, m);
        expect(verifyConsistency(m, n, flip(oldRoot), newRoot, proof)).toBe(false);
        expect(verifyConsistency(m, n, oldRoot, flip(newRoot), proof)).toBe(false);
        proof.forEach((_, i) =>
          expect(
            verifyConsistency(
              m,
              n,
              oldRoot,
              newRoot,
              proof.map((p, j) => (i === j ? flip(p) : p)),
            ),
          ).toBe(false),
        );
        if (proof.length > 0) expect(verifyConsistency(m, n, oldRoot, newRoot, proof.slice(0, -1))).toBe(false);
        expect(verifyConsistency(m, n, oldRoot, newRoot, [...proof, newRoot])).toBe(false);
        if (m > 1 && m < n) expect(verifyConsistency(m - 1, n, oldRoot, newRoot, proof)).toBe(false);
        // A rewritten history: the same sizes, but one old leaf changed.
        if (m < n) {
          const forged = d.map((x, i) => (i === 0 ? flip(x) : x));
          expect(verifyConsistency(m, n, oldRoot, MTH(forged), consistencyProof(forged, m))).toBe(false);
        }
      }
    }
  });

  it('refuses sizes that make no sense', () => {
    const d = leaves.slice(0, 6);
    expect(verifyConsistency(0, 6, emptyRoot(), MTH(d), [])).toBe(false);
    expect(verifyConsistency(7, 6, MTH(d), MTH(d), [])).toBe(false);
    expect(verifyConsistency(6, 6, MTH(d), MTH(d), [MTH(d)])).toBe(false);
    expect(verifyConsistency(6, 6, MTH(d), MTH(d), [])).toBe(true);
  });
});
