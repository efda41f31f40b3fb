/**
 * The request API and the chronology: reading records through the sharing policy.
 *
 * For every record asked about:
 *   1. the decision input is built from the STORED record — from: the owning agency's type (trust registry);
 *      to: the caller's agency type and role (its token); the purpose asked; the record's subject role; fields: the
 *      record's fields plus what the owning agency holds about the subject (name, date of birth, addresses…);
 *      facts: the record's facts plus the facts the gateway derives (./facts.ts; agreement_in_force from the data
 *      sharing agreements, never from the caller);
 *   2. the policy engine decides, field by field;
 *   3. ONE ledger entry per record (kind `disclosure`: the record's pseudonym, owning agency, fields disclosed by name, withheld
 *      fields with codes, rule ids, policy version, and the content hash of exactly what is sent for that record);
 *   4. every entry is COMMITTED before anything is returned. If the ledger fails, this throws and nothing leaves
 *      (the HTTP layer answers 503).
 * Only permitted field values are sent; withheld fields are listed by name with the reason, never their values.
 *
 * Who may ask about whom (IDOR): a caller may ask only about a person its agency knows (registered or matched by
 * a shared identifier, src/records/contribute.ts), and about a record whose subject its agency knows or which its
 * agency holds. Anything else is a 404 indistinguishable from an id that does not exist.
 *
 * An agency reading back its own record gets it whole (reading what you hold is not a disclosure), unless it acts
 * for someone else (`onBehalfOf`) or for a subject access request: then the policy decides, as for anyone.
 */
import { inSnapshot, type Db } from '../db/tx';
import type { Pool } from 'pg';
import { NotFoundError } from '../errors';
import { contentHash, type AppendedEntry, type AuditLedger, type JsonObject, type JsonValue, type NewAuditEntry } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import type { Decision, PolicyEngine } from '../policy/types';
import {
  DASH_RISK_LEVELS,
  isAgencyType,
  isField,
  type AgencyType,
  type DashRiskLevel,
  type Facts,
  type Field,
  type Purpose,
} from '../vocabulary/vocabulary';
import {
  agreementReason,
  agreementStatus,
  agreementsFor,
  agreementSummary,
  englandDate,
  type AgreementStatus,
  type SharingAgreement,
} from './agreements';
import { sourcesJson } from '../decisions/derive-facts';
import { decisionFactsWithSources, incidentTime, type Requester } from './facts';
import type { HouseholdMembership, StoredRecord } from './model';
import { riskSignals, type RiskSignal, type SignalRecord } from './risk-signals';
import { agencyKnowsPerson, findRecord, isRecordedPerpetrator, membershipsAround, personFieldsBy, recordsOfSubject } from './store';

export interface DisclosureDeps {
  readonly pool: Pool;
  readonly engine: PolicyEngine;
  readonly ledger: AuditLedger;
  readonly pseudonymise: Pseudonymiser;
  /** The clock (tests may fix it). */
  readonly now?: () => Date;
}

export interface ReadContext {
  readonly principal: Principal;
  readonly purpose: Purpose;
  /** The person the caller acts for, if it acts for someone (a person its agency knows). */
  readonly onBehalfOf?: string;
  readonly requestId: string;
}

export type View = 'record' | 'subject_records' | 'chronology';

/** What is sent about one record. Its content hash is in the record's ledger entry. */
export interface RecordDisclosure {
  readonly recordId: string;
  readonly kind: string;
  readonly owningAgency: { readonly id: string; readonly agencyType: AgencyType | null };
  readonly subjectPersonId: string;
  readonly subjectRole: string;
  readonly classification: string;
  /** Only when at least one field is disclosed. */
  readonly occurredAt?: string;
  /** Only to the owning agency (for If-Match). */
  readonly version?: number;
  readonly access: 'own_record' | 'policy';
  readonly decision: Decision['decision'];
  /** Permitted fields and their values: nothing else. */
  readonly fields: { readonly [field: string]: JsonValue };
  readonly withheldFields: ReadonlyArray<{ readonly field: Field; readonly code: string; readonly reason: string; readonly rule?: string }>;
  readonly rules: readonly string[];
  readonly lawfulBasis: Decision['lawfulBasis'];
  readonly reasons: readonly string[];
  readonly mustRecord: readonly string[];
  readonly referTo?: string;
  readonly policyVersion: string;
  readonly agreement?: Record<string, string | boolean>;
}

