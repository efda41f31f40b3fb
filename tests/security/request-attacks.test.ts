/**
 * Hostile request bodies, query strings and paths against the real gateway (real tokens, real PostgreSQL).
 * For every attack: the EXACT status, problem+json without a stack trace or SQL text, nothing of a decision or a
 * ledger entry in the body, and the attempt recorded in the ledger (`request_refused`, found by X-Request-Id).
 * Invariants 2 (fail closed) and 5 (bad input → problem+json, never a partial write).
 */
import net, { type AddressInfo } from 'node:net';
import request, { type Response } from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  subjectRef: 'NP-2026-009999',
  fields: ['name', 'incident_date', 'child_involvement'],
  // hours_since_incident 0: the next school day cannot have started since, so the notification is in time whenever the test runs.
  facts: { child_present_at_incident: true, hours_since_incident: 0 },
};

/** Members of a decision answer or an auditor page: none may appear in a refusal. */
const DATA_MEMBERS = [
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
  'nextCursor',
  'payload',
  'entryHash',
];
const SQL_TEXT = /syntax error|SELECT |INSERT |audit_ledger|postgres|pg_|relation "|column "|invalid input syntax|unterminated/i;
const STACK = /at [^\s]+ \(?[^)]*\.(js|ts):\d+/;

let gw: TestGateway;
let police: string;
let auditor: string;

beforeAll(async () => {
  gw = await startTestGateway({ bodyBytes: 32 * 1024 });
  police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-9', scope: 'audit:read' });
  // Something real to find, so a leak would have something to leak.
  for (let i = 0; i < 3; i++)
    await request(gw.app).post('/v1/decisions').set('Authorization', `Bearer ${police}`).send(encompass).expect(200);
});
afterAll(async () => {
  await gw?.close();
});

/** Exact status and code, problem+json, no data, no stack, no SQL. */
function expectRefusal(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
  expect(res.body.requestId).toBe(res.headers['x-request-id']);
  for (const member of DATA_MEMBERS) expect(res.body).not.toHaveProperty(member);
  expect(res.text).not.toMatch(STACK);
  expect(res.text).not.toMatch(SQL_TEXT);
  expect(res.text).not.toContain('NP-2026-009999');
}

/** Exactly one ledger entry for the request: a refusal with this code and status, by this agency (or nobody). */
async function expectRecorded(res: Response, code: string, agencyId: string | null): Promise<Record<string, unknown>> {
  const rows = await gw.db.asOwner<{ kind: string; outcome: string; agency_id: string | null; payload: Record<string, unknown> }>(
    'SELECT kind, outcome, agency_id, payload FROM audit_ledger WHERE request_id = $1',
    [res.headers['x-request-id']],
  );
  expect(rows.map((r) => ({ kind: r.kind, outcome: r.outcome, agency_id: r.agency_id }))).toEqual([
    { kind: 'request_refused', outcome: code, agency_id: agencyId },
  ]);
  const payload = rows[0]!.payload;
  expect(payload.status).toBe(res.status);
  return payload;
}

const postDecision = (body: string | object, token = police) =>
  request(gw.app)
    .post('/v1/decisions')
    .set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'application/json')
    .send(typeof body === 'string' ? body : JSON.stringify(body));
const getAudit = (pathAndQuery: string, token = auditor) => request(gw.app).get(pathAndQuery).set('Authorization', `Bearer ${token}`);

