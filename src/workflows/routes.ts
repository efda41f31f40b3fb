/**
 * The workflow routes (mounted on /v1 by src/http/app.ts, after authentication, the agency limit and JSON parsing):
 *
 *   GET  /v1/referrals                          the decider's queue (view=queue) or my referrals (view=mine); status, overdue
 *   GET  /v1/referrals/{id}                     one referral (its asker, or a decider of its role at its agency)
 *   POST /v1/referrals/{id}/decision            share | share_some | do_not_share, fields released, reasons
 *   POST /v1/information-requests               ask several agencies (or the Cafcass safeguarding checks template)
 *   GET  /v1/information-requests               asked by me / asked of me
 *   GET  /v1/information-requests/{id}          status per agency (awaiting, answered, declined, overdue)
 *   POST /v1/information-requests/{id}/responses  release records (each decided by policy, recorded) or decline
 *   GET  /v1/information-requests/{id}/picture  the requester's combined, policy-filtered picture
 *   GET  /v1/triage/daily?date=…                the daily domestic abuse triage list
 *
 * Scopes: referrals need `decisions` (they are part of a decision); requests for information and triage need
 * `records:read`. Every refusal is recorded in the ledger by the app's error handler.
 */
import { Router } from 'express';
import { principalOf, requireScope } from '../auth/middleware';
import { requestIdOf } from '../http/context';
import { bodyValidator, queryValidator } from '../http/validation';
import type { Purpose } from '../vocabulary/vocabulary';
import {
  createInformationRequest,
  getInformationRequest,
  listInformationRequests,
  type InformationRequestDeps,
  type InformationRequestQuery,
  type NewInformationRequest,
} from './information-requests';
import { readPicture, respondToInformationRequest, type ResponseInput } from './information-responses';
import { decideReferral, getReferral, listReferrals, type ReferralDecisionInput, type ReferralDeps, type ReferralQuery } from './referrals';
import {
  informationRequestQuerySchema,
  informationResponseSchema,
  newInformationRequestSchema,
  referralDecisionSchema,
  referralQuerySchema,
  triageQuerySchema,
} from './schemas';
import { dailyTriage, type TriageDeps } from './triage';

export type WorkflowDeps = ReferralDeps & InformationRequestDeps & TriageDeps;

const validateReferralQuery = queryValidator<ReferralQuery>(referralQuerySchema, 'referrals query');
const validateDecision = bodyValidator<ReferralDecisionInput>(referralDecisionSchema, 'referral decision');
const validateNewRequest = bodyValidator<NewInformationRequest>(newInformationRequestSchema, 'request for information');
const validateRequestQuery = queryValidator<InformationRequestQuery>(informationRequestQuerySchema, 'requests query');
const validateResponse = bodyValidator<ResponseInput>(informationResponseSchema, 'answer');
const validateTriageQuery = queryValidator<{ date?: string; purpose?: Purpose }>(triageQuerySchema, 'triage query');

export function workflowsRouter(deps: WorkflowDeps): Router {
  const router = Router();
  const decisions = requireScope('decisions');
  const read = requireScope('records:read');

  router.get('/referrals', decisions, async (req, res) => {
    res.json(await listReferrals(deps, principalOf(res), validateReferralQuery({ ...req.query })));
  });
  router.get('/referrals/:id', decisions, async (req, res) => {
    res.json(await getReferral(deps, principalOf(res), String(req.params.id)));
  });
  router.post('/referrals/:id/decision', decisions, async (req, res) => {
    const body = validateDecision(req.body ?? {});
    res.json(await decideReferral(deps, principalOf(res), String(req.params.id), body, requestIdOf(res)));
  });

  router.post('/information-requests', read, async (req, res) => {
    const body = validateNewRequest(req.body ?? {});
    const created = await createInformationRequest(deps, principalOf(res), body, requestIdOf(res));
    res.status(201).setHeader('Location', `/v1/information-requests/${created.id}`).json(created);
  });
  router.get('/information-requests', read, async (req, res) => {
    res.json(await listInformationRequests(deps, principalOf(res), validateRequestQuery({ ...req.query })));
  });
  router.get('/information-requests/:id', read, async (req, res) => {
    res.json(await getInformationRequest(deps, principalOf(res), String(req.params.id)));
  });
  router.post('/information-requests/:id/responses', read, async (req, res) => {
    const body = validateResponse(req.body ?? {});
    res.status(201).json(await respondToInformationRequest(deps, principalOf(res), String(req.params.id), body, requestIdOf(res)));
  });
  router.get('/information-requests/:id/picture', read, async (req, res) => {
    res.json(await readPicture(deps, principalOf(res), String(req.params.id), requestIdOf(res)));
  });

  router.get('/triage/daily', read, async (req, res) => {
    res.json(await dailyTriage(deps, principalOf(res), validateTriageQuery({ ...req.query }), requestIdOf(res)));
  });
  return router;
}
