import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger names records and households only by their pseudonym (HMAC under AUDIT_PSEUDONYM_KEY, as subject
 * references: src/audit/pseudonym.ts). What an agency is told about its own records (access notices,
 * src/notifications/access-notices.ts) needs the id back: `ledger_ref` keeps each row's pseudonym beside it, in the
 * records store and never in the ledger. Filled by the gateway (it holds the key): src/records/ledger-refs.ts, for
 * rows that have none yet, before access notices are matched.
 *
 * safeguard_app: UPDATE of households.ledger_ref only (records already allow UPDATE).
 */
export class LedgerRefs1796162200000 implements MigrationInterface {
  name = 'LedgerRefs1796162200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE records ADD COLUMN ledger_ref text CHECK (ledger_ref ~ '^hmac-sha256:[0-9a-f]{64}$')`);
    await q.query(`ALTER TABLE households ADD COLUMN ledger_ref text CHECK (ledger_ref ~ '^hmac-sha256:[0-9a-f]{64}$')`);
    await q.query(`CREATE INDEX records_ledger_ref_idx ON records (ledger_ref)`);
    await q.query(`CREATE INDEX households_ledger_ref_idx ON households (ledger_ref)`);
    await q.query(`CREATE INDEX records_without_ledger_ref_idx ON records (owning_agency_id) WHERE ledger_ref IS NULL`);
    await q.query(`CREATE INDEX households_without_ledger_ref_idx ON households (owning_agency_id) WHERE ledger_ref IS NULL`);
    await q.query(`GRANT UPDATE (ledger_ref) ON households TO safeguard_app`);
    await q.query(
      `COMMENT ON COLUMN records.ledger_ref IS 'The pseudonym the audit ledger knows this record by (HMAC of its id): the ledger never holds the id.'`,
    );
    await q.query(
      `COMMENT ON COLUMN households.ledger_ref IS 'The pseudonym the audit ledger knows this household by (HMAC of its id): the ledger never holds the id.'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`REVOKE UPDATE (ledger_ref) ON households FROM safeguard_app`);
    await q.query(`ALTER TABLE households DROP COLUMN ledger_ref`);
    await q.query(`ALTER TABLE records DROP COLUMN ledger_ref`);
  }
}
