/**
 * A whole gateway for HTTP tests: a fresh real database, the shipped policy catalogue, the real ledger and token
 * verifier, and local test issuers minting real signed tokens. Nothing is mocked.
 */
import type { Pool } from 'pg';
import { createPool } from '../../src/db/pool';
import pino from 'pino';
import express, { type Express } from 'express';
import { createApp } from '../../src/http/app';
import { anonymousRefusals, foldClosedWindows } from '../../src/audit/anonymous-refusals';
import { loadPolicyCatalogue } from '../../src/policy';
import type { PolicyEngine } from '../../src/policy/types';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import type { Agency } from '../../src/auth/registry';
import type { ClientCertificateOptions } from '../../src/auth/client-certificate';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import {
  directorySinks,
  sealWith,
  SubtreeCache,
  type CheckpointSink,
  type SealResult,
  type WitnessClient,
} from '../../src/audit/checkpoints';
import type { EntryMacKey } from '../../src/audit/entry-mac';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './db';
import { startTestIssuers, type TestIssuers } from './token-factory';
import { recordResponses, responseValidator } from './openapi-responses';

export interface TestGateway {
  readonly app: Express;
  readonly db: TestDatabase;
  readonly issuers: TestIssuers;
  readonly pool: Pool;
  readonly engine: PolicyEngine;
  readonly keys: GatewayKeys;
  readonly ledger: PgAuditLedger;
  readonly sinks: readonly CheckpointSink[];
  /** Seal now, with everything the gateway would seal with (sinks, witnesses, MAC key). */
  seal(): Promise<SealResult>;
  /** Ledger rows as the owner sees them, oldest first. */
  ledgerRows(): Promise<Array<Record<string, unknown>>>;
  /** Refusals of unidentified callers counted so far (open windows, not yet in the ledger) for one problem code. */
  countedRefusals(problem: string): Promise<number>;
  /** Folds every closed refusal window into the ledger now; resolves with the entries written. */
  foldRefusals(): Promise<number>;
  close(): Promise<void>;
}

export interface LedgerTrustOptions {
  readonly exportDir?: string;
  readonly mirrorDir?: string;
  readonly witnesses?: readonly WitnessClient[];
  readonly quorum?: number;
  readonly macKey?: EntryMacKey;
  /** The gateway's key directory (default: a fresh temp dir). */
  readonly keysDir?: string;
  readonly origin?: string;
}

export async function startTestGateway(
  options: {
    perAgencyPerMinute?: number;
    perIpPerMinute?: number;
    bodyBytes?: number;
    extraAgencies?: readonly Agency[] | ((issued: readonly Agency[]) => readonly Agency[]);
    audience?: string;
    clientCertificates?: ClientCertificateOptions;
    ledgerTrust?: LedgerTrustOptions;
    refusalWindowMs?: number;
    /** A second instance: its own pool, ledger writer, limiters and app, on the first one's database and issuers. */
    sameDatabaseAs?: TestGateway;
    /** A database made elsewhere (e.g. on a server the test runs itself); not dropped on close. */
    database?: TestDatabase;
  } = {},
): Promise<TestGateway> {
  const shared = options.sameDatabaseAs;
  const db = shared ? shared.db : (options.database ?? (await createTestDatabase()));
  const issuers = shared ? shared.issuers : await startTestIssuers();
  const engine = loadPolicyCatalogue('policies');
  // As in src/gateway.ts: every pool and client has an error listener, so a database lost is a 503, not a crash.
  const pool = createPool({ connectionString: db.appUrl, max: 5, name: 'test-gateway' }, pino({ level: 'silent' }));
  const trust = options.ledgerTrust ?? {};
  const ledger = new PgAuditLedger(pool, trust.macKey ? { macKey: trust.macKey } : {});
  const keys = await loadGatewayKeys(
    trust.keysDir ?? mkdtempSync(path.join(os.tmpdir(), 'sg-keys-')),
    {},
    trust.origin ? { origin: trust.origin } : {},
  );
  const sinks = directorySinks({ exportDir: trust.exportDir, mirrorDir: trust.mirrorDir });
  const cache = new SubtreeCache();
  const sealing = {
    pool,
    keys,
    sinks,
    cache,
    ...(trust.macKey ? { macKey: trust.macKey } : {}),
    ...(trust.witnesses ? { witnesses: trust.witnesses } : {}),
  };
  const verifier = createTokenVerifier({
    agencies: [
      ...issuers.agencies,
      ...(typeof options.extraAgencies === 'function' ? options.extraAgencies(issuers.agencies) : (options.extraAgencies ?? [])),
    ],
    audience: options.audience ?? issuers.audience,
    allowInsecureIssuers: true,
  });
  const gateway = createApp({
    refusals: anonymousRefusals(pool, options.refusalWindowMs),
    engine,
    ledger,
    verifier,
    pool,
    logger: pino({ level: 'silent' }),
    pseudonymise: pseudonymiser('test-pseudonym-key-test-pseudonym-key'),
    ...(options.clientCertificates ? { clientCertificates: options.clientCertificates } : {}),
    keys,
    checkpoints: {
      sinks,
      cache,
      ...(trust.macKey ? { macKey: trust.macKey } : {}),
      ...(trust.witnesses ? { witnesses: trust.witnesses } : {}),
      quorum: trust.quorum ?? trust.witnesses?.length ?? 0,
    },
    limits: {
      bodyBytes: options.bodyBytes ?? 32 * 1024,
      perAgencyPerMinute: options.perAgencyPerMinute ?? 10_000,
      perIpPerMinute: options.perIpPerMinute ?? 100_000,
    },
  });
  // Every response a test provokes is checked against the OpenAPI document; close() fails on any mismatch.
  const undocumented: string[] = [];
  const app = express();
  app.use(recordResponses(responseValidator(), undocumented));
  app.use(gateway);
  return {
    app,
    db,
    issuers,
    pool,
    engine,
    keys,
    ledger,
    sinks,
    seal: () => sealWith(sealing),
    ledgerRows: () => db.asOwner('SELECT * FROM audit_ledger ORDER BY seq'),
    countedRefusals: async (problem) =>
      Number(
        (
          await db.asOwner<{ n: string }>('SELECT coalesce(sum(count), 0)::text AS n FROM anonymous_refusals WHERE problem = $1', [problem])
        )[0]?.n ?? 0,
      ),
    foldRefusals: () => foldClosedWindows(pool, ledger),
    async close() {
      await ledger.close();
      await pool.end();
      if (!shared) await issuers.close();
      if (!shared && !options.database) await db.drop();
      if (undocumented.length > 0) {
        throw new Error(
          `responses that do not match /openapi.json (${undocumented.length}):\n  ${[...new Set(undocumented)].slice(0, 40).join('\n  ')}`,
        );
      }
    },
  };
}
