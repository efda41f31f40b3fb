/**
 * Idempotent contributions. Every POST carries an `Idempotency-Key`; per agency and key the gateway keeps a hash
 * of the request (method, path, body) and the answer it gave:
 *
 *   same key, same request      → the same answer again (`Idempotent-Replayed: true`), nothing written twice;
 *   same key, different request → 409;
 *   a request that failed       → nothing kept: the key can be used again.
 *
 * The key row is inserted FIRST, in the same transaction as the work and committed with it. A concurrent request
 * with the same key waits on that row (PostgreSQL blocks the second INSERT until the first transaction ends), then
 * either replays the committed answer or, if the first rolled back, does the work itself.
 * Answers hold ids and field names only, never values (see ./contribute.ts).
 */
import type { Pool, PoolClient } from 'pg';
import { ConflictError } from '../errors';
import type { JsonObject } from '../audit/entry';
import { inTransaction } from '../db/tx';

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: JsonObject;
}

export interface IdempotencyScope {
  readonly agencyId: string;
  readonly key: string;
  /** contentHash of { method, path, body }. */
  readonly requestHash: string;
}

export async function idempotent(
  pool: Pool,
  scope: IdempotencyScope,
  work: (client: PoolClient) => Promise<Answer>,
): Promise<Answer & { readonly replayed: boolean }> {
  return inTransaction(pool, async (client) => {
    const claimed = await client.query(
      `INSERT INTO idempotency_keys (agency_id, idempotency_key, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (agency_id, idempotency_key) DO NOTHING`,
      [scope.agencyId, scope.key, scope.requestHash],
    );
    if (claimed.rowCount === 1) {
      const answer = await work(client);
      await client.query(
        `UPDATE idempotency_keys SET response_status = $3, response_headers = $4::jsonb, response_body = $5::jsonb
          WHERE agency_id = $1 AND idempotency_key = $2`,
        [scope.agencyId, scope.key, answer.status, JSON.stringify(answer.headers), JSON.stringify(answer.body)],
      );
      return { ...answer, replayed: false };
    }
    const { rows } = await client.query<{
      request_hash: string;
      response_status: number | null;
      response_headers: Record<string, string> | null;
      response_body: JsonObject | null;
    }>(
      'SELECT request_hash, response_status, response_headers, response_body FROM idempotency_keys WHERE agency_id = $1 AND ' +
        'idempotency_key = $2',
      [scope.agencyId, scope.key],
    );
    const row = rows[0];
    if (!row || row.request_hash !== scope.requestHash) {
      throw new ConflictError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used for a different request. Use a new key for a new contribution; reuse a key only to retry ' +
          'exactly the same request.',
        { errors: [{ pointer: '/headers/idempotency-key', detail: 'already used for a different request' }] },
      );
    }
    if (row.response_status === null || row.response_body === null) throw new Error('idempotency key committed without its answer');
    return { status: row.response_status, headers: row.response_headers ?? {}, body: row.response_body, replayed: true };
  });
}
