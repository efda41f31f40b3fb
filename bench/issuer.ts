/**
 * A small local OpenID issuer per agency for the benchmark: one HTTP server on 127.0.0.1 (random port) serving, at
 * `/<agencyId>`, OpenID discovery and a JWKS (ES256), and minting real signed RFC 9068 access tokens with jose —
 * the same shape the agencies' identity providers send. Benchmark only (plain http, keys in memory).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { Agency } from '../src/auth/registry';
import type { AgencyType, Role } from '../src/vocabulary/vocabulary';

export interface BenchAgencySpec {
  readonly id: string;
  readonly agencyType: AgencyType;
  readonly allowedRoles: readonly Role[];
}

export interface BenchIssuers {
  readonly baseUrl: string;
  readonly agencies: Agency[];
  token(agencyId: string, options?: { role?: string; sub?: string; scope?: string; expiresIn?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startBenchIssuers(specs: readonly BenchAgencySpec[], audience: string): Promise<BenchIssuers> {
  const keys = new Map<string, { kid: string; privateKey: CryptoKey; publicJwk: JWK }>();
  for (const spec of specs) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = `${spec.id}-es256`;
    keys.set(spec.id, { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } });
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const discovery = /^\/([a-z0-9-]+)\/\.well-known\/openid-configuration$/.exec(url.pathname);
    const jwks = /^\/([a-z0-9-]+)\/jwks$/.exec(url.pathname);
    const id = discovery?.[1] ?? jwks?.[1];
    const key = id ? keys.get(id) : undefined;
    if (req.method !== 'GET' || !id || !key) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
      return;
    }
    const issuer = `${baseUrl}/${id}`;
    const body = discovery
      ? {
          issuer,
          jwks_uri: `${issuer}/jwks`,
          token_endpoint: `${issuer}/token`,
          authorization_endpoint: `${issuer}/auth`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
        }
      : { keys: [key.publicJwk] };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const agencies: Agency[] = specs.map((s) => ({
    id: s.id,
    name: `Bench ${s.agencyType.replace(/_/g, ' ')}`,
    agencyType: s.agencyType,
    issuer: `${baseUrl}/${s.id}`,
    clientIds: [`${s.id}-system`, `${s.id}-web`],
    allowedRoles: [...s.allowedRoles],
    area: 'Benchshire',
  }));

  async function token(agencyId: string, o: { role?: string; sub?: string; scope?: string; expiresIn?: number } = {}): Promise<string> {
    const key = keys.get(agencyId);
    if (!key) throw new Error(`no bench agency ${agencyId}`);
    const clientId = o.sub ? `${agencyId}-web` : `${agencyId}-system`;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      client_id: clientId,
      scope: o.scope ?? 'decisions',
      jti: randomUUID(),
      ...(o.role ? { role: o.role } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(`${baseUrl}/${agencyId}`)
      .setSubject(o.sub ?? clientId)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + (o.expiresIn ?? 3600))
      .sign(key.privateKey);
  }

  return {
    baseUrl,
    agencies,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
