/**
 * Cumulative risk signals over ALL of a subject's records and households — pure functions, no I/O.
 *
 * Serious case reviews keep finding the same thing: each agency saw one incident, nobody saw the pattern
 * (inspectors found five police call-outs in one month before a high-risk incident). These signals show the
 * pattern to whoever is looking at the chronology. A signal and its evidence (record ids and dates) may be shown
 * even when the records behind it are withheld from the caller: they never carry the records' contents.
 *
 *   incidents_in_28_days         ≥ 3 incidents within any 28-day window
 *   rising_dash_level            DASH risk levels rising over time (e.g. standard → medium → high)
 *   new_perpetrator_in_household a person recorded as a perpetrator joined a household while a child lived there
 */
import type { DashRiskLevel } from '../vocabulary/vocabulary';
import { DASH_ORDER, type HouseholdMembership, type RecordKind } from './model';

export const SIGNAL_NAMES = ['incidents_in_28_days', 'rising_dash_level', 'new_perpetrator_in_household'] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

export const INCIDENT_WINDOW_DAYS = 28;
export const INCIDENT_THRESHOLD = 3;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What a signal needs to know about a record: never its free text. */
export interface SignalRecord {
  readonly id: string;
  readonly kind: RecordKind;
  /** When the event happened: for incidents the incident date when recorded, else the record's occurred_at. */
  readonly date: Date;
  readonly dashRiskLevel?: DashRiskLevel;
}

export interface SignalEvidence {
  readonly kind: 'record' | 'household_membership';
  readonly id: string;
  /** ISO 8601: a date-time for records, a date (YYYY-MM-DD) for household memberships. */
  readonly date: string;
}

export interface RiskSignal {
  readonly signal: SignalName;
  readonly flagged: boolean;
  /** Plain English, without any record's contents. */
  readonly summary: string;
  readonly evidence: readonly SignalEvidence[];
}

export interface SignalInput {
  readonly subjectPersonId: string;
  readonly records: readonly SignalRecord[];
  /** Every membership of every household the subject has been a member of (the subject's own included). */
  readonly memberships: readonly HouseholdMembership[];
}

export function riskSignals(input: SignalInput): RiskSignal[] {
  return [
    incidentsIn28Days(input.records),
    risingDashLevel(input.records),
    newPerpetratorInHousehold(input.subjectPersonId, input.memberships),
  ];
}

const byDate = <T extends { readonly date: Date; readonly id: string }>(a: T, b: T): number =>
  a.date.getTime() - b.date.getTime() || a.id.localeCompare(b.id);

const recordEvidence = (r: SignalRecord): SignalEvidence => ({ kind: 'record', id: r.id, date: r.date.toISOString() });
const day = (d: Date): string => d.toISOString().slice(0, 10);

/** The busiest 28-day window of incidents (a window holds incidents less than 28 days apart); flagged at ≥ 3. */
export function incidentsIn28Days(records: readonly SignalRecord[]): RiskSignal {
  const incidents = records.filter((r) => r.kind === 'incident').sort(byDate);
  let best: SignalRecord[] = [];
  let start = 0;
  for (let end = 0; end < incidents.length; end++) {
    const last = incidents[end] as SignalRecord;
    while (last.date.getTime() - (incidents[start] as SignalRecord).date.getTime() >= INCIDENT_WINDOW_DAYS * DAY_MS) start++;
    if (end - start + 1 > best.length) best = incidents.slice(start, end + 1);
  }
  const flagged = best.length >= INCIDENT_THRESHOLD;
  const first = best[0];
  const last = best[best.length - 1];
  const summary =
    flagged && first && last
      ? `${best.length} incidents within ${INCIDENT_WINDOW_DAYS} days (${day(first.date)} to ${day(last.date)}): escalate for a multi-agency review.`
      : `No ${INCIDENT_WINDOW_DAYS}-day period has ${INCIDENT_THRESHOLD} or more incidents (most in any ${INCIDENT_WINDOW_DAYS} days: ${best.length}).`;
  return { signal: 'incidents_in_28_days', flagged, summary, evidence: flagged ? best.map(recordEvidence) : [] };
}

/**
 * The longest run of strictly rising DASH levels, in date order, that ends at the most recent assessment.
 * Flagged when the most recent level is higher than an earlier one (a run of two or more).
 */
export function risingDashLevel(records: readonly SignalRecord[]): RiskSignal {
  const assessed = records.filter((r): r is SignalRecord & { dashRiskLevel: DashRiskLevel } => r.dashRiskLevel !== undefined).sort(byDate);
  const n = assessed.length;
  const chainLength: number[] = new Array<number>(n).fill(1);
  const previous: number[] = new Array<number>(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const level = DASH_ORDER[(assessed[i] as SignalRecord & { dashRiskLevel: DashRiskLevel }).dashRiskLevel];
    for (let j = 0; j < i; j++) {
      const earlier = assessed[j] as SignalRecord & { dashRiskLevel: DashRiskLevel };
      if (earlier.date.getTime() >= (assessed[i] as SignalRecord).date.getTime()) continue;
      // `>=`: among equally long runs, prefer the most recent predecessor.
      if (DASH_ORDER[earlier.dashRiskLevel] < level && (chainLength[j] as number) + 1 >= (chainLength[i] as number)) {
        chainLength[i] = (chainLength[j] as number) + 1;
        previous[i] = j;
      }
    }
  }
  const chain: SignalRecord[] = [];
  for (let i = n - 1; i >= 0; i = previous[i] as number) chain.unshift(assessed[i] as SignalRecord);
  const flagged = chain.length >= 2;
  const summary = flagged
    ? `The DASH risk level has risen across ${chain.length} assessments since ${day((chain[0] as SignalRecord).date)}.`
    : n === 0
      ? 'No DASH risk level has been recorded.'
      : 'The most recent DASH risk level is not higher than earlier ones.';
  return { signal: 'rising_dash_level', flagged, summary, evidence: flagged ? chain.map(recordEvidence) : [] };
}

/**
 * A person recorded as a perpetrator in a household joined it after a child already lived there, while the subject
 * was a member too. (A perpetrator who has always lived with the child is a risk, but not a new one.)
 */
export function newPerpetratorInHousehold(subjectPersonId: string, memberships: readonly HouseholdMembership[]): RiskSignal {
  const covers = (m: HouseholdMembership, date: string): boolean => m.from <= date && (m.to === undefined || date <= m.to);
  const joins: HouseholdMembership[] = [];
  for (const p of memberships) {
    if (p.subjectRole !== 'perpetrator' || p.personId === subjectPersonId) continue;
    const sameHousehold = memberships.filter((m) => m.householdId === p.householdId && m.personId !== p.personId);
    const subjectThere = sameHousehold.some((m) => m.personId === subjectPersonId && covers(m, p.from));
    const childAlreadyThere = sameHousehold.some((m) => m.subjectRole === 'child' && m.from < p.from && covers(m, p.from));
    if (subjectThere && childAlreadyThere) joins.push(p);
  }
  joins.sort((a, b) => a.from.localeCompare(b.from) || a.id.localeCompare(b.id));
  const flagged = joins.length > 0;
  const latest = joins[joins.length - 1];
  const summary =
    flagged && latest
      ? `A person recorded as a perpetrator joined a household with a child on ${latest.from}${joins.length > 1 ? ` (${joins.length} such joins)` : ''}.`
      : 'No person recorded as a perpetrator has joined a household with a child.';
  return {
    signal: 'new_perpetrator_in_household',
    flagged,
    summary,
    evidence: joins.map((m) => ({ kind: 'household_membership', id: m.id, date: m.from })),
  };
}
