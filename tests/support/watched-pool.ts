/**
 * A pg Pool whose connections report every statement they send, in order, with the backend that sent it: how the
 * ledger writer's tests see which statements went on which connection. A statement sent as a query config (a named,
 * prepared statement) is reported by its text, like one sent as a string.
 */
import { Pool, type PoolClient } from 'pg';

export function watchedPool(url: string, onStatement: (sql: string, pid: number) => void, max = 2): Pool {
  const pool = new Pool({ connectionString: url, max });
  pool.on('connect', (client: PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    const pid = (client as unknown as { processID: number }).processID;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [first] = args;
      const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
      if (typeof text === 'string') onStatement(text.trimStart(), pid);
      return query(...args);
    };
  });
  return pool;
}
