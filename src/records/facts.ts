/**
 * The facts a disclosure is decided on: the record's own facts (as its agency stated them) plus the facts the
 * gateway works out at the time of the request. Pure functions.
 *
 *   hours_since_incident        from the record's incident_date (an incident record's occurred_at if it has none)
 *   agreement_in_force          from the data sharing agreements (./agreements.ts) — never from the caller
 *   requester_is_subject        when the caller acts for someone (`onBehalfOf`): is it the subject?
 *   requester_is_alleged_perpetrator  … and is that person recorded anywhere as a perpetrator?
 *   perpetrator_joined_household_with_children  true when the household signal (./risk-signals.ts) fires
 *
 * Stored facts are re-checked against the vocabulary on the way out, and a stored derived fact is dropped: the
 * gateway's own derivation is the only source of those.
 */
import { FACT_SPECS, isFactName, type FactName, type Facts, type FactSpec } from '../vocabulary/vocabulary';
import type { AgreementStatus } from './agreements';
import { isDerivedFact, type StoredRecord } from './model';

const HOUR_MS = 60 * 60 * 1000;
const SPECS: Readonly<Record<string, FactSpec>> = FACT_SPECS;

/** Only vocabulary facts with values of their kind, never a derived fact. */
export function storedFacts(raw: Readonly<Record<string, unknown>>): Facts {
  const out: Record<string, boolean | number | string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (!isFactName(name) || isDerivedFact(name)) continue;
    const spec = SPECS[name];
    if (!spec) continue;
    const fits = spec.kind === 'boolean' ? typeof value === 'boolean'
      : spec.kind === 'number' ? typeof value === 'number' && Number.isFinite(value) && value >= spec.minimum
      : typeof value === 'string' && (spec.values as readonly string[]).includes(value);
    if (fits) out[name] = value as boolean | number | string;
  }
  return out as Facts;
}

/** When the incident happened, if the record says. A date without a time is midnight UTC of that day. */
export function incidentTime(record: Pick<StoredRecord, 'kind' | 'fields' | 'occurredAt'>): Date | undefined {
  const given = record.fields.incident_date;
  if (typeof given === 'string') {
    const ms = Date.parse(given);
    if (Number.isFinite(ms)) return new Date(ms);
  }
  return record.kind === 'incident' ? record.occurredAt : undefined;
}

/** Whole hours since the incident (0 for a future date). */
export function hoursSince(when: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - when.getTime()) / HOUR_MS));
}

export interface Requester {
  /** The person the caller acts for, when it said so. */
  readonly onBehalfOf?: { readonly personId: string; readonly isRecordedPerpetrator: boolean };
}

export interface DerivationContext {
  readonly now: Date;
  readonly agreement: AgreementStatus;
  readonly requester: Requester;
  readonly perpetratorJoinedHousehold: boolean;
}

export function decisionFacts(record: StoredRecord, ctx: DerivationContext): Facts {
  const facts: Record<string, boolean | number | string> = { ...storedFacts(record.facts) };
  const set = (name: FactName, value: boolean | number): void => {
    facts[name] = value;
  };
  const incident = incidentTime(record);
  if (incident) set('hours_since_incident', hoursSince(incident, ctx.now));
  set('agreement_in_force', ctx.agreement.status === 'in_force');
  const actingFor = ctx.requester.onBehalfOf;
  if (actingFor) {
    set('requester_is_subject', actingFor.personId === record.subjectPersonId);
    set('requester_is_alleged_perpetrator', actingFor.isRecordedPerpetrator);
  }
  if (ctx.perpetratorJoinedHousehold) set('perpetrator_joined_household_with_children', true);
  return facts as Facts;
}
