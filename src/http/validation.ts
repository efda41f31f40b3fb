/**
 * Request validation: ajv against the schemas in schemas.ts. Every problem is reported with a JSON Pointer; an
 * unknown vocabulary word is reported with the word given and the allowed values — never guessed or coerced.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { schemaCompiler } from '../json-schema';
import { GatewayError, type InputProblem } from '../errors';
import { FACT_NAMES, isGatewayOnlyFact } from '../vocabulary/vocabulary';
import { findUnstorable, printable } from '../db/text';

const strict = schemaCompiler('strict');
/** Query strings arrive as text: numbers are coerced, nothing else. */
const forQuery = schemaCompiler('coercing');

function describe(e: ErrorObject, data: unknown): InputProblem {
  const pointer = e.instancePath || '/';
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
    const word = shown(valueAt(data, e.instancePath));
    return { pointer, word, allowed, detail: `"${word}" is not a word the gateway knows here. Allowed: ${allowed.join(', ')}` };
  }
  if (e.keyword === 'additionalProperty' || e.keyword === 'additionalProperties') {
    const member = printable((e.params as { additionalProperty: string }).additionalProperty.slice(0, 100));
    if (e.instancePath === '/facts' && isGatewayOnlyFact(member)) {
      return {
        pointer: `/facts/${member}`,
        word: member,
        detail: `"${member}" is worked out by the gateway (from households, records, agreements and the school calendar), never taken from a caller: do not send it. Name the subject with subjectPersonId, or give hours_since_incident, and the gateway derives it.`,
      };
    }
    if (e.instancePath === '/facts') {
      return {
        pointer: `/facts/${member}`,
        word: member,
        allowed: FACT_NAMES,
        detail: `"${member}" is not a known fact. Allowed: ${FACT_NAMES.join(', ')}`,
      };
    }
    return { pointer: `${e.instancePath}/${member}`, word: member, detail: `"${member}" is not part of this request` };
  }
  if (e.keyword === 'required') {
    const member = printable((e.params as { missingProperty: string }).missingProperty);
    return { pointer: `${e.instancePath}/${member}`, detail: `${member} is required` };
  }
  return { pointer, detail: `${pointer} ${e.message ?? 'is not valid'}` };
}

/** What the caller sent, as a short string: never a whole structure, never more than 100 characters; control characters (NUL…) escaped. */
function shown(value: unknown): string {
  if (typeof value === 'string') return printable(value.slice(0, 100));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? '(a list)' : '(an object)';
}

function valueAt(data: unknown, pointer: string): unknown {
  let current: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export interface Validator<T> {
  (data: unknown): T;
}

function toValidator<T>(fn: ValidateFunction, what: string): Validator<T> {
  return (data: unknown): T => {
    if (fn(data)) {
      // Valid by the schema, so any text left is free text (words would have failed the schema): it must be
      // storable. Named by pointer only — free text may be sensitive, so it is neither echoed nor recorded.
      const unstorable = findUnstorable(data);
      if (unstorable) {
        const detail = `${unstorable.inKey ? 'a member name' : 'the text'} at ${unstorable.pointer} contains a NUL character (\\u0000) or a broken UTF-16 character, which the gateway cannot store`;
        throw new GatewayError('invalid_request', `The ${what} is not valid: ${detail}.`, {
          errors: [{ pointer: unstorable.pointer, detail }],
        });
      }
      return data as T;
    }
    const problems = (fn.errors ?? []).map((e) => describe(e, data));
    const unknownWord = problems.some((p) => p.word !== undefined && p.allowed !== undefined);
    const first = problems[0];
    throw new GatewayError(
      unknownWord ? 'unknown_word' : 'invalid_request',
      `The ${what} is not valid: ${first ? first.detail : 'see errors'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}.`,
      { errors: problems },
    );
  };
}

export function bodyValidator<T>(schema: object, what: string): Validator<T> {
  return toValidator<T>(strict.compile(schema), what);
}

export function queryValidator<T>(schema: object, what: string): Validator<T> {
  return toValidator<T>(forQuery.compile(schema), what);
}
