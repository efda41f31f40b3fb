/**
 * Access tokens against the people who would forge, replay or stretch them: the token itself. Every token here is
 * really signed (jose) and verified over real HTTP discovery + JWKS from local test issuers; nothing is mocked.
 * A valid token and the verified-token cache; the Authorization header; signature and algorithm attacks; headers
 * that name their own key. Its claims (time, issuer, audience, agency, role, certificate binding) are in
 * jwt-claims.test.ts, where trust comes from (issuers down, start-up checks, the registry file) in jwt-trust.test.ts,
 * the Express middleware in jwt-express.test.ts; the verifier under attack is tests/support/jwt-verifier.ts.
 */
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey } from 'jose';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier';
import type { TestIssuers } from '../support/token-factory';
import { REALM, bearer, b64json, parts, useTrustedIssuers } from '../support/jwt-verifier';

const trust = useTrustedIssuers();
const { refused } = trust;
let issuers: TestIssuers;
let verifier: TokenVerifier;
beforeAll(() => {
  ({ issuers, verifier } = trust);
});

describe('a valid token', () => {
  it('gives the Principal of the right agency (client acting alone → role system)', async () => {
    const token = await issuers.token({ agency: 'test-police', scope: 'decisions records:read' });
    const result = await verifier.verify(bearer(token), {});
    if (!result.ok) throw result.error;
    const p = result.value;
    expect(p.agency.id).toBe('test-police');
    expect(p.agency.agencyType).toBe('police');
    expect(p.issuer).toBe(issuers.issuerFor('test-police'));
    expect(p.clientId).toBe('test-police-system');
    expect(p.role).toBe('system');
    expect(p.practitioner).toBeUndefined();
    expect([...p.scopes].sort()).toEqual(['decisions', 'records:read']);
    expect(p.tokenId).toEqual(expect.any(String));
    expect(p.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('names the practitioner when a person acts (sub differs from client_id)', async () => {
    const token = await issuers.token({
      agency: 'test-school',
      clientId: 'test-school-web',
      sub: 'dsl-7',
      name: 'Helen Carter',
      role: 'designated_safeguarding_lead',
    });
    const result = await verifier.verify(bearer(token), {});
    if (!result.ok) throw result.error;
    expect(result.value.role).toBe('designated_safeguarding_lead');
    expect(result.value.practitioner).toEqual({ subject: 'dsl-7', name: 'Helen Carter' });
  });

  it.each(['RS256', 'PS256', 'EdDSA'] as const)('is accepted when signed with %s (an allowed algorithm)', async (alg) => {
    const result = await verifier.verify(bearer(await issuers.token({ agency: 'test-csc', alg })), {});
    expect(result.ok).toBe(true);
  });

  it('is accepted within the clock tolerance (expired 10 s ago, 30 s allowed)', async () => {
    const result = await verifier.verify(bearer(await issuers.token({ agency: 'test-police', expiresIn: -10 })), {});
    expect(result.ok).toBe(true);
  });
});

describe('the verified-token cache', () => {
  it('remembers a token no longer than its expiry', async () => {
    const token = bearer(await issuers.token({ agency: 'test-police', expiresIn: 2 }));
    expect((await verifier.verify(token, {})).ok).toBe(true);
    expect((await verifier.verify(token, {})).ok).toBe(true);
    // Past exp + the 30 s clock tolerance is too long to wait: a fresh verifier with no tolerance shows the bound.
    const strict = createTokenVerifier({
      agencies: issuers.agencies,
      audience: issuers.audience,
      allowInsecureIssuers: true,
      clockToleranceSeconds: 0,
    });
    const short = bearer(await issuers.token({ agency: 'test-police', expiresIn: 1 }));
    expect((await strict.verify(short, {})).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await strict.verify(short, {});
    expect(again.ok).toBe(false);
  });
  it('never remembers a refusal: a token refused once is refused again, and a good one is still accepted', async () => {
    const forged = `${(await issuers.token({ agency: 'test-police' })).slice(0, -4)}AAAA`;
    expect((await verifier.verify(bearer(forged), {})).ok).toBe(false);
    expect((await verifier.verify(bearer(forged), {})).ok).toBe(false);
  });
});

describe('the Authorization header', () => {
  it('missing → 401 unauthenticated with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    const e = await refused(undefined, 401, 'unauthenticated');
    expect(e.extras.wwwAuthenticate).toBe(REALM);
    await refused('', 401, 'unauthenticated');
  });

  it.each(['Basic dXNlcjpwYXNz', 'Token abc', 'DPoP eyJ.eyJ.sig', 'Bearerx.y.z'])(
    'another scheme (%s) → 401 unauthenticated',
    async (value) => {
      await refused(value, 401, 'unauthenticated', /Bearer/);
    },
  );

  it.each([
    'Bearer',
    'Bearer ',
    'Bearer abc',
    'Bearer a.b',
    'Bearer a.b.c.d.e',
    'Bearer a.b.',
    'Bearer a b c',
    'Bearer a.b.c,Bearer d.e.f',
  ])('malformed (%j) → 401 invalid_token', async (value) => {
    await refused(value, 401, 'invalid_token', /malformed/);
  });

  it('three base64url parts that are not JSON → 401 malformed', async () => {
    await refused('Bearer aaaa.bbbb.cccc', 401, 'invalid_token', /malformed/);
  });

  it('an oversized token is refused before it is decoded', async () => {
    const token = await issuers.token({ agency: 'test-police', claims: { padding: 'x'.repeat(9000) } });
    await refused(bearer(token), 401, 'invalid_token', /larger than the gateway accepts/);
  });
});

describe('signature and algorithm attacks', () => {
  it('alg "none" (no signature, or a fake one) → 401', async () => {
    const valid = await issuers.token({ agency: 'test-police' });
    const payload = parts(valid)[1];
    await refused(bearer(`${b64json({ alg: 'none', typ: 'at+jwt' })}.${payload}.`), 401, 'invalid_token');
    await refused(bearer(`${b64json({ alg: 'none', typ: 'at+jwt' })}.${payload}.AAAA`), 401, 'invalid_token', /algorithm/);
    await refused(bearer(`${b64json({ alg: 'None', typ: 'at+jwt' })}.${payload}.AAAA`), 401, 'invalid_token', /algorithm/);
  });

  it("HS256 signed with the issuer's public RSA or EC key as the HMAC secret (key confusion) → 401", async () => {
    const jwks = issuers.jwks('test-police').keys;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: issuers.issuerFor('test-police'),
      aud: issuers.audience,
      client_id: 'test-police-system',
      sub: 'test-police-system',
      iat: now,
      exp: now + 300,
    };
    for (const jwk of jwks.filter((k) => k.kty === 'RSA' || k.kty === 'EC')) {
      const publicKey = await importJWK(jwk, jwk.alg);
      const secrets = [new TextEncoder().encode(await exportSPKI(publicKey as CryptoKey)), new TextEncoder().encode(JSON.stringify(jwk))];
      for (const secret of secrets) {
        const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid }).sign(secret);
        await refused(bearer(forged), 401, 'invalid_token', /algorithm/);
      }
    }
  });

  it('a tampered payload (role raised after signing) → 401 bad signature', async () => {
    const token = await issuers.token({ agency: 'test-school', sub: 'teacher-1', role: 'practitioner' });
    const [h, p, s] = parts(token);
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const raised = b64json({ ...claims, role: 'designated_safeguarding_lead' });
    await refused(bearer(`${h}.${raised}.${s}`), 401, 'invalid_token', /signature/);
  });

  it.each([
    ['path traversal', '../../etc/passwd'],
    ['SQL', "' OR '1'='1' --"],
    ['SQL with quotes', '"; DROP TABLE agencies; --'],
    ['a URL', 'http://attacker.example/key'],
    ['a NUL byte', '\u0000'],
    ['2000 characters', 'x'.repeat(2000)],
  ])('kid injection (%s) → 401, and the JWKS is not refetched for every bad kid', async (_label, kid) => {
    const before = issuers.requests.get('/test-police/jwks') ?? 0;
    for (let i = 0; i < 3; i++) {
      await refused(
        bearer(await issuers.token({ agency: 'test-police', header: { kid } })),
        401,
        'invalid_token',
        /not signed with a key its issuer publishes/,
      );
    }
    expect((issuers.requests.get('/test-police/jwks') ?? 0) - before).toBeLessThanOrEqual(1);
  });

  it('an attacker key with a trusted kid → 401', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const trustedKid = issuers.jwks('test-police').keys.find((k) => k.alg === 'ES256')?.kid ?? '';
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({
      iss: issuers.issuerFor('test-police'),
      aud: issuers.audience,
      client_id: 'test-police-system',
      sub: 'test-police-system',
      iat: now,
      exp: now + 300,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: trustedKid })
      .sign(privateKey);
    await refused(bearer(forged), 401, 'invalid_token', /signature/);
  });
});

describe('headers that name their own key are never honoured', () => {
  it('jwk: an embedded attacker key that really did sign the token → 401', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({
      iss: issuers.issuerFor('test-police'),
      aud: issuers.audience,
      client_id: 'test-police-system',
      sub: 'test-police-system',
      iat: now,
      exp: now + 300,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    await refused(bearer(forged), 401, 'invalid_token', /names its own key \(jwk\)/);
  });

  it.each([
    ['jku', 'http://attacker.example/jwks.json'],
    ['x5u', 'http://attacker.example/cert.pem'],
    ['x5c', ['MIIBszCCAVmgAwIBAgIUDummy']],
    ['jwk', { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }],
  ])('%s, even on a token the trusted issuer really signed → 401', async (name, value) => {
    const token = await issuers.token({ agency: 'test-police', header: { [name]: value } });
    await refused(bearer(token), 401, 'invalid_token', new RegExp(`names its own key \\(${name}\\)`));
  });
});
