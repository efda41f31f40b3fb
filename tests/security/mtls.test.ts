/**
 * Mutual TLS end to end, over real TLS sockets: the development CA (certs/make-agency-cert.sh) makes the gateway's
 * server certificate and agency client certificates; the development IdP's mutual-TLS listener authenticates the
 * police system by its certificate (tls_client_auth) and issues a certificate-bound token (RFC 8705 cnf.x5t#S256);
 * the gateway's HTTPS listener (src/auth/tls-listener.ts) accepts that token only with that certificate. Behind a
 * TLS-terminating proxy, the certificate header is honoured only from the configured proxy addresses.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { decodeJwt } from 'jose';
import { loadAgencyRegistry, type Agency } from '../../src/auth/registry';
import { createTlsServer, loadTransportConfig } from '../../src/auth/tls-listener';
import { certificateFromHeader } from '../../src/auth/client-certificate';
import { startDevIdp, type DevIdp } from '../../src/devidp/dev-idp';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { selfSignedCertificate } from '../support/self-signed';

const AUDIENCE = 'urn:safeguard-gateway';
let dir: string;
let idp: DevIdp;
let police: Agency;
let gateway: TestGateway;
let proxied: TestGateway;
let untrustedProxy: TestGateway;
let gatewayTls: https.Server;
let gatewayPort: number;

const file = (name: string): string => path.join(dir, name);
const pem = (name: string): Buffer => readFileSync(file(name));
const thumbprintOf = (cert: string): string =>
  createHash('sha256')
    .update(new X509Certificate(pem(cert)).raw)
    .digest('base64url');

interface Reply {
  status: number;
  body: Record<string, unknown>;
}
function call(url: string, options: { method?: string; cert?: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: options.method ?? 'GET',
        ca: pem('dev-ca.crt.pem'),
        headers: options.headers ?? {},
        ...(options.cert ? { cert: pem(`${options.cert}.crt.pem`), key: pem(`${options.cert}.key.pem`) } : {}),
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function boundToken(cert: string | undefined): Promise<Reply> {
  return call(`${idp.tlsBaseUrl ?? ''}/northshire-police/token`, {
    method: 'POST',
    ...(cert ? { cert } : {}),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'northshire-police-mtls',
      scope: 'decisions',
      resource: AUDIENCE,
    }).toString(),
  });
}

const DECISION = JSON.stringify({
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name'],
  facts: { child_present_at_incident: true, hours_since_incident: 10 },
});
const decide = (token: string, cert?: string): Promise<Reply> =>
  call(`https://127.0.0.1:${gatewayPort}/v1/decisions`, {
    method: 'POST',
    ...(cert ? { cert } : {}),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: DECISION,
  });

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sg-mtls-'));
  const make = (...args: string[]): void => void execFileSync('sh', ['certs/make-agency-cert.sh', ...args, dir], { stdio: 'ignore' });
  make('--server');
  make('northshire-police');
  make('northshire-csc');
  // A certificate for the same name that no trusted CA signed.
  selfSignedCertificate('northshire-police', file('intruder.key.pem'), file('intruder.crt.pem'));
  const registry = loadAgencyRegistry('config/agencies.dev.json');
  idp = await startDevIdp({
    host: '127.0.0.1',
    port: 0,
    agencies: registry,
    audience: AUDIENCE,
    dataDir: dir,
    tls: { certFile: file('gateway-server.crt.pem'), keyFile: file('gateway-server.key.pem'), caFile: file('dev-ca.crt.pem'), port: 0 },
  });
  const found = registry.find((a) => a.id === 'northshire-police');
  if (!found) throw new Error('no northshire-police');
  police = { ...found, issuer: idp.issuerFor('northshire-police') };
  gateway = await startTestGateway({ extraAgencies: [police] });
  gatewayTls = createTlsServer(
    { certFile: file('gateway-server.crt.pem'), keyFile: file('gateway-server.key.pem'), clientCaFile: file('dev-ca.crt.pem') },
    gateway.app,
  );
  await new Promise<void>((resolve) => gatewayTls.listen(0, '127.0.0.1', resolve));
  gatewayPort = (gatewayTls.address() as AddressInfo).port;
  proxied = await startTestGateway({
    extraAgencies: [police],
    clientCertificates: { header: 'client-cert', trustedProxies: ['127.0.0.1'] },
  });
  untrustedProxy = await startTestGateway({
    extraAgencies: [police],
    clientCertificates: { header: 'client-cert', trustedProxies: ['192.0.2.1'] },
  });
}, 60_000);
afterAll(async () => {
  gatewayTls?.closeAllConnections();
  gatewayTls?.close();
  await gateway?.close();
  await proxied?.close();
  await untrustedProxy?.close();
  await idp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the development IdP issues certificate-bound tokens to a client that authenticates with its certificate', () => {
  it('tls_client_auth with the police certificate → a token bound to it (cnf.x5t#S256)', async () => {
    const reply = await boundToken('northshire-police');
    expect(reply.status).toBe(200);
    const claims = decodeJwt(String(reply.body.access_token));
    expect(claims.cnf).toEqual({ 'x5t#S256': thumbprintOf('northshire-police.crt.pem') });
    expect(claims.client_id).toBe('northshire-police-mtls');
  });
  it("another agency's certificate (CN mismatch), none, or one no trusted CA signed → no token", async () => {
    expect((await boundToken('northshire-csc')).status).toBe(401);
    expect((await boundToken(undefined)).status).toBe(401);
    await expect(boundToken('intruder')).resolves.toMatchObject({ status: 401 });
  });
});

describe("the gateway's HTTPS listener checks the binding for real", () => {
  let token: string;
  beforeAll(async () => {
    token = String((await boundToken('northshire-police')).body.access_token);
  });
  it('the bound token with its certificate → 200, a decision', async () => {
    const reply = await decide(token, 'northshire-police');
    expect(reply.status).toBe(200);
    expect(reply.body.auditEntryId).toEqual(expect.any(String));
  });
  it('with another (valid, CA-signed) certificate → 401', async () => {
    const reply = await decide(token, 'northshire-csc');
    expect(reply.status).toBe(401);
    expect(String(reply.body.detail)).toMatch(/different client certificate/);
  });
  it('with no certificate → 401', async () => {
    const reply = await decide(token);
    expect(reply.status).toBe(401);
    expect(String(reply.body.detail)).toMatch(/bound to a client certificate/);
  });
  it('a certificate no trusted CA signed is refused at the handshake (the connection is closed)', async () => {
    await expect(decide(token, 'intruder')).rejects.toThrow();
  });
  it('an unbound token still works over TLS without a certificate', async () => {
    const { status } = await call(`https://127.0.0.1:${gatewayPort}/healthz`, {});
    expect(status).toBe(200);
  });
});

describe('behind a TLS-terminating proxy: the certificate header', () => {
  let token: string;
  const rfc9440 = (cert: string): string => `:${new X509Certificate(pem(cert)).raw.toString('base64')}:`;
  beforeAll(async () => {
    token = String((await boundToken('northshire-police')).body.access_token);
  });
  it('from a configured proxy address: RFC 9440 Client-Cert or a URL-encoded PEM → accepted with the right certificate', async () => {
    const ok = await request(proxied.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${token}`)
      .set('Client-Cert', rfc9440('northshire-police.crt.pem'))
      .set('Content-Type', 'application/json')
      .send(DECISION);
    expect([ok.status, ok.body.detail]).toEqual([200, undefined]);
    const escaped = encodeURIComponent(pem('northshire-police.crt.pem').toString());
    const nginx = await request(proxied.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${token}`)
      .set('Client-Cert', escaped)
      .set('Content-Type', 'application/json')
      .send(DECISION);
    expect([nginx.status, nginx.body.detail]).toEqual([200, undefined]);
    const other = await request(proxied.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${token}`)
      .set('Client-Cert', rfc9440('northshire-csc.crt.pem'))
      .set('Content-Type', 'application/json')
      .send(DECISION);
    expect(other.status).toBe(401);
  });
  it('from any other address the header is ignored → 401', async () => {
    const res = await request(untrustedProxy.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${token}`)
      .set('Client-Cert', rfc9440('northshire-police.crt.pem'))
      .set('Content-Type', 'application/json')
      .send(DECISION);
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/bound to a client certificate/);
  });
  it('a header that is not a certificate is no certificate', () => {
    expect(certificateFromHeader(':bm90IGEgY2VydA==:')).toBeUndefined();
    expect(certificateFromHeader('hello')).toBeUndefined();
  });
});

describe('TLS configuration', () => {
  it('is checked at start-up', () => {
    expect(loadTransportConfig({})).toEqual({ clientCertificates: {} });
    expect(() => loadTransportConfig({ TLS_CERT_FILE: 'a.pem' })).toThrow(/together/);
    expect(() => loadTransportConfig({ TLS_CLIENT_CA_FILE: 'ca.pem' })).toThrow(/needs TLS_CERT_FILE/);
    expect(() => loadTransportConfig({ CLIENT_CERT_HEADER: 'client-cert' })).toThrow(/TRUSTED_PROXIES/);
    expect(() => loadTransportConfig({ CLIENT_CERT_HEADER: 'client-cert', TRUSTED_PROXIES: 'proxy.example' })).toThrow(/IP addresses/);
    expect(loadTransportConfig({ TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k', TLS_CLIENT_CA_FILE: 'ca', TLS_PORT: '9443' })).toEqual({
      tls: { certFile: 'c', keyFile: 'k', clientCaFile: 'ca', port: 9443 },
      clientCertificates: {},
    });
  });
});
