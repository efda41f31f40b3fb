/**
 * JSON Schemas of the API, built from the sharing vocabulary (the word pieces: src/vocabulary/schemas.ts). The same
 * objects validate requests (ajv) and describe them in the OpenAPI document, so the two cannot drift apart.
 */
import { DECISIONS, FIELDS } from '../vocabulary/vocabulary';
import {
  agencyTypeSchema, factsSchema, fieldSchema, purposeSchema, roleSchema, subjectRefSchema, subjectRoleSchema,
} from '../vocabulary/schemas';
import { AUDIT_KINDS, AUDIT_OUTCOMES } from '../audit/kinds';

export const decisionRequestSchema = {
  $id: 'DecisionRequest',
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'purpose', 'subjectRole', 'fields'],
  properties: {
    from: { type: 'object', additionalProperties: false, required: ['agencyType'], properties: { agencyType: agencyTypeSchema } },
    to: {
      type: 'object',
      additionalProperties: false,
      required: ['agencyType', 'role'],
      properties: { agencyType: agencyTypeSchema, role: roleSchema },
    },
    purpose: purposeSchema,
    subjectRole: subjectRoleSchema,
    subjectRef: subjectRefSchema,
    fields: { type: 'array', minItems: 1, maxItems: FIELDS.length, uniqueItems: true, items: fieldSchema },
    facts: factsSchema,
  },
} as const;

const lawfulBasisSchema = {
  type: 'object',
  required: ['rule', 'statute', 'ukGdprArticle6'],
  properties: {
    rule: { type: 'string' },
    statute: { type: 'string' },
    ukGdprArticle6: { type: 'string' },
    ukGdprArticle9: { type: 'string' },
    dpa2018Schedule1: { type: 'string' },
  },
} as const;

export const decisionResponseSchema = {
  type: 'object',
  required: ['decision', 'permittedFields', 'withheldFields', 'rules', 'lawfulBasis', 'reasons', 'mustRecord', 'auditEntryId', 'policyVersion', 'receipt'],
  properties: {
    decision: { type: 'string', enum: [...DECISIONS] },
    permittedFields: { type: 'array', items: fieldSchema },
    withheldFields: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'code', 'reason'],
        properties: {
          field: fieldSchema,
          code: { type: 'string', enum: ['no_rule_permits', 'denied_by_rule', 'needs_referral'] },
          reason: { type: 'string' },
          rule: { type: 'string' },
        },
      },
    },
    rules: { type: 'array', items: { type: 'string' } },
    lawfulBasis: { type: 'array', items: lawfulBasisSchema },
    reasons: { type: 'array', items: { type: 'string' } },
    mustRecord: { type: 'array', items: { type: 'string' } },
    referTo: roleSchema,
    referral: {
      type: 'object',
      description: 'The referral this decision opened (GET /v1/referrals/{id}): who must decide, and by when.',
      required: ['id', 'deciderRole', 'dueAt'],
      properties: { id: { type: 'string', format: 'uuid' }, deciderRole: roleSchema, dueAt: { type: 'string', format: 'date-time' } },
    },
    policyVersion: { type: 'string' },
    auditEntryId: { type: 'string', format: 'uuid' },
    receipt: {
      type: 'object',
      description: 'Where the decision stands in the audit ledger; verify with `npm run audit:verify`.',
      required: ['seq', 'entryHash'],
      properties: { seq: { type: 'integer' }, entryHash: { type: 'string' } },
    },
  },
} as const;

export const auditQuerySchema = {
  $id: 'AuditQuery',
  type: 'object',
  additionalProperties: false,
  properties: {
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    agencyId: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$' },
    purpose: purposeSchema,
    outcome: { type: 'string', enum: [...AUDIT_OUTCOMES], description: 'Entry outcome (decision, refusal code, `served`, `intact`, …)' },
    rule: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,99}$' },
    kind: { type: 'string', enum: [...AUDIT_KINDS], description: 'Entry kind' },
    requestId: { type: 'string', pattern: '^[A-Za-z0-9._-]{8,64}$', description: 'Entries of one request (the X-Request-Id it was answered with)' },
    subjectRef: { type: 'string', minLength: 1, maxLength: 128, description: 'A case reference or person id: entries about that person (matched by its pseudonym)' },
    cursor: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
  },
} as const;
