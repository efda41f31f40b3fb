/**
 * The trust index: the registry's agencies arranged for verification — by issuer (JWT access tokens, keys from that
 * issuer's JWKS) and by introspection endpoint (opaque tokens, RFC 7662). Built once at start-up; an unusable entry
 * (template issuer, plain http without ALLOW_INSECURE_ISSUERS, one client for two agencies) stops start-up here.
 */
import { DEV_IDP_ISSUER_PREFIX, type Agency } from './registry';
import { tokenProfile, type TokenProfile } from './profiles';

export interface TrustIndex {
  /** Issuers whose tokens are JWTs verified with the issuer's published keys. */
  readonly jwtIssuers: readonly string[];
  /** Agencies at an issuer (JWT or introspection). */
  agenciesAt(issuer: string): readonly Agency[] | undefined;
  /** The token profile of an issuer (all its agencies share one; the registry checks it). */
  profileAt(issuer: string): TokenProfile;
  /** Agencies whose tokens are checked by introspection, grouped by endpoint. */
  readonly introspectionEndpoints: ReadonlyMap<string, readonly Agency[]>;
}

function checkUrl(agency: Agency, what: string, value: string, allowInsecure: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`agency "${agency.id}": ${what} "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:')) {
    throw new Error(
      `agency "${agency.id}": ${what} ${value} is not https (plain http is accepted only with ALLOW_INSECURE_ISSUERS, for development)`,
    );
  }
}

export function buildTrustIndex(agencies: readonly Agency[], allowInsecureIssuers: boolean): TrustIndex {
  const byIssuer = new Map<string, Agency[]>();
  const endpoints = new Map<string, Agency[]>();
  for (const agency of agencies) {
    if (agency.issuer.startsWith(DEV_IDP_ISSUER_PREFIX)) {
      throw new Error(
        `agency "${agency.id}": issuer "${agency.issuer}" is a development template; start the development OpenID provider and use its issuerFor() first`,
      );
    }
    checkUrl(agency, 'issuer', agency.issuer, allowInsecureIssuers);
    const list = byIssuer.get(agency.issuer) ?? [];
    const clash = list.find((other) => other.clientIds.some((c) => agency.clientIds.includes(c)));
    if (clash)
      throw new Error(
        `agencies "${clash.id}" and "${agency.id}" share a client id at issuer ${agency.issuer}; a client may act for one agency only`,
      );
    const first = list[0];
    if (first && (first.tokenProfile ?? 'rfc9068') !== (agency.tokenProfile ?? 'rfc9068')) {
      throw new Error(`agencies "${first.id}" and "${agency.id}" share the issuer ${agency.issuer} but not the tokenProfile`);
    }
    list.push(agency);
    byIssuer.set(agency.issuer, list);
    if (agency.tokenProfile === 'introspection') {
      if (!agency.introspection) throw new Error(`agency "${agency.id}": tokenProfile "introspection" needs introspection settings`);
      checkUrl(agency, 'introspection endpoint', agency.introspection.endpoint, allowInsecureIssuers);
      endpoints.set(agency.introspection.endpoint, [...(endpoints.get(agency.introspection.endpoint) ?? []), agency]);
    }
  }
  const jwtIssuers = [...byIssuer.entries()].filter(([, list]) => list[0]?.tokenProfile !== 'introspection').map(([issuer]) => issuer);
  return {
    jwtIssuers,
    agenciesAt: (issuer) => byIssuer.get(issuer),
    profileAt: (issuer) => tokenProfile(byIssuer.get(issuer)?.[0]?.tokenProfile),
    introspectionEndpoints: endpoints,
  };
}
