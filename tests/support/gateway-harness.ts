/**
 * A whole gateway for HTTP tests: a fresh real database, the shipped policy catalogue, the real ledger and token
 * verifier, and local test issuers minting real signed tokens. Nothing is mocked.
 */
import { Pool } from 'pg';
import pino from 'pino';
import type { Express } from 'express';
import { createApp } from '../../src/http/app';
import { loadPolicyCatalogue } from '../../src/policy';
import type { PolicyEngine } from '../../src/policy/types';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import type { Agency } from '../../src/auth/registry';
import type { ClientCertificateOptions } from '../../src/auth/client-certificate';
import { loadGatewayKeys } from '../../src/keys/gateway-keys';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './db';
import { startTestIssuers, type TestIssuers } from './token-factory';

export interface TestGateway {
  readonly app: Express;
  readonly db: TestDatabase;
  readonly issuers: TestIssuers;
  readonly pool: Pool;
  readonly engine: PolicyEngine;
  /** Ledger rows as the owner sees them, oldest first. */
  ledgerRows(): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

export async function startTestGateway(
  options: { perAgencyPerMinute?: number; perIpPerMinute?: number; bodyBytes?: number; extraAgencies?: readonly Agency[]; audience?: string; clientCertificates?: ClientCertificateOptions } = {},
): Promise<TestGateway> {
  const db = await createTestDatabase();
  const issuers = await startTestIssuers();
  const engine = loadPolicyCatalogue('policies');
  const pool = new Pool({ connectionString: db.appUrl, max: 5 });
  pool.on('error', () => undefined); // as in src/gateway.ts: an idle client ended by the server is not a crash
  const ledger = new PgAuditLedger(pool);
  const verifier = createTokenVerifier({ agencies: [...issuers.agencies, ...(options.extraAgencies ?? [])], audience: options.audience ?? issuers.audience, allowInsecureIssuers: true });
  const app = createApp({
    engine,
    ledger,
    verifier,
    pool,
    logger: pino({ level: 'silent' }),
    pseudonymise: pseudonymiser('test-pseudonym-key-test-pseudonym-key'),
    keys: await loadGatewayKeys(mkdtempSync(path.join(os.tmpdir(), 'sg-keys-')), {}),
    ...(options.clientCertificates ? { clientCertificates: options.clientCertificates } : {}),
    limits: { bodyBytes: options.bodyBytes ?? 32 * 1024, perAgencyPerMinute: options.perAgencyPerMinute ?? 10_000, perIpPerMinute: options.perIpPerMinute ?? 100_000 },
  });
  return {
    app,
    db,
    issuers,
    pool,
    engine,
    ledgerRows: () => db.asOwner('SELECT * FROM audit_ledger ORDER BY seq'),
    async close() {
      await ledger.close();
      await pool.end();
      await issuers.close();
      await db.drop();
    },
  };
}
