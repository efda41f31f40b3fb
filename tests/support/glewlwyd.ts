/**
 * Glewlwyd (Debian package `glewlwyd`, a C OpenID provider nobody here wrote) for interop tests: a throw-away
 * instance on 127.0.0.1 with an sqlite database made from the package's own init script, configured through its
 * admin API exactly as an administrator would — the `oidc` plugin instance (RS256 key, resource indicators), a
 * gateway scope, and confidential clients with the client-credentials grant. Tokens are then obtained over HTTP.
 * `.ci/run` installs the package (and sqlite3) on a fresh machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { freePort } from '../../src/db/free-port';

const BINARY = '/usr/bin/glewlwyd';
const INIT_SQL = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';

export interface GlewlwydClient {
  readonly clientId: string;
  readonly secret: string;
  readonly scope: string;
}

export interface Glewlwyd {
  /** The OpenID issuer (`http://127.0.0.1:<port>/api/oidc`). */
  readonly issuer: string;
  /** The RFC 8707 resource (the audience Glewlwyd puts in the token). */
  readonly resource: string;
  /** Client credentials at the token endpoint (client_secret_basic); the raw token response. */
  clientCredentials(client: GlewlwydClient, scope?: string, resource?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export function glewlwydMissing(): string | undefined {
  if (!existsSync(BINARY) || !existsSync(INIT_SQL))
    return 'Glewlwyd is not installed: apt-get install -y --no-install-recommends glewlwyd sqlite3 (.ci/run does this)';
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'sqlite3 is not installed: apt-get install -y --no-install-recommends sqlite3 (.ci/run does this)';
  }
  return undefined;
}

async function waitFor(url: string, deadlineMs: number): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadlineMs) throw new Error(`Glewlwyd did not start (${url})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startGlewlwyd(
  clients: readonly GlewlwydClient[],
  options: { resource?: string; scopes?: readonly string[] } = {},
): Promise<Glewlwyd> {
  const missing = glewlwydMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-glewlwyd-'));
  const db = path.join(dir, 'glewlwyd.sqlite3');
  execFileSync('sh', ['-c', `zcat "${INIT_SQL}" | sqlite3 "${db}"`]);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const issuer = `${base}/api/oidc`;
  // Glewlwyd accepts RFC 8707 resources only as https://… or http://localhost…
  const resource = options.resource ?? 'http://localhost/safeguard-gateway';
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    GLWD_PORT: String(port),
    GLWD_BIND_ADDRESS: '127.0.0.1',
    GLWD_EXTERNAL_URL: base,
    GLWD_API_PREFIX: 'api',
    GLWD_LOG_MODE: 'console',
    GLWD_LOG_LEVEL: 'ERROR',
    GLWD_COOKIE_SECURE: '0',
    GLWD_USE_SECURE_CONNECTION: '0',
    GLWD_DATABASE_TYPE: 'sqlite3',
    GLWD_DATABASE_SQLITE3_PATH: db,
    GLWD_HASH_ALGORITHM: 'SHA512',
    GLWD_USER_MODULE_PATH: '/usr/lib/glewlwyd/user',
    GLWD_CLIENT_MODULE_PATH: '/usr/lib/glewlwyd/client',
    GLWD_AUTH_SCHEME_MODULE_PATH: '/usr/lib/glewlwyd/scheme',
    GLWD_PLUGIN_MODULE_PATH: '/usr/lib/glewlwyd/plugin',
    GLWD_ADMIN_SCOPE: 'g_admin',
    GLWD_PROFILE_SCOPE: 'g_profile',
    GLWD_LOGIN_API_ENABLED: '1',
    GLWD_ADMIN_SESSION_AUTH: 'cookie',
    GLWD_PROFILE_SESSION_AUTH: 'cookie',
  };
  const child: ChildProcess = spawn(BINARY, ['-e'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = `${stderr}${d.toString()}`.slice(-2000)));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${base}/api/mod/plugin/`, Date.now() + 10_000).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${stderr}`);
    });
    // The administrator signs in (the init script's admin/password) and configures the provider.
    const login = await fetch(`${base}/api/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'password' }),
    });
    if (login.status !== 200) throw new Error(`Glewlwyd admin sign-in failed: ${login.status}`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const admin = async (method: string, route: string, body: unknown): Promise<void> => {
      const res = await fetch(`${base}/api${route}`, {
        method,
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify(body),
      });
      if (res.status !== 200) throw new Error(`Glewlwyd ${method} ${route}: ${res.status} ${await res.text()}`);
    };
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'glewlwyd-test-1', alg: 'RS256' };
    const scopes = [...new Set([...(options.scopes ?? []), ...clients.flatMap((c) => c.scope.split(' '))])];
    for (const name of scopes)
      await admin('POST', '/scope/', {
        name,
        display_name: name,
        description: `gateway scope ${name}`,
        password_required: false,
        scheme: {},
      });
    await admin('POST', '/mod/plugin/', {
      module: 'oidc',
      name: 'oidc',
      display_name: 'OpenID Connect',
      parameters: {
        iss: issuer,
        'jwks-private': JSON.stringify({ keys: [jwk] }),
        'default-kid': jwk.kid,
        'jwks-show': true,
        'access-token-duration': 600,
        'refresh-token-duration': 3600,
        'code-duration': 600,
        'refresh-token-rolling': false,
        'allow-non-oidc': true,
        'auth-type-code-enabled': false,
        'auth-type-client-enabled': true,
        'auth-type-refresh-enabled': false,
        'auth-type-token-enabled': false,
        'auth-type-id-token-enabled': false,
        'auth-type-none-enabled': false,
        'auth-type-password-enabled': false,
        'auth-type-device-enabled': false,
        scope: [],
        'additional-parameters': [],
        claims: [],
        'secret-type': 'pairwise',
        'allowed-scope': ['openid', ...scopes],
        'resource-allowed': true,
        'resource-scope': Object.fromEntries(scopes.map((s) => [s, [resource]])),
        'resource-client-property': '',
        'resource-scope-and-client-property': false,
        'name-claim': 'no',
        'email-claim': 'no',
        'scope-claim': 'no',
        'address-claim': { type: 'no' },
        'introspection-revocation-allowed': false,
        'register-client-allowed': false,
        'session-management-allowed': false,
        'request-parameter-allow': false,
        'pkce-allowed': false,
        'oauth-dpop-allowed': false,
        'oauth-rar-allowed': false,
        'oauth-par-allowed': false,
        'oauth-ciba-allowed': false,
        'client-pubkey-parameter': '',
        'client-jwks-parameter': 'jwks',
        'client-jwks_uri-parameter': 'jwks_uri',
      },
    });
    for (const c of clients) {
      await admin('POST', '/client/', {
        client_id: c.clientId,
        name: c.clientId,
        password: c.secret,
        confidential: true,
        enabled: true,
        scope: c.scope.split(' '),
        authorization_type: ['client_credentials'],
        redirect_uri: [],
        token_endpoint_auth_method: ['client_secret_basic'],
      });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return {
    issuer,
    resource,
    async clientCredentials(c, scope = c.scope, res = resource) {
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${c.clientId}:${c.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: res }).toString(),
      });
      return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> };
    },
    close,
  };
}
