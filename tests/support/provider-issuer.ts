/**
 * A local OpenID issuer host for provider-shaped tokens: ONE HTTP server on 127.0.0.1 (random port) that serves any
 * number of issuers at the paths real providers use (`/<tenant>/v2.0`, `/realms/<realm>`, `/oauth2/<id>`, a tenant
 * with a trailing slash, ...), each with `<issuer>/.well-known/openid-configuration` and a JWKS, and signs tokens
 * with exactly the header and payload a test gives (jose SignJWT). Nothing is mocked: the verifier discovers and
 * fetches keys over real HTTP.
 */
import http from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

interface IssuerKeys {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly alg: string;
}

export interface ProviderIssuers {
  readonly baseUrl: string;
  /** Registers an issuer at this path (e.g. "/72f9…/v2.0" or "/tenant/") and returns its issuer URL. */
  add(path: string, alg?: 'RS256' | 'ES256'): Promise<string>;
  /** Signs exactly this header (alg and kid filled in unless given) and payload with the issuer's key. */
  sign(issuer: string, header: Record<string, unknown>, payload: JWTPayload): Promise<string>;
  jwks(issuer: string): { keys: JWK[] };
  close(): Promise<void>;
}

export async function startProviderIssuers(): Promise<ProviderIssuers> {
  const issuers = new Map<string, IssuerKeys>();
  const server = http.createServer((req, res) => {
    const url = `${baseUrl}${req.url ?? '/'}`;
    for (const [issuer, keys] of issuers) {
      const root = issuer.endsWith('/') ? issuer : `${issuer}/`;
      if (url === `${root}.well-known/openid-configuration`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer,
            jwks_uri: `${root}keys`,
            token_endpoint: `${root}token`,
            authorization_endpoint: `${root}authorize`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: [keys.alg],
          }),
        );
        return;
      }
      if (url === `${root}keys`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [keys.publicJwk] }));
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const keysOf = (issuer: string): IssuerKeys => {
    const keys = issuers.get(issuer);
    if (!keys) throw new Error(`no local issuer ${issuer}`);
    return keys;
  };

  return {
    baseUrl,
    async add(path, alg = 'RS256') {
      const issuer = `${baseUrl}${path}`;
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(publicKey);
      const kid = (await calculateJwkThumbprint(jwk)).slice(0, 16);
      issuers.set(issuer, { privateKey, alg, publicJwk: { ...jwk, kid, alg, use: 'sig' } });
      return issuer;
    },
    async sign(issuer, header, payload) {
      const keys = keysOf(issuer);
      const full: Record<string, unknown> = { alg: keys.alg, kid: keys.publicJwk.kid, ...header };
      for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
      return new SignJWT(payload).setProtectedHeader(full as { alg: string }).sign(keys.privateKey);
    },
    jwks: (issuer) => ({ keys: [keysOf(issuer).publicJwk] }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
