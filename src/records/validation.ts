/**
 * Checking what a contribution holds, word by word: each `fields` member must be a vocabulary field that this kind
 * of record (or a person) may hold, each `facts` member a vocabulary fact an agency may state, and each value must
 * fit its field. An unknown or misplaced word is a 400 `unknown_word` naming it and listing the allowed words;
 * a bad value is a 400 `invalid_request` pointing at it. Nothing is coerced or guessed.
 */
import type { ValidateFunction } from 'ajv';
import { schemaCompiler } from '../json-schema';
import { InvalidInputError, type InputProblem } from '../errors';
import { FACT_NAMES, isFactName, isField, type Facts, type Field } from '../vocabulary/vocabulary';
import { isDerivedFact, KIND_FIELDS, PERSON_FIELDS, type PersonField, type RecordKind } from './model';
import { contributedFactsSchema, FIELD_VALUE_SCHEMAS } from './schemas';

const ajv = schemaCompiler();
const valueValidators = new Map<Field, ValidateFunction>(
  (Object.keys(FIELD_VALUE_SCHEMAS) as Field[]).map((f) => [f, ajv.compile(FIELD_VALUE_SCHEMAS[f])]),
);
const factProperties = contributedFactsSchema.properties as Record<string, object>;
const factValidators = new Map<string, ValidateFunction>(
  Object.entries(factProperties).map(([name, schema]) => [name, ajv.compile(schema)]),
);
const CONTRIBUTABLE_FACTS = FACT_NAMES.filter((f) => !isDerivedFact(f));

export type FieldValues = Partial<Record<Field, unknown>>;

function fail(what: string, problems: InputProblem[]): never {
  const first = problems[0];
  const unknownWord = problems.some((p) => p.word !== undefined && p.allowed !== undefined);
  throw new InvalidInputError(
    unknownWord ? 'unknown_word' : 'invalid_input',
    `The ${what} is not valid: ${first ? first.detail : 'see errors'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}.`,
    { errors: problems },
  );
}

function checkValue(field: Field, value: unknown, pointer: string, problems: InputProblem[]): void {
  const validate = valueValidators.get(field);
  if (!validate || !validate(value)) {
    const why = validate?.errors?.[0]?.message ?? 'is not valid';
    problems.push({ pointer, detail: `the value of ${field} ${why}` });
  }
}

function pointerTo(base: string, key: string): string {
  return `${base}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** The `fields` of a record of `kind`: at least one, each allowed for the kind, each value valid. */
export function checkRecordFields(kind: RecordKind, raw: Readonly<Record<string, unknown>>, problems: InputProblem[]): FieldValues {
  const allowed = KIND_FIELDS[kind];
  const out: FieldValues = {};
  const keys = Object.keys(raw);
  if (keys.length === 0)
    problems.push({ pointer: '/fields', detail: `a record holds at least one field; a ${kind} record may hold: ${allowed.join(', ')}` });
  for (const key of keys) {
    const pointer = pointerTo('/fields', key);
    if (!isField(key)) {
      problems.push({
        pointer,
        word: key,
        allowed,
        detail: `"${key}" is not a field of the sharing vocabulary. A ${kind} record may hold: ${allowed.join(', ')}`,
      });
    } else if (!allowed.includes(key)) {
      problems.push({
        pointer,
        word: key,
        allowed,
        detail: `"${key}" is not held on a ${kind} record. A ${kind} record may hold: ${allowed.join(', ')}`,
      });
    } else {
      checkValue(key, raw[key], pointer, problems);
      out[key] = raw[key];
    }
  }
  return out;
}

/** What an agency holds about a person: each a person field, each value valid. */
export function checkPersonFields(raw: Readonly<Record<string, unknown>>, problems: InputProblem[]): Partial<Record<PersonField, unknown>> {
  const out: Partial<Record<PersonField, unknown>> = {};
  const allowed: readonly string[] = PERSON_FIELDS;
  for (const key of Object.keys(raw)) {
    const pointer = pointerTo('/fields', key);
    if (!allowed.includes(key)) {
      const detail = isField(key)
        ? `"${key}" is not held about a person (record it on a record of the right kind). A person's fields: ${PERSON_FIELDS.join(', ')}`
        : `"${key}" is not a field of the sharing vocabulary. A person's fields: ${PERSON_FIELDS.join(', ')}`;
      problems.push({ pointer, word: key, allowed: PERSON_FIELDS, detail });
    } else {
      checkValue(key as PersonField, raw[key], pointer, problems);
      out[key as PersonField] = raw[key];
    }
  }
  return out;
}

