/**
 * Attempts to get more than the sharing policy allows, through the real gateway: real signed tokens, the shipped
 * policy catalogue, real PostgreSQL. Each attempt gets exactly its status, nothing beyond what is permitted leaves,
 * and the attempt is in the ledger (found by the X-Request-Id of the answer).
 * Invariants 2 (fail closed), 3 (least data) and 4 (every deny says why).
 */
import request, { type Response } from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

/** What Operation Encompass lets the police tell a school's designated safeguarding lead (policies/operation-encompass.yaml). */
const ENCOMPASS_FIELDS = ['name', 'date_of_birth', 'incident_date', 'incident_summary', 'children_present', 'child_involvement'];

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-004321',
  fields: ENCOMPASS_FIELDS,
  // hours_since_incident 0: the next school day cannot have started since, so the notification is in time whenever the test runs.
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

const DECISION_MEMBERS = [
  'decision',
  'permittedFields',
  'withheldFields',
  'rules',
  'lawfulBasis',
  'reasons',
  'mustRecord',
  'auditEntryId',
  'receipt',
  'entries',
];

let gw: TestGateway;
let police: string;

beforeAll(async () => {
  gw = await startTestGateway();
  police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
});
afterAll(async () => {
  await gw?.close();
});

interface LedgerRowLite {
  kind: string;
  outcome: string;
  agency_id: string | null;
  purpose: string | null;
  payload: Record<string, unknown>;
  entry_id: string;
}
async function entriesFor(res: Response): Promise<LedgerRowLite[]> {
  return gw.db.asOwner<LedgerRowLite & Record<string, unknown>>(
    'SELECT kind, outcome, agency_id, purpose, payload, entry_id::text AS entry_id FROM audit_ledger WHERE request_id = $1',
    [res.headers['x-request-id']],
  );
}

function expectRefusal(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  for (const member of DECISION_MEMBERS) expect(res.body).not.toHaveProperty(member);
  expect(res.text).not.toMatch(/at [^\s]+ \(?[^)]*\.(js|ts):\d+/);
}

async function expectRefusalRecorded(res: Response, code: string, agencyId: string | null): Promise<void> {
  const rows = await entriesFor(res);
  if (agencyId === null && res.status !== 403) {
    // An unidentified caller (401): counted per source and window, one ledger entry per window — not a row per request.
    expect(rows).toEqual([]);
    expect(await gw.countedRefusals(code)).toBeGreaterThanOrEqual(1);
    return;
  }
  expect(rows.map((r) => ({ kind: r.kind, outcome: r.outcome, agency_id: r.agency_id }))).toEqual([
    { kind: 'request_refused', outcome: code, agency_id: agencyId },
  ]);
  expect(rows[0]!.payload.status).toBe(res.status);
}

