/** Derived facts and data sharing agreements (src/records/facts.ts, src/records/agreements.ts): pure functions. */
import { agreementReason, agreementStatus, englandDate, type SharingAgreement } from '../../src/records/agreements';
import { decisionFacts, hoursSince, storedFacts } from '../../src/records/facts';
import type { StoredRecord } from '../../src/records/model';

const mash: SharingAgreement = {
  id: 'northshire-mash-isa',
  title: 'Northshire MASH information sharing agreement',
  parties: ['school-a', 'mash-a', 'police-a'],
  purposes: ['mash_triage'],
  startsOn: '2024-04-01',
  endsOn: '2026-03-31',
  reviewOn: '2025-10-01',
};

describe('agreementStatus', () => {
  it('is in force from its first to its last day inclusive, for its parties and purposes only', () => {
    expect(agreementStatus([mash], 'school-a', 'mash-a', 'mash_triage', '2024-04-01').status).toBe('in_force');
    expect(agreementStatus([mash], 'school-a', 'mash-a', 'mash_triage', '2026-03-31').status).toBe('in_force');
    expect(agreementStatus([mash], 'school-a', 'mash-a', 'marac', '2025-01-01').status).toBe('none');
    expect(agreementStatus([mash], 'school-b', 'mash-a', 'mash_triage', '2025-01-01').status).toBe('none');
  });

  it('says an agreement has lapsed the day after it ends, and when it starts if it has not yet', () => {
    const lapsed = agreementStatus([mash], 'school-a', 'mash-a', 'mash_triage', '2026-04-01');
    expect(lapsed.status).toBe('lapsed');
    expect(agreementReason(lapsed, 'Northshire Primary', 'Northshire MASH')).toMatch(/ended on 2026-03-31, so it has lapsed/);
    const future = agreementStatus([mash], 'school-a', 'mash-a', 'mash_triage', '2024-01-01');
    expect(future.status).toBe('not_yet_in_force');
    expect(agreementReason(future, 'a', 'b')).toContain('2024-04-01');
  });

  it('prefers an agreement in force to a lapsed one, and flags one overdue for review', () => {
    const renewed: SharingAgreement = {
      ...mash,
      id: 'northshire-mash-isa-2026',
      startsOn: '2026-04-01',
      endsOn: undefined,
      reviewOn: '2027-04-01',
    };
    const { endsOn: _e, ...open } = renewed;
    const status = agreementStatus([mash, open], 'school-a', 'mash-a', 'mash_triage', '2026-05-01');
    expect(status).toEqual({ status: 'in_force', agreement: open, reviewOverdue: false });
    const overdue = agreementStatus([mash], 'school-a', 'mash-a', 'mash_triage', '2026-01-01');
    expect(overdue).toEqual(expect.objectContaining({ status: 'in_force', reviewOverdue: true }));
  });

  it('uses the calendar date in England', () => {
    expect(englandDate(new Date('2026-06-30T23:30:00Z'))).toBe('2026-07-01'); // BST
    expect(englandDate(new Date('2026-01-31T23:30:00Z'))).toBe('2026-01-31'); // GMT
  });
});

describe('decision facts', () => {
  const record: StoredRecord = {
    id: 'r',
    kind: 'incident',
    subjectPersonId: 'child',
    subjectRole: 'child',
    owningAgencyId: 'police-a',
    classification: 'OFFICIAL-SENSITIVE',
    occurredAt: new Date('2026-03-01T20:00:00Z'),
    fields: { incident_date: '2026-03-01T21:00:00Z' },
    facts: {
      child_present_at_incident: true,
      agreement_in_force: true,
      hours_since_incident: 1,
      colour: 'blue',
      dash_risk_level: 'extreme',
    },
    version: 1,
    createdAt: new Date(),
    updatedAt: new Date(),
  };

  it('keeps only valid stored facts and never a stored derived fact', () => {
    expect(storedFacts(record.facts)).toEqual({ child_present_at_incident: true });
  });

  it('derives hours since the incident, the agreement and who is asking', () => {
    const facts = decisionFacts(record, {
      now: new Date('2026-03-02T07:30:00Z'),
      agreement: { status: 'lapsed', agreement: mash },
      requester: { onBehalfOf: { personId: 'dad', isRecordedPerpetrator: true } },
      perpetratorJoinedHousehold: true,
    });
    expect(facts).toEqual({
      child_present_at_incident: true,
      hours_since_incident: 10,
      agreement_in_force: false,
      requester_is_subject: false,
      requester_is_alleged_perpetrator: true,
      perpetrator_joined_household_with_children: true,
      // Sunday 21:30 incident, asked at 07:30 on Monday: before the 08:30 start of the next school day.
      before_next_school_day_start: true,
    });
  });

  it('says nothing about the requester when the caller acts for nobody', () => {
    const facts = decisionFacts(record, {
      now: new Date('2026-03-01T21:00:00Z'),
      agreement: { status: 'none' },
      requester: {},
      perpetratorJoinedHousehold: false,
    });
    expect(facts).not.toHaveProperty('requester_is_alleged_perpetrator');
    expect(facts).not.toHaveProperty('perpetrator_joined_household_with_children');
    expect(hoursSince(new Date('2026-03-02T00:00:00Z'), new Date('2026-03-01T00:00:00Z'))).toBe(0);
  });
});
