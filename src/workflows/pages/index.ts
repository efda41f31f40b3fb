/**
 * The workflow pages (GOV.UK Design System patterns): /referrals (queue, decision form, my referrals),
 * /information-requests (inbox, status task list, answer form, combined picture), /triage (printable daily list).
 * Mounted by src/web/index.ts behind the session, CSRF and sign-in of every page.
 */
import { Router } from 'express';
import type { Renderer } from '../../web/views';
import type { WorkflowDeps } from '../routes';
import { informationRequestPages } from './information-requests';
import { referralPages } from './referrals';
import { triagePages } from './triage';

export const WORKFLOW_PAGE_PREFIXES = ['/referrals', '/information-requests', '/triage'] as const;

export function workflowPages(deps: WorkflowDeps & { render: Renderer }): Router {
  const router = Router();
  router.use(referralPages(deps));
  router.use(informationRequestPages(deps));
  router.use(triagePages(deps));
  return router;
}
