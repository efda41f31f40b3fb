/**
 * Header abuse and health probes through the gateway's own HTTP server (src/http/server.ts, as `npm start` builds
 * it), with raw sockets so that nothing in a client library tidies the request first.
 *
 *   several Authorization headers → 400 problem+json (Node would silently keep the first)
 *   50 Authorization headers, a 100 KB token, a malformed header line → problem+json from the clientError handler,
 *   not Node's bare 400/431
 *   /healthz, /readyz, /metrics from an address that is over its per-address limit → still 200
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createServer } from '../../src/http/server';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function rawRequest(port: number, text: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (d: Buffer) => void (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = Object.fromEntries(
        headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

const decisionBody = JSON.stringify({
  from: { agencyType: 'police' },
  to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
  purpose: 'operation_encompass',
  subjectRole: 'child',
  fields: ['name'],
  facts: { child_present_at_incident: true, hours_since_incident: 10 },
});

function post(headers: string[], body = decisionBody): string {
  return `POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n${body}`;
}

function expectProblem(answer: RawAnswer, status: number, code: string): Record<string, unknown> {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(answer.body) as Record<string, unknown>;
  expect(body).toEqual(expect.objectContaining({ status, code, type: `https://safeguard-gateway.example/problems/${code}` }));
  expect(typeof body.detail).toBe('string');
  return body;
}

describe('header abuse (item 6)', () => {
  let gw: TestGateway;
  let server: Server;
  let port: number;
  let token: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    server = createServer(gw.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    token = await gw.issuers.token({ agency: 'test-police', scope: 'decisions' });
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await gw?.close();
  });

  it('one valid Authorization header: 200 (the control)', async () => {
    expect((await rawRequest(port, post([`Authorization: Bearer ${token}`]))).status).toBe(200);
  });

  it('two Authorization headers, even with the same valid token: 400 problem+json, counted', async () => {
    const answer = await rawRequest(port, post([`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`]));
    const body = expectProblem(answer, 400, 'bad_request');
    expect(String(body.detail)).toContain('2 Authorization headers');
    // Refused before authentication: counted as an unidentified caller's refusal.
    expect(await gw.countedRefusals('bad_request')).toBe(1);
  });

  it('50 Authorization headers: problem+json 431, not a bare answer', async () => {
    const answer = await rawRequest(port, post(Array.from({ length: 50 }, () => `Authorization: Bearer ${token}`)));
    expectProblem(answer, 431, 'headers_too_large');
    expect(answer.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a 100 KB token: problem+json 431', async () => {
    expectProblem(await rawRequest(port, post([`Authorization: Bearer ${'a'.repeat(100 * 1024)}`])), 431, 'headers_too_large');
  });

  it('a malformed header line: problem+json 400', async () => {
    expectProblem(await rawRequest(port, post(['This is not a header'])), 400, 'bad_request');
  });

  it('the server keeps serving afterwards', async () => {
    expect((await rawRequest(port, post([`Authorization: Bearer ${token}`]))).status).toBe(200);
  });
});

describe('health probes under a per-address limit (item 7)', () => {
  let gw: TestGateway;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    gw = await startTestGateway({ perIpPerMinute: 5 });
    server = createServer(gw.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await gw?.close();
  });

  it('/healthz, /readyz and /metrics answer 200 to an address that is being refused 429 elsewhere', async () => {
    const get = (p: string) => rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const others: number[] = [];
    for (let i = 0; i < 8; i++) others.push((await get('/openapi.json')).status);
    expect(others).toContain(429);
    expect(others.slice(-1)).toEqual([429]);
    const probes: number[] = [];
    for (let i = 0; i < 20; i++) for (const p of ['/healthz', '/readyz', '/metrics']) probes.push((await get(p)).status);
    expect(new Set(probes)).toEqual(new Set([200]));
    // And the limit still holds for everything else.
    expect((await get('/openapi.json')).status).toBe(429);
  });
});
