/**
 * The entry and content hashes' preimage (src/audit/canonical-json.ts) must be RFC 8785 text, byte for byte: every
 * stored entry hash was computed over it, and outside verifiers recompute it. Checked against the RFC's published
 * test vectors (shipped with the `canonicalize` package, the implementation it replaced) and against that package
 * on thousands of seeded pseudo-random values.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import canonicalize from 'canonicalize';
import { canonicalJson } from '../../src/audit/canonical-json';

const vectors = path.join(path.dirname(require.resolve('canonicalize/package.json')), 'test', 'testdata');

describe('canonical JSON (RFC 8785)', () => {
  const names = readdirSync(path.join(vectors, 'input')).filter((f) => f.endsWith('.json'));

  it('reproduces every published test vector', () => {
    expect(names.length).toBeGreaterThanOrEqual(5);
    for (const name of names) {
      const input: unknown = JSON.parse(readFileSync(path.join(vectors, 'input', name), 'utf8'));
      const expected = readFileSync(path.join(vectors, 'output', name), 'utf8').replace(/\n$/, '');
      expect([name, canonicalJson(input)]).toEqual([name, expected]);
    }
  });

  it('writes what the canonicalize package writes for 5,000 pseudo-random JSON values', () => {
    let state = 20261201;
    const random = (): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    // Keys and strings that sort differently by code unit and by code point, escapes, astral and lone surrogates.
    const texts = [
      '',
      'a',
      'B',
      'é',
      '€',
      '\u{1F600}',
      '\uFB33',
      '\uD800',
      '\uDC00x',
      '"q"',
      'back\\slash',
      'tab\t',
      '\u0000',
      '\u001f',
      'ü',
      'Z',
    ];
    const numbers = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 123456789012345680000, 4.5, -333.25, 2 ** 53];
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3) return pick<unknown>([null, true, false, pick(numbers), pick(texts), random() * 1e6 - 5e5]);
      if (r < 0.6) return Array.from({ length: Math.floor(random() * 5) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 6); i > 0; i--) o[pick(texts) + pick(texts)] = value(depth + 1);
      if (random() < 0.2) o.absent = undefined;
      return o;
    };
    for (let i = 0; i < 5000; i++) {
      const v = value(0);
      expect(canonicalJson(v)).toBe(canonicalize(v));
    }
  });

  it('refuses what has no JSON form, rather than writing a guess', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, { n: Number.NEGATIVE_INFINITY }, [1n], undefined, () => 1]) {
      expect(() => canonicalJson(bad)).toThrow();
    }
  });
});
