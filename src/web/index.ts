/**
 * The practitioners' and auditors' pages, in the GOV.UK style: `webRouter(deps)` is mounted at `/` by
 * src/http/app.ts (after the security headers and the per-IP limit, before /v1).
 *
 *   /assets/…                  govuk-frontend's CSS, JS, fonts and images (from node_modules) and the pages' own init script
 *   /, /sign-in, /auth/callback, /sign-out, /signed-out   start page and OpenID Connect sign-in (./signin.ts)
 *   /share/…                   "Can I share this?" (./share.ts) — decisions through src/decisions/decide-and-record.ts
 *   /audit/…                   the auditor console (./console.ts) — every read recorded in the ledger
 *   /admin/agencies, /admin/policies   administrators' views (./admin.ts)
 *
 * Only those paths get a session, form parsing and CSRF checks: /v1 and everything else pass straight through.
 * Pages never answer problem+json: their errors are GOV.UK error pages (./errors below).
 */
import express, { Router, type ErrorRequestHandler, type Request } from 'express';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { AuditLedger } from '../audit/entry';
import type { LedgerEntryView } from '../audit/query';
import type { SealFacts } from '../audit/verification-wording';
import type { SchoolCalendar } from '../notifications/school-day';
import { AuditUnavailableError } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { TokenVerifier } from '../auth/token-verifier';
import { GatewayError, RefusalError } from '../errors';
import { refusalProblem } from '../http/problem';
import { describedMethods } from '../http/openapi';
import type { PolicyCatalogueEngine } from '../policy';
import { adminRouter } from './admin';
import { subjectReportRouter } from './subject-report';
import { consoleRouter } from './console';
import { AUDITOR_ROLES, NON_SHARING_ROLES, pageContext, type WebAgency } from './page';
import {
  exposeCsrfToken,
  isCsrfError,
  loadPrincipal,
  saveSessionBeforeRedirect,
  sessionMiddleware,
  webPrincipal,
  type SessionOptions,
} from './session';
import { shareRouter } from './share';
import { signInRouter, type OidcOptions } from './signin';
import { createRenderer, govukFrontendDist, publicDir, type Renderer } from './views';
import { referralOpener } from '../workflows/referrals';
import { WORKFLOW_PAGE_PREFIXES, workflowPages } from '../workflows/pages';
import { DEFAULT_WORKFLOW_SETTINGS, type WorkflowSettings } from '../workflows/settings';

export type { WebAgency } from './page';
export type { OidcOptions, WebClient } from './signin';
export type { SessionOptions } from './session';

export interface WebDeps {
  /** The loaded catalogue (the policy view and rule titles need `catalogue`). */
  readonly engine: PolicyCatalogueEngine;
  readonly ledger: AuditLedger;
  /** The application-role pool (SELECT on the ledger for the console). */
  readonly pool: Pool;
  /** The API's token verifier: the pages' only trust path. */
  readonly verifier: TokenVerifier;
  readonly pseudonymise: Pseudonymiser;
  /** The trust registry (with the issuers actually in use, e.g. the development IdP's). */
  readonly agencies: readonly WebAgency[];
  readonly logger: Logger;
  readonly oidc: OidcOptions;
  readonly session: SessionOptions;
  /** Checks the signed checkpoints (the console's "Verify ledger" says how far the ledger is sealed). */
  readonly verifySeals?: () => Promise<SealFacts>;
  /** Builds an entry's receipt ("Download receipt" on the entry page). */
  readonly receiptFor?: (entry: LedgerEntryView) => Promise<unknown>;
  /** The school calendar (when an Operation Encompass notification must reach the school). */
  readonly schoolCalendar?: SchoolCalendar;
  /** Referrals, requests for information, triage (src/workflows/): their time limits. */
  readonly workflows?: WorkflowSettings;
}

const PAGE_PREFIXES = [
  '/sign-in',
  '/auth/',
  '/sign-out',
  '/signed-out',
  '/share',
  '/audit',
  '/admin',
  '/disclosures',
  '/disclosures.csv',
  ...WORKFLOW_PAGE_PREFIXES,
] as const;

export function isPagePath(p: string): boolean {
  return p === '/' || PAGE_PREFIXES.some((prefix) => p === prefix || p.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
}

/**
 * A browser asking for an address that is neither a page nor the API's (a mistyped URL) gets the service's own
 * "Page not found", not JSON. API paths (/v1, and every path the OpenAPI document describes) keep problem+json.
 */
function wantsPage(req: Request): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.path === '/v1' || req.path.startsWith('/v1/') || req.path.startsWith('/assets/') || describedMethods(req.path)) return false;
  return req.accepts(['application/json', 'text/html']) === 'text/html';
}