/** The `facts` of a record: vocabulary facts with values of their kind; derived facts are the gateway's to work out. */
export function checkContributedFacts(raw: Readonly<Record<string, unknown>>, problems: InputProblem[]): Facts {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    const pointer = pointerTo('/facts', key);
    if (!isFactName(key)) {
      problems.push({
        pointer,
        word: key,
        allowed: CONTRIBUTABLE_FACTS,
        detail: `"${key}" is not a known fact. Allowed: ${CONTRIBUTABLE_FACTS.join(', ')}`,
      });
    } else if (isDerivedFact(key)) {
      problems.push({
        pointer,
        word: key,
        allowed: CONTRIBUTABLE_FACTS,
        detail: `"${key}" is worked out by the gateway at the time of each request (from its data sharing agreements, dates and records) and cannot be contributed`,
      });
    } else {
      const validate = factValidators.get(key);
      if (!validate || !validate(raw[key]))
        problems.push({ pointer, detail: `the value of ${key} ${validate?.errors?.[0]?.message ?? 'is not valid'}` });
      else out[key] = raw[key];
    }
  }
  return out;
}

/** An NHS number's last digit is a modulus 11 check digit over the first nine (weights 10 to 2). */
export function validNhsNumber(value: string): boolean {
  if (!/^[0-9]{10}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(value[i]) * (10 - i);
  const check = 11 - (sum % 11);
  const digit = check === 11 ? 0 : check;
  return digit !== 10 && digit === Number(value[9]);
}

/** Shared identifiers beyond their pattern (already checked by the schema): the NHS number's check digit. */
export function checkIdentifiers(identifiers: Readonly<Record<string, unknown>>, problems: InputProblem[]): void {
  const nhs = identifiers.nhs_number;
  if (typeof nhs === 'string' && !validNhsNumber(nhs))
    problems.push({ pointer: '/identifiers/nhs_number', detail: 'the NHS number fails its check digit' });
}

export function throwIfProblems(what: string, problems: InputProblem[]): void {
  if (problems.length > 0) fail(what, problems);
}

/** `If-Match: "3"` → 3. Missing → 400 (a PUT without it could silently overwrite someone else's change). */
export function parseIfMatch(header: string | undefined): number {
  if (header === undefined || header.trim() === '') {
    throw new InvalidInputError(
      'invalid_input',
      'A record update needs an If-Match header with the version you read, e.g. If-Match: "3", so that it cannot overwrite a change you ' +
        'have not seen.',
      {
        errors: [{ pointer: '/headers/if-match', detail: 'If-Match is required' }],
      },
    );
  }
  const match = /^\s*"?([1-9][0-9]{0,8})"?\s*$/.exec(header);
  if (!match) {
    throw new InvalidInputError(
      'invalid_input',
      'If-Match must be the record version you read, in quotes, e.g. If-Match: "3" (one version, not a list or *).',
      {
        errors: [{ pointer: '/headers/if-match', detail: 'If-Match must be one record version, e.g. "3"' }],
      },
    );
  }
  return Number(match[1]);
}

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{8,128}$/;

/** Every contribution (POST) carries an Idempotency-Key: a retry with the same key and body gets the same answer. */
export function parseIdempotencyKey(header: string | undefined): string {
  if (header === undefined || !IDEMPOTENCY_KEY.test(header)) {
    throw new InvalidInputError(
      'invalid_input',
      header === undefined
        ? 'Every contribution needs an Idempotency-Key header (8 to 128 letters, digits, ".", "_", ":" or "-", e.g. a UUID), so that a ' +
            'retry never writes twice.'
        : 'The Idempotency-Key header must be 8 to 128 letters, digits, ".", "_", ":" or "-" (e.g. a UUID).',
      { errors: [{ pointer: '/headers/idempotency-key', detail: 'Idempotency-Key is required: 8 to 128 of A-Z a-z 0-9 . _ : -' }] },
    );
  }
  return header;
}
