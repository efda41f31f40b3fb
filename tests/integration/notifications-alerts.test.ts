/**
 * Notifications end to end, alerts: a perpetrator joining a household with a child alerts the MASH and children's
 * social care of that household's area (and not another's), through the policy and the ledger; and nothing at all,
 * notification or alert, leaves while the ledger cannot record it. Real tokens, real PostgreSQL, the real ledger,
 * the shipped policies; nothing mocked. The gateway, receiver and helpers are in
 * tests/support/notifications-gateway.ts; Operation Encompass notifications to schools are in
 * notifications-delivery.test.ts.
 */
import type { Dispatcher } from '../../src/notifications/dispatcher';
import type { TestDatabase } from '../support/db';
import { FULL_REPORT, HOUR, sleep, useNotificationsGateway } from '../support/notifications-gateway';
import { inTimeIncidentAt } from '../support/school-day';

describe('notifications: outbox → policy → ledger → signed webhook', () => {
  const gw = useNotificationsGateway();
  const { received, nextNhs, post, ok, outboxRows, ledgerFor, drain, verify, incident } = gw;
  let db: TestDatabase;
  let dispatcher: Dispatcher;
  let childId: string;
  beforeAll(() => {
    ({ db, dispatcher, childId } = gw);
  });

  describe('perpetrator moves', () => {
    let perpetratorId: string;
    let northHousehold: string;

    beforeAll(async () => {
      perpetratorId = (
        await ok<{ id: string }>(
          post('/v1/persons', 'police', {
            identifiers: { pnc_id: '09/481516Q' },
            fields: { name: 'Carl Example', date_of_birth: '1988-07-07' },
          }),
        )
      ).id;
      await ok(
        post('/v1/records', 'police', {
          kind: 'incident',
          subjectPersonId: perpetratorId,
          subjectRole: 'perpetrator',
          classification: 'OFFICIAL-SENSITIVE',
          occurredAt: new Date(Date.now() - 30 * 24 * HOUR).toISOString(),
          fields: {
            offence_type: 'Assault (domestic)',
            arrest_made: true,
            incident_full_report: FULL_REPORT,
            previous_domestic_abuse_convictions: 'Two (2019, 2022)',
          },
        }),
      );
      northHousehold = (
        await ok<{ id: string }>(post('/v1/households', 'police', { area: 'Testshire', address: '7 North Lane, Testshire' }))
      ).id;
      await ok(post(`/v1/households/${northHousehold}/members`, 'police', { personId: childId, subjectRole: 'child', from: '2019-05-01' }));
    });

    it("alerts the MASH and children's social care of the household's area — and not another area's — through the policy and the ledger", async () => {
      const before = received.length;
      const joinedOn = inTimeIncidentAt(24).toISOString().slice(0, 10);
      // Recorded as a perpetrator on a police record; joins as "other household member": still a perpetrator move.
      const membership = await ok<{ id: string }>(
        post(`/v1/households/${northHousehold}/members`, 'police', {
          personId: perpetratorId,
          subjectRole: 'other_household_member',
          from: joinedOn,
        }),
      );
      const rows = await outboxRows("kind = 'perpetrator_alert' AND payload->>'membershipId' = $1", [membership.id]);
      expect(rows.map((r) => r.target_agency_id).sort()).toEqual(['test-csc', 'test-mash']);

      await drain(async () => (await outboxRows("kind = 'perpetrator_alert' AND status = 'pending'")).length === 0);
      const got = received.slice(before).filter((r) => rows.some((row) => row.id === r.messageId));
      expect(got.map((g) => g.path).sort()).toEqual(['/test-csc', '/test-mash']);
      expect(received.slice(before).some((r) => r.path.endsWith('-south'))).toBe(false);
      expect(got.every((g) => g.ledgerHadIt)).toBe(true);

      const csc = await verify(got.find((g) => g.path === '/test-csc')!.body);
      expect(csc.claims).toEqual(expect.objectContaining({ aud: 'test-csc', event: 'household.perpetrator_joined' }));
      const data = csc.claims.data as {
        purpose: string;
        subject: unknown;
        household: unknown;
        sources: Array<{ source: string; fields: Record<string, unknown> }>;
      };
      expect(data.purpose).toBe('child_protection_enquiry');
      expect(data.subject).toEqual({ personId: perpetratorId, subjectRole: 'perpetrator' });
      expect(data.household).toEqual({ householdId: northHousehold, area: 'Testshire', joinedOn });
      const household = data.sources.find((s) => s.source === 'household');
      expect(household?.fields).toEqual(expect.objectContaining({ current_address: '7 North Lane, Testshire', name: 'Carl Example' }));
      const record = data.sources.find((s) => s.source === 'record');
      expect(record?.fields).toEqual(
        expect.objectContaining({ offence_type: 'Assault (domestic)', previous_domestic_abuse_convictions: 'Two (2019, 2022)' }),
      );
      expect(JSON.stringify(data)).not.toContain('FULL-REPORT');
      // Nothing about the child is in the alert.
      expect(JSON.stringify(data)).not.toMatch(/Amy|2018-03-01/);
      expect(JSON.stringify(data)).not.toContain(childId);

      const mash = await verify(got.find((g) => g.path === '/test-mash')!.body);
      expect((mash.claims.data as { purpose: string }).purpose).toBe('mash_triage');

      for (const row of rows) {
        const entries = await ledgerFor(row.id);
        expect(entries.map((e) => e.kind)).toEqual(['alert', 'notification_attempt']);
        expect(entries[0]?.rules).toEqual(expect.arrayContaining(['perpetrator-joined-household-alert']));
        expect(entries[0]?.outcome).toBe('permit_partial');
        expect(JSON.stringify(entries)).not.toMatch(/Carl|North Lane|FULL-REPORT/);
      }
    });

    it('alerts the other area when the perpetrator joins a household there', async () => {
      const south = (await ok<{ id: string }>(post('/v1/households', 'police', { area: 'Southshire', address: '2 South Street' }))).id;
      const southChild = (await ok<{ id: string }>(post('/v1/persons', 'police', { identifiers: { nhs_number: nextNhs() } }))).id;
      await ok(post(`/v1/households/${south}/members`, 'police', { personId: southChild, subjectRole: 'child', from: '2021-01-01' }));
      expect(await outboxRows("payload->>'householdId' = $1", [south])).toEqual([]); // no perpetrator there yet
      await ok(
        post(`/v1/households/${south}/members`, 'police', {
          personId: perpetratorId,
          subjectRole: 'perpetrator',
          from: new Date().toISOString().slice(0, 10),
        }),
      );
      const rows = await outboxRows("payload->>'householdId' = $1", [south]);
      expect(rows.map((r) => r.target_agency_id).sort()).toEqual(['test-csc-south', 'test-mash-south']);
    });

    it('raises no alert for a perpetrator joining a household with no child', async () => {
      const empty = (await ok<{ id: string }>(post('/v1/households', 'police', { area: 'Testshire', address: '9 Quiet Road' }))).id;
      await ok(
        post(`/v1/households/${empty}/members`, 'police', { personId: perpetratorId, subjectRole: 'perpetrator', from: '2026-01-01' }),
      );
      expect(await outboxRows("payload->>'householdId' = $1", [empty])).toEqual([]);
    });
  });

  it('sends nothing — notification or alert — while the ledger cannot record it, and sends it once the ledger is back', async () => {
    const record = await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, inTimeIncidentAt(3))));
    // Pending now: this notification, and the alerts to the southern agencies queued by the previous test.
    const pending = await outboxRows("status = 'pending'");
    expect(pending.map((r) => r.kind).sort()).toEqual(['operation_encompass', 'perpetrator_alert', 'perpetrator_alert']);
    expect(pending.some((r) => r.payload.recordId === record.id)).toBe(true);
    const before = received.length;
    await db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
    try {
      expect((await dispatcher.runOnce()).deferred).toBe(3);
      await sleep(30);
      expect((await dispatcher.runOnce()).deferred).toBe(3);
    } finally {
      await db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
    }
    expect(received.length).toBe(before); // no HTTP request reached any receiver
    for (const row of pending) {
      expect(await outboxRows('id = $1', [row.id])).toEqual([
        expect.objectContaining({ status: 'pending', attempts: 0, last_error: 'audit_unavailable' }),
      ]);
      expect(await ledgerFor(row.id)).toEqual([]);
    }

    await drain(async () => (await outboxRows("status = 'pending'")).length === 0);
    for (const row of pending) {
      expect(received.filter((r) => r.messageId === row.id)).toEqual([expect.objectContaining({ status: 200, ledgerHadIt: true })]);
      expect((await ledgerFor(row.id)).map((e) => e.kind)).toEqual([
        row.kind === 'perpetrator_alert' ? 'alert' : 'notification',
        'notification_attempt',
      ]);
    }
    expect(
      received
        .slice(before)
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/school', '/test-csc-south', '/test-mash-south']);
  });
});
