/** auth0.com "Access token profiles" (auth0 profile) + RBAC (typ JWT, azp, gty, permissions[], sub <client>@clients). */
import type { ProviderCase } from './provider-case';

const AUTH0_API = 'https://gateway.northshire.example/api';
export const auth0: ProviderCase = {
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
