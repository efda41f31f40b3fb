/**
 * findUnstorable (src/db/text.ts) names the first string PostgreSQL cannot store — a NUL or a lone surrogate, in a
 * value or a member name — by its JSON Pointer, and finds nothing in text that is storable.
 */
import { findUnstorable } from '../../src/db/text';

describe('findUnstorable', () => {
  it('finds nothing in storable JSON, including paired surrogates (emoji) and escapes that are only text', () => {
    expect(findUnstorable({ a: ['x', { b: 'café 😀', n: 1, t: true, z: null }], 'k/~': '\\u0000' })).toBeUndefined();
    expect(findUnstorable('plain')).toBeUndefined();
    expect(findUnstorable([])).toBeUndefined();
  });

  it('names a NUL or a lone surrogate in a value by its pointer (escaping ~ and /)', () => {
    expect(findUnstorable({ a: [1, 'ok', 'bad\u0000'] })).toEqual({ pointer: '/a/2', inKey: false });
    expect(findUnstorable({ 'x/y': { '~': '\uD800' } })).toEqual({ pointer: '/x~1y/~0', inKey: false });
    expect(findUnstorable('\uDC00')).toEqual({ pointer: '/', inKey: false });
  });

  it('names a member name that cannot be stored, shown printable', () => {
    expect(findUnstorable({ facts: { 'child\u0000': true } })).toEqual({ pointer: '/facts/child\\u0000', inKey: true });
  });
});
