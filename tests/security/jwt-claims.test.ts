/**
 * Access tokens against the people who would forge, replay or stretch them: what a genuinely signed token claims.
 * Every token here is really signed (jose) and verified over real HTTP discovery + JWKS from local test issuers;
 * nothing is mocked. Time; issuer and audience; one agency never acting as another; roles; certificate-bound
 * tokens (RFC 8705). Invariant 2 (fail closed): unknown issuer, unknown agency, unknown role word → refused, with a
 * reason.
 */
import { createHash } from 'node:crypto';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';
import { bearer, useTrustedIssuers } from '../support/jwt-verifier';

const trust = useTrustedIssuers();
const { refused } = trust;
let issuers: TestIssuers;
let rogue: TestIssuers;
let verifier: TokenVerifier;
beforeAll(() => {
  ({ issuers, rogue, verifier } = trust);
});

describe('time', () => {
  it('expired → 401', async () => {
    await refused(bearer(await issuers.token({ agency: 'test-police', expiresIn: -120 })), 401, 'invalid_token', /expired/);
  });
  it('not yet valid (nbf in 5 minutes) → 401', async () => {
    await refused(bearer(await issuers.token({ agency: 'test-police', notBefore: 300 })), 401, 'invalid_token', /not valid yet/);
  });
  it('issued in the future → 401', async () => {
    await refused(bearer(await issuers.token({ agency: 'test-police', issuedAt: 600, expiresIn: 900 })), 401, 'invalid_token', /future/);
  });
  it('issued more than a day ago (yet still unexpired) → 401', async () => {
    await refused(
      bearer(await issuers.token({ agency: 'test-police', issuedAt: -2 * 86_400, expiresIn: 600 })),
      401,
      'invalid_token',
      /too long ago/,
    );
  });
  it.each(['exp', 'iat', 'client_id', 'sub'])('without "%s" → 401', async (claim) => {
    await refused(
      bearer(await issuers.token({ agency: 'test-police', claims: { [claim]: undefined } })),
      401,
      'invalid_token',
      new RegExp(claim),
    );
  });
});

describe('issuer and audience', () => {
  it('an untrusted issuer → 401, and the gateway never contacts it', async () => {
    const token = await rogue.token({ agency: 'test-police' });
    await refused(bearer(token), 401, 'invalid_token', /not issued by an agency the gateway trusts/);
    expect(rogue.requests.size).toBe(0);
  });

  it("an untrusted issuer claiming a trusted iss → 401 (its key is not the trusted issuer's)", async () => {
    const token = await rogue.token({ agency: 'test-police', issuer: issuers.issuerFor('test-police') });
    await refused(bearer(token), 401, 'invalid_token');
    expect(rogue.requests.size).toBe(0);
  });

  it('no iss → 401', async () => {
    await refused(
      bearer(await issuers.token({ agency: 'test-police', claims: { iss: undefined } })),
      401,
      'invalid_token',
      /not issued by an agency the gateway trusts/,
    );
  });

  it('signed by one trusted issuer, claiming another trusted issuer → 401', async () => {
    const token = await issuers.token({ agency: 'test-csc', signWith: 'test-police' });
    await refused(bearer(token), 401, 'invalid_token');
  });

  it.each([['urn:another-api'], [['urn:another-api', 'urn:third']], ['']])('wrong audience %j → 401', async (audience) => {
    await refused(bearer(await issuers.token({ agency: 'test-police', audience })), 401, 'invalid_token', /audience/);
  });

  it('an ID token (typ JWT, or no typ, aud = client) used as an access token → 401', async () => {
    const asIdToken = {
      agency: 'test-police',
      clientId: 'test-police-web',
      sub: 'officer-1',
      role: 'police_officer',
      audience: 'test-police-web',
      claims: { nonce: 'n' },
    } as const;
    await refused(bearer(await issuers.token({ ...asIdToken, typ: 'JWT' })), 401, 'invalid_token', /not an access token/);
    await refused(bearer(await issuers.token({ ...asIdToken, typ: null })), 401, 'invalid_token', /not an access token/);
    // Even with the gateway's audience, an ID token's typ gives it away.
    await refused(
      bearer(await issuers.token({ ...asIdToken, audience: issuers.audience, typ: 'JWT' })),
      401,
      'invalid_token',
      /not an access token/,
    );
  });
});

