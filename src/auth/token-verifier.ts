/**
 * Access-token verification (RFC 6750 bearer tokens in the RFC 9068 JWT profile). jose does every cryptographic and
 * claim check; this module decides WHICH keys may be used and what the verified claims mean.
 *
 *   1. `Authorization: Bearer <compact JWS>` only; the token is size-capped before anything is decoded.
 *   2. Headers that name their own key (`jku`, `x5u`, `jwk`, `x5c`) are refused outright: keys come only from the
 *      trusted issuer's published JWKS.
 *   3. The unverified `iss` is read ONLY to choose which trusted issuer's key set to verify with; an issuer not in
 *      the trust registry is refused without any network call.
 *   4. jose `jwtVerify` with that issuer's JWKS (found by OpenID discovery through openid-client, fetched and cached
 *      by jose `createRemoteJWKSet`): allowed algorithms, `typ: at+jwt`, issuer, audience, exp/nbf/iat with a small
 *      clock tolerance, required claims.
 *   5. The agency is the registry entry whose issuer AND client ids contain the token's `client_id`; so a token
 *      from one agency's issuer can never act as another agency.
 *   6. Role (`role` claim; `system` for a client acting alone) must be a vocabulary word the agency may use (403).
 *   7. A certificate-bound token (`cnf.x5t#S256`, RFC 8705) needs the matching TLS client certificate.
 */
import { timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import { GatewayError, err, ok, type Result } from '../errors';
import { isRole, ROLES, type Role } from '../vocabulary/vocabulary';
import type { Principal } from './principal';
import { DEV_IDP_ISSUER_PREFIX, type Agency } from './registry';

export const REALM = 'safeguard-gateway';
export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
/** Header parameters that would let a token choose its own verification key. Never honoured: refused. */
export const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'] as const;

export interface TokenVerifierOptions {
  readonly agencies: readonly Agency[];
  /** The `aud` every token must carry (GATEWAY_AUDIENCE). */
  readonly audience: string;
  /** Accept plain-http issuers and JWKS URIs: the development/test OpenID providers only. */
  readonly allowInsecureIssuers: boolean;
  readonly clockToleranceSeconds?: number;
  readonly algorithms?: readonly string[];
  readonly maxTokenBytes?: number;
  /** Tokens issued longer ago than this are refused, and `iat` in the future too (default one day). */
  readonly maxTokenAgeSeconds?: number;
  /** After a failed discovery, the issuer is not asked again for this long (default 5 s); requests fail fast meanwhile. */
  readonly discoveryRetrySeconds?: number;
  /** Timeout for discovery and JWKS requests (default 5 s). */
  readonly httpTimeoutSeconds?: number;
  /**
   * How long a successfully verified token is remembered (default 60 s; 0 turns the cache off), never beyond its `exp`.
   * Signature checking is the largest single cost of a request. The trade-off: an issuer key withdrawn from its JWKS,
   * or a token passing its maximum age, is still accepted for at most this long.
   */
  readonly cacheSeconds?: number;
}

export interface VerifyContext {
  /** base64url SHA-256 of the DER client certificate presented on this TLS connection, if any. */
  readonly clientCertThumbprint?: string;
}

export interface IssuerCheck {
  readonly issuer: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface TokenVerifier {
  verify(authorization: string | undefined, ctx: VerifyContext): Promise<Result<Principal, GatewayError>>;
  /** Discovery and key-set reachability of every trusted issuer (for readiness). */
  checkIssuers(): Promise<IssuerCheck[]>;
}

/** A value safe inside a quoted-string of WWW-Authenticate (RFC 6750 §3: no `"` or `\`, printable ASCII). */
function quoted(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}

/** `WWW-Authenticate` for a refusal: no error attribute when no credentials were sent (RFC 6750 §3.1). */
export function bearerChallenge(error?: 'invalid_token' | 'invalid_request' | 'insufficient_scope', description?: string, scope?: string): string {
  const parts = [`Bearer realm="${REALM}"`];
  if (error) parts.push(`error="${error}"`);
  if (description) parts.push(`error_description="${quoted(description)}"`);
  if (scope) parts.push(`scope="${quoted(scope)}"`);
  return parts.join(', ');
}

function invalidToken(detail: string): GatewayError {
  return new GatewayError('invalid_token', detail, { wwwAuthenticate: bearerChallenge('invalid_token', detail) });
}

function unauthenticated(detail: string): GatewayError {
  return new GatewayError('unauthenticated', detail, { wwwAuthenticate: bearerChallenge() });
}

function forbidden(detail: string): GatewayError {
  return new GatewayError('forbidden', detail);
}

function issuerUnavailable(agencyNames: string): GatewayError {
  return new GatewayError(
    'not_ready',
    `The gateway cannot reach the sign-in service of ${agencyNames} to check this token. Try again shortly.`,
    { retryAfterSeconds: 5 },
  );
}

/** The role of an agency's software acting with no person. */
const SYSTEM_ROLE: Role = 'system';

const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+) *$/i;

/** Plain-English reasons for jose's refusals. Never the token, never key material. */
function describeJoseError(e: unknown): GatewayError | undefined {
  if (!(e instanceof joseErrors.JOSEError)) return undefined;
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return invalidToken(
        e instanceof joseErrors.JWTExpired && e.claim === 'iat' ? 'The access token was issued too long ago.' : 'The access token has expired. Get a new one from your sign-in service.',
      );
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const failure = e as joseErrors.JWTClaimValidationFailed;
      if (failure.reason === 'missing') return invalidToken(`The access token has no "${failure.claim}" claim.`);
      switch (failure.claim) {
        case 'typ':
          return invalidToken('This is not an access token (typ must be at+jwt): an ID token or other JWT cannot be used here.');
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
      return invalidToken("The access token was not signed with a key its issuer publishes.");
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('The access token signature is not valid.');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWK_INVALID':
      return invalidToken('The access token is malformed.');
    default:
      // ERR_JWKS_TIMEOUT, ERR_JWKS_INVALID, ...: the issuer's keys could not be obtained (not the caller's fault).
      return undefined;
  }
}

interface IssuerState {
  keys?: Promise<RemoteJWKSet>;
  failedAt?: number;
  failure?: string;
}

function sameThumbprint(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function stringClaim(payload: JWTPayload, name: string): string | undefined | null {
  const value = payload[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : null;
}

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
  } = options;
  if (!audience) throw new Error('createTokenVerifier: an audience is required');
  if (algorithms.some((a) => a === 'none' || a.startsWith('HS'))) throw new Error('createTokenVerifier: only asymmetric signature algorithms may be allowed');

  // Start-up checks: an unusable issuer stops start-up here rather than refusing every token later.
  const byIssuer = new Map<string, Agency[]>();
  for (const agency of agencies) {
    if (agency.issuer.startsWith(DEV_IDP_ISSUER_PREFIX)) {
      throw new Error(`agency "${agency.id}": issuer "${agency.issuer}" is a development template; start the development OpenID provider and use its issuerFor() first`);
    }
    let url: URL;
    try {
      url = new URL(agency.issuer);
    } catch {
      throw new Error(`agency "${agency.id}": issuer "${agency.issuer}" is not a URL`);
    }
    if (url.protocol !== 'https:' && !(allowInsecureIssuers && url.protocol === 'http:')) {
      throw new Error(`agency "${agency.id}": issuer ${agency.issuer} is not https (plain http is accepted only with ALLOW_INSECURE_ISSUERS, for development)`);
    }
    const list = byIssuer.get(agency.issuer) ?? [];
    const clash = list.find((other) => other.clientIds.some((c) => agency.clientIds.includes(c)));
    if (clash) throw new Error(`agencies "${clash.id}" and "${agency.id}" share a client id at issuer ${agency.issuer}; a client may act for one agency only`);
    list.push(agency);
    byIssuer.set(agency.issuer, list);
  }
  const states = new Map<string, IssuerState>([...byIssuer.keys()].map((issuer) => [issuer, {}]));

  async function discoverKeys(issuer: string): Promise<RemoteJWKSet> {
    // The client id is irrelevant to discovery; the gateway never calls the issuer's endpoints as a client.
    const config = await client.discovery(new URL(issuer), 'safeguard-gateway', undefined, undefined, {
      timeout: httpTimeoutSeconds,
      ...(allowInsecureIssuers ? { execute: [client.allowInsecureRequests] } : {}),
    });
    const jwksUri = config.serverMetadata().jwks_uri;
    if (!jwksUri) throw new Error('its discovery document has no jwks_uri');
    const url = new URL(jwksUri);
    if (url.protocol !== 'https:' && !(allowInsecureIssuers && url.protocol === 'http:')) throw new Error('its jwks_uri is not https');
    return createRemoteJWKSet(url, { timeoutDuration: httpTimeoutSeconds * 1000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  }

  /** The issuer's key set: discovered lazily once, shared by concurrent requests, retried after a failure. */
  function keysFor(issuer: string): Promise<RemoteJWKSet> {
    const state = states.get(issuer);
    if (!state) return Promise.reject(new Error('untrusted issuer'));
    if (state.keys) return state.keys;
    if (state.failedAt !== undefined && Date.now() - state.failedAt < discoveryRetrySeconds * 1000) {
      return Promise.reject(new Error(state.failure ?? 'discovery failed'));
    }
    const pending = discoverKeys(issuer);
    state.keys = pending;
    pending.then(
      () => {
        delete state.failedAt;
        delete state.failure;
      },
      (e: unknown) => {
        if (state.keys === pending) delete state.keys;
        state.failedAt = Date.now();
        state.failure = e instanceof Error ? e.message : 'discovery failed';
      },
    );
    return pending;
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
    const match = BEARER.exec(authorization);
    if (!match?.[1]) return err(invalidToken('The access token is malformed: it must be a signed JWT (three base64url parts).'));
    const token = match[1];

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
      return err(invalidToken(`The access token names its own key (${selfKeyed.join(', ')}); keys are taken only from the issuer's published key set.`));
    }
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
      return err(invalidToken('The access token is signed with an algorithm the gateway does not accept.'));
    }
    // The unverified issuer only chooses which trusted key set to verify with.
    const claimedIssuer = unverified.iss;
    if (typeof claimedIssuer !== 'string' || !states.has(claimedIssuer)) {
      return err(invalidToken('The access token was not issued by an agency the gateway trusts.'));
    }
    const issuerAgencies = byIssuer.get(claimedIssuer) ?? [];

    let keys: RemoteJWKSet;
    try {
      keys = await keysFor(claimedIssuer);
    } catch {
      return err(issuerUnavailable(issuerAgencies.map((a) => a.name).join(', ')));
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: claimedIssuer,
        audience,
        algorithms: [...algorithms],
        typ: 'at+jwt',
        clockTolerance: clockToleranceSeconds,
        maxTokenAge: maxTokenAgeSeconds,
        requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
      }));
    } catch (e) {
      const described = describeJoseError(e);
      return err(described ?? issuerUnavailable(issuerAgencies.map((a) => a.name).join(', ')));
    }

    // From here the claims are the issuer's word.
    const clientId = stringClaim(payload, 'client_id');
    const subject = payload.sub;
    if (!clientId || typeof subject !== 'string' || subject === '') return err(invalidToken('The access token\'s "client_id" and "sub" must be non-empty strings.'));
    const agency = issuerAgencies.find((a) => a.clientIds.includes(clientId));
    if (!agency) {
      return err(invalidToken('Unknown agency: the client this token was issued to is not registered to any agency trusted for its issuer.'));
    }
    const agencyIdClaim = stringClaim(payload, 'agency_id');
    if (agencyIdClaim === null || (agencyIdClaim !== undefined && agencyIdClaim !== agency.id)) {
      return err(invalidToken('The access token names a different agency from the one its issuer and client are registered to.'));
    }

    const isPerson = subject !== clientId;
    const roleClaim = payload.role;
    let role: Role;
    if (roleClaim === undefined) {
      if (isPerson) return err(forbidden(`The access token has no role. ${agency.name} must send one of: ${agency.allowedRoles.join(', ')}.`));
      role = SYSTEM_ROLE;
    } else if (typeof roleClaim !== 'string' || !isRole(roleClaim)) {
      const word = typeof roleClaim === 'string' ? `"${roleClaim.slice(0, 60)}"` : 'a non-text value';
      return err(forbidden(`The access token's role ${word} is not a role of the sharing vocabulary. Allowed roles: ${ROLES.join(', ')}.`));
    } else {
      role = roleClaim;
    }
    if (isPerson && role === SYSTEM_ROLE) return err(forbidden('A person cannot act with the role "system"; that role is for an agency\'s software.'));
    if (!agency.allowedRoles.includes(role)) {
      return err(forbidden(`${agency.name} may not act in the role "${role}" through the gateway. Its allowed roles: ${agency.allowedRoles.join(', ')}.`));
    }

    const scopeClaim = stringClaim(payload, 'scope');
    if (scopeClaim === null) return err(invalidToken('The access token\'s "scope" claim must be a space-separated string.'));
    const scopes = new Set((scopeClaim ?? '').split(' ').filter((s) => s !== ''));

    // Sender-constrained tokens.
    const cnf = payload.cnf;
    if (cnf !== undefined) {
      if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return err(invalidToken('The access token\'s "cnf" claim is malformed.'));
      const members = Object.keys(cnf);
      const unsupported = members.filter((m) => m !== 'x5t#S256');
      if (unsupported.length) {
        return err(invalidToken(`The access token is bound to a proof the gateway does not support (${unsupported.map((m) => m.slice(0, 20)).join(', ')}); only certificate-bound tokens (x5t#S256) are accepted.`));
      }
      const expected = (cnf as Record<string, unknown>)['x5t#S256'];
      if (typeof expected !== 'string' || expected === '') return err(invalidToken('The access token\'s certificate binding is malformed.'));
      if (!ctx.clientCertThumbprint) {
        return err(invalidToken('This access token is bound to a client certificate: present that certificate on the TLS connection.'));
      }
      if (!sameThumbprint(expected, ctx.clientCertThumbprint)) {
        return err(invalidToken('This access token is bound to a different client certificate from the one presented.'));
      }
    }

    const name = stringClaim(payload, 'name');
    const tokenId = stringClaim(payload, 'jti');
    const principal: Principal = {
      agency,
      issuer: claimedIssuer,
      clientId,
      role,
      ...(isPerson ? { practitioner: { subject, ...(typeof name === 'string' && name !== '' ? { name: name.slice(0, 200) } : {}) } } : {}),
      scopes,
      ...(typeof tokenId === 'string' ? { tokenId } : {}),
      expiresAt: new Date((payload.exp ?? 0) * 1000),
    };
    return ok(principal);
  }

  async function checkIssuers(): Promise<IssuerCheck[]> {
    return Promise.all(
      [...states.keys()].map(async (issuer): Promise<IssuerCheck> => {
        try {
          const keys = await keysFor(issuer);
          if (keys.jwks() === undefined) await keys.reload();
          return { issuer, ok: true };
        } catch (e) {
          const reason = e instanceof Error ? e.message : 'unknown error';
          return { issuer, ok: false, detail: `discovery or key set unavailable: ${reason.slice(0, 200)}` };
        }
      }),
    );
  }

  // Successful verifications only, keyed by the exact header AND the client certificate presented (so a
  // certificate-bound token is never accepted from the cache on a connection without its certificate).
  const MAX_CACHED = 10_000;
  const cache = new Map<string, { readonly principal: Principal; readonly until: number }>();
  async function cachedVerify(authorization: string | undefined, ctx: VerifyContext): Promise<Result<Principal, GatewayError>> {
    if (cacheSeconds <= 0 || authorization === undefined || authorization.length > maxTokenBytes + 16) return verify(authorization, ctx);
    const key = `${ctx.clientCertThumbprint ?? ''} ${authorization}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.until > now) return { ok: true, value: hit.principal };
    if (hit) cache.delete(key);
    const result = await verify(authorization, ctx);
    if (result.ok) {
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
      cache.set(key, { principal: result.value, until: Math.min(now + cacheSeconds * 1000, result.value.expiresAt.getTime()) });
    }
    return result;
  }

  return { verify: cachedVerify, checkIssuers };
}
