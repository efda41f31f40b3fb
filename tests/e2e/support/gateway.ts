/**
 * A whole gateway for the browser tests, on random ports: a fresh database on the run's real PostgreSQL
 * (tests/support/global-setup.ts), the shipped policies, the real ledger and token verifier, the real development
 * OpenID provider (one issuer per demo agency, its devInteractions login form), and the pages mounted in front of
 * the API exactly as src/http/app.ts mounts them.
 */
import { freePort } from '../../../src/db/free-port';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import express from 'express';
import helmet from 'helmet';
import { Pool } from 'pg';
import pino from 'pino';
import { loadPolicyCatalogue } from '../../../src/policy';
import { AuditUnavailableError, type AuditLedger } from '../../../src/audit/entry';
import { PgAuditLedger } from '../../../src/audit/pg-ledger';
import { pseudonymiser } from '../../../src/audit/pseudonym';
import { loadAgencyRegistry, type Agency } from '../../../src/auth/registry';
import { createTokenVerifier } from '../../../src/auth/token-verifier';
import { startDevIdp, type DevIdp } from '../../../src/devidp/dev-idp';
import { syncAgencies } from '../../../src/db/registry-sync';
import { createApp } from '../../../src/http/app';
import { loadGatewayKeys } from '../../../src/keys/gateway-keys';
import { webRouter } from '../../../src/web';
import { webProofs } from '../../../src/web/proofs';
import { SubtreeCache } from '../../../src/audit/checkpoints';
import { createTestDatabase, type TestDatabase } from '../../support/db';

export interface DemoAccount {
  readonly agencyId: string;
  readonly agencyName: string;
  readonly login: string;
  readonly password: string;
}

export interface E2eGateway {
  readonly url: string;
  readonly idpUrl: string;
  readonly agencies: readonly Agency[];
  /** The agencies offered on "Which organisation are you from?". */
  readonly signInAgencies: readonly Agency[];
  readonly police: DemoAccount;
  readonly auditor: DemoAccount;
  readonly db: TestDatabase;
  /** Makes every ledger append fail (true) or work again (false). */
  setLedgerDown(down: boolean): void;
  close(): Promise<void>;
}

const AUDIENCE = 'urn:safeguard-gateway';

export async function startE2eGateway(): Promise<E2eGateway> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const fn of closers.reverse()) await fn().catch(() => undefined);
  };
  try {
    const db = await createTestDatabase();
    closers.push(() => db.drop());
    const logger = pino({ level: process.env.E2E_LOG_LEVEL ?? 'silent' });

    // The gateway's port first: the IdP must know the callback it may redirect to.
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const redirectUri = `${url}/auth/callback`;

    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-e2e-'));
    let agencies = loadAgencyRegistry('config/agencies.dev.json');
    const devIdp: DevIdp = await startDevIdp({
      host: '127.0.0.1',
      port: await freePort(),
      agencies,
      audience: AUDIENCE,
      dataDir,
      webRedirectUri: redirectUri,
    });
    closers.push(() => devIdp.close());
    agencies = agencies.map((a) => ({ ...a, issuer: devIdp.issuerFor(a.id) }));
    await syncAgencies(db.ownerUrl, agencies);

    const engine = loadPolicyCatalogue('policies');
    const pool = new Pool({ connectionString: db.appUrl, max: 5 });
    closers.push(() => pool.end());
    const realLedger = new PgAuditLedger(pool);
    closers.push(() => realLedger.close());
    // The real ledger, with a switch to make appends fail as a database outage would (invariant 1 tests).
    let ledgerDown = false;
    const ledger: AuditLedger = {
      append: (entry) =>
        ledgerDown ? Promise.reject(new AuditUnavailableError('forced by the e2e test', 'database')) : realLedger.append(entry),
      close: () => realLedger.close(),
    };
    const verifier = createTokenVerifier({ agencies, audience: AUDIENCE, allowInsecureIssuers: true });
    const pseudonymise = pseudonymiser('e2e-pseudonym-key-e2e-pseudonym-key-0000');

    const keys = await loadGatewayKeys(dataDir, {});
    const web = webRouter({
      engine,
      ledger,
      pool,
      verifier,
      pseudonymise,
      agencies,
      logger,
      ...webProofs({ pool, keys, sinks: [], cache: new SubtreeCache() }),
      oidc: { redirectUri, clientFor: (id) => devIdp.webClient(id), audience: AUDIENCE, allowInsecureIssuers: true },
      session: { secret: randomBytes(32).toString('base64url'), secureCookie: false },
    });
    const api = createApp({
      engine,
      ledger,
      verifier,
      pool,
      logger,
      pseudonymise,
      keys,
      limits: { bodyBytes: 32 * 1024, perAgencyPerMinute: 10_000, perIpPerMinute: 100_000 },
    });
    // In front of the API as src/http/app.ts mounts the pages: request id, then the same security headers.
    const app = express();
    app.disable('x-powered-by');
    app.set('query parser', 'simple');
    app.use((req, res, next) => {
      const given = req.get('x-request-id');
      res.locals.requestId = given && /^[A-Za-z0-9._-]{8,64}$/.test(given) ? given : randomUUID();
      next();
    });
    app.use(helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"] } } }));
    app.use(web);
    app.use(api);
    server.on('request', app);

    const account = (role: string): DemoAccount => {
      const found = devIdp.accounts.find((a) => a.role === role);
      if (!found) throw new Error(`the development IdP has no demo ${role}`);
      const agency = agencies.find((a) => a.id === found.agencyId);
      return { agencyId: found.agencyId, agencyName: agency?.name ?? found.agencyId, login: found.login, password: found.password };
    };
    return {
      url,
      idpUrl: devIdp.url,
      agencies,
      signInAgencies: agencies.filter((a) => devIdp.webClient(a.id) !== undefined),
      police: account('police_officer'),
      auditor: account('auditor'),
      db,
      setLedgerDown: (down) => {
        ledgerDown = down;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
