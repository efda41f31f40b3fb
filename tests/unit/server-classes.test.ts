/**
 * The gateway's HTTP server builds each `req` and `res` with the Express app's own prototypes (src/http/server.ts,
 * expressClasses), so Express's per-request Object.setPrototypeOf changes nothing. Checked on a real socket: the
 * prototype is already the app's when the request arrives, before Express sees it, and Express's methods, Node's
 * streams and keep-alive all behave as on a plain server.
 */
import http, { type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createServer } from '../../src/http/server';

const app = express();
app.post('/echo', express.json(), (req, res) => {
  const ownPrototype = Object.getPrototypeOf(req) === app.request;
  res
    .status(201)
    .set('X-Seen', req.get('x-probe') ?? 'none')
    .json({ got: req.body as unknown, ownPrototype });
});

let server: Server;
let port: number;
const arrived: { request: boolean; response: boolean }[] = [];

beforeAll(async () => {
  server = createServer(app);
  // Runs before the app's listener: what Node built, before Express's app.handle touched it.
  server.prependListener('request', (req: IncomingMessage, res: http.ServerResponse) => {
    arrived.push({ request: Object.getPrototypeOf(req) === app.request, response: Object.getPrototypeOf(res) === app.response });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(agent: http.Agent, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: { 'content-type': 'application/json', 'x-probe': 'p-1' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test("requests and responses are built with the app's prototypes, and Express works on them as usual", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const n of [1, 2, 3]) {
      const answer = await send(agent, 'POST', '/echo', JSON.stringify({ n }));
      expect(answer.status).toBe(201);
      expect(answer.headers['x-seen']).toBe('p-1');
      expect(JSON.parse(answer.text)).toEqual({ got: { n }, ownPrototype: true });
    }
    // Express's own final handler, on the same kept-alive connection.
    expect((await send(agent, 'GET', '/nowhere')).status).toBe(404);
  } finally {
    agent.destroy();
  }
  expect(arrived).toHaveLength(4);
  expect(arrived.every((a) => a.request && a.response)).toBe(true);
});
