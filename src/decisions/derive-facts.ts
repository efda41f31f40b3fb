/**
 * Facts the gateway works out itself, and where every fact came from. Pure functions: no I/O, no clock.
 *
 * Every fact in an answer and in the ledger is marked `asserted` (given by the caller, or by the agency that
 * recorded it) or `derived` (worked out by the gateway, with its source). Derived facts:
 *
 *   significant_harm_suspected  true when a s.47 enquiry is open (s.47(1): the local authority has reasonable cause
 *                               to suspect significant harm) — the caller need not repeat it; it overrides a `false`
 *   before_next_school_day_start  from hours_since_incident and the school calendar (weekends, holidays, bank
 *                               holidays, the time the school day starts): is it still before the start of the next
 *                               school day after the incident? (Operation Encompass)
 *   agreement_in_force          from the data sharing agreements, when the recipient agency is named
 *   perpetrator_joined_household_with_children  from the household memberships, when the subject is named
 *
 * GATEWAY_ONLY_FACTS (vocabulary.ts) are never taken from a caller: a request that asserts one is refused by name.
 */
import { isGatewayOnlyFact, type FactName, type Facts } from '../vocabulary/vocabulary';
import { nextSchoolDayStart, type SchoolCalendar } from '../notifications/school-day';

export type FactSource =
  { readonly source: 'asserted'; readonly by: 'caller' | 'record' } | { readonly source: 'derived'; readonly from: string };

export interface DerivedFacts {
  readonly facts: Facts;
  /** One entry per fact in `facts`. */
  readonly sources: Readonly<Partial<Record<FactName, FactSource>>>;
}

export interface DerivationInputs {
  readonly now: Date;
  readonly calendar: SchoolCalendar;
  /** Who asserted the facts given: the caller of the decision API, or the agency that recorded them. */
  readonly assertedBy: 'caller' | 'record';
  /** Worked out from the data sharing agreements, when the gateway knows both agencies. */
  readonly agreement?: { readonly inForce: boolean; readonly source: string };
  /** Worked out from the household memberships, when the gateway knows the subject. */
  readonly perpetratorJoinedHousehold?: { readonly joined: boolean; readonly source: string };
  /** Facts the gateway already derived elsewhere (e.g. hours_since_incident from a stored record), with sources. */
  readonly alreadyDerived?: Readonly<Partial<Record<FactName, string>>>;
}

const HOUR_MS = 60 * 60 * 1000;

export function deriveFacts(given: Facts, inputs: DerivationInputs): DerivedFacts {
  const facts: Record<string, boolean | number | string> = {};
  const sources: Partial<Record<FactName, FactSource>> = {};
  const derived = (name: FactName, value: boolean | number | string, from: string): void => {
    facts[name] = value;
    sources[name] = { source: 'derived', from };
  };
  for (const [name, value] of Object.entries(given) as Array<[FactName, boolean | number | string]>) {
    if (value === undefined || isGatewayOnlyFact(name)) continue;
    const from = inputs.alreadyDerived?.[name];
    if (from !== undefined) derived(name, value, from);
    else {
      facts[name] = value;
      sources[name] = { source: 'asserted', by: inputs.assertedBy };
    }
  }

  if (facts.s47_enquiry_open === true && facts.significant_harm_suspected !== true) {
    derived(
      'significant_harm_suspected',
      true,
      's47_enquiry_open: a s.47 enquiry is made because there is reasonable cause to suspect significant harm (Children Act 1989 s.47(1))',
    );
  }
  const hours = facts.hours_since_incident;
  if (typeof hours === 'number') {
    const incident = new Date(inputs.now.getTime() - hours * HOUR_MS);
    try {
      const deadline = nextSchoolDayStart(incident, inputs.calendar);
      derived(
        'before_next_school_day_start',
        inputs.now.getTime() < deadline.getTime(),
        `hours_since_incident and the school calendar: the next school day after the incident starts ${deadline.toISOString()}`,
      );
    } catch {
      // A broken calendar derives nothing: the Operation Encompass rule then cannot apply (fail closed).
    }
  }
  if (inputs.agreement) derived('agreement_in_force', inputs.agreement.inForce, inputs.agreement.source);
  if (inputs.perpetratorJoinedHousehold) {
    derived(
      'perpetrator_joined_household_with_children',
      inputs.perpetratorJoinedHousehold.joined,
      inputs.perpetratorJoinedHousehold.source,
    );
  }
  return { facts: facts as Facts, sources };
}

/** The sources as plain JSON for the answer and the ledger: `{fact: {source, by|from}}`. */
export function sourcesJson(sources: DerivedFacts['sources']): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [name, s] of Object.entries(sources)) {
    if (!s) continue;
    out[name] = s.source === 'asserted' ? { source: 'asserted', by: s.by } : { source: 'derived', from: s.from };
  }
  return out;
}
