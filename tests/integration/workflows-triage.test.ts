/**
 * The daily domestic abuse triage list (src/workflows/triage.ts) through the real HTTP app and PostgreSQL: police
 * incidents of the 24 hours before the meeting that involve children, by family, with chronology signals, filtered
 * by policy for the agency asking and recorded as a disclosure per family.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { syncAgencies } from '../../src/db/registry-sync';
import { localDate, zonedInstant } from '../../src/notifications/school-day';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const SCOPES = 'records:read records:write';
const HOUR = 3600_000;

describe('workflows: daily triage list', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  const date = localDate(new Date(), 'Europe/London');
  // The list covers the 24 hours before 09:00 (Europe/London) on `date`.
  const windowStart = zonedInstant(date, '09:00', 'Europe/London').getTime() - 24 * HOUR;
  const at = (hoursIntoWindow: number): string => new Date(windowStart + hoursIntoWindow * HOUR).toISOString();
  const ids: Record<string, string> = {};

  const as = (who: string) => ({
    get: (path: string) => request(gw.app).get(path).set('Authorization', `Bearer ${tokens[who]}`),
    post: async (path: string, body: unknown, status = 201): Promise<{ id: string }> => {
      const r = await request(gw.app)
        .post(path)
        .set('Authorization', `Bearer ${tokens[who]}`)
        .set('Idempotency-Key', randomUUID())
        .send(body as object);
      if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
      return r.body as { id: string };
    },
  });
  const person = async (nhs: string, name: string): Promise<string> =>
    (await as('police').post('/v1/persons', { identifiers: { nhs_number: nhs }, fields: { name } })).id;
  const incident = async (
    subjectPersonId: string,
    subjectRole: string,
    when: string,
    extra: { fields?: object; facts?: object } = {},
  ): Promise<string> =>
    (
      await as('police').post('/v1/records', {
        kind: 'incident',
        subjectPersonId,
        subjectRole,
        classification: 'OFFICIAL-SENSITIVE',
        occurredAt: when,
        fields: {
          incident_date: when,
          incident_summary: `Incident at ${when} (synthetic)`,
          incident_full_report: 'Full report (synthetic)',
          ...extra.fields,
        },
        facts: { ...extra.facts },
      })
    ).id;

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const mint = (agency: string, role: string) => gw.issuers.token({ agency, sub: `${role}-1`, role, scope: SCOPES });
    tokens.police = await mint('test-police', 'police_officer');
    tokens.mash = await mint('test-mash', 'mash_analyst');
    tokens.csc = await mint('test-csc', 'social_worker');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead');
    tokens.stranger = await mint('test-marac', 'marac_chair');
    await gw.db.asOwner(
      `INSERT INTO sharing_agreements (id, title, parties, purposes, starts_on) VALUES ('mash-isa', 'MASH ISA', ARRAY['test-mash', 'test-police'], ARRAY['mash_triage'], '2025-01-01')`,
    );

    // Family A: a household with a child, the mother and a man recorded as a perpetrator who moved in after the child.
    ids.child = await person('9990000042', 'Eve Example');
    ids.mother = await person('9990000050', 'Fay Example');
    ids.man = await person('9990000069', 'Gus Example');
    const household = (await as('police').post('/v1/households', { area: 'North', address: '1 Triage Row' })).id;
    ids.household = household;
    await as('police').post(`/v1/households/${household}/members`, { personId: ids.child, subjectRole: 'child', from: '2020-01-01' });
    await as('police').post(`/v1/households/${household}/members`, {
      personId: ids.mother,
      subjectRole: 'adult_victim',
      from: '2020-01-01',
    });
    await as('police').post(`/v1/households/${household}/members`, { personId: ids.man, subjectRole: 'perpetrator', from: '2026-06-01' });
    // Two earlier incidents this month and one overnight: a repeat pattern. The overnight one is about the mother; the child lives there.
    await incident(ids.mother, 'adult_victim', at(-24 * 10));
    await incident(ids.mother, 'adult_victim', at(-24 * 3));
    ids.overnightA = await incident(ids.mother, 'adult_victim', at(14), {
      fields: { dash_risk_level: 'high' },
      facts: { significant_harm_suspected: true },
    });

    // Family B: a child on their own record, overnight; and an incident of theirs outside the window.
    ids.childB = await person('9990000077', 'Hal Example');
    ids.overnightB = await incident(ids.childB, 'child', at(20), {
      fields: { children_present: 1 },
      facts: { child_present_at_incident: true },
    });
    ids.outside = await incident(ids.childB, 'child', at(-3));

    // An adult with no children anywhere: not on the list.
    ids.adult = await person('9990000085', 'Ian Example');
    ids.noChildren = await incident(ids.adult, 'adult_victim', at(10));
    // The agencies attending know the families.
    for (const who of ['mash', 'csc', 'school'])
      for (const nhs of ['9990000042', '9990000050', '9990000077'])
        await as(who).post('/v1/persons', { identifiers: { nhs_number: nhs } }, 200);
  });
  afterAll(() => gw.close());

  const incidentIds = (body: { families: Array<{ incidents: Array<{ recordId: string }> }> }): string[] =>
    body.families.flatMap((f) => f.incidents.map((i) => i.recordId)).sort();

  it("lists the overnight police incidents that involve children, by family, with the family's signals (MASH)", async () => {
    const res = await as('mash').get(`/v1/triage/daily?date=${date}`).expect(200);
    expect(res.body).toMatchObject({ date, purpose: 'mash_triage', window: { from: new Date(windowStart).toISOString() } });
    expect(incidentIds(res.body)).toEqual([ids.overnightA, ids.overnightB].sort());
    const familyA = res.body.families.find((f: { householdId: string | null }) => f.householdId === ids.household);
    expect(familyA.area).toBe('North');
    const flagged = familyA.signals
      .filter((s: { flagged: boolean }) => s.flagged)
      .map((s: { signal: string }) => s.signal)
      .sort();
    expect(flagged).toEqual(['incidents_in_28_days', 'new_perpetrator_in_household']);
    // Signals first: family A (two signals) before family B.
    expect(res.body.families[0].householdId).toBe(ids.household);
    const item = familyA.incidents[0];
    expect(item.fields.incident_summary).toMatch(/synthetic/);
    expect(item.fields.incident_full_report).toBeUndefined();

    // One disclosure entry per family, committed, with field names only.
    const entries = (await gw.ledgerRows()).filter(
      (e) => e.kind === 'disclosure' && (e.payload as { view?: string }).view === 'triage_daily',
    );
    expect(entries).toHaveLength(2);
    expect(entries.map((e) => e.entry_id).sort()).toEqual(res.body.families.map((f: { auditEntryId: string }) => f.auditEntryId).sort());
    expect(JSON.stringify(entries.map((e) => e.payload))).not.toContain('synthetic');
  });

  it("filters the same list differently for another agency: children's social care sees only what the policy lets it", async () => {
    const before = (await gw.ledgerRows()).length;
    const res = await as('csc').get(`/v1/triage/daily?date=${date}&purpose=child_protection_enquiry`).expect(200);
    expect(incidentIds(res.body)).toEqual([ids.overnightA]);
    const after = await gw.ledgerRows();
    // Still one entry per family evaluated: the family it may not see is recorded as a deny, and nothing of it is sent.
    const mine = after.slice(before).filter((e) => (e.payload as { view?: string }).view === 'triage_daily');
    expect(mine).toHaveLength(2);
    expect(mine.map((e) => String(e.outcome)).filter((o) => o === 'deny')).toHaveLength(1);
    expect(JSON.stringify(res.body)).not.toContain(ids.overnightB);

    const school = await as('school').get(`/v1/triage/daily?date=${date}`).expect(200);
    expect(school.body.families).toEqual([]);
    // An agency that knows none of the families is not even told they exist (and nothing is decided for it).
    const before2 = (await gw.ledgerRows()).length;
    const stranger = await request(gw.app)
      .get(`/v1/triage/daily?date=${date}`)
      .set('Authorization', `Bearer ${tokens.stranger}`)
      .expect(200);
    expect(stranger.body.families).toEqual([]);
    expect(
      (await gw.ledgerRows())
        .slice(before2)
        .filter((e) => (e.payload as { view?: string }).view === 'triage_daily' && e.agency_id === 'test-marac'),
    ).toHaveLength(0);
  });

  it('refuses a bad date with a problem that names it', async () => {
    const res = await as('mash').get('/v1/triage/daily?date=yesterday');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
  });
});
