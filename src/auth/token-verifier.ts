/**
 * Access-token verification (RFC 6750 bearer tokens): composes the parts, each in its own module —
 *
 *   trust-index.ts     which issuers and introspection endpoints are trusted, for which agencies (start-up checks)
 *   issuer-keys.ts     OpenID discovery + JWKS per issuer, with backoff after failures
 *   profiles.ts        where each provider puts client id, roles and scopes (the agency's `tokenProfile`)
 *   claims.ts          `principalFromClaims`: verified claims → Principal (pure)
 *   introspection.ts   RFC 7662 for opaque tokens
 *   verified-cache.ts  successful verifications, ≤ 60 s and ≤ exp; clock.ts: the injected clock
 *
 * The JWT path: `Authorization: Bearer <compact JWS>` only, size-capped before decoding; headers that name their own
 * key (`jku`, `x5u`, `jwk`, `x5c`) refused; only asymmetric algorithms; the unverified `iss` only CHOOSES which trusted
 * issuer's key set to verify with (an issuer not in the registry is refused with no network call); jose verifies
 * signature, exact issuer, exp/nbf/iat with a small tolerance and a maximum age; then the claims are read by the
 * agency's profile: typ, ID-token refusal, agency by issuer AND client id, audience (one, unless allowed), role,
 * scopes, certificate binding (RFC 8705).
 */
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import { err, ok, type GatewayError, type Result } from '../errors';
import { principalFromClaims } from './claims';
import { systemClock, type Clock } from './clock';
import { createIntrospector, timeProblem, type Introspector } from './introspection';
import { createIssuerKeys } from './issuer-keys';
import type { Principal } from './principal';
import { tokenProfile } from './profiles';
import type { Agency } from './registry';
import { describeJoseError, invalidToken, issuerUnavailable, unauthenticated } from './refusals';
import { buildTrustIndex } from './trust-index';
import { cacheKey, createVerifiedCache } from './verified-cache';

export { REALM, bearerChallenge } from './refusals';
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
/** Header parameters that would let a token choose its own verification key. Never honoured: refused. */
export const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

export interface TokenVerifierOptions {
  readonly agencies: readonly Agency[];
  /** The `aud` every token must carry (GATEWAY_AUDIENCE) unless its agency names its own `audience`. */
  readonly audience: string;
  /** Accept plain-http issuers, JWKS URIs and introspection endpoints: development/test providers only. */
  readonly allowInsecureIssuers: boolean;
  readonly clockToleranceSeconds?: number;
  readonly algorithms?: readonly string[];
  readonly maxTokenBytes?: number;
  /** Tokens issued longer ago than this are refused, and `iat` in the future too (default one day). */
  readonly maxTokenAgeSeconds?: number;
  /** After a failed discovery the issuer is not asked again for this long (default 5 s), doubling up to 60 s. */
  readonly discoveryRetrySeconds?: number;
  /** Timeout for discovery, JWKS and introspection requests (default 5 s). */
  readonly httpTimeoutSeconds?: number;
  /** How long a successful verification is remembered (default 60 s, at most 60; 0 = off), never beyond `exp`. */
  readonly cacheSeconds?: number;
  readonly clock?: Clock;
}

export interface VerifyContext {
  /** base64url SHA-256 of the DER client certificate presented on this connection, if any. */
  readonly clientCertThumbprint?: string;
  /** For opaque tokens when several agencies introspect at different endpoints: the agency the caller names. */
  readonly agencyHint?: string;
}

