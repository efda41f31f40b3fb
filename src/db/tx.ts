/**
 * The one way to run a transaction. Every BEGIN … COMMIT in the gateway goes through `inTransaction` (a pooled
 * connection) or `transaction` (a connection the caller already holds): nothing else writes BEGIN, COMMIT or
 * ROLLBACK by hand.
 *
 *   BEGIN [ISOLATION LEVEL …] [READ ONLY]; [SET LOCAL synchronous_commit = on;] [SET LOCAL statement_timeout = n;]
 *   [SELECT pg_advisory_xact_lock(key);] [an opening query, e.g. a read that must follow the lock]   — one round trip
 *   → work(client) → COMMIT, CHECKED: PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, not an
 *   error, so a COMMIT that did not commit is an error here.
 *
 * On any failure the transaction is rolled back and the original error rethrown. A connection whose ROLLBACK
 * failed is in an unknown state: `inTransaction` destroys it rather than return it to the pool.
 */
import type { ClientBase, Pool, PoolClient, QueryResult } from 'pg';
import { SafeguardError } from '../errors';

/** A pool or one connection: whatever a query can be sent on. Functions that only query take a `Db`. */
export type Db = Pool | ClientBase;

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

export interface TxOptions {
  /** Default: the database's (READ COMMITTED). */
  readonly isolation?: Isolation;
  readonly readOnly?: boolean;
  /** `SET LOCAL synchronous_commit = on`: COMMIT returns only once the WAL is flushed (and replicated, if configured). */
  readonly synchronousCommit?: boolean;
  /** `SET LOCAL statement_timeout` in ms, for every statement including the advisory lock wait. */
  readonly statementTimeoutMs?: number;
  /** `pg_advisory_xact_lock(key)`, taken right after BEGIN and held until COMMIT/ROLLBACK (a 64-bit integer, decimal). */
  readonly advisoryLock?: string;
  /**
   * One parameterless statement sent last in the opening round trip, after the advisory lock: its own snapshot, taken
   * once the lock is held, sees what the lock's previous holder committed. Its result is `work`'s second argument.
   */
  readonly openingQuery?: string;
}

const ISOLATION_SQL: Record<Isolation, string> = {
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};
const INT64 = /^-?\d{1,19}$/;

/** The opening statements for `options`, as one string (one round trip). Exported for tests. */
export function beginStatement(options: TxOptions = {}): string {
  let begin = 'BEGIN';
  if (options.isolation) begin += ` ISOLATION LEVEL ${ISOLATION_SQL[options.isolation]}`;
  if (options.readOnly) begin += ' READ ONLY';
  const parts = [begin];
  if (options.synchronousCommit) parts.push('SET LOCAL synchronous_commit = on');
  if (options.statementTimeoutMs !== undefined) {
    if (!Number.isInteger(options.statementTimeoutMs) || options.statementTimeoutMs < 1)
      throw new RangeError('statementTimeoutMs must be a positive integer');
    parts.push(`SET LOCAL statement_timeout = ${options.statementTimeoutMs}`);
  }
  if (options.advisoryLock !== undefined) {
    if (!INT64.test(options.advisoryLock)) throw new RangeError('advisoryLock must be a 64-bit integer in decimal');
    parts.push(`SELECT pg_advisory_xact_lock(${options.advisoryLock})`);
  }
  if (options.openingQuery !== undefined) {
    if (options.openingQuery.includes(';')) throw new RangeError('openingQuery must be one statement');
    parts.push(options.openingQuery);
  }
  return parts.join('; ');
}

/** Sends COMMIT and checks it committed. */
async function commit(client: ClientBase): Promise<void> {
  const result = await client.query('COMMIT');
  // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, not an error.
  if (result.command !== 'COMMIT') throw new Error(`COMMIT answered ${result.command}`);
}

/** Thrown only by `transaction` when ROLLBACK itself failed; `cause` is the original error. Internal to this file. */
class RollbackFailed extends SafeguardError {
  readonly code = 'rollback_failed' as const;
  constructor(readonly original: unknown) {
    super('ROLLBACK failed');
  }
}

/** The result of the opening round trip's last statement (`openingQuery`, or the lock, or BEGIN). */
export type OpeningResult = QueryResult<Record<string, unknown>>;

async function run<T>(
  client: ClientBase,
  work: (client: ClientBase, opening: OpeningResult) => Promise<T>,
  options: TxOptions,
): Promise<T> {
  try {
    // Several statements in one simple query: node-pg answers with one result per statement.
    const opened = (await client.query(beginStatement(options))) as OpeningResult | OpeningResult[];
    const opening = Array.isArray(opened) ? (opened[opened.length - 1] as OpeningResult) : opened;
    const result = await work(client, opening);
    await commit(client);
    return result;
  } catch (error) {
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    throw rolledBack ? error : new RollbackFailed(error);
  }
}

/**
 * Runs `work` in one transaction on a connection the caller holds (and releases). Resolves only after a checked
 * COMMIT; on failure rolls back and rethrows the original error.
 */
export async function transaction<T, C extends ClientBase>(
  client: C,
  work: (client: C, opening: OpeningResult) => Promise<T>,
  options: TxOptions = {},
): Promise<T> {
  try {
    return await run(client, work as (client: ClientBase, opening: OpeningResult) => Promise<T>, options);
  } catch (e) {
    throw e instanceof RollbackFailed ? e.original : e;
  }
}

/**
 * Runs `work` in one transaction on one pooled connection: COMMIT (checked) if it resolves, ROLLBACK if it throws,
 * so nothing is half-written. A connection whose ROLLBACK failed is destroyed, not reused.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: TxOptions = {}): Promise<T> {
  const client = await pool.connect();
  try {
    const result = await run(client, work as (client: ClientBase) => Promise<T>, options);
    client.release();
    return result;
  } catch (e) {
    if (e instanceof RollbackFailed) {
      client.release(true);
      throw e.original;
    }
    client.release();
    throw e;
  }
}

/** A consistent READ ONLY, REPEATABLE READ snapshot however long the reading takes, while writes go on. */
export function inSnapshot<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: Omit<TxOptions, 'isolation' | 'readOnly'> = {},
): Promise<T> {
  return inTransaction(pool, work, { ...options, isolation: 'repeatable read', readOnly: true });
}
