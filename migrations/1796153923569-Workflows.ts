import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The work around a decision (src/workflows/): referrals, requests for information, and the new webhook events.
 *
 *   referrals                     one per `refer` decision (a decision with fields that a named person must decide),
 *                                 linked to the decision's ledger entry. Routed to the decider role the rule names at
 *                                 the sharing agency. `request` holds the decision input (vocabulary words and facts,
 *                                 never values); the decider's reasons are kept here, in their words — the ledger keeps
 *                                 only their hash.
 *   information_requests          an agency asking several agencies about one subject for one purpose, by a deadline.
 *   information_request_targets   one row per agency asked: awaiting → answered | declined (overdue is awaiting past
 *                                 the deadline; `overdue_flagged_at` once it has been raised).
 *   information_request_releases  what an asked agency released: a record of its own and the field names the policy
 *                                 permitted at release (values stay in `records`; the requester's read decides again).
 *
 * safeguard_app: SELECT/INSERT, and UPDATE where a row legitimately changes state (a referral decided or flagged
 * overdue, a target answered). No DELETE, no TRUNCATE.
 */
export class Workflows1796153923569 implements MigrationInterface {
  name = 'Workflows1796153923569';

  async up(q: QueryRunner): Promise<void> {
    const agencyId = `~ '^[a-z0-9][a-z0-9-]{0,62}$'`;
    const actor = (prefix: string, nullable: boolean): string => `
        ${prefix}_client        text ${nullable ? '' : 'NOT NULL'} CHECK (length(${prefix}_client) BETWEEN 1 AND 200),
        ${prefix}_practitioner  text CHECK (length(${prefix}_practitioner) BETWEEN 1 AND 300),
        ${prefix}_name          text CHECK (length(${prefix}_name) BETWEEN 1 AND 200),
        ${prefix}_role          text ${nullable ? '' : 'NOT NULL'} CHECK (length(${prefix}_role) BETWEEN 1 AND 60)`;

    await q.query(`
      CREATE TABLE referrals (
        id                    uuid PRIMARY KEY,
        agency_id             text NOT NULL CHECK (agency_id ${agencyId}),
        decider_role          text NOT NULL CHECK (decider_role IN ('team_manager', 'caldicott_guardian', 'data_protection_officer')),
        decision_entry_id     uuid NOT NULL UNIQUE,
        decision_entry_seq    bigint NOT NULL,
        request               jsonb NOT NULL CHECK (jsonb_typeof(request) = 'object'),
        subject_ref           text CHECK (length(subject_ref) <= 200),
        referred_fields       text[] NOT NULL CHECK (cardinality(referred_fields) >= 1),
        permitted_fields      text[] NOT NULL,
        rules                 text[] NOT NULL,
        ${actor('asked_by', false)},
        due_at                timestamptz NOT NULL,
        status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'decided')),
        overdue_flagged_at    timestamptz,
        created_at            timestamptz NOT NULL DEFAULT now(),
        outcome               text CHECK (outcome IN ('share', 'share_some', 'do_not_share')),
        released_fields       text[],
        reasons               text CHECK (length(reasons) BETWEEN 1 AND 4000),
        ${actor('decided_by', true)},
        decided_at            timestamptz,
        decided_entry_id      uuid,
        CHECK ((status = 'open') = (outcome IS NULL)),
        CHECK (status = 'open' OR (released_fields IS NOT NULL AND reasons IS NOT NULL AND decided_by_client IS NOT NULL AND decided_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX referrals_queue_idx ON referrals (agency_id, decider_role, status, due_at)`);
    await q.query(`CREATE INDEX referrals_overdue_idx ON referrals (due_at) WHERE status = 'open' AND overdue_flagged_at IS NULL`);
    await q.query(
      `COMMENT ON TABLE referrals IS 'A refer decision waiting for (or given) the named decider''s decision. Linked to the decision''s ledger entry; the decision is a referral_decision ledger entry pointing at it.'`,
    );

    await q.query(`
      CREATE TABLE information_requests (
        id                  uuid PRIMARY KEY,
        requester_agency_id text NOT NULL CHECK (requester_agency_id ${agencyId}),
        ${actor('requested_by', false)},
        subject_person_id   uuid REFERENCES persons (id),
        case_reference      text CHECK (case_reference ~ '^[A-Za-z0-9._:/-]{1,128}$'),
        subject_role        text NOT NULL CHECK (subject_role IN ('child', 'adult_victim', 'perpetrator', 'other_household_member', 'third_party')),
        purpose             text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 60),
        fields              text[] NOT NULL CHECK (cardinality(fields) >= 1),
        facts               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(facts) = 'object'),
        priority            text NOT NULL CHECK (priority IN ('red', 'amber', 'green')),
        template            text CHECK (template IN ('cafcass_safeguarding_checks')),
        first_hearing_at    timestamptz,
        deadline            timestamptz NOT NULL,
        ledger_entry_id     uuid NOT NULL,
        created_at          timestamptz NOT NULL DEFAULT now(),
        CHECK (subject_person_id IS NOT NULL OR case_reference IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX information_requests_requester_idx ON information_requests (requester_agency_id, created_at DESC)`);

    await q.query(`
      CREATE TABLE information_request_targets (
        request_id          uuid NOT NULL REFERENCES information_requests (id),
        agency_id           text NOT NULL CHECK (agency_id ${agencyId}),
        status              text NOT NULL DEFAULT 'awaiting' CHECK (status IN ('awaiting', 'answered', 'declined')),
        deadline            timestamptz NOT NULL,
        overdue_flagged_at  timestamptz,
        responded_at        timestamptz,
        decline_reason      text CHECK (length(decline_reason) BETWEEN 1 AND 4000),
        ${actor('responded_by', true)},
        response_entry_id   uuid,
        PRIMARY KEY (request_id, agency_id),
        CHECK ((status = 'awaiting') = (responded_at IS NULL)),
        CHECK ((status = 'declined') = (decline_reason IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX information_request_targets_inbox_idx ON information_request_targets (agency_id, status, deadline)`);
    await q.query(
      `CREATE INDEX information_request_targets_overdue_idx ON information_request_targets (deadline) WHERE status = 'awaiting' AND overdue_flagged_at IS NULL`,
    );

    await q.query(`
      CREATE TABLE information_request_releases (
        id               uuid PRIMARY KEY,
        request_id       uuid NOT NULL,
        agency_id        text NOT NULL,
        record_id        uuid NOT NULL REFERENCES records (id),
        fields_released  text[] NOT NULL,
        ledger_entry_id  uuid NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (request_id, agency_id) REFERENCES information_request_targets (request_id, agency_id),
        UNIQUE (request_id, agency_id, record_id)
      )`);

    // The new webhook events and outbox kinds (the lists in the CHECKs are a second line behind src/notifications/events.ts).
    const events = `ARRAY['operation_encompass.notification', 'household.perpetrator_joined', 'record.disclosed',
      'referral.decided', 'referral.overdue', 'information_request.received', 'information_request.answered',
      'information_request.overdue']::text[]`;
    await q.query(`ALTER TABLE webhook_subscriptions DROP CONSTRAINT webhook_subscriptions_events_check`);
    await q.query(
      `ALTER TABLE webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_events_check CHECK (cardinality(events) BETWEEN 1 AND 10 AND events <@ ${events})`,
    );
    await q.query(`ALTER TABLE outbox DROP CONSTRAINT outbox_event_check`);
    await q.query(`ALTER TABLE outbox ADD CONSTRAINT outbox_event_check CHECK (event = ANY (${events}))`);
    await q.query(`ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check`);
    await q.query(`ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('operation_encompass', 'perpetrator_alert', 'access_notice',
      'referral_decided', 'referral_overdue', 'information_request_received', 'information_request_answered', 'information_request_overdue'))`);

    const tables = ['referrals', 'information_requests', 'information_request_targets', 'information_request_releases'];
    for (const table of tables) await q.query(`REVOKE ALL ON ${table} FROM PUBLIC`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON referrals, information_request_targets TO safeguard_app`);
    await q.query(`GRANT SELECT, INSERT ON information_requests, information_request_releases TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE information_request_releases`);
    await q.query(`DROP TABLE information_request_targets`);
    await q.query(`DROP TABLE information_requests`);
    await q.query(`DROP TABLE referrals`);
  }
}
