/**
 * A whole gateway for HTTP tests: a fresh real database, the shipped policy catalogue, the real ledger and token
 * verifier, and local test issuers minting real signed tokens. Nothing is mocked.
 */
import type { Pool } from 'pg';
import pino from 'pino';
import express, { type Express } from 'express';
import { loadConfig, type GatewayConfig } from '../../src/config';
import { assemble } from '../../src/gateway';
import { foldClosedWindows } from '../../src/audit/anonymous-refusals';
import type { PolicyEngine } from '../../src/policy/types';
import type { AuditLedger } from '../../src/audit/entry';
import { pseudonymiser, type Pseudonymiser } from '../../src/audit/pseudonym';
import type { Agency } from '../../src/auth/registry';
import type { ClientCertificateOptions } from '../../src/auth/client-certificate';
import type { GatewayKeys } from '../../src/keys/gateway-keys';
import type { CheckpointSink, SealResult } from '../../src/audit/checkpoints';
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
  readonly ledger: AuditLedger;
  readonly sinks: readonly CheckpointSink[];
  /** The gateway's pseudonymiser (its AUDIT_PSEUDONYM_KEY): the ledger names persons, records and cases by these. */
  readonly pseudonymise: Pseudonymiser;
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

/** Ledger trust, in its configuration form (src/config.ts: CHECKPOINT_*_DIR, LEDGER_*). */
export interface LedgerTrustOptions {
  readonly exportDir?: string;
  readonly mirrorDir?: string;
  /** As LEDGER_WITNESSES: `<url> <verifier key>` pairs, comma-separated. */
  readonly witnesses?: string;
  readonly quorum?: number;
  /** As LEDGER_MAC_KEY (at least 32 characters). */
  readonly macKey?: string;
  /** The gateway's data directory, where its keys are (DATA_DIR/keys; default: a fresh temp dir). */
  readonly keysDir?: string;
  readonly origin?: string;
}

/** The configuration a test gateway runs with: `loadConfig` over a test environment, as `npm start` reads its own. */
export function testGatewayConfig(env: Record<string, string | undefined>): GatewayConfig {
  return loadConfig({
    DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'sg-keys-')),
    POLICY_DIR: 'policies',
    DEV_IDP: 'false',
    ALLOW_INSECURE_ISSUERS: 'true',
    AUDIT_PSEUDONYM_KEY: 'test-pseudonym-key-test-pseudonym-key',
    CHECKPOINT_INTERVAL_MS: '0',
    LOG_LEVEL: 'silent',
    ...Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)),
  });
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
  const trust = options.ledgerTrust ?? {};
  const base = testGatewayConfig({
    DATA_DIR: trust.keysDir,
    GATEWAY_AUDIENCE: options.audience ?? issuers.audience,
    LEDGER_ORIGIN: trust.origin,
    LEDGER_WITNESSES: trust.witnesses,
    LEDGER_WITNESS_QUORUM: trust.quorum === undefined ? undefined : String(trust.quorum),
    LEDGER_MAC_KEY: trust.macKey,
    CHECKPOINT_EXPORT_DIR: trust.exportDir,
    CHECKPOINT_MIRROR_DIR: trust.mirrorDir,
    REFUSAL_SUMMARY_WINDOW_MS: options.refusalWindowMs === undefined ? undefined : String(options.refusalWindowMs),
    BODY_LIMIT_BYTES: String(options.bodyBytes ?? 32 * 1024),
    RATE_LIMIT_PER_AGENCY_PER_MINUTE: String(options.perAgencyPerMinute ?? 10_000),
    RATE_LIMIT_PER_IP_PER_MINUTE: String(options.perIpPerMinute ?? 100_000),
  });
  const config: GatewayConfig = options.clientCertificates
    ? { ...base, transport: { ...base.transport, clientCertificates: options.clientCertificates } }
    : base;
  const agencies = [
    ...issuers.agencies,
    ...(typeof options.extraAgencies === 'function' ? options.extraAgencies(issuers.agencies) : (options.extraAgencies ?? [])),
  ];
  // The gateway as src/gateway.ts assembles it for npm start, without the listener, the pages and the background tasks.
  const gateway = await assemble(
    config,
    { appDatabaseUrl: db.appUrl, agencies, embeddedDatabase: false, webClients: {} },
    pino({ level: 'silent' }),
    { background: false, pages: false, poolSize: 5, overrides: { keyContentHashes: false } },
  );
  const { pool, ledger, engine, keys, sinks } = gateway;
  // Every response a test provokes is checked against the OpenAPI document; close() fails on any mismatch.
  const undocumented: string[] = [];
  const app = express();
  app.use(recordResponses(responseValidator(), undocumented));
  app.use(gateway.app);
  return {
    app,
    db,
    issuers,
    pool,
    engine,
    keys,
    ledger,
    sinks,
    pseudonymise: pseudonymiser(config.pseudonymKey),
    seal: () => gateway.seal(),
    ledgerRows: () => db.asOwner('SELECT * FROM audit_ledger ORDER BY seq'),
    countedRefusals: async (problem) =>
      Number(
        (
          await db.asOwner<{ n: string }>('SELECT coalesce(sum(count), 0)::text AS n FROM anonymous_refusals WHERE problem = $1', [problem])
        )[0]?.n ?? 0,
      ),
    foldRefusals: () => foldClosedWindows(pool, ledger),
    async close() {
      await gateway.close();
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
