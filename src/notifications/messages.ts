/**
 * Building a message at delivery time, through the sharing policy — exactly as a record request is decided
 * (src/records/disclose.ts): the decision input comes from what is STORED now (the owning agency's type from the
 * trust registry, the record's fields plus what the owner holds about the subject, the record's facts plus the facts
 * the gateway derives: hours_since_incident, agreement_in_force, perpetrator_joined_household_with_children),
 * never from the outbox row or anyone's say-so. Only permitted values go into the message body; the audit side
 * carries field names, codes and rule ids only.
 *
 *   operation_encompass  police incident record → the school's designated safeguarding lead, purpose
 *                        operation_encompass (policies/operation-encompass.yaml).
 *   perpetrator_alert    what the gateway holds about the perpetrator — the household they joined (its address as
 *                        `current_address`, from the household's agency) and each record about them as a
 *                        perpetrator (latest 20) — → children's social care (child_protection_enquiry) or the MASH
 *                        (mash_triage) of the household's area, decided per source with
 *                        perpetrator_joined_household_with_children derived afresh (policies/records-notifications.yaml).
 *   access_notice        to the agency that holds a disclosed record: who, purpose, which fields (names only). Its own
 *                        accountability information: rule `access-notice-to-data-owner`, no policy decision.
 */
import { inSnapshot, type Db } from '../db/tx';
import type { PoolClient } from 'pg';
import type { JsonObject, JsonValue } from '../audit/entry';
import { agreementsFor, agreementStatus, englandDate, type AgreementStatus } from '../records/agreements';
import { decisionFacts } from '../records/facts';
import type { StoredRecord } from '../records/model';
import { newPerpetratorInHousehold } from '../records/risk-signals';
import { findRecord, membershipsAround, personFieldsBy, recordOf, RECORD_COLUMNS } from '../records/store';
import type { Decision, PolicyEngine } from '../policy/types';
import {
  isAgencyType,
  isField,
  isPurpose,
  isRole,
  type AgencyType,
  type DecisionOutcome,
  type Facts,
  type Field,
  type Purpose,
  type Role,
} from '../vocabulary/vocabulary';
import { ACCESS_NOTICE_REASON, ACCESS_NOTICE_RULE, ALERT_RECIPIENTS, ENCOMPASS_RECIPIENT_ROLE, ENCOMPASS_RECIPIENT_TYPES } from './events';
import { perpetratorJoins } from './outbox';
import { buildWorkflowNotice } from '../workflows/notices';
import type { BuildDeps, BuiltMessage, OutboxMessage, SourceAudit } from './message';

export type { BuildDeps, BuiltMessage, OutboxMessage, SourceAudit } from './message';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

async function agencyOf(db: Db, id: string): Promise<{ type: AgencyType | null; area: string | null } | undefined> {
  const { rows } = await db.query<{ agency_type: string; area: string | null }>('SELECT agency_type, area FROM agencies WHERE id = $1', [
    id,
  ]);
  const row = rows[0];
  if (!row) return undefined;
  return { type: isAgencyType(row.agency_type) ? row.agency_type : null, area: row.area };
}

function refused(recipient: BuiltMessage['recipient'], policyVersion: string, refusal: string, purpose?: Purpose): BuiltMessage {
  return { outcome: 'deny', ...(purpose ? { purpose } : {}), recipient, rules: [], policyVersion, subject: null, sources: [], refusal };
}

interface Judged {
  readonly decision: Decision;
  readonly values: ReadonlyMap<Field, unknown>;
  readonly audit: SourceAudit;
}

function judge(
  engine: PolicyEngine,
  input: {
    from: AgencyType | null;
    to: { agencyType: AgencyType; role: Role };
    purpose: Purpose;
    subjectRole: StoredRecord['subjectRole'];
    values: ReadonlyMap<Field, unknown>;
    facts: Facts;
  },
  source: { source: 'record' | 'household'; recordId: string | null; householdId: string | null; owningAgencyId: string },
): Judged {
  const fields = [...input.values.keys()];
  const decision: Decision = input.from
    ? engine.decide({
        from: { agencyType: input.from },
        to: input.to,
        purpose: input.purpose,
        subjectRole: input.subjectRole,
        fields,
        facts: input.facts,
      })
    : {
        decision: 'deny',
        permittedFields: [],
        withheldFields: fields.map((field) => ({
          field,
          code: 'no_rule_permits' as const,
          reason: 'The agency that holds this is not in the trust registry any more.',
          routes: [],
        })),
        rules: [],
        lawfulBasis: [],
        reasons: ['The agency that holds this is not in the trust registry any more, so nothing from it may be shared.'],
        mustRecord: [],
        agreementGaps: [],
        policyVersion: engine.version,
      };
  return {
    decision,
    values: input.values,
    audit: {
      ...source,
      owningAgencyType: input.from,
      fieldsDisclosed: [...decision.permittedFields],
      withheldFields: decision.withheldFields.map((w) => ({ field: w.field, code: w.code, rule: w.rule ?? null })),
      rules: [...decision.rules],
      facts: { ...input.facts },
    },
  };
}

