/**
 * The baseline for the benchmark: a bare Express 5 route on the same machine that parses the same JSON body and
 * answers a JSON object of about the size of a decision — no authentication, no policy, no ledger, no logging.
 * `node dist/bench/bare.js <port> [preset]`; prints "listening" when ready. A default Express server (app.listen)
 * unless `preset`: then its requests and responses are built as the gateway's are (src/http/express-classes.ts).
 */
import http from 'node:http';
import express from 'express';
import { expressClasses } from '../src/http/express-classes';

const port = Number(process.argv[2] ?? '0');
const preset = process.argv[3] === 'preset';
const answer = {
  decision: 'permit_partial',
  permittedFields: ['name', 'incident_date', 'child_involvement'],
  withheldFields: [
    {
      field: 'incident_full_report',
      code: 'denied_by_rule',
      reason: 'Schools need to know how the child was affected, not the full police report.',
    },
  ],
  rules: ['operation-encompass-police-to-school'],
  policyVersion: 'bench',
};

const app = express();
app.disable('x-powered-by');
app.post('/v1/decisions', express.json({ limit: 32 * 1024 }), (req, res) => {
  res.json({ ...answer, echo: typeof req.body === 'object' ? Object.keys(req.body as object).length : 0 });
});
const server = (preset ? http.createServer(expressClasses(app), app) : http.createServer(app)).listen(port, '127.0.0.1', () =>
  process.stdout.write('listening\n'),
);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));
