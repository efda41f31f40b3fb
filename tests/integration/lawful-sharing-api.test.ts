/**
 * The decision API's answers for lawful sharing (issue "say yes where the law says yes"), over HTTP against real
 * PostgreSQL and the shipped catalogue: duty or power with the provision, routes for withheld fields (also named in
 * the ledger entry), every fact marked asserted or derived in the answer and the ledger, facts derived from the
 * school calendar, the s.47 implication and the agreements; and `policy:impact` replaying this ledger.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import request from 'supertest';
import { catalogueDirFor, readInputs } from '../../src/cli/policy-impact-inputs';
import { syncAgencies } from '../../src/db/registry-sync';
import { loadPolicyCatalogue } from '../../src/policy';
import { describeImpact, policyImpact } from '../../src/policy/impact';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

describe('lawful sharing through POST /v1/decisions', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  const decide = (who: string, body: unknown) =>
    request(gw.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${tokens[who]}`)
      .send(body as object);
  const entry = async (id: string) =>
    (await gw.db.asOwner<{ payload: Record<string, unknown> }>('SELECT payload FROM audit_ledger WHERE entry_id = $1', [id]))[0]?.payload ??
    {};

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    for (const agency of ['test-police', 'test-school', 'test-csc'])
      tokens[agency] = await gw.issuers.token({ agency, scope: 'decisions' });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('an on-time Operation Encompass notification is a duty under DAA 2021 s.49A; the deadline fact is derived from the calendar, the rest asserted', async () => {
    const res = await decide('test-police', {
      from: { agencyType: 'police' },
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      purpose: 'operation_encompass',
      subjectRole: 'child',
      fields: ['name', 'child_involvement'],
      facts: { child_present_at_incident: false, hours_since_incident: 0 },
    });
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('permit');
    expect(res.body.sharing).toBe('duty');
    expect(res.body.lawfulBasis[0].sharing).toEqual(
      expect.objectContaining({ kind: 'duty', provision: expect.stringContaining('Domestic Abuse Act 2021 s.49A') }),
    );
    expect(res.body.facts).toEqual({
      child_present_at_incident: { value: false, source: 'asserted', by: 'caller' },
      hours_since_incident: { value: 0, source: 'asserted', by: 'caller' },
      before_next_school_day_start: { value: true, source: 'derived', from: expect.stringContaining('school calendar') },
    });
    const payload = await entry(res.body.auditEntryId);
    expect(payload.facts).toEqual({ child_present_at_incident: false, hours_since_incident: 0, before_next_school_day_start: true });
    expect(payload.factSources).toEqual(
      expect.objectContaining({
        before_next_school_day_start: expect.objectContaining({ source: 'derived' }),
        hours_since_incident: { source: 'asserted', by: 'caller' },
      }),
    );
    expect(payload.sharing).toBe('duty');
  });

  it('a late notification is a referral to a police supervisor, and each withheld field lists where it can go instead (also in the ledger)', async () => {
    const res = await decide('test-police', {
      from: { agencyType: 'police' },
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      purpose: 'operation_encompass',
      subjectRole: 'child',
      fields: ['name'],
      facts: { hours_since_incident: 400 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ decision: 'refer', referTo: 'team_manager' }));
    const [withheld] = res.body.withheldFields;
    expect(withheld).toEqual(expect.objectContaining({ field: 'name', code: 'needs_referral', referTo: 'team_manager' }));
    expect(withheld.routes.map((r: { rule: string }) => r.rule)).toContain('s47-share-with-childrens-social-care');
    const route = withheld.routes.find((r: { rule: string }) => r.rule === 's47-share-with-childrens-social-care');
    expect(route).toEqual(
      expect.objectContaining({
        changes: ['facts', 'recipient', 'purpose'],
        facts: { significant_harm_suspected: true },
        recipient: { agencyTypes: ['childrens_social_care'] },
        purposes: ['child_protection_enquiry'],
        sharing: 'power',
        explanation: expect.stringMatching(
          /^If significant harm to a child is suspected, 'name' may be shared with children's social care/,
        ),
      }),
    );
    const payload = await entry(res.body.auditEntryId);
    expect(payload.withheldFields).toEqual([
      expect.objectContaining({ field: 'name', code: 'needs_referral', routes: withheld.routes.map((r: { rule: string }) => r.rule) }),
    ]);
  });

  it("an open s.47 enquiry is enough: significant harm is derived, the school shares with children's social care", async () => {
    const res = await decide('test-school', {
      from: { agencyType: 'school' },
      to: { agencyType: 'childrens_social_care', role: 'social_worker' },
      purpose: 'child_protection_enquiry',
      subjectRole: 'child',
      fields: ['name', 'attendance'],
      facts: { s47_enquiry_open: true },
    });
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('permit');
    expect(res.body.rules).toEqual(['s47-share-with-childrens-social-care']);
    expect(res.body.facts.significant_harm_suspected).toEqual({ value: true, source: 'derived', from: expect.stringContaining('s.47(1)') });
  });

  it("with the recipient agency named, agreement_in_force is the gateway's own finding, not the caller's", async () => {
    const res = await decide('test-csc', {
      from: { agencyType: 'childrens_social_care' },
      to: { agencyType: 'school', role: 'designated_safeguarding_lead', agencyId: 'test-school' },
      purpose: 'child_protection_enquiry',
      subjectRole: 'child',
      fields: ['child_protection_plan_status'],
      facts: { child_protection_plan_active: true, agreement_in_force: true },
    });
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('permit');
    expect(res.body.facts.agreement_in_force).toEqual({
      value: false,
      source: 'derived',
      from: expect.stringContaining('none covers both agencies'),
    });
    expect((await entry(res.body.auditEntryId)).toAgencyId).toBe('test-school');
  });

  it('a recipient agency of the wrong type is 422 and an unknown subject 404, each recorded as a refusal', async () => {
    const base = {
      from: { agencyType: 'childrens_social_care' },
      purpose: 'child_protection_enquiry',
      subjectRole: 'child',
      fields: ['name'],
    };
    const wrongType = await decide('test-csc', {
      ...base,
      to: { agencyType: 'school', role: 'designated_safeguarding_lead', agencyId: 'test-police' },
    });
    expect(wrongType.status).toBe(422);
    expect(wrongType.headers['content-type']).toMatch(/application\/problem\+json/);
    const unknown = await decide('test-csc', {
      ...base,
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      subjectPersonId: '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.status).toBe(404);
    const refusals = await gw.db.asOwner<{ outcome: string }>(
      "SELECT outcome FROM audit_ledger WHERE kind = 'request_refused' AND agency_id = 'test-csc' ORDER BY seq",
    );
    expect(refusals.map((r) => r.outcome)).toEqual(expect.arrayContaining(['unprocessable', 'not_found']));
  });

  it('policy:impact replays these decisions under another catalogue and names the rules whose outcomes change', async () => {
    // The "other catalogue": this one without the Operation Encompass rules.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sg-impact-'));
    try {
      cpSync('policies', dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}tests`) });
      rmSync(path.join(dir, 'operation-encompass.yaml'));
      const pool = new Pool({ connectionString: gw.db.ownerUrl, max: 1 });
      const inputs = await readInputs(pool).finally(() => pool.end());
      expect(inputs.length).toBeGreaterThanOrEqual(4);
      const current = loadPolicyCatalogue('policies');
      const report = policyImpact(inputs, current, loadPolicyCatalogue(dir));
      expect(report.replayed).toBe(inputs.length);
      expect(report.outcomes['permit → deny']).toBe(1);
      expect(report.outcomes['refer → deny']).toBe(1);
      const oe = report.rules.find((r) => r.rule === 'operation-encompass-police-to-school');
      expect(oe).toEqual(expect.objectContaining({ lost: 1, fieldsNewlyWithheld: 2 }));
      expect(oe?.examples[0]).toEqual(
        expect.objectContaining({ from: 'police', to: 'school/designated_safeguarding_lead', before: 'permit', after: 'deny' }),
      );
      expect(describeImpact(report)).toMatch(/operation-encompass-police-to-school: \+0 \/ -1 decisions/);
      // The same catalogue on both sides changes nothing; a git ref is read from the repository.
      const same = catalogueDirFor('HEAD', 'policies');
      try {
        const unchanged = policyImpact(inputs, loadPolicyCatalogue(same.dir, { allowMissingSharing: true }), loadPolicyCatalogue(same.dir));
        expect(unchanged.changed).toBe(0);
      } finally {
        same.cleanup();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
