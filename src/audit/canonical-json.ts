/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: the one preimage of every entry hash and content
 * hash. Members sorted by their UTF-16 code units, no whitespace, numbers and strings exactly as ECMAScript's
 * JSON.stringify writes them; `undefined` members are left out, as JSON.stringify does.
 *
 * The text is produced by safe-stable-stringify (pino's serialiser) with deterministic key order, which for JSON
 * data is exactly JCS: it sorts keys with the `<` of JavaScript strings (UTF-16 code units) and writes every
 * primitive as JSON.stringify does. It is about a fifth quicker than the `canonicalize` package that it replaced,
 * and tests/unit/canonical-json.test.ts checks it against that package and the RFC's published test vectors.
 * `strict` makes a value with no JSON form (NaN, Infinity, a function, a BigInt) an error rather than a guess.
 */
import { configure } from 'safe-stable-stringify';

const serialise = configure({ deterministic: true, strict: true, circularValue: Error, bigint: false });

export function canonicalJson(value: unknown): string {
  const text = serialise(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}
