/**
 * Deciding one stored record for one recipient, as the records exchange does (src/records/disclose.ts): the input
 * is built from what is STORED — the owning agency's type from the trust registry, the record's fields plus what
 * the owner holds about the subject, the record's facts plus the facts the gateway derives (hours since the
 * incident, whether an agreement is in force, whether a perpetrator joined the household) — and the policy decides.
 * Facts a requester asserted (e.g. Cafcass: court proceedings are active) are added only where the record says
 * nothing, and never a fact the gateway derives.
 */
import type { Pseudonymiser } from '../audit/pseudonym';
import type { PoolClient } from 'pg';
import type { JsonObject, JsonValue } from '../audit/entry';
import { agreementsFor, agreementStatus, englandDate } from '../records/agreements';
import { decisionFacts } from '../records/facts';
import { isDerivedFact, type StoredRecord } from '../records/model';
import { newPerpetratorInHousehold } from '../records/risk-signals';
import { membershipsAround, personFieldsBy } from '../records/store';
import type { Decision, PolicyEngine } from '../policy/types';
import { isAgencyType, isField, type AgencyType, type Facts, type Field, type Purpose, type Role } from '../vocabulary/vocabulary';

export interface Recipient {
  readonly agencyId: string;
  readonly agencyType: AgencyType;
  readonly role: Role;
}

export interface Judgement {
  readonly record: StoredRecord;
  readonly ownerType: AgencyType | null;
  readonly decision: Decision;
  readonly facts: Facts;
  /** Permitted fields and their values: nothing else. */
  readonly fields: Readonly<Record<string, JsonValue>>;
}

export async function judgeRecord(
  db: PoolClient,
  engine: PolicyEngine,
  record: StoredRecord,
  to: Recipient,
  purpose: Purpose,
  options: { readonly now: Date; readonly assertedFacts?: Facts; readonly onlyFields?: readonly string[] },
): Promise<Judgement> {
  const { rows } = await db.query<{ agency_type: string }>('SELECT agency_type FROM agencies WHERE id = $1', [record.owningAgencyId]);
  const ownerType = isAgencyType(rows[0]?.agency_type) ? rows[0]?.agency_type : null;
  const held = (await personFieldsBy(db, record.subjectPersonId, [record.owningAgencyId])).get(record.owningAgencyId);
  const values = new Map<Field, unknown>();
  for (const [k, v] of Object.entries(record.fields)) if (isField(k)) values.set(k, v);
  for (const [k, v] of held ?? new Map<string, unknown>()) if (isField(k) && !values.has(k)) values.set(k, v);
  const fields = [...values.keys()].filter((f) => options.onlyFields === undefined || options.onlyFields.includes(f));

  const agreement = agreementStatus(
    await agreementsFor(db, to.agencyId, purpose),
    record.owningAgencyId,
    to.agencyId,
    purpose,
    englandDate(options.now),
  );
  const joined = newPerpetratorInHousehold(record.subjectPersonId, await membershipsAround(db, record.subjectPersonId)).flagged;
  const derived = decisionFacts(record, { now: options.now, agreement, requester: {}, perpetratorJoinedHousehold: joined });
  const facts: Record<string, boolean | number | string> = { ...derived };
  for (const [k, v] of Object.entries(options.assertedFacts ?? {})) {
    if (!isDerivedFact(k) && !(k in facts) && v !== undefined) facts[k] = v;
  }
  const decision: Decision = ownerType
    ? engine.decide({
        from: { agencyType: ownerType },
        to: { agencyType: to.agencyType, role: to.role },
        purpose,
        subjectRole: record.subjectRole,
        fields,
        facts: facts,
      })
    : {
        decision: 'deny',
        permittedFields: [],
        withheldFields: fields.map((field) => ({
          field,
          code: 'no_rule_permits' as const,
          reason: 'The agency that holds this record is not in the trust registry any more.',
          routes: [],
        })),
        rules: [],
        lawfulBasis: [],
        reasons: ['The agency that holds this record is not in the trust registry any more, so nothing from it may be shared.'],
        mustRecord: [],
        agreementGaps: [],
        policyVersion: engine.version,
      };
  const sent: Record<string, JsonValue> = {};
  for (const f of decision.permittedFields) sent[f] = values.get(f) as JsonValue;
  return { record, ownerType, decision, facts: facts, fields: sent };
}

/** The audit side of a judgement: names, codes and rule ids only. */
export function judgementAudit(j: Judgement, pseudonymise: Pseudonymiser): JsonObject {
  return {
    // The record by pseudonym only: the ledger never names a record (judgementView names it to the recipient).
    recordId: pseudonymise(j.record.id),
    recordKind: j.record.kind,
    owningAgencyId: j.record.owningAgencyId,
    owningAgencyType: j.ownerType,
    subjectRole: j.record.subjectRole,
    fieldsDisclosed: [...j.decision.permittedFields],
    withheldFields: j.decision.withheldFields.map((w) => ({ field: w.field, code: w.code, rule: w.rule ?? null })),
    rules: [...j.decision.rules],
    facts: { ...j.facts },
  };
}

/** What is sent about one record: the permitted values, withheld fields by name and reason, rules, lawful basis. */
export function judgementView(j: Judgement): JsonObject {
  return {
    recordId: j.record.id,
    kind: j.record.kind,
    owningAgency: { id: j.record.owningAgencyId, agencyType: j.ownerType },
    subjectPersonId: j.record.subjectPersonId,
    subjectRole: j.record.subjectRole,
    ...(j.decision.permittedFields.length > 0 ? { occurredAt: j.record.occurredAt.toISOString() } : {}),
    decision: j.decision.decision,
    fields: j.fields,
    withheldFields: j.decision.withheldFields.map((w) => ({
      field: w.field,
      code: w.code,
      reason: w.reason,
      ...(w.rule ? { rule: w.rule } : {}),
    })),
    rules: [...j.decision.rules],
    lawfulBasis: j.decision.lawfulBasis.map((b) => ({
      ...b,
      fields: [...b.fields],
      sharing: { ...b.sharing, notYetInForce: b.sharing.notYetInForce.map((d) => ({ ...d })) },
    })),
    mustRecord: [...j.decision.mustRecord],
  };
}