function valuesOf(record: StoredRecord, held: ReadonlyMap<string, unknown> | undefined): Map<Field, unknown> {
  const values = new Map<Field, unknown>();
  for (const [k, v] of Object.entries(record.fields)) if (isField(k)) values.set(k, v);
  for (const [k, v] of held ?? new Map<string, unknown>()) if (isField(k) && !values.has(k)) values.set(k, v);
  return values;
}

/** The part of a message about one source: permitted values, withheld names with reasons, rules, lawful basis. */
function disclosed(j: Judged): JsonObject {
  const fields: Record<string, JsonValue> = {};
  for (const f of j.decision.permittedFields) fields[f] = j.values.get(f) as JsonValue;
  return {
    fields,
    withheldFields: j.decision.withheldFields.map((w) => ({ field: w.field, code: w.code, reason: w.reason })),
    rules: [...j.decision.rules],
    lawfulBasis: j.decision.lawfulBasis.map((b) => ({
      ...b,
      fields: [...b.fields],
      sharing: { ...b.sharing, notYetInForce: b.sharing.notYetInForce.map((d) => ({ ...d })) },
    })),
    reasons: [...j.decision.reasons],
    mustRecord: [...j.decision.mustRecord],
  };
}

function overall(judged: readonly Judged[]): DecisionOutcome {
  const permitted = judged.reduce((n, j) => n + j.decision.permittedFields.length, 0);
  const withheld = judged.reduce((n, j) => n + j.decision.withheldFields.length, 0);
  if (permitted === 0) return judged.some((j) => j.decision.decision === 'refer') ? 'refer' : 'deny';
  return withheld === 0 ? 'permit' : 'permit_partial';
}

const allRules = (judged: readonly Judged[]): string[] => [...new Set(judged.flatMap((j) => j.decision.rules))];

// ─── Operation Encompass ───────────────────────────────────────────────────────────────────────────────────────

async function buildEncompass(deps: BuildDeps, db: PoolClient, m: OutboxMessage): Promise<BuiltMessage> {
  const purpose: Purpose = 'operation_encompass';
  const target = await agencyOf(db, m.targetAgencyId);
  const recipient = { agencyId: m.targetAgencyId, agencyType: target?.type ?? null, role: ENCOMPASS_RECIPIENT_ROLE };
  if (!target?.type || !ENCOMPASS_RECIPIENT_TYPES.includes(target.type))
    return refused(recipient, deps.engine.version, 'recipient_not_a_school', purpose);
  const recordId = str(m.payload.recordId);
  const record = recordId ? await findRecord(db, recordId) : undefined;
  if (!record) return refused(recipient, deps.engine.version, 'record_missing', purpose);
  const owner = await agencyOf(db, record.owningAgencyId);
  const held = await personFieldsBy(db, record.subjectPersonId, [record.owningAgencyId]);
  const agreement = agreementStatus(
    await agreementsFor(db, m.targetAgencyId, purpose),
    record.owningAgencyId,
    m.targetAgencyId,
    purpose,
    englandDate(deps.now),
  );
  const perpetratorJoined = newPerpetratorInHousehold(record.subjectPersonId, await membershipsAround(db, record.subjectPersonId)).flagged;
  const facts = decisionFacts(record, { now: deps.now, agreement, requester: {}, perpetratorJoinedHousehold: perpetratorJoined });
  const values = valuesOf(record, held.get(record.owningAgencyId));
  const j = judge(
    deps.engine,
    {
      from: owner?.type ?? null,
      to: { agencyType: target.type, role: ENCOMPASS_RECIPIENT_ROLE },
      purpose,
      subjectRole: record.subjectRole,
      values,
      facts,
    },
    { source: 'record', recordId: record.id, householdId: null, owningAgencyId: record.owningAgencyId },
  );
  const outcome = overall([j]);
  const base = {
    outcome,
    purpose,
    recipient,
    rules: allRules([j]),
    policyVersion: deps.engine.version,
    subject: deps.pseudonymise(record.subjectPersonId),
    sources: [j.audit],
  };
  if (j.decision.permittedFields.length === 0) return { ...base, refusal: 'policy_denied' };
  return {
    ...base,
    body: {
      type: 'operation_encompass',
      purpose,
      deadline: m.deadline?.toISOString() ?? null,
      subject: { personId: record.subjectPersonId, subjectRole: record.subjectRole },
      record: {
        recordId: record.id,
        kind: record.kind,
        owningAgency: { id: record.owningAgencyId, agencyType: owner?.type ?? null },
        occurredAt: record.occurredAt.toISOString(),
      },
      ...disclosed(j),
      policyVersion: deps.engine.version,
    },
  };
}

