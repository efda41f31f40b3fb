/**
 * Contributions: an agency registers the people it works with, the households they live in, and its records.
 *
 * Every contribution runs in ONE transaction: the writes, the idempotency answer (./idempotency.ts) and the
 * ledger entry (kind `contribution`: field NAMES and a content hash, never values). The ledger entry is committed
 * before the transaction is, so a contribution the ledger cannot record is rolled back (503, nothing written).
 *
 * Who may do what (anything else is refused without saying whether the thing exists):
 *   - an agency knows a person once it has registered them, or matched them by a shared identifier
 *     (NHS number, unique pupil number, PNC id) or its own local id;
 *   - it may record households of its own, add people it knows to them, and record records about people it knows;
 *   - only the owning agency changes a record (403 to another agency that knows the subject, 404 to anyone else),
 *     and only from the version it last read (If-Match; 409 on a stale version).
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { ConflictError, InvalidInputError, NotFoundError, NotPermittedError } from '../errors';
import { contentHash, type AuditLedger, type JsonObject } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import type { Facts, SubjectRole } from '../vocabulary/vocabulary';
import { IDENTIFIERS, type Classification, type Identifier, type PersonField, type RecordKind, type StoredRecord } from './model';
import type { Answer } from './idempotency';
import { agencyKnowsPerson, findRecord, isUniqueViolation, recordOf, RECORD_COLUMNS } from './store';
import type { FieldValues } from './validation';
import { onHouseholdMemberWritten, onRecordWritten, type OutboxSettings } from '../notifications/outbox';

export interface ContributionDeps {
  readonly ledger: AuditLedger;
  readonly pseudonymise: Pseudonymiser;
  /** Settings of the transactional outbox hooks (src/notifications/outbox.ts); default: the default school calendar. */
  readonly notifications?: OutboxSettings;
}

export interface ContributionContext {
  readonly principal: Principal;
  readonly requestId: string;
}

/** The kind of ledger entry a contribution writes. */
export const CONTRIBUTION_KIND = 'contribution';

async function record(deps: ContributionDeps, ctx: ContributionContext, outcome: string, payload: JsonObject): Promise<void> {
  await deps.ledger.append({ kind: CONTRIBUTION_KIND, outcome, requestId: ctx.requestId, actor: actorOf(ctx.principal), payload });
}

const personNotKnown = (pointer: string): NotFoundError =>
  new NotFoundError(
    'person_not_found',
    'No person with that id is known to your agency. Register or match the person first (POST /v1/persons).',
    {
      errors: [{ pointer, detail: 'not a person your agency knows' }],
    },
  );

// ─── Persons ───────────────────────────────────────────────────────────────────────────────────────────────────

export interface PersonContribution {
  readonly identifiers?: Partial<Record<Identifier, string>>;
  readonly localId?: string;
  readonly fields?: Partial<Record<PersonField, unknown>>;
}

interface PersonRow {
  id: string;
  nhs_number: string | null;
  unique_pupil_number: string | null;
  pnc_id: string | null;
}

/**
 * Registers a person, or matches one the gateway already knows by a shared identifier or the caller's local id
 * (201 when new, 200 when matched). Identifiers the match did not have yet are added; one that contradicts what is
 * held is a 409 naming the identifier (never its value). The caller's own details about the person are stored
 * (replacing its earlier values of the same fields).
 */
