/**
 * Referrals (src/workflows/referrals.ts) through the real HTTP app, real tokens, the shipped policy catalogue, real
 * PostgreSQL and the real ledger: refer → referral → decision → ledger link → notification; a deny-rule field can
 * never be released; the asker cannot decide their own referral; overdue flagging.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import pino from 'pino';
import request from 'supertest';
import { contentHash } from '../../src/audit/entry';
import { startDispatcher } from '../../src/notifications/dispatcher';
import { Pool } from 'pg';
import { syncAgencies } from '../../src/db/registry-sync';
import { buildMessage, type OutboxMessage } from '../../src/notifications/messages';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { flagOverdueReferrals } from '../../src/workflows/referrals';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const SCOPE = 'decisions records:read';
const question = {
  from: { agencyType: 'police' },
  to: { agencyType: 'childrens_social_care', role: 'social_worker' },
  purpose: 'child_protection_enquiry',
  subjectRole: 'child',
  subjectRef: 'CASE-2026-0042',
  fields: ['name', 'refuge_address', 'incident_summary'],
  facts: { live_investigation_would_be_prejudiced: true, significant_harm_suspected: true },
};

describe('workflows: referrals', () => {
  let gw: TestGateway;
  const tokens: Record<string, string> = {};
  let subscriptionId: string;
  let receiver: http.Server;
  const received: Array<{ body: string; ledgerHadIt: boolean }> = [];

  const as = (who: string) => ({
    get: (path: string) => request(gw.app).get(path).set('Authorization', `Bearer ${tokens[who]}`),
    post: (path: string, body: unknown) =>
      request(gw.app)
        .post(path)
        .set('Authorization', `Bearer ${tokens[who]}`)
        .send(body as object),
  });
  const refusals = async (): Promise<Array<Record<string, unknown>>> => (await gw.ledgerRows()).filter((r) => r.kind === 'request_refused');

  beforeAll(async () => {
    gw = await startTestGateway();
    await syncAgencies(gw.db.ownerUrl, gw.issuers.agencies);
    const mint = (sub: string, role: string) =>
      gw.issuers.token({ agency: 'test-police', sub, role, scope: SCOPE, name: `${role} ${sub}` });
    tokens.officer = await mint('officer-1', 'police_officer');
    tokens.manager = await mint('tm-1', 'team_manager');
    tokens.manager2 = await mint('tm-2', 'team_manager');
    tokens.dpo = await mint('dpo-1', 'data_protection_officer');
    tokens.cscManager = await gw.issuers.token({ agency: 'test-csc', sub: 'tm-9', role: 'team_manager', scope: SCOPE });
    // The police's webhook endpoint: records whether the message's ledger entry was committed before it arrived.
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        gw.db.asOwner(`SELECT 1 FROM audit_ledger WHERE kind = 'notification' AND payload->>'contentHash' = $1`, [contentHash(body)]).then(
          (rows) => {
            received.push({ body, ledgerHadIt: rows.length === 1 });
            res.writeHead(204).end();
          },
          () => res.writeHead(500).end(),
        );
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/police`;
    subscriptionId = randomUUID();
    await gw.db.asOwner(
      `INSERT INTO webhook_subscriptions (id, agency_id, url, events, created_by) VALUES ($1, 'test-police', $2, ARRAY['referral.decided', 'referral.overdue'], 'test')`,
      [subscriptionId, url],
    );
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await gw.close();
  });

  it('opens a referral for a refer decision, routed to the team manager of the sharing agency, linked to its ledger entry', async () => {
    const res = await as('officer').post('/v1/decisions', question).expect(200);
    expect(res.body.decision).toBe('permit_partial');
    expect(res.body.referral).toMatchObject({ deciderRole: 'team_manager' });
    const entries = await gw.ledgerRows();
    const decision = entries.find((e) => e.entry_id === res.body.auditEntryId) as {
      payload: { referral: { id: string; fields: string[] } };
    };
    expect(decision.payload.referral.id).toBe(gw.pseudonymise(res.body.referral.id)); // the answer names it, the ledger by pseudonym
    expect(decision.payload.referral.fields).toEqual(['refuge_address']);

    const queue = await as('manager').get('/v1/referrals').expect(200);
    expect(queue.body.view).toBe('queue');
    const mine = queue.body.referrals.find((r: { id: string }) => r.id === res.body.referral.id);
    expect(mine).toMatchObject({
      status: 'open',
      overdue: false,
      deciderRole: 'team_manager',
      referredFields: ['refuge_address'],
      decisionEntry: { entryId: res.body.auditEntryId, seq: res.body.receipt.seq },
    });
    expect(mine.askedBy).toMatchObject({ role: 'police_officer', you: false });
    // The practitioner sees it under "my referrals"; another agency's manager and the DPO (another role) do not see it.
    const asked = await as('officer').get('/v1/referrals?view=mine').expect(200);
    expect(asked.body.referrals.map((r: { id: string }) => r.id)).toContain(res.body.referral.id);
    await as('officer').get('/v1/referrals?view=queue').expect(403);
    await as('cscManager')
      .get(`/v1/referrals/${String(res.body.referral.id)}`)
      .expect(404);
    await as('dpo')
      .get(`/v1/referrals/${String(res.body.referral.id)}`)
      .expect(404);
  });

  it('refuses a decider releasing a field a deny rule withholds, and records the refusal', async () => {
    const id = (await as('officer').post('/v1/decisions', question).expect(200)).body.referral.id as string;
    const before = (await refusals()).length;
    const res = await as('manager').post(`/v1/referrals/${id}/decision`, {
      decision: 'share_some',
      fields: ['incident_summary'],
      reasons: 'The social worker needs the detail.',
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('policy_refused');
    expect(res.body.detail).toMatch(/deny rule/);
    expect(res.body.errors[0]).toMatchObject({ pointer: '/fields/0', word: 'incident_summary' });
    const after = await refusals();
    expect(after.length).toBe(before + 1);
    expect(after[after.length - 1]).toMatchObject({ outcome: 'policy_refused', practitioner: 'tm-1' });
    // Nor through "share": the deny-rule field is not part of the referral at all.
    const share = await as('manager').post(`/v1/referrals/${id}/decision`, {
      decision: 'share',
      fields: ['refuge_address', 'incident_summary'],
      reasons: 'All of it.',
    });
    expect(share.status).toBe(403);
    // A field no refer rule sends to the decider is not theirs to release either.
    const other = await as('manager').post(`/v1/referrals/${id}/decision`, {
      decision: 'share_some',
      fields: ['current_address'],
      reasons: 'x',
    });
    expect(other.status).toBe(422);
    const still = await as('manager').get(`/v1/referrals/${id}`).expect(200);
    expect(still.body.status).toBe('open');
  });

  it('refuses the person who asked deciding their own referral, and anyone not in the decider role', async () => {
    const id = (await as('manager2').post('/v1/decisions', question).expect(200)).body.referral.id as string;
    const self = await as('manager2').post(`/v1/referrals/${id}/decision`, { decision: 'share', reasons: 'I am sure.' });
    expect(self.status).toBe(403);
    expect(self.body.detail).toMatch(/You asked for this referral/);
    const officer = (await as('officer').post('/v1/decisions', question).expect(200)).body.referral.id as string;
    const wrongRole = await as('officer').post(`/v1/referrals/${officer}/decision`, { decision: 'share', reasons: 'Mine.' });
    expect(wrongRole.status).toBe(403);
    expect(wrongRole.body.detail).toMatch(/team manager/);
    const noReasons = await as('manager').post(`/v1/referrals/${officer}/decision`, { decision: 'share', reasons: '   ' });
    expect(noReasons.status).toBe(400);
  });

  it('records the decision as a referral_decision entry pointing at the original, tells the asker (page data and webhook)', async () => {
    const asked = (await as('officer').post('/v1/decisions', question).expect(200)).body as {
      auditEntryId: string;
      referral: { id: string };
    };
    const id = asked.referral.id;
    const reasons = 'The refuge has agreed; the social worker will meet the family there on Thursday.';
    const res = await as('manager').post(`/v1/referrals/${id}/decision`, { decision: 'share', reasons }).expect(200);
    expect(res.body).toMatchObject({
      status: 'decided',
      decision: { outcome: 'share', releasedFields: ['refuge_address'], reasons, decidedBy: { role: 'team_manager' } },
    });

    const entries = await gw.ledgerRows();
    const entry = entries.find((e) => e.entry_id === res.body.decision.entryId) as {
      kind: string;
      outcome: string;
      practitioner: string;
      payload: Record<string, unknown>;
    };
    expect(entry).toMatchObject({ kind: 'referral_decision', outcome: 'share', practitioner: 'tm-1' });
    expect(entry.payload).toMatchObject({
      referralId: gw.pseudonymise(id),
      decisionEntryId: asked.auditEntryId,
      fieldsReleased: ['refuge_address'],
      fieldsNotReleased: [],
    });
    // The ledger keeps a hash of the reasons, never the words.
    expect(JSON.stringify(entry.payload)).not.toContain('Thursday');
    const original = entries.find((e) => e.entry_id === asked.auditEntryId) as { seq: string };
    expect(Number(entry.payload.decisionEntrySeq)).toBe(Number(original.seq));

    // The practitioner sees the outcome.
    const seen = await as('officer').get(`/v1/referrals/${id}`).expect(200);
    expect(seen.body.decision.outcome).toBe('share');
    expect(seen.body.askedBy.you).toBe(true);

    // referral.decided is queued for the sharing agency's webhook, and builds with the outcome and field names only.
    const rows = await gw.db.asOwner<{
      id: string;
      kind: string;
      event: string;
      payload: Record<string, unknown>;
      created_at: Date;
      subscription_id: string;
      target_agency_id: string;
    }>(`SELECT * FROM outbox WHERE kind = 'referral_decided' AND payload->>'referralId' = $1`, [id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ event: 'referral.decided', target_agency_id: 'test-police', subscription_id: subscriptionId });
    const row = rows[0] as (typeof rows)[number];
    const message: OutboxMessage = {
      id: row.id,
      kind: 'referral_decided',
      event: row.event,
      targetAgencyId: row.target_agency_id,
      subscriptionId: row.subscription_id,
      payload: row.payload,
      attempts: 0,
      deadline: null,
      createdAt: row.created_at,
    };
    const built = await buildMessage(
      { pool: gw.pool, engine: gw.engine, pseudonymise: pseudonymiser('k'.repeat(32)), now: new Date() },
      message,
    );
    expect(built.outcome).toBe('permit');
    expect(built.body).toMatchObject({
      type: 'referral_decided',
      referralId: id,
      outcome: 'share',
      releasedFields: ['refuge_address'],
      ledger: { decisionEntryId: asked.auditEntryId },
    });
    expect(JSON.stringify(built.body)).not.toContain('Thursday');

    // Delivered for real: a signed JWS, its `notification` ledger entry committed before the POST.
    const dispatcher = startDispatcher({
      pool: gw.pool,
      ledger: gw.ledger,
      engine: gw.engine,
      keys: gw.keys,
      logger: pino({ level: 'silent' }),
      pseudonymise: pseudonymiser('k'.repeat(32)),
      intervalMs: 60_000,
      autoStart: false,
      allowInsecureWebhooks: true,
      maxAttempts: 2,
      backoffBaseMs: 5,
      backoffMaxMs: 20,
      timeoutMs: 5000,
    });
    try {
      await dispatcher.runOnce();
    } finally {
      await dispatcher.stop();
    }
    expect(received).toHaveLength(1);
    expect(received[0]?.ledgerHadIt).toBe(true);
    const jwks = (await request(gw.app).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;
    const { payload } = await compactVerify(received[0]?.body ?? '', createLocalJWKSet(jwks), { algorithms: ['ES256'] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as { event: string; aud: string; data: Record<string, unknown> };
    expect(claims).toMatchObject({
      event: 'referral.decided',
      aud: 'test-police',
      data: { referralId: id, outcome: 'share', releasedFields: ['refuge_address'] },
    });

    const again = await as('manager').post(`/v1/referrals/${id}/decision`, { decision: 'do_not_share', reasons: 'Changed my mind.' });
    expect(again.status).toBe(409);
  });

  it('flags an undecided referral past its time limit as overdue, in the ledger and with referral.overdue', async () => {
    const id = (await as('officer').post('/v1/decisions', question).expect(200)).body.referral.id as string;
    const dueAt = new Date((await as('manager').get(`/v1/referrals/${id}`).expect(200)).body.dueAt as string);
    expect(dueAt.getTime() - Date.now()).toBeGreaterThan(23 * 3600_000); // the default limit: 24 hours
    await gw.db.asOwner(`UPDATE referrals SET due_at = now() - interval '1 hour' WHERE id = $1`, [id]);
    const overdue = await as('manager').get('/v1/referrals?overdue=true&status=open').expect(200);
    expect(overdue.body.referrals.map((r: { id: string }) => r.id)).toEqual([id]);
    const notOverdue = await as('manager').get('/v1/referrals?overdue=false').expect(200);
    expect(notOverdue.body.referrals.map((r: { id: string }) => r.id)).not.toContain(id);

    const pool = new Pool({ connectionString: gw.db.appUrl, max: 2 });
    const ledger = new PgAuditLedger(pool);
    try {
      expect(await flagOverdueReferrals({ pool, ledger, pseudonymise: gw.pseudonymise })).toBe(1);
      expect(await flagOverdueReferrals({ pool, ledger, pseudonymise: gw.pseudonymise })).toBe(0); // raised once
    } finally {
      await ledger.close();
      await pool.end();
    }
    const flagged = (await gw.ledgerRows()).filter((e) => e.kind === 'referral' && e.outcome === 'overdue');
    expect(flagged).toHaveLength(1);
    expect((flagged[0] as { payload: { referralId: string } }).payload.referralId).toBe(gw.pseudonymise(id)); // never the id
    const queued = await gw.db.asOwner(`SELECT event FROM outbox WHERE kind = 'referral_overdue' AND payload->>'referralId' = $1`, [id]);
    expect(queued).toEqual([{ event: 'referral.overdue' }]);
  });
});
