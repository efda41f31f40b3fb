/**
 * Which PostgreSQL the gateway (and its CLIs) use: DATABASE_URL when set (an external server; its user owns the
 * schema), otherwise the embedded development server under DATA_DIR (default ./data) on PG_PORT (default 54329).
 */
import { startEmbeddedPostgres, type SupervisorLogger } from './embedded';
import { createDatabase } from './bootstrap';

export interface ResolvedDatabase {
  readonly ownerUrl: string;
  readonly embedded: boolean;
  /** Called as soon as the gateway starts to stop (before its pools are closed). */
  beginShutdown(): void;
  stop(): Promise<void>;
}

export const DEFAULT_PG_PORT = 54329;
export const EMBEDDED_DATABASE_NAME = 'safeguard';

/** `supervisor`: restart the embedded server if it dies (the gateway); absent for the command-line tools. */
export async function resolveDatabase(env: NodeJS.ProcessEnv, log: (line: string) => void, supervisor?: SupervisorLogger): Promise<ResolvedDatabase> {
  if (env.DATABASE_URL) return { ownerUrl: env.DATABASE_URL, embedded: false, beginShutdown: () => undefined, stop: async () => undefined };
  const port = env.PG_PORT ? Number.parseInt(env.PG_PORT, 10) : DEFAULT_PG_PORT;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PG_PORT must be a port number, got "${env.PG_PORT}"`);
  const server = await startEmbeddedPostgres({ dataDir: env.DATA_DIR ?? 'data', port, log, ...(supervisor ? { supervisor: { logger: supervisor } } : {}) });
  const ownerUrl = await createDatabase(server.adminUrl, EMBEDDED_DATABASE_NAME);
  return { ownerUrl, embedded: true, beginShutdown: () => server.beginShutdown(), stop: () => server.stop() };
}
