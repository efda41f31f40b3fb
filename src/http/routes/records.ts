/**
 * The records exchange (src/records/). Authentication ran before these handlers (src/http/app.ts).
 *
 * Contributions (scope `records:write`), each in one transaction with its ledger entry, each POST idempotent:
 *   POST /v1/persons                      register or match a person (201 new, 200 matched)
 *   POST /v1/households                   a household of your agency
 *   POST /v1/households/{id}/members      someone your agency knows lived there from/to
 *   POST /v1/records                      a record about someone your agency knows (ETag: "1")
 *   PUT  /v1/records/{id}                 replace your own record's content; If-Match: "<version>" (409 if stale)
 *
 * Requests (scope `records:read`), `?purpose=` required, decided per record by the sharing policy, each record's
 * disclosure COMMITTED to the ledger before the answer is sent (503 and nothing sent if it cannot be):
 *   GET /v1/records/{id}
 *   GET /v1/subjects/{personId}/records
 *   GET /v1/subjects/{personId}/chronology   time-ordered, with cumulative risk signals
 */
import type { OutboxSettings } from '../../notifications/outbox';
import { Router, type Request, type Response } from 'express';
import type { Pool, PoolClient } from 'pg';
import { GatewayError, type InputProblem } from '../../errors';
import { contentHash, type AuditLedger } from '../../audit/entry';
import type { Pseudonymiser } from '../../audit/pseudonym';
import { principalOf, requireScope } from '../../auth/middleware';
import type { PolicyEngine } from '../../policy/types';
import type { Facts, Purpose, SubjectRole } from '../../vocabulary/vocabulary';
import { requestIdOf } from '../context';
import { bodyValidator, queryValidator } from '../validation';
import {
  addHouseholdMember,
  createHousehold,
  createRecord,
  registerPerson,
  updateRecord,
  type RecordContent,
} from '../../records/contribute';
import { readChronology, readRecord, readSubjectRecords, type ReadContext } from '../../records/disclose';
import { idempotent, type Answer } from '../../records/idempotency';
import { NON_READING_PURPOSES, type Classification, type Identifier, type RecordKind } from '../../records/model';
import {
  addMemberSchema,
  createHouseholdSchema,
  createPersonSchema,
  createRecordSchema,
  readQuerySchema,
  updateRecordSchema,
} from '../../records/schemas';
import { inTransaction } from '../../db/tx';
import {
  checkContributedFacts,
  checkIdentifiers,
  checkPersonFields,
  checkRecordFields,
  parseIdempotencyKey,
  parseIfMatch,
  throwIfProblems,
} from '../../records/validation';

export interface RecordsRouterDeps {
  readonly pool: Pool;
  readonly engine: PolicyEngine;
  readonly ledger: AuditLedger;
  readonly pseudonymise: Pseudonymiser;
  /** The clock (tests may fix it). */
  readonly now?: () => Date;
  /** Outbox settings (school calendar) for the notifications a contribution queues in its own transaction. */
  readonly notifications?: OutboxSettings;
}

interface PersonBody {
  identifiers?: Partial<Record<Identifier, string>>;
  localId?: string;
  fields?: Record<string, unknown>;
}
interface HouseholdBody {
  area: string;
  address: string;
}
interface MemberBody {
  personId: string;
  subjectRole: SubjectRole;
  from: string;
  to?: string;
}
interface RecordBodyCommon {
  subjectRole: SubjectRole;
  classification: Classification;
  occurredAt: string;
  fields: Record<string, unknown>;
  facts?: Record<string, unknown>;
}
interface CreateRecordBody extends RecordBodyCommon {
  kind: RecordKind;
  subjectPersonId: string;
}
interface ReadQuery {
  purpose: Purpose;
  onBehalfOf?: string;
}

const validatePerson = bodyValidator<PersonBody>(createPersonSchema, 'person');
const validateHousehold = bodyValidator<HouseholdBody>(createHouseholdSchema, 'household');
const validateMember = bodyValidator<MemberBody>(addMemberSchema, 'household member');
const validateCreateRecord = bodyValidator<CreateRecordBody>(createRecordSchema, 'record');
const validateUpdateRecord = bodyValidator<RecordBodyCommon>(updateRecordSchema, 'record update');
const validateReadQuery = queryValidator<ReadQuery>(readQuerySchema, 'records request');

