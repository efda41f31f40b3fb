import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `audit_ledger_chains_onto(seq, entry_hash)`: is the entry `seq` in the ledger, committed, with that hash? The ledger
 * writer's one-statement batch (src/audit/pg-ledger.ts, INSERT_ON_KNOWN_HEAD) asks it after taking the appenders'
 * advisory lock. The function is VOLATILE and PL/pgSQL (never inlined), so under READ COMMITTED its query takes a
 * fresh snapshot when it runs: it sees a batch that committed while the statement waited for the lock, which the
 * statement's own snapshot (taken before the wait) does not. That lets a writer send its next batch, chained onto
 * the one still committing, without waiting for that commit; if the one before did not commit, the check is false
 * and nothing is inserted.
 */
export class LedgerChainsOnto1796164000000 implements MigrationInterface {
  name = 'LedgerChainsOnto1796164000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION audit_ledger_chains_onto(p_seq bigint, p_entry_hash text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE STRICT AS $$
      BEGIN
        RETURN EXISTS (SELECT 1 FROM audit_ledger WHERE seq = p_seq AND entry_hash = p_entry_hash);
      END $$`);
    await q.query(`REVOKE ALL ON FUNCTION audit_ledger_chains_onto(bigint, text) FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION audit_ledger_chains_onto(bigint, text) TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION audit_ledger_chains_onto(bigint, text)`);
  }
}
