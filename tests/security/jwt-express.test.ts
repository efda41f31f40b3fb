/**
 * The token verifier through Express (requireAuth, requireRole, requireScope): 200 with the principal, 401 and 403
 * as problem+json with their WWW-Authenticate challenges, principalOf failing closed without requireAuth, and over
 * real TLS a certificate-bound token accepted only with its own client certificate. Every token is really signed
 * and verified over real HTTP discovery + JWKS from local test issuers; nothing is mocked.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { GatewayError } from '../../src/errors';
import type { TokenVerifier } from '../../src/auth/token-verifier';
import { principalOf, requireAuth, requireRole, requireScope } from '../../src/auth/middleware';
import { sendProblem } from '../../src/http/problem';
import type { TestIssuers } from '../support/token-factory';
import { REALM, bearer, useTrustedIssuers } from '../support/jwt-verifier';
import { selfSignedCertificate } from '../support/self-signed';

const trust = useTrustedIssuers();
let issuers: TestIssuers;
let verifier: TokenVerifier;
beforeAll(() => {
  ({ issuers, verifier } = trust);
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
    const make = (name: string): void => selfSignedCertificate(name, path.join(dir, `${name}.key`), path.join(dir, `${name}.crt`));
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
