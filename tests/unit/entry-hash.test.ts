/**
 * The entry hash is ONE definition (src/audit/entry.ts): the writer hashes from parts made when an entry is
 * prepared, the verifier from stored rows. Both must give exactly the RFC 8785 hash the ledger has always had:
 * hex SHA-256 of `canonicalize` (the library) of the whole preimage. Checked here on seeded random entries whose
 * payloads exercise what canonical JSON is sensitive to (member order by UTF-16 code units, escapes, astral
 * characters, numbers, nesting, undefined members), and on payloads the fast path hands to the careful one.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import {
  ENTRY_HASH_VERSION,
  entryHash,
  hashFromParts,
  prepareEntry,
  type JsonObject,
  type LedgerHashInput,
  type NewAuditEntry,
} from '../../src/audit/entry';

/** The definition as it was written before the hash was cut into parts. */
function referenceHash(row: LedgerHashInput): string {
  const preimage = {
    v: ENTRY_HASH_VERSION,
    seq: row.seq,
    entryId: row.entryId,
    recordedAt: row.recordedAt.toISOString(),
    kind: row.kind,
    outcome: row.outcome,
    requestId: row.requestId,
    agencyId: row.agencyId,
    agencyType: row.agencyType,
    clientId: row.clientId,
    practitioner: row.practitioner,
    role: row.role,
    issuer: row.issuer,
    purpose: row.purpose,
    rules: row.rules,
    payload: row.payload,
    prevHash: row.prevHash,
  };
  return createHash('sha256')
    .update(canonicalize(preimage) as string, 'utf8')
    .digest('hex');
}

