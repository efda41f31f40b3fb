/**
 * Webhook subscriptions (POST/GET/DELETE /v1/webhooks): real tokens, real PostgreSQL, the real ledger.
 * The routes are mounted in front of the real app here, as src/http/app.ts is to mount them (see the report).
 */
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler } from 'express';
import { Pool } from 'pg';
import request from 'supertest';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { requireAuth } from '../../src/auth/middleware';
import { createTokenVerifier } from '../../src/auth/token-verifier';
import { syncAgencies } from '../../src/db/registry-sync';
import { problemFor, sendProblem } from '../../src/http/problem';
import { notificationsOpenApi, notificationsRouter } from '../../src/http/routes/notifications';
import { checkWebhookUrl, classifyAddress, verifyWebhookUrl } from '../../src/notifications/webhook-url';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startTestIssuers, type TestIssuers } from '../support/token-factory';

const problems: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  sendProblem(res, problemFor(err, { error: () => undefined }));
};

describe('webhook subscriptions', () => {
  let db: TestDatabase;
  let issuers: TestIssuers;
  let pool: Pool;
  let ledger: PgAuditLedger;
  let app: express.Express;
  const tokens: Record<string, string> = {};
  // DNS for the tests: public names resolve to a documentation-free public address, "rebind" names to a private one.
  const resolve = async (host: string): Promise<string[]> => {
    if (host === 'hooks.school.example.org') return ['93.184.216.34'];
    if (host === 'sneaky.example.org') return ['93.184.216.34', '10.1.2.3'];
    throw new Error('ENOTFOUND');
  };

  function build(allowInsecureWebhooks: boolean): express.Express {
    const verifier = createTokenVerifier({ agencies: issuers.agencies, audience: issuers.audience, allowInsecureIssuers: true });
    const a = express();
    a.use((_req, res, next) => {
      res.locals.requestId = randomUUID();
      next();
    });
    a.use('/v1', requireAuth(verifier), express.json(), notificationsRouter({ pool, ledger, allowInsecureWebhooks, resolve }));
    a.use(problems);
    return a;
  }

  const post = (who: string, body: unknown, to: express.Express = app) =>
    request(to)
      .post('/v1/webhooks')
      .set('Authorization', `Bearer ${tokens[who]}`)
      .send(body as object);
  const list = (who: string) => request(app).get('/v1/webhooks').set('Authorization', `Bearer ${tokens[who]}`);
  const remove = (who: string, id: string) => request(app).delete(`/v1/webhooks/${id}`).set('Authorization', `Bearer ${tokens[who]}`);

  beforeAll(async () => {
    db = await createTestDatabase();
    issuers = await startTestIssuers(['police', 'school', 'csc', 'mash']);
    await syncAgencies(db.ownerUrl, issuers.agencies);
    pool = new Pool({ connectionString: db.appUrl, max: 4 });
    ledger = new PgAuditLedger(pool);
    app = build(false);
    tokens.school = await issuers.token({ agency: 'test-school', scope: 'webhooks' });
    tokens.schoolNoScope = await issuers.token({ agency: 'test-school', scope: 'records:read' });
    tokens.police = await issuers.token({ agency: 'test-police', scope: 'webhooks' });
    tokens.csc = await issuers.token({ agency: 'test-csc', sub: 'sw-1', role: 'social_worker', scope: 'webhooks' });
  });
  afterAll(async () => {
    await ledger.close();
    await pool.end();
    await issuers.close();
    await db.drop();
  });

  it('registers an https endpoint, lists it for its own agency only, and records the change in the ledger', async () => {
    const res = await post('school', {
      url: 'https://hooks.school.example.org/encompass',
      events: ['operation_encompass.notification', 'record.disclosed'],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      url: 'https://hooks.school.example.org/encompass',
      events: ['operation_encompass.notification', 'record.disclosed'],
      createdAt: expect.any(String),
    });
    expect(res.headers.location).toBe(`/v1/webhooks/${res.body.id}`);

    expect((await list('school')).body.webhooks).toEqual([res.body]);
    expect((await list('police')).body.webhooks).toEqual([]);

    const entries = await db.asOwner<{ kind: string; outcome: string; agency_id: string; payload: Record<string, unknown> }>(
      "SELECT kind, outcome, agency_id, payload FROM audit_ledger WHERE kind = 'webhook'",
    );
    expect(entries).toEqual([
      {
        kind: 'webhook',
        outcome: 'registered',
        agency_id: 'test-school',
        payload: {
          subscriptionId: res.body.id,
          events: ['operation_encompass.notification', 'record.disclosed'],
          endpoint: 'https://hooks.school.example.org',
        },
      },
    ]);
  });

  it('refuses the same URL twice (409)', async () => {
    const res = await post('school', { url: 'https://hooks.school.example.org/encompass', events: ['record.disclosed'] });
    expect(res.status).toBe(409);
  });

  it.each([
    ['plain http', 'http://hooks.school.example.org/x', 'must use https'],
    ['a private address', 'https://10.0.0.5/x', 'private, internal or reserved'],
    ['a private address (192.168)', 'https://192.168.1.20/x', 'private, internal or reserved'],
    ['the cloud metadata address', 'https://169.254.169.254/latest/meta-data', 'private, internal or reserved'],
    ['shared address space', 'https://100.64.1.1/x', 'private, internal or reserved'],
    ['an IPv6 unique local address', 'https://[fd00::1]/x', 'private, internal or reserved'],
    ['an IPv4-mapped IPv6 address', 'https://[::ffff:10.0.0.1]/x', 'private, internal or reserved'],
    ['IPv4 shorthand for loopback', 'https://127.1/x', "gateway's own machine"],
    ['a decimal IPv4 address for loopback', 'https://2130706433/x', "gateway's own machine"],
    ['loopback without the development flag', 'http://127.0.0.1:8080/x', 'must use https'],
    ['localhost over https without the development flag', 'https://localhost/x', "gateway's own machine"],
    ['an internal name', 'https://intranet/x', 'public host'],
    ['a .internal name', 'https://hooks.corp.internal/x', 'public host'],
    ['credentials in the URL', 'https://user:pw@hooks.school.example.org/x', 'user name or password'],
    ['a name that resolves to a private address', 'https://sneaky.example.org/x', 'resolves to a private'],
    ['a name that does not resolve', 'https://nowhere.example.org/x', 'could not be found'],
    ['not a URL', 'hooks.school.example.org', 'not a valid absolute URL'],
    ['another scheme', 'ftp://hooks.school.example.org/x', 'must use https'],
  ])('refuses %s (400, nothing stored)', async (_what, url, detail) => {
    const before = await db.asOwner<{ n: string }>('SELECT count(*) AS n FROM webhook_subscriptions');
    const res = await post('police', { url, events: ['record.disclosed'] });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toContain(detail);
    expect(res.body.errors[0].pointer).toBe('/url');
    expect(await db.asOwner<{ n: string }>('SELECT count(*) AS n FROM webhook_subscriptions')).toEqual(before);
  });

  it('allows http to 127.0.0.1 or localhost only with ALLOW_INSECURE_WEBHOOKS, and still never a private address', async () => {
    const dev = build(true);
    expect((await post('police', { url: 'http://127.0.0.1:9999/hook', events: ['record.disclosed'] }, dev)).status).toBe(201);
    expect((await post('police', { url: 'http://localhost:9999/hook', events: ['record.disclosed'] }, dev)).status).toBe(201);
    expect((await post('police', { url: 'http://10.0.0.5/hook', events: ['record.disclosed'] }, dev)).status).toBe(400);
    expect((await post('police', { url: 'http://hooks.school.example.org/hook', events: ['record.disclosed'] }, dev)).status).toBe(400);
  });

  it('refuses an event the agency can never receive, naming it', async () => {
    const res = await post('police', {
      url: 'https://hooks.school.example.org/police',
      events: ['record.disclosed', 'operation_encompass.notification'],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      expect.objectContaining({ pointer: '/events/1', detail: expect.stringContaining('school or early_years') }),
    ]);
    const csc = await post('csc', { url: 'https://hooks.school.example.org/csc', events: ['household.perpetrator_joined'] });
    expect(csc.status).toBe(201);
  });

  it('refuses an unknown event word by name (400 unknown_word)', async () => {
    const res = await post('school', { url: 'https://hooks.school.example.org/other', events: ['everything'] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('unknown_word');
    expect(res.body.errors[0]).toEqual(
      expect.objectContaining({ pointer: '/events/0', word: 'everything', allowed: expect.arrayContaining(['record.disclosed']) }),
    );
  });

  it('needs the webhooks scope', async () => {
    expect((await request(app).get('/v1/webhooks').set('Authorization', `Bearer ${tokens.schoolNoScope}`)).status).toBe(403);
    expect((await request(app).get('/v1/webhooks')).status).toBe(401);
  });

  it('lets an agency remove only its own webhooks: another agency gets the same 404 as a missing id', async () => {
    const mine = (await list('school')).body.webhooks[0] as { id: string };
    const theirs = await remove('police', mine.id);
    const missing = await remove('police', randomUUID());
    expect(theirs.status).toBe(404);
    expect(theirs.body.detail).toBe(missing.body.detail);
    expect((await list('school')).body.webhooks).toHaveLength(1);

    expect((await remove('school', mine.id)).status).toBe(204);
    expect((await list('school')).body.webhooks).toEqual([]);
    expect((await remove('school', mine.id)).status).toBe(404);
    // The row is kept (removed_at), and the removal is in the ledger.
    expect(await db.asOwner('SELECT removed_at IS NOT NULL AS removed FROM webhook_subscriptions WHERE id = $1', [mine.id])).toEqual([
      { removed: true },
    ]);
    const entries = await db.asOwner<{ outcome: string }>(
      "SELECT outcome FROM audit_ledger WHERE kind = 'webhook' AND payload->>'subscriptionId' = $1 ORDER BY seq",
      [mine.id],
    );
    expect(entries.map((e) => e.outcome)).toEqual(['registered', 'removed']);
  });

  it('changes nothing when the ledger cannot record the change (503)', async () => {
    await db.asOwner('REVOKE INSERT ON audit_ledger FROM safeguard_app');
    try {
      const res = await post('school', { url: 'https://hooks.school.example.org/outage', events: ['record.disclosed'] });
      expect(res.status).toBe(503);
    } finally {
      await db.asOwner('GRANT INSERT ON audit_ledger TO safeguard_app');
    }
    expect(await db.asOwner("SELECT id FROM webhook_subscriptions WHERE url LIKE '%outage%'")).toEqual([]);
  });

  it('gives the application role no DELETE on the notification tables', async () => {
    const privileges = await db.asOwner<{ t: string; p: string; has: boolean }>(
      `SELECT t, p, has_table_privilege('safeguard_app', t, p) AS has
         FROM unnest(ARRAY['webhook_subscriptions', 'outbox', 'outbox_cursors']) AS t, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p`,
    );
    const granted = (t: string) =>
      privileges
        .filter((r) => r.t === t && r.has)
        .map((r) => r.p)
        .sort();
    expect(granted('webhook_subscriptions')).toEqual(['INSERT', 'SELECT', 'UPDATE']);
    expect(granted('outbox')).toEqual(['INSERT', 'SELECT', 'UPDATE']);
    expect(granted('outbox_cursors')).toEqual(['SELECT', 'UPDATE']);
  });

  it('describes the routes in OpenAPI', () => {
    const doc = notificationsOpenApi();
    expect(Object.keys(doc.paths).sort()).toEqual(['/v1/webhooks', '/v1/webhooks/{webhookId}']);
    expect(doc.schemas).toHaveProperty('CreateWebhook');
  });
});

describe('webhook URL checks', () => {
  it('classifies addresses with the platform block list', () => {
    expect(classifyAddress('93.184.216.34')).toBe('public');
    expect(classifyAddress('2606:4700::1111')).toBe('public');
    expect(classifyAddress('127.0.0.1')).toBe('loopback');
    expect(classifyAddress('::1')).toBe('loopback');
    expect(classifyAddress('::ffff:7f00:1')).toBe('loopback');
    for (const a of [
      '10.0.0.1',
      '172.16.5.4',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      'fe80::1',
      'fc00::1',
      '::ffff:a00:1',
      '64:ff9b::a00:1',
      'not-an-ip',
    ]) {
      expect([a, classifyAddress(a)]).toEqual([a, 'private']);
    }
  });

  it('checks again at delivery time without the network', async () => {
    expect(checkWebhookUrl('https://hooks.school.example.org/x', { allowInsecure: false }).ok).toBe(true);
    expect(checkWebhookUrl('https://[::1]/x', { allowInsecure: true }).ok).toBe(true);
    expect((await verifyWebhookUrl('https://hooks.school.example.org/x', { allowInsecure: false }, async () => [])).ok).toBe(false);
  });
});