// ─── Perpetrator moves ─────────────────────────────────────────────────────────────────────────────────────────

const ALERT_RECORD_LIMIT = 20;

function agreementFor(
  agreements: Awaited<ReturnType<typeof agreementsFor>>,
  owner: string,
  target: string,
  purpose: Purpose,
  now: Date,
): AgreementStatus {
  return agreementStatus(agreements, owner, target, purpose, englandDate(now));
}

async function buildAlert(deps: BuildDeps, db: PoolClient, m: OutboxMessage): Promise<BuiltMessage> {
  const target = await agencyOf(db, m.targetAgencyId);
  const spec = ALERT_RECIPIENTS.find((r) => r.agencyType === target?.type);
  const recipient = { agencyId: m.targetAgencyId, agencyType: target?.type ?? null, role: spec?.role ?? null };
  if (!target?.type || !spec) return refused(recipient, deps.engine.version, 'recipient_not_csc_or_mash');
  const purpose = spec.purpose;
  const householdId = str(m.payload.householdId);
  const membershipId = str(m.payload.membershipId);
  const { rows: households } = householdId
    ? await db.query<{ owning_agency_id: string; area: string; address: string }>(
        'SELECT owning_agency_id, area, address FROM households WHERE id = $1',
        [householdId],
      )
    : { rows: [] };
  const household = households[0];
  if (!household || !householdId || !membershipId) return refused(recipient, deps.engine.version, 'household_missing', purpose);
  if (!target.area || target.area.trim().toLowerCase() !== household.area.trim().toLowerCase())
    return refused(recipient, deps.engine.version, 'recipient_not_in_area', purpose);

  // The fact is derived afresh: is this membership still a perpetrator's new join of a household with a child?
  const join = (await perpetratorJoins(db, householdId, englandDate(deps.now))).find((j) => j.membershipId === membershipId);
  const personId = join?.personId ?? str(m.payload.perpetratorPersonId);
  if (!personId) return refused(recipient, deps.engine.version, 'household_missing', purpose);
  const joined = join !== undefined;

  const { rows } = await db.query(
    `SELECT ${RECORD_COLUMNS} FROM records WHERE subject_person_id = $1 AND subject_role = 'perpetrator' ORDER BY occurred_at DESC, id LIMIT ${ALERT_RECORD_LIMIT}`,
    [personId],
  );
  const records = rows.map((r) => recordOf(r as Parameters<typeof recordOf>[0]));
  const owners = [...new Set([household.owning_agency_id, ...records.map((r) => r.owningAgencyId)])];
  const held = await personFieldsBy(db, personId, owners);
  const agreements = await agreementsFor(db, m.targetAgencyId, purpose);
  const ownerTypes = new Map<string, AgencyType | null>();
  for (const o of owners) ownerTypes.set(o, (await agencyOf(db, o))?.type ?? null);
  const to = { agencyType: target.type, role: spec.role };

  // The household: its address is the perpetrator's current address, as its agency recorded it.
  const householdValues = new Map<Field, unknown>([['current_address', household.address]]);
  for (const [k, v] of held.get(household.owning_agency_id) ?? new Map<string, unknown>())
    if (isField(k) && !householdValues.has(k)) householdValues.set(k, v);
  const householdAgreement = agreementFor(agreements, household.owning_agency_id, m.targetAgencyId, purpose, deps.now);
  const householdFacts: Facts = {
    agreement_in_force: householdAgreement.status === 'in_force',
    ...(joined ? { perpetrator_joined_household_with_children: true } : {}),
  };
  const judged: Judged[] = [
    judge(
      deps.engine,
      {
        from: ownerTypes.get(household.owning_agency_id) ?? null,
        to,
        purpose,
        subjectRole: 'perpetrator',
        values: householdValues,
        facts: householdFacts,
      },
      { source: 'household', recordId: null, householdId, owningAgencyId: household.owning_agency_id },
    ),
  ];
  for (const r of records) {
    const agreement = agreementFor(agreements, r.owningAgencyId, m.targetAgencyId, purpose, deps.now);
    const facts = decisionFacts(r, { now: deps.now, agreement, requester: {}, perpetratorJoinedHousehold: joined });
    judged.push(
      judge(
        deps.engine,
        {
          from: ownerTypes.get(r.owningAgencyId) ?? null,
          to,
          purpose,
          subjectRole: r.subjectRole,
          values: valuesOf(r, held.get(r.owningAgencyId)),
          facts,
        },
        { source: 'record', recordId: r.id, householdId: null, owningAgencyId: r.owningAgencyId },
      ),
    );
  }
  const outcome = overall(judged);
  const base = {
    outcome,
    purpose,
    recipient,
    rules: allRules(judged),
    policyVersion: deps.engine.version,
    subject: deps.pseudonymise(personId),
    sources: judged.map((j) => j.audit),
  };
  if (!judged.some((j) => j.decision.permittedFields.length > 0))
    return { ...base, refusal: joined ? 'policy_denied' : 'no_longer_applies' };
  const recordsById = new Map(records.map((r) => [r.id, r]));
  return {
    ...base,
    body: {
      type: 'perpetrator_joined_household',
      purpose,
      subject: { personId, subjectRole: 'perpetrator' },
      household: { householdId, area: household.area, joinedOn: join?.joinedOn ?? str(m.payload.joinedOn) ?? null },
      // Only sources with something disclosed; a source of which nothing may be shared is not even mentioned.
      sources: judged
        .filter((j) => j.decision.permittedFields.length > 0)
        .map((j) => {
          const r = j.audit.recordId ? recordsById.get(j.audit.recordId) : undefined;
          return {
            source: j.audit.source,
            ...(r ? { recordId: r.id, kind: r.kind, occurredAt: r.occurredAt.toISOString() } : { householdId }),
            owningAgency: { id: j.audit.owningAgencyId, agencyType: j.audit.owningAgencyType },
            ...disclosed(j),
          };
        }),
      policyVersion: deps.engine.version,
    },
  };
}

