import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What several gateway instances (on several hosts) must share, kept in their one PostgreSQL:
 *
 *   web_sessions  the pages' sessions (connect-pg-simple's table): a practitioner signed in on one instance
 *                 continues on any other. Expired rows are pruned by the store.
 *   rate_limits   the per-address and per-agency allowances (rate-limiter-flexible's table: key, points used in
 *                 the current window, when the window ends in epoch ms). UNLOGGED: a counter lost in a crash only
 *                 gives a fresh minute; it is never audit data, and it is not worth a WAL flush per lease.
 *
 * safeguard_app: SELECT/INSERT/UPDATE/DELETE on both (sessions end, counters reset); nothing else.
 */
export class SharedSessionsAndLimits1796156508049 implements MigrationInterface {
  name = 'SharedSessionsAndLimits1796156508049';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE web_sessions (
        sid     varchar NOT NULL COLLATE "default" PRIMARY KEY,
        sess    json NOT NULL,
        expire  timestamp(6) NOT NULL
      );
      CREATE INDEX web_sessions_expire ON web_sessions (expire);
      GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO safeguard_app;

      CREATE UNLOGGED TABLE rate_limits (
        key     varchar(255) PRIMARY KEY,
        points  integer NOT NULL DEFAULT 0,
        expire  bigint
      );
      GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO safeguard_app;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rate_limits; DROP TABLE web_sessions;');
  }
}
