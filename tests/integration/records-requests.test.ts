/**
 * Reading records through the sharing policy (GET /v1/records/{id}, GET /v1/subjects/{personId}/records):
 * real tokens, the shipped policy catalogue, real PostgreSQL and the real ledger. Each test names the invariant
 * (DEVELOPERS.md) it proves.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { contentHash } from '../../src/audit/entry';
import { syncAgencies } from '../../src/db/registry-sync';
import { PURPOSES } from '../../src/vocabulary/vocabulary';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { inTimeIncidentAt } from '../support/school-day';

const SCOPES = 'records:read records:write';
const FULL_REPORT = 'Officers attended at 22:10; the full crime report text (synthetic).';
const REFUGE_ADDRESS = 'Flat 3, 9 Alder Yard, Testshire TS1 7ZZ';
const HOUR = 60 * 60 * 1000;

type Item = Record<string, unknown> & {
  recordId: string;
  fields: Record<string, unknown>;
  auditEntryId: string;
  receipt: { seq: number; entryHash: string };
};

describe('records exchange: requests', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  let childId: string;
  let motherId: string;
  let perpetratorId: string;
  let incidentId: string;
  let schoolNoteId: string;
  // Ten hours ago, or later if a school day has started since: the Operation Encompass notification is in time.
  const incidentAt = inTimeIncidentAt(10).toISOString();

  const post = (path: string, who: string, body: unknown) =>
    request(gw.app)
      .post(path)
      .set('Authorization', `Bearer ${tokens[who]}`)
      .set('Idempotency-Key', randomUUID())
      .send(body as object);
  const get = (path: string, who: string) => request(gw.app).get(path).set('Authorization', `Bearer ${tokens[who]}`);
  const ok = async <T>(res: Promise<request.Response> | request.Response, status = 201): Promise<T> => {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body as T;
  };
  /** What was sent about one record, exactly as the ledger hashed it. */
  const sentContent = (item: Item): Record<string, unknown> => {
    const { auditEntryId: _id, receipt: _receipt, ...content } = item;
    return content;
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const mint = (agency: string, role: string) => gw.issuers.token({ agency, sub: `${role}-1`, role, scope: SCOPES });
    tokens.police = await mint('test-police', 'police_officer');
    tokens.policeDpo = await mint('test-police', 'data_protection_officer');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead');
    tokens.health = await mint('test-health-visiting', 'health_visitor');
    tokens.csc = await mint('test-csc', 'social_worker');
    tokens.mash = await mint('test-mash', 'mash_analyst');
    tokens.refuge = await mint('test-refuge', 'practitioner');
    tokens.gp = await mint('test-gp', 'gp');

    childId = (
      await ok<{ id: string }>(
        post('/v1/persons', 'police', {
          identifiers: { nhs_number: '9990000018' },
          fields: { name: 'Amy Example', date_of_birth: '2019-02-14', current_address: '14 Example Close' },
        }),
      )
    ).id;
    incidentId = (
      await ok<{ id: string }>(
        post('/v1/records', 'police', {
          kind: 'incident',
          subjectPersonId: childId,
          subjectRole: 'child',
          classification: 'OFFICIAL-SENSITIVE',
          occurredAt: incidentAt,
          fields: {
            incident_date: incidentAt,
            incident_summary: 'Shouting and a broken window; both children at home.',
            children_present: 2,
            child_involvement: ['saw', 'heard'],
            incident_full_report: FULL_REPORT,
            offence_type: 'Criminal damage (domestic)',
            arrest_made: true,
          },
          facts: { child_present_at_incident: true },
        }),
      )
    ).id;
    for (const who of ['school', 'health', 'csc', 'mash'])
      await ok(post('/v1/persons', who, { identifiers: { nhs_number: '9990000018' } }), 200);
    schoolNoteId = (
      await ok<{ id: string }>(
        post('/v1/records', 'school', {
          kind: 'school_note',
          subjectPersonId: childId,
          subjectRole: 'child',
          classification: 'OFFICIAL-SENSITIVE',
          occurredAt: new Date(Date.now() - 48 * HOUR).toISOString(),
          fields: { attendance: '86% this term', wellbeing_concerns: 'Withdrawn; says she is scared at home.' },
        }),
      )
    ).id;

    // The adult victim is in a refuge; the refuge holds its address. The police know her and the alleged perpetrator.
    motherId = (
      await ok<{ id: string }>(
        post('/v1/persons', 'refuge', {
          identifiers: { nhs_number: '9990000034' },
          fields: { name: 'Beth Example', refuge_address: REFUGE_ADDRESS },
        }),
      )
    ).id;
    await ok(
      post('/v1/records', 'refuge', {
        kind: 'referral',
        subjectPersonId: motherId,
        subjectRole: 'adult_victim',
        classification: 'OFFICIAL-SENSITIVE',
        occurredAt: new Date(Date.now() - 2 * HOUR).toISOString(),
        fields: { marac_referral_status: 'Refuge keyworker referring to MARAC', risk_factors: ['strangulation', 'fled with children'] },
        facts: { imminent_risk_to_life: true, dash_risk_level: 'high', marac_referred: true },
      }),
    );
    await ok(post('/v1/persons', 'police', { identifiers: { nhs_number: '9990000034' } }), 200);
    perpetratorId = (
      await ok<{ id: string }>(post('/v1/persons', 'police', { identifiers: { pnc_id: '09/481516Q' }, fields: { name: 'Carl Example' } }))
    ).id;
    await ok(
      post('/v1/records', 'police', {
        kind: 'incident',
        subjectPersonId: perpetratorId,
        subjectRole: 'perpetrator',
        classification: 'OFFICIAL-SENSITIVE',
        occurredAt: incidentAt,
        fields: { offence_type: 'Criminal damage (domestic)', arrest_made: true },
      }),
    );
  });
  afterAll(async () => {
    await gw.close();
  });

  it('gives police, school and health different field sets of the same record, exactly as the policies say (invariant 3)', async () => {
    const police = (await get(`/v1/records/${incidentId}?purpose=crime_prevention_detection`, 'police')).body as Item;
    const school = (await get(`/v1/records/${incidentId}?purpose=operation_encompass`, 'school')).body as Item;
    const health = (await get(`/v1/records/${incidentId}?purpose=health_care`, 'health')).body as Item;

    // The police hold the record: they read it back whole (not a disclosure), with its version for If-Match.
    expect(police).toEqual(expect.objectContaining({ access: 'own_record', decision: 'permit', version: 1, rules: ['own-agency-record'] }));
    expect(Object.keys(police.fields).sort()).toEqual([
      'arrest_made',
      'child_involvement',
      'children_present',
      'current_address',
      'date_of_birth',
      'incident_date',
      'incident_full_report',
      'incident_summary',
      'name',
      'nhs_number',
      'offence_type',
    ]);

    // Operation Encompass: the school's designated safeguarding lead gets the notification fields, nothing more.
    expect(school).toEqual(
      expect.objectContaining({
        access: 'policy',
        decision: 'permit_partial',
        rules: expect.arrayContaining(['operation-encompass-police-to-school']),
      }),
    );
    expect(Object.keys(school.fields).sort()).toEqual([
      'child_involvement',
      'children_present',
      'date_of_birth',
      'incident_date',
      'incident_summary',
      'name',
    ]);
    expect(school.fields.name).toBe('Amy Example');
    const withheld = school.withheldFields as Array<{ field: string; code: string; reason: string; rule?: string }>;
    expect(withheld.find((w) => w.field === 'incident_full_report')).toEqual(
      expect.objectContaining({ code: 'denied_by_rule', rule: 'deny-dash-and-full-report-to-education' }),
    );
    expect(withheld.map((w) => w.field).sort()).toEqual([
      'arrest_made',
      'current_address',
      'incident_full_report',
      'nhs_number',
      'offence_type',
    ]);

    // A health visitor asking for direct care: no rule lets the police share this with health for that.
    expect(health).toEqual(expect.objectContaining({ decision: 'deny', fields: {} }));
    expect(health).not.toHaveProperty('occurredAt');
    expect((health.withheldFields as unknown[]).length).toBe(11);

    // Exactly what the engine decides for the same question, built from the stored record.
    const expected = gw.engine.decide({
      from: { agencyType: 'police' },
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      purpose: 'operation_encompass',
      subjectRole: 'child',
      fields: [
        'incident_date',
        'incident_summary',
        'children_present',
        'child_involvement',
        'incident_full_report',
        'offence_type',
        'arrest_made',
        'current_address',
        'date_of_birth',
        'name',
        'nhs_number',
      ],
      facts: { child_present_at_incident: true, hours_since_incident: 10, agreement_in_force: false, before_next_school_day_start: true },
    });
    expect(Object.keys(school.fields).sort()).toEqual([...expected.permittedFields].sort());
    const byFieldSet = (bases: ReadonlyArray<{ fields: readonly string[] }>) => bases.map((b) => ({ ...b, fields: [...b.fields].sort() }));
    expect(byFieldSet(school.lawfulBasis as Array<{ fields: string[] }>)).toEqual(byFieldSet(expected.lawfulBasis));
  });

  it('never gives a school the full police report, whatever the purpose or the route', async () => {
    const purposes = PURPOSES.filter((p) => p !== 'audit');
    for (const purpose of purposes) {
      for (const path of [`/v1/records/${incidentId}`, `/v1/subjects/${childId}/records`, `/v1/subjects/${childId}/chronology`]) {
        const res = await get(`${path}?purpose=${purpose}`, 'school');
        expect(res.status).toBe(200);
        expect(res.text).not.toContain(FULL_REPORT);
        expect(res.text).not.toContain('"incident_full_report":"');
      }
    }
  });

  it('records one ledger entry per record BEFORE answering, naming exactly the fields disclosed, with the hash of what was sent (invariants 1, 3)', async () => {
    const res = await get(`/v1/subjects/${childId}/records?purpose=operation_encompass`, 'school');
    expect(res.status).toBe(200);
    const items = res.body.records as Item[];
    expect(items.map((i) => i.recordId).sort()).toEqual([incidentId, schoolNoteId].sort());
    for (const item of items) {
      const rows = await gw.db.asOwner<{
        kind: string;
        outcome: string;
        agency_id: string;
        purpose: string;
        rules: string[];
        request_id: string;
        payload: Record<string, unknown>;
        seq: string;
        entry_hash: string;
      }>('SELECT * FROM audit_ledger WHERE entry_id = $1', [item.auditEntryId]);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row).toEqual(
        expect.objectContaining({
          kind: 'disclosure',
          outcome: item.decision,
          agency_id: 'test-school',
          purpose: 'operation_encompass',
          request_id: res.headers['x-request-id'],
        }),
      );
      expect(Number(row.seq)).toBe(item.receipt.seq);
      expect(row.entry_hash).toBe(item.receipt.entryHash);
      expect(row.payload.recordId).toBe(gw.pseudonymise(item.recordId)); // the record by pseudonym, never its id
      expect(row.payload.fieldsDisclosed).toEqual(Object.keys(item.fields));
      expect((row.payload.withheldFields as Array<{ field: string }>).map((w) => w.field)).toEqual(
        (item.withheldFields as Array<{ field: string }>).map((w) => w.field),
      );
      expect(row.rules).toEqual(item.rules);
      expect(row.payload.contentHash).toBe(contentHash(sentContent(item)));
      // Names and hashes only: no value sent about the record is in its ledger entry.
      for (const value of Object.values(item.fields))
        if (typeof value === 'string') expect(JSON.stringify(row.payload)).not.toContain(value);
    }
  });

  it('never lets a refuge address reach anyone acting for the alleged perpetrator', async () => {
    // Without anyone behind the request, the police may learn the refuge address: a life is at risk.
    const emergency = await get(`/v1/subjects/${motherId}/records?purpose=crime_prevention_detection`, 'police');
    expect(emergency.status).toBe(200);
    const refugeItem = (emergency.body.records as Item[]).find((i) => (i.owningAgency as { id: string }).id === 'test-refuge');
    expect(refugeItem?.fields.refuge_address).toBe(REFUGE_ADDRESS);
    expect(refugeItem?.rules).toContain('emergency-risk-to-life-to-police');

    // The same request on behalf of the man recorded as the perpetrator: nothing at all, and never the address.
    for (const [who, purpose] of [
      ['police', 'crime_prevention_detection'],
      ['policeDpo', 'subject_access'],
      ['police', 'child_protection_enquiry'],
    ] as const) {
      for (const view of ['records', 'chronology']) {
        const res = await get(`/v1/subjects/${motherId}/${view}?purpose=${purpose}&onBehalfOf=${perpetratorId}`, who);
        expect(res.status).toBe(200);
        expect(res.text).not.toContain(REFUGE_ADDRESS);
        expect(res.text).not.toContain('Alder Yard');
      }
    }
    const asked = await get(`/v1/subjects/${motherId}/records?purpose=subject_access&onBehalfOf=${perpetratorId}`, 'policeDpo');
    const refuge = (asked.body.records as Item[]).find((i) => (i.owningAgency as { id: string }).id === 'test-refuge')!;
    expect(refuge.fields).toEqual({});
    expect(
      (refuge.withheldFields as Array<{ field: string; code: string; rule?: string }>).find((w) => w.field === 'refuge_address'),
    ).toEqual(expect.objectContaining({ code: 'denied_by_rule', rule: 'deny-victim-address-to-alleged-perpetrator' }));
    const [entry] = await gw.db.asOwner<{ payload: { facts: Record<string, unknown>; onBehalfOf: string } }>(
      'SELECT payload FROM audit_ledger WHERE entry_id = $1',
      [refuge.auditEntryId],
    );
    expect(entry?.payload.facts).toEqual(expect.objectContaining({ requester_is_alleged_perpetrator: true, requester_is_subject: false }));
    expect(entry?.payload.onBehalfOf).toMatch(/^hmac-sha256:/);
  });

  it('stops sharing that depends on a data sharing agreement once it has lapsed, and says so (invariants 2, 4)', async () => {
    await gw.db.asOwner(
      `INSERT INTO sharing_agreements (id, title, parties, purposes, starts_on, ends_on, review_on, dpia_reference)
       VALUES ('test-mash-isa', 'Testshire MASH information sharing agreement', ARRAY['test-school', 'test-mash'], ARRAY['mash_triage'], '2024-01-01', '2099-12-31', '2099-01-01', 'TS-DPIA-1')`,
    );
    const inForce = await get(`/v1/records/${schoolNoteId}?purpose=mash_triage`, 'mash');
    expect(inForce.status).toBe(200);
    expect(inForce.body.decision).toBe('permit');
    expect(inForce.body.fields.wellbeing_concerns).toBe('Withdrawn; says she is scared at home.');
    expect(inForce.body.agreement).toEqual(expect.objectContaining({ status: 'in_force', id: 'test-mash-isa' }));

    await gw.db.asOwner(`UPDATE sharing_agreements SET ends_on = '2026-01-31', review_on = '2025-10-01' WHERE id = 'test-mash-isa'`);
    const lapsed = await get(`/v1/records/${schoolNoteId}?purpose=mash_triage`, 'mash');
    expect(lapsed.status).toBe(200);
    expect(lapsed.body.decision).toBe('deny');
    expect(lapsed.body.fields).toEqual({});
    expect(lapsed.text).not.toContain('scared');
    expect(lapsed.body.reasons[0]).toMatch(
      /"Testshire MASH information sharing agreement" \(test-mash-isa\).* ended on 2026-01-31, so it has lapsed/,
    );
    expect(lapsed.body.agreement).toEqual(expect.objectContaining({ status: 'lapsed', endsOn: '2026-01-31' }));
    const [row] = await gw.db.asOwner<{ payload: { agreement: unknown; facts: Record<string, unknown> } }>(
      'SELECT payload FROM audit_ledger WHERE entry_id = $1',
      [lapsed.body.auditEntryId],
    );
    expect(row?.payload.agreement).toEqual({ status: 'lapsed', id: 'test-mash-isa' });
    expect(row?.payload.facts.agreement_in_force).toBe(false);
  });

  it('never takes agreement_in_force (or any fact) from the caller', async () => {
    const res = await get(`/v1/records/${schoolNoteId}?purpose=mash_triage&agreement_in_force=true`, 'mash');
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual(expect.objectContaining({ pointer: '/agreement_in_force' }));
  });

  it.each([
    ['no purpose', '', 'invalid_request', '/purpose'],
    ['an unknown purpose', '?purpose=gossip', 'unknown_word', '/purpose'],
    ['the audit purpose', '?purpose=audit', 'invalid_request', '/purpose'],
  ])('refuses %s with 400 problem+json, recorded in the ledger (invariants 2, 5)', async (_what, query, code, pointer) => {
    const res = await get(`/v1/subjects/${childId}/records${query}`, 'school');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe(code);
    expect(res.body.errors[0].pointer).toBe(pointer);
    const rows = await gw.db.asOwner<{ kind: string }>('SELECT kind FROM audit_ledger WHERE request_id = $1', [
      res.headers['x-request-id'],
    ]);
    expect(rows).toEqual([{ kind: 'request_refused' }]);
  });

  it('does not reveal whether a person or record exists to an agency that does not know them (IDOR)', async () => {
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    for (const [real, fake] of [
      [`/v1/subjects/${childId}/records`, `/v1/subjects/${randomUUID()}/records`],
      [`/v1/subjects/${childId}/chronology`, `/v1/subjects/${randomUUID()}/chronology`],
      [`/v1/records/${incidentId}`, `/v1/records/${randomUUID()}`],
      [`/v1/records/${incidentId}`, '/v1/records/not-a-uuid'],
    ] as const) {
      const a = await get(`${real}?purpose=health_care`, 'gp');
      const b = await get(`${fake}?purpose=health_care`, 'gp');
      expect(a.status).toBe(404);
      expect(b.status).toBe(404);
      expect(strip(a.body)).toEqual(strip(b.body));
      expect(a.text).not.toContain('Amy');
    }
    // Acting "on behalf of" someone the agency does not know is refused the same way.
    const stranger = await get(`/v1/subjects/${childId}/records?purpose=operation_encompass&onBehalfOf=${randomUUID()}`, 'school');
    expect(stranger.status).toBe(404);
  });

  it('needs the records:read scope', async () => {
    const noScope = await gw.issuers.token({ agency: 'test-school', role: 'designated_safeguarding_lead', scope: 'decisions' });
    const res = await request(gw.app)
      .get(`/v1/records/${incidentId}?purpose=operation_encompass`)
      .set('Authorization', `Bearer ${noScope}`);
    expect(res.status).toBe(403);
  });

  it('sends nothing when the ledger cannot record the disclosure: 503 and no record values (invariant 1)', async () => {
    await gw.db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
    try {
      const before = (await gw.ledgerRows()).length;
      for (const path of [`/v1/records/${incidentId}`, `/v1/subjects/${childId}/records`, `/v1/subjects/${childId}/chronology`]) {
        const res = await get(`${path}?purpose=operation_encompass`, 'school');
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.body.code).toBe('audit_unavailable');
        for (const leaked of ['fields', 'records', 'items', 'withheldFields', 'signals', 'auditEntryId'])
          expect(res.body).not.toHaveProperty(leaked);
        for (const value of ['Amy Example', '2019-02-14', 'Shouting', 'incident_date']) expect(res.text).not.toContain(value);
      }
      expect((await gw.ledgerRows()).length).toBe(before);
    } finally {
      await gw.db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
    }
    expect((await get(`/v1/records/${incidentId}?purpose=operation_encompass`, 'school')).status).toBe(200);
  });
});