export interface IssuerCheck {
  readonly issuer: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface TokenVerifier {
  verify(authorization: string | undefined, ctx: VerifyContext): Promise<Result<Principal, GatewayError>>;
  /** Discovery and key-set reachability of every trusted JWT issuer (for readiness). */
  checkIssuers(): Promise<IssuerCheck[]>;
}

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** RFC 6750 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const {
    agencies,
    audience,
    allowInsecureIssuers,
    clockToleranceSeconds = 30,
    algorithms = DEFAULT_ALGORITHMS,
    maxTokenBytes = 8192,
    maxTokenAgeSeconds = 86_400,
    discoveryRetrySeconds = 5,
    httpTimeoutSeconds = 5,
    cacheSeconds = 60,
    clock = systemClock,
  } = options;
  if (!audience) throw new Error('createTokenVerifier: an audience is required');
  if (algorithms.some((a) => a === 'none' || a.startsWith('HS')))
    throw new Error('createTokenVerifier: only asymmetric signature algorithms may be allowed');

  const index = buildTrustIndex(agencies, allowInsecureIssuers);
  const keys = createIssuerKeys(index.jwtIssuers, {
    allowInsecureIssuers,
    retrySeconds: discoveryRetrySeconds,
    maxRetrySeconds: 60,
    httpTimeoutSeconds,
    clock,
  });
  const introspectors = new Map<string, Introspector>(
    [...index.introspectionEndpoints].map(([endpoint, list]) => [
      endpoint,
      createIntrospector(endpoint, list, { allowInsecure: allowInsecureIssuers, timeoutSeconds: httpTimeoutSeconds }),
    ]),
  );
  const cache = createVerifiedCache(Math.min(cacheSeconds, 60), clock);
  const names = (list: readonly Agency[] | undefined): string => (list ?? []).map((a) => a.name).join(', ');

