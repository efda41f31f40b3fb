/**
 * The chronology (GET /v1/subjects/{personId}/chronology) over the synthetic Northshire demo story
 * (seed/northshire.json, loaded by the same code as `npm run seed`): one time-ordered list across agencies, each
 * item filtered and audited like the request API, and cumulative risk signals over ALL the subject's records.
 */
import { Pool } from 'pg';
import request from 'supertest';
import { contentHash } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { syncAgencies } from '../../src/db/registry-sync';
import { loadStory, seedStory, storyId, type Story } from '../../src/records/demo-seed';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

type Item = {
  recordId: string;
  kind: string;
  occurredAt?: string;
  fields: Record<string, unknown>;
  decision: string;
  auditEntryId: string;
  receipt: unknown;
  owningAgency: { id: string };
};
type Signal = { signal: string; flagged: boolean; summary: string; evidence: Array<{ kind: string; id: string; date: string }> };

describe('records exchange: chronology over the demo story', () => {
  let gw: TestGateway;
  let story: Story;
  let owner: Pool;
  let ledger: PgAuditLedger;
  const maisie = storyId('person', 'maisie');
  const hannah = storyId('person', 'hannah');
  const record = (key: string): string => storyId('record', key);
  const token = (agency: string, role: string) => gw.issuers.token({ agency, sub: `${role}-1`, role, scope: 'records:read' });
  const chronology = async (personId: string, purpose: string, bearer: string) => {
    const res = await request(gw.app)
      .get(`/v1/subjects/${personId}/chronology?purpose=${purpose}`)
      .set('Authorization', `Bearer ${bearer}`);
    expect(res.status).toBe(200);
    return res;
  };
  const signal = (signals: Signal[], name: string): Signal => signals.find((s) => s.signal === name) as Signal;

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    story = loadStory('seed/northshire.json');
    owner = new Pool({ connectionString: gw.db.ownerUrl, max: 2 });
    ledger = new PgAuditLedger(owner);
    const result = await seedStory(owner, ledger, story, gw.issuers.agencies);
    expect(result).toEqual(expect.objectContaining({ alreadySeeded: false, records: story.records.length }));
  });
  afterAll(async () => {
    await ledger.close();
    await owner.end();
    await gw.close();
  });

  it('seeds a story across at least five agencies, once', async () => {
    const agencies = await gw.db.asOwner<{ owning_agency_id: string }>('SELECT DISTINCT owning_agency_id FROM records');
    expect(agencies.length).toBeGreaterThanOrEqual(5);
    expect(await gw.db.asOwner('SELECT count(*)::int AS n FROM sharing_agreements')).toEqual([{ n: 5 }]);
    expect((await seedStory(owner, ledger, story, gw.issuers.agencies)).alreadySeeded).toBe(true);
    expect(await gw.db.asOwner("SELECT kind, outcome, agency_id FROM audit_ledger WHERE payload->>'action' = 'demo_seed'")).toEqual([
      { kind: 'contribution', outcome: 'seeded', agency_id: null },
    ]);
  });

  it('flags five incidents within a month for escalation, with their ids and dates as evidence, in a time-ordered list across agencies', async () => {
    const res = await chronology(maisie, 'child_protection_enquiry', await token('test-csc', 'social_worker'));
    const incidents = ['incident-1', 'incident-2', 'incident-3', 'incident-4', 'incident-5'].map(record);
    const flag = signal(res.body.signals, 'incidents_in_28_days');
    expect(flag.flagged).toBe(true);
    expect(flag.summary).toMatch(/^5 incidents within 28 days/);
    expect(flag.evidence.map((e) => e.id)).toEqual(incidents);
    for (const e of flag.evidence) expect(Object.keys(e).sort()).toEqual(['date', 'id', 'kind']);
    expect(signal(res.body.signals, 'new_perpetrator_in_household')).toEqual(
      expect.objectContaining({ flagged: true, evidence: [expect.objectContaining({ kind: 'household_membership' })] }),
    );

    const items = res.body.items as Item[];
    const times = items.map((i) => i.occurredAt as string);
    expect(times).toEqual([...times].sort());
    expect(new Set(items.map((i) => i.owningAgency.id)).size).toBeGreaterThanOrEqual(3);
    // A s.47 enquiry: children's social care gets the incidents, including the full report.
    const fifth = items.find((i) => i.recordId === record('incident-5'));
    expect(fifth?.decision).toBe('permit');
    expect(fifth?.fields.incident_full_report).toEqual(expect.stringContaining('Maisie cut her hand'));
  });

  it('shows the signals — never the contents — to a caller who may see none of the records, and audits every item and the signals', async () => {
    const res = await chronology(maisie, 'mash_triage', await token('test-mash', 'mash_analyst'));
    const flag = signal(res.body.signals, 'incidents_in_28_days');
    expect(flag.flagged).toBe(true);
    expect(res.text).not.toContain('Maisie cut her hand');
    // Under the MASH agreement the police incidents are shared for triage (without the full report); the health
    // visitor's note is not (its agreement lapsed).
    const shared = res.body.items as Item[];
    expect(shared.find((i) => i.recordId === record('incident-5'))?.fields).not.toHaveProperty('incident_full_report');

    const all = [...(res.body.items as Item[]), ...(res.body.withheld as Item[])];
    for (const item of all) {
      const [row] = await gw.db.asOwner<{
        kind: string;
        payload: { view: string; recordId: string; fieldsDisclosed: string[]; contentHash: string };
      }>('SELECT kind, payload FROM audit_ledger WHERE entry_id = $1', [item.auditEntryId]);
      expect(row).toEqual(expect.objectContaining({ kind: 'disclosure' }));
      expect(row?.payload.view).toBe('chronology');
      expect(row?.payload.fieldsDisclosed).toEqual(Object.keys(item.fields));
      const { auditEntryId: _a, receipt: _r, ...content } = item;
      expect(row?.payload.contentHash).toBe(contentHash(content));
    }
    const [signalsRow] = await gw.db.asOwner<{ outcome: string; payload: { contentHash: string; flagged: string[] } }>(
      'SELECT outcome, payload FROM audit_ledger WHERE entry_id = $1',
      [res.body.signalsAudit.auditEntryId],
    );
    expect(signalsRow?.outcome).toBe('signals');
    expect(signalsRow?.payload.contentHash).toBe(contentHash(res.body.signals));
    expect(signalsRow?.payload.flagged).toEqual(expect.arrayContaining(['incidents_in_28_days', 'new_perpetrator_in_household']));
  });

  it("shows the adult victim's rising DASH risk level (standard → medium → high)", async () => {
    const res = await chronology(hannah, 'marac', await token('test-idva-service', 'idva'));
    const rising = signal(res.body.signals, 'rising_dash_level');
    expect(rising.flagged).toBe(true);
    // Ending at the most recent assessment of the level: the refuge's referral (high) after the police DASH (medium).
    expect(rising.evidence.map((e) => e.id)).toEqual([record('dash-1'), record('dash-2'), record('refuge-referral')]);
  });

  it('withholds records by policy with reasons but no dates or values, e.g. a lapsed agreement', async () => {
    const res = await chronology(storyId('person', 'leo'), 'mash_triage', await token('test-mash', 'mash_analyst'));
    const note = (res.body.withheld as Array<Item & { reasons: string[]; agreement: { status: string } }>).find(
      (i) => i.recordId === record('hv-note-leo'),
    );
    expect(note).toBeDefined();
    expect(note).not.toHaveProperty('occurredAt');
    expect(note?.fields).toEqual({});
    expect(note?.agreement.status).toBe('lapsed');
    expect(note?.reasons[0]).toMatch(/lapsed/);
    expect(res.text).not.toContain('speech and language');
  });
});
