/**
 * A page that changes the session and redirects must not let the browser see the redirect before the session is
 * stored (src/web/session.ts saveSessionBeforeRedirect). express-session sends the headers before its store has
 * written; a browser follows a 303 on the headers alone, so with the PostgreSQL store the next page could load the
 * session without the answer just given. Here the real PostgreSQL store is made slow (each write held 300 ms) and
 * the next page is asked for the moment the 303's headers arrive, as a browser would.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Store } from 'express-session';
import { Pool } from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { postgresSessionStore, saveSessionBeforeRedirect, sessionMiddleware } from '../../src/web/session';

const SECRET = 'a-session-secret-for-the-redirect-test-0123456789';

function slowWrites(store: Store, ms: number): Store {
  const set = store.set.bind(store);
  store.set = (sid, sess, cb) => void setTimeout(() => set(sid, sess, cb), ms);
  return store;
}

/** POST, and the moment the answer's headers arrive (not its end), the status, Location and cookie. */
function postForHeaders(port: number, path: string, cookie?: string): Promise<{ status: number; location?: string; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: cookie ? { cookie } : {} }, (res) => {
      const setCookie = res.headers['set-cookie']?.[0]?.split(';')[0];
      resolve({
        status: res.statusCode ?? 0,
        ...(res.headers.location ? { location: res.headers.location } : {}),
        ...(setCookie ? { cookie: setCookie } : {}),
      });
      res.resume();
    });
    req.on('error', reject);
    req.end();
  });
}

function getJson(port: number, path: string, cookie?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: cookie ? { cookie } : {} }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}

describe('a page that changes the session and redirects (PostgreSQL sessions)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const servers: http.Server[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = new Pool({ connectionString: db.appUrl, max: 4 });
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    await pool?.end();
    await db?.drop();
  });

  async function pages(withFix: boolean): Promise<number> {
    const store = slowWrites(
      postgresSessionStore(pool, (m) => {
        throw new Error(m);
      }),
      300,
    );
    const app = express();
    app.use(sessionMiddleware({ secret: SECRET, secureCookie: false, store }));
    if (withFix) app.use(saveSessionBeforeRedirect);
    let step = 0;
    app.post('/answer', (req, res) => {
      step += 1;
      req.session.journey = {
        ...(req.session.journey ?? {}),
        purpose: 'operation_encompass',
        ...(step > 1 ? { toAgencyType: 'school' } : {}),
      };
      res.redirect(303, '/next');
    });
    app.post('/nothing-changed', (_req, res) => res.redirect(303, '/next'));
    app.get('/next', (req, res) => res.json({ journey: req.session.journey ?? null }));
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    return (server.address() as AddressInfo).port;
  }

  it('shows the next page with the answer just given, even when the store takes 300 ms to write', async () => {
    const port = await pages(true);
    const first = await postForHeaders(port, '/answer');
    expect(first).toMatchObject({ status: 303, location: '/next' });
    expect(await getJson(port, '/next', first.cookie)).toEqual({ journey: { purpose: 'operation_encompass' } });
    // The second answer changes a session already stored: the redirect waits for that write too.
    const second = await postForHeaders(port, '/answer', first.cookie);
    expect(await getJson(port, '/next', first.cookie)).toEqual({ journey: { purpose: 'operation_encompass', toAgencyType: 'school' } });
    expect(second.status).toBe(303);
  });

  it('without it, the same browser would see the session as it was (the failure this guards against)', async () => {
    const port = await pages(false);
    const first = await postForHeaders(port, '/answer');
    expect(first.status).toBe(303);
    expect(await getJson(port, '/next', first.cookie)).toEqual({ journey: null });
  });

  it('stores nothing for a redirect that changed nothing (no session rows for passers-by)', async () => {
    const port = await pages(true);
    await new Promise((r) => setTimeout(r, 400)); // the slow writes of the tests above have landed
    const before = await db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM web_sessions');
    const answer = await postForHeaders(port, '/nothing-changed');
    expect(answer).toMatchObject({ status: 303, location: '/next' });
    expect(answer.cookie).toBeUndefined();
    await new Promise((r) => setTimeout(r, 400));
    const after = await db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM web_sessions');
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});
