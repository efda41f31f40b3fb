import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifications (src/notifications/): agencies' webhook subscriptions, the transactional outbox, and the cursor of
 * the access-notice reader.
 *
 *   webhook_subscriptions  an agency's https endpoint and the events it wants. Removing one sets removed_at (the
 *                          history of where messages could go is kept; the app role has no DELETE).
 *   outbox                 one message to one subscription, written in the SAME transaction as the record or
 *                          household membership that causes it. `payload` holds ids and field NAMES only: the
 *                          message itself is built at delivery time through the sharing policy and the audit ledger.
 *                          status pending → delivered | dead_letter; a dispatcher claims due rows with
 *                          FOR UPDATE SKIP LOCKED and a lease (lease_until, claim_token), so several gateway processes
 *                          can run it and a crashed one's rows are picked up again when the lease ends.
 *   outbox_cursors         how far the access-notice reader has read the audit ledger (seq), advanced in the same
 *                          transaction as the notices it enqueued: every disclosure gets its notice exactly once.
 *
 * safeguard_app: SELECT/INSERT/UPDATE on the subscriptions and the outbox, SELECT/UPDATE on the cursors; no DELETE,
 * no TRUNCATE anywhere.
 */
export class Notifications1763880400000 implements MigrationInterface {
  name = 'Notifications1763880400000';

  async up(q: QueryRunner): Promise<void> {
    const agencyId = `~ '^[a-z0-9][a-z0-9-]{0,62}$'`;
    const events = `ARRAY['operation_encompass.notification', 'household.perpetrator_joined', 'record.disclosed']::text[]`;

    await q.query(`
      CREATE TABLE webhook_subscriptions (
        id          uuid PRIMARY KEY,
        agency_id   text NOT NULL CHECK (agency_id ${agencyId}),
        url         text NOT NULL CHECK (length(url) <= 2000 AND url ~ '^https?://'),
        events      text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 10 AND events <@ ${events}),
        created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 300),
        created_at  timestamptz NOT NULL DEFAULT now(),
        removed_at  timestamptz,
        removed_by  text CHECK (removed_by IS NULL OR length(removed_by) BETWEEN 1 AND 300)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX webhook_subscriptions_agency_url_key ON webhook_subscriptions (agency_id, url) WHERE removed_at IS NULL`,
    );
    await q.query(`CREATE INDEX webhook_subscriptions_agency_idx ON webhook_subscriptions (agency_id) WHERE removed_at IS NULL`);
    await q.query(
      `COMMENT ON TABLE webhook_subscriptions IS 'Agencies'' webhook endpoints (https; checked against private addresses at registration and at every delivery) and the events each wants. Removed ones keep their row (removed_at).'`,
    );

    await q.query(`
      CREATE TABLE outbox (
        id                uuid PRIMARY KEY,
        kind              text NOT NULL CHECK (kind IN ('operation_encompass', 'perpetrator_alert', 'access_notice')),
        event             text NOT NULL CHECK (event = ANY (${events})),
        target_agency_id  text NOT NULL CHECK (target_agency_id ${agencyId}),
        subscription_id   uuid NOT NULL REFERENCES webhook_subscriptions (id),
        payload           jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
        dedupe_key        text NOT NULL CHECK (length(dedupe_key) BETWEEN 1 AND 300),
        status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead_letter')),
        attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at   timestamptz NOT NULL DEFAULT now(),
        deadline          timestamptz,
        lease_until       timestamptz,
        claim_token       uuid,
        last_status_code  integer,
        last_error        text CHECK (last_error IS NULL OR length(last_error) <= 200),
        delivered_at      timestamptz,
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    // One message per cause and subscription, however often the cause is written (idempotent replays, updates).
    await q.query(`CREATE UNIQUE INDEX outbox_dedupe_key ON outbox (dedupe_key)`);
    await q.query(`CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX outbox_target_idx ON outbox (target_agency_id, created_at)`);
    await q.query(
      `COMMENT ON TABLE outbox IS 'Transactional outbox: written with the record that causes it. payload = ids and field names only; the message is built at delivery through the sharing policy, its ledger entry committed before the POST.'`,
    );

    await q.query(`
      CREATE TABLE outbox_cursors (
        name       text PRIMARY KEY,
        last_seq   bigint NOT NULL CHECK (last_seq >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Access notices start from now: disclosures before this migration were made before anyone could subscribe.
    await q.query(`INSERT INTO outbox_cursors (name, last_seq) SELECT 'access_notices', COALESCE(max(seq), 0) FROM audit_ledger`);

    for (const table of ['webhook_subscriptions', 'outbox', 'outbox_cursors']) await q.query(`REVOKE ALL ON ${table} FROM PUBLIC`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON webhook_subscriptions, outbox TO safeguard_app`);
    await q.query(`GRANT SELECT, UPDATE ON outbox_cursors TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox_cursors`);
    await q.query(`DROP TABLE outbox`);
    await q.query(`DROP TABLE webhook_subscriptions`);
  }
}
