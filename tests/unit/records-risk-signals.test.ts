/** The cumulative risk signals (src/records/risk-signals.ts): pure functions over record dates and levels. */
import {
  incidentsIn28Days,
  newPerpetratorInHousehold,
  risingDashLevel,
  riskSignals,
  type SignalRecord,
} from '../../src/records/risk-signals';
import type { HouseholdMembership } from '../../src/records/model';

const at = (iso: string): Date => new Date(`${iso}T21:30:00Z`);
const incident = (id: string, day: string): SignalRecord => ({ id, kind: 'incident', date: at(day) });
const dash = (id: string, day: string, level: 'standard' | 'medium' | 'high'): SignalRecord => ({
  id,
  kind: 'risk_assessment',
  date: at(day),
  dashRiskLevel: level,
});

describe('incidents_in_28_days', () => {
  it('flags five incidents within one month, with every one of them as evidence (ids and dates only)', () => {
    const records = [
      incident('i1', '2026-03-01'),
      incident('i2', '2026-03-06'),
      incident('i3', '2026-03-12'),
      incident('i4', '2026-03-19'),
      incident('i5', '2026-03-26'),
      dash('d1', '2026-03-27', 'high'),
    ];
    const signal = incidentsIn28Days(records);
    expect(signal.flagged).toBe(true);
    expect(signal.evidence.map((e) => e.id)).toEqual(['i1', 'i2', 'i3', 'i4', 'i5']);
    expect(signal.evidence[0]).toEqual({ kind: 'record', id: 'i1', date: '2026-03-01T21:30:00.000Z' });
    expect(signal.summary).toMatch(/^5 incidents within 28 days \(2026-03-01 to 2026-03-26\)/);
  });

  it('flags at three, in ANY 28-day window, even if the incidents are out of order', () => {
    const signal = incidentsIn28Days([
      incident('c', '2026-06-20'),
      incident('a', '2026-01-01'),
      incident('b', '2026-06-01'),
      incident('d', '2026-06-27'),
    ]);
    expect(signal.flagged).toBe(true);
    expect(signal.evidence.map((e) => e.id)).toEqual(['b', 'c', 'd']);
  });

  it('does not flag two incidents, nor three spread over exactly 28 days', () => {
    expect(incidentsIn28Days([incident('a', '2026-01-01'), incident('b', '2026-01-02')]).flagged).toBe(false);
    const spread = incidentsIn28Days([incident('a', '2026-01-01'), incident('b', '2026-01-15'), incident('c', '2026-01-29')]);
    expect(spread.flagged).toBe(false);
    expect(spread.evidence).toEqual([]);
    expect(spread.summary).toContain('most in any 28 days: 2');
  });

  it('counts only incidents', () => {
    expect(
      incidentsIn28Days([dash('a', '2026-01-01', 'high'), dash('b', '2026-01-02', 'high'), dash('c', '2026-01-03', 'high')]).flagged,
    ).toBe(false);
  });
});

describe('rising_dash_level', () => {
  it('flags standard → medium → high over time and gives the assessments as evidence', () => {
    const signal = risingDashLevel([
      dash('h', '2026-03-20', 'high'),
      dash('s', '2026-01-10', 'standard'),
      dash('m', '2026-02-14', 'medium'),
    ]);
    expect(signal.flagged).toBe(true);
    expect(signal.evidence.map((e) => e.id)).toEqual(['s', 'm', 'h']);
    expect(signal.summary).not.toMatch(/standard|medium|high/);
  });

  it('flags a jump straight from standard to high', () => {
    expect(risingDashLevel([dash('s', '2026-01-10', 'standard'), dash('h', '2026-01-20', 'high')]).flagged).toBe(true);
  });

  it('does not flag a falling or flat level, nor a single assessment', () => {
    expect(risingDashLevel([dash('h', '2026-01-10', 'high'), dash('s', '2026-01-20', 'standard')]).flagged).toBe(false);
    expect(risingDashLevel([dash('a', '2026-01-10', 'medium'), dash('b', '2026-01-20', 'medium')]).flagged).toBe(false);
    expect(risingDashLevel([dash('a', '2026-01-10', 'high')]).flagged).toBe(false);
    expect(risingDashLevel([]).summary).toMatch(/No DASH/);
  });

  it('judges the most recent assessment: a rise that has since fallen back is not flagged', () => {
    expect(
      risingDashLevel([dash('s', '2026-01-10', 'standard'), dash('h', '2026-02-10', 'high'), dash('s2', '2026-03-10', 'standard')]).flagged,
    ).toBe(false);
  });
});

describe('new_perpetrator_in_household', () => {
  const member = (
    id: string,
    personId: string,
    subjectRole: HouseholdMembership['subjectRole'],
    from: string,
    to?: string,
    householdId = 'h1',
  ): HouseholdMembership => ({ id, householdId, personId, subjectRole, from, ...(to ? { to } : {}) });

  it('flags a perpetrator who joined a household where the child already lived', () => {
    const signal = newPerpetratorInHousehold('child', [
      member('m1', 'child', 'child', '2019-05-01'),
      member('m2', 'mum', 'adult_victim', '2019-05-01'),
      member('m3', 'partner', 'perpetrator', '2026-02-01'),
    ]);
    expect(signal.flagged).toBe(true);
    expect(signal.evidence).toEqual([{ kind: 'household_membership', id: 'm3', date: '2026-02-01' }]);
    expect(signal.summary).not.toContain('partner');
  });

  it('flags it for the adult victim too, when a child lives there', () => {
    const signal = newPerpetratorInHousehold('mum', [
      member('m1', 'child', 'child', '2019-05-01'),
      member('m2', 'mum', 'adult_victim', '2019-05-01'),
      member('m3', 'partner', 'perpetrator', '2026-02-01'),
    ]);
    expect(signal.flagged).toBe(true);
  });

  it('does not flag a perpetrator who was there from the start, one who joined after the child left, or another household', () => {
    expect(
      newPerpetratorInHousehold('child', [member('m1', 'child', 'child', '2019-05-01'), member('m2', 'dad', 'perpetrator', '2019-05-01')])
        .flagged,
    ).toBe(false);
    expect(
      newPerpetratorInHousehold('child', [
        member('m1', 'child', 'child', '2019-05-01', '2025-12-31'),
        member('m2', 'p', 'perpetrator', '2026-02-01'),
      ]).flagged,
    ).toBe(false);
    expect(
      newPerpetratorInHousehold('child', [
        member('m1', 'child', 'child', '2019-05-01'),
        member('m2', 'p', 'perpetrator', '2026-02-01', undefined, 'h2'),
        member('m3', 'other-child', 'child', '2018-01-01', undefined, 'h2'),
      ]).flagged,
    ).toBe(false);
  });
});

it('riskSignals gives all three signals, by name', () => {
  expect(riskSignals({ subjectPersonId: 'x', records: [], memberships: [] }).map((s) => [s.signal, s.flagged])).toEqual([
    ['incidents_in_28_days', false],
    ['rising_dash_level', false],
    ['new_perpetrator_in_household', false],
  ]);
});
