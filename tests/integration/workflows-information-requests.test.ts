/**
 * Requests for information (src/workflows/information-requests.ts, information-responses.ts) through the real HTTP
 * app and PostgreSQL: a MASH asks three agencies — one answers (each release decided by policy and recorded as a
 * disclosure), one declines, one goes overdue; the requester's combined picture; the Cafcass safeguarding checks.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Pool } from 'pg';
import { syncAgencies } from '../../src/db/registry-sync';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { flagOverdueInformationRequests } from '../../src/workflows/information-requests';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const SCOPES = 'records:read records:write decisions';
const HOUR = 3600_000;

describe('workflows: requests for information', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  let childId: string;
  let incidentId: string;
  let planId: string;
  let rfiId: string;

  const as = (who: string) => ({
    get: (path: string) => request(gw.app).get(path).set('Authorization', `Bearer ${tokens[who]}`),
    post: (path: string, body: unknown) =>
      request(gw.app)
        .post(path)
        .set('Authorization', `Bearer ${tokens[who]}`)
        .set('Idempotency-Key', randomUUID())
        .send(body as object),
  });
  const created = async (res: Promise<request.Response>, status = 201): Promise<{ id: string }> => {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body as { id: string };
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const mint = (agency: string, role: string) => gw.issuers.token({ agency, sub: `${role}-1`, role, scope: SCOPES });
    tokens.mash = await mint('test-mash', 'mash_analyst');
    tokens.police = await mint('test-police', 'police_officer');
    tokens.csc = await mint('test-csc', 'social_worker');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead');
    tokens.gp = await mint('test-gp', 'gp');
    tokens.cafcass = await mint('test-cafcass', 'family_court_adviser');

    childId = (
      await created(
        as('police').post('/v1/persons', {
          identifiers: { nhs_number: '9990000026' },
          fields: { name: 'Dee Example', date_of_birth: '2018-05-01' },
        }),
      )
    ).id;
    for (const who of ['mash', 'csc', 'school'])
      await created(as(who).post('/v1/persons', { identifiers: { nhs_number: '9990000026' } }), 200);
    const at = new Date(Date.now() - 30 * HOUR).toISOString();
    incidentId = (
      await created(
        as('police').post('/v1/records', {
          kind: 'incident',
          subjectPersonId: childId,
          subjectRole: 'child',
          classification: 'OFFICIAL-SENSITIVE',
          occurredAt: at,
          fields: {
            incident_date: at,
            incident_summary: 'Raised voices; a neighbour called the police.',
            children_present: 1,
            incident_full_report: 'The full report (synthetic).',
            dash_risk_level: 'medium',
          },
          facts: { child_present_at_incident: true },
        }),
      )
    ).id;
    planId = (
      await created(
        as('csc').post('/v1/records', {
          kind: 'plan_status',
          subjectPersonId: childId,
          subjectRole: 'child',
          classification: 'OFFICIAL-SENSITIVE',
          occurredAt: at,
          fields: { child_protection_plan_status: 'On a plan since March (synthetic)' },
        }),
      )
    ).id;
    await gw.db.asOwner(
      `INSERT INTO sharing_agreements (id, title, parties, purposes, starts_on) VALUES ('mash-isa', 'MASH information sharing agreement', ARRAY['test-mash', 'test-police', 'test-csc', 'test-school'], ARRAY['mash_triage'], '2025-01-01')`,
    );
    for (const agency of ['test-mash', 'test-police', 'test-csc', 'test-school']) {
      await gw.db.asOwner(
        `INSERT INTO webhook_subscriptions (id, agency_id, url, events, created_by) VALUES ($1, $2, $3, ARRAY['information_request.received', 'information_request.answered', 'information_request.overdue'], 'test')`,
        [randomUUID(), agency, `https://hooks.example/${agency}`],
      );
    }
  });
  afterAll(() => gw.close());

  it('asks three agencies with a red priority (4 hours) and tells each of them', async () => {
    const res = await as('mash').post('/v1/information-requests', {
      subject: { personId: childId },
      subjectRole: 'child',
      purpose: 'mash_triage',
      agencies: ['test-police', 'test-csc', 'test-school'],
      fields: ['name', 'incident_date', 'incident_summary', 'dash_risk_level', 'child_protection_plan_status'],
      priority: 'red',
    });
    expect(res.status).toBe(201);
    rfiId = res.body.id;
    expect(res.headers.location).toBe(`/v1/information-requests/${rfiId}`);
    const hours = (new Date(res.body.deadline as string).getTime() - Date.now()) / HOUR;
    expect(hours).toBeGreaterThan(3.9);
    expect(hours).toBeLessThanOrEqual(4);
    expect(res.body.agencies.map((a: { status: string }) => a.status)).toEqual(['awaiting', 'awaiting', 'awaiting']);
    const entry = (await gw.ledgerRows()).find((e) => e.entry_id === res.body.ledgerEntryId) as {
      kind: string;
      payload: { agenciesAsked: string[] };
    };
    expect(entry.kind).toBe('information_request');
    expect(entry.payload.agenciesAsked).toEqual(['test-police', 'test-csc', 'test-school']);
    const queued = await gw.db.asOwner<{ target_agency_id: string }>(
      `SELECT target_agency_id FROM outbox WHERE kind = 'information_request_received' ORDER BY 1`,
    );
    expect(queued.map((q) => q.target_agency_id)).toEqual(['test-csc', 'test-police', 'test-school']);
  });

  it('refuses a request naming an unknown agency, from an agency that does not gather, or about a person it does not know', async () => {
    const bad = await as('mash').post('/v1/information-requests', {
      subject: { personId: childId },
      subjectRole: 'child',
      purpose: 'mash_triage',
      agencies: ['nowhere-agency'],
      fields: ['name'],
      priority: 'green',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({ pointer: '/agencies/0' });
    const school = await as('school').post('/v1/information-requests', {
      subject: { personId: childId },
      subjectRole: 'child',
      purpose: 'mash_triage',
      agencies: ['test-police'],
      fields: ['name'],
      priority: 'green',
    });
    expect(school.status).toBe(403);
    const stranger = await as('mash').post('/v1/information-requests', {
      subject: { personId: randomUUID() },
      subjectRole: 'child',
      purpose: 'mash_triage',
      agencies: ['test-police'],
      fields: ['name'],
      priority: 'green',
    });
    expect(stranger.status).toBe(404);
  });

  it('shows the asked agency its inbox (only its own status) and lets it release records, each decided by policy and recorded', async () => {
    const inbox = await as('police').get('/v1/information-requests').expect(200);
    expect(inbox.body.view).toBe('asked_of_me');
    const item = inbox.body.informationRequests.find((r: { id: string }) => r.id === rfiId);
    expect(item.yourPart).toBe('asked');
    expect(item.agencies.map((a: { agencyId: string }) => a.agencyId)).toEqual(['test-police']);

    // A record the police do not hold cannot be released by them.
    const notTheirs = await as('police').post(`/v1/information-requests/${rfiId}/responses`, {
      answer: 'release',
      records: [{ recordId: planId }],
    });
    expect(notTheirs.status).toBe(400);

    const res = await as('police').post(`/v1/information-requests/${rfiId}/responses`, {
      answer: 'release',
      records: [{ recordId: incidentId }],
    });
    expect(res.status).toBe(201);
    const release = res.body.releases[0];
    expect(release.recordId).toBe(incidentId);
    expect(release.fieldsReleased).toEqual(expect.arrayContaining(['incident_summary', 'dash_risk_level', 'name']));
    // Only the fields wanted: the full report was never asked for, so it is not even considered.
    expect(release.fieldsReleased).not.toContain('incident_full_report');
    const entries = await gw.ledgerRows();
    const disclosure = entries.find((e) => e.entry_id === release.auditEntryId) as { kind: string; payload: Record<string, unknown> };
    expect(disclosure.kind).toBe('disclosure');
    // The request and the record by pseudonym only (the release above names the record to its recipient).
    expect(disclosure.payload).toMatchObject({
      view: 'information_request_release',
      informationRequestId: gw.pseudonymise(rfiId),
      recordId: gw.pseudonymise(incidentId),
    });
    expect(JSON.stringify(disclosure.payload)).not.toContain(incidentId);
    expect(JSON.stringify(disclosure.payload)).not.toContain('neighbour');
    expect(entries.find((e) => e.entry_id === res.body.auditEntryId)).toMatchObject({ kind: 'information_response', outcome: 'answered' });
    const queued = await gw.db.asOwner(`SELECT target_agency_id FROM outbox WHERE kind = 'information_request_answered'`);
    expect(queued).toEqual([{ target_agency_id: 'test-mash' }]);
    const twice = await as('police').post(`/v1/information-requests/${rfiId}/responses`, { answer: 'decline', reason: 'Already answered' });
    expect(twice.status).toBe(409);
  });

  it('lets an asked agency decline with a reason, and flags the one that has not answered as overdue', async () => {
    await as('csc')
      .post(`/v1/information-requests/${rfiId}/responses`, {
        answer: 'decline',
        reason: 'Open section 47 enquiry: speak to the allocated social worker.',
      })
      .expect(201);
    await gw.db.asOwner(
      `UPDATE information_request_targets SET deadline = now() - interval '5 minutes' WHERE request_id = $1 AND agency_id = 'test-school'`,
      [rfiId],
    );
    const pool = new Pool({ connectionString: gw.db.appUrl, max: 2 });
    const ledger = new PgAuditLedger(pool);
    try {
      expect(await flagOverdueInformationRequests({ pool, ledger, pseudonymise: gw.pseudonymise })).toBe(1);
      expect(await flagOverdueInformationRequests({ pool, ledger, pseudonymise: gw.pseudonymise })).toBe(0);
    } finally {
      await ledger.close();
      await pool.end();
    }
    const status = await as('mash').get(`/v1/information-requests/${rfiId}`).expect(200);
    const byAgency = Object.fromEntries(status.body.agencies.map((a: { agencyId: string; status: string }) => [a.agencyId, a.status]));
    expect(byAgency).toEqual({ 'test-csc': 'declined', 'test-police': 'answered', 'test-school': 'overdue' });
    expect(status.body).toMatchObject({ status: 'open', overdue: true, yourPart: 'requester' });
    expect(status.body.agencies.find((a: { agencyId: string }) => a.agencyId === 'test-csc').declineReason).toMatch(/section 47/);
    const overdue = await gw.db.asOwner<{ target_agency_id: string }>(
      `SELECT target_agency_id FROM outbox WHERE kind = 'information_request_overdue' ORDER BY 1`,
    );
    expect(overdue.map((o) => o.target_agency_id)).toEqual(['test-mash', 'test-school']);
    const listed = await as('mash').get('/v1/information-requests?view=asked_by_me&status=overdue').expect(200);
    expect(listed.body.informationRequests.map((r: { id: string }) => r.id)).toEqual([rfiId]);
  });

  it('gives the requester one combined, policy-filtered picture, recorded per record before it is sent; nobody else', async () => {
    const res = await as('mash').get(`/v1/information-requests/${rfiId}/picture`).expect(200);
    expect(res.body.items).toHaveLength(1);
    const [item] = res.body.items;
    expect(item.recordId).toBe(incidentId);
    expect(item.fields.incident_summary).toBe('Raised voices; a neighbour called the police.');
    expect(item.fields.incident_full_report).toBeUndefined();
    const entry = (await gw.ledgerRows()).find((e) => e.entry_id === item.auditEntryId) as { kind: string; payload: { view: string } };
    expect(entry).toMatchObject({ kind: 'disclosure', payload: { view: 'information_request_picture' } });
    await as('police').get(`/v1/information-requests/${rfiId}/picture`).expect(404);
    await as('gp').get(`/v1/information-requests/${rfiId}`).expect(404);
  });

  it('makes the Cafcass safeguarding checks from the template: police and local authority, family_court_safeguarding, the configured deadline', async () => {
    const res = await as('cafcass').post('/v1/information-requests', {
      template: 'cafcass_safeguarding_checks',
      subject: { caseReference: 'FC26P00123' },
      subjectRole: 'child',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      purpose: 'family_court_safeguarding',
      template: 'cafcass_safeguarding_checks',
      facts: { court_proceedings_active: true },
    });
    expect(res.body.agencies.map((a: { agencyId: string }) => a.agencyId).sort()).toEqual(['test-csc', 'test-police']);
    expect(Math.round((new Date(res.body.deadline as string).getTime() - Date.now()) / HOUR)).toBe(240);
    const hearing = new Date(Date.now() + 48 * HOUR).toISOString();
    const soon = await as('cafcass').post('/v1/information-requests', {
      template: 'cafcass_safeguarding_checks',
      subject: { caseReference: 'FC26P00124' },
      subjectRole: 'child',
      firstHearingAt: hearing,
    });
    expect(soon.body.deadline).toBe(hearing);
    const notCafcass = await as('mash').post('/v1/information-requests', {
      template: 'cafcass_safeguarding_checks',
      subject: { caseReference: 'FC26P00125' },
      subjectRole: 'child',
    });
    expect(notCafcass.status).toBe(403);
  });
});