/** mulberry32: a small seeded generator, so a failure is reproducible. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'a',
  'B',
  'z',
  '_',
  '0',
  '9',
  '10',
  'é',
  'ß',
  '\u00ff',
  '\uffff',
  '😀',
  '\u{10000}',
  '"',
  '\\',
  '\n',
  '\t',
  '/',
  ' ',
  'Ω',
  '\u2028',
];
const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53, 123456789.125, -42.5];

function text(rnd: () => number, max: number): string {
  let s = '';
  const n = Math.floor(rnd() * max);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rnd() * PIECES.length)];
  return s;
}

function jsonValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.3) return text(rnd, 8);
  if (r < 0.45) return NUMBERS[Math.floor(rnd() * NUMBERS.length)];
  if (r < 0.5) return rnd() < 0.5;
  if (r < 0.55) return null;
  if (r < 0.75) return Array.from({ length: Math.floor(rnd() * 4) }, () => (rnd() < 0.1 ? undefined : jsonValue(rnd, depth + 1)));
  return jsonObject(rnd, depth + 1);
}

function jsonObject(rnd: () => number, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++) o[text(rnd, 4)] = rnd() < 0.1 ? undefined : jsonValue(rnd, depth);
  return o;
}

function newEntry(rnd: () => number, i: number): NewAuditEntry {
  const storable = (s: string) => s || 'x';
  return {
    kind: 'decision',
    outcome: storable(text(rnd, 5)),
    requestId: `req-${i}-${text(rnd, 6)}`,
    actor:
      rnd() < 0.2
        ? null
        : {
            agencyId: storable(text(rnd, 6)),
            agencyType: 'police',
            clientId: storable(text(rnd, 6)),
            role: 'police_officer',
            ...(rnd() < 0.5 ? { practitioner: storable(text(rnd, 6)) } : {}),
            issuer: `https://idp.example/${text(rnd, 4)}`,
          },
    ...(rnd() < 0.7 ? { purpose: 'marac' as const } : {}),
    rules: Array.from({ length: Math.floor(rnd() * 3) }, () => storable(text(rnd, 6))),
    payload: jsonObject(rnd, 0) as JsonObject,
  };
}

describe('entry hash', () => {
  it('gives the RFC 8785 hash of the whole preimage, from parts (writer) and from a stored row (verifier), on 2,000 random entries', () => {
    const rnd = random(20261201);
    let prevHash = '0'.repeat(64);
    for (let i = 0; i < 2000; i++) {
      const entry = newEntry(rnd, i);
      const prepared = prepareEntry(entry, 64 * 1024);
      // What jsonb gives back: the same JSON value (member order aside); as a JSON round trip of the original.
      const stored = JSON.parse(prepared.payloadJson) as JsonObject;
      expect(stored).toEqual(JSON.parse(JSON.stringify(entry.payload)));
      expect(prepared.payloadJson).toBe(canonicalize(JSON.parse(JSON.stringify(entry.payload))));
      const recordedAt = new Date(1_790_000_000_000 + Math.floor(rnd() * 1e9));
      const seq = i + 1;
      const row: LedgerHashInput = { ...prepared, payload: stored, seq, recordedAt, prevHash };
      const expected = referenceHash(row);
      expect(hashFromParts(prepared.hashParts, seq, recordedAt, prevHash)).toBe(expected);
      expect(entryHash(row)).toBe(expected);
      prevHash = expected;
    }
  });

  it('hashes a row with an undefined member as RFC 8785 does (the member left out)', () => {
    const rnd = random(7);
    const prepared = prepareEntry(newEntry(rnd, 1), 64 * 1024);
    const row = {
      ...prepared,
      payload: JSON.parse(prepared.payloadJson) as JsonObject,
      seq: 1,
      recordedAt: new Date(0),
      prevHash: '0'.repeat(64),
      purpose: undefined,
    } as unknown as LedgerHashInput;
    expect(entryHash(row)).toBe(referenceHash(row));
  });

  it('prepares what the fast path does not take exactly as the JSON round trip does, and refuses what it refused', () => {
    const when = new Date('2026-12-01T10:00:00.000Z');
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 100; i++) deep = { [`d${i}`]: deep, n: i };
    const accepted: Record<string, unknown>[] = [
      { at: when, list: [when, undefined, () => 1] },
      { point: new Point(1, 2), boxed: Object(7) as unknown, s: Object('s') as unknown },
      { nested: { toJSON: () => ({ b: 1, a: [2, 'x'] }) } },
      { fn: () => 1, sym: Symbol('s') },
      deep,
    ];
    for (const payload of accepted) {
      const prepared = prepareEntry(
        { kind: 'decision', outcome: 'permit', requestId: 'r', actor: null, payload: payload as JsonObject },
        1e6,
      );
      expect(prepared.payloadJson).toBe(canonicalize(JSON.parse(JSON.stringify(payload))));
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const refused: Array<[unknown, RegExp]> = [
      [{ n: Number.NaN }, /non-finite/],
      [{ list: [1, Number.POSITIVE_INFINITY] }, /non-finite/],
      [{ deep: { note: 'a\u0000b' } }, /payload\/deep\/note contains characters PostgreSQL cannot store/],
      [{ ['k\u0000']: 1 }, /payload key/],
      [{ half: '\ud800' }, /cannot store/],
      [{ big: 1n }, /BigInt/],
      [cyclic, /circular/],
    ];
    for (const [payload, why] of refused) {
      expect(() =>
        prepareEntry({ kind: 'decision', outcome: 'permit', requestId: 'r', actor: null, payload: payload as JsonObject }, 1e6),
      ).toThrow(why);
    }
    // A valid surrogate pair is storable.
    expect(prepareEntry({ kind: 'decision', outcome: 'permit', requestId: 'r', actor: null, payload: { e: '😀' } }, 1e6).payloadJson).toBe(
      '{"e":"😀"}',
    );
  });

  it('refuses a payload larger than the limit, measured on its JSON text', () => {
    const payload = { s: 'x'.repeat(100) };
    const size = Buffer.byteLength(JSON.stringify(payload));
    const entry = { kind: 'decision' as const, outcome: 'permit', requestId: 'r', actor: null, payload };
    expect(() => prepareEntry(entry, size - 1)).toThrow(/larger than/);
    expect(prepareEntry(entry, size).payloadJson).toBe(JSON.stringify(payload));
  });
});
