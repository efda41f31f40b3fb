/**
 * Issuer discovery with backoff, on the injected clock: an issuer that is down is asked once, then not again until
 * the wait has passed (doubling after each failure), while requests fail fast with 503; once it answers, it is used.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { manualClock } from '../../src/auth/clock';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { startProviderIssuers, type ProviderIssuers } from '../support/provider-issuer';
import { PROVIDER_CASES, type ProviderCase } from '../support/provider-tokens';

let keys: ProviderIssuers;
let server: http.Server;
let up = false;
let discoveries = 0;
let issuer: string;
let keyIssuer: string;
const c = PROVIDER_CASES.find((p) => p.profile === 'rfc9068') as ProviderCase;

beforeAll(async () => {
  keys = await startProviderIssuers();
  keyIssuer = await keys.add('/signer');
  server = http.createServer((req, res) => {
    if (req.url === '/late/.well-known/openid-configuration') {
      discoveries++;
      if (!up) return void res.writeHead(503).end();
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
    }
    if (req.url === '/late/keys')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys.jwks(keyIssuer)));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/late`;
});
afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await keys?.close();
});

it('backs off (5 s, then 10 s) while the issuer is down, fails fast with 503 meanwhile, and recovers', async () => {
  const clock = manualClock();
  const v = createTokenVerifier({
    agencies: [{ ...c.agency, issuer }],
    audience: 'urn:x',
    allowInsecureIssuers: true,
    clock,
    discoveryRetrySeconds: 5,
  });
  const now = Math.floor(clock.now() / 1000);
  const token = `Bearer ${await keys.sign(keyIssuer, c.header, { ...c.app(issuer, now) })}`;
  const status = async (): Promise<number> => {
    const r = await v.verify(token, {});
    return r.ok ? 200 : r.error.status;
  };
  expect(await status()).toBe(503);
  expect(discoveries).toBe(1);
  clock.advance(4_000);
  expect(await status()).toBe(503);
  expect(discoveries).toBe(1); // still backing off: not asked
  clock.advance(1_500);
  expect(await status()).toBe(503);
  expect(discoveries).toBe(2); // asked again after 5 s; failed again → 10 s
  clock.advance(9_000);
  expect(await status()).toBe(503);
  expect(discoveries).toBe(2);
  up = true;
  clock.advance(1_500);
  expect(await status()).toBe(200);
  expect(discoveries).toBe(3);
  expect(await status()).toBe(200);
  expect(discoveries).toBe(3); // discovered once, then cached
});
