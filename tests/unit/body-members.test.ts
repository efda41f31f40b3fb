/**
 * The duplicate-key check runs its scanner only when the body has more members written than parsed. These check
 * the count it relies on: one `:` outside strings per member, whatever the strings hold.
 */
import { firstDuplicateKey, membersWritten } from '../../src/http/body';

/** A deterministic pseudo-random source (no flaky seeds). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const TRICKY = ['', ':', '":"', '\\', '\\"', '\\\\:', 'a"b:c', '{"k":1}', 'é:ü', '😀:', '\u2028', '\u0000:', '}:{', '[":"]'];

function value(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 4 || r < 0.3) {
    const k = next();
    if (k < 0.5) return (TRICKY[Math.floor(next() * TRICKY.length)] ?? '') + String(Math.floor(next() * 100));
    if (k < 0.7) return Math.floor(next() * 1e6) / 100;
    if (k < 0.85) return next() < 0.5;
    return null;
  }
  if (r < 0.55) return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(next() * 5);
  for (let i = 0; i < n; i++) o[`${TRICKY[Math.floor(next() * TRICKY.length)] ?? ''}${i}`] = value(next, depth + 1);
  return o;
}

function members(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Object.values(v as Record<string, unknown>);
  return (Array.isArray(v) ? 0 : children.length) + children.reduce<number>((sum, c) => sum + members(c), 0);
}

describe('membersWritten', () => {
  it('counts one member per `:` outside strings, on 3,000 random JSON texts with colons, quotes and escapes in strings', () => {
    const next = random(20261202);
    for (let i = 0; i < 3000; i++) {
      const v = { root: value(next, 0) };
      const text = JSON.stringify(v, null, i % 3 === 0 ? 2 : undefined);
      expect(membersWritten(Buffer.from(text, 'utf8'))).toBe(members(JSON.parse(text)));
    }
  });

  it('counts more members written than parsed exactly when a key is repeated, and the scanner names it', () => {
    const text = '{"from":{"agencyType":"police"},"purpose":"a:b","\\u0066rom":{"agencyType":"school"}}';
    expect(membersWritten(Buffer.from(text))).toBe(5);
    // The first "from" is dropped by JSON.parse, with its own member: 3 parsed.
    expect(members(JSON.parse(text))).toBe(3);
    expect(firstDuplicateKey(text)).toEqual({ key: 'from', pointer: '/from' });
    const clean = '{"from":{"agencyType":"police"},"note":"\\":\\"","to":{}}';
    expect(membersWritten(Buffer.from(clean))).toBe(members(JSON.parse(clean)));
  });
});
