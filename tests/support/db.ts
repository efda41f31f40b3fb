/**
 * A fresh, fully migrated database for one test file, on the run's real PostgreSQL (see global-setup.ts).
 * `ownerUrl` is the owner (migrations, DBA-style tampering in tests); `appUrl` is the least-privilege role the
 * gateway runs as.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createDatabase, prepareDatabase } from '../../src/db/bootstrap';

export interface TestDatabase {
  readonly name: string;
  readonly ownerUrl: string;
  readonly appUrl: string;
  /** Run one SQL statement as the owner. */
  asOwner<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** One password for the cluster-wide app role in the test run (each prepareDatabase sets it). */
const TEST_APP_PASSWORD = 'test-app-password';

/** On the run's PostgreSQL, or on the server behind `adminUrl` (a superuser URL, e.g. a server the test started). */
export async function createTestDatabase(adminUrl = process.env.SG_TEST_ADMIN_URL): Promise<TestDatabase> {
  if (!adminUrl) throw new Error('SG_TEST_ADMIN_URL is not set: run the tests through jest (global-setup.ts starts PostgreSQL)');
  const name = `sg_test_${randomBytes(6).toString('hex')}`;
  const ownerUrl = await createDatabase(adminUrl, name);
  const { appUrl } = await prepareDatabase({ ownerUrl, appPassword: TEST_APP_PASSWORD });
  return {
    name,
    ownerUrl,
    appUrl,
    async asOwner<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
      const c = new Client({ connectionString: ownerUrl });
      await c.connect();
      try {
        return (await c.query(sql, params)).rows as T[];
      } finally {
        await c.end();
      }
    },
    async drop(): Promise<void> {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
