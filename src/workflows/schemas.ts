/** JSON Schemas of the workflow routes: the same objects validate requests (ajv) and describe them in /openapi.json. */
import { factsSchema, fieldSchema, purposeSchema, roleSchema, subjectRoleSchema } from '../vocabulary/schemas';
import { FIELDS } from '../vocabulary/vocabulary';
import { REFERRAL_OUTCOMES } from './referrals';
import { PRIORITIES } from './settings';
import { TEMPLATES } from './information-requests';

const uuid = { type: 'string', format: 'uuid' } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const agencyId = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } as const;
const freeText = { type: 'string', minLength: 1, maxLength: 4000, pattern: '\\S' } as const;
const fieldList = { type: 'array', maxItems: FIELDS.length, uniqueItems: true, items: fieldSchema } as const;

export const referralQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    view: {
      type: 'string',
      enum: ['queue', 'mine'],
      description: 'queue: referrals to your role at your agency (deciders); mine: referrals you asked for',
    },
    status: { type: 'string', enum: ['open', 'decided'] },
    overdue: { type: 'boolean' },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
  },
} as const;

export const referralDecisionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['decision', 'reasons'],
  properties: {
    decision: { type: 'string', enum: [...REFERRAL_OUTCOMES] },
    fields: {
      ...fieldList,
      description: 'The fields released: all referred fields for share (default), some for share_some, none for do_not_share',
    },
    reasons: {
      ...freeText,
      description: 'Why, in your own words (kept with the referral for the practitioner; the ledger keeps its hash)',
    },
  },
} as const;

const referralRequest = {
  type: 'object',
  properties: {
    from: { type: 'object', properties: { agencyType: { type: 'string' }, role: roleSchema } },
    to: { type: 'object', properties: { agencyType: { type: 'string' }, role: roleSchema } },
    purpose: purposeSchema,
    subjectRole: subjectRoleSchema,
    fields: { type: 'array', items: fieldSchema },
    facts: { type: 'object' },
  },
} as const;

export const referralSchema = {
  type: 'object',
  required: [
    'id',
    'status',
    'overdue',
    'agencyId',
    'deciderRole',
    'createdAt',
    'dueAt',
    'request',
    'referredFields',
    'permittedFields',
    'rules',
    'askedBy',
    'decisionEntry',
  ],
  properties: {
    id: uuid,
    status: { type: 'string', enum: ['open', 'decided'] },
    overdue: { type: 'boolean' },
    agencyId: { type: 'string' },
    deciderRole: roleSchema,
    createdAt: dateTime,
    dueAt: dateTime,
    request: referralRequest,
    subjectRef: { type: ['string', 'null'] },
    referredFields: { type: 'array', items: fieldSchema },
    permittedFields: { type: 'array', items: fieldSchema },
    rules: { type: 'array', items: { type: 'string' } },
    askedBy: {
      type: 'object',
      required: ['role', 'you'],
      properties: { name: { type: ['string', 'null'] }, role: { type: 'string' }, you: { type: 'boolean' } },
    },
    decisionEntry: {
      type: 'object',
      required: ['entryId', 'seq'],
      properties: { entryId: uuid, seq: { type: 'integer' } },
      description: 'The ledger entry of the refer decision',
    },
    decision: {
      type: 'object',
      required: ['outcome', 'releasedFields', 'reasons', 'decidedBy', 'decidedAt'],
      properties: {
        outcome: { type: 'string', enum: [...REFERRAL_OUTCOMES] },
        releasedFields: { type: 'array', items: fieldSchema },
        reasons: { type: 'string' },
        decidedBy: { type: 'object', properties: { name: { type: ['string', 'null'] }, role: { type: ['string', 'null'] } } },
        decidedAt: dateTime,
        entryId: { type: ['string', 'null'], description: 'The referral_decision ledger entry' },
      },
    },
  },
} as const;

export const referralListSchema = {
  type: 'object',
  required: ['view', 'referrals'],
  properties: {
    view: { type: 'string', enum: ['queue', 'mine'] },
    referrals: { type: 'array', items: { $ref: '#/components/schemas/Referral' } },
  },
} as const;

export const newInformationRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['subject', 'subjectRole'],
  properties: {
    subject: {
      type: 'object',
      additionalProperties: false,
      properties: { personId: uuid, caseReference: { type: 'string', pattern: '^[A-Za-z0-9._:/-]{1,128}$' } },
      description: 'A person your agency knows, or a case reference (for Cafcass checks: the family court case number)',
    },
    subjectRole: subjectRoleSchema,
    purpose: purposeSchema,
    agencies: {
      type: 'array',
      minItems: 1,
      maxItems: 30,
      uniqueItems: true,
      items: agencyId,
      description: 'Trust-registry ids of the agencies asked (the Cafcass template defaults to every police and local authority agency)',
    },
    fields: { ...fieldList, minItems: 1 },
    priority: {
      type: 'string',
      enum: [...PRIORITIES],
      description: 'red / amber / green: deadline 4 / 24 / 72 hours by default (configurable)',
    },
    facts: factsSchema,
    template: {
      type: 'string',
      enum: [...TEMPLATES],
      description: 'cafcass_safeguarding_checks: police and local authority checks before the first hearing',
    },
    firstHearingAt: { ...dateTime, description: 'Cafcass: the first hearing; the deadline is never later' },
  },
} as const;

export const informationRequestQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    view: { type: 'string', enum: ['asked_by_me', 'asked_of_me'] },
    status: { type: 'string', enum: ['awaiting', 'answered', 'declined', 'overdue'] },
    limit: { type: 'integer', minimum: 1, maximum: 200 },
  },
} as const;

