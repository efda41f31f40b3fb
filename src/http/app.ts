/**
 * The Express application: middleware order is part of the security design, so it is spelled out here.
 *
 *   request id → structured log → security headers → health + metrics (never rate limited) → per-IP limit →
 *   [ /v1: public checkpoint routes; then one Authorization header → authenticate → per-agency limit → body
 *   (src/http/body.ts: encoding, UTF-8, strict JSON, no duplicate keys, depth; size-capped) → route ] →
 *   OpenAPI document, gateway JWKS, pages → not found → error handler (audits refusals, answers problem+json).
 *   Requests Node's HTTP parser refuses are answered in src/http/server.ts.
 *
 * Authentication runs before the body is parsed, so nobody unauthenticated makes the gateway read a body.
 *
 * `POST /v1/decisions`, the busiest route, is matched by the first layer and runs exactly that list for it — request
 * id, log, headers, count, per-IP limit, no-store, one Authorization header, authenticate, per-agency limit, body,
 * scope, decision — with the same handler instances (so the same limiters), errors to the same error handler
 * (src/http/pipeline.ts). It skips only the layers that could never answer it.
 */
import { randomUUID } from 'node:crypto';
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import { securityHeaders } from './security-headers';
import { requestLog } from './request-log';
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import { ipKeyGenerator } from 'express-rate-limit';
import { rateLimit, sharedRateLimiter } from './rate-limit';
import { GatewayError } from '../errors';
import type { PolicyEngine } from '../policy/types';
import type { AuditLedger } from '../audit/entry';
import { AuditUnavailableError } from '../audit/entry';
import type { TokenVerifier } from '../auth/token-verifier';
import { requireAuth } from '../auth/middleware';
import type { ClientCertificateOptions } from '../auth/client-certificate';
import type { Principal } from '../auth/principal';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { GatewayKeys } from '../keys/gateway-keys';
import { problemFor, sendProblem } from './problem';
import { jsonBody, jsonTypeChecker } from './body';
import { oneAuthorizationHeader } from './headers';
import { recordRefusal } from './refusals';
import { anonymousRefusals, type AnonymousRefusals } from '../audit/anonymous-refusals';
import { decisionHandlers, decisionsRouter } from './routes/decisions';
import { pipeline, type Handler } from './pipeline';
import { recordsRouter } from './routes/records';
import { notificationsRouter } from './routes/notifications';
import type { OutboxSettings } from '../notifications/outbox';
import { auditRouter } from './routes/audit';
import { subjectDisclosuresRouter } from './routes/subject-disclosures';
import { ledgerProofsRouter } from './routes/ledger-proofs';
import { SubtreeCache, type CheckpointSink, type Checkpointer, type WitnessClient } from '../audit/checkpoints';
import type { EntryMacKey } from '../audit/entry-mac';
import { publicCheckpointRouter } from './routes/checkpoint-public';
import { healthRouter } from './routes/health';
import { describedMethods, openApiDocument } from './openapi';
import { metricsRouter, countRequest } from './metrics';
import { workflowsRouter } from '../workflows/routes';
import { referralOpener } from '../workflows/referrals';
import { DEFAULT_WORKFLOW_SETTINGS, type WorkflowSettings } from '../workflows/settings';

