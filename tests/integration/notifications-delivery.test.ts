/**
 * Notifications end to end: police record an incident / a perpetrator moves house / a record is read →
 * outbox row (same transaction) → dispatcher → policy decision → ledger entry COMMITTED → signed JWS POSTed to a real
 * HTTP receiver on 127.0.0.1. Real tokens, real PostgreSQL, the real ledger, the shipped policies; nothing mocked.
 * The webhook routes are mounted in front of the real app, as src/http/app.ts is to mount them (see the report).
 * The gateway, receiver and helpers are in tests/support/notifications-gateway.ts; alerts when a perpetrator moves,
 * and nothing sent while the ledger is down, are in notifications-alerts.test.ts.
 */
import { randomUUID } from 'node:crypto';
import type express from 'express';
import { decodeProtectedHeader } from 'jose';
import { Pool } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { contentHash } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { pseudonymiser } from '../../src/audit/pseudonym';
import type { GatewayKeys } from '../../src/keys/gateway-keys';
import { startDispatcher, type Dispatcher } from '../../src/notifications/dispatcher';
import { DEFAULT_SCHOOL_CALENDAR, nextSchoolDayStart } from '../../src/notifications/school-day';
import type { TestDatabase } from '../support/db';
import { claimsOf, OE_FIELDS, useNotificationsGateway } from '../support/notifications-gateway';
import { inTimeIncidentAt } from '../support/school-day';
import { decision } from '../support/audit-entries';

