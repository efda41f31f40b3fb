/** Reading a consistent snapshot of the database. */
import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` in one READ ONLY, REPEATABLE READ transaction: a consistent snapshot however long the reading takes,
 * while writes go on. A client that failed is discarded, not returned to the pool.
 */
export async function inSnapshot<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release(failed ? true : undefined);
  }
}
