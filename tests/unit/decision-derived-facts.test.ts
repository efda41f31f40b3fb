/**
 * Facts the gateway derives (src/decisions/derive-facts.ts): the s.47 implication, the Operation Encompass deadline
 * from the school calendar (weekends, holidays, bank holidays, the school-day start), gateway-only facts never taken
 * from the caller, and every fact marked asserted or derived.
 */
import { deriveFacts } from '../../src/decisions/derive-facts';
import { DEFAULT_SCHOOL_CALENDAR, type SchoolCalendar } from '../../src/notifications/school-day';

const calendar: SchoolCalendar = { ...DEFAULT_SCHOOL_CALENDAR, holidays: [{ from: '2026-12-21', to: '2027-01-01', name: 'Christmas' }] };
const at = (iso: string): Date => new Date(iso);
const hoursBetween = (from: string, to: string): number => Math.floor((Date.parse(to) - Date.parse(from)) / 3_600_000);

describe('the s.47 implication', () => {
  it('an open s.47 enquiry means significant harm is suspected: derived, with its source', () => {
    const d = deriveFacts({ s47_enquiry_open: true }, { now: at('2026-12-01T12:00:00Z'), calendar, assertedBy: 'caller' });
    expect(d.facts.significant_harm_suspected).toBe(true);
    expect(d.sources.significant_harm_suspected).toEqual({ source: 'derived', from: expect.stringContaining('s.47(1)') });
    expect(d.sources.s47_enquiry_open).toEqual({ source: 'asserted', by: 'caller' });
  });

  it('no enquiry open: nothing is implied', () => {
    const d = deriveFacts({ s47_enquiry_open: false }, { now: at('2026-12-01T12:00:00Z'), calendar, assertedBy: 'caller' });
    expect(d.facts).not.toHaveProperty('significant_harm_suspected');
  });
});

describe('before the start of the next school day (Operation Encompass), from the calendar', () => {
  const timely = (incident: string, now: string): boolean | undefined =>
    deriveFacts({ hours_since_incident: hoursBetween(incident, now) }, { now: at(now), calendar, assertedBy: 'caller' }).facts
      .before_next_school_day_start;

  it('a Tuesday-evening incident is in time until 08:30 on Wednesday, and late after', () => {
    expect(timely('2026-12-01T20:00:00Z', '2026-12-02T08:00:00Z')).toBe(true);
    expect(timely('2026-12-01T20:00:00Z', '2026-12-02T09:00:00Z')).toBe(false);
  });

  it('a Friday-night incident is in time all weekend, until Monday 08:30 (more than 58 hours later)', () => {
    expect(timely('2026-11-27T22:00:00Z', '2026-11-30T08:00:00Z')).toBe(true);
    expect(timely('2026-11-27T22:00:00Z', '2026-11-30T08:45:00Z')).toBe(false);
  });

  it('over the Christmas holiday and the bank holidays the deadline is the first day of term, not 72 hours', () => {
    // Incident on Saturday 19 December 2026; term starts again on Monday 4 January 2027 (1 January is a bank holiday).
    expect(timely('2026-12-19T21:00:00Z', '2027-01-02T10:00:00Z')).toBe(true);
    expect(timely('2026-12-19T21:00:00Z', '2027-01-04T08:29:00Z')).toBe(true);
    expect(timely('2026-12-19T21:00:00Z', '2027-01-04T08:31:00Z')).toBe(false);
  });

  it('the school-day start is local time: 08:30 BST is 07:30 UTC in summer', () => {
    expect(timely('2026-06-01T19:00:00Z', '2026-06-02T07:20:00Z')).toBe(true);
    expect(timely('2026-06-01T19:00:00Z', '2026-06-02T07:40:00Z')).toBe(false);
  });

  it('is derived, with the deadline in its source; without the time of the incident nothing is derived', () => {
    const d = deriveFacts({ hours_since_incident: 3 }, { now: at('2026-12-01T23:00:00Z'), calendar, assertedBy: 'caller' });
    expect(d.sources.before_next_school_day_start).toEqual({
      source: 'derived',
      from: expect.stringContaining('2026-12-02T08:30:00.000Z'),
    });
    expect(deriveFacts({}, { now: at('2026-12-01T23:00:00Z'), calendar, assertedBy: 'caller' }).facts).toEqual({});
  });
});

describe('gateway-only facts', () => {
  it("are never taken from what was given, only from the gateway's own sources", () => {
    const d = deriveFacts(
      { perpetrator_joined_household_with_children: true, before_next_school_day_start: true },
      { now: at('2026-12-01T12:00:00Z'), calendar, assertedBy: 'caller' },
    );
    expect(d.facts).toEqual({});
    const household = deriveFacts(
      {},
      {
        now: at('2026-12-01T12:00:00Z'),
        calendar,
        assertedBy: 'caller',
        perpetratorJoinedHousehold: { joined: true, source: 'household memberships' },
      },
    );
    expect(household.facts.perpetrator_joined_household_with_children).toBe(true);
    expect(household.sources.perpetrator_joined_household_with_children).toEqual({ source: 'derived', from: 'household memberships' });
  });

  it('agreement_in_force from the agreements overrides what the caller said', () => {
    const d = deriveFacts(
      { agreement_in_force: true },
      {
        now: at('2026-12-01T12:00:00Z'),
        calendar,
        assertedBy: 'caller',
        agreement: { inForce: false, source: 'data sharing agreement x (lapsed)' },
      },
    );
    expect(d.facts.agreement_in_force).toBe(false);
    expect(d.sources.agreement_in_force).toEqual({ source: 'derived', from: 'data sharing agreement x (lapsed)' });
  });
});
