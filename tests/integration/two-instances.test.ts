/**
 * Several gateway instances against one PostgreSQL (issue 13): each has its own pools, ledger writer, rate
 * limiters and session store objects — they share only the database, as instances on several hosts do.
 *
 *   - a per-agency limit of 10 a minute holds across both instances (leases from the shared `rate_limits` table);
 *   - the pages' session made at one instance continues at the other (connect-pg-simple, table `web_sessions`),
 *     signed with the session secret both read from configuration;
 *   - both instances append to the one hash chain, and it verifies.
 */
import express from 'express';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { postgresSessionStore, sessionMiddleware } from '../../src/web/session';
import { verifyLedger } from '../../src/audit/verify';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name', 'incident_date', 'child_involvement'],
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

describe('two instances, one database', () => {
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    a = await startTestGateway({ perAgencyPerMinute: 10 });
    b = await startTestGateway({ perAgencyPerMinute: 10, sameDatabaseAs: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('holds a per-agency limit of 10 a minute across both instances, and both append to one intact chain', async () => {
    const police = await a.issuers.token({ agency: 'test-police', scope: 'decisions' });
    const statuses: Array<{ instance: string; status: number }> = [];
    for (let i = 0; i < 14; i++) {
      const [name, gw] = i % 2 === 0 ? ['a', a] : ['b', b];
      const res = await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass);
      statuses.push({ instance: name, status: res.status });
      if (res.status === 429) {
        expect(res.body.code).toBe('rate_limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    expect(statuses.filter((s) => s.status === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s.status === 429)).toHaveLength(4);
    // Both instances answered some of the ten: the allowance is one, not one each.
    expect(new Set(statuses.filter((s) => s.status === 200).map((s) => s.instance))).toEqual(new Set(['a', 'b']));
    expect(statuses.slice(10).every((s) => s.status === 429)).toBe(true);

    // Another agency still has its own ten, at either instance.
    const csc = await a.issuers.token({ agency: 'test-csc', scope: 'decisions' });
    const other = await request(b.app)
      .post('/v1/decisions')
      .set('Authorization', `Bearer ${csc}`)
      .send({
        ...encompass,
        from: { agencyType: 'childrens_social_care' },
        to: { agencyType: 'police', role: 'police_officer' },
        purpose: 'child_protection_enquiry',
        fields: ['name'],
        facts: {},
      });
    expect(other.status).toBe(200);

    const decisions = await a.db.asOwner<{ n: string }>("SELECT count(*)::text AS n FROM audit_ledger WHERE kind = 'decision'");
    expect(Number(decisions[0]!.n)).toBe(11);
    const refused = await a.db.asOwner<{ n: string }>(
      "SELECT count(*)::text AS n FROM audit_ledger WHERE kind = 'request_refused' AND outcome = 'rate_limited'",
    );
    expect(Number(refused[0]!.n)).toBe(4);
    const verified = await verifyLedger(a.pool);
    expect(verified.ok).toBe(true);
  });

  it('continues at one instance a session made at the other (sessions in PostgreSQL, one shared secret)', async () => {
    const secret = 'the-session-secret-every-instance-reads-from-config';
    const pages = (gw: TestGateway) => {
      const store = postgresSessionStore(gw.pool, (m) => {
        throw new Error(m);
      });
      const app = express();
      app.use(sessionMiddleware({ secret, secureCookie: false, store }));
      app.post('/start', (req, res) => {
        req.session.journey = { purpose: 'operation_encompass', toAgencyType: 'school' };
        res.json({ ok: true });
      });
      app.get('/continue', (req, res) => {
        res.json({ journey: req.session.journey ?? null });
      });
      return { app, store };
    };
    const one = pages(a);
    const two = pages(b);
    try {
      const started = await request(one.app).post('/start');
      const cookie = started.headers['set-cookie'] as unknown as string[];
      expect(cookie?.[0]).toMatch(/^sg_session=/);
      const rows = await a.db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM web_sessions');
      expect(Number(rows[0]!.n)).toBe(1);

      const continued = await request(two.app).get('/continue').set('Cookie', cookie[0]!.split(';')[0]!);
      expect(continued.body.journey).toEqual({ purpose: 'operation_encompass', toAgencyType: 'school' });

      // A cookie signed with another secret is a new, empty session: the secret must be shared, not just the table.
      const stranger = express();
      stranger.use(sessionMiddleware({ secret: 'another-secret-another-secret-another-secret', secureCookie: false, store: two.store }));
      stranger.get('/continue', (req, res) => res.json({ journey: req.session.journey ?? null }));
      const refused = await request(stranger).get('/continue').set('Cookie', cookie[0]!.split(';')[0]!);
      expect(refused.body.journey).toBeNull();
    } finally {
      one.store.close();
      two.store.close();
    }
  });
});
