/**
 * Which PostgreSQL the gateway (and its CLIs) use, from `config.database` (src/config.ts): an external server
 * (DATABASE_URL; its user owns the schema), or the embedded development server under DATA_DIR on PG_PORT.
 */
import { startEmbeddedPostgres, type SupervisorLogger } from './embedded';
import { createDatabase } from './bootstrap';
import type { DatabaseConfig } from '../config';

export interface ResolvedDatabase {
  readonly ownerUrl: string;
  readonly embedded: boolean;
  /** Called as soon as the gateway starts to stop (before its pools are closed). */
  beginShutdown(): void;
  stop(): Promise<void>;
}

export const EMBEDDED_DATABASE_NAME = 'safeguard';

/** `supervisor`: restart the embedded server if it dies (the gateway); absent for the command-line tools. */
export async function resolveDatabase(
  database: DatabaseConfig,
  log: (line: string) => void,
  supervisor?: SupervisorLogger,
): Promise<ResolvedDatabase> {
  if (database.kind === 'external')
    return { ownerUrl: database.ownerUrl, embedded: false, beginShutdown: () => undefined, stop: async () => undefined };
  const { dataDir, port } = database;
  const server = await startEmbeddedPostgres({ dataDir, port, log, ...(supervisor ? { supervisor: { logger: supervisor } } : {}) });
  const ownerUrl = await createDatabase(server.adminUrl, EMBEDDED_DATABASE_NAME);
  return { ownerUrl, embedded: true, beginShutdown: () => server.beginShutdown(), stop: () => server.stop() };
}
