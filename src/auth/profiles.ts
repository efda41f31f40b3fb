/**
 * Token profiles: where each identity provider, as it documents its access tokens, puts the client id, the roles,
 * the scopes, and how it marks a token issued to an application acting alone (client credentials). A profile only
 * says WHERE to read; every check (asymmetric signature, exact issuer, audience, time, agency by issuer and client)
 * is the same for all of them (src/auth/claims.ts, src/auth/token-verifier.ts).
 *
 *   rfc9068       typ at+jwt; client_id; role (one vocabulary word) or roles[]; scope "a b"          (RFC 9068)
 *   entra-v2      typ JWT; azp; roles[] (app roles); scp "a b"; app-only: idtyp "app"; ver "2.0"     (Microsoft Entra ID)
 *   entra-v1      typ JWT; appid; roles[]; scp "a b"; app-only: idtyp "app"; ver "1.0"
 *   keycloak      typ JWT (payload typ "Bearer"); azp; realm_access.roles[] + resource_access.<audience>.roles[];
 *                 scope "a b"; app-only: preferred_username "service-account-…"
 *   okta          no typ (or JWT); cid; groups[]; scp[]; app-only: sub = cid                       (custom authorization server)
 *   auth0         typ JWT or at+jwt; azp; permissions[]; scope "a b"; app-only: gty "client-credentials"
 *   hmpps         typ JWT or none; client_id; authorities[]; scope[]; app-only: grant_type client_credentials
 *   introspection opaque tokens, RFC 7662 response: client_id; roles[] or role; scope "a b"; app-only: sub = client_id
 */
import type { JWTPayload } from 'jose';

export const TOKEN_PROFILES = ['rfc9068', 'entra-v2', 'entra-v1', 'keycloak', 'okta', 'auth0', 'hmpps', 'introspection'] as const;
export type TokenProfileId = (typeof TOKEN_PROFILES)[number];
export const DEFAULT_TOKEN_PROFILE: TokenProfileId = 'rfc9068';

export function isTokenProfile(value: unknown): value is TokenProfileId {
  return typeof value === 'string' && (TOKEN_PROFILES as readonly string[]).includes(value);
}

/** What a claim held: the values, or why it could not be read (a claim of the wrong shape is refused, never guessed). */
export type ClaimValues = { readonly values: readonly string[] } | { readonly malformed: string };

export interface ProfileContext {
  /** The audience this agency expects (Keycloak files client roles under the resource server's client id). */
  readonly audience: string;
}

export interface TokenProfile {
  readonly id: TokenProfileId;
  /** For messages: "Microsoft Entra ID (v2.0 access tokens)". */
  readonly label: string;
  /** Accepted `typ` header values, compared case-insensitively without "application/"; null = no typ header. */
  readonly typ: readonly (string | null)[];
  /** The claim that names the OAuth client the token was issued to. */
  readonly clientIdClaim: string;
  /** The roles the token carries (raw IdP values, before the agency's roleMap). */
  roles(claims: JWTPayload, ctx: ProfileContext): ClaimValues;
  /** Whether `roles` values that the agency's scopeMap does not name are scopes too (Auth0 permissions are). */
  readonly rolesAreScopes?: boolean;
  /** IdP housekeeping roles that are never a gateway role (Keycloak's default realm roles). */
  ignoredRole?(value: string): boolean;
  /** The scopes the token grants (raw, before the agency's scopeMap). */
  scopes(claims: JWTPayload): ClaimValues;
  /** A token issued to an application acting alone (no person), as this provider marks it. */
  appOnly(claims: JWTPayload, clientId: string): boolean;
  /** The `ver` claim this provider's access tokens carry, if it marks a version. */
  readonly version?: string;
  /** Extra sign of a token that is not an access token (Keycloak's payload `typ`), beyond nonce/at_hash. */
  notAccessToken?(claims: JWTPayload): string | undefined;
}

const NONE: ClaimValues = { values: [] };

/** A space-separated string claim (`scope`, `scp`). */
function spaceSeparated(claims: JWTPayload, name: string): ClaimValues {
  const value = claims[name];
  if (value === undefined) return NONE;
  if (typeof value !== 'string') return { malformed: `The access token's "${name}" claim must be a space-separated string.` };
  return { values: value.split(' ').filter((s) => s !== '') };
}

/** An array-of-strings claim (`roles`, `scp` at Okta, `authorities`). */
function stringArray(value: unknown, name: string): ClaimValues {
  if (value === undefined) return NONE;
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    return { malformed: `The access token's "${name}" claim must be a list of strings.` };
  }
  return { values: value };
}

function combine(...parts: ClaimValues[]): ClaimValues {
  const values: string[] = [];
  for (const part of parts) {
    if ('malformed' in part) return part;
    values.push(...part.values);
  }
  return { values: [...new Set(values)] };
}