describe('body size and shape', () => {
  it('an oversized body → 413, recorded (with the caller) before the answer', async () => {
    const res = await postDecision({ ...encompass, subjectRef: 'x'.repeat(40 * 1024) });
    expectRefusal(res, 413, 'payload_too_large');
    await expectRecorded(res, 'payload_too_large', 'test-police');
  });

  it('an oversized body sent chunked (no Content-Length to check up front) → 413, recorded', async () => {
    const server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1');
        let text = '';
        socket.setTimeout(10_000, () => reject(new Error(`no answer within 10 s (got: ${JSON.stringify(text.slice(0, 300))})`)));
        socket.on('data', (d) => {
          text += d.toString('utf8');
          if (/\r\n\r\n[\s\S]*\}$/.test(text)) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
        socket.write(
          `POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${police}\r\nContent-Type: application/json\r\n` +
            `Transfer-Encoding: chunked\r\nX-Request-Id: chunked-oversize-0001\r\n\r\n`,
        );
        const chunk = `{"subjectRef":"${'y'.repeat(8 * 1024)}`;
        socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
        for (let i = 0; i < 8; i++) socket.write(`2000\r\n${'y'.repeat(0x2000)}\r\n`);
        socket.write('2\r\n"}\r\n0\r\n\r\n');
      });
      expect(raw).toMatch(/^HTTP\/1\.1 413 /);
      expect(raw).toMatch(/content-type: application\/problem\+json/i);
      const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      expect(body.code).toBe('payload_too_large');
      for (const member of DATA_MEMBERS) expect(body).not.toHaveProperty(member);
      expect(raw).not.toContain('yyyyyyyy');
      const rows = await gw.db.asOwner<{ kind: string; outcome: string; agency_id: string }>(
        'SELECT kind, outcome, agency_id FROM audit_ledger WHERE request_id = $1',
        ['chunked-oversize-0001'],
      );
      expect(rows).toEqual([{ kind: 'request_refused', outcome: 'payload_too_large', agency_id: 'test-police' }]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it.each([
    [
      'as an unknown top-level member',
      (deep: string) =>
        `{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},"purpose":"operation_encompass","subjectRole":"child","fields":["name"],"deep":${deep}}`,
      '/deep',
    ],
    [
      'in facts',
      (deep: string) =>
        `{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},"purpose":"operation_encompass","subjectRole":"child","fields":["name"],"facts":${deep}}`,
      '/facts',
    ],
    [
      'as a field',
      (deep: string) =>
        `{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},"purpose":"operation_encompass","subjectRole":"child","fields":[${deep}]}`,
      '/fields/0',
    ],
    [
      'as a word',
      (deep: string) =>
        `{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":${deep}},"purpose":"operation_encompass","subjectRole":"child","fields":["name"]}`,
      '/to/role',
    ],
  ])('JSON nested 10,000 levels deep %s → 400 before any recursive code sees it, and the process stays healthy', async (_where, build) => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const body = build(deep);
    expect(body.length).toBeLessThan(32 * 1024);
    const res = await postDecision(body);
    expectRefusal(res, 400, 'bad_request');
    expect(res.body.detail).toMatch(/nests deeper than \d+ levels/);
    const payload = await expectRecorded(res, 'bad_request', 'test-police');
    // The refusal records pointers, never the submitted structure.
    expect(JSON.stringify(payload).length).toBeLessThan(4000);
    await request(gw.app).get('/healthz').expect(200);
    await postDecision(encompass).expect(200);
  });

  it.each([
    [
      'as a word',
      (deep: string) => ({ ...encompass, to: { agencyType: 'school', role: JSON.parse(deep) as unknown } }),
      '/to/role',
      'unknown_word',
    ],
    [
      'as a field',
      (deep: string) => ({ ...encompass, fields: [JSON.parse(deep) as unknown, JSON.parse(deep) as unknown] }),
      '/fields/0',
      'unknown_word',
    ],
    [
      'as a fact',
      (deep: string) => ({ ...encompass, facts: { hours_since_incident: JSON.parse(deep) as unknown } }),
      '/facts/hours_since_incident',
      'invalid_request',
    ],
  ])(
    'JSON nested a little (10 levels) %s → 400 naming the pointer, without echoing the structure',
    async (_where, build, pointer, code) => {
      const deep = `${'['.repeat(10)}"x"${']'.repeat(10)}`;
      const res = await postDecision(build(deep));
      expectRefusal(res, 400, code);
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
      await expectRecorded(res, code, 'test-police');
    },
  );

  it.each([
    [
      '__proto__ at the top level',
      '{"__proto__":{"polluted":"yes"},"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},' +
        '"purpose":"operation_encompass","subjectRole":"child","fields":["name"]}',
      '/__proto__',
    ],
    [
      'constructor.prototype at the top level',
      '{"constructor":{"prototype":{"polluted":"yes"}},"from":{"agencyType":"police"},"to":{"agencyType":"school",' +
        '"role":"designated_safeguarding_lead"},"purpose":"operation_encompass","subjectRole":"child","fields":["name"]}',
      '/constructor',
    ],
    [
      '__proto__ in facts',
      '{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},' +
        '"purpose":"operation_encompass","subjectRole":"child","fields":["name"],"facts":{"__proto__":{"polluted":"yes",' +
        '"child_present_at_incident":true}}}',
      '/facts/__proto__',
    ],
    [
      'constructor.prototype in facts',
      '{"from":{"agencyType":"police"},"to":{"agencyType":"school","role":"designated_safeguarding_lead"},' +
        '"purpose":"operation_encompass","subjectRole":"child","fields":["name"],"facts":{"constructor":{"prototype":{"polluted":"yes"}}}}',
      '/facts/constructor',
    ],
    [
      '__proto__ inside from',
      '{"from":{"agencyType":"police","__proto__":{"agencyType":"school","polluted":"yes"}},"to":{"agencyType":"school",' +
        '"role":"designated_safeguarding_lead"},"purpose":"operation_encompass","subjectRole":"child","fields":["name"]}',
      '/from/__proto__',
    ],
  ])('prototype pollution: %s → 400, and no object is polluted', async (_what, body, pointer) => {
    const res = await postDecision(body);
    expectRefusal(res, 400, res.body.code === 'unknown_word' ? 'unknown_word' : 'invalid_request');
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'child_present_at_incident')).toBe(false);
    await expectRecorded(res, res.body.code, 'test-police');
    // The next ordinary request is decided on its own facts, not on anything inherited.
    const next = await postDecision({ ...encompass, facts: {} });
    expect(next.status).toBe(200);
    expect(next.body.decision).not.toBe('permit');
  });

  it('an unknown top-level member (e.g. a record to smuggle in, or a role for the caller) → 400 naming it', async () => {
    const res = await postDecision({ ...encompass, role: 'auditor', record: { name: 'Jane Doe' } });
    expectRefusal(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: '/role', word: 'role' }),
        expect.objectContaining({ pointer: '/record', word: 'record' }),
      ]),
    );
    expect(res.text).not.toContain('Jane Doe');
    const payload = await expectRecorded(res, 'invalid_request', 'test-police');
    expect(JSON.stringify(payload)).not.toContain('Jane Doe');
  });

  it('a body that is not JSON, or JSON of the wrong type → 400', async () => {
    for (const body of ['[1,2,3]', '"a string"', 'null', '{"from": {"agencyType": "police"},}']) {
      const res = await postDecision(body);
      expect(res.status).toBe(400);
      expectRefusal(res, 400, res.body.code);
      expect(['bad_request', 'invalid_request']).toContain(res.body.code);
      await expectRecorded(res, res.body.code, 'test-police');
    }
  });
});

