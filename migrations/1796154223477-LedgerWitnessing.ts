import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ledger trust beyond the database host (src/audit/checkpoints/):
 *   - ledger_checkpoints.note: the checkpoint as a C2SP signed note (tlog-checkpoint body, Ed25519 note signature by
 *     the gateway's note key); compact_range: the roots of the perfect subtrees on the tree's right edge (hex, one per
 *     set bit of tree_size, leftmost first), from which the next seal continues without re-reading the ledger.
 *     Both null for checkpoints sealed before this migration.
 *   - ledger_cosignatures: the cosignature/v1 lines (C2SP tlog-cosignature) that witnesses returned for a checkpoint.
 *     Append-only like the ledger. A witness keeps its own copy; this table only serves the cosigned note.
 *   - audit_ledger.entry_mac: HMAC-SHA-256 of entry_hash under the gateway's ledger MAC key (null before this
 *     migration): an entry a database superuser forges or re-chains has no valid MAC, so it is never sealed.
 *     ledger_mac_start.from_seq: entries after it must carry a MAC.
 */
export class LedgerWitnessing1796154223477 implements MigrationInterface {
  name = 'LedgerWitnessing1796154223477';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ledger_checkpoints ADD COLUMN note text CHECK (length(note) < 8192), ADD COLUMN compact_range text[]`);
    await q.query(`ALTER TABLE audit_ledger ADD COLUMN entry_mac text CHECK (entry_mac ~ '^[0-9a-f]{64}$')`);
    await q.query(`
      CREATE TABLE ledger_cosignatures (
        tree_size   bigint NOT NULL CHECK (tree_size > 0),
        witness     text NOT NULL CHECK (length(witness) < 300),
        cosignature text NOT NULL CHECK (length(cosignature) < 1000),
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tree_size, witness)
      )`);
    await q.query(`CREATE TABLE ledger_mac_start (from_seq bigint PRIMARY KEY CHECK (from_seq >= 0))`);
    await q.query(`INSERT INTO ledger_mac_start (from_seq) SELECT coalesce(max(seq), 0) FROM audit_ledger`);
    for (const table of ['ledger_cosignatures', 'ledger_mac_start']) {
      await q.query(
        `CREATE TRIGGER ${table}_no_update_or_delete BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ledger_checkpoints_refuse_change()`,
      );
      await q.query(
        `CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ledger_checkpoints_refuse_change()`,
      );
      await q.query(`REVOKE ALL ON ${table} FROM PUBLIC`);
    }
    await q.query(`GRANT SELECT, INSERT ON ledger_cosignatures TO safeguard_app`);
    await q.query(`GRANT SELECT ON ledger_mac_start TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM ledger_cosignatures) OR EXISTS (SELECT 1 FROM ledger_checkpoints WHERE note IS NOT NULL) THEN
          RAISE EXCEPTION 'refusing to drop witnessed checkpoints: export and archive them first';
        END IF;
      END
      $$`);
    await q.query(`DROP TABLE ledger_cosignatures`);
    await q.query(`DROP TABLE ledger_mac_start`);
    await q.query(`ALTER TABLE audit_ledger DROP COLUMN entry_mac`);
    await q.query(`ALTER TABLE ledger_checkpoints DROP COLUMN note, DROP COLUMN compact_range`);
  }
}
