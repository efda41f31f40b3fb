/**
 * Local test issuers for HTTP tests: ONE HTTP server on 127.0.0.1 (random port) serving, per test agency, an issuer
 * at `/<agencyId>` with `/.well-known/openid-configuration` and a JWKS, plus helpers that mint real signed access
 * tokens (jose SignJWT) for any agency, client, role, claims and header tweaks — and the matching trust registry.
 *
 *   const issuers = await startTestIssuers();                  // test-police, test-csc, test-school, ...
 *   const issuers = await startTestIssuers(['police', 'school']);
 *   const token = await issuers.token({ agency: 'test-police', scope: 'decisions' });             // system client
 *   const dsl = await issuers.token({ agency: 'test-school', sub: 'dsl-1', role: 'designated_safeguarding_lead' });
 *   createTokenVerifier({ agencies: issuers.agencies, audience: issuers.audience, allowInsecureIssuers: true });
 *   await issuers.close();
 *
 * Agency ids are `test-<short>`: police → test-police, childrens_social_care (or csc) → test-csc, health_visiting →
 * test-health-visiting, ... Each agency's clients are `<agencyId>-system` and `<agencyId>-web`.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Agency } from '../../src/auth/registry';
import { AGENCY_TYPES, isAgencyType, type AgencyType, type Role } from '../../src/vocabulary/vocabulary';

export const TEST_AUDIENCE = 'urn:safeguard-gateway';
export type TestAlg = 'ES256' | 'RS256' | 'PS256' | 'EdDSA';

/** Short names for agency types in test agency ids. */
const SHORT: Partial<Record<AgencyType, string>> = { childrens_social_care: 'csc' };
const LONG: Record<string, AgencyType> = { csc: 'childrens_social_care' };

/** Roles each test agency may use by default: its own professional roles plus the common ones. */
const COMMON_ROLES: readonly Role[] = ['system', 'practitioner', 'team_manager', 'data_protection_officer', 'caldicott_guardian'];
const TYPE_ROLES: Partial<Record<AgencyType, readonly Role[]>> = {
  police: ['police_officer'],
  childrens_social_care: ['social_worker', 'auditor'],
  midwifery: ['midwife'],
  health_visiting: ['health_visitor'],
  gp: ['gp'],
  hospital: ['gp', 'midwife'],
  school: ['designated_safeguarding_lead'],
  early_years: ['designated_safeguarding_lead'],
  cafcass: ['family_court_adviser'],
  probation: ['probation_officer'],
  idva_service: ['idva'],
  housing: ['housing_officer'],
  marac: ['marac_chair', 'idva'],
  mash: ['mash_analyst', 'social_worker', 'police_officer', 'auditor'],
};

export interface TestAgencySpec {
  readonly agencyType: AgencyType;
  /** Default `test-<short type>`. */
  readonly id?: string;
  readonly name?: string;
  readonly allowedRoles?: readonly Role[];
  /** Default `<id>-system`, `<id>-web`. */
  readonly clientIds?: readonly string[];
  /** Another spec's id: share that agency's issuer (a regional IdP serving several agencies). */
  readonly sharesIssuerWith?: string;
}

export const DEFAULT_TEST_AGENCIES: readonly string[] = [
  'police',
  'csc',
  'school',
  'health_visiting',
  'gp',
  'cafcass',
  'mash',
  'marac',
  'idva_service',
  'refuge',
];

export interface MintOptions {
  /** The test agency id, e.g. `test-police`: its issuer (iss) and its key sign the token. */
  readonly agency: string;
  /** Default the agency's first client (`<agency>-system`). */
  readonly clientId?: string;
  /** Default = clientId (a client acting alone → role system). Anything else is a practitioner. */
  readonly sub?: string;
  /** The `role` claim; omitted → none (system for client tokens). Any string, to test unknown words. */
  readonly role?: string;
  readonly name?: string;
  /** Space-separated scopes; default `decisions`. */
  readonly scope?: string;
  /** Default the issuers' audience. */
  readonly audience?: string | string[];
  /** Override `iss` (e.g. another agency's issuer or an untrusted one). */
  readonly issuer?: string;
  /** Sign with another test agency's key (default the agency's own). */
  readonly signWith?: string;
  readonly alg?: TestAlg;
  /** Seconds from now; negative for an expired token. Default 300. */
  readonly expiresIn?: number;
  /** Seconds from now for `nbf`. */
  readonly notBefore?: number;
  /** Seconds from now for `iat` (default 0). */
  readonly issuedAt?: number;
  /** The `typ` header; default `at+jwt`; null → none. */
  readonly typ?: string | null;
  /** Extra or overriding claims; a value of `undefined` removes that claim. */
  readonly claims?: Record<string, unknown>;
  /** Extra or overriding protected header parameters (kid, jku, x5u, jwk, x5c, ...). */
  readonly header?: Record<string, unknown>;
}

