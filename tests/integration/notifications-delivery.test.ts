/**
 * Notifications end to end: police record an incident / a perpetrator moves house / a record is read →
 * outbox row (same transaction) → dispatcher → policy decision → ledger entry COMMITTED → signed JWS POSTed to a real
 * HTTP receiver on 127.0.0.1. Real tokens, real PostgreSQL, the real ledger, the shipped policies; nothing mocked.
 * The webhook routes are mounted in front of the real app, as src/http/app.ts is to mount them (see the report).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { Pool } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { contentHash, type AuditLedger } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { syncAgencies } from '../../src/db/registry-sync';
import { assemble, type Assembled } from '../../src/gateway';
import { testGatewayConfig } from '../support/gateway-harness';
import type { GatewayKeys } from '../../src/keys/gateway-keys';
import { startDispatcher, type Dispatcher } from '../../src/notifications/dispatcher';
import { DEFAULT_SCHOOL_CALENDAR, nextSchoolDayStart } from '../../src/notifications/school-day';
import { loadPolicyCatalogue } from '../../src/policy';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { inTimeIncidentAt } from '../support/school-day';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';

const FULL_REPORT = 'FULL-REPORT: officers attended at 22:10 and found (synthetic) details.';
const HOUR = 60 * 60 * 1000;
const OE_FIELDS = ['name', 'date_of_birth', 'incident_date', 'incident_summary', 'children_present', 'child_involvement'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A valid NHS number (mod 11 check digit) from a 9-digit stem. */
function nhs(stem: number): string {
  for (let s = stem; ; s++) {
    const digits = String(s).padStart(9, '0').split('').map(Number);
    const check = 11 - (digits.reduce((sum, d, i) => sum + d * (10 - i), 0) % 11);
    if (check === 10) continue;
    return `${digits.join('')}${check === 11 ? 0 : check}`;
  }
}

/** The payload of a compact JWS as text, unverified (only to find a message; every assertion on content verifies first). */
const claimsOf = (jws: string): string => Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8');

interface Received {
  readonly path: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly messageId: string;
  readonly body: string;
  readonly ledgerHadIt: boolean;
}

