/**
 * `principalFromClaims`: what VERIFIED claims mean. Pure (no I/O, no clock): given the agency's token profile, the
 * claims the issuer signed (or its introspection endpoint answered), and the trusted agencies at that issuer, it
 * finds the agency by issuer AND client id, checks the token is an access token for this gateway, and derives the
 * role and scopes from the token only. Unit-tested per profile against the providers' documented example tokens
 * (tests/unit/auth-principal-from-claims.test.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { err, ok, type GatewayError, type Result } from '../errors';
import { isRole, type Role } from '../vocabulary/vocabulary';
import type { Principal } from './principal';
import { normalisedTyp, type TokenProfile } from './profiles';
import type { Agency } from './registry';
import { forbidden, invalidToken, shown } from './refusals';

export interface ClaimsInput {
  /** The protected header's `typ` (absent for introspection, where there is no header). */
  readonly typ?: unknown;
  /** Whether the token had a JOSE header at all (false: an introspection response). */
  readonly hasHeader: boolean;
  readonly claims: JWTPayload;
  /** The trusted issuer the claims came from. */
  readonly issuer: string;
  /** The trusted agencies at that issuer. */
  readonly agencies: readonly Agency[];
  /** GATEWAY_AUDIENCE: the `aud` expected unless the agency names its own. */
  readonly defaultAudience: string;
  /** base64url SHA-256 of the client certificate on this connection, if any. */
  readonly clientCertThumbprint?: string;
}

const SYSTEM_ROLE: Role = 'system';

function sameThumbprint(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function audiences(claims: JWTPayload): string[] | undefined {
  const aud = claims.aud;
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a): a is string => typeof a === 'string')) return aud;
  return undefined;
}

/** An ID token, by what only ID tokens carry: `at_hash`/`c_hash`, a nonce for someone else, an audience that is a client. */
function idTokenSign(input: ClaimsInput, profile: TokenProfile): boolean {
  const { claims, agencies } = input;
  if (claims.at_hash !== undefined || claims.c_hash !== undefined) return true;
  if (profile.id === 'keycloak' && claims.typ === 'ID') return true;
  const aud = audiences(claims) ?? [];
  const expected = new Set([input.defaultAudience, ...agencies.flatMap((a) => (a.audience ? [a.audience] : []))]);
  const forUs = aud.some((a) => expected.has(a));
  if (claims.nonce !== undefined && !forUs) return true;
  const clients = new Set(agencies.flatMap((a) => [...a.clientIds, ...(a.webClient ? [a.webClient.clientId] : [])]));
  return !forUs && aud.length === 1 && clients.has(aud[0] ?? '');
}

const ID_TOKEN =
  'This is an ID token, not an access token: an ID token tells a client who signed in and is never accepted by an API. Send the access ' +
  'token your sign-in service issued for the gateway.';

interface RoleChoice {
  readonly role?: Role;
  readonly error?: GatewayError;
}

/** The vocabulary role a raw IdP value stands for at this agency: its roleMap, or (with no map) the word itself. */
function mapRole(agency: Agency, value: string): Role | undefined {
  if (agency.roleMap) return Object.prototype.hasOwnProperty.call(agency.roleMap, value) ? agency.roleMap[value] : undefined;
  return isRole(value) ? value : undefined;
}

function chooseRole(agency: Agency, candidates: readonly string[], isPerson: boolean): RoleChoice {
  if (candidates.length === 0) {
    if (isPerson)
      return { error: forbidden(`The access token has no role. ${agency.name} must send one of: ${agency.allowedRoles.join(', ')}.`) };
    return { role: SYSTEM_ROLE };
  }
  const mapped = [...new Set(candidates.map((c) => mapRole(agency, c)).filter((r): r is Role => r !== undefined))];
  if (mapped.length === 0) {
    const carried = candidates.slice(0, 5).map(shown).join(', ');
    const usable = agency.roleMap
      ? Object.keys(agency.roleMap)
          .map((k) => `"${k}"`)
          .join(', ')
      : agency.allowedRoles.join(', ');
    const what = agency.roleMap
      ? `roles ${agency.name} maps to the gateway's roles: ${usable}`
      : `roles of the sharing vocabulary ${agency.name} may use: ${usable}`;
    return {
      error: forbidden(`The access token's role ${carried} is not a role the gateway knows for ${agency.name}. It may carry the ${what}.`),
    };
  }
  if (mapped.length === 1) return { role: mapped[0] };
  const winner = agency.rolePrecedence?.find((r) => mapped.includes(r));
  if (winner) return { role: winner };
  return {
    error: forbidden(
      `The access token carries several roles (${mapped.join(', ')}) and ${agency.name} has not said which one wins (rolePrecedence). Sign in with one role.`,
    ),
  };
}

