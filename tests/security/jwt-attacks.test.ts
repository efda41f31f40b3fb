/**
 * Access tokens against the people who would forge, replay or stretch them. Every token here is really signed (jose)
 * and verified over real HTTP discovery + JWKS from local test issuers; nothing is mocked.
 * Invariant 2 (fail closed): unknown issuer, unknown agency, unknown role word → refused, with a reason.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { base64url, exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey } from 'jose';
import { GatewayError } from '../../src/errors';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier';
import { principalOf, requireAuth, requireRole, requireScope } from '../../src/auth/middleware';
import { AgencyRegistryError, loadAgencyRegistry } from '../../src/auth/registry';
import { sendProblem } from '../../src/http/problem';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';

const REALM = 'Bearer realm="safeguard-gateway"';

let issuers: TestIssuers;
let rogue: TestIssuers;
let verifier: TokenVerifier;

beforeAll(async () => {
  issuers = await startTestIssuers(['police', 'csc', 'school', 'mash'], { algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'] });
  // An issuer the gateway does not trust, minting tokens that look exactly like a trusted agency's.
  rogue = await startTestIssuers(['police']);
  verifier = createTokenVerifier({ agencies: issuers.agencies, audience: issuers.audience, allowInsecureIssuers: true });
});
afterAll(async () => {
  await issuers?.close();
  await rogue?.close();
});

async function refused(authorization: string | undefined, status: number, code: string, detail?: RegExp, ctx = {}): Promise<GatewayError> {
  const result = await verifier.verify(authorization, ctx);
  if (result.ok) throw new Error(`expected a refusal (${code}), got a principal for ${result.value.agency.id}`);
  const error = result.error;
  expect(error).toBeInstanceOf(GatewayError);
  expect({ status: error.status, code: error.code }).toEqual({ status, code });
  if (detail) expect(error.detail).toMatch(detail);
  if (status === 401) expect(error.extras.wwwAuthenticate).toMatch(/^Bearer realm="safeguard-gateway"/);
  if (code === 'invalid_token') expect(error.extras.wwwAuthenticate).toContain('error="invalid_token"');
  // Never echo the token.
  const token = authorization?.split(' ').pop() ?? '';
  if (token.length > 20) {
    for (const part of token.split('.'))
      if (part.length > 8) expect(`${error.detail} ${error.extras.wwwAuthenticate ?? ''}`).not.toContain(part);
  }
  return error;
}

const bearer = (token: string): string => `Bearer ${token}`;
const b64json = (value: unknown): string => base64url.encode(JSON.stringify(value));
const parts = (token: string): [string, string, string] => token.split('.') as [string, string, string];

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

describe('an issuer that is down', () => {
  it("refuses with 503 not_ready (not the caller's fault), reports it, and recovers when it is back", async () => {
    let up = false;
    const server = http.createServer((req, res) => {
      if (!up) return void res.writeHead(503).end();
      const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}/late`;
      if (req.url === '/late/.well-known/openid-configuration')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      if (req.url === '/late/jwks')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issuers.jwks('test-police')));
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}/late`;
      const v = createTokenVerifier({
        agencies: [{ id: 'late', name: 'Late Agency', agencyType: 'police', issuer, clientIds: ['late-system'], allowedRoles: ['system'] }],
        audience: issuers.audience,
        allowInsecureIssuers: true,
        discoveryRetrySeconds: 0,
      });
      const token = await issuers.token({ agency: 'test-police', issuer, clientId: 'late-system' });
      const down = await v.verify(bearer(token), {});
      expect(!down.ok && { code: down.error.code, status: down.error.status, retry: down.error.extras.retryAfterSeconds }).toEqual({
        code: 'not_ready',
        status: 503,
        retry: 5,
      });
      expect(await v.checkIssuers()).toEqual([expect.objectContaining({ issuer, ok: false })]);
      up = true;
      const back = await v.verify(bearer(token), {});
      expect(back.ok && back.value.agency.id).toBe('late');
      expect(await v.checkIssuers()).toEqual([{ issuer, ok: true }]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('every trusted issuer reports ready', async () => {
    const checks = await verifier.checkIssuers();
    expect(checks).toHaveLength(4);
    expect(checks.every((c) => c.ok)).toBe(true);
  });
});

describe('start-up refuses an unsafe configuration', () => {
  const agency = { id: 'a', name: 'A', agencyType: 'police' as const, clientIds: ['a'], allowedRoles: ['system' as const] };
  it('a plain-http issuer without allowInsecureIssuers', () => {
    expect(() =>
      createTokenVerifier({ agencies: [{ ...agency, issuer: 'http://idp.example/a' }], audience: 'urn:x', allowInsecureIssuers: false }),
    ).toThrow(/not https/);
  });
  it('an unresolved development issuer template', () => {
    expect(() =>
      createTokenVerifier({ agencies: [{ ...agency, issuer: 'devidp:a' }], audience: 'urn:x', allowInsecureIssuers: true }),
    ).toThrow(/development template/);
  });
  it('one client id at one issuer registered to two agencies', () => {
    const twice = [
      { ...agency, issuer: 'https://idp.example/r' },
      { ...agency, id: 'b', issuer: 'https://idp.example/r' },
    ];
    expect(() => createTokenVerifier({ agencies: twice, audience: 'urn:x', allowInsecureIssuers: false })).toThrow(/share a client id/);
  });
  it('symmetric or "none" algorithms', () => {
    expect(() =>
      createTokenVerifier({ agencies: [], audience: 'urn:x', allowInsecureIssuers: false, algorithms: ['ES256', 'HS256'] }),
    ).toThrow(/asymmetric/);
    expect(() => createTokenVerifier({ agencies: [], audience: 'urn:x', allowInsecureIssuers: false, algorithms: ['none'] })).toThrow(
      /asymmetric/,
    );
  });
});

describe('the trust registry file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-registry-'));
  const write = (name: string, agencies: unknown[]): string => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify({ agencies }));
    return file;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = {
    id: 'x-police',
    name: 'X Police',
    agencyType: 'police',
    issuer: 'https://idp.example/x',
    clientIds: ['x-system'],
    allowedRoles: ['system'],
  };

  it('the demo registry loads: Northshire agencies, each with its own issuer', () => {
    const agencies = loadAgencyRegistry('config/agencies.dev.json');
    expect(agencies.length).toBeGreaterThanOrEqual(7);
    expect(new Set(agencies.map((a) => a.issuer)).size).toBe(agencies.length);
    expect(agencies.every((a) => a.issuer === `devidp:${a.id}`)).toBe(true);
  });

  it('an unknown agencyType or role names the file, the agency, the word and the allowed values', () => {
    const file = write('bad-words.json', [{ ...base, agencyType: 'polise', allowedRoles: ['system', 'sherrif'] }]);
    let error: unknown;
    try {
      loadAgencyRegistry(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AgencyRegistryError);
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(
      /agency "x-police": agencyType "polise" is not a word of the sharing vocabulary; allowed values: police, childrens_social_care/,
    );
    expect(message).toMatch(/agency "x-police": role "sherrif" is not a word of the sharing vocabulary; allowed values: practitioner/);
  });

  it('one (issuer, client id) pair may belong to one agency only; ids are unique', () => {
    expect(() => loadAgencyRegistry(write('pair.json', [base, { ...base, id: 'x-csc', agencyType: 'childrens_social_care' }]))).toThrow(
      /client "x-system" at issuer https:\/\/idp.example\/x already belongs to agency "x-police"/,
    );
    expect(() => loadAgencyRegistry(write('dup.json', [base, { ...base, clientIds: ['other'] }]))).toThrow(
      /"x-police" appears more than once/,
    );
    // The same client id at two different issuers is two different clients.
    expect(loadAgencyRegistry(write('ok.json', [base, { ...base, id: 'y', issuer: 'https://idp.example/y' }]))).toHaveLength(2);
  });

  it('unknown properties, bad issuers and missing fields are refused', () => {
    expect(() => loadAgencyRegistry(write('extra.json', [{ ...base, trustEverything: true }]))).toThrow(
      /unknown property "trustEverything"/,
    );
    expect(() => loadAgencyRegistry(write('iss.json', [{ ...base, issuer: 'ftp://idp.example' }]))).toThrow(/issuer must be/);
    expect(() => loadAgencyRegistry(write('missing.json', [{ ...base, clientIds: undefined }]))).toThrow(/missing "clientIds"/);
    expect(() => loadAgencyRegistry(path.join(dir, 'absent.json'))).toThrow(/cannot be read/);
  });
});

describe('through Express (requireAuth, requireRole, requireScope)', () => {
  function app(): express.Express {
    const a = express();
    a.get('/whoami', requireAuth(verifier), (_req, res) => {
      const p = principalOf(res);
      res.json({ agency: p.agency.id, role: p.role, practitioner: p.practitioner ?? null });
    });
    a.get('/decide', requireAuth(verifier), requireScope('decisions'), (_req, res) => void res.json({ ok: true }));
    a.get('/audit', requireAuth(verifier), requireRole('auditor'), (_req, res) => void res.json({ ok: true }));
    a.get('/unguarded', (_req, res) => void res.json(principalOf(res)));
    a.use((e: unknown, _req: Request, res: Response, _next: NextFunction) => {
      sendProblem(res, e instanceof GatewayError ? e : new GatewayError('internal', 'unexpected'));
    });
    return a;
  }

  it('200 with the principal for a valid token', async () => {
    const token = await issuers.token({ agency: 'test-csc', sub: 'sw-1', role: 'social_worker' });
    const res = await request(app()).get('/whoami').set('Authorization', bearer(token));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ agency: 'test-csc', role: 'social_worker', practitioner: { subject: 'sw-1' } });
  });

  it('401 problem+json with WWW-Authenticate for a missing or bad token', async () => {
    const missing = await request(app()).get('/whoami');
    expect(missing.status).toBe(401);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.headers['www-authenticate']).toBe(REALM);
    expect(missing.body.code).toBe('unauthenticated');

    const expired = await request(app())
      .get('/whoami')
      .set('Authorization', bearer(await issuers.token({ agency: 'test-police', expiresIn: -300 })));
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toMatch(
      /^Bearer realm="safeguard-gateway", error="invalid_token", error_description="The access token has expired/,
    );
    expect(expired.body.code).toBe('invalid_token');
  });

  it('403 for a role the agency may not use', async () => {
    const res = await request(app())
      .get('/whoami')
      .set('Authorization', bearer(await issuers.token({ agency: 'test-police', sub: 'x', role: 'auditor' })));
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('forbidden');
  });

  it('requireScope: 403 insufficient_scope naming the scope', async () => {
    const res = await request(app())
      .get('/decide')
      .set('Authorization', bearer(await issuers.token({ agency: 'test-police', scope: 'records:read' })));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    expect(res.headers['www-authenticate']).toMatch(/scope="decisions"/);
    const ok = await request(app())
      .get('/decide')
      .set('Authorization', bearer(await issuers.token({ agency: 'test-police', scope: 'decisions' })));
    expect(ok.status).toBe(200);
  });

  it('requireRole: 403 for another role, 200 for the role', async () => {
    const police = await request(app())
      .get('/audit')
      .set('Authorization', bearer(await issuers.token({ agency: 'test-police', scope: 'audit:read' })));
    expect(police.status).toBe(403);
    expect(police.body.detail).toMatch(/auditor/);
    const auditor = await request(app())
      .get('/audit')
      .set('Authorization', bearer(await issuers.token({ agency: 'test-csc', sub: 'aud-1', role: 'auditor' })));
    expect(auditor.status).toBe(200);
  });

  it('principalOf without requireAuth fails closed (401)', async () => {
    const res = await request(app()).get('/unguarded');
    expect(res.status).toBe(401);
  });

  it('over TLS: a certificate-bound token works only with its client certificate', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-mtls-'));
    const make = (name: string): void => {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          `/CN=${name}`,
          '-keyout',
          path.join(dir, `${name}.key`),
          '-out',
          path.join(dir, `${name}.crt`),
        ],
        { stdio: 'ignore' },
      );
    };
    make('server');
    make('client');
    make('intruder');
    const read = (f: string): Buffer => readFileSync(path.join(dir, f));
    const thumbprint = createHash('sha256')
      .update(new X509Certificate(read('client.crt')).raw)
      .digest('base64url');
    const server = https.createServer(
      { key: read('server.key'), cert: read('server.crt'), requestCert: true, rejectUnauthorized: false },
      app(),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const token = await issuers.token({ agency: 'test-police', claims: { cnf: { 'x5t#S256': thumbprint } } });
    const call = (cert?: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/whoami',
            headers: { authorization: bearer(token) },
            rejectUnauthorized: false,
            ...(cert ? { key: read(`${cert}.key`), cert: read(`${cert}.crt`) } : {}),
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await call('client')).toBe(200);
      expect(await call('intruder')).toBe(401);
      expect(await call()).toBe(401);
    } finally {
      server.closeAllConnections();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
