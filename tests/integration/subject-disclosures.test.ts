/**
 * The subject disclosure report (UK GDPR Art 15(1)(c)): GET /v1/audit/subjects/{ref}/disclosures lists every
 * disclosure of one person's data — records sent through the gateway (by the owning agency, to the agency that
 * asked) and sharing decisions that allowed a practitioner to share — found by pseudonym; auditors and data
 * protection officers only; the report itself is recorded in the ledger.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { syncAgencies } from '../../src/db/registry-sync';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

describe('GET /v1/audit/subjects/{ref}/disclosures', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  let childId: string;
  let decisionEntry: string;
  const as = (who: string) => ({ Authorization: `Bearer ${tokens[who]}` });

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const mint = (agency: string, role: string, scope: string) => gw.issuers.token({ agency, sub: `${role}-1`, role, scope });
    tokens.police = await mint('test-police', 'police_officer', 'records:read records:write decisions');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead', 'records:read records:write');
    tokens.auditor = await mint('test-csc', 'auditor', 'audit:read');
    tokens.dpo = await mint('test-police', 'data_protection_officer', 'audit:read');
    const post = (path: string, who: string, body: object) =>
      request(gw.app).post(path).set(as(who)).set('Idempotency-Key', randomUUID()).send(body);
    childId = (
      await post('/v1/persons', 'police', { identifiers: { nhs_number: '9990000018' }, fields: { name: 'Amy Example' } }).expect(201)
    ).body.id;
    const at = new Date(Date.now() - 60_000).toISOString();
    await post('/v1/records', 'police', {
      kind: 'incident',
      subjectPersonId: childId,
      subjectRole: 'child',
      classification: 'OFFICIAL-SENSITIVE',
      occurredAt: at,
      fields: { incident_date: at, child_involvement: ['heard'], incident_full_report: 'Full report text' },
      facts: { child_present_at_incident: true },
    }).expect(201);
    await post('/v1/persons', 'school', { identifiers: { nhs_number: '9990000018' } }).expect(200);
    await request(gw.app).get(`/v1/subjects/${childId}/records?purpose=operation_encompass`).set(as('school')).expect(200);
    const decided = await request(gw.app)
      .post('/v1/decisions')
      .set(as('police'))
      .send({
        from: { agencyType: 'police' },
        to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
        purpose: 'operation_encompass',
        subjectRole: 'child',
        subjectRef: 'NP-2026-DISC-1',
        fields: ['name', 'incident_date'],
        facts: { child_present_at_incident: true, hours_since_incident: 0 },
      })
      .expect(200);
    decisionEntry = decided.body.auditEntryId;
    // A refusal about the same case is not a disclosure.
    await request(gw.app)
      .post('/v1/decisions')
      .set(as('police'))
      .send({
        from: { agencyType: 'police' },
        to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
        purpose: 'operation_encompass',
        subjectRole: 'child',
        subjectRef: 'NP-2026-DISC-1',
        fields: ['incident_full_report'],
        facts: { child_present_at_incident: true, hours_since_incident: 5 },
      })
      .expect(200);
  });
  afterAll(async () => {
    await gw.close();
  });

  it('by person id: the records the school was sent, by whom, which fields, why — and the report is recorded', async () => {
    const res = await request(gw.app).get(`/v1/audit/subjects/${childId}/disclosures`).set(as('auditor')).expect(200);
    expect(res.body.subject).toMatch(/^hmac-sha256:/);
    expect(res.body.disclosures).toHaveLength(1);
    const d = res.body.disclosures[0];
    expect(d).toEqual(
      expect.objectContaining({
        kind: 'disclosure',
        status: 'disclosed',
        purpose: 'operation_encompass',
        by: expect.objectContaining({ agencyId: 'test-police' }),
        to: expect.objectContaining({ agencyId: 'test-school', agencyType: 'school', role: 'designated_safeguarding_lead' }),
      }),
    );
    expect(d.fields).toEqual(expect.arrayContaining(['incident_date', 'child_involvement']));
    expect(d.fields).not.toContain('incident_full_report');
    expect(d.rules.length).toBeGreaterThan(0);
    const recorded = await gw.db.asOwner<{ kind: string; payload: Record<string, unknown> }>(
      'SELECT kind, payload FROM audit_ledger WHERE entry_id = $1',
      [res.headers['x-audit-entry-id']],
    );
    expect(recorded).toEqual([
      { kind: 'audit_read', payload: expect.objectContaining({ view: 'subject_disclosures', subject: res.body.subject, returned: 1 }) },
    ]);
    expect(JSON.stringify(recorded)).not.toContain(childId);
  });

  it('by case reference: decisions that allowed sharing, not the refusal; a data protection officer may ask too', async () => {
    const res = await request(gw.app).get('/v1/audit/subjects/NP-2026-DISC-1/disclosures').set(as('dpo')).expect(200);
    expect(res.body.disclosures.map((d: { entryId: string; status: string }) => [d.entryId, d.status])).toEqual([
      [decisionEntry, 'allowed'],
    ]);
    expect(res.body.disclosures[0].fields).toEqual(['name', 'incident_date']);
    expect((await request(gw.app).get('/v1/audit/subjects/NP-NOBODY/disclosures').set(as('auditor')).expect(200)).body.disclosures).toEqual(
      [],
    );
  });

  it('refuses practitioners (403, recorded) and a malformed reference (400)', async () => {
    const refused = await request(gw.app).get(`/v1/audit/subjects/${childId}/disclosures`).set(as('school'));
    expect(refused.status).toBe(403);
    const rows = await gw.db.asOwner<{ outcome: string }>(
      "SELECT outcome FROM audit_ledger WHERE kind = 'request_refused' AND request_id = $1",
      [refused.headers['x-request-id']],
    );
    expect(rows).toEqual([{ outcome: 'forbidden' }]);
    expect((await request(gw.app).get('/v1/audit/subjects/%3Cscript%3E/disclosures').set(as('auditor'))).status).toBe(400);
  });
});
