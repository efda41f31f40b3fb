/**
 * RFC 9457 problem details for every error answer. Each GatewayError code has a stable type URI; the detail is
 * plain English; never a stack trace, never a token or a record value.
 */
import type { Response } from 'express';
import { ProblemDocument } from 'http-problem-details';
import { GatewayError, type ErrorCode } from '../errors';

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
