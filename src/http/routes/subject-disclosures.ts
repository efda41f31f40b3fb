/**
 * GET /v1/audit/subjects/{ref}/disclosures — for auditors and data protection officers answering a subject access
 * request (UK GDPR Article 15(1)(c)): every disclosure of one person's data, by case reference or person id (matched
 * by its pseudonym). The report is itself recorded in the ledger (kind `audit_read`) before it is sent.
 */
import { Router } from 'express';
import type { Pool } from 'pg';
import { actorOf } from '../../audit/actor';
import { contentHash, type AuditLedger } from '../../audit/entry';
import type { Pseudonymiser } from '../../audit/pseudonym';
import { subjectDisclosures } from '../../audit/subject-disclosures';
import { principalOf, requireRole } from '../../auth/middleware';
import { GatewayError } from '../../errors';
import { requestIdOf } from '../context';

export const SUBJECT_REF = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function subjectDisclosuresRouter(deps: {
  readonly ledger: AuditLedger;
  readonly pool: Pool;
  readonly pseudonymise: Pseudonymiser;
}): Router {
  const router = Router();
  router.get('/audit/subjects/:ref/disclosures', requireRole('auditor', 'data_protection_officer'), async (req, res) => {
    const ref = String(req.params.ref);
    if (!SUBJECT_REF.test(ref)) {
      throw new GatewayError(
        'bad_request',
        'The reference must be a case reference or person id: letters, numbers, full stops, colons, hyphens and underscores, at most 128.',
        { errors: [{ pointer: '/ref', detail: 'not a reference' }] },
      );
    }
    const subject = deps.pseudonymise(ref);
    const disclosures = await subjectDisclosures(deps.pool, subject);
    const body = { subject, disclosures };
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome: 'served',
      requestId: requestIdOf(res),
      actor: actorOf(principalOf(res)),
      payload: { view: 'subject_disclosures', subject, returned: disclosures.length, pageHash: contentHash(body) },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.json(body);
  });
  return router;
}

const party = {
  type: 'object',
  required: ['agencyId', 'agencyType', 'role'],
  properties: { agencyId: { type: ['string', 'null'] }, agencyType: { type: ['string', 'null'] }, role: { type: ['string', 'null'] } },
};

export function subjectDisclosuresOpenApi(problems: (...statuses: number[]) => Record<string, unknown>): {
  paths: Record<string, unknown>;
  schemas: Record<string, unknown>;
} {
  return {
    schemas: {
      SubjectDisclosures: {
        type: 'object',
        required: ['subject', 'disclosures'],
        properties: {
          subject: { type: 'string', description: 'The pseudonym the ledger knows the person by' },
          disclosures: {
            type: 'array',
            items: {
              type: 'object',
              required: ['seq', 'entryId', 'recordedAt', 'kind', 'status', 'by', 'to', 'fields', 'purpose', 'rules'],
              properties: {
                seq: { type: 'integer' },
                entryId: { type: 'string', format: 'uuid' },
                recordedAt: { type: 'string', format: 'date-time' },
                kind: { type: 'string', enum: ['disclosure', 'notification', 'alert', 'decision'] },
                status: {
                  type: 'string',
                  enum: ['disclosed', 'allowed'],
                  description: '`disclosed`: sent through the gateway; `allowed`: a practitioner was told they may share',
                },
                by: party,
                to: party,
                fields: { type: 'array', items: { type: 'string' } },
                purpose: { type: ['string', 'null'] },
                rules: { type: 'array', items: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    paths: {
      '/v1/audit/subjects/{ref}/disclosures': {
        get: {
          operationId: 'getSubjectDisclosures',
          summary:
            "Every disclosure of one person's data — when, by whom, to whom, which fields, why (UK GDPR Art 15(1)(c)); auditor or data " +
            'protection officer; the report is itself recorded',
          parameters: [
            {
              name: 'ref',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: SUBJECT_REF.source },
              description: 'A case reference or person id',
            },
          ],
          responses: {
            '200': {
              description: 'The disclosures, oldest first',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/SubjectDisclosures' } } },
            },
            ...problems(400, 401, 403, 429, 503),
          },
        },
      },
    },
  };
}
