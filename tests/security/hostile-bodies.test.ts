/**
 * Bodies that could mean something other than what they say, through the real HTTP server with real tokens and
 * PostgreSQL: NUL bytes (PostgreSQL cannot store U+0000), bad Content-Encoding, duplicate JSON keys, charsets other
 * than UTF-8. Each is a 400/415 problem+json (never a 500 or a 503) and, as any refusal of an authenticated caller,
 * recorded in the ledger.
 */
import { gzipSync, brotliCompressSync } from 'node:zlib';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

const encompass = {
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name', 'incident_date', 'child_involvement'],
  facts: { child_present_at_incident: true, hours_since_incident: 10 },
};
const encompassJson = JSON.stringify(encompass);

let gw: TestGateway;
let police: string;
let writer: string;
let auditor: string;
let server: Server;

/** What a test reads of an answer (supertest's Response has the same members). */
interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: Record<string, unknown>;
}

beforeAll(async () => {
  gw = await startTestGateway();
  server = gw.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  police = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  writer = await gw.issuers.token({ agency: 'test-police', sub: 'pc-1', role: 'police_officer', scope: 'records:write records:read' });
  auditor = await gw.issuers.token({ agency: 'test-csc', role: 'auditor', sub: 'auditor-1', scope: 'audit:read' });
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await gw?.close();
});

