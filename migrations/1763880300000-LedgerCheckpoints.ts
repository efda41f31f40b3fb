import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Signed checkpoints of the audit ledger (src/audit/checkpoints.ts): each row is the Merkle root (RFC 9162) of the
 * first `tree_size` entries, signed by the gateway's `ledger` key as a compact JWS (`jws`; the other columns repeat
 * what it says, for queries — the JWS is the authority). `consistency_proof` proves the tree grew append-only from
 * the checkpoint at `prev_tree_size` (null for the first); it needs no signature, only the two signed roots.
 *
 * Append-only exactly like audit_ledger: `safeguard_app` may SELECT and INSERT only, and UPDATE / DELETE / TRUNCATE
 * are refused by triggers for everybody, the owner included. Every checkpoint is also exported outside the database
 * (CHECKPOINT_EXPORT_DIR, CHECKPOINT_MIRROR_DIR), so a DBA who disables the triggers and rolls the ledger back is
 * still found by comparing with the exported files.
 */
export class LedgerCheckpoints1763880300000 implements MigrationInterface {
  name = 'LedgerCheckpoints1763880300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ledger_checkpoints (
        tree_size         bigint PRIMARY KEY CHECK (tree_size > 0),
        root_hash         text NOT NULL CHECK (root_hash ~ '^[0-9a-f]{64}$'),
        last_entry_hash   text NOT NULL CHECK (last_entry_hash ~ '^[0-9a-f]{64}$'),
        signed_at         timestamptz NOT NULL,
        jws               text NOT NULL UNIQUE CHECK (length(jws) < 4096),
        kid               text NOT NULL,
        prev_tree_size    bigint CHECK (prev_tree_size > 0 AND prev_tree_size < tree_size),
        consistency_proof text[] NOT NULL DEFAULT '{}'
      )`);
    await q.query(`
      CREATE FUNCTION ledger_checkpoints_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger_checkpoints is append-only: % refused', TG_OP
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Checkpoints can never be changed or removed; seal a new one instead.';
      END
      $$`);
    await q.query(`
      CREATE TRIGGER ledger_checkpoints_no_update_or_delete
        BEFORE UPDATE OR DELETE ON ledger_checkpoints
        FOR EACH ROW EXECUTE FUNCTION ledger_checkpoints_refuse_change()`);
    await q.query(`
      CREATE TRIGGER ledger_checkpoints_no_truncate
        BEFORE TRUNCATE ON ledger_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_checkpoints_refuse_change()`);
    await q.query(`REVOKE ALL ON ledger_checkpoints FROM PUBLIC`);
    await q.query(`REVOKE ALL ON FUNCTION ledger_checkpoints_refuse_change() FROM PUBLIC`);
    await q.query(`GRANT SELECT, INSERT ON ledger_checkpoints TO safeguard_app`);
    await q.query(`
      COMMENT ON TABLE ledger_checkpoints IS
      'Append-only signed checkpoints of audit_ledger: jws is an ES256 compact JWS (typ sg-checkpoint+jwt, the '
      'gateway ledger key, published at /.well-known/jwks.json) over {v, ledger, treeSize, rootHash, lastEntryHash, '
      'signedAt}; rootHash is the RFC 9162 Merkle root over the entry_hash of entries 1..treeSize. UPDATE, DELETE and '
      'TRUNCATE are refused by triggers; safeguard_app may only SELECT and INSERT. Every row is also exported to '
      'files outside the database. See src/audit/checkpoints.ts.'`);
  }

  /** Never destroys audit evidence: refuses unless there are no checkpoints. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM ledger_checkpoints) THEN
          RAISE EXCEPTION 'refusing to drop non-empty ledger_checkpoints: export and archive it first';
        END IF;
      END
      $$`);
    await q.query(`DROP TABLE ledger_checkpoints`);
    await q.query(`DROP FUNCTION ledger_checkpoints_refuse_change()`);
  }
}
