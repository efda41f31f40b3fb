/**
 * The bundled DEVELOPMENT OpenID provider: one HTTP server that mounts one oidc-provider `Provider` per demo agency
 * at `/<agencyId>`, so each agency has its own issuer (`http://127.0.0.1:<port>/<agencyId>`) and its own signing
 * key, exactly as real agencies would. Never for production: accounts and passwords are public demo values and
 * state is in memory.
 *
 *   - Agencies: those of the trust registry whose issuer is the template `devidp:<agencyId>` (src/auth/registry.ts).
 *   - Clients and practitioner accounts: `config/devidp.json` (src/devidp/config.ts).
 *   - System clients: client credentials, `private_key_jwt`; their key pair is made on first start and kept in
 *     `<dataDir>/dev-idp/clients/<clientId>.private.jwk.json` (0600) for `npm run demo:token`.
 *   - Web clients (`<agencyId>-web`): authorization code + PKCE (required), `client_secret_basic` with a secret made
 *     on first start (`<dataDir>/dev-idp/clients/<clientId>.secret`), for the practitioner pages. The login form
 *     is oidc-provider's devInteractions form; the password is checked here against the demo account.
 *   - Access tokens: JWT (`typ: at+jwt`, ES256) for the gateway audience (resource indicators), with `role`,
 *     `name` and `agency_id` claims.
 * Issuer signing keys: `<dataDir>/dev-idp/issuers/<agencyId>.jwks.json` (0600), kept across restarts. Each issuer has
 * its own in-memory store (memory-adapter.ts): nothing can be looked up through another agency's issuer.
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import './known-warnings';
import { loginPage, loginPageRoute, sendLoginPage } from './login-page';
import Provider, {
  errors as oidcErrors,
  type AdapterPayload,
  type ClientMetadata,
  type JWK as OidcJWK,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { DEV_IDP_ISSUER_PREFIX, type Agency } from '../auth/registry';
import type { Role } from '../vocabulary/vocabulary';
import { DEFAULT_DEVIDP_CONFIG_FILE, GATEWAY_SCOPES, loadDevIdpConfig, type DevAgencyConfig } from './config';
import { createIssuerAdapter } from './memory-adapter';
import {
  clientKeyFile,
  clientSecretFile,
  issuerKeysFile,
  loadOrCreateIssuerKeys,
  loadOrCreatePrivateJwk,
  loadOrCreateSecret,
  publicJwk,
} from './keys';

export const DEFAULT_WEB_REDIRECT_URI = 'http://127.0.0.1:8080/auth/callback';

export interface DevIdpOptions {
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The trust registry; agencies whose issuer is `devidp:<agencyId>` get an issuer here. */
  readonly agencies: readonly Agency[];
  /** The gateway audience (resource indicator) every access token is for. */
  readonly audience: string;
  /** Keys and secrets go under `<dataDir>/dev-idp/`. */
  readonly dataDir: string;
  /** Demo clients and accounts (default `config/devidp.json`). */
  readonly configFile?: string;
  /** Redirect URI(s) registered for every web client (default http://127.0.0.1:8080/auth/callback). */
  readonly webRedirectUri?: string | readonly string[];
  /** Seconds an access token lives (default 900). */
  readonly accessTokenTtlSeconds?: number;
  /**
   * An HTTPS listener too (same issuers, same paths), asking for client certificates: `mtls` clients authenticate
   * there with their certificate (it must chain to `caFile`) and get certificate-bound tokens (RFC 8705).
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string; readonly port: number };
}

export interface DevIdpAccount {
  readonly agencyId: string;
  readonly login: string;
  readonly password: string;
  readonly name: string;
  readonly role: Role;
}

export interface DevIdpClient {
  readonly agencyId: string;
  readonly clientId: string;
  readonly kind: 'system' | 'web' | 'mtls';
  readonly role?: Role;
  readonly scope: string;
  /** System clients: the persisted private key for private_key_jwt. */
  readonly privateKeyFile?: string;
}