export interface AppDeps {
  readonly engine: PolicyEngine;
  readonly ledger: AuditLedger;
  readonly verifier: TokenVerifier;
  /** Client certificates from a TLS-terminating proxy header (only from its addresses), for certificate-bound tokens. */
  readonly clientCertificates?: ClientCertificateOptions;
  readonly pool: Pool;
  readonly logger: Logger;
  readonly pseudonymise: Pseudonymiser;
  readonly keys: GatewayKeys;
  /** The practitioners' and auditors' pages (src/web), when served. */
  readonly web?: Router;
  /** Webhook registration: plain-http loopback URLs allowed (development only). */
  readonly webhooks?: { readonly allowInsecure: boolean };
  /** Outbox settings (the school calendar for Operation Encompass deadlines). */
  readonly notifications?: OutboxSettings;
  /**
   * Signed ledger checkpoints: where they are exported, the shared subtree cache, the periodic sealer if this process
   * runs it (absent: no export, on-demand sealing only).
   */
  readonly checkpoints?: {
    readonly sinks: readonly CheckpointSink[];
    readonly cache: SubtreeCache;
    readonly checkpointer?: Checkpointer;
    /** Entry MAC key: on-demand seals check entries' MACs as the periodic sealer does. */
    readonly macKey?: EntryMacKey;
    /** The witnesses every checkpoint is sent to, and how many cosignatures verification requires. */
    readonly witnesses?: readonly WitnessClient[];
    readonly quorum?: number;
  };
  /** Referrals, requests for information, triage: time limits (default: DEFAULT_WORKFLOW_SETTINGS). */
  readonly workflows?: WorkflowSettings;
  readonly limits: {
    readonly bodyBytes: number;
    /** Requests per agency per minute. */
    readonly perAgencyPerMinute: number;
    /** Requests per client IP per minute (before authentication). */
    readonly perIpPerMinute: number;
  };
  /** Where refusals of unidentified callers are counted (default: `anonymous_refusals` on `pool`, 60 s windows). */
  readonly refusals?: AnonymousRefusals;
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;
const DECISIONS = '/v1/decisions';
const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

const isJson = jsonTypeChecker(JSON_TYPES);
/** A body that is not JSON is refused by its media type (415), not misread as an empty request (400). */
const jsonOnly: RequestHandler = (req, _res, next) => {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (hasBody && !isJson(req)) {
    return next(
      new GatewayError(
        'unsupported_media_type',
        `The request body must be JSON (Content-Type: application/json); this one was ${req.get('content-type')?.slice(0, 80) ?? 'not labelled'}.`,
      ),
    );
  }
  next();
};

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');
  // No generated ETags: answers are no-store and per request, so hashing every body bought nothing (records set their own).
  app.set('etag', false);

  // Every request: request id, log line, security headers, request count.
  const requestId: RequestHandler = (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = id;
    res.setHeader('X-Request-Id', id);
    next();
  };
  const front: RequestHandler[] = [requestId, requestLog(deps.logger), securityHeaders(), countRequest];
  const perAddress = rateLimit(
    sharedRateLimiter(deps.pool, 'address', deps.limits.perIpPerMinute),
    (req) => ipKeyGenerator(req.ip ?? 'unknown'),
    'Too many requests from this address.',
  );
  // Every /v1 request: no-store, one Authorization header, the token, the agency's limit, the JSON body.
  const api: Handler[] = [
    noStore,
    oneAuthorizationHeader,
    requireAuth(deps.verifier, deps.clientCertificates),
    rateLimit(
      sharedRateLimiter(deps.pool, 'agency', deps.limits.perAgencyPerMinute),
      (_req, res) => (res.locals.principal as Principal).agency.id,
      'Your agency has sent too many requests this minute.',
    ),
    jsonOnly,
    // Encoding, charset, strict JSON, duplicate keys, depth (src/http/body.ts).
    ...jsonBody({ limitBytes: deps.limits.bodyBytes, types: JSON_TYPES }),
  ];
  const workflows = {
    pool: deps.pool,
    ledger: deps.ledger,
    engine: deps.engine,
    pseudonymise: deps.pseudonymise,
    settings: deps.workflows ?? DEFAULT_WORKFLOW_SETTINGS,
  };
  const decisions = {
    engine: deps.engine,
    ledger: deps.ledger,
    pseudonymise: deps.pseudonymise,
    pool: deps.pool,
    referrals: referralOpener(workflows),
    ...(deps.notifications ? { schoolCalendar: deps.notifications.schoolCalendar } : {}),
  };
  const onError = errorHandler(deps);

  // The busiest route, matched once: exactly `POST /v1/decisions` runs the handlers the layers below would run for
  // it, in the same order and with the same limiters, without walking every router on the way (src/http/pipeline.ts).
  // Any other spelling of it (a trailing slash, capitals) takes the long way to the same handlers.
  const decide = pipeline([...front, perAddress, ...api, ...decisionHandlers(decisions)], onError);
  app.use((req, res, next) => {
    if (req.method === 'POST' && (req.url === DECISIONS || req.url.startsWith(`${DECISIONS}?`))) return decide(req, res, next);
    next();
  });
  app.use(...front);
  // Health and metrics come BEFORE the per-address limit: an orchestrator probing a busy gateway from one address
  // must never get a 429 and restart a healthy gateway (whatever limiter implementation sits below).
  app.use(healthRouter({ pool: deps.pool, verifier: deps.verifier, policyVersion: deps.engine.version }));
  app.use(metricsRouter());
  app.use(perAddress);

