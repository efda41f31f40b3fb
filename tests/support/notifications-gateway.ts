/**
 * The gateway the notification tests run against (tests/integration/notifications-delivery and -alerts): a whole
 * gateway as src/gateway.ts assembles it on a fresh database, with real test issuers and tokens, a real HTTP
 * receiver on 127.0.0.1 that notes whether each message's ledger entry was already committed when it arrived, a
 * dispatcher the test runs by hand, the school and the area agencies subscribed, and one child the school knows.
 * `useNotificationsGateway()` is called inside a describe: it registers the beforeAll/afterAll that start and stop
 * all of it, and returns the helpers (and, after beforeAll, the gateway's parts).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type express from 'express';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import type { Pool } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { contentHash, type AuditLedger } from '../../src/audit/entry';
import { pseudonymiser } from '../../src/audit/pseudonym';
import { syncAgencies } from '../../src/db/registry-sync';
import { assemble, type Assembled } from '../../src/gateway';
import type { GatewayKeys } from '../../src/keys/gateway-keys';
import { startDispatcher, type Dispatcher } from '../../src/notifications/dispatcher';
import { loadPolicyCatalogue } from '../../src/policy';
import { createTestDatabase, type TestDatabase } from './db';
import { testGatewayConfig } from './gateway-harness';
import { startTestIssuers, type TestIssuers } from './token-factory';

export const FULL_REPORT = 'FULL-REPORT: officers attended at 22:10 and found (synthetic) details.';
export const HOUR = 60 * 60 * 1000;
export const OE_FIELDS = ['name', 'date_of_birth', 'incident_date', 'incident_summary', 'children_present', 'child_involvement'];
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A valid NHS number (mod 11 check digit) from a 9-digit stem. */
function nhs(stem: number): string {
  for (let s = stem; ; s++) {
    const digits = String(s).padStart(9, '0').split('').map(Number);
    const check = 11 - (digits.reduce((sum, d, i) => sum + d * (10 - i), 0) % 11);
    if (check === 10) continue;
    return `${digits.join('')}${check === 11 ? 0 : check}`;
  }
}

/** The payload of a compact JWS as text, unverified (only to find a message; every assertion on content verifies first). */
export const claimsOf = (jws: string): string => Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8');

export interface Received {
  readonly path: string;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly messageId: string;
  readonly body: string;
  readonly ledgerHadIt: boolean;
}

