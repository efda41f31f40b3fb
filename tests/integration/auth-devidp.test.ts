/**
 * The bundled development OpenID provider against the real token verifier: one issuer per Northshire agency on one
 * random port, tokens obtained exactly as agency systems and practitioners would (openid-client: client credentials
 * with private_key_jwt; authorization code + PKCE through the login form), verified over real discovery + JWKS.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { loadAgencyRegistry, type Agency } from '../../src/auth/registry';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { startDevIdp, type DevIdp } from '../../src/devidp/dev-idp';
import { clientKeyFile, issuerKeysFile } from '../../src/devidp/keys';
import { fetchClientCredentialsToken } from '../../src/cli/demo-token';

const AUDIENCE = 'urn:safeguard-gateway';
const REDIRECT_URI = 'http://127.0.0.1:1/auth/callback';

let dataDir: string;
let idp: DevIdp;
let registry: Agency[];
let agencies: Agency[];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-devidp-'));
  registry = loadAgencyRegistry('config/agencies.dev.json');
  idp = await startDevIdp({ host: '127.0.0.1', port: 0, agencies: registry, audience: AUDIENCE, dataDir, webRedirectUri: REDIRECT_URI });
  agencies = registry.map((a) => ({ ...a, issuer: idp.issuerFor(a.id) }));
});
afterAll(async () => {
  await idp?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const verifierFor = (list: readonly Agency[]) => createTokenVerifier({ agencies: list, audience: AUDIENCE, allowInsecureIssuers: true });
const systemToken = (agencyId: string, clientId: string, scope?: string) =>
  fetchClientCredentialsToken({ issuer: idp.issuerFor(agencyId), clientId, dataDir, resource: AUDIENCE, ...(scope ? { scope } : {}) });

describe('development OpenID provider', () => {
  it('serves one issuer per agency, each with its own signing key, kept in 0600 files', async () => {
    const issuers = agencies.map((a) => a.issuer);
    expect(new Set(issuers).size).toBe(agencies.length);
    expect(idp.issuerFor('northshire-police')).toBe(`${idp.baseUrl}/northshire-police`);
    const kids = new Set<string>();
    for (const a of agencies) {
      const meta = (await (await fetch(`${a.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
      expect(meta.issuer).toBe(a.issuer);
      const jwks = (await (await fetch(meta.jwks_uri)).json()) as { keys: Array<{ kid: string; d?: string }> };
      for (const k of jwks.keys) {
        expect(k.d).toBeUndefined();
        kids.add(k.kid);
      }
      expect(statSync(issuerKeysFile(dataDir, a.id)).mode & 0o777).toBe(0o600);
    }
    expect(kids.size).toBe(agencies.length);
    expect(statSync(clientKeyFile(dataDir, 'northshire-police-system')).mode & 0o777).toBe(0o600);
    expect(() => idp.issuerFor('nowhere')).toThrow(/no issuer/);
  });

  it('client credentials with private_key_jwt → a token the verifier accepts as the right agency, role system', async () => {
    const { accessToken, scope } = await systemToken('northshire-police', 'northshire-police-system', 'decisions');
    expect(scope).toBe('decisions');
    const result = await verifierFor(agencies).verify(`Bearer ${accessToken}`, {});
    if (!result.ok) throw result.error;
    expect(result.value.agency.id).toBe('northshire-police');
    expect(result.value.issuer).toBe(idp.issuerFor('northshire-police'));
    expect(result.value.clientId).toBe('northshire-police-system');
    expect(result.value.role).toBe('system');
    expect(result.value.practitioner).toBeUndefined();
    expect([...result.value.scopes]).toEqual(['decisions']);
  });

  it('a fixed-role system client (the auditor) gets its role; scopes it may not have are dropped', async () => {
    const { accessToken } = await systemToken('northshire-csc', 'northshire-csc-audit', 'audit:read decisions');
    const result = await verifierFor(agencies).verify(`Bearer ${accessToken}`, {});
    if (!result.ok) throw result.error;
    expect(result.value.agency.id).toBe('northshire-csc');
    expect(result.value.role).toBe('auditor');
    expect([...result.value.scopes]).toEqual(['audit:read']);
  });

  it('a token from the police issuer is refused where that client id is registered to another issuer', async () => {
    const { accessToken } = await systemToken('northshire-police', 'northshire-police-system');
    // The client id now belongs (only) to Children's Services at its own issuer.
    const moved = agencies.map((a) => {
      if (a.id === 'northshire-police') return { ...a, clientIds: ['northshire-police-web'] };
      if (a.id === 'northshire-csc') return { ...a, clientIds: [...a.clientIds, 'northshire-police-system'] };
      return a;
    });
    const result = await verifierFor(moved).verify(`Bearer ${accessToken}`, {});
    expect(!result.ok && [result.error.status, result.error.code]).toEqual([401, 'invalid_token']);
    expect(!result.ok && result.error.detail).toMatch(/Unknown agency/);

    // And a registry that says the police issuer is Children's Services' issuer cannot make it act as them.
    const swapped = agencies.map((a) =>
      a.id === 'northshire-csc' ? { ...a, issuer: idp.issuerFor('northshire-police'), clientIds: ['northshire-csc-system'] } : a,
    );
    const again = await verifierFor(swapped).verify(`Bearer ${accessToken}`, {});
    expect(again.ok && again.value.agency.id).toBe('northshire-police');
  });

  it("refuses a client assertion signed with a key that is not the client's", async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const realKid = (JSON.parse(readFileSync(clientKeyFile(dataDir, 'northshire-police-system'), 'utf8')) as { kid: string }).kid;
    const attackerJwk = { ...(await exportJWK(privateKey)), kid: realKid, alg: 'ES256' };
    await expect(
      fetchClientCredentialsToken({
        issuer: idp.issuerFor('northshire-police'),
        clientId: 'northshire-police-system',
        privateJwk: attackerJwk,
        resource: AUDIENCE,
      }),
    ).rejects.toThrow(/refused client "northshire-police-system": invalid_client/);
    // Another agency's client key cannot get a token at the police issuer either.
    await expect(
      fetchClientCredentialsToken({
        issuer: idp.issuerFor('northshire-police'),
        clientId: 'northshire-csc-system',
        dataDir,
        resource: AUDIENCE,
      }),
    ).rejects.toThrow(/refused client "northshire-csc-system": invalid_client/);
  });

  it('lists demo accounts and web clients for the practitioner pages', () => {
    expect(idp.accounts.find((a) => a.login === 'dsl@northshire-school')?.role).toBe('designated_safeguarding_lead');
    expect(idp.accounts.find((a) => a.login === 'auditor@northshire-csc')?.role).toBe('auditor');
    expect(idp.webClient('northshire-school')).toEqual({
      clientId: 'northshire-school-web',
      clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/),
    });
    expect(idp.webClient('nowhere')).toBeUndefined();
  });
});

/** A minimal browser: follows nothing by itself, keeps cookies by name. */
class Browser {
  private readonly cookies = new Map<string, string>();
  async go(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<{ status: number; location?: string; body: string }> {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = res.headers.get('location');
    return { status: res.status, body: await res.text(), ...(location ? { location: new URL(location, url).href } : {}) };
  }
}

describe('practitioner sign-in (authorization code + PKCE, devInteractions login form)', () => {
  async function start(agencyId: string) {
    const web = idp.webClient(agencyId);
    if (!web) throw new Error('no web client');
    const config = await client.discovery(
      new URL(idp.issuerFor(agencyId)),
      web.clientId,
      undefined,
      client.ClientSecretBasic(web.clientSecret),
      {
        execute: [client.allowInsecureRequests],
      },
    );
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid profile decisions',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      resource: AUDIENCE,
      prompt: 'login',
    });
    const browser = new Browser();
    const toLogin = await browser.go(url.href);
    expect(toLogin.status).toBe(303);
    const form = await browser.go(toLogin.location ?? '');
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="password"');
    // The GOV.UK-style development sign-in page (src/devidp/login-page.ts), not oidc-provider's debug form.
    expect(form.body).toContain('Development sign-in service');
    expect(form.body).not.toMatch(/fonts\.googleapis|DEBUG|<script/i);
    const action = /action="([^"]+)"/.exec(form.body)?.[1] ?? '';
    return { config, browser, submitUrl: new URL(action, toLogin.location).href, codeVerifier, state, nonce };
  }

  it('a demo practitioner signs in; the access token carries their agency, role and name', async () => {
    const flow = await start('northshire-police');
    const login = await flow.browser.go(flow.submitUrl, {
      method: 'POST',
      form: { prompt: 'login', login: 'officer@northshire-police', password: 'northshire-demo' },
    });
    expect(login.status).toBe(303);
    let next = login.location ?? '';
    for (let i = 0; i < 5 && !next.startsWith(REDIRECT_URI); i++) next = (await flow.browser.go(next)).location ?? '';
    expect(next.startsWith(REDIRECT_URI)).toBe(true);
    const tokens = await client.authorizationCodeGrant(
      flow.config,
      new URL(next),
      { pkceCodeVerifier: flow.codeVerifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true },
      { resource: AUDIENCE },
    );
    expect(tokens.claims()?.name).toBe('PC Sam Okafor');
    const result = await verifierFor(agencies).verify(`Bearer ${tokens.access_token}`, {});
    if (!result.ok) throw result.error;
    expect(result.value.agency.id).toBe('northshire-police');
    expect(result.value.clientId).toBe('northshire-police-web');
    expect(result.value.role).toBe('police_officer');
    expect(result.value.practitioner).toEqual({ subject: 'officer@northshire-police', name: 'PC Sam Okafor' });
    expect(result.value.scopes.has('decisions')).toBe(true);
    // The ID token is not an access token.
    const idToken = tokens.id_token ?? '';
    const refused = await verifierFor(agencies).verify(`Bearer ${idToken}`, {});
    expect(refused.ok).toBe(false);
  });

  it('a wrong password, or an account of another agency, is refused at the login form', async () => {
    const flow = await start('northshire-school');
    const wrong = await flow.browser.go(flow.submitUrl, {
      method: 'POST',
      form: { prompt: 'login', login: 'dsl@northshire-school', password: 'guess-guess' },
    });
    expect(wrong.status).toBe(401);
    const otherAgency = await flow.browser.go(flow.submitUrl, {
      method: 'POST',
      form: { prompt: 'login', login: 'officer@northshire-police', password: 'northshire-demo' },
    });
    expect(otherAgency.status).toBe(401);
    expect(otherAgency.body).toContain('Riverside Primary School');
    // Smuggling a second login past the password check.
    const smuggled = await fetch(flow.submitUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'prompt=login&login=dsl%40northshire-school&password=northshire-demo&login=teacher%40northshire-school',
    });
    expect(smuggled.status).toBe(400);
  });
});

describe('restart', () => {
  it('keeps issuer and client keys in the data directory', async () => {
    const before = readFileSync(issuerKeysFile(dataDir, 'northshire-police'), 'utf8');
    const clientKey = readFileSync(clientKeyFile(dataDir, 'northshire-police-system'), 'utf8');
    const second = await startDevIdp({ port: 0, agencies: registry, audience: AUDIENCE, dataDir });
    try {
      expect(readFileSync(issuerKeysFile(dataDir, 'northshire-police'), 'utf8')).toBe(before);
      expect(readFileSync(clientKeyFile(dataDir, 'northshire-police-system'), 'utf8')).toBe(clientKey);
      const { accessToken } = await fetchClientCredentialsToken({
        issuer: second.issuerFor('northshire-police'),
        clientId: 'northshire-police-system',
        dataDir,
      });
      const secondAgencies = registry.map((a) => ({ ...a, issuer: second.issuerFor(a.id) }));
      const result = await verifierFor(secondAgencies).verify(`Bearer ${accessToken}`, {});
      expect(result.ok && result.value.agency.id).toBe('northshire-police');
    } finally {
      await second.close();
    }
  });
});
