/**
 * JSON Schemas of the API, built from the sharing vocabulary (the word pieces: src/vocabulary/schemas.ts). The same
 * objects validate requests (ajv) and describe them in the OpenAPI document, so the two cannot drift apart.
 */
import { DECISIONS, FACT_SPECS, FIELDS, isGatewayOnlyFact } from '../vocabulary/vocabulary';
import {
  agencyTypeSchema,
  factSchema,
  fieldSchema,
  purposeSchema,
  roleSchema,
  subjectRefSchema,
  subjectRoleSchema,
} from '../vocabulary/schemas';
import { AUDIT_KINDS, AUDIT_OUTCOMES } from '../audit/kinds';

/** Facts a caller may give in a decision request: every fact except those only the gateway works out. */
export const decisionFactsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(
    Object.entries(FACT_SPECS)
      .filter(([name]) => !isGatewayOnlyFact(name))
      .map(([name, spec]) => [name, factSchema(spec)]),
  ),
} as const;

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
      properties: {
        agencyType: agencyTypeSchema,
        role: roleSchema,
        agencyId: {
          type: 'string',
          pattern: '^[a-z0-9][a-z0-9-]{1,62}$',
          description: 'The recipient agency in the trust registry: the gateway then works out agreement_in_force itself.',
        },
      },
    },
    purpose: purposeSchema,
    subjectRole: subjectRoleSchema,
    subjectRef: subjectRefSchema,
    subjectPersonId: {
      type: 'string',
      pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
      description:
        'A person your agency knows (POST /v1/persons): the gateway then works out household facts ' +
        '(perpetrator_joined_household_with_children) itself.',
    },
    fields: { type: 'array', minItems: 1, maxItems: FIELDS.length, uniqueItems: true, items: fieldSchema },
    facts: {
      ...decisionFactsSchema,
      description:
        'What is known, as asserted by the caller. Facts only the gateway works out (perpetrator_joined_household_with_children, ' +
        'before_next_school_day_start) are refused here.',
    },
  },
} as const;

const sharingKindSchema = {
  type: 'string',
  enum: ['duty', 'power'],
  description: '`duty`: you must share; `power`: you may share.',
} as const;

const lawfulBasisSchema = {
  type: 'object',
  required: ['rule', 'statute', 'ukGdprArticle6', 'fields', 'sharing'],
  properties: {
    rule: { type: 'string' },
    statute: { type: 'string' },
    ukGdprArticle6: { type: 'string' },
    ukGdprArticle9: { type: 'string' },
    dpa2018Schedule1: { type: 'string' },
    fields: { type: 'array', items: fieldSchema, description: 'The fields this rule granted.' },
    sharing: {
      type: 'object',
      description: 'Duty or power on the decision date, citing the provision; duties not yet in force are listed.',
      required: ['kind', 'provision', 'explanation', 'notYetInForce'],
      properties: {
        kind: sharingKindSchema,
        provision: { type: 'string' },
        explanation: { type: 'string' },
        notYetInForce: {
          type: 'array',
          items: {
            type: 'object',
            required: ['provision', 'inForceFrom'],
            properties: {
              provision: { type: 'string' },
              inForceFrom: { type: ['string', 'null'], description: 'YYYY-MM-DD, or null: not yet commenced' },
            },
          },
        },
      },
    },
  },
} as const;

/** A lawful route by which a withheld field could be shared (computed from the catalogue, never hand-written). */
export const routeSchema = {
  type: 'object',
  required: ['rule', 'title', 'changes', 'facts', 'statute', 'sharing', 'explanation'],
  properties: {
    rule: { type: 'string', description: 'The permit rule that would allow it.' },
    title: { type: 'string' },
    changes: {
      type: 'array',
      items: { type: 'string', enum: ['facts', 'recipient', 'purpose'] },
      description: 'What would have to be different.',
    },
    facts: {
      type: 'object',
      additionalProperties: { type: ['boolean', 'number', 'string'] },
      description: 'Facts that would have to hold (only those that do not hold now).',
    },
    recipient: {
      type: 'object',
      required: ['agencyTypes'],
      description: 'Present when the recipient would have to be different: who may receive it.',
      properties: { agencyTypes: { type: 'array', items: agencyTypeSchema }, roles: { type: 'array', items: roleSchema } },
    },
    purposes: { type: 'array', items: purposeSchema, description: 'Present when the purpose would have to be different.' },
    statute: { type: 'string' },
    sharing: sharingKindSchema,
    explanation: {
      type: 'string',
      description:
        "Plain English, e.g. \"If significant harm to a child is suspected, 'name' may be shared with children's social care ...\".",
    },
  },
} as const;

export const decisionResponseSchema = {
  type: 'object',
  required: [
    'decision',
    'permittedFields',
    'withheldFields',
    'rules',
    'lawfulBasis',
    'reasons',
    'mustRecord',
    'agreementGaps',
    'facts',
    'auditEntryId',
    'policyVersion',
    'receipt',
  ],
  properties: {
    decision: { type: 'string', enum: [...DECISIONS] },
    permittedFields: { type: 'array', items: fieldSchema },
    withheldFields: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'code', 'reason', 'routes'],
        properties: {
          field: fieldSchema,
          code: { type: 'string', enum: ['no_rule_permits', 'denied_by_rule', 'needs_referral'] },
          reason: { type: 'string' },
          rule: { type: 'string' },
          referTo: { ...roleSchema, description: 'For needs_referral: who must decide this field.' },
          routes: {
            type: 'array',
            maxItems: 3,
            items: routeSchema,
            description: 'The nearest lawful routes by which this field could be shared (empty when there is none).',
          },
        },
      },
    },
    rules: { type: 'array', items: { type: 'string' } },
    lawfulBasis: { type: 'array', items: lawfulBasisSchema },
    reasons: { type: 'array', items: { type: 'string' } },
    mustRecord: { type: 'array', items: { type: 'string' } },
    referTo: { ...roleSchema, description: 'Who must decide, when the decision is refer (one named decider).' },
    sharing: {
      ...sharingKindSchema,
      description: '`duty` only when every permitted field is shared under a duty in force; absent when nothing is permitted.',
    },
    agreementGaps: {
      type: 'array',
      description:
        'Permits that went ahead although the data sharing agreement their rule names is not in force: tell information governance.',
      items: {
        type: 'object',
        required: ['rule', 'agreement', 'notify', 'explanation'],
        properties: {
          rule: { type: 'string' },
          agreement: { type: 'string' },
          notify: { type: 'string', enum: ['information_governance'] },
          explanation: { type: 'string' },
        },
      },
    },
    facts: {
      type: 'object',
      description: 'Every fact the decision was made on: `asserted` by the caller, or `derived` by the gateway with its source.',
      additionalProperties: {
        type: 'object',
        required: ['value', 'source'],
        properties: {
          value: { type: ['boolean', 'number', 'string'] },
          source: { type: 'string', enum: ['asserted', 'derived'] },
          by: { type: 'string', description: 'Who asserted it (caller).' },
          from: { type: 'string', description: 'What the gateway derived it from.' },
        },
      },
    },
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
    requestId: {
      type: 'string',
      pattern: '^[A-Za-z0-9._-]{8,64}$',
      description: 'Entries of one request (the X-Request-Id it was answered with)',
    },
    subjectRef: {
      type: 'string',
      minLength: 1,
      maxLength: 128,
      description: 'A case reference or person id: entries about that person (matched by its pseudonym)',
    },
    cursor: { type: 'string', maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
  },
} as const;
