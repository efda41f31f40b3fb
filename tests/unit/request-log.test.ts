/**
 * The request line: one per request, with what an operator needs and nothing a caller sent in its headers. It is
 * written without the root logger's redaction (it never holds a secret); everything else stays redacted.
 */
import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { requestLog } from '../../src/http/request-log';

function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  const logger = pino({ level: 'info', redact: { paths: ['*.token', 'req.headers.authorization'], censor: '[redacted]' } }, sink);
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('request log', () => {
  it('writes one line per request with method, path (no query), status and request id, and no header', async () => {
    const { logger, lines } = capture();
    const app = express();
    app.use((_req, res, next) => {
      res.locals.requestId = 'req-12345678';
      next();
    });
    app.use(requestLog(logger));
    app.get('/v1/things', (_req, res) => {
      res.status(201).json({ ok: true });
    });
    await request(app).get('/v1/things?subjectRef=secret-case-word').set('Authorization', 'Bearer abc.def.ghi').expect(201);
    await new Promise((r) => setImmediate(r));
    const logged = lines();
    expect(logged).toHaveLength(1);
    const line = logged[0] as { req: Record<string, unknown>; res: Record<string, unknown>; msg: string };
    expect(line.req).toMatchObject({ id: 'req-12345678', method: 'GET', path: '/v1/things' });
    expect(line.res).toEqual({ statusCode: 201 });
    expect(line.msg).toMatch(/^GET \/v1\/things 201 \d+ms$/);
    const text = JSON.stringify(logged);
    expect(text).not.toContain('secret-case-word');
    expect(text).not.toContain('abc.def.ghi');
  });

  it('leaves the root logger redacting everything else', () => {
    const { logger, lines } = capture();
    requestLog(logger);
    logger.info({ grant: { token: 'a-real-token' } }, 'other line');
    expect(JSON.stringify(lines())).not.toContain('a-real-token');
    expect(JSON.stringify(lines())).toContain('[redacted]');
  });
});