  const v1 = express.Router();
  v1.use(...api);
  v1.use(decisionsRouter(decisions));
  v1.use(workflowsRouter(workflows));
  v1.use(
    recordsRouter({
      pool: deps.pool,
      engine: deps.engine,
      ledger: deps.ledger,
      pseudonymise: deps.pseudonymise,
      ...(deps.notifications ? { notifications: deps.notifications } : {}),
    }),
  );
  v1.use(notificationsRouter({ pool: deps.pool, ledger: deps.ledger, allowInsecureWebhooks: deps.webhooks?.allowInsecure ?? false }));
  // Before the auditor-only audit router: an agency may fetch the receipt of its own entries.
  const checkpoints = deps.checkpoints ?? { sinks: [], cache: new SubtreeCache() };
  v1.use(ledgerProofsRouter({ ledger: deps.ledger, pool: deps.pool, keys: deps.keys, logger: deps.logger, ...checkpoints }));
  // Before the auditor-only audit router: data protection officers may read a subject's disclosures too.
  v1.use(subjectDisclosuresRouter({ ledger: deps.ledger, pool: deps.pool, pseudonymise: deps.pseudonymise }));
  v1.use(
    auditRouter({
      ledger: deps.ledger,
      pool: deps.pool,
      keys: deps.keys,
      pseudonymise: deps.pseudonymise,
      sinks: checkpoints.sinks,
      ...(checkpoints.witnesses ? { witnesses: checkpoints.witnesses } : {}),
      quorum: checkpoints.quorum ?? 0,
      ...(checkpoints.macKey ? { macKey: checkpoints.macKey } : {}),
    }),
  );
  app.use(
    '/v1',
    publicCheckpointRouter({
      pool: deps.pool,
      keys: deps.keys,
      ...(deps.checkpoints?.witnesses ? { witnesses: deps.checkpoints.witnesses } : {}),
      quorum: deps.checkpoints?.quorum ?? 0,
    }),
  );
  app.use('/v1', v1);
  // After the API: an API request does not walk the pages' router (no page is under /v1, and the pages' "not found"
  // for browsers leaves /v1 alone).
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(deps.keys.jwks());
  });
  if (deps.web) app.use(deps.web);

  app.use((req: Request, _res: Response, next: NextFunction) => {
    const path = req.originalUrl.split('?')[0] ?? '';
    const allow = describedMethods(path);
    if (allow && !allow.includes(req.method)) {
      return next(
        new GatewayError('method_not_allowed', `${req.method} is not allowed on ${path.slice(0, 200)}. Allowed: ${allow.join(', ')}.`, {
          allow,
        }),
      );
    }
    next(new GatewayError('not_found', `There is nothing at ${req.method} ${req.originalUrl.split('?')[0] ?? ''}.`));
  });
  app.use(onError);
  return app;
}

/**
 * Every refusal of a /v1 request is recorded before the refusal is sent (src/http/refusals.ts: one ledger entry for
 * an authenticated caller, a per-window count for an unidentified one). If even that cannot be recorded: 503.
 */
function errorHandler(deps: AppDeps): ErrorRequestHandler {
  const refusals = deps.refusals ?? anonymousRefusals(deps.pool);
  return async (err: unknown, req, res, _next) => {
    let error = problemFor(err, deps.logger);
    if (res.headersSent) return;
    if (req.originalUrl.startsWith('/v1/') && error.status >= 400 && error.status < 500) {
      try {
        await recordRefusal({ ledger: deps.ledger, refusals, pseudonymise: deps.pseudonymise }, req, res, error);
      } catch (auditError) {
        deps.logger.error({ err: auditError }, 'could not record a refusal in the audit ledger');
        error = problemFor(new AuditUnavailableError('refusal not recorded'), deps.logger);
      }
    }
    sendProblem(res, error);
  };
}
