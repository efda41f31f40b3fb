/** The security headers worked out once are exactly the ones helmet itself sets on an answer. */
import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { HELMET_OPTIONS, helmetHeaders, securityHeaders } from '../../src/http/security-headers';

function app(headers: express.RequestHandler): express.Express {
  const a = express();
  a.use((_req, res, next) => {
    res.setHeader('X-Powered-By', 'something');
    next();
  });
  a.use(headers);
  a.get('/x', (_req, res) => {
    res.json({ ok: true });
  });
  return a;
}

describe('security headers', () => {
  it('sets on an answer exactly the headers helmet sets (and removes what it removes)', async () => {
    const ours = await request(app(securityHeaders())).get('/x').expect(200);
    const theirs = await request(app(helmet(HELMET_OPTIONS)))
      .get('/x')
      .expect(200);
    const without = (h: Record<string, unknown>): Record<string, unknown> => {
      const { date: _date, ...rest } = h;
      return rest;
    };
    expect(without(ours.headers)).toEqual(without(theirs.headers));
    expect(ours.headers['x-powered-by']).toBeUndefined();
    expect(ours.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(ours.headers['strict-transport-security']).toBeDefined();
  });

  it('records a dozen headers, none of them varying by request', () => {
    const first = helmetHeaders();
    expect(first.set.length).toBeGreaterThanOrEqual(10);
    expect(helmetHeaders()).toEqual(first);
  });
});
