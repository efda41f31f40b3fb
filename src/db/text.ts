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

/** Whether any string (value or member name) in `value` is one PostgreSQL cannot store. Iterative, no pointers made. */
function hasUnstorable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        if (UNSTORABLE.test(k)) return true;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return false;
}

/** The JSON Pointer of the first string (value or member name) PostgreSQL cannot store, or undefined. Iterative. */
export function findUnstorable(value: unknown): { readonly pointer: string; readonly inKey: boolean } | undefined {
  // Almost every body has none: look without making a pointer for every node, and make them only to say where.
  if (!hasUnstorable(value)) return undefined;
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [v, pointer] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSTORABLE.test(v)) return { pointer: pointer || '/', inKey: false };
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${pointer}/${i}`]));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (UNSTORABLE.test(k)) return { pointer: `${pointer}/${escapePointer(printable(k))}`, inKey: true };
        stack.push([child, `${pointer}/${escapePointer(k)}`]);
      }
    }
  }
  return undefined;
}