  async function verifyJwt(token: string, ctx: VerifyContext): Promise<Result<Principal, GatewayError>> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      return err(invalidToken('The access token is malformed.'));
    }
    const selfKeyed = FORBIDDEN_HEADERS.filter((name) => Object.prototype.hasOwnProperty.call(header, name));
    if (selfKeyed.length) {
      return err(
        invalidToken(
          `The access token names its own key (${selfKeyed.join(', ')}); keys are taken only from the issuer's published key set.`,
        ),
      );
    }
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
      return err(invalidToken('The access token is signed with an algorithm the gateway does not accept.'));
    }
    // The unverified issuer only chooses which trusted key set to verify with.
    const claimedIssuer = unverified.iss;
    const issuerAgencies = typeof claimedIssuer === 'string' ? index.agenciesAt(claimedIssuer) : undefined;
    if (typeof claimedIssuer !== 'string' || !issuerAgencies) {
      return err(invalidToken('The access token was not issued by an agency the gateway trusts.'));
    }
    const profile = index.profileAt(claimedIssuer);
    if (profile.id === 'introspection') return verifyOpaque(token, ctx, issuerAgencies);

    let keySet: RemoteJWKSet;
    try {
      keySet = await keys.keysFor(claimedIssuer);
    } catch {
      return err(issuerUnavailable(names(issuerAgencies)));
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet, {
        issuer: claimedIssuer,
        algorithms: [...algorithms],
        clockTolerance: clockToleranceSeconds,
        maxTokenAge: maxTokenAgeSeconds,
        currentDate: new Date(clock.now()),
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (e) {
      return err(describeJoseError(e) ?? issuerUnavailable(names(issuerAgencies)));
    }
    // From here the claims are the issuer's word.
    return principalFromClaims(profile, {
      typ: header.typ,
      hasHeader: true,
      claims: payload,
      issuer: claimedIssuer,
      agencies: issuerAgencies,
      defaultAudience: audience,
      ...(ctx.clientCertThumbprint ? { clientCertThumbprint: ctx.clientCertThumbprint } : {}),
    });
  }

  /** Opaque tokens (or JWTs of an introspection agency): asked of the agency's RFC 7662 endpoint. */
  async function verifyOpaque(token: string, ctx: VerifyContext, only?: readonly Agency[]): Promise<Result<Principal, GatewayError>> {
    let candidates = [...introspectors.values()];
    if (only) candidates = candidates.filter((i) => only.some((a) => a.introspection?.endpoint === i.endpoint));
    if (candidates.length > 1) {
      const named = ctx.agencyHint ? agencies.find((a) => a.id === ctx.agencyHint && a.introspection) : undefined;
      if (!named) {
        return err(
          invalidToken(
            'This opaque access token could be checked by more than one agency\'s sign-in service: name your agency in the "X-Agency-Id" ' +
              'header.',
          ),
        );
      }
      candidates = candidates.filter((i) => i.endpoint === named.introspection?.endpoint);
    }
    const introspector = candidates[0];
    if (!introspector) return err(invalidToken('The access token is malformed: it must be a signed JWT (three base64url parts).'));
    const endpointAgencies = index.introspectionEndpoints.get(introspector.endpoint) ?? [];
    let answer;
    try {
      answer = await introspector.introspect(token);
    } catch {
      return err(issuerUnavailable(names(endpointAgencies)));
    }
    if (!answer.active)
      return err(
        invalidToken('The access token is not active: its sign-in service says it has expired, been revoked, or was never issued.'),
      );
    const claims = answer.claims;
    if (claims.token_type !== undefined && typeof claims.token_type === 'string' && /refresh/i.test(claims.token_type)) {
      return err(invalidToken('This is a refresh token, not an access token.'));
    }
    const problem = timeProblem(claims, clock, clockToleranceSeconds, maxTokenAgeSeconds);
    if (problem) return err(invalidToken(problem));
    // The issuer the endpoint vouches for (if it says) must be the agency's; agencies are then found by client id.
    const issuers = [...new Set(endpointAgencies.map((a) => a.issuer))];
    const issuer = typeof claims.iss === 'string' ? claims.iss : issuers.length === 1 ? issuers[0] : undefined;
    const issuerAgencies = endpointAgencies.filter((a) => a.issuer === issuer);
    if (!issuer || issuerAgencies.length === 0)
      return err(invalidToken('The access token was not issued by an agency the gateway trusts.'));
    return principalFromClaims(tokenProfile('introspection'), {
      hasHeader: false,
      claims,
      issuer,
      agencies: issuerAgencies,
      defaultAudience: audience,
      ...(ctx.clientCertThumbprint ? { clientCertThumbprint: ctx.clientCertThumbprint } : {}),
    });
  }

  async function verify(authorization: string | undefined, ctx: VerifyContext): Promise<Result<Principal, GatewayError>> {
    if (authorization === undefined || authorization.trim() === '') {
      return err(unauthenticated('This needs an access token: send "Authorization: Bearer <token>" from your agency\'s sign-in service.'));
    }
    if (!/^bearer(\s|$)/i.test(authorization)) {
      return err(unauthenticated('Only Bearer access tokens are accepted: send "Authorization: Bearer <token>".'));
    }
    if (Buffer.byteLength(authorization, 'utf8') > maxTokenBytes + 16) {
      return err(invalidToken(`The access token is larger than the gateway accepts (${maxTokenBytes} bytes).`));
    }
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    const token = match?.[1];
    if (token && JWS.test(token)) return verifyJwt(token, ctx);
    if (token && introspectors.size > 0 && B64TOKEN.test(token)) return verifyOpaque(token, ctx);
    return err(invalidToken('The access token is malformed: it must be a signed JWT (three base64url parts).'));
  }

  async function checkIssuers(): Promise<IssuerCheck[]> {
    return Promise.all(index.jwtIssuers.map(async (issuer): Promise<IssuerCheck> => ({ issuer, ...(await keys.check(issuer)) })));
  }

  async function cachedVerify(authorization: string | undefined, ctx: VerifyContext): Promise<Result<Principal, GatewayError>> {
    if (cacheSeconds <= 0 || authorization === undefined || authorization.length > maxTokenBytes + 16) return verify(authorization, ctx);
    const key = cacheKey(authorization, ctx.clientCertThumbprint);
    const hit = cache.get(key);
    if (hit) return ok(hit);
    const result = await verify(authorization, ctx);
    if (result.ok) cache.put(key, result.value);
    return result;
  }

  return { verify: cachedVerify, checkIssuers };
}
