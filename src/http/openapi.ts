/**
 * The OpenAPI 3.1 description of every route, built from the same JSON Schemas that validate requests.
 * tests/integration/decisions-api.test.ts requests every described route and checks the list is complete.
 */
import { auditQuerySchema, decisionRequestSchema, decisionResponseSchema } from './schemas';
import { ERROR_STATUS } from '../errors';
import { subjectDisclosuresOpenApi } from './routes/subject-disclosures';
import { responseSchemas } from './openapi-schemas';
import { recordsOpenApi } from './routes/records';
import { notificationsOpenApi } from './routes/notifications';
import { workflowsOpenApi } from '../workflows/openapi';

const problem = {
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_STATUS) },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pointer', 'detail'],
        properties: {
          pointer: { type: 'string' },
          detail: { type: 'string' },
          word: { type: 'string' },
          allowed: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};

const json = (schema: object): Record<string, unknown> => ({ 'application/json': { schema } });
const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });

/** Every operation's id, by "METHOD path" (routes described elsewhere set their own). */
const OPERATION_IDS: Record<string, string> = {
  'post /v1/decisions': 'decide',
  'get /v1/audit': 'listAuditEntries',
  'get /v1/audit/entries/{entryId}': 'getAuditEntry',
  'get /v1/audit/entries/{entryId}/proof': 'getAuditEntryProof',
  'get /v1/audit/checkpoints': 'listCheckpoints',
  'post /v1/audit/checkpoints': 'sealLedger',
  'get /v1/audit/verify': 'verifyLedger',
  'get /healthz': 'getHealth',
  'get /readyz': 'getReadiness',
  'get /metrics': 'getMetrics',
  'get /.well-known/jwks.json': 'getJwks',
  'get /openapi.json': 'getOpenApi',
  'post /v1/persons': 'registerPerson',
  'post /v1/households': 'createHousehold',
  'post /v1/households/{householdId}/members': 'addHouseholdMember',
  'post /v1/records': 'createRecord',
  'get /v1/records/{recordId}': 'getRecord',
  'put /v1/records/{recordId}': 'updateRecord',
  'get /v1/subjects/{personId}/records': 'getSubjectRecords',
  'get /v1/subjects/{personId}/chronology': 'getSubjectChronology',
  'post /v1/webhooks': 'registerWebhook',
  'get /v1/webhooks': 'listWebhooks',
  'delete /v1/webhooks/{webhookId}': 'removeWebhook',
};

/** Gives every operation without one an operationId (from the list above, else from its method and path). */
function withOperationIds(paths: Record<string, Record<string, Record<string, unknown>>>): typeof paths {
  for (const [p, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || op === null || op.operationId) continue;
      op.operationId =
        OPERATION_IDS[`${method} ${p}`] ??
        `${method}${p
          .split(/[^A-Za-z0-9]+/)
          .filter(Boolean)
          .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
          .join('')}`;
    }
  }
  return paths;
}

function problems(...statuses: number[]): Record<string, unknown> {
  const descriptions: Record<number, string> = {
    400: 'Invalid request or unknown vocabulary word',
    401: 'Missing or invalid access token',
    403: 'Not allowed',
    404: 'Not found',
    409: 'Conflict',
    413: 'Body too large',
    429: 'Rate limited (Retry-After)',
    503: 'Audit ledger unavailable: nothing disclosed',
  };
  return Object.fromEntries(
    statuses.map((s) => [
      String(s),
      {
        description: descriptions[s] ?? 'Error',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      },
    ]),
  );
}

function withoutId(schema: object): object {
  const { $id: _ignored, ...rest } = schema as { $id?: string };
  return rest;
}

const queryParameters = Object.entries(auditQuerySchema.properties).map(([name, schema]) => ({
  name,
  in: 'query',
  required: false,
  schema,
}));