export interface TestIssuers {
  readonly baseUrl: string;
  readonly audience: string;
  /** The trust registry for these issuers. */
  readonly agencies: Agency[];
  agency(id: string): Agency;
  issuerFor(agencyId: string): string;
  /** A signed access token (compact JWS). */
  token(options: MintOptions): Promise<string>;
  /** The public JWKS an issuer publishes. */
  jwks(agencyId: string): { keys: JWK[] };
  /** The private key an issuer signs with (for hand-made attack tokens). */
  privateKey(agencyId: string, alg?: TestAlg): CryptoKey;
  /** How many times each path was requested (discovery and JWKS caching tests). */
  readonly requests: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

interface IssuerKey {
  readonly alg: TestAlg;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

function toSpec(entry: string | TestAgencySpec): TestAgencySpec {
  if (typeof entry !== 'string') return entry;
  const agencyType = LONG[entry] ?? entry;
  if (!isAgencyType(agencyType)) throw new Error(`startTestIssuers: "${entry}" is not an agency type (${AGENCY_TYPES.join(', ')}) or csc`);
  return { agencyType };
}

function defaultId(type: AgencyType): string {
  return `test-${(SHORT[type] ?? type).replace(/_/g, '-')}`;
}

async function makeKey(alg: TestAlg, prefix: string): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  const jwk = await exportJWK(publicKey);
  const kid = `${prefix}-${alg.toLowerCase()}-${(await calculateJwkThumbprint(jwk)).slice(0, 8)}`;
  return { alg, kid, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/**
 * Starts the issuers. `algorithms` are the key types each issuer publishes (default ES256 only; add RS256/PS256/EdDSA
 * when a test signs with them).
 */
export async function startTestIssuers(
  entries: ReadonlyArray<string | TestAgencySpec> = DEFAULT_TEST_AGENCIES,
  options: { audience?: string; algorithms?: readonly TestAlg[] } = {},
): Promise<TestIssuers> {
  const audience = options.audience ?? TEST_AUDIENCE;
  const algorithms = options.algorithms ?? ['ES256'];
  const specs = entries.map(toSpec);
  const requests = new Map<string, number>();
  // Issuer path → its keys.
  const keysByIssuerPath = new Map<string, IssuerKey[]>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
    const discovery = /^\/([a-z0-9-]+)\/\.well-known\/openid-configuration$/.exec(url.pathname);
    const jwks = /^\/([a-z0-9-]+)\/jwks$/.exec(url.pathname);
    const issuerPath = discovery?.[1] ?? jwks?.[1];
    const keys = issuerPath ? keysByIssuerPath.get(issuerPath) : undefined;
    if (req.method !== 'GET' || !keys || !issuerPath) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    const issuer = `${baseUrl}/${issuerPath}`;
    const body = discovery
      ? {
          issuer,
          jwks_uri: `${issuer}/jwks`,
          token_endpoint: `${issuer}/token`,
          authorization_endpoint: `${issuer}/auth`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: algorithms,
        }
      : { keys: keys.map((k) => k.publicJwk) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const agencies: Agency[] = [];
  const issuerPathOf = new Map<string, string>();
  for (const spec of specs) {
    const id = spec.id ?? defaultId(spec.agencyType);
    if (issuerPathOf.has(id)) throw new Error(`startTestIssuers: agency "${id}" given twice`);
    const issuerPath = spec.sharesIssuerWith ? issuerPathOf.get(spec.sharesIssuerWith) : id;
    if (!issuerPath) throw new Error(`startTestIssuers: "${id}" shares the issuer of "${spec.sharesIssuerWith}", which must come first`);
    issuerPathOf.set(id, issuerPath);
    if (!keysByIssuerPath.has(issuerPath))
      keysByIssuerPath.set(issuerPath, await Promise.all(algorithms.map((alg) => makeKey(alg, issuerPath))));
    agencies.push({
      id,
      name: spec.name ?? `Test ${spec.agencyType.replace(/_/g, ' ')}`,
      agencyType: spec.agencyType,
      issuer: `${baseUrl}/${issuerPath}`,
      clientIds: [...(spec.clientIds ?? [`${id}-system`, `${id}-web`])],
      allowedRoles: [...(spec.allowedRoles ?? [...new Set([...COMMON_ROLES, ...(TYPE_ROLES[spec.agencyType] ?? [])])])],
      area: 'Testshire',
    });
  }

  const agency = (id: string): Agency => {
    const found = agencies.find((a) => a.id === id);
    if (!found) throw new Error(`no test agency "${id}"; the test issuers have: ${agencies.map((a) => a.id).join(', ')}`);
    return found;
  };
  const keyOf = (agencyId: string, alg: TestAlg = algorithms[0] ?? 'ES256'): IssuerKey => {
    const keys = keysByIssuerPath.get(issuerPathOf.get(agency(agencyId).id) ?? '') ?? [];
    const key = keys.find((k) => k.alg === alg);
    if (!key) throw new Error(`test issuer of "${agencyId}" has no ${alg} key; start it with { algorithms: [..., '${alg}'] }`);
    return key;
  };

  async function token(o: MintOptions): Promise<string> {
    const a = agency(o.agency);
    const key = keyOf(o.signWith ?? a.id, o.alg);
    const clientId = o.clientId ?? a.clientIds[0] ?? `${a.id}-system`;
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: o.issuer ?? a.issuer,
      sub: o.sub ?? clientId,
      aud: o.audience ?? audience,
      client_id: clientId,
      iat: now + (o.issuedAt ?? 0),
      exp: now + (o.expiresIn ?? 300),
      jti: randomUUID(),
      scope: o.scope ?? 'decisions',
      ...(o.role !== undefined ? { role: o.role } : {}),
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.notBefore !== undefined ? { nbf: now + o.notBefore } : {}),
    };
    for (const [k, v] of Object.entries(o.claims ?? {})) {
      if (v === undefined) delete payload[k];
      else payload[k] = v;
    }
    const header: Record<string, unknown> = {
      alg: key.alg,
      kid: key.kid,
      ...(o.typ === null ? {} : { typ: o.typ ?? 'at+jwt' }),
      ...(o.header ?? {}),
    };
    for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
    return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
  }

  return {
    baseUrl,
    audience,
    agencies,
    agency,
    issuerFor: (agencyId) => agency(agencyId).issuer,
    token,
    jwks: (agencyId) => ({ keys: (keysByIssuerPath.get(issuerPathOf.get(agency(agencyId).id) ?? '') ?? []).map((k) => k.publicJwk) }),
    privateKey: (agencyId, alg) => keyOf(agencyId, alg).privateKey,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
