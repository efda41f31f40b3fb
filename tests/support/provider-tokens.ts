/**
 * Access tokens shaped exactly as each identity provider documents them, for the token-profile tests (unit and
 * over real HTTP). Claim names, value shapes and header `typ` follow the providers' own examples:
 *   rfc9068   RFC 9068 §2.2 / appendix example                       (typ at+jwt, client_id, scope string)
 *   entra-v2  learn.microsoft.com "Access token claims reference", v2.0 example (typ JWT, azp, roles[], scp, idtyp, ver 2.0, tid)
 *   entra-v1  the same page, v1.0 example                               (typ JWT, appid, appidacr, iss sts.windows.net/<tid>/)
 *   keycloak  Keycloak access token as issued by a realm                 (typ JWT, payload typ Bearer, azp, realm_access, resource_access)
 *   okta      developer.okta.com "Access token" payload example          (no typ, ver 1, jti AT.…, cid, uid, scp[])
 *   auth0     auth0.com "Access token profiles" (auth0 profile) + RBAC  (typ JWT, azp, gty, permissions[], sub <client>@clients)
 *   hmpps     HMPPS Auth TokenData (hmpps-template-typescript)          (client_id, authorities[], scope[], grant_type, auth_source)
 *   introspection  RFC 7662 §2.2 response example                        (active, client_id, username, scope, sub, aud, iss)
 * Only identifiers (issuer, audience, client ids) are ours. Each provider's case is in tests/support/providers/<name>.ts.
 */
import { auth0 } from './providers/auth0';
import { entraV1, entraV2 } from './providers/entra';
import { hmpps } from './providers/hmpps';
import { keycloak } from './providers/keycloak';
import { okta } from './providers/okta';
import type { ProviderCase } from './providers/provider-case';
import { rfc9068 } from './providers/rfc9068';

export type { ProviderCase } from './providers/provider-case';

export const PROVIDER_CASES: readonly ProviderCase[] = [rfc9068, entraV2, entraV1, keycloak, okta, auth0, hmpps];

/** RFC 7662 §2.2's example response, with our identifiers. */
export function introspectionResponse(iss: string, now: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    active: true,
    client_id: 'l238j323ds-23ij4',
    username: 'jdoe',
    scope: 'read write decisions',
    sub: 'Z5O3upPC88QrAjx00dis',
    aud: 'https://gateway.nhs.example/api',
    iss,
    exp: now + 600,
    iat: now,
    extension_field: 'twenty-seven',
    ...extra,
  };
}