export function openApiDocument(): Record<string, unknown> {
  const records = recordsOpenApi();
  const notifications = notificationsOpenApi();
  const workflows = workflowsOpenApi();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Safeguard Gateway',
      version: '0.1.0',
      description:
        'Secure information sharing between agencies protecting children living with domestic abuse. Every decision is recorded in an ' +
        'immutable, hash-chained audit ledger before the answer is sent.',
    },
    servers: [{ url: '/' }],
    security: [{ agencyToken: [] }],
    components: {
      securitySchemes: {
        agencyToken: { type: 'http', scheme: 'bearer', bearerFormat: "JWT (at+jwt) from the agency's own OpenID provider" },
      },
      schemas: {
        Problem: problem,
        DecisionRequest: withoutId(decisionRequestSchema),
        Decision: decisionResponseSchema,
        ...responseSchemas,
        ...subjectDisclosuresOpenApi(problems).schemas,
        ...records.schemas,
        ...notifications.schemas,
        ...workflows.schemas,
      },
    },
    paths: withOperationIds({
      ...records.paths,
      ...subjectDisclosuresOpenApi(problems).paths,
      ...notifications.paths,
      ...workflows.paths,
      '/v1/decisions': {
        post: {
          summary: 'May this information be shared? (decided by policy, recorded in the ledger before answering)',
          description: "Requires scope `decisions`. `from.agencyType` must be the caller's own agency type.",
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/DecisionRequest' } } } },
          responses: {
            '200': {
              description: 'The decision, its rules and lawful basis, and its audit receipt',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Decision' } } },
            },
            ...problems(400, 401, 403, 413, 429, 503),
          },
        },
      },
      '/v1/audit': {
        get: {
          summary: 'The disclosure log (auditor role). Newest first, cursor paging. The read is itself audited.',
          parameters: queryParameters,
          responses: {
            '200': { description: 'A page of ledger entries', content: json(ref('LedgerPage')) },
            ...problems(400, 401, 403, 429, 503),
          },
        },
      },
      '/v1/audit/entries/{entryId}': {
        get: {
          summary: 'One ledger entry (auditor role)',
          parameters: [{ name: 'entryId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: { '200': { description: 'The entry', content: json(ref('LedgerEntry')) }, ...problems(401, 403, 404, 429, 503) },
        },
      },
      '/v1/audit/entries/{entryId}/proof': {
        get: {
          summary:
            'A receipt for one entry: its hash and, once sealed, the signed checkpoint (JWS) and the Merkle inclusion proof (auditor, or ' +
            'the agency that made the entry)',
          parameters: [
            { name: 'entryId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
            {
              name: 'treeSize',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1 },
              description: 'Prove against the checkpoint of this size (default: the latest covering the entry)',
            },
          ],
          responses: {
            '200': { description: 'The receipt (`sealed: false` until a checkpoint covers the entry)', content: json(ref('Receipt')) },
            ...problems(400, 401, 404, 429, 503),
          },
        },
      },
      '/v1/audit/checkpoints': {
        get: {
          summary: 'Signed ledger checkpoints, newest first (auditor role)',
          parameters: [
            { name: 'before', in: 'query', required: false, schema: { type: 'integer', minimum: 1 } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200 } },
          ],
          responses: {
            '200': { description: 'A page of checkpoints', content: json(ref('CheckpointPage')) },
            ...problems(400, 401, 403, 429),
          },
        },
        post: {
          summary:
            'Seal the ledger now (auditor role): a new signed checkpoint, exported; refused if the database no longer matches the last ' +
            'checkpoint',
          responses: {
            '201': { description: 'Sealed', content: json(ref('SealResult')) },
            '200': { description: 'Nothing new to seal', content: json(ref('SealResult')) },
            ...problems(401, 403, 409, 429, 503),
          },
        },
      },
      '/v1/audit/checkpoint': {
        get: {
          operationId: 'getLedgerCheckpoint',
          summary:
            "The latest ledger checkpoint as a C2SP tlog-checkpoint signed note (Ed25519), with the witnesses' cosignature lines (no " +
            'authentication). Verify it with Go golang.org/x/mod/sumdb/note and the key at /v1/audit/checkpoint/key',
          security: [],
          responses: {
            '200': {
              description: 'The signed note: origin, tree size, base64 root hash, a blank line, then signature lines',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...problems(400, 404, 429, 503),
          },
        },
      },
      '/v1/audit/checkpoint/key': {
        get: {
          operationId: 'getLedgerCheckpointKey',
          summary:
            'The note verifier key of the current note key, in Go sumdb/note vkey format <name>+<hash>+<keydata> (no authentication)',
          security: [],
          responses: {
            '200': { description: 'One line', content: { 'text/plain': { schema: { type: 'string' } } } },
            ...problems(400, 429),
          },
        },
      },
      '/v1/audit/checkpoint/keys': {
        get: {
          operationId: 'listLedgerCheckpointKeys',
          summary:
            'Every note key version (newest first, old ones kept after a rotation), the JWKS, the witnesses and the quorum (no ' +
            'authentication)',
          security: [],
          responses: {
            '200': {
              description: 'Keys',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['origin', 'noteKeys', 'jwks', 'witnesses', 'quorum'],
                    properties: {
                      origin: { type: 'string' },
                      noteKeys: { type: 'array', items: { type: 'string' } },
                      jwks: { type: 'object' },
                      witnesses: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: { name: { type: 'string' }, url: { type: 'string' }, key: { type: 'string' } },
                        },
                      },
                      quorum: { type: 'integer', minimum: 0 },
                    },
                  },
                },
              },
            },
            ...problems(400, 429),
          },
        },
      },
      '/v1/audit/verify': {
        get: {
          summary: 'Verify the whole hash chain (auditor role)',
          responses: {
            '200': {
              description: 'Verification report: the summary sentence, entries checked, first bad entry, how far sealed',
              content: json(ref('VerifyReport')),
            },
            ...problems(401, 403, 429, 503),
          },
        },
      },
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { '200': { description: 'Alive', content: json(ref('Health')) } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: database and every trusted issuer',
          security: [],
          responses: {
            '200': { description: 'Ready', content: json(ref('Readiness')) },
            '503': { description: 'Not ready', content: json(ref('Readiness')) },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [],
          responses: {
            '200': { description: 'Metrics in the Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/.well-known/jwks.json': {
        get: {
          summary: "The gateway's public signing keys (ledger checkpoints, notifications)",
          security: [],
          responses: { '200': { description: 'JWKS', content: json(ref('Jwks')) } },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          security: [],
          responses: {
            '200': {
              description: 'OpenAPI 3.1',
              content: json({
                type: 'object',
                required: ['openapi', 'paths'],
                properties: { openapi: { type: 'string' }, paths: { type: 'object' } },
              }),
            },
          },
        },
      },
    }),
  };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
let pathIndex: Array<{ readonly pattern: RegExp; readonly methods: readonly string[] }> | undefined;

/**
 * The methods the document describes for a concrete path (`/v1/records/123` matches `/v1/records/{recordId}`),
 * or undefined when no described path matches. Drives 405 + `Allow`, and tells the pages which paths are the API's.
 */
export function describedMethods(path: string): readonly string[] | undefined {
  pathIndex ??= Object.entries(openApiDocument().paths as Record<string, Record<string, unknown>>).map(([template, item]) => {
    const pattern = new RegExp(
      `^${template
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]+')}/?$`,
    );
    const methods = METHODS.filter((m) => m in item).map((m) => m.toUpperCase());
    return { pattern, methods: methods.includes('GET') ? [...methods, 'HEAD'] : methods };
  });
  const found = pathIndex.filter((p) => p.pattern.test(path));
  if (found.length === 0) return undefined;
  return [...new Set(found.flatMap((p) => p.methods))];
}