function recordContent(kind: RecordKind, body: RecordBodyCommon): RecordContent {
  const problems: InputProblem[] = [];
  const fields = checkRecordFields(kind, body.fields, problems);
  const facts: Facts = checkContributedFacts(body.facts ?? {}, problems);
  throwIfProblems('record', problems);
  return { subjectRole: body.subjectRole, classification: body.classification, occurredAt: body.occurredAt, fields, facts };
}

function send(res: Response, answer: Answer & { replayed?: boolean }): void {
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  if (answer.replayed) res.setHeader('Idempotent-Replayed', 'true');
  res.status(answer.status).json(answer.body);
}

function readContext(req: Request, res: Response): ReadContext {
  const query = validateReadQuery({ ...req.query });
  if ((NON_READING_PURPOSES as readonly string[]).includes(query.purpose)) {
    throw new GatewayError(
      'invalid_request',
      `The purpose "${query.purpose}" is for reviewing decisions, not reading records: name the purpose you need the records for.`,
      {
        errors: [{ pointer: '/purpose', detail: `${query.purpose} cannot be used to read records` }],
      },
    );
  }
  return {
    principal: principalOf(res),
    purpose: query.purpose,
    ...(query.onBehalfOf ? { onBehalfOf: query.onBehalfOf } : {}),
    requestId: requestIdOf(res),
  };
}

export function recordsRouter(deps: RecordsRouterDeps): Router {
  const router = Router();
  const write = requireScope('records:write');
  const read = requireScope('records:read');
  const contributionDeps = {
    ledger: deps.ledger,
    pseudonymise: deps.pseudonymise,
    ...(deps.notifications ? { notifications: deps.notifications } : {}),
  };

  /** Idempotency-Key first (400 without one), then the body, then the work in one transaction with the key. */
  async function contribute(
    req: Request,
    res: Response,
    work: (client: PoolClient, ctx: { principal: ReturnType<typeof principalOf>; requestId: string }) => Promise<Answer>,
  ): Promise<void> {
    const principal = principalOf(res);
    const requestId = requestIdOf(res);
    const key = parseIdempotencyKey(req.get('idempotency-key'));
    const requestHash = contentHash({ method: req.method, path: `${req.baseUrl}${req.path}`, body: (req.body ?? {}) as unknown });
    send(
      res,
      await idempotent(deps.pool, { agencyId: principal.agency.id, key, requestHash }, (client) => work(client, { principal, requestId })),
    );
  }

  router.post('/persons', write, async (req, res) => {
    parseIdempotencyKey(req.get('idempotency-key'));
    const body = validatePerson(req.body ?? {});
    const problems: InputProblem[] = [];
    if (body.identifiers) checkIdentifiers(body.identifiers, problems);
    const fields = body.fields ? checkPersonFields(body.fields, problems) : undefined;
    throwIfProblems('person', problems);
    await contribute(req, res, (client, ctx) =>
      registerPerson(contributionDeps, ctx, client, {
        ...(body.identifiers ? { identifiers: body.identifiers } : {}),
        ...(body.localId ? { localId: body.localId } : {}),
        ...(fields ? { fields } : {}),
      }),
    );
  });

  router.post('/households', write, async (req, res) => {
    parseIdempotencyKey(req.get('idempotency-key'));
    const body = validateHousehold(req.body ?? {});
    await contribute(req, res, (client, ctx) => createHousehold(contributionDeps, ctx, client, body));
  });

  router.post('/households/:householdId/members', write, async (req, res) => {
    parseIdempotencyKey(req.get('idempotency-key'));
    const body = validateMember(req.body ?? {});
    const householdId = String(req.params.householdId);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(householdId))
      throw new GatewayError('not_found', 'No household with that id belongs to your agency.');
    await contribute(req, res, (client, ctx) => addHouseholdMember(contributionDeps, ctx, client, householdId, body));
  });

  router.post('/records', write, async (req, res) => {
    parseIdempotencyKey(req.get('idempotency-key'));
    const body = validateCreateRecord(req.body ?? {});
    const content = recordContent(body.kind, body);
    await contribute(req, res, (client, ctx) =>
      createRecord(contributionDeps, ctx, client, { ...content, kind: body.kind, subjectPersonId: body.subjectPersonId }),
    );
  });

  router.put('/records/:recordId', write, async (req, res) => {
    const expected = parseIfMatch(req.get('if-match'));
    const body = validateUpdateRecord(req.body ?? {});
    const recordId = String(req.params.recordId);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(recordId))
      throw new GatewayError('not_found', 'No record with that id is available to your agency.');
    const ctx = { principal: principalOf(res), requestId: requestIdOf(res) };
    send(
      res,
      await inTransaction(deps.pool, (client) =>
        updateRecord(contributionDeps, ctx, client, recordId, expected, (kind) => recordContent(kind, body)),
      ),
    );
  });

  router.get('/records/:recordId', read, async (req, res) => {
    const answer = await readRecord(deps, readContext(req, res), String(req.params.recordId));
    if (answer.version !== undefined) res.setHeader('ETag', `"${answer.version}"`);
    res.json(answer);
  });

  router.get('/subjects/:personId/records', read, async (req, res) => {
    res.json(await readSubjectRecords(deps, readContext(req, res), String(req.params.personId)));
  });

  router.get('/subjects/:personId/chronology', read, async (req, res) => {
    res.json(await readChronology(deps, readContext(req, res), String(req.params.personId)));
  });

  return router;
}