export const informationResponseSchema = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['answer', 'records'],
      properties: {
        answer: { const: 'release' },
        records: {
          type: 'array',
          minItems: 1,
          maxItems: 100,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['recordId'],
            properties: { recordId: uuid, fields: { ...fieldList, minItems: 1 } },
          },
        },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['answer', 'reason'],
      properties: { answer: { const: 'decline' }, reason: freeText },
    },
  ],
} as const;

const targetSchema = {
  type: 'object',
  required: ['agencyId', 'status', 'deadline', 'recordsReleased'],
  properties: {
    agencyId: { type: 'string' },
    agencyName: { type: ['string', 'null'] },
    agencyType: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['awaiting', 'answered', 'declined', 'overdue'] },
    deadline: dateTime,
    respondedAt: { type: ['string', 'null'] },
    declineReason: { type: 'string' },
    recordsReleased: { type: 'integer' },
  },
} as const;

export const informationRequestSchema = {
  type: 'object',
  required: [
    'id',
    'requesterAgencyId',
    'subject',
    'purpose',
    'fields',
    'priority',
    'deadline',
    'status',
    'overdue',
    'yourPart',
    'agencies',
    'ledgerEntryId',
  ],
  properties: {
    id: uuid,
    requesterAgencyId: { type: 'string' },
    requesterAgencyName: { type: ['string', 'null'] },
    requestedBy: { type: 'object', properties: { name: { type: ['string', 'null'] }, role: { type: 'string' } } },
    subject: {
      type: 'object',
      properties: { personId: { type: ['string', 'null'] }, caseReference: { type: ['string', 'null'] }, subjectRole: { type: 'string' } },
    },
    purpose: purposeSchema,
    fields: { type: 'array', items: fieldSchema },
    facts: { type: 'object' },
    priority: { type: 'string', enum: [...PRIORITIES] },
    template: { type: ['string', 'null'] },
    firstHearingAt: { type: ['string', 'null'] },
    deadline: dateTime,
    createdAt: dateTime,
    status: { type: 'string', enum: ['open', 'complete'] },
    overdue: { type: 'boolean' },
    yourPart: { type: 'string', enum: ['requester', 'asked'] },
    agencies: { type: 'array', items: targetSchema },
    ledgerEntryId: uuid,
  },
} as const;

const recordItemSchema = {
  type: 'object',
  required: ['recordId', 'kind', 'decision', 'fields', 'withheldFields', 'rules'],
  properties: {
    recordId: uuid,
    kind: { type: 'string' },
    owningAgency: { type: 'object' },
    subjectPersonId: uuid,
    subjectRole: subjectRoleSchema,
    occurredAt: dateTime,
    decision: { type: 'string' },
    fields: { type: 'object', description: 'Permitted values only' },
    withheldFields: {
      type: 'array',
      items: {
        type: 'object',
        properties: { field: fieldSchema, code: { type: 'string' }, reason: { type: 'string' }, rule: { type: 'string' } },
      },
    },
    rules: { type: 'array', items: { type: 'string' } },
    lawfulBasis: { type: 'array', items: { type: 'object' } },
    mustRecord: { type: 'array', items: { type: 'string' } },
    auditEntryId: uuid,
    receipt: { type: 'object', properties: { seq: { type: 'integer' }, entryHash: { type: 'string' } } },
  },
} as const;

export const informationResponseResultSchema = {
  type: 'object',
  required: ['informationRequest', 'releases', 'auditEntryId'],
  properties: {
    informationRequest: { $ref: '#/components/schemas/InformationRequest' },
    releases: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          recordId: uuid,
          decision: { type: 'string' },
          fieldsReleased: { type: 'array', items: fieldSchema },
          withheldFields: { type: 'array', items: { type: 'object' } },
          auditEntryId: uuid,
        },
      },
    },
    auditEntryId: uuid,
  },
} as const;

export const pictureSchema = {
  type: 'object',
  required: ['informationRequest', 'items'],
  properties: {
    informationRequest: { $ref: '#/components/schemas/InformationRequest' },
    items: { type: 'array', items: recordItemSchema },
  },
} as const;

export const triageQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    date: {
      type: 'string',
      format: 'date',
      description: 'The meeting day (default today); the list covers the 24 hours before the meeting time',
    },
    purpose: purposeSchema,
  },
} as const;

const signalSchema = {
  type: 'object',
  properties: {
    signal: { type: 'string' },
    flagged: { type: 'boolean' },
    summary: { type: 'string' },
    evidence: { type: 'array', items: { type: 'object' } },
  },
} as const;

export const triageSchema = {
  type: 'object',
  required: ['date', 'window', 'purpose', 'agency', 'families'],
  properties: {
    date: { type: 'string', format: 'date' },
    window: { type: 'object', properties: { from: dateTime, to: dateTime } },
    purpose: purposeSchema,
    agency: { type: 'object', properties: { id: { type: 'string' }, agencyType: { type: 'string' }, role: { type: 'string' } } },
    families: {
      type: 'array',
      items: {
        type: 'object',
        required: ['familyRef', 'outcome', 'incidents', 'signals', 'auditEntryId', 'receipt'],
        properties: {
          familyRef: { type: 'string' },
          householdId: { type: ['string', 'null'] },
          area: { type: ['string', 'null'] },
          outcome: { type: 'string', enum: ['permit', 'permit_partial'] },
          incidents: { type: 'array', items: recordItemSchema },
          signals: { type: 'array', items: signalSchema },
          auditEntryId: uuid,
          receipt: { type: 'object', properties: { seq: { type: 'integer' }, entryHash: { type: 'string' } } },
        },
      },
    },
  },
} as const;