describe('SQL-looking input', () => {
  const injection = "' OR 1=1--";

  it.each([
    ['agencyId', `agencyId=${encodeURIComponent(injection)}`],
    ['rule', `rule=${encodeURIComponent(`x'); DROP TABLE audit_ledger;--`)}`],
    ['since', `since=${encodeURIComponent("2026-01-01' OR '1'='1")}`],
    ['cursor', `cursor=${encodeURIComponent(injection)}`],
    ['limit', `limit=${encodeURIComponent('1; SELECT pg_sleep(10)')}`],
  ])('in the audit filter %s → 400 with no SQL text', async (_name, query) => {
    const res = await getAudit(`/v1/audit?${query}`);
    expectRefusal(res, 400, 'invalid_request');
    await expectRecorded(res, 'invalid_request', 'test-csc');
  });

  // `outcome` and `kind` are closed lists (src/audit/kinds.ts): anything else is an unknown word, named back.
  it.each([
    ['outcome', `outcome=${encodeURIComponent(injection)}`],
    // (The unknown word is echoed back by name, so this one carries no SQL keyword the check below looks for.)
    ['kind', `kind=${encodeURIComponent("decision' OR '1'='1")}`],
  ])('in the audit filter %s → 400 unknown word with no SQL text', async (_name, query) => {
    const res = await getAudit(`/v1/audit?${query}`);
    expectRefusal(res, 400, 'unknown_word');
    await expectRecorded(res, 'unknown_word', 'test-csc');
  });

  it('as an entry id → 404 with no SQL text', async () => {
    for (const id of [injection, "00000000-0000-4000-8000-000000000000' OR '1'='1", '1 OR 1=1', "'; DROP TABLE audit_ledger; --"]) {
      const res = await getAudit(`/v1/audit/entries/${encodeURIComponent(id)}`);
      expectRefusal(res, 404, 'not_found');
      await expectRecorded(res, 'not_found', 'test-csc');
    }
    // The ledger is still there and intact.
    const verify = await getAudit('/v1/audit/verify');
    expect(verify.status).toBe(200);
    expect(verify.body.ok).toBe(true);
  });

  it('as a subject reference → 400 (the pattern refuses it before anything is hashed or stored)', async () => {
    const res = await postDecision({ ...encompass, subjectRef: injection });
    expectRefusal(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/subjectRef' })]);
    await expectRecorded(res, 'invalid_request', 'test-police');
  });
});

describe('unicode confusables', () => {
  it('a Cyrillic "о" in an agency id filter → 400, not an empty page', async () => {
    const res = await getAudit(`/v1/audit?agencyId=${encodeURIComponent('test-p\u043elice')}`);
    expectRefusal(res, 400, 'invalid_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/agencyId' })]);
    await expectRecorded(res, 'invalid_request', 'test-csc');
    // The real id finds the police decisions.
    const real = await getAudit('/v1/audit?agencyId=test-police&kind=decision');
    expect(real.status).toBe(200);
    expect(real.body.entries.length).toBeGreaterThan(0);
  });

  it('a Cyrillic "о" in a vocabulary word → 400 unknown word naming the allowed values', async () => {
    const res = await postDecision({ ...encompass, from: { agencyType: 'p\u043elice' } });
    expectRefusal(res, 400, 'unknown_word');
    expect(res.body.errors).toEqual([
      expect.objectContaining({ pointer: '/from/agencyType', allowed: expect.arrayContaining(['police']) }),
    ]);
    await expectRecorded(res, 'unknown_word', 'test-police');
  });

  it('fullwidth digits (and other look-alikes) in an entry uuid → 404', async () => {
    const [row] = await gw.db.asOwner<{ entry_id: string }>(
      "SELECT entry_id::text AS entry_id FROM audit_ledger WHERE kind = 'decision' ORDER BY seq LIMIT 1",
    );
    const real = row!.entry_id;
    const fullwidth = real.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    const arabicIndic = real.replace(/[0-9]/g, (d) => String.fromCharCode(0x0660 + Number(d)));
    const cyrillicA = real.replace(/a/g, '\u0430');
    const upper = real.toUpperCase();
    for (const id of [fullwidth, arabicIndic, cyrillicA, upper].filter((x) => x !== real)) {
      const res = await getAudit(`/v1/audit/entries/${encodeURIComponent(id)}`);
      expectRefusal(res, 404, 'not_found');
      await expectRecorded(res, 'not_found', 'test-csc');
    }
    const ok = await getAudit(`/v1/audit/entries/${real}`);
    expect(ok.status).toBe(200);
    expect(ok.body.entryId).toBe(real);
  });
});