export interface DevIdp {
  /** `http://host:port` (no trailing slash). */
  readonly baseUrl: string;
  /** `https://host:port` of the mutual-TLS listener, when `tls` was given (token endpoint: `<tlsBaseUrl>/<agencyId>/token`). */
  readonly tlsBaseUrl?: string;
  /** Same as baseUrl. */
  readonly url: string;
  /** The issuer URL of a dev agency; an agency with a real issuer keeps it; an unknown agency id throws. */
  issuerFor(agencyId: string): string;
  /** The web client of an agency at its issuer, if it has one. */
  webClient(agencyId: string): { clientId: string; clientSecret: string } | undefined;
  readonly accounts: readonly DevIdpAccount[];
  readonly clients: readonly DevIdpClient[];
  close(): Promise<void>;
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function samePassword(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * devInteractions ignores the password; this checks it against the agency's demo accounts before oidc-provider
 * sees the login form. The body is read here and handed on as `req.body` (oidc-provider accepts a parsed body).
 */
function passwordGate(agency: Agency, accounts: ReadonlyMap<string, DevIdpAccount>) {
  const readForm = express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST' || !/^\/interaction\/[A-Za-z0-9_-]+\/?$/.test(req.path)) return next();
    readForm(req, res, (e?: unknown) => {
      if (e) return next(e);
      if (typeof req.body !== 'string') {
        res.status(400).type('text/plain').send('The form must be sent as application/x-www-form-urlencoded.');
        return;
      }
      const form = new URLSearchParams(req.body);
      if (form.getAll('prompt').length !== 1 || form.getAll('login').length > 1 || form.getAll('password').length > 1) {
        res.status(400).type('text/plain').send('The sign-in form was not filled in as expected.');
        return;
      }
      if (form.get('prompt') === 'login') {
        const account = accounts.get(form.get('login') ?? '');
        if (!account || !samePassword(form.get('password') ?? '', account.password)) {
          const page = loginPage({
            agencyName: agency.name,
            action: `${req.baseUrl}${req.path.replace(/\/$/, '')}`,
            login: form.get('login') ?? '',
            error: `That email address and password are not a demo account of ${agency.name}`,
          });
          sendLoginPage(res, 401, page);
          return;
        }
      }
      next();
    });
  };
}

function resourceScopes(scope: string): string[] {
  const allowed = new Set<string>(GATEWAY_SCOPES);
  return scope.split(' ').filter((s) => allowed.has(s));
}

interface AgencyIdp {
  readonly agency: Agency;
  readonly issuer: string;
  readonly provider: Provider;
}

async function buildProvider(
  agency: Agency,
  issuer: string,
  devConfig: DevAgencyConfig,
  options: DevIdpOptions,
  accounts: ReadonlyMap<string, DevIdpAccount>,
  webSecrets: ReadonlyMap<string, string>,
): Promise<Provider> {
  const { audience, dataDir } = options;
  const redirectUris =
    typeof options.webRedirectUri === 'string' ? [options.webRedirectUri] : [...(options.webRedirectUri ?? [DEFAULT_WEB_REDIRECT_URI])];
  const clientsById = new Map(devConfig.clients.map((c) => [c.clientId, c]));

  // Client metadata is built fresh for every lookup (see memory-adapter.ts), never shared between issuers.
  const clients: ClientMetadata[] = [];
  for (const c of devConfig.clients) {
    if (c.kind === 'system') {
      const privateJwk = await loadOrCreatePrivateJwk(clientKeyFile(dataDir, c.clientId), c.clientId);
      clients.push({
        client_id: c.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [publicJwk(privateJwk) as OidcJWK] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      });
    } else if (c.kind === 'mtls') {
      clients.push({
        client_id: c.clientId,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: `CN=${agency.id}`,
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      });
    } else {
      clients.push({
        client_id: c.clientId,
        client_secret: webSecrets.get(c.clientId) ?? '',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: redirectUris,
        post_logout_redirect_uris: redirectUris.map((u) => new URL('/', u).href),
        scope: 'openid profile',
      });
    }
  }

  const slug = agency.id.replace(/[^a-z0-9]/g, '');
  const clientJson = new Map(clients.map((c) => [c.client_id, JSON.stringify(c)]));
  const configuration: Configuration = {
    adapter: createIssuerAdapter((clientId) => {
      const json = clientJson.get(clientId);
      return json === undefined ? undefined : (JSON.parse(json) as AdapterPayload);
    }),
    jwks: (await loadOrCreateIssuerKeys(issuerKeysFile(dataDir, agency.id), agency.id)) as Configuration['jwks'],
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    claims: { openid: ['sub'], profile: ['name'] },
    conformIdTokenClaims: false,
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      names: { session: `_sg_${slug}_session`, interaction: `_sg_${slug}_interaction`, resume: `_sg_${slug}_resume` },
    },
    pkce: { required: () => true },
    clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'tls_client_auth'],
    features: {
      // Mutual TLS (RFC 8705): only on the HTTPS listener, where the socket carries a verified client certificate.
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: false,
        getCertificate: (ctx: KoaContextWithOIDC) => peerCertificate(ctx.req.socket),
        certificateAuthorized: (ctx: KoaContextWithOIDC) => ctx.req.socket instanceof TLSSocket && ctx.req.socket.authorized,
        certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
          const cert = peerCertificate(ctx.req.socket);
          return property === 'tls_client_auth_subject_dn' && cert !== undefined && cert.subject.split('\n').includes(expected);
        },
      },
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: KoaContextWithOIDC, resourceIndicator: string, client) => {
          if (resourceIndicator !== audience) throw new oidcErrors.InvalidTarget();
          // Each client may be granted only the gateway scopes config/devidp.json gives it.
          const allowed = resourceScopes(clientsById.get(client.clientId)?.scope ?? '');
          return {
            audience,
            scope: allowed.join(' '),
            accessTokenFormat: 'jwt',
            accessTokenTTL: options.accessTokenTtlSeconds ?? 900,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: () => ({ sub, name: account.name }) };
    },
    extraTokenClaims: (_ctx, token) => {
      if (token.kind === 'ClientCredentials') {
        const c = token.clientId ? clientsById.get(token.clientId) : undefined;
        return c?.role ? { role: c.role, agency_id: agency.id } : { agency_id: agency.id };
      }
      const account = token.accountId ? accounts.get(token.accountId) : undefined;
      return account ? { role: account.role, name: account.name, agency_id: agency.id } : { agency_id: agency.id };
    },
    // The demo web clients are first-party: no consent screen; they get what they asked for, within what they may have.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const existingId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const grant =
        (existingId ? await ctx.oidc.provider.Grant.find(existingId) : undefined) ??
        new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      const oidcScopes = [...ctx.oidc.requestParamOIDCScopes].filter((s) => s === 'openid' || s === 'profile');
      if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
      const allowed = new Set(resourceScopes(clientsById.get(client.clientId)?.scope ?? ''));
      const wanted = [...ctx.oidc.requestParamScopes].filter((s) => allowed.has(s));
      if (wanted.length) grant.addResourceScope(audience, wanted.join(' '));
      await grant.save();
      return grant;
    },
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? 900,
      ClientCredentials: options.accessTokenTtlSeconds ?? 900,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body =
        `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head><body>` +
        `<h1>${escapeHtml(agency.name)}: sign-in error</h1><p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p></body></html>`;
    },
  };
  return quietlyConstruct(() => new Provider(issuer, configuration));
}

