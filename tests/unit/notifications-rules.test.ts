/**
 * The pure parts of notifications: configuration, backoff, which incidents call for Operation Encompass, and
 * which ledger entries call for an access notice.
 */
import { noticesOf } from '../../src/notifications/access-notices';
import { loadNotificationConfig, NotificationConfigError } from '../../src/notifications/config';
import { backoffDelayMs } from '../../src/notifications/dispatcher';
import { isEncompassIncident } from '../../src/notifications/outbox';

describe('loadNotificationConfig', () => {
  it('defaults to 08:30 Europe/London, England and Wales bank holidays, no insecure webhooks', () => {
    const c = loadNotificationConfig({});
    expect(c.schoolCalendar).toEqual(expect.objectContaining({ timeZone: 'Europe/London', dayStart: '08:30', holidays: [] }));
    expect(c.schoolCalendar.bankHolidays).toContain('2026-12-28');
    expect(c).toEqual(
      expect.objectContaining({ allowInsecureWebhooks: false, maxAttempts: 8, backoffBaseMs: 30_000, backoffMaxMs: 3_600_000 }),
    );
  });

  it('reads the school calendar and the delivery settings', () => {
    const c = loadNotificationConfig({
      SCHOOL_DAY_START: '08:45',
      SCHOOL_HOLIDAYS: '2026-12-21..2027-01-01',
      SCHOOL_BANK_HOLIDAYS: '2027-01-01',
      ALLOW_INSECURE_WEBHOOKS: 'on',
      NOTIFY_MAX_ATTEMPTS: '3',
    });
    expect(c.schoolCalendar).toEqual(
      expect.objectContaining({ dayStart: '08:45', holidays: [{ from: '2026-12-21', to: '2027-01-01' }], bankHolidays: ['2027-01-01'] }),
    );
    expect(c.allowInsecureWebhooks).toBe(true);
    expect(c.maxAttempts).toBe(3);
  });

  it.each([
    [{ SCHOOL_DAY_START: '8.30' }, 'SCHOOL_DAY_START'],
    [{ SCHOOL_TIME_ZONE: 'Europe/Nowhere' }, 'SCHOOL_TIME_ZONE'],
    [{ SCHOOL_HOLIDAYS: 'Christmas' }, 'SCHOOL_HOLIDAYS'],
    [{ SCHOOL_BANK_HOLIDAYS: '2026-12-25..2026-12-28' }, 'SCHOOL_BANK_HOLIDAYS'],
    [{ ALLOW_INSECURE_WEBHOOKS: 'maybe' }, 'ALLOW_INSECURE_WEBHOOKS'],
    [{ NOTIFY_MAX_ATTEMPTS: '0' }, 'NOTIFY_MAX_ATTEMPTS'],
  ])('refuses a bad value, naming the variable: %j', (env, name) => {
    expect(() => loadNotificationConfig(env)).toThrow(NotificationConfigError);
    expect(() => loadNotificationConfig(env)).toThrow(name);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelayMs(a, 30_000, 3_600_000))).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000,
    ]);
  });
});

describe('isEncompassIncident', () => {
  const base = { kind: 'incident' as const, subjectRole: 'child' as const, fields: {}, facts: {} };
  it('is any incident the police recorded about a child of the household, present at it or not (DAA 2021 s.3)', () => {
    expect(isEncompassIncident({ ...base, facts: { child_present_at_incident: true } })).toBe(true);
    expect(isEncompassIncident({ ...base, fields: { children_present: 2 } })).toBe(true);
    expect(isEncompassIncident({ ...base, fields: { children_present: 2 }, facts: { child_present_at_incident: false } })).toBe(true);
    expect(isEncompassIncident({ ...base, fields: { children_present: 0 } })).toBe(true);
  });
  it('is not a record about an adult, or another kind of record', () => {
    expect(isEncompassIncident({ ...base, subjectRole: 'adult_victim', facts: { child_present_at_incident: true } })).toBe(false);
    expect(isEncompassIncident({ ...base, kind: 'school_note', facts: { child_present_at_incident: true } } as never)).toBe(false);
  });
});

describe('noticesOf (which ledger entries call for an access notice)', () => {
  const row = (kind: string, payload: unknown, agencyId: string | null = 'test-school') => ({
    seq: '42',
    entry_id: 'e-1',
    recorded_at: new Date('2026-11-20T10:00:00Z'),
    kind,
    agency_id: agencyId,
    agency_type: 'school',
    role: 'designated_safeguarding_lead',
    purpose: 'operation_encompass',
    payload,
  });
  const disclosure = {
    access: 'policy',
    owningAgencyId: 'test-police',
    recordId: 'r-1',
    fieldsDisclosed: ['name', 'incident_date'],
    to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  };

  it('a record disclosed to another agency by policy: one notice to the owner, names only', () => {
    expect(noticesOf(row('disclosure', disclosure))).toEqual([
      {
        entryId: 'e-1',
        seq: 42,
        recordedAt: new Date('2026-11-20T10:00:00Z'),
        purpose: 'operation_encompass',
        owningAgencyId: 'test-police',
        recordId: 'r-1',
        householdId: null,
        disclosedTo: { agencyId: 'test-school', agencyType: 'school', role: 'designated_safeguarding_lead' },
        fields: ['name', 'incident_date'],
        via: 'request',
      },
    ]);
  });

  it('not for an own-record read, nothing disclosed, other kinds, or access notices themselves', () => {
    expect(noticesOf(row('disclosure', { ...disclosure, access: 'own_record' }))).toEqual([]);
    expect(noticesOf(row('disclosure', { ...disclosure, fieldsDisclosed: [] }))).toEqual([]);
    expect(noticesOf(row('disclosure', disclosure, 'test-police'))).toEqual([]);
    expect(noticesOf(row('decision', disclosure))).toEqual([]);
    expect(noticesOf(row('notification', { sent: true, to: { agencyId: 'test-police' }, disclosures: [] }))).toEqual([]);
    // A message the policy refused was never sent: nothing to tell.
    expect(
      noticesOf(
        row('notification', {
          sent: false,
          to: { agencyId: 'test-school' },
          disclosures: [{ owningAgencyId: 'test-police', recordId: 'r-1', fieldsDisclosed: ['name'] }],
        }),
      ),
    ).toEqual([]);
    expect(noticesOf(row('disclosure', null))).toEqual([]);
  });

  it('one notice per source of an alert that disclosed something', () => {
    const alert = row(
      'alert',
      {
        sent: true,
        to: { agencyId: 'test-csc', agencyType: 'childrens_social_care', role: 'social_worker' },
        disclosures: [
          { source: 'household', recordId: null, householdId: 'h-1', owningAgencyId: 'test-police', fieldsDisclosed: ['current_address'] },
          { source: 'record', recordId: 'r-2', householdId: null, owningAgencyId: 'test-probation', fieldsDisclosed: [] },
          { source: 'record', recordId: 'r-3', householdId: null, owningAgencyId: 'test-probation', fieldsDisclosed: ['bail_conditions'] },
        ],
      },
      null,
    );
    expect(noticesOf(alert).map((n) => [n.owningAgencyId, n.recordId ?? n.householdId, n.via, n.disclosedTo.agencyId])).toEqual([
      ['test-police', 'h-1', 'alert', 'test-csc'],
      ['test-probation', 'r-3', 'alert', 'test-csc'],
    ]);
  });
});