export function principalFromClaims(profile: TokenProfile, input: ClaimsInput): Result<Principal, GatewayError> {
  const { claims, issuer } = input;

  if (idTokenSign(input, profile)) return err(invalidToken(ID_TOKEN));
  const notAccess = profile.notAccessToken?.(claims);
  if (notAccess) return err(invalidToken(`This is not an access token (${notAccess}).`));
  if (input.hasHeader) {
    const typ = normalisedTyp(input.typ);
    if (typ === undefined || !profile.typ.includes(typ)) {
      const expected = profile.typ.map((t) => (t === null ? 'no typ' : t)).join(' or ');
      const given = typ === null ? 'no typ header' : `typ ${shown(input.typ)}`;
      return err(
        invalidToken(
          `This is not an access token of the kind ${profile.label} issues (${given}; expected ${expected}). Check the agency's tokenProfile in the trust registry.`,
        ),
      );
    }
  }
  if (profile.version !== undefined && claims.ver !== undefined && claims.ver !== profile.version) {
    return err(
      invalidToken(
        `The access token is version ${shown(claims.ver)}, but ${profile.label} tokens are version "${profile.version}". Set the API's accessTokenAcceptedVersion at the provider, or the agency's tokenProfile.`,
      ),
    );
  }

  const clientId = claims[profile.clientIdClaim];
  if (typeof clientId !== 'string' || clientId === '')
    return err(invalidToken(`The access token has no "${profile.clientIdClaim}" claim naming the client it was issued to.`));
  const subject = claims.sub;
  if (subject !== undefined && (typeof subject !== 'string' || subject === ''))
    return err(invalidToken('The access token\'s "sub" must be a non-empty string.'));
  const agency = input.agencies.find((a) => a.clientIds.includes(clientId));
  if (!agency)
    return err(invalidToken('Unknown agency: the client this token was issued to is not registered to any agency trusted for its issuer.'));
  const agencyIdClaim = claims.agency_id;
  if (agencyIdClaim !== undefined && agencyIdClaim !== agency.id) {
    return err(invalidToken('The access token names a different agency from the one its issuer and client are registered to.'));
  }

  // Audience: exactly this agency's, and (unless the agency allows it) no other API's besides.
  const expected = agency.audience ?? input.defaultAudience;
  const aud = audiences(claims);
  if (claims.aud === undefined) return err(invalidToken('The access token has no "aud" claim: it does not say it is for this gateway.'));
  if (!aud || !aud.includes(expected)) return err(invalidToken('The access token was not issued for this gateway (wrong audience).'));
  const others = [...new Set(aud)].filter((a) => a !== expected);
  if (others.length > 0 && agency.allowMultipleAudiences !== true) {
    return err(
      invalidToken(
        `The access token is for several audiences (this gateway and ${others.length} other); another service that received it could replay it here. Ask your sign-in service for a token for this gateway only, or set allowMultipleAudiences for ${agency.name}.`,
      ),
    );
  }

  // Scopes first: values the agency maps to gateway scopes (e.g. an Entra app role) are permissions, not roles.
  const scopeMap = agency.scopeMap ?? {};
  const mapsScope = (v: string): boolean => Object.prototype.hasOwnProperty.call(scopeMap, v);
  const rawScopes = profile.scopes(claims);
  if ('malformed' in rawScopes) return err(invalidToken(rawScopes.malformed));
  const rawRoles = profile.roles(claims, { audience: expected });
  if ('malformed' in rawRoles) return err(forbidden(rawRoles.malformed.replace('The access token', "The access token's roles: the token")));
  const roleMapHas = (v: string): boolean => agency.roleMap !== undefined && Object.prototype.hasOwnProperty.call(agency.roleMap, v);
  const scopes = new Set<string>();
  for (const s of rawScopes.values) scopes.add(mapsScope(s) ? (scopeMap[s] as string) : s);
  const candidates: string[] = [];
  for (const r of rawRoles.values) {
    if (mapsScope(r)) scopes.add(scopeMap[r] as string);
    else if (profile.rolesAreScopes && !roleMapHas(r)) scopes.add(r);
    else if (!profile.ignoredRole?.(r)) candidates.push(r);
  }

  const isPerson = !profile.appOnly(claims, clientId);
  if (isPerson && subject === undefined) return err(invalidToken('The access token has no "sub" claim naming the person.'));
  const choice = chooseRole(agency, candidates, isPerson);
  if (!choice.role) return err(choice.error ?? forbidden('The access token has no usable role.'));
  const role = choice.role;
  if (isPerson && role === SYSTEM_ROLE)
    return err(forbidden('A person cannot act with the role "system"; that role is for an agency\'s software.'));
  if (!agency.allowedRoles.includes(role)) {
    return err(
      forbidden(
        `${agency.name} may not act in the role "${role}" through the gateway. Its allowed roles: ${agency.allowedRoles.join(', ')}.`,
      ),
    );
  }

  // Sender-constrained tokens (RFC 8705): the certificate on this connection must be the one the token is bound to.
  const cnf = claims.cnf;
  if (cnf !== undefined) {
    if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf))
      return err(invalidToken('The access token\'s "cnf" claim is malformed.'));
    const unsupported = Object.keys(cnf).filter((m) => m !== 'x5t#S256');
    if (unsupported.length) {
      return err(
        invalidToken(
          `The access token is bound to a proof the gateway does not support (${unsupported.map((m) => m.slice(0, 20)).join(', ')}); only certificate-bound tokens (x5t#S256) are accepted.`,
        ),
      );
    }
    const bound = (cnf as Record<string, unknown>)['x5t#S256'];
    if (typeof bound !== 'string' || bound === '') return err(invalidToken("The access token's certificate binding is malformed."));
    if (!input.clientCertThumbprint)
      return err(invalidToken('This access token is bound to a client certificate: present that certificate on the TLS connection.'));
    if (!sameThumbprint(bound, input.clientCertThumbprint))
      return err(invalidToken('This access token is bound to a different client certificate from the one presented.'));
  }

  const nameClaim = agency.webClient?.nameClaim ?? 'name';
  const name = claims[nameClaim];
  const tokenId = claims.jti;
  return ok({
    agency,
    issuer,
    clientId,
    role,
    ...(isPerson && typeof subject === 'string'
      ? { practitioner: { subject, ...(typeof name === 'string' && name !== '' ? { name: name.slice(0, 200) } : {}) } }
      : {}),
    scopes,
    ...(typeof tokenId === 'string' ? { tokenId } : {}),
    expiresAt: new Date((claims.exp ?? 0) * 1000),
  });
}
