/**
 * JSON Schema pieces built from the sharing vocabulary — one word list, one schema — shared by every part that
 * validates or describes words: the API (src/http/schemas.ts), the record store (src/records/schemas.ts), the
 * workflows. Domain code imports them from here, never from src/http/.
 */
import { AGENCY_TYPES, FACT_SPECS, FIELDS, PURPOSES, ROLES, SUBJECT_ROLES, type FactSpec } from './vocabulary';

/** The JSON Schema of one fact's value (shared by the decision and the record schemas). */
export function factSchema(spec: FactSpec): Record<string, unknown> {
  switch (spec.kind) {
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return { type: 'number', minimum: spec.minimum, maximum: 1e6 };
    case 'enum':
      return { type: 'string', enum: [...spec.values] };
  }
}

export const agencyTypeSchema = { type: 'string', enum: [...AGENCY_TYPES], description: 'Agency type (vocabulary)' } as const;
export const roleSchema = { type: 'string', enum: [...ROLES], description: 'Role (vocabulary)' } as const;
export const purposeSchema = { type: 'string', enum: [...PURPOSES], description: 'Purpose (vocabulary)' } as const;
export const subjectRoleSchema = { type: 'string', enum: [...SUBJECT_ROLES] } as const;
export const fieldSchema = { type: 'string', enum: [...FIELDS] } as const;

export const factsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(Object.entries(FACT_SPECS).map(([name, spec]) => [name, factSchema(spec)])),
} as const;

/** A pseudonymous reference to the person the request is about (e.g. a case number); stored only as a keyed hash. */
export const subjectRefSchema = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:/-]+$' } as const;