export function useNotificationsGateway() {
  let db: TestDatabase;
  let issuers: TestIssuers;
  let gateway: Assembled;
  let pool: Pool;
  let ledger: AuditLedger;
  let keys: GatewayKeys;
  let app: express.Express;
  let dispatcher: Dispatcher;
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const statusFor: Record<string, number> = {};
  const tokens: Record<string, string> = {};
  const engine = loadPolicyCatalogue('policies');
  let childId: string;
  let nhsStem = 100000000;

  const auth = (r: request.Test, who: string) => r.set('Authorization', `Bearer ${tokens[who]}`);
  const post = (p: string, who: string, body: unknown) =>
    auth(request(app).post(p), who)
      .set('Idempotency-Key', randomUUID())
      .send(body as object);
  const ok = async <T>(res: Promise<request.Response> | request.Response, status = 201): Promise<T> => {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r.body as T;
  };
  const outboxRows = (where = 'true', params: unknown[] = []) =>
    db.asOwner<{
      id: string;
      kind: string;
      target_agency_id: string;
      status: string;
      attempts: number;
      deadline: Date | null;
      last_error: string | null;
      last_status_code: number | null;
      payload: Record<string, unknown>;
    }>(
      `SELECT id, kind, target_agency_id, status, attempts, deadline, last_error, last_status_code, payload FROM outbox WHERE ${where} ORDER BY created_at, id`,
      params,
    );
  const ledgerFor = (outboxId: string) =>
    db.asOwner<{ seq: string; kind: string; outcome: string; purpose: string | null; rules: string[]; payload: Record<string, unknown> }>(
      "SELECT seq, kind, outcome, purpose, rules, payload FROM audit_ledger WHERE payload->>'outboxId' = $1 ORDER BY seq",
      [outboxId],
    );
  const deliveredTo = (p: string) => received.filter((r) => r.path === p);

  async function drain(done: () => Promise<boolean>, tries = 40): Promise<void> {
    for (let i = 0; i < tries; i++) {
      await dispatcher.runOnce();
      if (await done()) return;
      await sleep(15);
    }
    throw new Error('the outbox did not settle');
  }
  const settled = (id: string) => async () => (await outboxRows('id = $1', [id]))[0]?.status !== 'pending';

  async function verify(jws: string) {
    const jwks = (await request(app).get('/.well-known/jwks.json')).body as JSONWebKeySet;
    const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
    return {
      header: protectedHeader,
      claims: JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown> & { data: Record<string, unknown> },
    };
  }

  async function newChild(name: string): Promise<string> {
    const id = nhs((nhsStem += 1000));
    const child = (
      await ok<{ id: string }>(
        post('/v1/persons', 'police', { identifiers: { nhs_number: id }, fields: { name, date_of_birth: '2018-03-01' } }),
      )
    ).id;
    await ok(post('/v1/persons', 'school', { identifiers: { nhs_number: id } }), 200); // the school knows the child: it is "their" pupil
    return child;
  }
  const incident = (subjectPersonId: string, at: Date, extra: Record<string, unknown> = {}) => ({
    kind: 'incident',
    subjectPersonId,
    subjectRole: 'child',
    classification: 'OFFICIAL-SENSITIVE',
    occurredAt: at.toISOString(),
    fields: {
      incident_date: at.toISOString(),
      incident_summary: 'Shouting and a broken window; the children were upstairs.',
      children_present: 2,
      child_involvement: ['heard'],
      incident_full_report: FULL_REPORT,
      offence_type: 'Criminal damage (domestic)',
    },
    facts: { child_present_at_incident: true },
    ...extra,
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    issuers = await startTestIssuers([
      'police',
      'school',
      'csc',
      'mash',
      'probation',
      { agencyType: 'childrens_social_care', id: 'test-csc-south' },
      { agencyType: 'mash', id: 'test-mash-south' },
    ]);
    await syncAgencies(
      db.ownerUrl,
      issuers.agencies.map((a) => (a.id.endsWith('-south') ? { ...a, area: 'Southshire' } : a)),
    );
    // The gateway as src/gateway.ts assembles it, webhooks to http on loopback allowed (ALLOW_INSECURE_WEBHOOKS);
    // the test runs its own dispatchers, so the background tasks are off.
    gateway = await assemble(
      testGatewayConfig({
        GATEWAY_AUDIENCE: issuers.audience,
        ALLOW_INSECURE_WEBHOOKS: 'true',
        RATE_LIMIT_PER_AGENCY_PER_MINUTE: '100000',
        RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
      }),
      { appDatabaseUrl: db.appUrl, agencies: issuers.agencies, embeddedDatabase: false, webClients: {} },
      pino({ level: 'silent' }),
      { background: false, pages: false },
    );
    ({ app, pool, ledger, keys } = gateway);
    const logger = pino({ level: 'silent' });
    const pseudonymise = pseudonymiser('test-pseudonym-key-test-pseudonym-key');

    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const p = req.url ?? '/';
        const status = statusFor[p] ?? 200;
        // Was the ledger entry for exactly this message already committed when it arrived?
        db.asOwner("SELECT 1 FROM audit_ledger WHERE kind IN ('notification', 'alert') AND payload->>'contentHash' = $1", [
          contentHash(body),
        ]).then(
          (rows) => {
            received.push({
              path: p,
              status,
              contentType: req.headers['content-type'],
              messageId: String(req.headers['x-notification-id']),
              body,
              ledgerHadIt: rows.length === 1,
            });
            res.writeHead(status).end();
          },
          () => res.writeHead(500).end(),
        );
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    receiverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    dispatcher = startDispatcher({
      pool,
      ledger,
      engine,
      keys,
      logger,
      pseudonymise,
      intervalMs: 60_000,
      autoStart: false,
      allowInsecureWebhooks: true,
      maxAttempts: 3,
      backoffBaseMs: 5,
      backoffMaxMs: 20,
      timeoutMs: 5000,
    });

    const mint = (agency: string, role: string, scope: string) => issuers.token({ agency, sub: `${role}-1`, role, scope });
    tokens.police = await mint('test-police', 'police_officer', 'records:read records:write webhooks');
    tokens.school = await mint('test-school', 'designated_safeguarding_lead', 'records:read records:write webhooks');
    tokens.probation = await mint('test-probation', 'probation_officer', 'records:read records:write');
    for (const a of ['test-csc', 'test-mash', 'test-csc-south', 'test-mash-south'])
      tokens[a] = await issuers.token({ agency: a, scope: 'webhooks' });

    await ok(post('/v1/webhooks', 'school', { url: `${receiverUrl}/school`, events: ['operation_encompass.notification'] }));
    for (const a of ['test-csc', 'test-mash', 'test-csc-south', 'test-mash-south'])
      await ok(post('/v1/webhooks', a, { url: `${receiverUrl}/${a}`, events: ['household.perpetrator_joined'] }));
    childId = await newChild('Amy Example');
  });
  afterAll(async () => {
    await dispatcher.stop();
    await gateway.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await issuers.close();
    await db.drop();
  });

  return {
    get db() {
      return db;
    },
    get app() {
      return app;
    },
    get keys() {
      return keys;
    },
    get dispatcher() {
      return dispatcher;
    },
    get receiverUrl() {
      return receiverUrl;
    },
    /** The child the school knows (made in beforeAll). */
    get childId() {
      return childId;
    },
    /** Another valid NHS number, never used before in this run. */
    nextNhs: (): string => nhs((nhsStem += 1000)),
    received,
    statusFor,
    engine,
    auth,
    post,
    ok,
    outboxRows,
    ledgerFor,
    deliveredTo,
    drain,
    settled,
    verify,
    incident,
  };
}
