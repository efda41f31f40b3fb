/**
 * Microsoft Entra ID, learn.microsoft.com "Access token claims reference": the v2.0 example (typ JWT, azp, roles[], scp,
 * idtyp, ver 2.0, tid) and the v1.0 example (typ JWT, appid, appidacr, iss sts.windows.net/<tid>/).
 */
import type { Role } from '../../../src/vocabulary/vocabulary';
import type { ProviderCase } from './provider-case';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ENTRA_API = '6e74172b-be56-4843-9ff4-e66a39bb12e3';
const ENTRA_SYSTEM = 'a2b7c9e1-0c3d-4e5f-8a9b-1c2d3e4f5a6b';
const ENTRA_WEB = 'b3c8d0f2-1d4e-4f60-9bac-2d3e4f5a6b7c';
const time = (now: number) => ({ iat: now, nbf: now, exp: now + 3600 });

const entraMaps = {
  roleMap: { 'Safeguarding.SocialWorker': 'social_worker', 'Safeguarding.TeamManager': 'team_manager' } as Record<string, Role>,
  scopeMap: { 'Decisions.Request': 'decisions', 'Records.Read': 'records:read' },
};

export const entraV2: ProviderCase = {
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
export const entraV1: ProviderCase = {
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
