import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refusals of callers the gateway could not identify (no token, a bad token, headers Node's parser refused) are
 * counted here per source address, problem and time window, and each closed window is written to the ledger as ONE
 * `anonymous_refusals` entry (count, first and last time) by src/audit/anonymous-refusals.ts. So an anonymous
 * flood cannot grow the immutable ledger one row per request, and auditors still see every probe.
 *
 * safeguard_app: SELECT/INSERT/UPDATE/DELETE — a row lives only until its window is folded into the ledger. This
 * is a counter, not a record: the ledger entry is the record.
 */
export class AnonymousRefusals1796155273884 implements MigrationInterface {
  name = 'AnonymousRefusals1796155273884';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE anonymous_refusals (
        source        text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
        problem       text NOT NULL CHECK (problem ~ '^[a-z_]{1,40}$'),
        status        integer NOT NULL CHECK (status BETWEEN 400 AND 599),
        window_start  timestamptz NOT NULL,
        window_ms     integer NOT NULL CHECK (window_ms > 0),
        count         bigint NOT NULL CHECK (count > 0),
        first_at      timestamptz NOT NULL,
        last_at       timestamptz NOT NULL,
        PRIMARY KEY (source, problem, window_start)
      )`);
    await q.query(`CREATE INDEX anonymous_refusals_window_idx ON anonymous_refusals (window_start)`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON anonymous_refusals TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE anonymous_refusals`);
  }
}
