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
 * Only identifiers (issuer, audience, client ids) are ours.
 */
import type { JWTPayload } from 'jose';
import type { Agency } from '../../src/auth/registry';
import type { TokenProfileId } from '../../src/auth/profiles';
import type { Role } from '../../src/vocabulary/vocabulary';

export interface ProviderCase {
  readonly profile: TokenProfileId;
  /** Where the provider puts its issuer (path on the local issuer host). */
  readonly issuerPath: string;
  /** The registry entry, without issuer. */
  readonly agency: Omit<Agency, 'issuer'>;
  /** The documented header of its access tokens (alg and kid are added by the signer). */
  readonly header: Record<string, unknown>;
  /** A client-credentials token (the agency's system acting alone). */
  app(iss: string, now: number): JWTPayload;
  /** A practitioner's token. */
  person(iss: string, now: number): JWTPayload;
  /** The provider's ID token for the practitioner (never an access token). */
  idToken(iss: string, now: number): { header: Record<string, unknown>; payload: JWTPayload };
  /** The person token carrying a role value the agency maps to nothing. */
  unmappedRole(payload: JWTPayload): JWTPayload;
  readonly expected: {
    readonly app: { role: Role; scopes: string[] };
    readonly person: { role: Role; scopes: string[]; subject: string; name?: string };
  };
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ENTRA_API = '6e74172b-be56-4843-9ff4-e66a39bb12e3';
const ENTRA_SYSTEM = 'a2b7c9e1-0c3d-4e5f-8a9b-1c2d3e4f5a6b';
const ENTRA_WEB = 'b3c8d0f2-1d4e-4f60-9bac-2d3e4f5a6b7c';
const time = (now: number) => ({ iat: now, nbf: now, exp: now + 3600 });

const rfc9068: ProviderCase = {
  profile: 'rfc9068',
  issuerPath: '/rfc9068-as/',
  agency: {
    id: 'p-rfc9068',
    name: 'RFC 9068 Police',
    agencyType: 'police',
    clientIds: ['s6BhdRkqt3', 'rfc9068-web'],
    allowedRoles: ['system', 'police_officer'],
    audience: 'https://rs.example.com/',
  },
  header: { typ: 'at+jwt' },
  app: (iss, now) => ({
    iss,
    sub: 's6BhdRkqt3',
    aud: 'https://rs.example.com/',
    exp: now + 3600,
    iat: now,
    jti: 'dbe39bf3a3ba4238a513f51d6e1691c4',
    client_id: 's6BhdRkqt3',
    scope: 'decisions records:read',
  }),
  person: (iss, now) => ({
    iss,
    sub: '5ba552d67',
    aud: 'https://rs.example.com/',
    exp: now + 3600,
    iat: now,
    auth_time: now,
    acr: 'urn:mace:incommon:iap:silver',
    jti: 'e2b18fca6c3a',
    client_id: 'rfc9068-web',
    scope: 'openid profile decisions',
    role: 'police_officer',
    name: 'Priya Shah',
  }),
  idToken: (iss, now) => ({
    header: { typ: 'JWT' },
    payload: {
      iss,
      sub: '5ba552d67',
      aud: 'rfc9068-web',
      exp: now + 3600,
      iat: now,
      auth_time: now,
      nonce: 'n-0S6_WzA2Mj',
      at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
    },
  }),
  unmappedRole: (p) => ({ ...p, role: 'superintendent' }),
  expected: {
    app: { role: 'system', scopes: ['decisions', 'records:read'] },
    person: { role: 'police_officer', scopes: ['openid', 'profile', 'decisions'], subject: '5ba552d67', name: 'Priya Shah' },
  },
};

const entraMaps = {
  roleMap: { 'Safeguarding.SocialWorker': 'social_worker', 'Safeguarding.TeamManager': 'team_manager' } as Record<string, Role>,
  scopeMap: { 'Decisions.Request': 'decisions', 'Records.Read': 'records:read' },
};

const entraV2: ProviderCase = {
  profile: 'entra-v2',
  issuerPath: `/${TENANT}/v2.0`,
  agency: {
    id: 'p-entra-v2',
    name: 'Northshire Council (Entra v2)',
    agencyType: 'childrens_social_care',
    clientIds: [ENTRA_SYSTEM, ENTRA_WEB],
    allowedRoles: ['system', 'social_worker', 'team_manager'],
    tokenProfile: 'entra-v2',
    audience: ENTRA_API,
    ...entraMaps,
  },
  header: { typ: 'JWT' },
  app: (iss, now) => ({
    aud: ENTRA_API,
    iss,
    ...time(now),
    aio: 'k2BgYDD6x3jLSW9uSapm1it3vtdnC66c40v9',
    azp: ENTRA_SYSTEM,
    azpacr: '1',
    idtyp: 'app',
    oid: '9f5a0fd1-6a3e-4b7a-8e0c-2f1b4c3d5e6f',
    rh: '0.ARoAv4j5cvGGr0GRqy180BHbR-4tAn8dYBNDlqJkzWm7Q9caAAA.',
    roles: ['Decisions.Request', 'Records.Read'],
    sub: '9f5a0fd1-6a3e-4b7a-8e0c-2f1b4c3d5e6f',
    tid: TENANT,
    uti: 'fqiBqXLPj0eQa82S-IYFAA',
    ver: '2.0',
  }),
  person: (iss, now) => ({
    aud: ENTRA_API,
    iss,
    ...time(now),
    aio:
      'AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOcAnNZcjvkoyrFxCttv33140RioOFJ4bCCGVuoCag1uOTT22' +
      '222gHwLPYQ/uf79QX+0KIijdrmp69RctzmQ==',
    azp: ENTRA_WEB,
    azpacr: '0',
    name: 'Abe Lincoln',
    oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
    preferred_username: 'abeli@northshire.gov.uk',
    rh: 'I',
    roles: ['Safeguarding.SocialWorker'],
    scp: 'Decisions.Request',
    sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
    tid: TENANT,
    uti: 'fqiBqXLPj0eQa82S-IYFAA',
    ver: '2.0',
  }),
  idToken: (iss, now) => ({
    header: { typ: 'JWT' },
    payload: {
      aud: ENTRA_WEB,
      iss,
      ...time(now),
      aio: 'Df2UVXL1ix!lMCWMSOJBcFatzcGfvFGhjKv8q5g0x732dR5MB5BisvGQO7YWByjd8iQDLq!eGbIDakyp5mnOrcdqHeYSnltepQmRp6AIZ8jY',
      name: 'Abe Lincoln',
      nonce: '123523',
      oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
      preferred_username: 'abeli@northshire.gov.uk',
      rh: 'I',
      sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
      tid: TENANT,
      uti: 'fqiBqXLPj0eQa82S-IYFAA',
      ver: '2.0',
    },
  }),
  unmappedRole: (p) => ({ ...p, roles: ['Finance.Approver'] }),
  expected: {
    app: { role: 'system', scopes: ['decisions', 'records:read'] },
    person: { role: 'social_worker', scopes: ['decisions'], subject: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ', name: 'Abe Lincoln' },
  },
};

const V1_SYSTEM = 'c4d9e1a3-2e5f-4a71-8cbd-3e4f5a6b7c8d';
const V1_WEB = 'd5eaf2b4-3f60-4b82-9dce-4f5a6b7c8d9e';
const entraV1: ProviderCase = {
  profile: 'entra-v1',
  issuerPath: `/sts/${TENANT.replace('72f9', '81a0')}/`,
  agency: {
    id: 'p-entra-v1',
    name: 'Northshire Schools (Entra v1)',
    agencyType: 'school',
    clientIds: [V1_SYSTEM, V1_WEB],
    allowedRoles: ['system', 'designated_safeguarding_lead'],
    tokenProfile: 'entra-v1',
    audience: 'api://safeguard-gateway',
    roleMap: { 'Safeguarding.DSL': 'designated_safeguarding_lead' },
    scopeMap: { 'Decisions.Request': 'decisions', user_impersonation: 'decisions' },
  },
  header: { typ: 'JWT', x5t: 'iBjL1Rcqzhiy4fpxIxdZqohM2Yk' },
  app: (iss, now) => ({
    aud: 'api://safeguard-gateway',
    iss,
    ...time(now),
    aio: 'E2ZgYPjZ8vZhl/+aJw8n3Nn2MPV6AA==',
    appid: V1_SYSTEM,
    appidacr: '1',
    idp: iss,
    idtyp: 'app',
    oid: '0b2f4d6e-8a1c-4e3f-9b5d-7c9e1f3a5b7d',
    rh: '0.AAAA',
    roles: ['Decisions.Request'],
    sub: '0b2f4d6e-8a1c-4e3f-9b5d-7c9e1f3a5b7d',
    tid: TENANT.replace('72f9', '81a0'),
    uti: 'qpVYYSGAhU6f1JcVOtdNAA',
    ver: '1.0',
  }),
  person: (iss, now) => ({
    aud: 'api://safeguard-gateway',
    iss,
    ...time(now),
    acr: '1',
    aio: 'AVQAq/8TAAAA',
    amr: ['pwd', 'mfa'],
    appid: V1_WEB,
    appidacr: '0',
    family_name: 'Carter',
    given_name: 'Helen',
    ipaddr: '192.0.2.10',
    name: 'Helen Carter',
    oid: 'e1f3a5b7-c9d1-4e3f-a5b7-c9d1e3f5a7b9',
    rh: 'I',
    roles: ['Safeguarding.DSL'],
    scp: 'user_impersonation',
    sub: 'l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA',
    tid: TENANT.replace('72f9', '81a0'),
    unique_name: 'helen.carter@riverside.sch.uk',
    upn: 'helen.carter@riverside.sch.uk',
    uti: 'fqiBqXLPj0eQa82S-IYFAA',
    ver: '1.0',
  }),
  idToken: (iss, now) => ({
    header: { typ: 'JWT' },
    payload: {
      aud: V1_WEB,
      iss,
      ...time(now),
      amr: ['pwd'],
      family_name: 'Carter',
      given_name: 'Helen',
      name: 'Helen Carter',
      nonce: 'abc',
      oid: 'e1f3a5b7-c9d1-4e3f-a5b7-c9d1e3f5a7b9',
      sub: 'l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA',
      tid: TENANT.replace('72f9', '81a0'),
      unique_name: 'helen.carter@riverside.sch.uk',
      ver: '1.0',
    },
  }),
  unmappedRole: (p) => ({ ...p, roles: ['Teacher'] }),
  expected: {
    app: { role: 'system', scopes: ['decisions'] },
    person: {
      role: 'designated_safeguarding_lead',
      scopes: ['decisions'],
      subject: 'l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA',
      name: 'Helen Carter',
    },
  },
};

const keycloak: ProviderCase = {
  profile: 'keycloak',
  issuerPath: '/realms/northshire',
  agency: {
    id: 'p-keycloak',
    name: 'Northshire Police (Keycloak)',
    agencyType: 'police',
    clientIds: ['police-records-system', 'police-web'],
    allowedRoles: ['system', 'police_officer', 'team_manager'],
    tokenProfile: 'keycloak',
    audience: 'safeguard-gateway',
    roleMap: { 'police-officer': 'police_officer', 'team-manager': 'team_manager' },
    rolePrecedence: ['team_manager', 'police_officer'],
  },
  header: { typ: 'JWT' },
  app: (iss, now) => ({
    exp: now + 300,
    iat: now,
    jti: 'a3c4b9d2-7e1f-4a5b-9c8d-1e2f3a4b5c6d',
    iss,
    aud: 'safeguard-gateway',
    sub: '2c3a8c7e-5b9d-4f1e-8a6b-3c4d5e6f7a8b',
    typ: 'Bearer',
    azp: 'police-records-system',
    acr: '1',
    'allowed-origins': ['/*'],
    realm_access: { roles: ['default-roles-northshire', 'offline_access', 'uma_authorization'] },
    resource_access: { account: { roles: ['manage-account', 'view-profile'] } },
    scope: 'profile email decisions',
    clientHost: '192.0.2.15',
    email_verified: false,
    preferred_username: 'service-account-police-records-system',
    clientAddress: '192.0.2.15',
    client_id: 'police-records-system',
  }),
  person: (iss, now) => ({
    exp: now + 300,
    iat: now,
    auth_time: now,
    jti: 'b8e1c2d3-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
    iss,
    aud: 'safeguard-gateway',
    sub: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
    typ: 'Bearer',
    azp: 'police-web',
    session_state: '5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f',
    acr: '1',
    'allowed-origins': ['https://gateway.northshire.example'],
    realm_access: { roles: ['default-roles-northshire', 'offline_access', 'uma_authorization', 'police-officer'] },
    resource_access: { 'safeguard-gateway': { roles: ['team-manager'] }, account: { roles: ['manage-account'] } },
    scope: 'openid profile email decisions',
    sid: '5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f',
    email_verified: true,
    name: 'Sam Patel',
    preferred_username: 'spatel',
    given_name: 'Sam',
    family_name: 'Patel',
    email: 'sam.patel@northshire.police.uk',
  }),
  idToken: (iss, now) => ({
    header: { typ: 'JWT' },
    payload: {
      exp: now + 300,
      iat: now,
      auth_time: now,
      jti: 'c1d2',
      iss,
      aud: 'police-web',
      sub: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
      typ: 'ID',
      azp: 'police-web',
      nonce: 'xyz',
      session_state: '5c6d',
      at_hash: 'x6R3Ydb1fE8fYNd3n0YQhA',
      acr: '1',
      sid: '5c6d',
      email_verified: true,
      name: 'Sam Patel',
      preferred_username: 'spatel',
    },
  }),
  unmappedRole: (p) => ({
    ...p,
    realm_access: { roles: ['default-roles-northshire', 'offline_access', 'custody-sergeant'] },
    resource_access: {},
  }),
  expected: {
    app: { role: 'system', scopes: ['profile', 'email', 'decisions'] },
    person: {
      role: 'team_manager',
      scopes: ['openid', 'profile', 'email', 'decisions'],
      subject: 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b',
      name: 'Sam Patel',
    },
  },
};

const okta: ProviderCase = {
  profile: 'okta',
  issuerPath: '/oauth2/aus8abcdEFGH1234',
  agency: {
    id: 'p-okta',
    name: 'Northshire Health Visiting (Okta)',
    agencyType: 'health_visiting',
    clientIds: ['0oa1systemXYZ', '0oa2webXYZ'],
    allowedRoles: ['system', 'health_visitor'],
    tokenProfile: 'okta',
    audience: 'api://safeguard-gateway',
    roleMap: { 'Safeguarding-Health-Visitors': 'health_visitor' },
    scopeMap: { 'gateway.decisions': 'decisions' },
  },
  header: {},
  app: (iss, now) => ({
    ver: 1,
    jti: 'AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE',
    iss,
    aud: 'api://safeguard-gateway',
    iat: now,
    exp: now + 3600,
    cid: '0oa1systemXYZ',
    scp: ['gateway.decisions'],
    sub: '0oa1systemXYZ',
  }),
  person: (iss, now) => ({
    ver: 1,
    jti: 'AT.9aB8cD7eF6gH5iJ4kL3mN2oP1qR0sT',
    iss,
    aud: 'api://safeguard-gateway',
    iat: now,
    exp: now + 3600,
    cid: '0oa2webXYZ',
    uid: '00ujmkLgagxeRrAg20g3',
    scp: ['openid', 'profile', 'gateway.decisions'],
    auth_time: now,
    sub: 'hv.jones@northshire.nhs.uk',
    groups: ['Everyone', 'Safeguarding-Health-Visitors'],
  }),
  idToken: (iss, now) => ({
    header: {},
    payload: {
      sub: '00ujmkLgagxeRrAg20g3',
      name: 'Jo Jones',
      ver: 1,
      iss,
      aud: '0oa2webXYZ',
      iat: now,
      exp: now + 3600,
      jti: 'ID.4eAWJOCMB3SX8XewDfVR',
      amr: ['pwd'],
      idp: '00ok1u7AsAkrwdZL3z0g3',
      nonce: 'Nonce',
      preferred_username: 'hv.jones@northshire.nhs.uk',
      auth_time: now,
      at_hash: 'preHsCjdOKisPwfuXSYNkQ',
    },
  }),
  unmappedRole: (p) => ({ ...p, groups: ['Everyone', 'Finance'] }),
  expected: {
    app: { role: 'system', scopes: ['decisions'] },
    person: { role: 'health_visitor', scopes: ['openid', 'profile', 'decisions'], subject: 'hv.jones@northshire.nhs.uk' },
  },
};

const AUTH0_API = 'https://gateway.northshire.example/api';
const auth0: ProviderCase = {
  profile: 'auth0',
  issuerPath: '/northshire-idva.eu.auth0.com/',
  agency: {
    id: 'p-auth0',
    name: 'Northshire IDVA Service (Auth0)',
    agencyType: 'idva_service',
    clientIds: ['AITAw9CZXUNeJ5wYhW4CFf6nrBV8Dn7c', 'Fx2WebClientAuth0Id'],
    allowedRoles: ['system', 'idva'],
    tokenProfile: 'auth0',
    audience: AUTH0_API,
    roleMap: { 'act:idva': 'idva' },
    scopeMap: { 'request:decisions': 'decisions' },
  },
  header: { typ: 'JWT' },
  app: (iss, now) => ({
    iss,
    sub: 'AITAw9CZXUNeJ5wYhW4CFf6nrBV8Dn7c@clients',
    aud: AUTH0_API,
    iat: now,
    exp: now + 86400 - 60,
    scope: 'request:decisions',
    gty: 'client-credentials',
    azp: 'AITAw9CZXUNeJ5wYhW4CFf6nrBV8Dn7c',
    permissions: ['request:decisions'],
  }),
  // Auth0's documented user token is for the API AND /userinfo: two audiences (allowMultipleAudiences is needed for it).
  person: (iss, now) => ({
    iss,
    sub: 'auth0|123456',
    aud: AUTH0_API,
    azp: 'Fx2WebClientAuth0Id',
    exp: now + 3600,
    iat: now,
    scope: 'openid profile request:decisions',
    permissions: ['act:idva', 'request:decisions'],
  }),
  idToken: (iss, now) => ({
    header: { typ: 'JWT' },
    payload: {
      iss,
      sub: 'auth0|123456',
      aud: 'Fx2WebClientAuth0Id',
      iat: now,
      exp: now + 36000,
      nonce: 'crypto-value',
      name: 'Alex Morgan',
      nickname: 'alex',
      sid: 'Ypa3bE',
    },
  }),
  unmappedRole: (p) => ({ ...p, permissions: ['request:decisions'], sub: 'auth0|123456' }),
  expected: {
    app: { role: 'system', scopes: ['decisions'] },
    person: { role: 'idva', scopes: ['openid', 'profile', 'decisions'], subject: 'auth0|123456' },
  },
};

const hmpps: ProviderCase = {
  profile: 'hmpps',
  issuerPath: '/auth/issuer',
  agency: {
    id: 'p-hmpps',
    name: 'Probation Service North (HMPPS Auth)',
    agencyType: 'probation',
    clientIds: ['safeguarding-gateway-client', 'probation-web'],
    allowedRoles: ['system', 'probation_officer'],
    tokenProfile: 'hmpps',
    audience: 'safeguard-gateway',
    roleMap: { ROLE_PROBATION_OFFICER: 'probation_officer' },
    scopeMap: { ROLE_SAFEGUARDING_DECISIONS: 'decisions', read: 'records:read' },
  },
  header: { typ: 'JWT' },
  app: (iss, now) => ({
    sub: 'safeguarding-gateway-client',
    grant_type: 'client_credentials',
    scope: ['read'],
    auth_source: 'none',
    iss,
    exp: now + 1200,
    iat: now,
    aud: 'safeguard-gateway',
    authorities: ['ROLE_SAFEGUARDING_DECISIONS'],
    jti: 'Jk3lRUF9bBq3n4Vw2tYxZ0aB1cD',
    client_id: 'safeguarding-gateway-client',
  }),
  person: (iss, now) => ({
    sub: 'JSMITH_GEN',
    user_name: 'JSMITH_GEN',
    auth_source: 'delius',
    iss,
    authorities: ['ROLE_PROBATION', 'ROLE_PROBATION_OFFICER', 'ROLE_SAFEGUARDING_DECISIONS'],
    client_id: 'probation-web',
    user_uuid: '6f4a2b1c-3d5e-4f7a-9b8c-0d1e2f3a4b5c',
    grant_type: 'authorization_code',
    user_id: '2500012345',
    scope: ['read', 'write'],
    name: 'John Smith',
    exp: now + 1200,
    iat: now,
    aud: 'safeguard-gateway',
    jti: 'Yx8wV7u6T5s4R3q2P1o0N9m8L7k',
  }),
  idToken: (iss, now) => ({
    header: { typ: 'JWT' },
    payload: { sub: 'JSMITH_GEN', iss, aud: 'probation-web', iat: now, exp: now + 1200, nonce: 'n1', at_hash: 'aBcD', name: 'John Smith' },
  }),
  unmappedRole: (p) => ({ ...p, authorities: ['ROLE_PROBATION', 'ROLE_GLOBAL_SEARCH'] }),
  expected: {
    app: { role: 'system', scopes: ['records:read', 'decisions'] },
    person: { role: 'probation_officer', scopes: ['records:read', 'write', 'decisions'], subject: 'JSMITH_GEN', name: 'John Smith' },
  },
};

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
