/**
 * The one transaction helper (src/db/tx.ts) against real PostgreSQL: COMMIT is checked, a failure rolls back
 * everything, the options really reach the server, and a connection whose ROLLBACK failed is not reused.
 */
import { Pool } from 'pg';
import { beginStatement, inSnapshot, inTransaction, transaction } from '../../src/db/tx';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('src/db/tx.ts', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.asOwner('CREATE TABLE tx_probe (n int PRIMARY KEY)');
    await db.asOwner('GRANT SELECT, INSERT ON tx_probe TO safeguard_app');
    pool = new Pool({ connectionString: db.appUrl, max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('commits what the work did and returns its result', async () => {
    const result = await inTransaction(pool, async (c) => {
      await c.query('INSERT INTO tx_probe (n) VALUES (1)');
      return 'done';
    });
    expect(result).toBe('done');
    expect(await db.asOwner('SELECT n FROM tx_probe WHERE n = 1')).toHaveLength(1);
  });

  it('rolls back everything when the work throws, and rethrows the original error', async () => {
    const failure = inTransaction(pool, async (c) => {
      await c.query('INSERT INTO tx_probe (n) VALUES (2)');
      throw new Error('work failed');
    });
    await expect(failure).rejects.toThrow('work failed');
    expect(await db.asOwner('SELECT n FROM tx_probe WHERE n = 2')).toHaveLength(0);
  });

  it('treats a COMMIT that PostgreSQL answered with ROLLBACK as a failure', async () => {
    // A swallowed error leaves the transaction aborted: COMMIT then answers ROLLBACK, not an error.
    const failure = inTransaction(pool, async (c) => {
      await c.query('INSERT INTO tx_probe (n) VALUES (3)');
      await c.query('INSERT INTO tx_probe (n) VALUES (3)').catch(() => undefined);
    });
    await expect(failure).rejects.toThrow('COMMIT answered ROLLBACK');
    expect(await db.asOwner('SELECT n FROM tx_probe WHERE n = 3')).toHaveLength(0);
  });

  it('applies isolation, read-only, synchronous commit, statement timeout and the advisory lock', async () => {
    const seen = await inTransaction(
      pool,
      async (c) => {
        const { rows } = await c.query<{ iso: string; ro: string; sync: string; timeout: string; locks: number }>(
          `SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro,
                  current_setting('synchronous_commit') AS sync, current_setting('statement_timeout') AS timeout,
                  (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks`,
        );
        return rows[0];
      },
      { isolation: 'serializable', readOnly: true, synchronousCommit: true, statementTimeoutMs: 1234, advisoryLock: '4242' },
    );
    expect(seen).toEqual({ iso: 'serializable', ro: 'on', sync: 'on', timeout: '1234ms', locks: 1 });
  });

  it('inSnapshot is READ ONLY and REPEATABLE READ: writes are refused', async () => {
    await expect(inSnapshot(pool, (c) => c.query('INSERT INTO tx_probe (n) VALUES (4)'))).rejects.toThrow(/read-only transaction/);
    expect(
      await inSnapshot(
        pool,
        async (c) => (await c.query<{ iso: string }>(`SELECT current_setting('transaction_isolation') AS iso`)).rows[0]?.iso,
      ),
    ).toBe('repeatable read');
  });

  it('a statement timeout bounds the wait for an advisory lock held elsewhere', async () => {
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN; SELECT pg_advisory_xact_lock(777)');
      const other = await pool.connect();
      try {
        await expect(transaction(other, async () => 'never', { advisoryLock: '777', statementTimeoutMs: 200 })).rejects.toThrow(
          /statement timeout/,
        );
        // The connection was rolled back cleanly and is usable again.
        expect((await other.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      } finally {
        other.release();
      }
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  it('refuses option values that would not be a plain number in SQL', () => {
    expect(() => beginStatement({ advisoryLock: '1; DROP TABLE x' })).toThrow(RangeError);
    expect(() => beginStatement({ statementTimeoutMs: 0 })).toThrow(RangeError);
    expect(beginStatement({})).toBe('BEGIN');
  });
});
