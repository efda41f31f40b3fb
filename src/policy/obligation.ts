/**
 * Duty or power. A permit rule names the power it relies on and any duties to share (with the disclosing agency
 * types they bind and their commencement dates). On the decision date, sharing is a DUTY when a duty in the rule
 * binds this discloser and is in force; otherwise it is a POWER, and any duty not yet in force is reported
 * (a provision inserted but not yet commenced — e.g. Children Act 2004 s.16LA — creates no duty yet).
 */
import type { AgencyType } from '../vocabulary/vocabulary';
import type { PolicyRule, RuleDuty } from './model';
import type { SharingObligation } from './types';

const ENGLAND_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' });

/** Today's calendar date in England (YYYY-MM-DD); the date changes only on a minute boundary, so it is kept per minute. */
let todayMinute = Number.NaN;
let today = '';
export function englandToday(now: Date = new Date()): string {
  const minute = Math.floor(now.getTime() / 60_000);
  if (minute !== todayMinute) {
    today = ENGLAND_DATE.format(now);
    todayMinute = minute;
  }
  return today;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
export const isDecisionDate = (value: unknown): value is string =>
  typeof value === 'string' && DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));

function binds(duty: RuleDuty, discloser: AgencyType): boolean {
  return duty.disclosers === undefined || duty.disclosers.includes(discloser);
}

function inForce(duty: RuleDuty, on: string): boolean {
  return duty.inForceFrom !== undefined && duty.inForceFrom <= on;
}

export function obligationOf(rule: PolicyRule, discloser: AgencyType, on: string): SharingObligation {
  const sharing = rule.sharing;
  if (!sharing) {
    // The loader refuses a permit without `sharing`; this is only reached for a hand-built rule in a test.
    return {
      kind: 'power',
      provision: rule.lawfulBasis?.statute ?? rule.id,
      explanation: 'You may share this: it is a power, not a duty.',
      notYetInForce: [],
    };
  }
  const applicable = sharing.duties.filter((d) => binds(d, discloser));
  const duty = applicable.find((d) => inForce(d, on));
  const notYetInForce = applicable
    .filter((d) => !inForce(d, on))
    .map((d) => ({ provision: d.provision, inForceFrom: d.inForceFrom ?? null }));
  const pending = notYetInForce
    .map((d) =>
      d.inForceFrom === null
        ? ` ${d.provision} is not yet in force (not commenced), so it does not yet make this a duty.`
        : ` ${d.provision} comes into force on ${d.inForceFrom}; until then it does not make this a duty.`,
    )
    .join('');
  if (duty) {
    return {
      kind: 'duty',
      provision: duty.provision,
      explanation: `You must share this: it is a duty under ${duty.provision}.${pending}`,
      notYetInForce,
    };
  }
  return {
    kind: 'power',
    provision: sharing.power,
    explanation: `You may share this: it is a power under ${sharing.power}, not a duty.${pending}`,
    notYetInForce,
  };
}
