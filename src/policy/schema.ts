/**
 * The JSON Schema of a policy file, built from the sharing vocabulary (so a word that is not in
 * `src/vocabulary/vocabulary.ts` can never appear in a rule), and the translation of ajv's errors into one
 * sentence that names the place and the problem: `fields[2] "favourite_colour" is not a field (allowed: ...)`.
 *
 * The schema checks shape and words. What a schema cannot say well — that a fact's value suits that fact, that
 * ids are unique, that a permit cites a lawful basis — is checked in `loader.ts`.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { schemaCompiler } from '../json-schema';
import { AGENCY_TYPES, FIELDS, PURPOSES, ROLES, SUBJECT_ROLES } from '../vocabulary/vocabulary';
import { EFFECTS } from './model';

export const RULE_ID_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';

/** What each vocabulary definition is called in an error message. */
const NOUNS: Record<string, string> = {
  agencyType: 'an agency type',
  role: 'a role',
  purpose: 'a purpose',
  subjectRole: 'a subject role',
  field: 'a field',
  effect: 'an effect',
};

/** What each either-or definition accepts, for when a value matches none of its shapes. */
const SHAPES: Record<string, string> = {
  agencyTypeSelector: 'a list of agency types, "any", or {except: [agency types]}',
  roleSelector: 'a list of roles, "any", or {except: [roles]}',
  purposeSelector: 'a list of purposes, "any", or {except: [purposes]}',
  subjectRoleSelector: 'a list of subject roles, "any", or {except: [subject roles]}',
  fieldsSpec: 'a list of fields, or "all" (deny and refer rules only)',
  condition: 'a value (true, high, 10), or an object with in, not, lte, lt, gte or gt',
};

function selector(word: string): Record<string, unknown> {
  const list = { type: 'array', minItems: 1, uniqueItems: true, items: { $ref: `#/$defs/${word}` } };
  return {
    oneOf: [list, { const: 'any' }, { type: 'object', additionalProperties: false, required: ['except'], properties: { except: list } }],
  };
}

const scalar = { type: ['boolean', 'number', 'string'] };
const text = { type: 'string', minLength: 1 };

export const ruleFileSchema = {
  $id: 'PolicyRuleFile',
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    description: text,
    rules: { type: 'array', minItems: 1, items: { $ref: '#/$defs/rule' } },
  },
  $defs: {
    agencyType: { type: 'string', enum: [...AGENCY_TYPES] },
    role: { type: 'string', enum: [...ROLES] },
    purpose: { type: 'string', enum: [...PURPOSES] },
    subjectRole: { type: 'string', enum: [...SUBJECT_ROLES] },
    field: { type: 'string', enum: [...FIELDS] },
    effect: { type: 'string', enum: [...EFFECTS] },
    agencyTypeSelector: selector('agencyType'),
    roleSelector: selector('role'),
    purposeSelector: selector('purpose'),
    subjectRoleSelector: selector('subjectRole'),
    fieldsSpec: {
      oneOf: [{ type: 'array', minItems: 1, uniqueItems: true, items: { $ref: '#/$defs/field' } }, { const: 'all' }],
    },
    party: {
      type: 'object',
      additionalProperties: false,
      required: ['agencyTypes'],
      properties: { agencyTypes: { $ref: '#/$defs/agencyTypeSelector' }, roles: { $ref: '#/$defs/roleSelector' } },
    },
    condition: {
      oneOf: [
        scalar,
        {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            in: { type: 'array', minItems: 1, uniqueItems: true, items: scalar },
            not: scalar,
            lte: { type: 'number' },
            lt: { type: 'number' },
            gte: { type: 'number' },
            gt: { type: 'number' },
          },
        },
      ],
    },
    conditions: { type: 'object', minProperties: 1, additionalProperties: { $ref: '#/$defs/condition' } },
    lawfulBasis: {
      type: 'object',
      additionalProperties: false,
      required: ['statute', 'ukGdprArticle6'],
      properties: { statute: text, ukGdprArticle6: text, ukGdprArticle9: text, dpa2018Schedule1: text },
    },
    sharing: {
      type: 'object',
      additionalProperties: false,
      required: ['power'],
      properties: {
        power: text,
        duties: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['provision', 'inForceFrom'],
            properties: {
              provision: text,
              disclosers: { type: 'array', minItems: 1, uniqueItems: true, items: { $ref: '#/$defs/agencyType' } },
              inForceFrom: { oneOf: [{ type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, { const: 'not_yet_commenced' }] },
            },
          },
        },
      },
    },
    rule: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'title', 'effect', 'from', 'to', 'purposes', 'subjectRoles', 'fields'],
      properties: {
        id: { type: 'string', pattern: RULE_ID_PATTERN },
        title: text,
        effect: { $ref: '#/$defs/effect' },
        from: { $ref: '#/$defs/party' },
        to: { $ref: '#/$defs/party' },
        purposes: { $ref: '#/$defs/purposeSelector' },
        subjectRoles: { $ref: '#/$defs/subjectRoleSelector' },
        fields: { $ref: '#/$defs/fieldsSpec' },
        when: { $ref: '#/$defs/conditions' },
        whenAny: { type: 'array', minItems: 1, items: { $ref: '#/$defs/conditions' } },
        lawfulBasis: { $ref: '#/$defs/lawfulBasis' },
        sharing: { $ref: '#/$defs/sharing' },
        mustRecord: { type: 'array', items: text },
        reason: text,
        referTo: { $ref: '#/$defs/role' },
        agreement: { type: 'string', pattern: RULE_ID_PATTERN },
      },
    },
  },
} as const;

