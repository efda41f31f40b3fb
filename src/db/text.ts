/**
 * What PostgreSQL cannot store: `text` and `jsonb` refuse the NUL character (U+0000), and a lone UTF-16 surrogate
 * is either refused (jsonb) or silently replaced (text). Text from a caller that reaches the database is checked
 * with `findUnstorable` first (a 400 naming where, src/http/validation.ts); text the gateway itself records about a
 * refusal (the word the caller sent) is escaped with `printable`, so the refusal is recorded, not lost.
 */
export const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const ESCAPED = /[\u0000-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Control characters and lone surrogates as `\uXXXX` (visible, and storable), everything else as it is. */
export function printable(value: string): string {
  return value.replace(ESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A place in the walked value: the pointer to it is made from its parents only when something there is reported. */
interface Place {
  readonly value: unknown;
  readonly up: Place | null;
  /** Its pointer segment under `up`, escaped ('' for the root). */
  readonly segment: string;
}

function pointerTo(place: Place): string {
  let pointer = '';
  for (let p: Place | null = place; p?.up; p = p.up) pointer = `/${p.segment}${pointer}`;
  return pointer;
}

/**
 * The JSON Pointer of the first string (value or member name) PostgreSQL cannot store, or undefined. Iterative; a
 * pointer is made only for what it reports (almost every body has nothing to report).
 */
export function findUnstorable(value: unknown): { readonly pointer: string; readonly inKey: boolean } | undefined {
  const stack: Place[] = [{ value, up: null, segment: '' }];
  while (stack.length > 0) {
    const place = stack.pop()!;
    const v = place.value;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return { pointer: pointerTo(place) || '/', inKey: false };
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ value: item, up: place, segment: String(i) }));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (UNSTORABLE.test(k)) return { pointer: `${pointerTo(place)}/${escapePointer(printable(k))}`, inKey: true };
        stack.push({ value: child, up: place, segment: escapePointer(k) });
      }
    }
  }
  return undefined;
}