export async function registerPerson(
  deps: ContributionDeps,
  ctx: ContributionContext,
  client: PoolClient,
  input: PersonContribution,
): Promise<Answer> {
  const agencyId = ctx.principal.agency.id;
  const given = IDENTIFIERS.filter((k) => input.identifiers?.[k] !== undefined);
  const value = (k: Identifier): string | null => input.identifiers?.[k] ?? null;

  const candidates = new Map<string, PersonRow>();
  let byLocalId: string | undefined;
  if (input.localId !== undefined) {
    const { rows } = await client.query<{ person_id: string }>(
      'SELECT person_id FROM person_agency_links WHERE agency_id = $1 AND local_id = $2',
      [agencyId, input.localId],
    );
    byLocalId = rows[0]?.person_id;
  }
  if (given.length > 0 || byLocalId) {
    const { rows } = await client.query<PersonRow>(
      `SELECT id, nhs_number, unique_pupil_number, pnc_id FROM persons
        WHERE nhs_number = $1 OR unique_pupil_number = $2 OR pnc_id = $3 OR id = $4::uuid
        ORDER BY id FOR UPDATE`,
      [value('nhs_number'), value('unique_pupil_number'), value('pnc_id'), byLocalId ?? null],
    );
    for (const r of rows) candidates.set(r.id, r);
  }
  if (candidates.size > 1) {
    throw new ConflictError(
      'identity_conflict',
      'The identifiers given belong to different people in the gateway, so they cannot be matched automatically. Check them with your ' +
        'records team.',
      {
        errors: given.map((k) => ({ pointer: `/identifiers/${k}`, detail: 'matches a person' })),
      },
    );
  }
  const existing = [...candidates.values()][0];
  let personId: string;
  let matchedBy: string[] = [];
  if (existing) {
    const contradicted = given.filter((k) => existing[k] !== null && existing[k] !== value(k));
    if (contradicted.length > 0) {
      throw new ConflictError(
        'identity_conflict',
        `The person these details match has a different ${contradicted.join(' and ')}. Check the identifiers with your records team.`,
        {
          errors: contradicted.map((k) => ({
            pointer: `/identifiers/${k}`,
            detail: 'differs from the identifier held for the matched person',
          })),
        },
      );
    }
    personId = existing.id;
    matchedBy = [...given.filter((k) => existing[k] === value(k)), ...(byLocalId ? ['localId'] : [])];
    await client.query(
      `UPDATE persons SET nhs_number = COALESCE(nhs_number, $2), unique_pupil_number = COALESCE(unique_pupil_number, $3),
              pnc_id = COALESCE(pnc_id, $4), updated_at = now() WHERE id = $1`,
      [personId, value('nhs_number'), value('unique_pupil_number'), value('pnc_id')],
    );
  } else {
    personId = randomUUID();
    try {
      await client.query(
        'INSERT INTO persons (id, owning_agency_id, nhs_number, unique_pupil_number, pnc_id) VALUES ($1, $2, $3, $4, $5)',
        [personId, agencyId, value('nhs_number'), value('unique_pupil_number'), value('pnc_id')],
      );
    } catch (error) {
      if (isUniqueViolation(error))
        throw new ConflictError(
          'identity_conflict',
          'Another request registered a person with these identifiers at the same moment. Send the request again to match them.',
        );
      throw error;
    }
  }

  const link = await client
    .query<{ local_id: string | null }>(
      `INSERT INTO person_agency_links (person_id, agency_id, local_id) VALUES ($1, $2, $3)
     ON CONFLICT (person_id, agency_id) DO UPDATE SET local_id = COALESCE(person_agency_links.local_id, EXCLUDED.local_id)
     RETURNING local_id`,
      [personId, agencyId, input.localId ?? null],
    )
    .catch((error: unknown) => {
      if (isUniqueViolation(error))
        throw new ConflictError('identity_conflict', 'Your agency already uses this local id for another person.', {
          errors: [{ pointer: '/localId', detail: 'already used for another person' }],
        });
      throw error;
    });
  if (input.localId !== undefined && link.rows[0]?.local_id !== input.localId) {
    throw new ConflictError('identity_conflict', 'Your agency already knows this person by a different local id.', {
      errors: [{ pointer: '/localId', detail: 'this person has another local id at your agency' }],
    });
  }

  // The agency's own details about the person: the identifiers it gave, and its fields.
  const held: Array<[string, unknown]> = [...given.map((k): [string, unknown] => [k, value(k)]), ...Object.entries(input.fields ?? {})];
  for (const [field, fieldValue] of held) {
    await client.query(
      `INSERT INTO person_field_values (person_id, agency_id, field, value) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (person_id, agency_id, field) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [personId, agencyId, field, JSON.stringify(fieldValue)],
    );
  }

  const fieldNames = held.map(([f]) => f).sort();
  const body: JsonObject = { id: personId, matched: existing !== undefined, ...(existing ? { matchedBy } : {}), fields: fieldNames };
  await record(deps, ctx, existing ? 'matched' : 'created', {
    action: existing ? 'match_person' : 'register_person',
    subject: deps.pseudonymise(personId),
    identifiers: [...given],
    localId: input.localId !== undefined,
    fields: fieldNames,
    contentHash: contentHash({
      personId,
      agencyId,
      identifiers: input.identifiers ?? {},
      localId: input.localId ?? null,
      fields: input.fields ?? {},
    }),
  });
  return { status: existing ? 200 : 201, headers: {}, body };
}

// ─── Households ────────────────────────────────────────────────────────────────────────────────────────────────

export async function createHousehold(
  deps: ContributionDeps,
  ctx: ContributionContext,
  client: PoolClient,
  input: { area: string; address: string },
): Promise<Answer> {
  const id = randomUUID();
  await client.query('INSERT INTO households (id, owning_agency_id, area, address) VALUES ($1, $2, $3, $4)', [
    id,
    ctx.principal.agency.id,
    input.area,
    input.address,
  ]);
  await record(deps, ctx, 'created', {
    action: 'create_household',
    householdId: deps.pseudonymise(id),
    fields: ['address', 'area'],
    contentHash: contentHash({ id, ...input }),
  });
  return { status: 201, headers: {}, body: { id } };
}

export interface MemberContribution {
  readonly personId: string;
  readonly subjectRole: SubjectRole;
  readonly from: string;
  readonly to?: string;
}

export async function addHouseholdMember(
  deps: ContributionDeps,
  ctx: ContributionContext,
  client: PoolClient,
  householdId: string,
  input: MemberContribution,
): Promise<Answer> {
  const agencyId = ctx.principal.agency.id;
  const { rows } = await client.query<{ owning_agency_id: string }>('SELECT owning_agency_id FROM households WHERE id = $1', [householdId]);
  if (rows[0]?.owning_agency_id !== agencyId)
    throw new NotFoundError('household_not_found', 'No household with that id belongs to your agency.');
  if (!(await agencyKnowsPerson(client, input.personId, agencyId))) throw personNotKnown('/personId');
  if (input.to !== undefined && input.to < input.from) {
    throw new InvalidInputError('invalid_input', 'A household membership cannot end before it starts.', {
      errors: [{ pointer: '/to', detail: 'is before from' }],
    });
  }
  const id = randomUUID();
  await client.query(
    'INSERT INTO household_members (id, household_id, person_id, subject_role, from_date, to_date, recorded_by_agency_id) VALUES ($1, ' +
      '$2, $3, $4, $5, $6, $7)',
    [id, householdId, input.personId, input.subjectRole, input.from, input.to ?? null, agencyId],
  );
  await onHouseholdMemberWritten(client, householdId); // transactional outbox: perpetrator-move alerts
  await record(deps, ctx, 'created', {
    action: 'add_household_member',
    householdId: deps.pseudonymise(householdId),
    membershipId: deps.pseudonymise(id),
    subject: deps.pseudonymise(input.personId),
    subjectRole: input.subjectRole,
    fields: input.to !== undefined ? ['from', 'to'] : ['from'],
    contentHash: contentHash({ id, householdId, ...input }),
  });
  return { status: 201, headers: {}, body: { id, householdId, personId: input.personId, subjectRole: input.subjectRole } };
}

// ─── Records ───────────────────────────────────────────────────────────────────────────────────────────────────

export interface RecordContent {
  readonly subjectRole: SubjectRole;
  readonly classification: Classification;
  readonly occurredAt: string;
  readonly fields: FieldValues;
  readonly facts: Facts;
}

function recordAnswer(r: StoredRecord, status: number): Answer {
  return {
    status,
    headers: { ETag: `"${r.version}"`, Location: `/v1/records/${r.id}` },
    body: {
      id: r.id,
      kind: r.kind,
      subjectPersonId: r.subjectPersonId,
      subjectRole: r.subjectRole,
      owningAgencyId: r.owningAgencyId,
      classification: r.classification,
      version: r.version,
      fields: Object.keys(r.fields).sort(),
      facts: Object.keys(r.facts).sort(),
    },
  };
}

function contributionPayload(deps: ContributionDeps, r: StoredRecord, action: string): JsonObject {
  return {
    action,
    recordId: deps.pseudonymise(r.id),
    recordKind: r.kind,
    version: r.version,
    subject: deps.pseudonymise(r.subjectPersonId),
    subjectRole: r.subjectRole,
    classification: r.classification,
    fields: Object.keys(r.fields).sort(),
    facts: Object.keys(r.facts).sort(),
    contentHash: contentHash({ id: r.id, version: r.version, occurredAt: r.occurredAt.toISOString(), fields: r.fields, facts: r.facts }),
  };
}

export async function createRecord(
  deps: ContributionDeps,
  ctx: ContributionContext,
  client: PoolClient,
  input: RecordContent & { readonly kind: RecordKind; readonly subjectPersonId: string },
): Promise<Answer> {
  const agencyId = ctx.principal.agency.id;
  if (!(await agencyKnowsPerson(client, input.subjectPersonId, agencyId))) throw personNotKnown('/subjectPersonId');
  const { rows } = await client.query(
    `INSERT INTO records (id, kind, subject_person_id, subject_role, owning_agency_id, classification, occurred_at, fields, facts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb) RETURNING ${RECORD_COLUMNS}`,
    [
      randomUUID(),
      input.kind,
      input.subjectPersonId,
      input.subjectRole,
      agencyId,
      input.classification,
      input.occurredAt,
      JSON.stringify(input.fields),
      JSON.stringify(input.facts),
    ],
  );
  const created = recordOf(rows[0] as Parameters<typeof recordOf>[0]);
  await onRecordWritten(client, created, deps.notifications); // transactional outbox: Operation Encompass
  await record(deps, ctx, 'created', contributionPayload(deps, created, 'create_record'));
  return recordAnswer(created, 201);
}

/** Replaces a record's content, from the version the caller read (`expectedVersion`, from If-Match). */
export async function updateRecord(
  deps: ContributionDeps,
  ctx: ContributionContext,
  client: PoolClient,
  recordId: string,
  expectedVersion: number,
  validate: (kind: RecordKind) => RecordContent,
): Promise<Answer> {
  const agencyId = ctx.principal.agency.id;
  const current = await findRecord(client, recordId, true);
  if (!current) throw new NotFoundError('record_not_found', 'No record with that id is available to your agency.');
  if (current.owningAgencyId !== agencyId) {
    if (await agencyKnowsPerson(client, current.subjectPersonId, agencyId)) {
      throw new NotPermittedError(
        'not_permitted',
        'Only the agency that holds this record can change it. Contribute your own record instead.',
      );
    }
    throw new NotFoundError('record_not_found', 'No record with that id is available to your agency.');
  }
  if (current.version !== expectedVersion) {
    throw new ConflictError(
      'record_version_stale',
      `The record has changed since version ${expectedVersion}: it is now version ${current.version}. Read it again and re-apply your change.`,
      {
        errors: [{ pointer: '/headers/if-match', detail: `stale version ${expectedVersion}; current version ${current.version}` }],
      },
    );
  }
  const input = validate(current.kind);
  const { rows } = await client.query(
    `UPDATE records SET subject_role = $2, classification = $3, occurred_at = $4, fields = $5::jsonb, facts = $6::jsonb,
            version = version + 1, updated_at = now()
      WHERE id = $1 AND version = $7 RETURNING ${RECORD_COLUMNS}`,
    [
      recordId,
      input.subjectRole,
      input.classification,
      input.occurredAt,
      JSON.stringify(input.fields),
      JSON.stringify(input.facts),
      expectedVersion,
    ],
  );
  if (!rows[0])
    throw new ConflictError(
      'record_version_stale',
      'The record changed while your update was being applied. Read it again and re-apply your change.',
    );
  const updated = recordOf(rows[0] as Parameters<typeof recordOf>[0]);
  await onRecordWritten(client, updated, deps.notifications); // transactional outbox: Operation Encompass
  await record(deps, ctx, 'updated', contributionPayload(deps, updated, 'update_record'));
  return recordAnswer(updated, 200);
}