export interface Receipted {
  readonly auditEntryId: string;
  readonly receipt: { readonly seq: number; readonly entryHash: string };
}
export type SentRecord = RecordDisclosure & Receipted;

export const OWN_RECORD_RULE = 'own-agency-record';
const OWN_RECORD_REASON =
  'Your agency holds this record (it contributed it): reading it back is not a disclosure to another agency, so no sharing rule is needed.';
const UNREGISTERED_OWNER_REASON =
  "The agency that holds this record is not in the gateway's trust registry any more, so nothing from it may be shared. Ask your " +
  'information governance team.';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const personNotFound = (): NotFoundError => new NotFoundError('person_not_found', 'No person with that id is known to your agency.');
export const recordNotFound = (): NotFoundError =>
  new NotFoundError('record_not_found', 'No record with that id is available to your agency.');

// ─── Reads: one consistent snapshot ────────────────────────────────────────────────────────────────────────────

async function resolveRequester(db: Db, ctx: ReadContext): Promise<Requester> {
  if (ctx.onBehalfOf === undefined) return {};
  if (!UUID.test(ctx.onBehalfOf) || !(await agencyKnowsPerson(db, ctx.onBehalfOf, ctx.principal.agency.id))) {
    throw new NotFoundError('person_not_found', 'No person with the onBehalfOf id is known to your agency.', {
      errors: [{ pointer: '/onBehalfOf', detail: 'not a person your agency knows' }],
    });
  }
  return { onBehalfOf: { personId: ctx.onBehalfOf, isRecordedPerpetrator: await isRecordedPerpetrator(db, ctx.onBehalfOf) } };
}

interface Gathered {
  readonly subjectPersonId: string;
  readonly records: readonly StoredRecord[];
  readonly memberships: readonly HouseholdMembership[];
  readonly requester: Requester;
  readonly agencies: ReadonlyMap<string, { readonly type?: AgencyType; readonly name: string }>;
  readonly held: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
  readonly agreements: readonly SharingAgreement[];
}

async function gather(db: Db, ctx: ReadContext, subjectPersonId: string, records: readonly StoredRecord[]): Promise<Gathered> {
  const requester = await resolveRequester(db, ctx);
  const owners = [...new Set(records.map((r) => r.owningAgencyId))];
  const { rows } = await db.query<{ id: string; name: string; agency_type: string }>(
    'SELECT id, name, agency_type FROM agencies WHERE id = ANY($1::text[])',
    [[...owners, ctx.principal.agency.id]],
  );
  const agencies = new Map<string, { type?: AgencyType; name: string }>();
  for (const r of rows) {
    agencies.set(r.id, { ...(isAgencyType(r.agency_type) ? { type: r.agency_type } : {}), name: r.name });
  }
  return {
    subjectPersonId,
    records,
    memberships: await membershipsAround(db, subjectPersonId),
    requester,
    agencies,
    held: await personFieldsBy(db, subjectPersonId, owners),
    agreements: await agreementsFor(db, ctx.principal.agency.id, ctx.purpose),
  };
}

// ─── Judging one record ────────────────────────────────────────────────────────────────────────────────────────

interface Judged {
  readonly disclosure: RecordDisclosure;
  readonly audit: NewAuditEntry;
  readonly disclosed: boolean;
}

