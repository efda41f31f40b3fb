/**
 * SQL for the record store (tables: migrations/1763880200000-Records.ts). Parameterised queries only; every
 * function takes the connection to use, so a caller's transaction covers everything it does.
 */
import type { Db } from '../db/tx';
import { isAgencyType, isSubjectRole, type AgencyType } from '../vocabulary/vocabulary';
import { isRecordKind, type Classification, type HouseholdMembership, type StoredRecord } from './model';

interface RecordRow {
  id: string;
  kind: string;
  subject_person_id: string;
  subject_role: string;
  owning_agency_id: string;
  classification: string;
  occurred_at: Date;
  fields: Record<string, unknown>;
  facts: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export const RECORD_COLUMNS =
  'id, kind, subject_person_id, subject_role, owning_agency_id, classification, occurred_at, fields, facts, version, created_at, ' +
  'updated_at';

export function recordOf(row: RecordRow): StoredRecord {
  if (!isRecordKind(row.kind) || !isSubjectRole(row.subject_role)) throw new Error(`record ${row.id} holds a word outside the vocabulary`);
  return {
    id: row.id,
    kind: row.kind,
    subjectPersonId: row.subject_person_id,
    subjectRole: row.subject_role,
    owningAgencyId: row.owning_agency_id,
    classification: row.classification as Classification,
    occurredAt: row.occurred_at,
    fields: row.fields,
    facts: row.facts,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function findRecord(db: Db, id: string, forUpdate = false): Promise<StoredRecord | undefined> {
  const { rows } = await db.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM records WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? recordOf(rows[0]) : undefined;
}

export async function recordsOfSubject(db: Db, personId: string): Promise<StoredRecord[]> {
  const { rows } = await db.query<RecordRow>(
    `SELECT ${RECORD_COLUMNS} FROM records WHERE subject_person_id = $1 ORDER BY occurred_at, id`,
    [personId],
  );
  return rows.map(recordOf);
}

/** Does this agency know this person (registered or matched them)? */
export async function agencyKnowsPerson(db: Db, personId: string, agencyId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM person_agency_links WHERE person_id = $1 AND agency_id = $2', [personId, agencyId]);
  return (rowCount ?? 0) > 0;
}

/** Agency id → agency type, from the trust registry. An agency missing from it (or with an unknown type) is absent. */
export async function agencyTypes(db: Db, ids: readonly string[]): Promise<Map<string, AgencyType>> {
  const out = new Map<string, AgencyType>();
  if (ids.length === 0) return out;
  const { rows } = await db.query<{ id: string; agency_type: string }>('SELECT id, agency_type FROM agencies WHERE id = ANY($1::text[])', [
    [...new Set(ids)],
  ]);
  for (const r of rows) if (isAgencyType(r.agency_type)) out.set(r.id, r.agency_type);
  return out;
}

/** What each of `agencyIds` holds about the person: agency → field → value. */
export async function personFieldsBy(db: Db, personId: string, agencyIds: readonly string[]): Promise<Map<string, Map<string, unknown>>> {
  const out = new Map<string, Map<string, unknown>>();
  if (agencyIds.length === 0) return out;
  const { rows } = await db.query<{ agency_id: string; field: string; value: unknown }>(
    'SELECT agency_id, field, value FROM person_field_values WHERE person_id = $1 AND agency_id = ANY($2::text[]) ORDER BY field',
    [personId, [...new Set(agencyIds)]],
  );
  for (const r of rows) {
    const fields = out.get(r.agency_id) ?? new Map<string, unknown>();
    fields.set(r.field, r.value);
    out.set(r.agency_id, fields);
  }
  return out;
}

/** Is the person recorded anywhere — on a record or in a household — as a perpetrator? */
export async function isRecordedPerpetrator(db: Db, personId: string): Promise<boolean> {
  const { rows } = await db.query<{ yes: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM records WHERE subject_person_id = $1 AND subject_role = 'perpetrator')
         OR EXISTS (SELECT 1 FROM household_members WHERE person_id = $1 AND subject_role = 'perpetrator') AS yes`,
    [personId],
  );
  return rows[0]?.yes === true;
}

/** Every membership of every household the person has been a member of (theirs included). */
export async function membershipsAround(db: Db, personId: string): Promise<HouseholdMembership[]> {
  const { rows } = await db.query<{
    id: string;
    household_id: string;
    person_id: string;
    subject_role: string;
    from_date: string;
    to_date: string | null;
  }>(
    `SELECT m.id, m.household_id, m.person_id, m.subject_role, m.from_date::text AS from_date, m.to_date::text AS to_date
       FROM household_members m
      WHERE m.household_id IN (SELECT household_id FROM household_members WHERE person_id = $1)
      ORDER BY m.from_date, m.id`,
    [personId],
  );
  return rows.flatMap((r) =>
    isSubjectRole(r.subject_role)
      ? [
          {
            id: r.id,
            householdId: r.household_id,
            personId: r.person_id,
            subjectRole: r.subject_role,
            from: r.from_date,
            ...(r.to_date ? { to: r.to_date } : {}),
          },
        ]
      : [],
  );
}

/** PostgreSQL unique_violation. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
