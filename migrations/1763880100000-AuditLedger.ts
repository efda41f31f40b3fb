import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit ledger: an append-only, hash-chained record of every disclosure decision (src/audit/entry.ts, written by src/audit/pg-ledger.ts).
 *
 * Immutability is enforced by the database itself, not only by the application:
 *   - the application role `safeguard_app` gets SELECT and INSERT only (no UPDATE, DELETE or TRUNCATE privilege);
 *   - row-level BEFORE UPDATE / BEFORE DELETE and statement-level BEFORE TRUNCATE triggers refuse the change for
 *     everybody else too, the owner included.
 * A DBA who disables the triggers can still edit rows; that is what the hash chain is for (src/audit/verify.ts).
 *
 * `seq` is gapless and assigned by the appender under an advisory lock (no sequence: a sequence leaves gaps on
 * rollback, and a gap must mean a deleted entry). `prev_hash` is UNIQUE as well: an honest chain never forks.
 */
export class AuditLedger1763880100000 implements MigrationInterface {
  name = 'AuditLedger1763880100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_ledger (
        seq          bigint PRIMARY KEY CHECK (seq > 0),
        entry_id     uuid NOT NULL UNIQUE,
        recorded_at  timestamptz NOT NULL,
        kind         text NOT NULL,
        outcome      text NOT NULL,
        request_id   text NOT NULL,
        agency_id    text,
        agency_type  text,
        client_id    text,
        practitioner text,
        role         text,
        issuer       text,
        purpose      text,
        rules        text[] NOT NULL DEFAULT '{}',
        payload      jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
        prev_hash    text NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
        entry_hash   text NOT NULL UNIQUE CHECK (entry_hash ~ '^[0-9a-f]{64}$')
      )`);
    // The auditor's filters (src/audit/query.ts) page newest first by seq: (filter, seq) serves both.
    await q.query(`CREATE INDEX audit_ledger_recorded_at_idx ON audit_ledger (recorded_at)`);
    await q.query(`CREATE INDEX audit_ledger_agency_idx ON audit_ledger (agency_id, seq)`);
    await q.query(`CREATE INDEX audit_ledger_purpose_idx ON audit_ledger (purpose, seq)`);
    await q.query(`CREATE INDEX audit_ledger_outcome_idx ON audit_ledger (outcome, seq)`);
    await q.query(`CREATE INDEX audit_ledger_kind_idx ON audit_ledger (kind, seq)`);
    await q.query(`CREATE INDEX audit_ledger_rules_idx ON audit_ledger USING gin (rules)`);

    await q.query(`
      CREATE FUNCTION audit_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_ledger is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Audit entries can never be changed or removed; record a new entry instead.';
      END
      $$`);
    await q.query(`
      CREATE TRIGGER audit_ledger_no_update_or_delete
        BEFORE UPDATE OR DELETE ON audit_ledger
        FOR EACH ROW EXECUTE FUNCTION audit_ledger_refuse_change()`);
    await q.query(`
      CREATE TRIGGER audit_ledger_no_truncate
        BEFORE TRUNCATE ON audit_ledger
        FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_refuse_change()`);

    await q.query(`REVOKE ALL ON audit_ledger FROM PUBLIC`);
    await q.query(`REVOKE ALL ON FUNCTION audit_ledger_refuse_change() FROM PUBLIC`);
    await q.query(`GRANT SELECT, INSERT ON audit_ledger TO safeguard_app`);
    await q.query(`
      COMMENT ON TABLE audit_ledger IS
      'Append-only, hash-chained audit ledger of disclosure decisions. UPDATE, DELETE and TRUNCATE are refused by '
      'triggers for every role; the application role safeguard_app may only SELECT and INSERT. seq is gapless '
      '(assigned by the appender under an advisory lock); entry_hash = SHA-256 of the RFC 8785 canonical entry '
      'including prev_hash (see src/audit/entry.ts entryHash). payload holds field names and content hashes, '
      'never sensitive values. Verify with npm run audit:verify.'`);
  }

  /** Never destroys audit evidence: refuses unless the ledger is empty. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM audit_ledger) THEN
          RAISE EXCEPTION 'refusing to drop a non-empty audit_ledger: export and archive it first';
        END IF;
      END
      $$`);
    await q.query(`DROP TABLE audit_ledger`);
    await q.query(`DROP FUNCTION audit_ledger_refuse_change()`);
  }
}