function signalRecords(records: readonly StoredRecord[]): SignalRecord[] {
  const dash = (r: StoredRecord): DashRiskLevel | undefined => {
    const v = r.fields.dash_risk_level ?? r.facts.dash_risk_level;
    return typeof v === 'string' && (DASH_RISK_LEVELS as readonly string[]).includes(v) ? (v as DashRiskLevel) : undefined;
  };
  return records.map((r) => {
    const level = dash(r);
    return { id: r.id, kind: r.kind, date: incidentTime(r) ?? r.occurredAt, ...(level ? { dashRiskLevel: level } : {}) };
  });
}

function signalsOf(g: Gathered): RiskSignal[] {
  return riskSignals({ subjectPersonId: g.subjectPersonId, records: signalRecords(g.records), memberships: g.memberships });
}

function ownRecordDecision(fields: readonly Field[], policyVersion: string): Decision {
  return {
    decision: 'permit',
    permittedFields: fields,
    withheldFields: [],
    rules: [OWN_RECORD_RULE],
    lawfulBasis: [],
    reasons: [OWN_RECORD_REASON],
    mustRecord: [],
    agreementGaps: [],
    policyVersion,
  };
}

function unregisteredOwnerDecision(fields: readonly Field[], policyVersion: string): Decision {
  return {
    decision: 'deny',
    permittedFields: [],
    withheldFields: fields.map((field) => ({ field, code: 'no_rule_permits' as const, reason: UNREGISTERED_OWNER_REASON, routes: [] })),
    rules: [],
    lawfulBasis: [],
    reasons: [UNREGISTERED_OWNER_REASON],
    mustRecord: [],
    agreementGaps: [],
    policyVersion,
  };
}

function judge(
  deps: DisclosureDeps,
  ctx: ReadContext,
  g: Gathered,
  record: StoredRecord,
  env: { now: Date; today: string; perpetratorJoined: boolean; view: View },
): Judged {
  const me = ctx.principal;
  const owner = g.agencies.get(record.owningAgencyId);
  const values = new Map<Field, unknown>();
  for (const [k, v] of Object.entries(record.fields)) if (isField(k)) values.set(k, v);
  for (const [k, v] of g.held.get(record.owningAgencyId) ?? new Map<string, unknown>()) if (isField(k) && !values.has(k)) values.set(k, v);
  const fields = [...values.keys()];

  const own = record.owningAgencyId === me.agency.id && ctx.onBehalfOf === undefined && ctx.purpose !== 'subject_access';
  let decision: Decision;
  let agreement: AgreementStatus | undefined;
  let facts: Facts | undefined;
  let factSources: JsonObject | null = null;
  const extraReasons: string[] = [];
  if (own) {
    decision = ownRecordDecision(fields, deps.engine.version);
  } else if (!owner?.type) {
    decision = unregisteredOwnerDecision(fields, deps.engine.version);
  } else {
    agreement = agreementStatus(g.agreements, record.owningAgencyId, me.agency.id, ctx.purpose, env.today);
    const derived = decisionFactsWithSources(record, {
      now: env.now,
      agreement,
      requester: g.requester,
      perpetratorJoinedHousehold: env.perpetratorJoined,
    });
    facts = derived.facts;
    factSources = sourcesJson(derived.sources);
    decision = deps.engine.decide({
      from: { agencyType: owner.type },
      to: { agencyType: me.agency.agencyType, role: me.role },
      purpose: ctx.purpose,
      subjectRole: record.subjectRole,
      fields,
      facts,
    });
    const why = agreementReason(agreement, owner.name, g.agencies.get(me.agency.id)?.name ?? me.agency.id);
    if (why && (decision.decision !== 'permit' || agreement.status === 'in_force')) extraReasons.push(why);
  }

  const permitted = decision.permittedFields;
  const disclosedValues: Record<string, JsonValue> = {};
  for (const f of permitted) disclosedValues[f] = values.get(f) as JsonValue;
  const disclosed = permitted.length > 0;
  const disclosure: RecordDisclosure = {
    recordId: record.id,
    kind: record.kind,
    owningAgency: { id: record.owningAgencyId, agencyType: owner?.type ?? null },
    subjectPersonId: record.subjectPersonId,
    subjectRole: record.subjectRole,
    classification: record.classification,
    ...(disclosed ? { occurredAt: record.occurredAt.toISOString() } : {}),
    ...(own ? { version: record.version } : {}),
    access: own ? 'own_record' : 'policy',
    decision: decision.decision,
    fields: disclosedValues,
    withheldFields: decision.withheldFields.map((w) => ({
      field: w.field,
      code: w.code,
      reason: w.reason,
      ...(w.rule ? { rule: w.rule } : {}),
    })),
    rules: [...decision.rules],
    lawfulBasis: decision.lawfulBasis.map((b) => ({ ...b })),
    reasons: [...extraReasons, ...decision.reasons],
    mustRecord: [...decision.mustRecord],
    ...(decision.referTo ? { referTo: decision.referTo } : {}),
    policyVersion: decision.policyVersion,
    ...(agreement ? { agreement: agreementSummary(agreement) } : {}),
  };

  const audit: NewAuditEntry = {
    kind: 'disclosure',
    outcome: decision.decision,
    requestId: ctx.requestId,
    actor: actorOf(me),
    purpose: ctx.purpose,
    rules: decision.rules,
    payload: {
      view: env.view,
      // The record and its subject by pseudonym only (the receipt and the answer name the record to the caller).
      recordId: deps.pseudonymise(record.id),
      recordKind: record.kind,
      owningAgencyId: record.owningAgencyId,
      owningAgencyType: owner?.type ?? null,
      subject: deps.pseudonymise(record.subjectPersonId),
      subjectRole: record.subjectRole,
      to: { agencyType: me.agency.agencyType, role: me.role },
      access: disclosure.access,
      fieldsDisclosed: [...permitted],
      withheldFields: decision.withheldFields.map((w) => ({ field: w.field, code: w.code, rule: w.rule ?? null })),
      facts: facts ? ({ ...facts } as JsonObject) : null,
      factSources,
      onBehalfOf: ctx.onBehalfOf ? deps.pseudonymise(ctx.onBehalfOf) : null,
      agreement: agreement ? { status: agreement.status, id: agreement.status === 'none' ? null : agreement.agreement.id } : null,
      policyVersion: decision.policyVersion,
      contentHash: contentHash(disclosure),
    },
  };
  return { disclosure, audit, disclosed };
}

