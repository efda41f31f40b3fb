/**
 * A whole gateway for the browser tests, on random ports: a fresh database on the run's real PostgreSQL
 * (tests/support/global-setup.ts), the shipped policies, the real ledger and token verifier, the real development
 * OpenID provider (one issuer per demo agency, its devInteractions login form): the gateway as src/gateway.ts
 * assembles it (assemble()), pages in front of the API.
 */
import { freePort } from '../../../src/db/free-port';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AuditUnavailableError, type AuditLedger } from '../../../src/audit/entry';
import { loadAgencyRegistry, type Agency } from '../../../src/auth/registry';
import { startDevIdp, type DevIdp } from '../../../src/devidp/dev-idp';
import { syncAgencies } from '../../../src/db/registry-sync';
import { assemble } from '../../../src/gateway';
import { listen } from '../../../src/http/server';
import { testGatewayConfig } from '../../support/gateway-harness';
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

    // The gateway's port first: the IdP must know the callback it may redirect to. The server itself is made once the
    // app is, as `npm start` makes it (src/http/server.ts).
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
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

    // The gateway exactly as src/gateway.ts assembles it for npm start (pages in front of the API, sessions in
    // PostgreSQL), with a switch on its ledger to make appends fail as a database outage would (invariant 1 tests).
    let ledgerDown = false;
    const gateway = await assemble(
      testGatewayConfig({
        DATA_DIR: dataDir,
        GATEWAY_AUDIENCE: AUDIENCE,
        AUDIT_PSEUDONYM_KEY: 'e2e-pseudonym-key-e2e-pseudonym-key-0000',
        WEB_REDIRECT_URI: redirectUri,
        RATE_LIMIT_PER_AGENCY_PER_MINUTE: '10000',
        RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
      }),
      {
        appDatabaseUrl: db.appUrl,
        agencies,
        embeddedDatabase: false,
        webClients: Object.fromEntries(agencies.flatMap((a) => (devIdp.webClient(a.id) ? [[a.id, devIdp.webClient(a.id)!]] : []))),
      },
      logger,
      {
        background: false,
        overrides: {
          ledger: (writer): AuditLedger => ({
            append: (entry) =>
              ledgerDown ? Promise.reject(new AuditUnavailableError('forced by the e2e test', 'database')) : writer.append(entry),
            close: () => writer.close(),
          }),
        },
      },
    );
    closers.push(() => gateway.close());
    const server = await listen(gateway.app, port, '127.0.0.1');
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );

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
