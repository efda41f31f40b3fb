/**
 * Practitioners sign in at their agency's own identity provider, configured only through the trust registry's
 * `webClient` settings: here an OpenID provider (oidc-provider, not the bundled dev IdP) whose web client
 * authenticates with private_key_jwt (the key read from `privateKeyFile`), asked for the registry's `scopes`, with the
 * practitioner's name in a non-standard claim (`nameClaim`) and the role in a `roles` claim mapped by `roleMap`.
 * The whole flow runs over HTTP: the pages' sign-in, the provider's login form, the callback, the session.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import express from 'express';
import pino from 'pino';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Agency } from '../../src/auth/registry';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { loadWebClients, readPrivateKeyFile } from '../../src/auth/web-clients';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { freePort } from '../../src/db/free-port';
import { loadPolicyCatalogue } from '../../src/policy';
import { webRouter } from '../../src/web';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { createIssuerAdapter } from '../../src/devidp/memory-adapter';
import { Pool } from 'pg';

const AUDIENCE = 'api://acme-gateway';
let dir: string;
let idpServer: http.Server;
let gatewayServer: http.Server;
let gatewayUrl: string;
let db: TestDatabase;
let pool: Pool;
let ledger: PgAuditLedger;
let tokenRequests: Array<{ assertion: boolean; scope: string }>;

/** A minimal browser: keeps cookies per origin-independent name, follows nothing by itself. */
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

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sg-web-idp-'));
  tokenRequests = [];
  // The agency's web client key pair: the private key in a file (as an administrator would deploy it), PEM form.
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(path.join(dir, 'acme-web.key.pem'), await exportPKCS8(privateKey), { mode: 0o600 });
  // (through JSON: oidc-provider accepts only plain objects, and jose's export comes from another realm under Jest)
  const publicJwk = JSON.parse(JSON.stringify({ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' })) as Record<string, string>;

  const gatewayPort = await freePort();
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const idpPort = await freePort();
  const issuer = `http://127.0.0.1:${idpPort}`;
  const configuration: Configuration = {
    // Client metadata through an adapter, as the dev IdP does (oidc-provider's static `clients` are structured-cloned
    // into another realm, which its own plain-object check then rejects under Jest).
    adapter: createIssuerAdapter((id) =>
      id !== 'acme-web'
        ? undefined
        : {
            client_id: 'acme-web',
            token_endpoint_auth_method: 'private_key_jwt',
            token_endpoint_auth_signing_alg: 'ES256',
            jwks: { keys: [publicJwk] },
            grant_types: ['authorization_code'],
            response_types: ['code'],
            redirect_uris: [`${gatewayUrl}/auth/callback`],
            scope: 'openid profile',
          },
    ),
    claims: { openid: ['sub'], profile: ['display_name'] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          audience: AUDIENCE,
          scope: 'decisions',
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, display_name: 'Jo Bloggs (Acme)' }) }),
    extraTokenClaims: () => ({ roles: ['Acme.SocialWorker', 'Acme.Everyone'] }),
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid profile');
      grant.addResourceScope(AUDIENCE, [...ctx.oidc.requestParamScopes].filter((s) => s === 'decisions').join(' '));
      await grant.save();
      return grant;
    },
    jwks: {
      keys: [
        JSON.parse(
          JSON.stringify({
            ...(createPrivateKey(await exportPKCS8((await generateKeyPair('ES256', { extractable: true })).privateKey)).export({
              format: 'jwk',
            }) as object),
            alg: 'ES256',
            use: 'sig',
            kid: 'acme-1',
          }),
        ) as never,
      ],
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const params = ctx.oidc.params ?? {};
    tokenRequests.push({
      assertion: typeof params.client_assertion === 'string',
      scope: typeof params.scope === 'string' ? params.scope : '',
    });
  });
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- oidc-provider's Koa callback handles its own errors
  idpServer = http.createServer(provider.callback());
  await new Promise<void>((resolve) => idpServer.listen(idpPort, '127.0.0.1', resolve));

  const agency: Agency = {
    id: 'acme-csc',
    name: "Acme Children's Services",
    agencyType: 'childrens_social_care',
    issuer,
    clientIds: ['acme-web'],
    allowedRoles: ['social_worker'],
    audience: AUDIENCE,
    roleMap: { 'Acme.SocialWorker': 'social_worker' },
    webClient: {
      clientId: 'acme-web',
      privateKeyFile: path.join(dir, 'acme-web.key.pem'),
      scopes: 'openid profile decisions',
      nameClaim: 'display_name',
    },
  };
  const webClients = loadWebClients([agency]);
  db = await createTestDatabase();
  pool = new Pool({ connectionString: db.appUrl, max: 3 });
  ledger = new PgAuditLedger(pool);
  const engine = loadPolicyCatalogue('policies');
  const verifier = createTokenVerifier({ agencies: [agency], audience: 'urn:safeguard-gateway', allowInsecureIssuers: true });
  const web = webRouter({
    engine,
    ledger,
    pool,
    verifier,
    agencies: [agency],
    logger: pino({ level: 'silent' }),
    pseudonymise: pseudonymiser('web-idp-pseudonym-key-web-idp-pseudonym'),
    oidc: { redirectUri: `${gatewayUrl}/auth/callback`, clientFor: (id) => webClients[id], audience: AUDIENCE, allowInsecureIssuers: true },
    session: { secret: randomBytes(32).toString('base64url'), secureCookie: false },
  });
  const app = express();
  app.use((_req, res, next) => {
    res.locals.requestId = randomUUID();
    next();
  });
  app.use(web);
  gatewayServer = http.createServer(app);
  await new Promise<void>((resolve) => gatewayServer.listen(gatewayPort, '127.0.0.1', resolve));
}, 60_000);
afterAll(async () => {
  for (const s of [gatewayServer, idpServer]) {
    s?.closeAllConnections();
    s?.close();
  }
  await ledger?.close();
  await pool?.end();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("practitioner sign-in at the agency's own IdP, from the registry's webClient settings", () => {
  it("private_key_jwt, the registry's scopes, the name from nameClaim, the role from roleMap", async () => {
    const browser = new Browser();
    const chooser = await browser.go(`${gatewayUrl}/sign-in`);
    expect(chooser.status).toBe(200);
    expect(chooser.body).toContain('Acme Children');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(chooser.body)?.[1] ?? '';
    const start = await browser.go(`${gatewayUrl}/sign-in`, { method: 'POST', form: { _csrf: csrf, agency: 'acme-csc' } });
    expect(start.status).toBe(303);
    const authorize = new URL(start.location ?? '');
    expect(authorize.searchParams.get('scope')).toBe('openid profile decisions');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    // The provider's own login form (oidc-provider devInteractions), then its consent, then back to the gateway.
    let step = await browser.go(authorize.href);
    let next = step.location ?? '';
    if (!next)
      throw new Error(
        `the provider answered ${step.status}: ${step.body
          .replace(/<style[\s\S]*<\/style>/, '')
          .replace(/<[^>]+>/g, ' ')
          .replace(/\s+/g, ' ')
          .slice(0, 400)}`,
      );
    for (let i = 0; i < 10 && !next.startsWith(`${gatewayUrl}/auth/callback`); i++) {
      step = await browser.go(next);
      if (step.status === 200) {
        const action = /action="([^"]+)"/.exec(step.body)?.[1] ?? '';
        const prompt = /name="prompt" value="([^"]+)"/.exec(step.body)?.[1] ?? 'login';
        step = await browser.go(new URL(action, next).href, {
          method: 'POST',
          form: prompt === 'login' ? { prompt, login: 'jo.bloggs@acme.example', password: 'any' } : { prompt },
        });
      }
      next = step.location ?? '';
      if (!next)
        throw new Error(
          `the provider answered ${step.status}: ${step.body
            .replace(/<style[\s\S]*<\/style>/, '')
            .replace(/<[^>]+>/g, ' ')
            .replace(/\s+/g, ' ')
            .slice(0, 400)}`,
        );
    }
    expect(next.startsWith(`${gatewayUrl}/auth/callback`)).toBe(true);
    const callback = await browser.go(next);
    expect(callback.status).toBe(303);
    const home = await browser.go(`${gatewayUrl}${callback.location?.replace(gatewayUrl, '') ?? '/'}`);
    expect(home.status).toBe(200);
    expect(home.body).toContain('Jo Bloggs (Acme)');
    expect(tokenRequests.some((r) => r.assertion)).toBe(true);
  });

  it('reads a PEM or JWK private key file, and refuses a missing one naming the agency', () => {
    expect(readPrivateKeyFile(path.join(dir, 'acme-web.key.pem'))).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      alg: 'ES256',
      d: expect.any(String),
    });
    const base = {
      id: 'x',
      name: 'X',
      agencyType: 'police',
      issuer: 'https://idp.example',
      clientIds: ['x-web'],
      allowedRoles: ['system'],
    } as const;
    expect(() => loadWebClients([{ ...base, webClient: { clientId: 'x-web', clientSecretFile: path.join(dir, 'absent') } }])).toThrow(
      /agency "x": webClient: .*absent cannot be read \(ENOENT\)/,
    );
    writeFileSync(path.join(dir, 'secret'), 's3cret\n');
    expect(
      loadWebClients([{ ...base, webClient: { clientId: 'x-web', clientSecretFile: path.join(dir, 'secret'), scopes: 'openid' } }]),
    ).toEqual({ x: { clientId: 'x-web', clientSecret: 's3cret', scope: 'openid' } });
  });
});