/** Judges `which` (default: every record gathered); the signals always look at every record gathered. */
function judgeAll(
  deps: DisclosureDeps,
  ctx: ReadContext,
  g: Gathered,
  view: View,
  which: readonly StoredRecord[] = g.records,
): { judged: Judged[]; signals: RiskSignal[] } {
  const now = deps.now?.() ?? new Date();
  const signals = signalsOf(g);
  const perpetratorJoined = signals.some((s) => s.signal === 'new_perpetrator_in_household' && s.flagged);
  const env = { now, today: englandDate(now), perpetratorJoined, view };
  return { judged: which.map((r) => judge(deps, ctx, g, r, env)), signals };
}

/** Appends every entry and waits for every COMMIT; throws (nothing may be sent) if any fails. */
async function commit(ledger: AuditLedger, entries: readonly NewAuditEntry[]): Promise<AppendedEntry[]> {
  return Promise.all(entries.map((e) => ledger.append(e)));
}

const receipted = (e: AppendedEntry): Receipted => ({ auditEntryId: e.entryId, receipt: { seq: e.seq, entryHash: e.entryHash } });

// ─── The three reads ───────────────────────────────────────────────────────────────────────────────────────────

export async function readRecord(deps: DisclosureDeps, ctx: ReadContext, recordId: string): Promise<SentRecord> {
  const gathered = await inSnapshot(deps.pool, async (db) => {
    if (!UUID.test(recordId)) throw recordNotFound();
    const record = await findRecord(db, recordId);
    if (!record) throw recordNotFound();
    if (
      record.owningAgencyId !== ctx.principal.agency.id &&
      !(await agencyKnowsPerson(db, record.subjectPersonId, ctx.principal.agency.id))
    )
      throw recordNotFound();
    // The signals (for the derived household fact) need the subject's other records too; only this one is judged.
    const all = await recordsOfSubject(db, record.subjectPersonId);
    return { one: record, g: await gather(db, ctx, record.subjectPersonId, all) };
  });
  const { judged } = judgeAll(deps, ctx, gathered.g, 'record', [gathered.one]);
  const mine = judged[0];
  if (!mine) throw recordNotFound();
  const [entry] = await commit(deps.ledger, [mine.audit]);
  return { ...mine.disclosure, ...receipted(entry as AppendedEntry) };
}

