/**
 * The ledger names no one and no record: after a realistic day through the real HTTP app (persons registered and
 * matched, a household, records contributed, records read, a chronology, refused requests with ids in their paths,
 * a decision that opens a referral and its decision, a request for information and its release, an Operation
 * Encompass notification and an access notice delivered), every clear id used — person, record, household,
 * membership, referral, request for information, case reference — is searched for in every ledger row and every
 * exported and mirrored checkpoint file, and none is found. Each is there as its keyed pseudonym instead, so an
 * auditor with the key can still find the entries about it; and the agency that holds a record is still told, by
 * the record's id, that it was disclosed (the access notice finds it by its pseudonym in the records store).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { queryLedger } from '../../src/audit/query';
import { syncAgencies } from '../../src/db/registry-sync';
import { startDispatcher, type Dispatcher } from '../../src/notifications/dispatcher';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const SCOPES = 'records:read records:write decisions webhooks';
const CASE_REFERENCE = 'PRIV-CASE-2026-7731';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('ledger privacy: pseudonyms only, across a whole day of sharing', () => {
  let gw: TestGateway;
  let dispatcher: Dispatcher;
  let receiver: http.Server;
  const received: Array<{ path: string; body: string }> = [];
  const exportDir = mkdtempSync(path.join(os.tmpdir(), 'sg-privacy-export-'));
  const mirrorDir = mkdtempSync(path.join(os.tmpdir(), 'sg-privacy-mirror-'));
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  const as = (who: string) => ({
    get: (p: string) => request(gw.app).get(p).set('Authorization', `Bearer ${tokens[who]}`),
    post: (p: string, body: unknown) =>
      request(gw.app)
        .post(p)
        .set('Authorization', `Bearer ${tokens[who]}`)
        .set('Idempotency-Key', randomUUID())
        .send(body as object),
  });
  const ok = async (res: Promise<request.Response>, status = 201): Promise<Record<string, unknown>> => {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body as Record<string, unknown>;
  };
  const drain = async (): Promise<void> => {
    for (let i = 0; i < 40; i++) {
      await dispatcher.runOnce();
      const pending = await gw.db.asOwner<{ n: string }>("SELECT count(*)::text AS n FROM outbox WHERE status = 'pending'");
      if (pending[0]?.n === '0') return;
    }
    throw new Error('the outbox did not settle');
  };

  beforeAll(async () => {
    gw = await startTestGateway({ ledgerTrust: { exportDir, mirrorDir } });
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const mint = (agency: string, role: string, sub = `${role}-1`) => gw.issuers.token({ agency, sub, role, scope: SCOPES });
    tokens.police = await mint('test-police', 'police_officer');
    tokens.manager = await mint('test-police', 'team_manager', 'tm-1');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead');
    tokens.mash = await mint('test-mash', 'mash_analyst');

    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    for (const [agency, events] of [
      ['test-police', ['record.disclosed']],
      ['test-school', ['operation_encompass.notification']],
    ] as const) {
      await gw.db.asOwner(
        `INSERT INTO webhook_subscriptions (id, agency_id, url, events, created_by, created_at) VALUES ($1, $2, $3, $4, 'test', now() - interval '1 minute')`,
        [randomUUID(), agency, `${base}/${agency}`, [...events]],
      );
    }
    dispatcher = startDispatcher({
      pool: gw.pool,
      ledger: gw.ledger,
      engine: gw.engine,
      keys: gw.keys,
      logger: pino({ level: 'silent' }),
      pseudonymise: gw.pseudonymise,
      intervalMs: 60_000,
      autoStart: false,
      allowInsecureWebhooks: true,
      maxAttempts: 2,
      backoffBaseMs: 5,
      backoffMaxMs: 10,
      timeoutMs: 5000,
    });
  });
  afterAll(async () => {
    await dispatcher.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await gw.close();
  });

  it('keeps every person, record, household, referral, request and case only as its pseudonym', async () => {
    // Persons: the police register a child and an adult; the school and the MASH match the child.
    ids.child = String(
      (
        await ok(
          as('police').post('/v1/persons', {
            identifiers: { nhs_number: '9990000204' },
            localId: 'POL-PRIV-1',
            fields: { name: 'Pia Example', date_of_birth: '2017-06-02' },
          }),
        )
      ).id,
    );
    ids.adult = String((await ok(as('police').post('/v1/persons', { identifiers: { nhs_number: '9990000212' } }))).id);
    for (const who of ['school', 'mash']) await ok(as(who).post('/v1/persons', { identifiers: { nhs_number: '9990000204' } }), 200);

    // A household and its member.
    ids.household = String((await ok(as('police').post('/v1/households', { area: 'Northshire', address: '3 Privacy Row' }))).id);
    ids.membership = String(
      (
        await ok(
          as('police').post(`/v1/households/${ids.household}/members`, {
            personId: ids.child,
            subjectRole: 'child',
            from: '2024-01-01',
          }),
        )
      ).id,
    );

    // A record: a police incident the child was present at (Operation Encompass tells the school).
    const at = new Date(Date.now() - 60_000).toISOString();
    ids.record = String(
      (
        await ok(
          as('police').post('/v1/records', {
            kind: 'incident',
            subjectPersonId: ids.child,
            subjectRole: 'child',
            classification: 'OFFICIAL-SENSITIVE',
            occurredAt: at,
            fields: {
              incident_date: at,
              incident_summary: 'Raised voices; the child was upstairs.',
              children_present: 1,
              child_involvement: ['heard'],
              incident_full_report: 'The full report (synthetic).',
            },
            facts: { child_present_at_incident: true },
          }),
        )
      ).id,
    );

    // Reads: the school reads the record, the child's records and the chronology; the receipts name the record.
    const read = await ok(as('school').get(`/v1/records/${ids.record}?purpose=operation_encompass`), 200);
    expect(read.recordId).toBe(ids.record);
    expect(read.fields).toHaveProperty('incident_date');
    await ok(as('school').get(`/v1/subjects/${ids.child}/records?purpose=operation_encompass`), 200);
    await ok(as('school').get(`/v1/subjects/${ids.child}/chronology?purpose=operation_encompass`), 200);

    // Refused requests with ids in their paths.
    expect((await as('school').get(`/v1/subjects/${ids.child}/records?purpose=gossip`)).status).toBe(400);
    expect((await as('school').get(`/v1/records/${ids.record}?purpose=gossip`)).status).toBe(400);

    // A decision about a case that needs a decider: a referral, then its decision.
    const asked = await ok(
      as('police').post('/v1/decisions', {
        from: { agencyType: 'police' },
        to: { agencyType: 'childrens_social_care', role: 'social_worker' },
        purpose: 'child_protection_enquiry',
        subjectRole: 'child',
        subjectRef: CASE_REFERENCE,
        fields: ['name', 'refuge_address', 'incident_summary'],
        facts: { live_investigation_would_be_prejudiced: true, significant_harm_suspected: true },
      }),
      200,
    );
    ids.referral = String((asked.referral as { id: string }).id);
    await ok(as('manager').post(`/v1/referrals/${ids.referral}/decision`, { decision: 'share', reasons: 'Agreed with the refuge.' }), 200);

    // A request for information from the MASH, answered by the police with the record.
    await gw.db.asOwner(
      `INSERT INTO sharing_agreements (id, title, parties, purposes, starts_on) VALUES ('privacy-isa', 'MASH agreement', ARRAY['test-mash', 'test-police'], ARRAY['mash_triage'], '2025-01-01')`,
    );
    ids.rfi = String(
      (
        await ok(
          as('mash').post('/v1/information-requests', {
            subject: { personId: ids.child },
            subjectRole: 'child',
            purpose: 'mash_triage',
            agencies: ['test-police'],
            fields: ['name', 'incident_date', 'incident_summary'],
            priority: 'amber',
          }),
        )
      ).id,
    );
    const released = await ok(
      as('police').post(`/v1/information-requests/${ids.rfi}/responses`, { answer: 'release', records: [{ recordId: ids.record }] }),
    );
    expect((released.releases as Array<{ recordId: string }>)[0]?.recordId).toBe(ids.record);

    // Messages: the Operation Encompass notification to the school, the access notices to the police.
    await drain();
    const notice = received.find((r) => r.path === '/test-police' && r.body.length > 0);
    expect(notice).toBeDefined();
    const queued = await gw.db.asOwner<{ payload: { recordId: string | null } }>(
      "SELECT payload FROM outbox WHERE kind = 'access_notice' AND target_agency_id = 'test-police'",
    );
    // The agency that holds the record is told which record, by its id (it is theirs).
    expect(queued.map((q) => q.payload.recordId)).toContain(ids.record);
    expect(received.some((r) => r.path === '/test-school')).toBe(true);
    await gw.seal();

    // What the ledger holds, and every checkpoint file outside it: no clear id anywhere.
    const rows = await gw.ledgerRows();
    const ledgerText = JSON.stringify(rows);
    const files = [...filesUnder(exportDir), ...filesUnder(mirrorDir)];
    expect(files.length).toBeGreaterThan(0);
    const fileText = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    const clear = { ...ids, caseReference: CASE_REFERENCE };
    for (const [what, id] of Object.entries(clear)) {
      expect({ what, inLedger: ledgerText.includes(id) }).toEqual({ what, inLedger: false });
      expect({ what, inFiles: fileText.includes(id) }).toEqual({ what, inFiles: false });
    }
    // ... and each is there as its pseudonym, so the entries about it can still be found with the key.
    const withPseudonym = (id: string): number => rows.filter((r) => JSON.stringify(r.payload).includes(gw.pseudonymise(id))).length;
    for (const [what, id] of Object.entries(clear)) {
      if (what === 'adult') continue; // registered only: its registration entry names it by pseudonym, checked below
      expect({ what, entries: withPseudonym(id) > 0 }).toEqual({ what, entries: true });
    }
    expect(withPseudonym(ids.adult)).toBe(1);
    // The auditor's search box (the console's) finds a record's entries by the record id, through its pseudonym.
    const found = await queryLedger(
      gw.pool,
      { anyOf: { subjectPseudonym: gw.pseudonymise(ids.record) } },
      { mac: (body) => gw.pseudonymise.mac('audit-cursor', body), limit: 200 },
    );
    expect(
      found.entries.map(
        (e) => `${e.kind}:${String((e.payload as { view?: string; action?: string }).view ?? (e.payload as { action?: string }).action)}`,
      ),
    ).toEqual(
      expect.arrayContaining([
        'contribution:create_record',
        'disclosure:record',
        'disclosure:subject_records',
        'disclosure:chronology',
        'disclosure:information_request_release',
        'request_refused:undefined',
      ]),
    );
    // Every kind the day wrote was checked.
    expect([...new Set(rows.map((r) => r.kind))]).toEqual(
      expect.arrayContaining([
        'contribution',
        'disclosure',
        'request_refused',
        'decision',
        'referral_decision',
        'information_request',
        'information_response',
        'notification',
      ]),
    );
  });
});
