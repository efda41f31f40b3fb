/** RFC 9068 §2.2 / appendix example (typ at+jwt, client_id, scope string). */
import type { ProviderCase } from './provider-case';

export const rfc9068: ProviderCase = {
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
