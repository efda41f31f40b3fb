/**
 * Webhook subscriptions (src/notifications/). Authentication ran before these handlers (src/http/app.ts); scope
 * `webhooks`. An agency manages only its own:
 *
 *   POST   /v1/webhooks        { url, events }  register an https endpoint (201); 400 for a URL that is not https,
 *                              points at a private/internal address, or an event the agency cannot receive
 *   GET    /v1/webhooks        the agency's active subscriptions
 *   DELETE /v1/webhooks/{id}   remove one (204); another agency's id is 404, as a missing one
 *
 * Messages are POSTed as a compact JWS (`Content-Type: application/jose`, ES256, typ `sg-notification+jwt`, the kid of
 * the gateway's `notifications` key): verify it with GET /.well-known/jwks.json.
 */
import { Router } from 'express';
import type { Pool } from 'pg';
import type { AuditLedger } from '../../audit/entry';
import { principalOf, requireScope } from '../../auth/middleware';
import { requestIdOf } from '../context';
import { bodyValidator } from '../validation';
import { EVENT_DESCRIPTIONS, WEBHOOK_EVENTS, type WebhookEvent } from '../../notifications/events';
import { listSubscriptions, registerSubscription, removeSubscription } from '../../notifications/subscriptions';
import { MAX_WEBHOOK_URL_LENGTH, type Resolver } from '../../notifications/webhook-url';

export const WEBHOOKS_SCOPE = 'webhooks';

export interface NotificationsRouterDeps {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  /** ALLOW_INSECURE_WEBHOOKS (development only). */
  readonly allowInsecureWebhooks: boolean;
  /** DNS used to check a webhook host (tests may replace it). */
  readonly resolve?: Resolver;
}

export const createWebhookSchema = {
  $id: 'CreateWebhook',
  type: 'object',
  additionalProperties: false,
  required: ['url', 'events'],
  properties: {
    url: { type: 'string', minLength: 1, maxLength: MAX_WEBHOOK_URL_LENGTH, description: 'https URL of your endpoint' },
    events: {
      type: 'array',
      minItems: 1,
      maxItems: WEBHOOK_EVENTS.length,
      uniqueItems: true,
      items: { type: 'string', enum: [...WEBHOOK_EVENTS] },
    },
  },
} as const;

const validateCreate = bodyValidator<{ url: string; events: WebhookEvent[] }>(createWebhookSchema, 'webhook');

export function notificationsRouter(deps: NotificationsRouterDeps): Router {
  const router = Router();
  const scope = requireScope(WEBHOOKS_SCOPE);
  const subscriptionDeps = {
    pool: deps.pool,
    ledger: deps.ledger,
    urlPolicy: { allowInsecure: deps.allowInsecureWebhooks },
    ...(deps.resolve ? { resolve: deps.resolve } : {}),
  };
  const ctx = (res: Parameters<typeof principalOf>[0]) => ({ principal: principalOf(res), requestId: requestIdOf(res) });

  router.post('/webhooks', scope, async (req, res) => {
    const body = validateCreate(req.body ?? {});
    const created = await registerSubscription(subscriptionDeps, ctx(res), body);
    res.status(201).setHeader('Location', `/v1/webhooks/${created.id}`).json(created);
  });

  router.get('/webhooks', scope, async (_req, res) => {
    res.json({ webhooks: await listSubscriptions(subscriptionDeps, ctx(res)) });
  });

  router.delete('/webhooks/:webhookId', scope, async (req, res) => {
    await removeSubscription(subscriptionDeps, ctx(res), String(req.params.webhookId));
    res.status(204).end();
  });

  return router;
}

// ─── OpenAPI ───────────────────────────────────────────────────────────────────────────────────────────────────

const problemRef = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid body, a URL that is not allowed (not https, private or internal address), or an event your agency cannot receive',
  401: 'Missing or invalid access token',
  403: 'Scope webhooks missing',
  404: 'No webhook of your agency with that id',
  409: 'A webhook at this URL already exists, or the limit is reached',
  413: 'Body too large',
  429: 'Rate limited (Retry-After)',
  503: 'Audit ledger unavailable: nothing changed',
};
const problemsFor = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: DESCRIPTIONS[s] ?? 'Error', content: problemRef }]));
const { $id: _id, ...createWebhookBody } = createWebhookSchema;
const webhook = {
  type: 'object',
  required: ['id', 'url', 'events', 'createdAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    url: { type: 'string' },
    events: createWebhookSchema.properties.events,
    createdAt: { type: 'string', format: 'date-time' },
  },
};

/** The webhooks' part of the OpenAPI document: spread `paths` into `paths` and `schemas` into `components.schemas`. */
export function notificationsOpenApi(): { paths: Record<string, unknown>; schemas: Record<string, unknown> } {
  const events = WEBHOOK_EVENTS.map((e) => `\`${e}\`: ${EVENT_DESCRIPTIONS[e]}`).join('\n');
  return {
    schemas: { CreateWebhook: createWebhookBody, Webhook: webhook },
    paths: {
      '/v1/webhooks': {
        post: {
          summary: "Register your agency's https endpoint for notifications (scope webhooks)",
          description: `Events:\n${events}\n\nEach message is POSTed as a compact JWS (Content-Type application/jose; ES256; typ sg-notification+jwt; kid of the gateway's notifications key — verify with /.well-known/jwks.json). Its payload: iss, aud (your agency id), iat, exp, jti, event, messageId, attempt and data (only what the sharing policy permits for you). Answer 2xx; anything else is retried with exponential backoff, then dead-lettered.`,
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateWebhook' } } } },
          responses: {
            '201': { description: 'Registered', content: { 'application/json': { schema: { $ref: '#/components/schemas/Webhook' } } } },
            ...problemsFor(400, 401, 403, 409, 413, 429, 503),
          },
        },
        get: {
          summary: "Your agency's webhooks (scope webhooks)",
          responses: {
            '200': {
              description: 'Active webhooks',
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { webhooks: { type: 'array', items: { $ref: '#/components/schemas/Webhook' } } } },
                },
              },
            },
            ...problemsFor(401, 403, 429),
          },
        },
      },
      '/v1/webhooks/{webhookId}': {
        delete: {
          summary: "Remove one of your agency's webhooks (scope webhooks); messages queued for it are not sent",
          parameters: [{ name: 'webhookId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: { '204': { description: 'Removed' }, ...problemsFor(401, 403, 404, 429, 503) },
        },
      },
    },
  };
}
