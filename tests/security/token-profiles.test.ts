/**
 * Every token profile over real HTTP: tokens shaped exactly like each provider's documented examples
 * (tests/support/provider-tokens.ts), really signed by a local issuer at the provider's own issuer path, found by
 * OpenID discovery + JWKS — accepted; and for each profile the forgeries refused. Opaque tokens through RFC 7662
 * introspection against a small local introspection endpoint (client authentication, down → 503, cache bounds).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { base64url, exportSPKI, importJWK, SignJWT, type CryptoKey } from 'jose';
import { manualClock } from '../../src/auth/clock';
import type { Agency } from '../../src/auth/registry';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier';
import { startProviderIssuers, type ProviderIssuers } from '../support/provider-issuer';
import { introspectionResponse, PROVIDER_CASES, type ProviderCase } from '../support/provider-tokens';

let host: ProviderIssuers;
let rogue: ProviderIssuers;
let agencies: Agency[];
let verifier: TokenVerifier;
const issuerOf = new Map<string, string>();
const now = (): number => Math.floor(Date.now() / 1000);
const bearer = (t: string): string => `Bearer ${t}`;

beforeAll(async () => {
  host = await startProviderIssuers();
  rogue = await startProviderIssuers();
  agencies = [];
  for (const c of PROVIDER_CASES) {
    const issuer = await host.add(c.issuerPath);
    await rogue.add(c.issuerPath);
    issuerOf.set(c.profile, issuer);
    agencies.push({ ...c.agency, issuer });
  }
  verifier = createTokenVerifier({ agencies, audience: 'urn:safeguard-gateway', allowInsecureIssuers: true });
});
afterAll(async () => {
  await host?.close();
  await rogue?.close();
});

async function expectRefused(token: string, status: number, detail: RegExp, v: TokenVerifier = verifier): Promise<void> {
  const result = await v.verify(bearer(token), {});
  if (result.ok)
    throw new Error(
      `expected a ${status} refusal matching ${detail}, got a principal for ${result.value.agency.id} (${result.value.role})`,
    );
  expect({ status: result.error.status, detail: result.error.detail }).toEqual({ status, detail: expect.stringMatching(detail) });
}

describe.each(PROVIDER_CASES.map((c) => [c.profile, c] as const))('%s', (_name, c: ProviderCase) => {
  const iss = (): string => issuerOf.get(c.profile) ?? '';
  const sign = (payload: Record<string, unknown>, header = c.header): Promise<string> => host.sign(iss(), header, payload);

  it("the documented client-credentials token is accepted as the agency's system", async () => {
    const result = await verifier.verify(bearer(await sign(c.app(iss(), now()))), {});
    if (!result.ok) throw result.error;
    expect(result.value.agency.id).toBe(c.agency.id);
    expect(result.value.role).toBe(c.expected.app.role);
    expect([...result.value.scopes].sort()).toEqual([...c.expected.app.scopes].sort());
  });

  it('the documented practitioner token is accepted with the mapped role', async () => {
    const result = await verifier.verify(bearer(await sign(c.person(iss(), now()))), {});
    if (!result.ok) throw result.error;
    expect({ role: result.value.role, subject: result.value.practitioner?.subject }).toEqual({
      role: c.expected.person.role,
      subject: c.expected.person.subject,
    });
  });

  it('forged: wrong issuer or tenant (an untrusted issuer at the same path elsewhere) → 401', async () => {
    await expectRefused(
      await rogue.sign(`${rogue.baseUrl}${c.issuerPath}`, c.header, c.app(`${rogue.baseUrl}${c.issuerPath}`, now())),
      401,
      /not issued by an agency the gateway trusts/,
    );
    const otherTenant = iss().replace(/\/(sts\/)?[^/]+(\/v2\.0|\/)?$/, (m) =>
      m.replace(/[0-9a-f]{4}/, 'ffff').replace(/northshire|auth\/|oauth2\//, (x) => `x${x}`),
    );
    if (otherTenant !== iss())
      await expectRefused(await sign({ ...c.app(otherTenant, now()) }), 401, /not issued by an agency the gateway trusts/);
  });

  it('forged: the trusted iss signed with another key → 401 signature', async () => {
    await expectRefused(
      await rogue.sign(`${rogue.baseUrl}${c.issuerPath}`, { ...c.header, kid: host.jwks(iss()).keys[0]?.kid }, c.app(iss(), now())),
      401,
      /signature/,
    );
  });

  it('forged: wrong audience → 401', async () => {
    await expectRefused(await sign({ ...c.app(iss(), now()), aud: 'https://another-api.example' }), 401, /wrong audience/);
  });

  it('forged: several audiences → 401 (another API could replay it here)', async () => {
    await expectRefused(
      await sign({ ...c.app(iss(), now()), aud: [c.agency.audience ?? 'urn:safeguard-gateway', 'https://another-api.example'] }),
      401,
      /several audiences/,
    );
  });

  it("forged: another agency's client at this issuer → 401 unknown agency", async () => {
    const other = PROVIDER_CASES.find((o) => o !== c) as ProviderCase;
    const claim = {
      rfc9068: 'client_id',
      'entra-v2': 'azp',
      'entra-v1': 'appid',
      keycloak: 'azp',
      okta: 'cid',
      auth0: 'azp',
      hmpps: 'client_id',
      introspection: 'client_id',
    }[c.profile];
    await expectRefused(await sign({ ...c.app(iss(), now()), [claim]: other.agency.clientIds[0] }), 401, /Unknown agency/);
  });

  it('forged: a role the agency maps to nothing → 403', async () => {
    await expectRefused(await sign(c.unmappedRole(c.person(iss(), now()))), 403, /role|no role/);
  });

  it('forged: alg none → 401', async () => {
    const payload = base64url.encode(JSON.stringify(c.app(iss(), now())));
    const none = base64url.encode(JSON.stringify({ ...c.header, alg: 'none' }));
    await expectRefused(`${none}.${payload}.`, 401, /malformed/);
    await expectRefused(`${none}.${payload}.AAAA`, 401, /algorithm/);
  });

  it("forged: HS256 with the issuer's public key as the secret → 401", async () => {
    const jwk = host.jwks(iss()).keys[0];
    if (!jwk) throw new Error('no key');
    const publicKey = await importJWK(jwk, jwk.alg);
    for (const secret of [
      new TextEncoder().encode(await exportSPKI(publicKey as CryptoKey)),
      new TextEncoder().encode(JSON.stringify(jwk)),
    ]) {
      const forged = await new SignJWT(c.app(iss(), now())).setProtectedHeader({ ...c.header, alg: 'HS256', kid: jwk.kid }).sign(secret);
      await expectRefused(forged, 401, /algorithm/);
    }
  });

  it('forged: expired → 401', async () => {
    await expectRefused(await sign({ ...c.app(iss(), now()), iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 }), 401, /expired/);
  });

  it('forged: the provider\'s ID token → 401 "ID token"', async () => {
    const id = c.idToken(iss(), now());
    await expectRefused(await sign(id.payload, id.header), 401, /This is an ID token/);
  });
});

describe("Auth0's documented user token (for the API and /userinfo)", () => {
  it('is refused by default (two audiences) and accepted where the agency sets allowMultipleAudiences', async () => {
    const c = PROVIDER_CASES.find((p) => p.profile === 'auth0') as ProviderCase;
    const iss = issuerOf.get('auth0') ?? '';
    const token = await host.sign(iss, c.header, { ...c.person(iss, now()), aud: [c.agency.audience ?? '', `${iss}userinfo`] });
    await expectRefused(token, 401, /several audiences/);
    const allowing = createTokenVerifier({
      agencies: agencies.map((a) => (a.tokenProfile === 'auth0' ? { ...a, allowMultipleAudiences: true } : a)),
      audience: 'urn:safeguard-gateway',
      allowInsecureIssuers: true,
    });
    const result = await allowing.verify(bearer(token), {});
    expect(result.ok && result.value.role).toBe('idva');
  });
});

describe('GATEWAY_AUDIENCE is any non-empty string', () => {
  it('an Entra application id (GUID) as the gateway audience', async () => {
    const c = PROVIDER_CASES.find((p) => p.profile === 'entra-v2') as ProviderCase;
    const { audience: _own, ...agency } = { ...c.agency, issuer: issuerOf.get('entra-v2') ?? '' };
    const v = createTokenVerifier({ agencies: [agency], audience: '6e74172b-be56-4843-9ff4-e66a39bb12e3', allowInsecureIssuers: true });
    const result = await v.verify(bearer(await host.sign(agency.issuer, c.header, c.app(agency.issuer, now()))), {});
    expect(result.ok && result.value.agency.id).toBe(c.agency.id);
  });
});

describe('opaque tokens by RFC 7662 introspection', () => {
  const ISSUER = 'https://sign-in.nhs.example/';
  let server: http.Server;
  let endpoint: string;
  let up = true;
  let calls = 0;
  let dir: string;
  const answers = new Map<string, Record<string, unknown>>();
  const clock = manualClock();
  let v: TokenVerifier;
  const nhs: Omit<Agency, 'introspection'> = {
    id: 'nhs-trust',
    name: 'Northshire NHS Trust',
    agencyType: 'hospital',
    issuer: ISSUER,
    clientIds: ['l238j323ds-23ij4', 'nhs-web'],
    allowedRoles: ['system', 'gp', 'caldicott_guardian'],
    tokenProfile: 'introspection',
    audience: 'https://gateway.nhs.example/api',
    roleMap: { R8000: 'gp' },
    scopeMap: { read: 'records:read' },
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sg-introspect-'));
    writeFileSync(path.join(dir, 'secret'), 'gateway-introspection-secret\n', { mode: 0o600 });
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        calls++;
        if (!up) return void res.writeHead(503).end();
        // RFC 6749 §2.3.1: client id and secret are form-urlencoded, then base64 in HTTP Basic.
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
        const [id = '', secret = ''] = Buffer.from(basic, 'base64')
          .toString()
          .split(':')
          .map((p) => decodeURIComponent(p.replace(/\+/g, ' ')));
        if (req.method !== 'POST' || req.url !== '/introspect') return void res.writeHead(404).end();
        if (id !== 'safeguard-gateway' || secret !== 'gateway-introspection-secret')
          return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        const token = new URLSearchParams(body).get('token') ?? '';
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers.get(token) ?? { active: false }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/introspect`;
    v = createTokenVerifier({
      agencies: [
        { ...nhs, introspection: { endpoint, clientId: 'safeguard-gateway', clientSecretFile: path.join(dir, 'secret') } },
        ...agencies,
      ],
      audience: 'urn:safeguard-gateway',
      allowInsecureIssuers: true,
      clock,
    });
  });
  afterAll(() => {
    server?.closeAllConnections();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const opaque = (name: string, answer: Record<string, unknown>): string => {
    const token = `${name}-${Math.random().toString(36).slice(2)}`;
    answers.set(token, answer);
    return token;
  };
  const t = (): number => Math.floor(clock.now() / 1000);

  it("RFC 7662's example answer → the agency's system (client acting alone), scopes mapped", async () => {
    const token = opaque('a', introspectionResponse(ISSUER, t(), { sub: 'l238j323ds-23ij4' }));
    const result = await v.verify(bearer(token), {});
    if (!result.ok) throw result.error;
    expect({ agency: result.value.agency.id, role: result.value.role, scopes: [...result.value.scopes].sort() }).toEqual({
      agency: 'nhs-trust',
      role: 'system',
      scopes: ['decisions', 'records:read', 'write'],
    });
  });
  it('a practitioner (roles from the answer, mapped) → the person', async () => {
    const token = opaque('p', introspectionResponse(ISSUER, t(), { client_id: 'nhs-web', roles: ['R8000'] }));
    const result = await v.verify(bearer(token), {});
    expect(result.ok && { role: result.value.role, subject: result.value.practitioner?.subject }).toEqual({
      role: 'gp',
      subject: 'Z5O3upPC88QrAjx00dis',
    });
  });
  it('inactive → 401', async () => {
    await expectRefused(opaque('i', { active: false }), 401, /not active/, v);
    await expectRefused('never-issued-token', 401, /not active/, v);
  });
  it("forgeries: wrong audience, several audiences, another agency's client, unmapped role, expired, another issuer → refused", async () => {
    await expectRefused(opaque('w', introspectionResponse(ISSUER, t(), { aud: 'https://another-api.example' })), 401, /wrong audience/, v);
    await expectRefused(
      opaque('m', introspectionResponse(ISSUER, t(), { aud: ['https://gateway.nhs.example/api', 'https://another-api.example'] })),
      401,
      /several audiences/,
      v,
    );
    await expectRefused(opaque('c', introspectionResponse(ISSUER, t(), { client_id: 's6BhdRkqt3' })), 401, /Unknown agency/, v);
    await expectRefused(opaque('r', introspectionResponse(ISSUER, t(), { client_id: 'nhs-web', roles: ['R0001'] })), 403, /role/, v);
    await expectRefused(opaque('e', introspectionResponse(ISSUER, t(), { exp: t() - 3600 })), 401, /expired/, v);
    await expectRefused(opaque('x', introspectionResponse(ISSUER, t(), { exp: undefined })), 401, /expiry/, v);
    await expectRefused(
      opaque('s', introspectionResponse('https://other-idp.example/', t())),
      401,
      /not issued by an agency the gateway trusts/,
      v,
    );
    await expectRefused(opaque('f', introspectionResponse(ISSUER, t(), { token_type: 'refresh_token' })), 401, /refresh token/, v);
  });
  it('the endpoint down → 503 not_ready, never an acceptance; back up → accepted', async () => {
    const token = opaque('d', introspectionResponse(ISSUER, t(), { sub: 'l238j323ds-23ij4' }));
    up = false;
    try {
      const down = await v.verify(bearer(token), {});
      expect(!down.ok && { status: down.error.status, code: down.error.code }).toEqual({ status: 503, code: 'not_ready' });
    } finally {
      up = true;
    }
    expect((await v.verify(bearer(token), {})).ok).toBe(true);
  });
  it('the gateway authenticates to the endpoint: a wrong client secret is a 503 (fail closed), not an acceptance', async () => {
    writeFileSync(path.join(dir, 'wrong'), 'not-the-secret');
    const wrong = createTokenVerifier({
      agencies: [{ ...nhs, introspection: { endpoint, clientId: 'safeguard-gateway', clientSecretFile: path.join(dir, 'wrong') } }],
      audience: 'urn:x',
      allowInsecureIssuers: true,
    });
    const result = await wrong.verify(bearer(opaque('k', introspectionResponse(ISSUER, t()))), {});
    expect(!result.ok && result.error.status).toBe(503);
  });
  it('answers are cached no longer than 60 s, and never past exp', async () => {
    const token = opaque('cache', introspectionResponse(ISSUER, t(), { sub: 'l238j323ds-23ij4', exp: t() + 600 }));
    const before = calls;
    expect((await v.verify(bearer(token), {})).ok).toBe(true);
    expect((await v.verify(bearer(token), {})).ok).toBe(true);
    expect(calls - before).toBe(1);
    clock.advance(61_000);
    expect((await v.verify(bearer(token), {})).ok).toBe(true);
    expect(calls - before).toBe(2);

    const short = opaque('short', introspectionResponse(ISSUER, t(), { sub: 'l238j323ds-23ij4', exp: t() + 5 }));
    const at = calls;
    expect((await v.verify(bearer(short), {})).ok).toBe(true);
    clock.advance(6_000);
    answers.set(short, { active: false });
    await expectRefused(short, 401, /not active/, v);
    expect(calls - at).toBe(2);
  });
});