export const catalogueSchema = {
  $id: 'PolicyCatalogueFile',
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { type: 'string', pattern: '^[0-9A-Za-z][0-9A-Za-z.-]*$' },
    title: text,
    owner: text,
    description: text,
    reviewed: text,
    nextReview: text,
  },
} as const;

const ajv = schemaCompiler('verbose');
export const validateRuleFile: ValidateFunction = ajv.compile(ruleFileSchema);
export const validateCatalogueFile: ValidateFunction = ajv.compile(catalogueSchema);

/** One problem found by the schema, located in a rule (by index) or in the file. */
export interface SchemaProblem {
  readonly ruleIndex?: number;
  readonly problem: string;
}

/**
 * The single most useful problem among ajv's errors: the earliest rule first, and within it the deepest error
 * (for `[police, polce]` that is the unknown word, not "does not match any of the shapes").
 */
export function firstSchemaProblem(errors: readonly ErrorObject[], data: unknown): SchemaProblem {
  const candidates = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  const ruleIndexOf = (e: ErrorObject): number => {
    const m = /^\/rules\/(\d+)/.exec(e.instancePath);
    return m?.[1] === undefined ? -1 : Number(m[1]);
  };
  const depth = (e: ErrorObject): number => e.instancePath.split('/').length;
  // At the same place, an unknown key explains more than the "missing" key it was probably meant to be.
  const rank = (e: ErrorObject): number => {
    const i = ['additionalProperties', 'enum', 'required'].indexOf(e.keyword);
    return i < 0 ? 99 : i;
  };
  const sorted = [...(candidates.length ? candidates : errors)].sort(
    (a, b) => ruleIndexOf(a) - ruleIndexOf(b) || depth(b) - depth(a) || rank(a) - rank(b),
  );
  const chosen = sorted[0];
  if (!chosen) return { problem: 'is not valid' };
  const index = ruleIndexOf(chosen);
  return { ...(index >= 0 ? { ruleIndex: index } : {}), problem: describeError(chosen, errors, data) };
}

/** Which `$defs` entry a schema object is (ajv reports the schema object itself with `verbose: true`). */
const DEF_NAMES = new Map<unknown, string>(Object.entries(ruleFileSchema.$defs).map(([name, def]) => [def, name]));

function describeError(e: ErrorObject, all: readonly ErrorObject[], data: unknown): string {
  const where = readablePath(e.instancePath);
  const value = valueAt(data, e.instancePath);
  const prefix = where ? `${where} ` : '';
  const defName = DEF_NAMES.get(e.parentSchema);

  // A value that matches none of an either-or definition's shapes: say what shapes are accepted.
  const either = all.find((o) => o.keyword === 'oneOf' && o.instancePath === e.instancePath);
  const shape = either ? SHAPES[DEF_NAMES.get(either.parentSchema) ?? ''] : undefined;
  if (shape) return `${prefix}${JSON.stringify(value)} must be ${shape}`;
  switch (e.keyword) {
    case 'enum': {
      const allowed = (e.params as { allowedValues: readonly unknown[] }).allowedValues.map(String);
      const noun = (defName && NOUNS[defName]) ?? 'an allowed value';
      return `${prefix}${JSON.stringify(value)} is not ${noun} (allowed: ${allowed.join(', ')})`;
    }
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
      const allowed = Object.keys(parent?.properties ?? {});
      return `${where ? `${where}: ` : ''}"${key}" is not a known key${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
    }
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      return `${where ? `${where}: ` : ''}"${key}" is missing`;
    }
    case 'pattern':
      if (where.endsWith('id') || where.endsWith('agreement')) {
        return `${prefix}${JSON.stringify(value)} must be kebab-case (lower-case letters, digits and single hyphens)`;
      }
      return `${prefix}${JSON.stringify(value)} ${e.message ?? 'is not valid'}`;
    case 'uniqueItems':
      return `${prefix}lists the same word twice`;
    case 'minItems':
      return `${prefix}must not be empty`;
    case 'minProperties':
      return `${prefix}must not be empty`;
    default:
      return `${prefix}${e.message ?? 'is not valid'}${value === undefined ? '' : ` (found ${JSON.stringify(value)})`}`;
  }
}

/** `/rules/3/to/agencyTypes/1` → `to.agencyTypes[1]` (the rule itself is named separately). */
function readablePath(pointer: string): string {
  const parts = pointer.split('/').slice(1).map(unescapePointer);
  const rest = parts[0] === 'rules' && parts[1] !== undefined && /^\d+$/.test(parts[1]) ? parts.slice(2) : parts;
  let out = '';
  for (const p of rest) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function valueAt(data: unknown, pointer: string): unknown {
  let current: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[unescapePointer(raw)];
  }
  return current;
}
