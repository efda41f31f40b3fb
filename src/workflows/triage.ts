/**
 * The daily domestic abuse triage list, for a partnership's daily meeting: the police-contributed domestic abuse
 * incidents of the 24 hours before the meeting (settings.ts: meeting time and zone) that involve children, grouped
 * by family (the household the person was living in on the day, else the person), with the chronology signals of
 * each family over all its members' records (repeat incidents, rising DASH risk, a new perpetrator in the household).
 *
 * Only families the caller's agency knows (one of the members registered or matched by it, as the records exchange
 * requires) are considered. Filtered by policy for the agency asking: each incident is decided from the police to the
 * caller's agency type and role, for the purpose asked (default `mash_triage`), on the stored record
 * (src/workflows/judge.ts). A family of which nothing may be shared is not listed at all (not even its signals). One
 * `disclosure` ledger entry per family (view `triage_daily`: which records, which fields by name, withheld codes,
 * rules, flagged signals, content hash), every entry committed before the list is sent.
 */
import { contentHash, type AppendedEntry, type JsonObject, type NewAuditEntry } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import { inSnapshot } from '../db/tx';
import { zonedInstant, localDate } from '../notifications/school-day';
import type { PolicyEngine } from '../policy/types';
import { incidentTime } from '../records/facts';
import { DASH_ORDER, type HouseholdMembership, type StoredRecord } from '../records/model';
import { riskSignals, type RiskSignal } from '../records/risk-signals';
import { membershipsAround, recordOf, RECORD_COLUMNS } from '../records/store';
import type { AuditLedger } from '../audit/entry';
import type { Pool } from 'pg';
import type { DashRiskLevel, Purpose } from '../vocabulary/vocabulary';
import { judgementAudit, judgementView, judgeRecord, type Judgement } from './judge';
import type { WorkflowSettings } from './settings';

export interface TriageDeps {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly engine: PolicyEngine;
  readonly pseudonymise: Pseudonymiser;
  readonly settings: WorkflowSettings;
  readonly now?: () => Date;
}

export interface TriageFamily {
  readonly familyRef: string;
  readonly householdId: string | null;
  readonly area: string | null;
  readonly outcome: 'permit' | 'permit_partial';
  readonly incidents: readonly JsonObject[];
  readonly signals: readonly RiskSignal[];
  readonly auditEntryId: string;
  readonly receipt: { readonly seq: number; readonly entryHash: string };
}

export interface TriageList {
  readonly date: string;
  readonly window: { readonly from: string; readonly to: string };
  readonly purpose: Purpose;
  readonly agency: { readonly id: string; readonly agencyType: string; readonly role: string };
  readonly families: readonly TriageFamily[];
}

const DAY_MS = 86_400_000;

const covers = (m: HouseholdMembership, day: string): boolean => m.from <= day && (m.to === undefined || day <= m.to);

function involvesChildren(r: StoredRecord, household: readonly HouseholdMembership[], day: string): boolean {
  if (r.subjectRole === 'child') return true;
  if (r.facts.child_present_at_incident === true) return true;
  const count = r.fields.children_present;
  if (typeof count === 'number' && count > 0) return true;
  return household.some((m) => m.subjectRole === 'child' && m.personId !== r.subjectPersonId && covers(m, day));
}

/** An incident's `occurredAt` (ISO text) for ordering; '' when absent. */
const occurredText = (incident: JsonObject | undefined): string => (typeof incident?.occurredAt === 'string' ? incident.occurredAt : '');

interface FamilyDraft {
  key: string;
  householdId: string | null;
  members: Set<string>;
  incidents: StoredRecord[];
  memberships: HouseholdMembership[];
}