describe('notifications: outbox → policy → ledger → signed webhook', () => {
  const gw = useNotificationsGateway();
  const { received, statusFor, engine, nextNhs, auth, post, ok, outboxRows, ledgerFor, deliveredTo, drain, settled, verify, incident } = gw;
  let db: TestDatabase;
  let app: express.Express;
  let keys: GatewayKeys;
  let dispatcher: Dispatcher;
  let receiverUrl: string;
  let childId: string;
  beforeAll(() => {
    ({ db, app, keys, dispatcher, receiverUrl, childId } = gw);
  });

  it('Operation Encompass: the school gets a JWS verifiable with the gateway JWKS, holding only the permitted fields, after its ledger entry is committed', async () => {
    const at = inTimeIncidentAt(10);
    const record = await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, at)));
    const [row] = await outboxRows("kind = 'operation_encompass' AND payload->>'recordId' = $1", [record.id]);
    expect(row).toEqual(
      expect.objectContaining({
        target_agency_id: 'test-school',
        status: 'pending',
        attempts: 0,
        deadline: nextSchoolDayStart(at, DEFAULT_SCHOOL_CALENDAR),
      }),
    );
    // The outbox holds ids and names only.
    expect(JSON.stringify(row?.payload)).not.toMatch(/Amy|Shouting|FULL-REPORT/);

    await drain(settled(row!.id));
    const [got, ...more] = received.filter((r) => r.messageId === row!.id);
    expect(more).toEqual([]);
    expect(got).toEqual(expect.objectContaining({ path: '/school', contentType: 'application/jose', ledgerHadIt: true }));

    const { header, claims } = await verify(got!.body);
    expect(header).toEqual({ alg: 'ES256', kid: keys.key('notifications').kid, typ: 'sg-notification+jwt' });
    expect(header.kid).not.toBe(keys.key('ledger').kid);
    expect(claims).toEqual(
      expect.objectContaining({
        iss: 'urn:safeguard-gateway',
        aud: 'test-school',
        event: 'operation_encompass.notification',
        messageId: row!.id,
        attempt: 1,
      }),
    );
    const data = claims.data as {
      fields: Record<string, unknown>;
      withheldFields: Array<{ field: string }>;
      rules: string[];
      subject: unknown;
      deadline: string;
    };
    expect(Object.keys(data.fields).sort()).toEqual([...OE_FIELDS].sort());
    expect(data.fields.name).toBe('Amy Example');
    expect(data.withheldFields.map((w) => w.field).sort()).toEqual(['incident_full_report', 'nhs_number', 'offence_type']);
    expect(data.rules).toEqual(expect.arrayContaining(['operation-encompass-police-to-school', 'deny-dash-and-full-report-to-education']));
    expect(data.subject).toEqual({ personId: childId, subjectRole: 'child' });
    expect(data.deadline).toBe(row!.deadline!.toISOString());
    expect(claimsOf(got!.body)).not.toContain('FULL-REPORT');
    expect(got!.body).not.toContain('incident_full_report":"');

    // The ledger: the disclosure (names, rules, the hash of the exact JWS) BEFORE the attempt's result.
    const entries = await ledgerFor(row!.id);
    expect(entries.map((e) => [e.kind, e.outcome])).toEqual([
      ['notification', 'permit_partial'],
      ['notification_attempt', 'delivered'],
    ]);
    const [sent, result] = entries as [(typeof entries)[0], (typeof entries)[0]];
    expect(sent.purpose).toBe('operation_encompass');
    expect(sent.rules).toEqual(expect.arrayContaining(['operation-encompass-police-to-school']));
    expect(sent.payload).toEqual(
      expect.objectContaining({
        attempt: 1,
        contentHash: contentHash(got!.body),
        to: { agencyId: 'test-school', agencyType: 'school', role: 'designated_safeguarding_lead' },
      }),
    );
    expect((sent.payload.disclosures as Array<{ fieldsDisclosed: string[] }>)[0]?.fieldsDisclosed.sort()).toEqual([...OE_FIELDS].sort());
    expect(result.payload).toEqual(expect.objectContaining({ attempt: 1, statusCode: 200, contentHash: contentHash(got!.body) }));
    expect(JSON.stringify(entries)).not.toMatch(/Amy|Shouting|FULL-REPORT/);
    expect(JSON.stringify(entries)).not.toContain(childId);
    expect(await outboxRows('id = $1', [row!.id])).toEqual([
      expect.objectContaining({ status: 'delivered', attempts: 1, last_status_code: 200 }),
    ]);
  });

  it('sets the deadline to the start of the next school day: a Friday-night incident is due Monday 08:30', async () => {
    const friday = new Date('2026-11-13T21:30:00Z'); // Friday 13 November 2026, 21:30 GMT
    const record = await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, friday)));
    const [row] = await outboxRows("payload->>'recordId' = $1", [record.id]);
    expect(row?.deadline?.toISOString()).toBe('2026-11-16T08:30:00.000Z');

    // Ten days later the notification is late: a police supervisor must decide (refer), the decision is recorded,
    // nothing is sent.
    await drain(settled(row!.id));
    expect(received.filter((r) => r.messageId === row!.id)).toEqual([]);
    expect(await outboxRows('id = $1', [row!.id])).toEqual([
      expect.objectContaining({ status: 'dead_letter', attempts: 0, last_error: 'policy_denied' }),
    ]);
    expect((await ledgerFor(row!.id)).map((e) => [e.kind, e.outcome])).toEqual([
      ['notification', 'refer'],
      ['notification_attempt', 'dead_letter'],
    ]);
  });

  it('retries a failing webhook (500) with backoff, audits every attempt, then dead-letters it', async () => {
    statusFor['/school'] = 500;
    try {
      const record = await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, inTimeIncidentAt(2))));
      const [row] = await outboxRows("payload->>'recordId' = $1", [record.id]);
      await drain(settled(row!.id));
      const attempts = received.filter((r) => r.messageId === row!.id);
      expect(attempts.map((a) => a.status)).toEqual([500, 500, 500]);
      expect(attempts.every((a) => a.ledgerHadIt)).toBe(true);
      expect(await outboxRows('id = $1', [row!.id])).toEqual([
        expect.objectContaining({ status: 'dead_letter', attempts: 3, last_status_code: 500, last_error: 'http_500' }),
      ]);

      const entries = await ledgerFor(row!.id);
      expect(entries.map((e) => [e.kind, e.outcome, e.payload.attempt])).toEqual([
        ['notification', 'permit_partial', 1],
        ['notification_attempt', 'failed', 1],
        ['notification', 'permit_partial', 2],
        ['notification_attempt', 'failed', 2],
        ['notification', 'permit_partial', 3],
        ['notification_attempt', 'dead_letter', 3],
      ]);
      // Each attempt was signed afresh; each entry holds the hash of exactly what that attempt sent, and its status.
      const sentHashes = entries.filter((e) => e.kind === 'notification').map((e) => e.payload.contentHash);
      expect(sentHashes).toEqual(attempts.map((a) => contentHash(a.body)));
      expect(entries.filter((e) => e.kind === 'notification_attempt').map((e) => e.payload.statusCode)).toEqual([500, 500, 500]);
      expect(JSON.stringify(entries)).not.toMatch(/Amy|Shouting|FULL-REPORT/);
    } finally {
      delete statusFor['/school'];
    }
  });

  it('writes the record and its outbox row atomically: either both or neither', async () => {
    const countRecords = async () => Number((await db.asOwner<{ n: string }>('SELECT count(*) AS n FROM records'))[0]?.n);
    const countOutbox = async () => Number((await db.asOwner<{ n: string }>('SELECT count(*) AS n FROM outbox'))[0]?.n);
    const records = await countRecords();
    const outbox = await countOutbox();

    // The record's transaction fails after the outbox row was written (its ledger entry cannot be written): no row.
    await db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
    try {
      expect((await post('/v1/records', 'police', incident(childId, inTimeIncidentAt(1)))).status).toBe(503);
    } finally {
      await db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
    }
    expect([await countRecords(), await countOutbox()]).toEqual([records, outbox]);

    // The outbox row cannot be written: the record is not written either.
    await db.asOwner('REVOKE INSERT ON outbox FROM safeguard_app');
    try {
      expect((await post('/v1/records', 'police', incident(childId, inTimeIncidentAt(1)))).status).toBe(500);
    } finally {
      await db.asOwner('GRANT INSERT ON outbox TO safeguard_app');
    }
    expect([await countRecords(), await countOutbox()]).toEqual([records, outbox]);

    // And when both can be written, both are, once (an idempotent replay queues nothing new).
    const key = randomUUID();
    const body = incident(childId, inTimeIncidentAt(1));
    expect((await auth(request(app).post('/v1/records'), 'police').set('Idempotency-Key', key).send(body)).status).toBe(201);
    expect((await auth(request(app).post('/v1/records'), 'police').set('Idempotency-Key', key).send(body)).status).toBe(201);
    expect([await countRecords(), await countOutbox()]).toEqual([records + 1, outbox + 1]);
    await drain(async () => (await outboxRows("status = 'pending'")).length === 0);
  });

  it('queues a notification for a child of the household who was not present (DAA 2021 s.3), and nothing when no school knows the child', async () => {
    const before = (await outboxRows()).length;
    const absent = await ok<{ id: string }>(
      post('/v1/records', 'police', incident(childId, inTimeIncidentAt(1), { facts: { child_present_at_incident: false } })),
    );
    // No school knows this child.
    const other = (await ok<{ id: string }>(post('/v1/persons', 'police', { identifiers: { nhs_number: nextNhs() } }))).id;
    await ok(post('/v1/records', 'police', incident(other, inTimeIncidentAt(1))));
    expect((await outboxRows()).length).toBe(before + 1);
    expect(await outboxRows("kind = 'operation_encompass' AND payload->>'recordId' = $1", [absent.id])).toHaveLength(1);
    await drain(async () => (await outboxRows("status = 'pending'")).length === 0);
  });

  it('tells a data owner who subscribed when its records are disclosed: who, purpose, field names — never values', async () => {
    await ok(post('/v1/webhooks', 'police', { url: `${receiverUrl}/police`, events: ['record.disclosed'] }));
    const res = await auth(request(app).get(`/v1/subjects/${childId}/records?purpose=operation_encompass`), 'school');
    expect(res.status).toBe(200);
    const disclosed = (res.body.records as Array<{ recordId: string; fields: Record<string, unknown> }>).filter(
      (r) => Object.keys(r.fields).length > 0,
    );
    expect(disclosed.length).toBeGreaterThan(0);

    await drain(
      async () =>
        (await outboxRows("kind = 'access_notice' AND status = 'pending'")).length === 0 &&
        (await outboxRows("kind = 'access_notice'")).length > 0,
    );
    const notices = await Promise.all(deliveredTo('/police').map((r) => verify(r.body)));
    const forRead = notices.map((n) => n.claims.data).filter((d) => d.via === 'request');
    expect(forRead.map((d) => d.recordId).sort()).toEqual(disclosed.map((d) => d.recordId).sort());
    for (const d of forRead) {
      expect(d).toEqual(
        expect.objectContaining({
          type: 'record_disclosed',
          disclosedTo: { agencyId: 'test-school', agencyType: 'school', role: 'designated_safeguarding_lead' },
          purpose: 'operation_encompass',
          fields: expect.arrayContaining(['name', 'incident_date']),
        }),
      );
    }
    for (const n of notices) expect(n.claims.aud).toBe('test-police');
    const payloads = notices.map((n) => JSON.stringify(n.claims));
    for (const p of payloads) expect(p).not.toMatch(/Amy|Shouting|FULL-REPORT/);

    // Reading it again is another disclosure: another notice, exactly one per record read.
    const count = deliveredTo('/police').length;
    await auth(request(app).get(`/v1/records/${disclosed[0]!.recordId}?purpose=operation_encompass`), 'school');
    await drain(async () => deliveredTo('/police').length === count + 1);
    // The police reading their own record back is not a disclosure: no notice.
    await auth(request(app).get(`/v1/records/${disclosed[0]!.recordId}?purpose=crime_prevention_detection`), 'police');
    await dispatcher.runOnce();
    expect(deliveredTo('/police').length).toBe(count + 1);
    expect(decodeProtectedHeader(deliveredTo('/police')[0]!.body).typ).toBe('sg-notification+jwt');

    // A notification the gateway sends from a police record is a disclosure too: the police are told of it.
    const record = await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, inTimeIncidentAt(1))));
    await drain(async () => deliveredTo('/police').some((r) => claimsOf(r.body).includes(record.id)));
    const viaNotification = (await Promise.all(deliveredTo('/police').map((r) => verify(r.body))))
      .map((n) => n.claims.data)
      .find((d) => d.recordId === record.id);
    expect(viaNotification).toEqual(
      expect.objectContaining({
        via: 'notification',
        purpose: 'operation_encompass',
        disclosedTo: { agencyId: 'test-school', agencyType: 'school', role: 'designated_safeguarding_lead' },
      }),
    );
  });

  it('finds a disclosure behind more decisions than one read of the ledger holds, and tells it exactly once', async () => {
    // 520 decisions (more than the 500 entries the notice reader takes at a time), then one disclosure.
    const pool = new Pool({ connectionString: db.appUrl, max: 2 });
    const ledger = new PgAuditLedger(pool);
    try {
      await Promise.all(Array.from({ length: 520 }, (_, i) => ledger.append(decision(`req-behind-${i}`))));
    } finally {
      await ledger.close();
      await pool.end();
    }
    const count = deliveredTo('/police').length;
    // Reading a subject's records discloses each of them, and reading one of them again discloses it again.
    const disclosed = (
      await ok<{ records: Array<{ recordId: string; fields: Record<string, unknown> }> }>(
        auth(request(app).get(`/v1/subjects/${childId}/records?purpose=operation_encompass`), 'school'),
        200,
      )
    ).records.filter((r) => Object.keys(r.fields).length > 0);
    expect(disclosed.length).toBeGreaterThan(0);
    const again = disclosed[0]!.recordId;
    expect((await auth(request(app).get(`/v1/records/${again}?purpose=operation_encompass`), 'school')).status).toBe(200);
    await drain(async () => deliveredTo('/police').length >= count + disclosed.length + 1);
    await dispatcher.runOnce();
    const notices = (
      await Promise.all(
        deliveredTo('/police')
          .slice(count)
          .map((r) => verify(r.body)),
      )
    ).map((n) => n.claims.data as { recordId: string; via: string });
    expect(notices).toHaveLength(disclosed.length + 1);
    expect(notices.filter((n) => n.recordId === again)).toHaveLength(2);
    expect(notices.every((n) => n.via === 'request')).toBe(true);
    // The cursor has moved past every entry read, decisions included.
    const [cursor] = await db.asOwner<{ last_seq: string; head: string }>(
      "SELECT last_seq::text, (SELECT max(seq)::text FROM audit_ledger) AS head FROM outbox_cursors WHERE name = 'access_notices'",
    );
    expect(Number(cursor!.last_seq)).toBeGreaterThan(520);
    expect(Number(cursor!.last_seq)).toBeLessThanOrEqual(Number(cursor!.head));
  });

  it('delivers each message exactly once when several dispatchers (gateway processes) run at the same time', async () => {
    const other = new Pool({ connectionString: db.appUrl, max: 5 });
    const otherLedger = new PgAuditLedger(other);
    const second = startDispatcher({
      pool: other,
      ledger: otherLedger,
      engine,
      keys,
      logger: pino({ level: 'silent' }),
      pseudonymise: pseudonymiser('test-pseudonym-key-test-pseudonym-key'),
      intervalMs: 60_000,
      autoStart: false,
      allowInsecureWebhooks: true,
      batchSize: 2,
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++)
        ids.push((await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, inTimeIncidentAt(i + 1))))).id);
      const rows = await outboxRows("kind = 'operation_encompass' AND payload->>'recordId' = ANY($1::text[])", [ids]);
      expect(rows).toHaveLength(6);
      for (let i = 0; i < 10 && (await outboxRows("status = 'pending'")).length > 0; i++) {
        await Promise.all([dispatcher.runOnce(), second.runOnce(), second.runOnce()]);
      }
      for (const row of rows) {
        expect(received.filter((r) => r.messageId === row.id)).toHaveLength(1);
        expect((await ledgerFor(row.id)).map((e) => e.kind)).toEqual(['notification', 'notification_attempt']);
      }
    } finally {
      await second.stop();
      await otherLedger.close();
      await other.end();
    }
  });

  it('does not send to a webhook removed after the message was queued', async () => {
    const list = await auth(request(app).get('/v1/webhooks'), 'school');
    const id = (list.body.webhooks as Array<{ id: string }>)[0]!.id;
    const record = await ok<{ id: string }>(post('/v1/records', 'police', incident(childId, inTimeIncidentAt(1))));
    expect((await auth(request(app).delete(`/v1/webhooks/${id}`), 'school')).status).toBe(204);
    const [row] = await outboxRows("payload->>'recordId' = $1", [record.id]);
    await drain(settled(row!.id));
    expect(received.filter((r) => r.messageId === row!.id)).toEqual([]);
    expect(await outboxRows('id = $1', [row!.id])).toEqual([
      expect.objectContaining({ status: 'dead_letter', last_error: 'subscription_removed' }),
    ]);
  });
});