/** The client certificate on a TLS connection, if one was presented. */
function peerCertificate(socket: unknown): X509Certificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const raw = (socket.getPeerCertificate(false) as { raw?: unknown } | undefined)?.raw;
  return Buffer.isBuffer(raw) && raw.length > 0 ? new X509Certificate(raw) : undefined;
}

/** oidc-provider repeats the same development warnings for every issuer: show each one once per process. */
const shownWarnings = new Set<string>();
function quietlyConstruct<T>(build: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]): void => {
    const text = args.map(String).join(' ');
    if (shownWarnings.has(text)) return;
    shownWarnings.add(text);
    warn(...args);
  };
  try {
    return build();
  } finally {
    console.warn = warn;
  }
}

export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const host = options.host ?? '127.0.0.1';
  const devAgencies = options.agencies.filter((a) => a.issuer.startsWith(DEV_IDP_ISSUER_PREFIX));
  for (const a of devAgencies) {
    if (a.issuer !== `${DEV_IDP_ISSUER_PREFIX}${a.id}`)
      throw new Error(`agency "${a.id}": a development issuer must be "${DEV_IDP_ISSUER_PREFIX}${a.id}", got "${a.issuer}"`);
  }
  const devConfig = loadDevIdpConfig(options.configFile ?? DEFAULT_DEVIDP_CONFIG_FILE, options.agencies);

  const accounts: DevIdpAccount[] = [];
  const clients: DevIdpClient[] = [];
  const webClients = new Map<string, { clientId: string; clientSecret: string }>();
  for (const agency of devAgencies) {
    const entry = devConfig.get(agency.id);
    if (!entry) continue;
    for (const a of entry.accounts) accounts.push({ agencyId: agency.id, ...a });
    for (const c of entry.clients) {
      clients.push({
        agencyId: agency.id,
        clientId: c.clientId,
        kind: c.kind,
        scope: c.scope,
        ...(c.role ? { role: c.role } : {}),
        ...(c.kind === 'system' ? { privateKeyFile: clientKeyFile(options.dataDir, c.clientId) } : {}),
      });
      if (c.kind === 'web')
        webClients.set(agency.id, {
          clientId: c.clientId,
          clientSecret: loadOrCreateSecret(clientSecretFile(options.dataDir, c.clientId)),
        });
    }
  }

  const app = express();
  app.disable('x-powered-by');
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // The mutual-TLS listener: the same app; client certificates requested, verified against the dev CA by
  // oidc-provider's certificateAuthorized.
  let tlsServer: https.Server | undefined;
  const stop = (s: http.Server | https.Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  const close = async (): Promise<void> => {
    if (tlsServer) await stop(tlsServer);
    await stop(server);
  };

  try {
    if (options.tls) {
      const tls = options.tls;
      const secure = https.createServer(
        {
          cert: readFileSync(tls.certFile),
          key: readFileSync(tls.keyFile),
          ca: readFileSync(tls.caFile),
          requestCert: true,
          rejectUnauthorized: false,
        },
        app,
      );
      tlsServer = secure;
      await new Promise<void>((resolve, reject) => {
        secure.once('error', reject);
        secure.listen(tls.port, host, () => resolve());
      });
    }
    const tlsAddress = tlsServer?.address();
    const tlsBaseUrl = tlsAddress && typeof tlsAddress === 'object' ? `https://${host}:${tlsAddress.port}` : undefined;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const baseUrl = `http://${host}:${port}`;
    const idps: AgencyIdp[] = [];
    for (const agency of devAgencies) {
      const issuer = `${baseUrl}/${agency.id}`;
      const entry = devConfig.get(agency.id) ?? { clients: [], accounts: [] };
      const agencyAccounts = new Map(accounts.filter((a) => a.agencyId === agency.id).map((a) => [a.login, a]));
      const secrets = new Map([...webClients.values()].map((w) => [w.clientId, w.clientSecret]));
      const provider = await buildProvider(agency, issuer, entry, options, agencyAccounts, secrets);
      idps.push({ agency, issuer, provider });
      app.use(`/${agency.id}`, loginPageRoute(provider, agency.name), passwordGate(agency, agencyAccounts), provider.callback());
    }
    app.get('/', (_req, res) => {
      res.json({
        description: 'Safeguard Gateway development OpenID provider (development only)',
        issuers: Object.fromEntries(idps.map((i) => [i.agency.id, i.issuer])),
      });
    });

    return {
      baseUrl,
      url: baseUrl,
      ...(tlsBaseUrl ? { tlsBaseUrl } : {}),
      issuerFor(agencyId: string): string {
        const found = idps.find((i) => i.agency.id === agencyId);
        if (found) return found.issuer;
        const other = options.agencies.find((a) => a.id === agencyId);
        if (other && !other.issuer.startsWith(DEV_IDP_ISSUER_PREFIX)) return other.issuer;
        throw new Error(`the development OpenID provider has no issuer for agency "${agencyId}"`);
      },
      webClient: (agencyId: string) => webClients.get(agencyId),
      accounts,
      clients,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
