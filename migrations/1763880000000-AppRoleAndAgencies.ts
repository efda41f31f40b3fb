import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The least-privilege application role and the agency trust registry.
 * The gateway connects as `safeguard_app`, which owns nothing: it gets only the privileges each table grants it.
 * Migrations run as the database owner (DATABASE_URL).
 */
export class AppRoleAndAgencies1763880000000 implements MigrationInterface {
  name = 'AppRoleAndAgencies1763880000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'safeguard_app') THEN
          CREATE ROLE safeguard_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS;
        END IF;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO safeguard_app', current_database());
      END
      $$`);
    await q.query(`GRANT USAGE ON SCHEMA public TO safeguard_app`);
    await q.query(`
      CREATE TABLE agencies (
        id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
        name          text NOT NULL,
        agency_type   text NOT NULL,
        issuer        text NOT NULL,
        client_ids    text[] NOT NULL,
        allowed_roles text[] NOT NULL,
        area          text,
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `COMMENT ON TABLE agencies IS 'Trust registry: agencies, their OpenID issuer, client ids and allowed roles. Synced from configuration at start-up.'`,
    );
    await q.query(`GRANT SELECT ON agencies TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE agencies`);
    await q.query(`REVOKE USAGE ON SCHEMA public FROM safeguard_app`);
  }
}
