import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The record store behind the records exchange (src/records/): persons and the agencies that know them, what each
 * agency holds about a person, households and who lived in them when, records (field → value, facts, version),
 * data sharing agreements, and idempotency keys for contributions.
 *
 * The application role `safeguard_app` gets SELECT/INSERT, and UPDATE only where a row legitimately changes
 * (a record's new version, a person's newly learnt identifier, an agency's own details about a person, the stored
 * answer of an idempotent request). Nothing grants DELETE or TRUNCATE: records are corrected, never removed, by the
 * gateway. Data sharing agreements are the operator's (migrations/seed, as the owner): the app only reads them.
 *
 * Literal word lists in CHECK constraints are a second line behind the API's validation (src/records/model.ts):
 * adding a kind or field is a new migration.
 */
export class Records1763880200000 implements MigrationInterface {
  name = 'Records1763880200000';

  async up(q: QueryRunner): Promise<void> {
    const subjectRoles = `('child', 'adult_victim', 'perpetrator', 'other_household_member', 'third_party')`;
    const agencyId = `~ '^[a-z0-9][a-z0-9-]{0,62}$'`; // as the trust registry (src/auth/registry.ts)

    await q.query(`
      CREATE TABLE persons (
        id                  uuid PRIMARY KEY,
        owning_agency_id    text NOT NULL CHECK (owning_agency_id ${agencyId}),
        nhs_number          text CHECK (nhs_number ~ '^[0-9]{10}$'),
        unique_pupil_number text CHECK (unique_pupil_number ~ '^[A-Z][0-9]{11}[0-9A-Z]$'),
        pnc_id              text CHECK (pnc_id ~ '^[0-9]{2,4}/[0-9]{1,7}[A-Z]$'),
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX persons_nhs_number_key ON persons (nhs_number) WHERE nhs_number IS NOT NULL`);
    await q.query(
      `CREATE UNIQUE INDEX persons_unique_pupil_number_key ON persons (unique_pupil_number) WHERE unique_pupil_number IS NOT NULL`,
    );
    await q.query(`CREATE UNIQUE INDEX persons_pnc_id_key ON persons (pnc_id) WHERE pnc_id IS NOT NULL`);
    await q.query(
      `COMMENT ON TABLE persons IS 'People the records are about. Shared identifiers (each unique) find the same person across agencies.'`,
    );

    // An agency "knows" a person once it has registered or matched them: only then may it contribute or ask about them.
    await q.query(`
      CREATE TABLE person_agency_links (
        person_id  uuid NOT NULL REFERENCES persons (id),
        agency_id  text NOT NULL CHECK (agency_id ${agencyId}),
        local_id   text CHECK (local_id ~ '^[A-Za-z0-9._:/-]{1,64}$'),
        linked_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, agency_id)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX person_agency_links_local_id_key ON person_agency_links (agency_id, local_id) WHERE local_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX person_agency_links_agency_idx ON person_agency_links (agency_id)`);

    await q.query(`
      CREATE TABLE person_field_values (
        person_id  uuid NOT NULL,
        agency_id  text NOT NULL,
        field      text NOT NULL CHECK (field IN ('name', 'date_of_birth', 'current_address', 'school_attended',
                     'refuge_address', 'new_address_after_separation', 'phone_number', 'email', 'gp_details',
                     'nhs_number', 'unique_pupil_number', 'pnc_id')),
        value      jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (person_id, agency_id, field),
        FOREIGN KEY (person_id, agency_id) REFERENCES person_agency_links (person_id, agency_id)
      )`);
    await q.query(
      `COMMENT ON TABLE person_field_values IS 'What each agency holds about a person (vocabulary field -> value). Disclosed only with that agency''s records, field by field, as policy allows.'`,
    );

    await q.query(`
      CREATE TABLE households (
        id               uuid PRIMARY KEY,
        owning_agency_id text NOT NULL CHECK (owning_agency_id ${agencyId}),
        area             text NOT NULL CHECK (length(area) BETWEEN 1 AND 100),
        address          text NOT NULL CHECK (length(address) BETWEEN 1 AND 500),
        created_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX households_owning_agency_idx ON households (owning_agency_id)`);
    await q.query(`
      CREATE TABLE household_members (
        id                     uuid PRIMARY KEY,
        household_id           uuid NOT NULL REFERENCES households (id),
        person_id              uuid NOT NULL REFERENCES persons (id),
        subject_role           text NOT NULL CHECK (subject_role IN ${subjectRoles}),
        from_date              date NOT NULL,
        to_date                date CHECK (to_date IS NULL OR to_date >= from_date),
        recorded_by_agency_id  text NOT NULL CHECK (recorded_by_agency_id ${agencyId}),
        created_at             timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX household_members_household_idx ON household_members (household_id, from_date)`);
    await q.query(`CREATE INDEX household_members_person_idx ON household_members (person_id, subject_role)`);

    await q.query(`
      CREATE TABLE records (
        id                uuid PRIMARY KEY,
        kind              text NOT NULL CHECK (kind IN ('incident', 'risk_assessment', 'referral', 'plan_status',
                            'school_note', 'court_order', 'health_note')),
        subject_person_id uuid NOT NULL REFERENCES persons (id),
        subject_role      text NOT NULL CHECK (subject_role IN ${subjectRoles}),
        owning_agency_id  text NOT NULL CHECK (owning_agency_id ${agencyId}),
        classification    text NOT NULL CHECK (classification IN ('OFFICIAL', 'OFFICIAL-SENSITIVE')),
        occurred_at       timestamptz NOT NULL,
        fields            jsonb NOT NULL CHECK (jsonb_typeof(fields) = 'object'),
        facts             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(facts) = 'object'),
        version           integer NOT NULL DEFAULT 1 CHECK (version > 0),
        created_at        timestamptz NOT NULL DEFAULT now(),
        updated_at        timestamptz NOT NULL DEFAULT now()
      )`);
    // A subject's records in time order (request API, chronology); an agency's own records; "is this person
    // recorded anywhere as a perpetrator?" (requester_is_alleged_perpetrator).
    await q.query(`CREATE INDEX records_subject_idx ON records (subject_person_id, occurred_at, id)`);
    await q.query(`CREATE INDEX records_owning_agency_idx ON records (owning_agency_id, occurred_at)`);
    await q.query(`CREATE INDEX records_perpetrator_idx ON records (subject_person_id) WHERE subject_role = 'perpetrator'`);
    await q.query(
      `COMMENT ON TABLE records IS 'Agency records: vocabulary field -> value (fields) and vocabulary facts (facts). version increases on every change (If-Match).'`,
    );

    await q.query(`
      CREATE TABLE sharing_agreements (
        id             text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,99}$'),
        title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
        parties        text[] NOT NULL CHECK (cardinality(parties) >= 2),
        purposes       text[] NOT NULL CHECK (cardinality(purposes) >= 1),
        starts_on      date NOT NULL,
        ends_on        date,
        review_on      date,
        dpia_reference text,
        created_at     timestamptz NOT NULL DEFAULT now(),
        CHECK (ends_on IS NULL OR ends_on >= starts_on)
      )`);
    await q.query(`CREATE INDEX sharing_agreements_parties_idx ON sharing_agreements USING gin (parties)`);
    await q.query(
      `COMMENT ON TABLE sharing_agreements IS 'Data sharing agreements. agreement_in_force = one covers both agencies for the purpose today (Europe/London date, ends_on inclusive).'`,
    );

    await q.query(`
      CREATE TABLE idempotency_keys (
        agency_id        text NOT NULL CHECK (agency_id ${agencyId}),
        idempotency_key  text NOT NULL CHECK (idempotency_key ~ '^[A-Za-z0-9._:-]{8,128}$'),
        request_hash     text NOT NULL,
        response_status  integer,
        response_headers jsonb,
        response_body    jsonb,
        created_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (agency_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)`);
    await q.query(
      `COMMENT ON TABLE idempotency_keys IS 'The answer to each contribution, by agency and Idempotency-Key: a retry gets the same answer and writes nothing. Answers hold ids and field names, never values.'`,
    );

    for (const table of [
      'persons',
      'person_agency_links',
      'person_field_values',
      'households',
      'household_members',
      'records',
      'sharing_agreements',
      'idempotency_keys',
    ]) {
      await q.query(`REVOKE ALL ON ${table} FROM PUBLIC`);
    }
    await q.query(
      `GRANT SELECT, INSERT, UPDATE ON persons, person_agency_links, person_field_values, records, idempotency_keys TO safeguard_app`,
    );
    await q.query(`GRANT SELECT, INSERT ON households, household_members TO safeguard_app`);
    await q.query(`GRANT SELECT ON sharing_agreements TO safeguard_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_keys`);
    await q.query(`DROP TABLE sharing_agreements`);
    await q.query(`DROP TABLE records`);
    await q.query(`DROP TABLE household_members`);
    await q.query(`DROP TABLE households`);
    await q.query(`DROP TABLE person_field_values`);
    await q.query(`DROP TABLE person_agency_links`);
    await q.query(`DROP TABLE persons`);
  }
}