export async function dailyTriage(
  deps: TriageDeps,
  p: Principal,
  q: { date?: string; purpose?: Purpose },
  requestId: string,
): Promise<TriageList> {
  const now = deps.now?.() ?? new Date();
  const { meetingTime, timeZone } = deps.settings.triage;
  const date = q.date ?? localDate(now, timeZone);
  const purpose: Purpose = q.purpose ?? 'mash_triage';
  const to = zonedInstant(date, meetingTime, timeZone);
  const from = new Date(to.getTime() - DAY_MS);
  const recipient = { agencyId: p.agency.id, agencyType: p.agency.agencyType, role: p.role };

  const gathered = await inSnapshot(deps.pool, async (db) => {
    // Police incidents recorded around the window; the incident's own date decides whether it is in it.
    const { rows } = await db.query(
      `SELECT ${RECORD_COLUMNS.split(', ')
        .map((c) => `r.${c}`)
        .join(', ')} FROM records r JOIN agencies a ON a.id = r.owning_agency_id
        WHERE r.kind = 'incident' AND a.agency_type = 'police' AND r.occurred_at >= $1 AND r.occurred_at < $2 ORDER BY r.occurred_at, r.id`,
      [new Date(from.getTime() - 7 * DAY_MS).toISOString(), new Date(to.getTime() + DAY_MS).toISOString()],
    );
    const incidents = rows
      .map((r) => recordOf(r as Parameters<typeof recordOf>[0]))
      .filter((r) => {
        const at = incidentTime(r) ?? r.occurredAt;
        return at >= from && at < to;
      });
    const families = new Map<string, FamilyDraft>();
    for (const r of incidents) {
      const day = localDate(incidentTime(r) ?? r.occurredAt, timeZone);
      const around = await membershipsAround(db, r.subjectPersonId);
      const home = around
        .filter((m) => m.personId === r.subjectPersonId && covers(m, day))
        .sort((a, b) => a.householdId.localeCompare(b.householdId))[0];
      const household = home ? around.filter((m) => m.householdId === home.householdId) : [];
      if (!involvesChildren(r, household, day)) continue;
      const key = home ? `household:${home.householdId}` : `person:${r.subjectPersonId}`;
      const f = families.get(key) ?? {
        key,
        householdId: home?.householdId ?? null,
        members: new Set<string>([r.subjectPersonId]),
        incidents: [],
        memberships: [],
      };
      household.forEach((m) => f.members.add(m.personId));
      f.memberships = [...new Map([...f.memberships, ...around].map((m) => [m.id, m])).values()];
      f.incidents.push(r);
      families.set(key, f);
    }
    // As the records exchange (IDOR): a family is considered only if the caller's agency knows one of its members.
    const members = [...new Set([...families.values()].flatMap((f) => [...f.members]))];
    const { rows: knownRows } = await db.query<{ person_id: string }>(
      'SELECT person_id FROM person_agency_links WHERE agency_id = $1 AND person_id = ANY($2::uuid[])',
      [p.agency.id, members],
    );
    const known = new Set(knownRows.map((r) => r.person_id));
    const out = [];
    for (const f of families.values()) {
      if (![...f.members].some((m) => known.has(m))) continue;
      const { rows: all } = await db.query(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE subject_person_id = ANY($1::uuid[]) ORDER BY occurred_at, id`,
        [[...f.members]],
      );
      const records = all.map((r) => recordOf(r as Parameters<typeof recordOf>[0]));
      const child =
        f.memberships.find((m) => m.subjectRole === 'child' && f.members.has(m.personId))?.personId ??
        f.incidents[0]?.subjectPersonId ??
        '';
      const signals = riskSignals({
        subjectPersonId: child,
        records: records.map((r) => {
          const v = r.fields.dash_risk_level ?? r.facts.dash_risk_level;
          const level = typeof v === 'string' && v in DASH_ORDER ? (v as DashRiskLevel) : undefined;
          return { id: r.id, kind: r.kind, date: incidentTime(r) ?? r.occurredAt, ...(level ? { dashRiskLevel: level } : {}) };
        }),
        memberships: f.memberships,
      });
      const judged: Judgement[] = [];
      for (const r of f.incidents) judged.push(await judgeRecord(db, deps.engine, r, recipient, purpose, { now }));
      let area: string | null = null;
      if (f.householdId) {
        const { rows: h } = await db.query<{ area: string }>('SELECT area FROM households WHERE id = $1', [f.householdId]);
        area = h[0]?.area ?? null;
      }
      out.push({ f, signals, judged, area });
    }
    return out;
  });

  const audits: NewAuditEntry[] = gathered.map(({ f, signals, judged }) => {
    const shown = judged.some((j) => j.decision.permittedFields.length > 0);
    const sent = shown ? { incidents: judged.map(judgementView), signals } : null;
    return {
      kind: 'disclosure',
      outcome: !shown ? 'deny' : judged.every((j) => j.decision.decision === 'permit') ? 'permit' : 'permit_partial',
      requestId,
      actor: actorOf(p),
      purpose,
      rules: [...new Set(judged.flatMap((j) => j.decision.rules))],
      payload: {
        view: 'triage_daily',
        date,
        family: deps.pseudonymise(f.key),
        records: judged.map((j) => judgementAudit(j, deps.pseudonymise)),
        signalsFlagged: shown ? signals.filter((s) => s.flagged).map((s) => s.signal) : [],
        to: { agencyType: recipient.agencyType, role: recipient.role },
        policyVersion: deps.engine.version,
        contentHash: sent ? contentHash(sent) : null,
      },
    };
  });
  const entries: AppendedEntry[] = await Promise.all(audits.map((a) => deps.ledger.append(a)));
  const families: TriageFamily[] = [];
  gathered.forEach(({ f, signals, judged, area }, i) => {
    if (!judged.some((j) => j.decision.permittedFields.length > 0)) return;
    const e = entries[i] as AppendedEntry;
    families.push({
      familyRef: f.householdId ?? f.incidents[0]?.subjectPersonId ?? '',
      householdId: f.householdId,
      area,
      outcome: audits[i]?.outcome === 'permit' ? 'permit' : 'permit_partial',
      incidents: judged.map(judgementView),
      signals,
      auditEntryId: e.entryId,
      receipt: { seq: e.seq, entryHash: e.entryHash },
    });
  });
  // Families with flagged signals first, then by the earliest incident.
  families.sort(
    (a, b) =>
      b.signals.filter((s) => s.flagged).length - a.signals.filter((s) => s.flagged).length ||
      occurredText(a.incidents[0]).localeCompare(occurredText(b.incidents[0])),
  );
  return {
    date,
    window: { from: from.toISOString(), to: to.toISOString() },
    purpose,
    agency: { id: p.agency.id, agencyType: p.agency.agencyType, role: p.role },
    families,
  };
}