describe('one agency can never act as another', () => {
  it("agency A's issuer minting a token for agency B's client id → 401 unknown agency", async () => {
    const token = await issuers.token({ agency: 'test-police', clientId: 'test-csc-system', role: 'auditor' });
    await refused(bearer(token), 401, 'invalid_token', /Unknown agency/);
  });

  it('a client id unknown to the registry → 401 unknown agency', async () => {
    await refused(
      bearer(await issuers.token({ agency: 'test-police', clientId: 'test-police-shadow' })),
      401,
      'invalid_token',
      /Unknown agency/,
    );
  });

  it('an agency_id claim naming another agency → 401', async () => {
    await refused(
      bearer(await issuers.token({ agency: 'test-police', claims: { agency_id: 'test-csc' } })),
      401,
      'invalid_token',
      /different agency/,
    );
  });

  it('two agencies at one shared issuer: each client acts only for its own agency', async () => {
    const shared = await startTestIssuers([
      { agencyType: 'police', id: 'region-police' },
      { agencyType: 'childrens_social_care', id: 'region-csc', sharesIssuerWith: 'region-police' },
    ]);
    try {
      const v = createTokenVerifier({ agencies: shared.agencies, audience: shared.audience, allowInsecureIssuers: true });
      expect(shared.issuerFor('region-csc')).toBe(shared.issuerFor('region-police'));
      const police = await v.verify(bearer(await shared.token({ agency: 'region-police' })), {});
      const csc = await v.verify(bearer(await shared.token({ agency: 'region-police', clientId: 'region-csc-system' })), {});
      expect(police.ok && police.value.agency.id).toBe('region-police');
      expect(csc.ok && csc.value.agency.id).toBe('region-csc');
    } finally {
      await shared.close();
    }
  });
});

describe('roles', () => {
  it('a vocabulary role the agency may not use → 403 forbidden', async () => {
    const token = await issuers.token({ agency: 'test-police', clientId: 'test-police-web', sub: 'pc-1', role: 'social_worker' });
    await refused(bearer(token), 403, 'forbidden', /may not act in the role "social_worker"/);
  });

  it('a client token claiming a role its agency may not use → 403', async () => {
    await refused(bearer(await issuers.token({ agency: 'test-school', role: 'auditor' })), 403, 'forbidden');
  });

  it('an unknown role word → 403 naming the word and the allowed values', async () => {
    const e = await refused(
      bearer(await issuers.token({ agency: 'test-police', sub: 'pc-1', role: 'superuser' })),
      403,
      'forbidden',
      /"superuser"/,
    );
    expect(e.detail).toContain('police_officer');
    await refused(
      bearer(await issuers.token({ agency: 'test-police', sub: 'pc-1', claims: { role: ['police_officer'] } })),
      403,
      'forbidden',
    );
  });

  it('a person claiming the system role, or no role at all → 403', async () => {
    await refused(bearer(await issuers.token({ agency: 'test-police', sub: 'pc-1', role: 'system' })), 403, 'forbidden', /system/);
    await refused(bearer(await issuers.token({ agency: 'test-police', sub: 'pc-1' })), 403, 'forbidden', /no role/);
  });

  it('a scope claim that is not a string → 401', async () => {
    await refused(bearer(await issuers.token({ agency: 'test-police', claims: { scope: ['decisions'] } })), 401, 'invalid_token', /scope/);
  });
});

describe('certificate-bound tokens (RFC 8705)', () => {
  const thumbprint = createHash('sha256').update('a client certificate').digest('base64url');
  const bound = () => issuers.token({ agency: 'test-police', claims: { cnf: { 'x5t#S256': thumbprint } } });

  it('without a client certificate → 401', async () => {
    await refused(bearer(await bound()), 401, 'invalid_token', /bound to a client certificate/);
  });
  it('with another certificate → 401', async () => {
    const other = createHash('sha256').update('another certificate').digest('base64url');
    await refused(bearer(await bound()), 401, 'invalid_token', /different client certificate/, { clientCertThumbprint: other });
  });
  it('with the right certificate → accepted', async () => {
    const result = await verifier.verify(bearer(await bound()), { clientCertThumbprint: thumbprint });
    expect(result.ok).toBe(true);
  });
  it('a certificate-bound token accepted once is not accepted from the cache without its certificate', async () => {
    const token = bearer(await bound());
    expect((await verifier.verify(token, { clientCertThumbprint: thumbprint })).ok).toBe(true);
    await refused(token, 401, 'invalid_token', /bound to a client certificate/);
    const other = createHash('sha256').update('another certificate').digest('base64url');
    await refused(token, 401, 'invalid_token', /different client certificate/, { clientCertThumbprint: other });
  });
  it('a DPoP-bound token (cnf.jkt) presented as Bearer → 401', async () => {
    await refused(
      bearer(await issuers.token({ agency: 'test-police', claims: { cnf: { jkt: thumbprint } } })),
      401,
      'invalid_token',
      /does not support/,
    );
  });
});