// ─── Access notices ────────────────────────────────────────────────────────────────────────────────────────────

async function buildAccessNotice(deps: BuildDeps, db: PoolClient, m: OutboxMessage): Promise<BuiltMessage> {
  const target = await agencyOf(db, m.targetAgencyId);
  const recipient = { agencyId: m.targetAgencyId, agencyType: target?.type ?? null, role: null };
  if (!target) return refused(recipient, deps.engine.version, 'recipient_unknown');
  const p = m.payload;
  const to = (typeof p.disclosedTo === 'object' && p.disclosedTo !== null ? p.disclosedTo : {}) as Record<string, unknown>;
  const fields = Array.isArray(p.fields) ? p.fields.filter((f): f is Field => isField(f)) : [];
  const purpose = isPurpose(p.purpose) ? p.purpose : null;
  return {
    outcome: 'permit',
    recipient,
    rules: [ACCESS_NOTICE_RULE],
    policyVersion: deps.engine.version,
    subject: null,
    sources: [],
    body: {
      type: 'record_disclosed',
      recordId: str(p.recordId) ?? null,
      householdId: str(p.householdId) ?? null,
      disclosedAt: str(p.disclosedAt) ?? null,
      disclosedTo: {
        agencyId: str(to.agencyId) ?? null,
        agencyType: isAgencyType(to.agencyType) ? to.agencyType : null,
        role: isRole(to.role) ? to.role : null,
      },
      purpose,
      fields,
      via: str(p.via) ?? null,
      ledger: { entryId: str(p.ledgerEntryId) ?? null, seq: typeof p.ledgerSeq === 'number' ? p.ledgerSeq : null },
      reason: ACCESS_NOTICE_REASON,
    },
  };
}

/** Builds the message of one outbox row from what is stored now. Never throws for a refusal (see `refusal`). */
export async function buildMessage(deps: BuildDeps, m: OutboxMessage): Promise<BuiltMessage> {
  return inSnapshot(deps.pool, (db) => {
    switch (m.kind) {
      case 'operation_encompass':
        return buildEncompass(deps, db, m);
      case 'perpetrator_alert':
        return buildAlert(deps, db, m);
      case 'access_notice':
        return buildAccessNotice(deps, db, m);
      case 'referral_decided':
      case 'referral_overdue':
      case 'information_request_received':
      case 'information_request_answered':
      case 'information_request_overdue':
        return buildWorkflowNotice(deps, db, { ...m, kind: m.kind });
    }
  });
}