describe('paging abuse', () => {
  it.each([
    ['limit=100000', 'limit=100000'],
    ['a negative limit', 'limit=-5'],
    ['a zero limit', 'limit=0'],
    ['a fractional limit', 'limit=2.5'],
    ['a limit that is not a number', 'limit=all'],
    ['two limits', 'limit=1&limit=200'],
    ['a cursor that is not base64url', `cursor=${encodeURIComponent('../../etc/passwd')}`],
    ['a cursor that is too long', `cursor=${'A'.repeat(500)}`],
    ['an unknown parameter', 'offset=10'],
  ])('%s → 400 invalid_request', async (_what, query) => {
    const res = await getAudit(`/v1/audit?${query}`);
    expectRefusal(res, 400, 'invalid_request');
    await expectRecorded(res, 'invalid_request', 'test-csc');
  });

  it.each([
    ['garbage', 'Z2FyYmFnZQ'],
    ['JSON of the wrong shape', Buffer.from(JSON.stringify({ v: 1, b: -1, f: 'x' })).toString('base64url')],
    [
      'a forged cursor with a made-up filter fingerprint',
      Buffer.from(JSON.stringify({ v: 1, b: 2, f: '0123456789abcdef' })).toString('base64url'),
    ],
    ['a cursor with a huge seq', Buffer.from(JSON.stringify({ v: 1, b: 1e300, f: 'x' })).toString('base64url')],
  ])('a cursor of %s → 400 bad_request at /cursor', async (_what, cursor) => {
    const res = await getAudit(`/v1/audit?cursor=${cursor}`);
    expectRefusal(res, 400, 'bad_request');
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/cursor' })]);
    await expectRecorded(res, 'bad_request', 'test-csc');
  });

  it('a cursor issued for another filter → 400', async () => {
    const first = await getAudit('/v1/audit?kind=decision&limit=1');
    expect(first.status).toBe(200);
    const cursor = first.body.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    for (const other of ['kind=request_refused', 'agencyId=test-police', '']) {
      const res = await getAudit(`/v1/audit?${other}${other ? '&' : ''}cursor=${cursor}&limit=1`);
      expectRefusal(res, 400, 'bad_request');
      expect(res.body.detail).toMatch(/different filters/);
      await expectRecorded(res, 'bad_request', 'test-csc');
    }
    // With its own filter it still works.
    const second = await getAudit(`/v1/audit?kind=decision&limit=1&cursor=${cursor}`);
    expect(second.status).toBe(200);
  });
});