/** POST /v1/decisions with exactly these bytes and headers (no client-side serialisation or compression). */
function raw(
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Response> & { expect(status: number): Promise<Response> } {
  const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const answer = new Promise<Response>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        path: '/v1/decisions',
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${police}`,
          'content-type': 'application/json',
          'content-length': String(data.length),
          ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = {};
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
  return Object.assign(answer, {
    expect: async (status: number) => {
      const res = await answer;
      expect({ status: res.status, body: res.status === status ? undefined : res.body }).toEqual({ status, body: undefined });
      return res;
    },
  });
}

async function refusalsOf(
  res: Response,
): Promise<
  Array<{ kind: string; outcome: string; agency_id: string | null; payload: { problems: Array<{ pointer: string; word: string | null }> } }>
> {
  return gw.db.asOwner('SELECT kind, outcome, agency_id, payload FROM audit_ledger WHERE request_id = $1', [res.headers['x-request-id']]);
}

async function expectRefused(res: Response, status: number, code: string): Promise<void> {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).not.toHaveProperty('decision');
  expect(res.text).not.toMatch(/at [^\s]+ \(?[^)]*\.(js|ts):\d+|postgres|22021|22P05/i);
  const rows = await refusalsOf(res);
  expect(rows.map((r) => ({ kind: r.kind, outcome: r.outcome, agency_id: r.agency_id }))).toEqual([
    { kind: 'request_refused', outcome: code, agency_id: 'test-police' },
  ]);
}

describe('a NUL byte (item 2)', () => {
  it('in a vocabulary word: the usual 400 naming the word, shown escaped, and recorded', async () => {
    const res = await raw(JSON.stringify({ ...encompass, from: { agencyType: 'school\u0000' } }));
    await expectRefused(res, 400, 'unknown_word');
    const problem = (res.body.errors as Array<{ pointer: string; word: string }>).find((p) => p.pointer === '/from/agencyType');
    expect(problem?.word).toBe('school\\u0000');
    expect(res.body.detail).toContain('"school\\u0000" is not a word the gateway knows here');
    const [row] = await refusalsOf(res);
    expect(row?.payload.problems).toContainEqual({ pointer: '/from/agencyType', word: 'school\\u0000' });
  });

  it('in a member name (a fact): 400 naming it escaped, recorded', async () => {
    const res = await raw(JSON.stringify({ ...encompass, facts: { 'child_present\u0000': true } }));
    await expectRefused(res, 400, 'unknown_word');
    expect(res.body.errors).toContainEqual(
      expect.objectContaining({ pointer: '/facts/child_present\\u0000', word: 'child_present\\u0000' }),
    );
  });

  it('in free text that would be stored (a household address): 400 by pointer, nothing written, recorded', async () => {
    const before = await gw.db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM households');
    const res = await request(gw.app)
      .post('/v1/households')
      .set('Authorization', `Bearer ${writer}`)
      .set('Idempotency-Key', 'nul-household-0001')
      .send({ area: 'northshire', address: '1 High Street\u0000' });
    expect({ status: res.status, code: res.body?.code }).toEqual({ status: 400, code: 'invalid_request' });
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/address' })]);
    expect(res.text).not.toContain('High Street');
    const rows = await refusalsOf(res);
    expect(rows.map((r) => r.outcome)).toEqual(['invalid_request']);
    expect(JSON.stringify(rows[0]?.payload)).not.toContain('High Street');
    expect(await gw.db.asOwner('SELECT count(*)::text AS n FROM households')).toEqual(before);
  });

  it('a lone UTF-16 surrogate in stored free text is refused the same way', async () => {
    const res = await request(gw.app)
      .post('/v1/households')
      .set('Authorization', `Bearer ${writer}`)
      .set('Idempotency-Key', 'surrogate-household-1')
      .set('Content-Type', 'application/json')
      .send('{"area":"northshire","address":"flat \\ud800 2"}');
    expect({ status: res.status, code: res.body?.code }).toEqual({ status: 400, code: 'invalid_request' });
  });

  it('in a query string (%00): 400, recorded, never a 500', async () => {
    const res = await request(gw.app).get('/v1/audit?agencyId=test%00police').set('Authorization', `Bearer ${auditor}`);
    expect(res.status).toBe(400);
    const rows = await refusalsOf(res);
    expect(rows).toHaveLength(1);
  });
});

describe('Content-Encoding (item 3)', () => {
  it('a valid gzip or br body is read', async () => {
    await raw(gzipSync(encompassJson), { 'Content-Encoding': 'gzip' }).expect(200);
    await raw(brotliCompressSync(encompassJson), { 'Content-Encoding': 'br' }).expect(200);
  });

  it('a body that is not the gzip it claims: 400 problem+json, recorded', async () => {
    await expectRefused(await raw(Buffer.from('this is not gzip at all'), { 'Content-Encoding': 'gzip' }), 400, 'bad_request');
    // Truncated gzip.
    await expectRefused(await raw(gzipSync(encompassJson).subarray(0, 20), { 'Content-Encoding': 'gzip' }), 400, 'bad_request');
  });

  it('a body that is not the brotli it claims: 400', async () => {
    await expectRefused(await raw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01]), { 'Content-Encoding': 'br' }), 400, 'bad_request');
  });

  it('an encoding the gateway does not accept, or several: 415 naming what is accepted', async () => {
    const res = await raw(Buffer.from(encompassJson), { 'Content-Encoding': 'compress' });
    await expectRefused(res, 415, 'unsupported_media_type');
    expect(res.body.detail).toContain('gzip');
    await expectRefused(
      await raw(gzipSync(brotliCompressSync(encompassJson)), { 'Content-Encoding': 'br, gzip' }),
      415,
      'unsupported_media_type',
    );
  });
});

describe('duplicate JSON keys (item 4)', () => {
  it('"from" twice: 400 naming the key, not last-wins', async () => {
    const body = `{"from":{"agencyType":"police"},"from":{"agencyType":"school"},${encompassJson.slice(encompassJson.indexOf('"to"'))}`;
    const res = await raw(body);
    await expectRefused(res, 400, 'bad_request');
    expect(res.body.detail).toContain('"from"');
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/from', word: 'from' })]);
  });

  it('nested, and written with an escape ("\\u0066rom" is "from"): still found', async () => {
    const nested = await raw(encompassJson.replace('"facts":{', '"facts":{"hours_since_incident":99,'));
    await expectRefused(nested, 400, 'bad_request');
    expect(nested.body.errors).toEqual([expect.objectContaining({ pointer: '/facts/hours_since_incident' })]);
    const escaped = await raw(`{"\\u0066rom":{"agencyType":"school"},${encompassJson.slice(1)}`);
    await expectRefused(escaped, 400, 'bad_request');
    expect(escaped.body.errors).toEqual([expect.objectContaining({ pointer: '/from' })]);
  });

  it('the same key in two different objects is not a duplicate', async () => {
    await raw(JSON.stringify({ ...encompass, to: { agencyType: 'school', role: 'designated_safeguarding_lead' } })).expect(200);
  });
});

describe('charset (item 5)', () => {
  it('UTF-8 (any spelling) or no charset is read', async () => {
    await raw(encompassJson, { 'Content-Type': 'application/json; charset=UTF-8' }).expect(200);
    await raw(encompassJson, { 'Content-Type': 'application/json; charset="utf-8"' }).expect(200);
  });

  it('utf-16 or any other charset: 415, recorded', async () => {
    const utf16 = Buffer.from(`\ufeff${encompassJson}`, 'utf16le');
    const res = await raw(utf16, { 'Content-Type': 'application/json; charset=utf-16' });
    await expectRefused(res, 415, 'unsupported_media_type');
    expect(res.body.detail).toContain('UTF-8');
    await expectRefused(
      await raw(encompassJson, { 'Content-Type': 'application/json; charset=iso-8859-1' }),
      415,
      'unsupported_media_type',
    );
  });
});