// ─── OpenAPI ───────────────────────────────────────────────────────────────────────────────────────────────────

const withoutId = (schema: object): object => {
  const { $id: _ignored, ...rest } = schema as { $id?: string };
  return rest;
};
const problemRef = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const problemsFor = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: ERROR_DESCRIPTIONS[s] ?? 'Error', content: problemRef }]));
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request, unknown vocabulary word, missing purpose, Idempotency-Key or If-Match',
  401: 'Missing or invalid access token',
  403: 'Not allowed (scope, or not the owning agency)',
  404: 'Not found, or not known to your agency (the same answer)',
  409: 'Idempotency-Key reused for another request, stale If-Match, or identifiers that contradict',
  413: 'Body too large',
  429: 'Rate limited (Retry-After)',
  503: 'Audit ledger unavailable: nothing written, nothing disclosed',
};
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{8,128}$' },
  description: 'Same key and body → the same answer, written once; same key, other body → 409.',
};
const readParameters = Object.entries(readQuerySchema.properties).map(([name, schema]) => ({
  name,
  in: 'query',
  required: name === 'purpose',
  schema,
}));
const uuidParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

/** The records exchange's part of the OpenAPI document: spread `paths` into `paths` and `schemas` into `components.schemas`. */
export function recordsOpenApi(): { paths: Record<string, unknown>; schemas: Record<string, unknown> } {
  return {
    schemas: {
      CreatePerson: withoutId(createPersonSchema),
      CreateHousehold: withoutId(createHouseholdSchema),
      AddHouseholdMember: withoutId(addMemberSchema),
      CreateRecord: withoutId(createRecordSchema),
      UpdateRecord: withoutId(updateRecordSchema),
      Contributed: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
      RecordDisclosure: {
        type: 'object',
        required: [
          'recordId',
          'kind',
          'owningAgency',
          'subjectPersonId',
          'access',
          'decision',
          'fields',
          'withheldFields',
          'rules',
          'lawfulBasis',
          'reasons',
          'mustRecord',
          'policyVersion',
          'auditEntryId',
          'receipt',
        ],
        properties: {
          recordId: { type: 'string', format: 'uuid' },
          kind: { type: 'string' },
          owningAgency: { type: 'object' },
          subjectPersonId: { type: 'string' },
          access: { type: 'string', enum: ['own_record', 'policy'] },
          decision: { type: 'string', enum: ['permit', 'permit_partial', 'deny', 'refer'] },
          fields: { type: 'object', description: 'Only the permitted field values' },
          withheldFields: {
            type: 'array',
            items: {
              type: 'object',
              required: ['field', 'code', 'reason'],
              properties: { field: { type: 'string' }, code: { type: 'string' }, reason: { type: 'string' }, rule: { type: 'string' } },
            },
          },
          rules: { type: 'array', items: { type: 'string' } },
          lawfulBasis: { type: 'array' },
          reasons: { type: 'array', items: { type: 'string' } },
          mustRecord: { type: 'array', items: { type: 'string' } },
          policyVersion: { type: 'string' },
          auditEntryId: { type: 'string', format: 'uuid' },
          receipt: {
            type: 'object',
            required: ['seq', 'entryHash'],
            properties: { seq: { type: 'integer' }, entryHash: { type: 'string' } },
          },
        },
      },
      SubjectRecords: {
        type: 'object',
        required: ['subjectPersonId', 'purpose', 'records'],
        properties: {
          subjectPersonId: { type: 'string' },
          purpose: { type: 'string' },
          records: { type: 'array', items: { $ref: '#/components/schemas/RecordDisclosure' } },
        },
      },
      Chronology: {
        type: 'object',
        required: ['subjectPersonId', 'purpose', 'signals', 'signalsAudit', 'items', 'withheld'],
        properties: {
          subjectPersonId: { type: 'string' },
          purpose: { type: 'string' },
          signals: { type: 'array', items: { type: 'object' } },
          signalsAudit: {
            type: 'object',
            required: ['auditEntryId', 'receipt'],
            properties: { auditEntryId: { type: 'string', format: 'uuid' }, receipt: { type: 'object' } },
          },
          items: { type: 'array', items: { $ref: '#/components/schemas/RecordDisclosure' } },
          withheld: { type: 'array', items: { $ref: '#/components/schemas/RecordDisclosure' } },
        },
      },
    },
    paths: {
      '/v1/persons': {
        post: {
          summary: 'Register a person, or match one the gateway knows by NHS number, UPN, PNC id or your local id (scope records:write)',
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json('CreatePerson') },
          responses: {
            '201': { description: 'Registered', content: json('Contributed') },
            '200': { description: 'Matched an existing person (your agency now knows them)', content: json('Contributed') },
            ...problemsFor(400, 401, 403, 409, 413, 429, 503),
          },
        },
      },
      '/v1/households': {
        post: {
          summary: 'Record a household of your agency (scope records:write)',
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json('CreateHousehold') },
          responses: {
            '201': { description: 'Recorded', content: json('Contributed') },
            ...problemsFor(400, 401, 403, 409, 413, 429, 503),
          },
        },
      },
      '/v1/households/{householdId}/members': {
        post: {
          summary: 'Record that a person your agency knows lived in your household from/to a date (scope records:write)',
          parameters: [uuidParam('householdId'), idempotencyKey],
          requestBody: { required: true, content: json('AddHouseholdMember') },
          responses: {
            '201': { description: 'Recorded', content: json('Contributed') },
            ...problemsFor(400, 401, 403, 404, 409, 413, 429, 503),
          },
        },
      },
      '/v1/records': {
        post: {
          summary:
            'Contribute a record (vocabulary fields allowed for its kind, and facts) about a person your agency knows (scope ' +
            'records:write)',
          parameters: [idempotencyKey],
          requestBody: { required: true, content: json('CreateRecord') },
          responses: {
            '201': { description: 'Recorded; ETag "1", Location', content: json('Contributed') },
            ...problemsFor(400, 401, 403, 404, 409, 413, 429, 503),
          },
        },
      },
      '/v1/records/{recordId}': {
        get: {
          summary:
            'One record, field by field as the sharing policy allows for your purpose; the disclosure is recorded in the ledger before ' +
            'the answer (scope records:read)',
          parameters: [uuidParam('recordId'), ...readParameters],
          responses: {
            '200': {
              description: 'Permitted field values, withheld fields by name and reason, rules, lawful basis, audit receipt',
              content: json('RecordDisclosure'),
            },
            ...problemsFor(400, 401, 403, 404, 429, 503),
          },
        },
        put: {
          summary: 'Replace your own record\'s content from the version you read (If-Match: "<version>"; scope records:write)',
          parameters: [
            uuidParam('recordId'),
            { name: 'If-Match', in: 'header', required: true, schema: { type: 'string' }, description: 'The version you read, e.g. "3"' },
          ],
          requestBody: { required: true, content: json('UpdateRecord') },
          responses: {
            '200': { description: 'Updated; ETag of the new version', content: json('Contributed') },
            ...problemsFor(400, 401, 403, 404, 409, 413, 429, 503),
          },
        },
      },
      '/v1/subjects/{personId}/records': {
        get: {
          summary:
            'Every record about a person, each filtered by the sharing policy for your purpose and recorded in the ledger before the ' +
            'answer (scope records:read)',
          parameters: [uuidParam('personId'), ...readParameters],
          responses: {
            '200': { description: 'One entry per record, each with its audit receipt', content: json('SubjectRecords') },
            ...problemsFor(400, 401, 403, 404, 429, 503),
          },
        },
      },
      '/v1/subjects/{personId}/chronology': {
        get: {
          summary:
            'A time-ordered chronology across agencies, each item filtered and audited like the records, with cumulative risk signals ' +
            "over all the person's records (scope records:read)",
          parameters: [uuidParam('personId'), ...readParameters],
          responses: {
            '200': {
              description: 'Risk signals (with evidence ids and dates), disclosed items oldest first, withheld items',
              content: json('Chronology'),
            },
            ...problemsFor(400, 401, 403, 404, 429, 503),
          },
        },
      },
    },
  };
}