async function subjectGathered(deps: DisclosureDeps, ctx: ReadContext, personId: string): Promise<Gathered> {
  return inSnapshot(deps.pool, async (db) => {
    if (!UUID.test(personId) || !(await agencyKnowsPerson(db, personId, ctx.principal.agency.id))) throw personNotFound();
    return gather(db, ctx, personId, await recordsOfSubject(db, personId));
  });
}

export interface SubjectRecordsAnswer {
  readonly subjectPersonId: string;
  readonly purpose: Purpose;
  readonly records: readonly SentRecord[];
}

export async function readSubjectRecords(deps: DisclosureDeps, ctx: ReadContext, personId: string): Promise<SubjectRecordsAnswer> {
  const g = await subjectGathered(deps, ctx, personId);
  const { judged } = judgeAll(deps, ctx, g, 'subject_records');
  const entries = await commit(
    deps.ledger,
    judged.map((j) => j.audit),
  );
  return {
    subjectPersonId: personId,
    purpose: ctx.purpose,
    records: judged.map((j, i) => ({ ...j.disclosure, ...receipted(entries[i] as AppendedEntry) })),
  };
}

export interface ChronologyAnswer {
  readonly subjectPersonId: string;
  readonly purpose: Purpose;
  /** Computed over ALL the subject's records: the signal and its evidence (ids and dates), never the contents. */
  readonly signals: readonly RiskSignal[];
  readonly signalsAudit: Receipted;
  /** Records with at least one field disclosed, oldest first. */
  readonly items: readonly SentRecord[];
  /** Records of which nothing may be disclosed to you: why, without their contents or dates. */
  readonly withheld: readonly SentRecord[];
}

export async function readChronology(deps: DisclosureDeps, ctx: ReadContext, personId: string): Promise<ChronologyAnswer> {
  const g = await subjectGathered(deps, ctx, personId);
  const { judged, signals } = judgeAll(deps, ctx, g, 'chronology');
  const signalsEntry: NewAuditEntry = {
    kind: 'disclosure',
    outcome: 'signals',
    requestId: ctx.requestId,
    actor: actorOf(ctx.principal),
    purpose: ctx.purpose,
    payload: {
      view: 'chronology_signals',
      subject: deps.pseudonymise(personId),
      flagged: signals.filter((s) => s.flagged).map((s) => s.signal),
      evidence: signals.flatMap((s) => s.evidence.map((e) => deps.pseudonymise(e.id))),
      contentHash: contentHash(signals),
    },
  };
  const entries = await commit(deps.ledger, [...judged.map((j) => j.audit), signalsEntry]);
  const sent = judged.map((j, i) => ({ judged: j, sent: { ...j.disclosure, ...receipted(entries[i] as AppendedEntry) } }));
  const byTime = (a: SentRecord, b: SentRecord): number =>
    (a.occurredAt ?? '').localeCompare(b.occurredAt ?? '') || a.recordId.localeCompare(b.recordId);
  return {
    subjectPersonId: personId,
    purpose: ctx.purpose,
    signals,
    signalsAudit: receipted(entries[entries.length - 1] as AppendedEntry),
    items: sent
      .filter((s) => s.judged.disclosed)
      .map((s) => s.sent)
      .sort(byTime),
    withheld: sent.filter((s) => !s.judged.disclosed).map((s) => s.sent),
  };
}
