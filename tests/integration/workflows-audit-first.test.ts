/**
 * Invariant 1 in the workflows: when the ledger cannot record a step, the step does not happen and nothing leaves —
 * no referral opened, no decision taken, no release made, no picture or triage list answered. Real PostgreSQL; the
 * ledger is made to fail exactly as an unreachable database would make it fail.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { AuditUnavailableError, type AuditLedger } from '../../src/audit/entry';
import { pseudonymiser } from '../../src/audit/pseudonym';
import type { Principal } from '../../src/auth/principal';
import { decideAndRecord } from '../../src/decisions/decide-and-record';
import { syncAgencies } from '../../src/db/registry-sync';
import { respondToInformationRequest, readPicture } from '../../src/workflows/information-responses';
import { decideReferral, referralOpener } from '../../src/workflows/referrals';
import { DEFAULT_WORKFLOW_SETTINGS } from '../../src/workflows/settings';
import { dailyTriage } from '../../src/workflows/triage';
import { localDate, zonedInstant } from '../../src/notifications/school-day';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const down: AuditLedger = {
  append: () => Promise.reject(new AuditUnavailableError('forced by the test', 'database')),
  close: () => Promise.resolve(),
};

describe('workflows: nothing happens and nothing leaves unless the ledger has recorded it', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  const pseudonymise = pseudonymiser('t'.repeat(32));
  const deps = () => ({ pool: gw.pool, ledger: down, engine: gw.engine, pseudonymise, settings: DEFAULT_WORKFLOW_SETTINGS });
  const principal = (agencyId: string, role: Principal['role'], subject: string): Principal => {
    const agency = gw.issuers.agencies.find((a) => a.id === agencyId);
    if (!agency) throw new Error(agencyId);
    return {
      agency,
      issuer: agency.issuer,
      clientId: `${agencyId}-system`,
      role,
      practitioner: { subject },
      scopes: new Set(['decisions', 'records:read']),
      expiresAt: new Date(Date.now() + 3600_000),
    };
  };
  const post = async (who: string, path: string, body: unknown, status = 201): Promise<Record<string, unknown>> => {
    const r = await request(gw.app)
      .post(path)
      .set('Authorization', `Bearer ${tokens[who]}`)
      .set('Idempotency-Key', randomUUID())
      .send(body as object);
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body as Record<string, unknown>;
  };
  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    Number((await gw.db.asOwner<{ n: string }>(sql, params))[0]?.n ?? 0);

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const scope = 'decisions records:read records:write';
    tokens.officer = await gw.issuers.token({ agency: 'test-police', sub: 'officer-1', role: 'police_officer', scope });
    tokens.mash = await gw.issuers.token({ agency: 'test-mash', sub: 'mash-1', role: 'mash_analyst', scope });
    await gw.db.asOwner(
      `INSERT INTO sharing_agreements (id, title, parties, purposes, starts_on) VALUES ('mash-isa', 'MASH ISA', ARRAY['test-mash', 'test-police'], ARRAY['mash_triage'], '2025-01-01')`,
    );
  });
  afterAll(() => gw.close());

  const question = {
    from: { agencyType: 'police' as const },
    to: { agencyType: 'childrens_social_care' as const, role: 'social_worker' as const },
    purpose: 'child_protection_enquiry' as const,
    subjectRole: 'child' as const,
    fields: ['refuge_address' as const],
    facts: {},
  };

  it('opens no referral when the refer decision cannot be recorded', async () => {
    const before = await count('SELECT count(*)::text AS n FROM referrals');
    const d = deps();
    await expect(
      decideAndRecord(
        { engine: d.engine, ledger: down, pseudonymise, referrals: referralOpener(d) },
        principal('test-police', 'police_officer', 'officer-1'),
        question,
        { requestId: 'r1' },
      ),
    ).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(await count('SELECT count(*)::text AS n FROM referrals')).toBe(before);
  });

  it('takes no referral decision and queues no webhook when the decision cannot be recorded', async () => {
    const asked = (await post('officer', '/v1/decisions', question, 200)) as { referral: { id: string } };
    await expect(
      decideReferral(
        deps(),
        principal('test-police', 'team_manager', 'tm-1'),
        asked.referral.id,
        { decision: 'share', reasons: 'Yes.' },
        'r2',
      ),
    ).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(await gw.db.asOwner('SELECT status, outcome, reasons FROM referrals WHERE id = $1', [asked.referral.id])).toEqual([
      { status: 'open', outcome: null, reasons: null },
    ]);
    expect(await count(`SELECT count(*)::text AS n FROM outbox WHERE kind = 'referral_decided'`)).toBe(0);
  });

  it('makes no release, answers no picture and no triage list while the ledger is down', async () => {
    const child = (await post('officer', '/v1/persons', { identifiers: { nhs_number: '9990000093' }, fields: { name: 'Jay Example' } }))
      .id as string;
    await post('mash', '/v1/persons', { identifiers: { nhs_number: '9990000093' } }, 200);
    // In today's triage window (the 24 hours before 09:00 Europe/London today).
    const at = new Date(
      zonedInstant(localDate(new Date(), 'Europe/London'), '09:00', 'Europe/London').getTime() - 12 * 3600_000,
    ).toISOString();
    const record = (
      await post('officer', '/v1/records', {
        kind: 'incident',
        subjectPersonId: child,
        subjectRole: 'child',
        classification: 'OFFICIAL',
        occurredAt: at,
        fields: { incident_date: at, incident_summary: 'x' },
        facts: { child_present_at_incident: true },
      })
    ).id as string;
    const rfi = (
      await post('mash', '/v1/information-requests', {
        subject: { personId: child },
        subjectRole: 'child',
        purpose: 'mash_triage',
        agencies: ['test-police'],
        fields: ['name', 'incident_summary'],
        priority: 'red',
      })
    ).id as string;

    await expect(
      respondToInformationRequest(
        deps(),
        principal('test-police', 'police_officer', 'officer-1'),
        rfi,
        { answer: 'release', records: [{ recordId: record }] },
        'r3',
      ),
    ).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(await gw.db.asOwner('SELECT status FROM information_request_targets WHERE request_id = $1', [rfi])).toEqual([
      { status: 'awaiting' },
    ]);
    expect(await count('SELECT count(*)::text AS n FROM information_request_releases')).toBe(0);

    const answered = (await post('officer', `/v1/information-requests/${rfi}/responses`, {
      answer: 'release',
      records: [{ recordId: record }],
    })) as { releases: Array<{ fieldsReleased: string[] }> };
    expect(answered.releases[0]?.fieldsReleased).toContain('incident_summary');
    await expect(readPicture(deps(), principal('test-mash', 'mash_analyst', 'mash-1'), rfi, 'r4')).rejects.toBeInstanceOf(
      AuditUnavailableError,
    );
    await expect(dailyTriage(deps(), principal('test-mash', 'mash_analyst', 'mash-1'), {}, 'r5')).rejects.toBeInstanceOf(
      AuditUnavailableError,
    );
    // With the ledger working, the same reads do answer (so the refusals above were the ledger's, not empty lists).
    const picture = await request(gw.app)
      .get(`/v1/information-requests/${rfi}/picture`)
      .set('Authorization', `Bearer ${tokens.mash}`)
      .expect(200);
    expect(picture.body.items).toHaveLength(1);
    const triage = await request(gw.app).get('/v1/triage/daily').set('Authorization', `Bearer ${tokens.mash}`).expect(200);
    expect(triage.body.families).toHaveLength(1);
  });
});
