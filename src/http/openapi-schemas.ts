/** The response bodies of the audit, proof and operational routes, for the OpenAPI document (src/http/openapi.ts). */
import { AUDIT_KINDS, AUDIT_OUTCOMES } from '../audit/kinds';

const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });

/** Response bodies of the audit, proof and operational routes (the records' and workflows' are with their routes). */
export const responseSchemas: Record<string, object> = {
  LedgerEntry: {
    type: 'object',
    required: [
      'seq',
      'entryId',
      'recordedAt',
      'kind',
      'outcome',
      'requestId',
      'actor',
      'purpose',
      'rules',
      'payload',
      'prevHash',
      'entryHash',
    ],
    properties: {
      seq: { type: 'integer', minimum: 1 },
      entryId: { type: 'string', format: 'uuid' },
      recordedAt: { type: 'string', format: 'date-time' },
      kind: { type: 'string', enum: [...AUDIT_KINDS] },
      outcome: { type: 'string', enum: [...AUDIT_OUTCOMES] },
      requestId: { type: 'string' },
      actor: {
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            required: ['agencyId', 'agencyType', 'clientId', 'practitioner', 'role', 'issuer'],
            properties: Object.fromEntries(
              ['agencyId', 'agencyType', 'clientId', 'practitioner', 'role', 'issuer'].map((k) => [k, { type: ['string', 'null'] }]),
            ),
          },
        ],
      },
      purpose: { type: ['string', 'null'] },
      rules: { type: 'array', items: { type: 'string' } },
      payload: { type: 'object', description: 'Field names, words, counts, pseudonyms and hashes: never values' },
      prevHash: { type: 'string' },
      entryHash: { type: 'string' },
    },
  },
  LedgerPage: {
    type: 'object',
    required: ['entries'],
    properties: { entries: { type: 'array', items: ref('LedgerEntry') }, nextCursor: { type: 'string' } },
  },
  VerifyReport: {
    type: 'object',
    required: [
      'summary',
      'ok',
      'entriesChecked',
      'lastSeq',
      'lastHash',
      'trustedUpTo',
      'sealedUpTo',
      'problems',
      'moreProblems',
      'checkpoints',
    ],
    properties: {
      summary: {
        type: 'string',
        description:
          'The one wording used everywhere, e.g. "chain intact to entry 19; sealed and signed to entry 12; entries 13 to 19 not sealed ' +
          'yet"',
      },
      ok: { type: 'boolean' },
      entriesChecked: { type: 'integer' },
      lastSeq: { type: 'integer' },
      lastHash: { type: 'string' },
      firstBadSeq: { type: 'integer' },
      trustedUpTo: { type: 'integer', description: 'Chain and checkpoints both hold up to this entry' },
      sealedUpTo: {
        type: 'integer',
        description: 'A signed checkpoint the database still matches covers entries up to this one (0: not sealed yet)',
      },
      problems: { type: 'array', items: { type: 'object' } },
      moreProblems: { type: 'integer' },
      checkpoints: {
        type: 'object',
        required: ['ok', 'checkpointsChecked', 'trustedUpTo'],
        properties: { ok: { type: 'boolean' }, checkpointsChecked: { type: 'integer' }, trustedUpTo: { type: 'integer' } },
      },
    },
  },
  Receipt: {
    type: 'object',
    required: ['type', 'v', 'entryId', 'seq', 'entryHash', 'sealed'],
    properties: {
      type: { type: 'string' },
      v: { type: 'integer' },
      entryId: { type: 'string', format: 'uuid' },
      seq: { type: 'integer' },
      entryHash: { type: 'string' },
      sealed: { type: 'boolean' },
    },
  },
  CheckpointPage: {
    type: 'object',
    required: ['checkpoints'],
    properties: {
      checkpoints: {
        type: 'array',
        items: {
          type: 'object',
          required: ['treeSize', 'rootHash'],
          properties: { treeSize: { type: 'integer' }, rootHash: { type: 'string' } },
        },
      },
      nextBefore: { type: 'integer' },
    },
  },
  SealResult: {
    type: 'object',
    required: ['created', 'checkpoint', 'exportedTo', 'exportFailures'],
    properties: {
      created: { type: 'boolean' },
      checkpoint: { oneOf: [{ type: 'null' }, { type: 'object' }] },
      exportedTo: { type: 'integer' },
      exportFailures: { type: 'integer' },
    },
  },
  Health: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } },
  Readiness: {
    type: 'object',
    required: ['status', 'database', 'issuers', 'policyVersion'],
    properties: { status: { type: 'string', enum: ['ready', 'not_ready'] }, database: {}, issuers: {}, policyVersion: { type: 'string' } },
  },
  Jwks: {
    type: 'object',
    required: ['keys'],
    properties: {
      keys: {
        type: 'array',
        items: { type: 'object', required: ['kty'], properties: { kty: { type: 'string' }, kid: { type: 'string' } } },
      },
    },
  },
};
