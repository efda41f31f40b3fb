/**
 * POST /v1/decisions — "may this be shared?"
 * Authentication ran before this handler (src/http/app.ts). Here: scope check, vocabulary validation (unknown word
 * → 400 naming it), then src/decisions/decide-and-record.ts, which returns only once the ledger has COMMITTED the
 * decision. Only then is the answer sent; if the ledger fails, the error handler answers 503 and nothing leaves.
 *
 * The body is the answer's canonical JSON, the very text whose keyed hash the entry holds (`answerHash`), with the
 * entry's id and receipt added as its last members: the answer is serialised once, not once to hash and again to send.
 */
import { Router, type RequestHandler } from 'express';
import type { DecisionInput } from '../../policy/types';
import { principalOf, requireScope } from '../../auth/middleware';
import { decideAndRecord, type DecisionServiceDeps } from '../../decisions/decide-and-record';
import { requestIdOf } from '../context';
import { bodyValidator } from '../validation';
import { decisionRequestSchema } from '../schemas';
import { decisionsTotal } from '../metrics';

type DecisionRequest = Omit<DecisionInput, 'to'> & {
  readonly to: DecisionInput['to'] & { readonly agencyId?: string };
  readonly subjectRef?: string;
  readonly subjectPersonId?: string;
};
const validateDecisionRequest = bodyValidator<DecisionRequest>(decisionRequestSchema, 'decision request');

/** POST /v1/decisions after authentication and the body: the scope check, then the decision. */
export function decisionHandlers(deps: DecisionServiceDeps): RequestHandler[] {
  return [
    requireScope('decisions'),
    async (req, res) => {
      const {
        subjectRef,
        subjectPersonId,
        to: { agencyId: toAgencyId, ...to },
        ...request
      } = validateDecisionRequest(req.body ?? {});
      const input: DecisionInput = { ...request, to, facts: request.facts ?? {} };
      const { answer, answerJson, entry } = await decideAndRecord(deps, principalOf(res), input, {
        requestId: requestIdOf(res),
        subjectRef,
        subjectPersonId,
        toAgencyId,
      });
      decisionsTotal.inc({ outcome: answer.decision });
      const recorded = JSON.stringify({ auditEntryId: entry.entryId, receipt: { seq: entry.seq, entryHash: entry.entryHash } });
      // Both texts are JSON objects, and the answer has neither member: `{…answer…,` + `…recorded…}` is one object.
      const body = `${answerJson.slice(0, -1)},${recorded.slice(1)}`;
      // Encoded once, here: the policies' wording has characters beyond Latin-1 (dashes), which makes the text
      // two-byte, and sent as text it would be measured, joined to the head and encoded again on the way out. As
      // bytes, Node writes the head (Latin-1) and the body together in one writev. No ETag, no conditional request
      // on a POST: what res.send would do less its copies.
      const bytes = Buffer.from(body, 'utf8');
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', bytes.length);
      res.end(bytes);
    },
  ];
}

export function decisionsRouter(deps: DecisionServiceDeps): Router {
  const router = Router();
  router.post('/decisions', ...decisionHandlers(deps));
  return router;
}