function member(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, key)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** RFC 9068 as the gateway has always read it: `role` is ONE vocabulary word (a list there is refused by the role check). */
function rfc9068Role(claims: JWTPayload): ClaimValues {
  const role = claims.role;
  if (role === undefined) return stringArray(claims.roles, 'roles');
  if (typeof role !== 'string') return { values: [role === null ? 'null' : `[${typeof role}]`] };
  return combine({ values: [role] }, stringArray(claims.roles, 'roles'));
}

function entraAppOnly(claims: JWTPayload): boolean {
  // Microsoft: `idtyp` "app" marks an app-only token; without it, a token with no `scp` (delegated scopes) is app-only.
  if (claims.idtyp !== undefined) return claims.idtyp === 'app';
  return claims.scp === undefined;
}

const PROFILES: Readonly<Record<TokenProfileId, TokenProfile>> = {
  rfc9068: {
    id: 'rfc9068',
    label: 'RFC 9068 JWT access tokens',
    typ: ['at+jwt'],
    clientIdClaim: 'client_id',
    roles: rfc9068Role,
    scopes: (c) => spaceSeparated(c, 'scope'),
    appOnly: (c, clientId) => c.sub === clientId,
  },
  'entra-v2': {
    id: 'entra-v2',
    label: 'Microsoft Entra ID (v2.0 access tokens)',
    typ: ['jwt'],
    clientIdClaim: 'azp',
    roles: (c) => stringArray(c.roles, 'roles'),
    scopes: (c) => spaceSeparated(c, 'scp'),
    appOnly: entraAppOnly,
    version: '2.0',
  },
  'entra-v1': {
    id: 'entra-v1',
    label: 'Microsoft Entra ID (v1.0 access tokens)',
    typ: ['jwt'],
    clientIdClaim: 'appid',
    roles: (c) => stringArray(c.roles, 'roles'),
    scopes: (c) => spaceSeparated(c, 'scp'),
    appOnly: entraAppOnly,
    version: '1.0',
  },
  keycloak: {
    id: 'keycloak',
    label: 'Keycloak',
    typ: ['jwt'],
    clientIdClaim: 'azp',
    roles: (c, ctx) =>
      combine(
        stringArray(member(c.realm_access, 'roles'), 'realm_access.roles'),
        stringArray(member(member(c.resource_access, ctx.audience), 'roles'), `resource_access.${ctx.audience}.roles`),
      ),
    ignoredRole: (value) => value === 'offline_access' || value === 'uma_authorization' || value.startsWith('default-roles-'),
    scopes: (c) => spaceSeparated(c, 'scope'),
    appOnly: (c, clientId) => {
      const user = c.preferred_username;
      return (
        (typeof user === 'string' && user.toLowerCase().startsWith('service-account-')) ||
        c.client_id === clientId ||
        c.clientId === clientId
      );
    },
    notAccessToken: (c) =>
      c.typ !== undefined && c.typ !== 'Bearer'
        ? `Keycloak marks it "${(typeof c.typ === 'string' ? c.typ : (JSON.stringify(c.typ) ?? '')).slice(0, 20)}", not "Bearer"`
        : undefined,
  },
  okta: {
    id: 'okta',
    label: 'Okta (custom authorization server)',
    typ: [null, 'jwt', 'at+jwt'],
    clientIdClaim: 'cid',
    roles: (c) => stringArray(c.groups, 'groups'),
    scopes: (c) => stringArray(c.scp, 'scp'),
    appOnly: (c, clientId) => c.sub === clientId,
  },
  auth0: {
    id: 'auth0',
    label: 'Auth0',
    typ: ['jwt', 'at+jwt'],
    clientIdClaim: 'azp',
    roles: (c) => stringArray(c.permissions, 'permissions'),
    rolesAreScopes: true,
    scopes: (c) => spaceSeparated(c, 'scope'),
    appOnly: (c, clientId) => c.gty === 'client-credentials' && c.sub === `${clientId}@clients`,
  },
  hmpps: {
    id: 'hmpps',
    label: 'HMPPS Auth',
    typ: [null, 'jwt'],
    clientIdClaim: 'client_id',
    roles: (c) => stringArray(c.authorities, 'authorities'),
    scopes: (c) => stringArray(c.scope, 'scope'),
    appOnly: (c, clientId) => c.sub === clientId || (c.grant_type === 'client_credentials' && c.user_name === undefined),
  },
  introspection: {
    id: 'introspection',
    label: 'RFC 7662 token introspection',
    typ: [],
    clientIdClaim: 'client_id',
    roles: rfc9068Role,
    scopes: (c) => spaceSeparated(c, 'scope'),
    appOnly: (c, clientId) => c.sub === undefined || c.sub === clientId,
  },
};

export function tokenProfile(id: TokenProfileId | undefined): TokenProfile {
  return PROFILES[id ?? DEFAULT_TOKEN_PROFILE];
}

/** `typ` as RFC 8725 §3.11 compares it: case-insensitive, without the "application/" prefix. */
export function normalisedTyp(typ: unknown): string | null | undefined {
  if (typ === undefined) return null;
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
