/**
 * RFC 9457 problem details for every error answer, and the one mapping from an error to its problem: a domain
 * refusal's code → a problem code (REFUSAL_PROBLEMS) → one status (ERROR_STATUS), one type URI and one title
 * (TITLES). The detail is plain English; never a stack trace, never a token or a record value.
 */
import type { Response } from 'express';
import { ProblemDocument } from 'http-problem-details';
import type { Logger } from 'pino';
import { AuditUnavailableError } from '../audit/entry';
import { SealerUnavailableError } from '../audit/checkpoints/sealer-handle';
import { GatewayError, RefusalError, type ErrorCode, type RefusalCode } from '../errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const PROBLEM_TYPE_BASE = 'https://safeguard-gateway.example/problems/';

const TITLES: Record<ErrorCode, string> = {
  bad_request: 'The request could not be read',
  unknown_word: 'The request uses a word the sharing vocabulary does not have',
  invalid_request: 'The request is not valid',
  unauthenticated: 'Sign-in required',
  invalid_token: 'The access token was refused',
  forbidden: 'Not allowed for your role or agency',
  policy_refused: 'Refused by the sharing policy',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  payload_too_large: 'The request is too large',
  unsupported_media_type: 'The request body must be JSON',
  unprocessable: 'The request cannot be processed',
  rate_limited: 'Too many requests',
  headers_too_large: 'The request headers are too large',
  audit_unavailable: 'The audit ledger could not record this request, so nothing was disclosed',
  not_ready: 'The gateway is not ready',
  internal: 'Something went wrong in the gateway',
};

/** Each domain refusal code answers as one problem code (and so one status, type URI and title). */
export const REFUSAL_PROBLEMS: Record<RefusalCode, ErrorCode> = {
  person_not_found: 'not_found',
  record_not_found: 'not_found',
  household_not_found: 'not_found',
  referral_not_found: 'not_found',
  information_request_not_found: 'not_found',
  webhook_not_found: 'not_found',
  invalid_input: 'invalid_request',
  unknown_word: 'unknown_word',
  invalid_query: 'bad_request',
  invalid_cursor: 'bad_request',
  not_permitted: 'forbidden',
  not_signed_in: 'unauthenticated',
  refused_by_policy: 'policy_refused',
  identity_conflict: 'conflict',
  idempotency_key_reused: 'conflict',
  record_version_stale: 'conflict',
  already_decided: 'conflict',
  webhook_conflict: 'conflict',
  decision_not_possible: 'unprocessable',
  agency_not_registered: 'unprocessable',
};

/** A domain refusal as the problem it is answered (and recorded in the ledger) with. */
export function refusalProblem(error: RefusalError): GatewayError {
  return new GatewayError(REFUSAL_PROBLEMS[error.code], error.detail, error.errors.length > 0 ? { errors: error.errors } : {});
}

/** PostgreSQL refused text: NUL in text (22021), \u0000 or a lone surrogate in jsonb (22P05, or 22P02 naming Unicode). */
function isUnstorableText(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === '22021' || code === '22P05' || (code === '22P02' && /unicode|surrogate/i.test(String(message)));
}

/** PostgreSQL unreachable or restarting (connection refused, connection exceptions 08xxx, admin shutdown 57P0x). */
function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string')
    return /Connection terminated|timeout exceeded when trying to connect/i.test(String((err as { message?: unknown }).message));
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) || code.startsWith('08') || code.startsWith('57P');
}

/**
 * The one mapping from anything thrown to the problem the caller is answered with: a GatewayError as it is, a domain
 * refusal by its code (REFUSAL_PROBLEMS), the ledger unwritable → 503, body-parser and PostgreSQL errors by their
 * type or SQLSTATE; anything unexpected is logged and answered as a 500 with no detail.
 */
export function problemFor(err: unknown, logger: Pick<Logger, 'error'>): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof RefusalError) return refusalProblem(err);
  if (err instanceof AuditUnavailableError) {
    return new GatewayError(
      'audit_unavailable',
      'The audit ledger could not record this request, so nothing was disclosed. Try again shortly.',
      { retryAfterSeconds: 5 },
    );
  }
  if (err instanceof SealerUnavailableError) {
    // The sealer thread is being restarted (src/audit/checkpoints/sealer-handle.ts): nothing was sealed, try again.
    return new GatewayError('not_ready', 'The ledger sealer is restarting, so nothing was sealed. Try again shortly.', {
      retryAfterSeconds: 5,
    });
  }
  const type = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
  switch (type) {
    case 'entity.too.large':
      return new GatewayError('payload_too_large', 'The request body is larger than the gateway accepts.');
    case 'entity.parse.failed':
      return new GatewayError('bad_request', 'The request body is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('bad_request', 'The request body must be UTF-8 JSON.');
    case 'entity.verify.failed':
    case 'request.aborted':
    case 'request.size.invalid':
      return new GatewayError('bad_request', 'The request body could not be read.');
  }
  if (isUnstorableText(err)) {
    // A safety net: text the validators let through that PostgreSQL cannot store is the caller's input (400), not a 500.
    return new GatewayError(
      'bad_request',
      'The request contains a NUL character (\\u0000) or a broken UTF-16 character, which the gateway cannot store.',
    );
  }
  if (isDatabaseUnavailable(err)) {
    logger.error({ err }, 'database unavailable');
    return new GatewayError('not_ready', 'The gateway cannot reach its database just now, so nothing was disclosed. Try again shortly.', {
      retryAfterSeconds: 5,
    });
  }
  logger.error({ err }, 'unexpected error');
  return new GatewayError('internal', 'The gateway could not complete this request. It has been logged; nothing was disclosed.');
}

export function problemBody(error: GatewayError, requestId: string | undefined, extra: Record<string, unknown> = {}): ProblemDocument {
  const extension: Record<string, object> = { code: error.code as unknown as object };
  if (requestId) extension.requestId = requestId as unknown as object;
  if (error.extras.errors?.length) extension.errors = error.extras.errors;
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) extension[key] = value as object;
  return new ProblemDocument(
    { type: `${PROBLEM_TYPE_BASE}${error.code}`, title: TITLES[error.code], status: error.status, detail: error.detail },
    extension,
  );
}

export function sendProblem(res: Response, error: GatewayError, extra: Record<string, unknown> = {}): void {
  const requestId = typeof res.locals.requestId === 'string' ? res.locals.requestId : undefined;
  if (error.extras.wwwAuthenticate) res.setHeader('WWW-Authenticate', error.extras.wwwAuthenticate);
  if (error.extras.allow?.length) res.setHeader('Allow', error.extras.allow.join(', '));
  if (error.extras.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.extras.retryAfterSeconds));
  res
    .status(error.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemBody(error, requestId, extra)));
}