const decide = (body: object, token = police) => request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${token}`).send(body);

describe('asking for more fields than the policy grants', () => {
  it('gets only the permitted fields (permit_partial); every extra is withheld with a reason, and the ledger says so', async () => {
    const extras = [
      'incident_full_report',
      'dash_full_answers',
      'pnc_id',
      'refuge_address',
      'current_address',
      'mental_health',
      'previous_domestic_abuse_convictions',
    ];
    const res = await decide({ ...encompass, fields: [...ENCOMPASS_FIELDS, ...extras] });
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('permit_partial');
    expect([...res.body.permittedFields].sort()).toEqual([...ENCOMPASS_FIELDS].sort());
    const withheld = res.body.withheldFields as Array<{ field: string; code: string; reason: string; rule?: string }>;
    expect(withheld.map((w) => w.field).sort()).toEqual([...extras].sort());
    for (const w of withheld) {
      expect(['no_rule_permits', 'denied_by_rule', 'needs_referral']).toContain(w.code);
      expect(w.reason).toMatch(/\w+ \w+ \w+/);
    }
    // The explicit deny rule is named for the report and the DASH answers (always-deny.yaml).
    expect(withheld.find((w) => w.field === 'incident_full_report')).toEqual(
      expect.objectContaining({ code: 'denied_by_rule', rule: 'deny-dash-and-full-report-to-education' }),
    );
    expect(withheld.find((w) => w.field === 'dash_full_answers')).toEqual(expect.objectContaining({ code: 'denied_by_rule' }));
    expect(res.body.rules).toContain('operation-encompass-police-to-school');
    expect(res.body.lawfulBasis.map((b: { rule: string }) => b.rule)).toContain('operation-encompass-police-to-school');

    const [row, ...more] = await entriesFor(res);
    expect(more).toHaveLength(0);
    expect(row).toEqual(
      expect.objectContaining({ kind: 'decision', outcome: 'permit_partial', agency_id: 'test-police', entry_id: res.body.auditEntryId }),
    );
    expect([...(row!.payload.permittedFields as string[])].sort()).toEqual([...ENCOMPASS_FIELDS].sort());
    expect((row!.payload.withheldFields as Array<{ field: string }>).map((w) => w.field).sort()).toEqual([...extras].sort());
    expect(JSON.stringify(row!.payload)).not.toContain('NP-2026-004321');
  });

  it('asking ONLY for withheld fields gets a deny, not an empty permit', async () => {
    const res = await decide({ ...encompass, fields: ['incident_full_report', 'dash_full_answers'] });
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('deny');
    expect(res.body.permittedFields).toEqual([]);
    expect(res.body.reasons.length).toBeGreaterThan(0);
    const [row] = await entriesFor(res);
    expect(row).toEqual(expect.objectContaining({ kind: 'decision', outcome: 'deny' }));
  });

  it('cannot widen the grant with facts the rule does not hold (three weeks late → no permit)', async () => {
    const res = await decide({ ...encompass, facts: { child_present_at_incident: true, hours_since_incident: 500 } });
    expect(res.status).toBe(200);
    expect(res.body.permittedFields).toEqual([]);
    expect(res.body.decision).not.toMatch(/^permit/);
    expect((await entriesFor(res))[0]).toEqual(expect.objectContaining({ kind: 'decision', outcome: res.body.decision }));
  });

  it('cannot assert a fact only the gateway works out (perpetrator joined the household, the school-day deadline) → 400, audited', async () => {
    for (const fact of ['perpetrator_joined_household_with_children', 'before_next_school_day_start']) {
      const res = await decide({ ...encompass, facts: { hours_since_incident: 500, [fact]: true } });
      expectRefusal(res, 400, 'invalid_request');
      expect(res.body.errors).toEqual([
        expect.objectContaining({ pointer: `/facts/${fact}`, detail: expect.stringContaining('worked out by the gateway') }),
      ]);
      await expectRefusalRecorded(res, 'invalid_request', 'test-police');
    }
  });

  it('cannot name its own sharing role in the body (the role comes from the token only) → 400', async () => {
    const res = await decide({ ...encompass, from: { agencyType: 'police', role: 'police_officer' } });
    expectRefusal(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/from/role' })]);
    await expectRefusalRecorded(res, 'invalid_request', 'test-police');
  });
});

describe('spoofing who is sharing', () => {
  it('a school claiming to share from the police → 403 policy_refused, audited, nothing decided', async () => {
    const school = await gw.issuers.token({
      agency: 'test-school',
      clientId: 'test-school-web',
      sub: 'dsl-3',
      role: 'designated_safeguarding_lead',
    });
    const res = await decide(
      { ...encompass, from: { agencyType: 'police' }, to: { agencyType: 'school', role: 'designated_safeguarding_lead' } },
      school,
    );
    expectRefusal(res, 403, 'policy_refused');
    expect(res.body.detail).toMatch(/your own agency \(school\)/);
    await expectRefusalRecorded(res, 'policy_refused', 'test-school');
  });

  it('every other agency type in `from` is refused for the police token, each one audited', async () => {
    for (const agencyType of ['childrens_social_care', 'health_visiting', 'mash', 'marac']) {
      const res = await decide({ ...encompass, from: { agencyType } });
      expectRefusal(res, 403, 'policy_refused');
      await expectRefusalRecorded(res, 'policy_refused', 'test-police');
    }
  });
});

describe('a purpose the agency may not use', () => {
  it('a school using Operation Encompass (a police purpose) → deny with a reason, audited as a decision', async () => {
    const school = await gw.issuers.token({ agency: 'test-school', scope: 'decisions' });
    const res = await decide(
      {
        from: { agencyType: 'school' },
        to: { agencyType: 'police', role: 'police_officer' },
        purpose: 'operation_encompass',
        subjectRole: 'child',
        fields: ['name', 'attendance'],
        facts: { child_present_at_incident: true, hours_since_incident: 1 },
      },
      school,
    );
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('deny');
    expect(res.body.permittedFields).toEqual([]);
    expect(res.body.lawfulBasis).toEqual([]);
    expect(res.body.reasons.join(' ')).toMatch(/\w+ \w+ \w+/);
    for (const w of res.body.withheldFields as Array<{ code: string; reason: string }>) expect(w.reason).toMatch(/\w+ \w+/);
    const [row, ...more] = await entriesFor(res);
    expect(more).toHaveLength(0);
    expect(row).toEqual(
      expect.objectContaining({
        kind: 'decision',
        outcome: 'deny',
        agency_id: 'test-school',
        purpose: 'operation_encompass',
        entry_id: res.body.auditEntryId,
      }),
    );
    expect(row!.payload.permittedFields).toEqual([]);
  });

  it('the police using a family-court purpose with no proceedings, or research for identifying details → deny, audited', async () => {
    for (const body of [
      {
        ...encompass,
        to: { agencyType: 'cafcass', role: 'family_court_adviser' },
        purpose: 'family_court_safeguarding',
        subjectRole: 'child',
        fields: ['name'],
        facts: { court_proceedings_active: false },
      },
      {
        ...encompass,
        to: { agencyType: 'childrens_social_care', role: 'social_worker' },
        purpose: 'research',
        fields: ['name', 'date_of_birth'],
        facts: {},
      },
    ]) {
      const res = await decide(body);
      expect(res.status).toBe(200);
      expect(res.body.decision).toBe('deny');
      expect(res.body.permittedFields).toEqual([]);
      expect(res.body.reasons.length).toBeGreaterThan(0);
      expect((await entriesFor(res))[0]).toEqual(expect.objectContaining({ kind: 'decision', outcome: 'deny', purpose: body.purpose }));
    }
  });
});

describe('auditor-only routes', () => {
  it.each([
    ['/v1/audit', 'the ledger'],
    ['/v1/audit?kind=decision', 'a filtered ledger'],
    ['/v1/audit/verify', 'the verification'],
    ['/v1/audit/entries/00000000-0000-4000-8000-000000000000', 'an entry'],
  ])('GET %s (%s) with a social worker token that even carries audit:read → 403, audited', async (path) => {
    const sw = await gw.issuers.token({
      agency: 'test-csc',
      clientId: 'test-csc-web',
      sub: 'sw-12',
      role: 'social_worker',
      scope: 'audit:read decisions',
    });
    const res = await request(gw.app).get(path).set('Authorization', `Bearer ${sw}`);
    expectRefusal(res, 403, 'forbidden');
    expect(res.body.detail).toMatch(/auditor/);
    await expectRefusalRecorded(res, 'forbidden', 'test-csc');
  });

  it('a real entry id is not revealed to a non-auditor (403, not 200 or 404)', async () => {
    const made = await decide(encompass);
    expect(made.status).toBe(200);
    const res = await request(gw.app).get(`/v1/audit/entries/${made.body.auditEntryId}`).set('Authorization', `Bearer ${police}`);
    expectRefusal(res, 403, 'forbidden');
    expect(res.text).not.toContain(made.body.receipt.entryHash);
    await expectRefusalRecorded(res, 'forbidden', 'test-police');
  });

  it('claiming the auditor role from an agency that may not use it → 403 (refused before any route), audited', async () => {
    const fake = await gw.issuers.token({
      agency: 'test-police',
      clientId: 'test-police-web',
      sub: 'officer-1',
      role: 'auditor',
      scope: 'audit:read',
    });
    const res = await request(gw.app).get('/v1/audit').set('Authorization', `Bearer ${fake}`);
    expectRefusal(res, 403, 'forbidden');
    // The token was refused, so no principal acted: the refusal is recorded without an actor.
    await expectRefusalRecorded(res, 'forbidden', null);
  });
});

describe('a token whose client belongs to another agency', () => {
  it("the police issuer minting a token for children's social care's client → 401, audited, nothing decided", async () => {
    const forged = await gw.issuers.token({ agency: 'test-police', clientId: 'test-csc-system' });
    const res = await decide({ ...encompass, from: { agencyType: 'childrens_social_care' } }, forged);
    expectRefusal(res, 401, 'invalid_token');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="safeguard-gateway".*error="invalid_token"/);
    await expectRefusalRecorded(res, 'invalid_token', null);
  });

  it('a CSC token naming the police in agency_id, to ask as the police → 401', async () => {
    const forged = await gw.issuers.token({ agency: 'test-csc', claims: { agency_id: 'test-police' } });
    const res = await decide(encompass, forged);
    expectRefusal(res, 401, 'invalid_token');
    await expectRefusalRecorded(res, 'invalid_token', null);
  });

  it("the CSC issuer's auditor client presented with the police issuer's iss (signed by CSC) → 401", async () => {
    const forged = await gw.issuers.token({
      agency: 'test-csc',
      issuer: gw.issuers.issuerFor('test-police'),
      clientId: 'test-police-system',
      role: 'auditor',
      sub: 'x',
      scope: 'audit:read',
    });
    const res = await request(gw.app).get('/v1/audit').set('Authorization', `Bearer ${forged}`);
    expectRefusal(res, 401, 'invalid_token');
    await expectRefusalRecorded(res, 'invalid_token', null);
  });
});
