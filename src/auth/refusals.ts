/**
 * The verifier's refusals as GatewayErrors: 401 `invalid_token` / `unauthenticated` with an RFC 6750 challenge, 403
 * `forbidden`, 503 `not_ready` when an issuer cannot be asked. Plain English; never the token, never key material.
 */
import { errors as joseErrors } from 'jose';
import { GatewayError } from '../errors';

export const REALM = 'safeguard-gateway';

/** A value safe inside a quoted-string of WWW-Authenticate (RFC 6750 §3: no `"` or `\`, printable ASCII). */
function quoted(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}

/** `WWW-Authenticate` for a refusal: no error attribute when no credentials were sent (RFC 6750 §3.1). */
export function bearerChallenge(
  error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope',
  description?: string,
  scope?: string,
): string {
  const parts = [`Bearer realm="${REALM}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${quoted(description)}"`);
  if (scope) parts.push(`scope="${quoted(scope)}"`);
  return parts.join(', ');
}

export function invalidToken(detail: string): GatewayError {
  return new GatewayError('invalid_token', detail, { wwwAuthenticate: bearerChallenge('invalid_token', detail) });
}

export function unauthenticated(detail: string): GatewayError {
  return new GatewayError('unauthenticated', detail, { wwwAuthenticate: bearerChallenge() });
}

export function forbidden(detail: string): GatewayError {
  return new GatewayError('forbidden', detail);
}

export function issuerUnavailable(agencyNames: string): GatewayError {
  return new GatewayError(
    'not_ready',
    `The gateway cannot reach the sign-in service of ${agencyNames} to check this token. Try again shortly.`,
    { retryAfterSeconds: 5 },
  );
}

/** Text for a claim value in a message: short, printable, never a whole token. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return `"${value.replace(/[^\x20-\x7e]/g, '?').slice(0, 60)}"`;
  return 'a non-text value';
}

/** Plain-English reasons for jose's refusals; undefined → the issuer's keys could not be obtained (503, not the caller's fault). */
export function describeJoseError(e: unknown): GatewayError | undefined {
  if (!(e instanceof joseErrors.JOSEError)) return undefined;
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return invalidToken(
        e instanceof joseErrors.JWTExpired && e.claim === 'iat'
          ? 'The access token was issued too long ago.'
          : 'The access token has expired. Get a new one from your sign-in service.',
      );
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const failure = e as joseErrors.JWTClaimValidationFailed;
      if (failure.reason === 'missing') return invalidToken(`The access token has no "${failure.claim}" claim.`);
      switch (failure.claim) {
        case 'aud':
          return invalidToken('The access token was not issued for this gateway (wrong audience).');
        case 'iss':
          return invalidToken('The access token names a different issuer from the one whose key signed it.');
        case 'nbf':
          return invalidToken('The access token is not valid yet.');
        case 'iat':
          return invalidToken('The access token says it was issued in the future.');
        default:
          return invalidToken(`The access token's "${failure.claim}" claim is not valid.`);
      }
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalidToken('The access token is signed with an algorithm the gateway does not accept.');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalidToken('The access token was not signed with a key its issuer publishes.');
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('The access token signature is not valid.');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWK_INVALID':
      return invalidToken('The access token is malformed.');
    default:
      return undefined;
  }
}