export function webRouter(deps: WebDeps): Router {
  const render = createRenderer();
  const router = Router();

  const govuk = path.join(govukFrontendDist(), 'govuk');
  const staticOptions = { maxAge: '1h', index: false, fallthrough: true, redirect: false } as const;
  router.use('/assets/app', express.static(publicDir(), staticOptions));
  router.get(['/assets/govuk-frontend.min.css', '/assets/govuk-frontend.min.js'], (req, res, next) => {
    res.sendFile(path.join(govuk, path.basename(req.path)), { maxAge: '1h' }, (err) => err && next(err));
  });
  router.use('/assets', express.static(path.join(govuk, 'assets'), staticOptions));

  const pages = Router();
  pages.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  pages.use(express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 300 }));
  pages.use(sessionMiddleware(deps.session));
  pages.use(saveSessionBeforeRedirect);
  pages.use(loadPrincipal(deps.verifier));
  pages.use(exposeCsrfToken);

  pages.get('/', (req, res) => {
    const principal = webPrincipal(res);
    res.send(
      render('index.njk', {
        ...pageContext(req, res, { pageTitle: 'Can I share this?' }),
        canShare: principal ? !NON_SHARING_ROLES.includes(principal.role) && principal.scopes.has('decisions') : false,
        isAuditor: principal ? AUDITOR_ROLES.includes(principal.role) : false,
      }),
    );
  });
  pages.use(signInRouter({ agencies: deps.agencies, verifier: deps.verifier, oidc: deps.oidc, render, logger: deps.logger }));
  const workflows = {
    pool: deps.pool,
    ledger: deps.ledger,
    engine: deps.engine,
    pseudonymise: deps.pseudonymise,
    settings: deps.workflows ?? DEFAULT_WORKFLOW_SETTINGS,
  };
  pages.use(
    shareRouter({
      decisions: {
        engine: deps.engine,
        ledger: deps.ledger,
        pseudonymise: deps.pseudonymise,
        pool: deps.pool,
        referrals: referralOpener(workflows),
        ...(deps.schoolCalendar ? { schoolCalendar: deps.schoolCalendar } : {}),
      },
      engine: deps.engine,
      agencies: deps.agencies,
      render,
      logger: deps.logger,
      ...(deps.schoolCalendar ? { schoolCalendar: deps.schoolCalendar } : {}),
    }),
  );
  pages.use(workflowPages({ ...workflows, render }));
  pages.use(
    consoleRouter({
      ledger: deps.ledger,
      pool: deps.pool,
      agencies: deps.agencies,
      engine: deps.engine,
      render,
      pseudonymise: deps.pseudonymise,
      ...(deps.verifySeals ? { verifySeals: deps.verifySeals } : {}),
      ...(deps.receiptFor ? { receiptFor: deps.receiptFor } : {}),
    }),
  );
  pages.use(
    subjectReportRouter({
      ledger: deps.ledger,
      pool: deps.pool,
      pseudonymise: deps.pseudonymise,
      agencies: deps.agencies,
      engine: deps.engine,
      render,
    }),
  );
  pages.use(adminRouter({ agencies: deps.agencies, engine: deps.engine, render }));
  pages.use((req, _res, next) => next(new GatewayError('not_found', `There is no page at ${req.path}.`)));
  pages.use(pageErrors(render, deps.logger));

  router.use((req, res, next) => (isPagePath(req.path) || wantsPage(req) ? pages(req, res, next) : next()));
  return router;
}

/** Errors on pages become GOV.UK error pages: never a stack trace, never problem+json. */
function pageErrors(render: Renderer, logger: Logger): ErrorRequestHandler {
  return (thrown: unknown, req: Request, res, _next) => {
    if (res.headersSent) return;
    // A domain refusal is shown as the problem it maps to at the edge (src/http/problem.ts), as on the API.
    const err = thrown instanceof RefusalError ? refusalProblem(thrown) : thrown;
    let status = 500;
    let heading = 'Sorry, there is a problem with the service';
    let paragraphs = ['Try again later. Nothing was shared.'];
    let link: { href: string; text: string } | undefined = { href: '/', text: 'Go to the start page' };
    const type = typeof err === 'object' && err !== null ? (err as { type?: unknown }).type : undefined;
    if (isCsrfError(err)) {
      status = 403;
      heading = 'Your form has expired';
      paragraphs = ['For your security, forms expire when you sign in or out, or after 30 minutes without activity. Nothing was sent.'];
      link = { href: req.originalUrl.split('?')[0] ?? '/', text: 'Go back and try again' };
    } else if (err instanceof AuditUnavailableError) {
      status = 503;
      paragraphs = ['The audit ledger could not record this, so nothing has been shown. Try again in a few minutes.'];
    } else if (type === 'entity.too.large' || type === 'parameters.too.many') {
      status = 413;
      heading = 'Your answers were too long';
      paragraphs = ['Go back and try again with shorter answers.'];
    } else if (err instanceof GatewayError) {
      status = err.status;
      if (err.status === 404) {
        heading = 'Page not found';
        paragraphs = [
          'If you typed the web address, check it is correct. If you pasted the web address, check you copied the entire address.',
        ];
      } else if (err.status === 403) {
        heading = 'You cannot see this page';
        paragraphs = [`${err.detail} If you think you should, ask your manager or your organisation's administrator.`];
      } else if (err.status === 401) {
        link = { href: '/sign-in', text: 'Sign in' };
        heading = 'Sign in to continue';
        paragraphs = [err.detail];
      } else if (err.status < 500) {
        heading = 'There is a problem with your request';
        paragraphs = [err.detail];
      }
    } else {
      logger.error({ err }, 'unexpected error on a page');
    }
    try {
      res.status(status).send(render('message.njk', { ...pageContext(req, res, { pageTitle: heading }), heading, paragraphs, link }));
    } catch (renderError) {
      logger.error({ err: renderError }, 'could not render the error page');
      res.status(status).type('text/plain').send(heading);
    }
  };
}
