/**
 * The facts a disclosure is decided on: the record's own facts (as its agency stated them) plus the facts the
 * gateway works out at the time of the request. Pure functions.
 *
 *   hours_since_incident        from the record's incident_date (an incident record's occurred_at if it has none)
 *   agreement_in_force          from the data sharing agreements (./agreements.ts) — never from the caller
 *   requester_is_subject        when the caller acts for someone (`onBehalfOf`): is it the subject?
 *   requester_is_alleged_perpetrator  … and is that person recorded anywhere as a perpetrator?
 *   perpetrator_joined_household_with_children  true when the household signal (./risk-signals.ts) fires
 *   significant_harm_suspected  true when the record says a s.47 enquiry is open  } the same derivations as the
 *   before_next_school_day_start  from hours_since_incident and the school calendar } decision API (src/decisions/derive-facts.ts)
 *
 * Stored facts are re-checked against the vocabulary on the way out, and a stored derived fact is dropped: the
 * gateway's own derivation is the only source of those.
 */
import { FACT_SPECS, isFactName, type FactName, type Facts, type FactSpec } from '../vocabulary/vocabulary';
import { deriveFacts, type DerivedFacts } from '../decisions/derive-facts';
import { DEFAULT_SCHOOL_CALENDAR, type SchoolCalendar } from '../notifications/school-day';
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
    const fits =
      spec.kind === 'boolean'
        ? typeof value === 'boolean'
        : spec.kind === 'number'
          ? typeof value === 'number' && Number.isFinite(value) && value >= spec.minimum
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
  /** The Operation Encompass school calendar (default: DEFAULT_SCHOOL_CALENDAR). */
  readonly calendar?: SchoolCalendar;
}

export function decisionFacts(record: StoredRecord, ctx: DerivationContext): Facts {
  return decisionFactsWithSources(record, ctx).facts;
}

/** The facts, each marked `asserted` (by the agency that recorded it) or `derived` (by the gateway, with its source). */
export function decisionFactsWithSources(record: StoredRecord, ctx: DerivationContext): DerivedFacts {
  const gatewayDerived: Partial<Record<FactName, string>> = {};
  const facts: Record<string, boolean | number | string> = { ...storedFacts(record.facts) };
  const set = (name: FactName, value: boolean | number, from: string): void => {
    facts[name] = value;
    gatewayDerived[name] = from;
  };
  const incident = incidentTime(record);
  if (incident) set('hours_since_incident', hoursSince(incident, ctx.now), "the record's incident date");
  set(
    'agreement_in_force',
    ctx.agreement.status === 'in_force',
    ctx.agreement.status === 'none'
      ? 'data sharing agreements: none covers both agencies for this purpose'
      : `data sharing agreement ${ctx.agreement.agreement.id} (${ctx.agreement.status})`,
  );
  const actingFor = ctx.requester.onBehalfOf;
  if (actingFor) {
    set('requester_is_subject', actingFor.personId === record.subjectPersonId, 'onBehalfOf compared with the record subject');
    set(
      'requester_is_alleged_perpetrator',
      actingFor.isRecordedPerpetrator,
      'onBehalfOf: whether that person is recorded as a perpetrator',
    );
  }
  if (ctx.perpetratorJoinedHousehold)
    set('perpetrator_joined_household_with_children', true, 'household memberships (the new perpetrator in the household signal)');
  return deriveFacts(facts as Facts, {
    now: ctx.now,
    calendar: ctx.calendar ?? DEFAULT_SCHOOL_CALENDAR,
    assertedBy: 'record',
    alreadyDerived: gatewayDerived,
    ...(ctx.perpetratorJoinedHousehold
      ? { perpetratorJoinedHousehold: { joined: true, source: gatewayDerived.perpetrator_joined_household_with_children ?? '' } }
      : {}),
  });
}