describe('notifications: outbox → policy → ledger → signed webhook', () => {
  let db: TestDatabase;
  let issuers: TestIssuers;
  let gateway: Assembled;
  let pool: Pool;
  let ledger: AuditLedger;
  let keys: GatewayKeys;
  let app: express.Express;
  let dispatcher: Dispatcher;
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const statusFor: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  const engine = loadPolicyCatalogue('policies');
  let childId: string;
  let nhsStem = 100000000;

  const auth = (r: request.Test, who: string) => r.set('Authorization', `Bearer ${tokens[who]}`);
  const post = (p: string, who: string, body: unknown) =>
    auth(request(app).post(p), who)
      .set('Idempotency-Key', randomUUID())
      .send(body as object);
  const ok = async <T>(res: Promise<request.Response> | request.Response, status = 201): Promise<T> => {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body as T;
  };
  const outboxRows = (where = 'true', params: unknown[] = []) =>
    db.asOwner<{
      id: string;
      kind: string;
      target_agency_id: string;
      status: string;
      attempts: number;
      deadline: Date | null;
      last_error: string | null;
      last_status_code: number | null;
      payload: Record<string, unknown>;
    }>(
      `SELECT id, kind, target_agency_id, status, attempts, deadline, last_error, last_status_code, payload FROM outbox WHERE ${where} ORDER BY created_at, id`,
      params,
    );
  const ledgerFor = (outboxId: string) =>
    db.asOwner<{ seq: string; kind: string; outcome: string; purpose: string | null; rules: string[]; payload: Record<string, unknown> }>(
      "SELECT seq, kind, outcome, purpose, rules, payload FROM audit_ledger WHERE payload->>'outboxId' = $1 ORDER BY seq",
      [outboxId],
    );
  const deliveredTo = (p: string) => received.filter((r) => r.path === p);

  async function drain(done: () => Promise<boolean>, tries = 40): Promise<void> {
    for (let i = 0; i < tries; i++) {
      await dispatcher.runOnce();
      if (await done()) return;
      await sleep(15);
    }
    throw new Error('the outbox did not settle');
  }
  const settled = (id: string) => async () => (await outboxRows('id = $1', [id]))[0]?.status !== 'pending';

  async function verify(jws: string) {
    const jwks = (await request(app).get('/.well-known/jwks.json')).body as JSONWebKeySet;
    const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
    return {
      header: protectedHeader,
      claims: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown> & { data: Record<string, unknown> },
    };
  }

  async function newChild(name: string): Promise<string> {
    const id = nhs((nhsStem += 1000));
    const child = (
      await ok<{ id: string }>(
        post('/v1/persons', 'police', { identifiers: { nhs_number: id }, fields: { name, date_of_birth: '2018-03-01' } }),
      )
    ).id;
    await ok(post('/v1/persons', 'school', { identifiers: { nhs_number: id } }), 200); // the school knows the child: it is "their" pupil
    return child;
  }
  const incident = (subjectPersonId: string, at: Date, extra: Record<string, unknown> = {}) => ({
    kind: 'incident',
    subjectPersonId,
    subjectRole: 'child',
    classification: 'OFFICIAL-SENSITIVE',
    occurredAt: at.toISOString(),
    fields: {
      incident_date: at.toISOString(),
      incident_summary: 'Shouting and a broken window; the children were upstairs.',
      children_present: 2,
      child_involvement: ['heard'],
      incident_full_report: FULL_REPORT,
      offence_type: 'Criminal damage (domestic)',
    },
    facts: { child_present_at_incident: true },
    ...extra,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    issuers = await startTestIssuers([
      'police',
      'school',
      'csc',
      'mash',
      'probation',
      { agencyType: 'childrens_social_care', id: 'test-csc-south' },
      { agencyType: 'mash', id: 'test-mash-south' },
    ]);
    await syncAgencies(
      db.ownerUrl,
      issuers.agencies.map((a) => (a.id.endsWith('-south') ? { ...a, area: 'Southshire' } : a)),
    );
    // The gateway as src/gateway.ts assembles it, webhooks to http on loopback allowed (ALLOW_INSECURE_WEBHOOKS);
    // the test runs its own dispatchers, so the background tasks are off.
    gateway = await assemble(
      testGatewayConfig({
        GATEWAY_AUDIENCE: issuers.audience,
        ALLOW_INSECURE_WEBHOOKS: 'true',
        RATE_LIMIT_PER_AGENCY_PER_MINUTE: '100000',
        RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
      }),
      { appDatabaseUrl: db.appUrl, agencies: issuers.agencies, embeddedDatabase: false, webClients: {} },
      pino({ level: 'silent' }),
      { background: false, pages: false },
    );
    ({ app, pool, ledger, keys } = gateway);
    const logger = pino({ level: 'silent' });
    const pseudonymise = pseudonymiser('test-pseudonym-key-test-pseudonym-key');

    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const p = req.url ?? '/';
        const status = statusFor[p] ?? 200;
        // Was the ledger entry for exactly this message already committed when it arrived?
        db.asOwner("SELECT 1 FROM audit_ledger WHERE kind IN ('notification', 'alert') AND payload->>'contentHash' = $1", [
          contentHash(body),
        ]).then(
          (rows) => {
            received.push({
              path: p,
              status,
              contentType: req.headers['content-type'],
              messageId: String(req.headers['x-notification-id']),
              body,
              ledgerHadIt: rows.length === 1,
            });
            res.writeHead(status).end();
          },
          () => res.writeHead(500).end(),
        );
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    dispatcher = startDispatcher({
      pool,
      ledger,
      engine,
      keys,
      logger,
      pseudonymise,
      intervalMs: 60_000,
      autoStart: false,
      allowInsecureWebhooks: true,
      maxAttempts: 3,
      backoffBaseMs: 5,
      backoffMaxMs: 20,
      timeoutMs: 5000,
    });

    const mint = (agency: string, role: string, scope: string) => issuers.token({ agency, sub: `${role}-1`, role, scope });
    tokens.police = await mint('test-police', 'police_officer', 'records:read records:write webhooks');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead', 'records:read records:write webhooks');
    tokens.probation = await mint('test-probation', 'probation_officer', 'records:read records:write');
    for (const a of ['test-csc', 'test-mash', 'test-csc-south', 'test-mash-south'])
      tokens[a] = await issuers.token({ agency: a, scope: 'webhooks' });

    await ok(post('/v1/webhooks', 'school', { url: `${receiverUrl}/school`, events: ['operation_encompass.notification'] }));
    for (const a of ['test-csc', 'test-mash', 'test-csc-south', 'test-mash-south'])
      await ok(post('/v1/webhooks', a, { url: `${receiverUrl}/${a}`, events: ['household.perpetrator_joined'] }));
    childId = await newChild('Amy Example');
  });
  afterAll(async () => {
    await dispatcher.stop();
    await gateway.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await issuers.close();
    await db.drop();
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
    const other = (await ok<{ id: string }>(post('/v1/persons', 'police', { identifiers: { nhs_number: nhs((nhsStem += 1000)) } }))).id;
    await ok(post('/v1/records', 'police', incident(other, inTimeIncidentAt(1))));
    expect((await outboxRows()).length).toBe(before + 1);
    expect(await outboxRows("kind = 'operation_encompass' AND payload->>'recordId' = $1", [absent.id])).toHaveLength(1);
    await drain(async () => (await outboxRows("status = 'pending'")).length === 0);
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
      const southChild = (await ok<{ id: string }>(post('/v1/persons', 'police', { identifiers: { nhs_number: nhs((nhsStem += 1000)) } })))
        .id;
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
