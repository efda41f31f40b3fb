/**
 * "Can I share this?" — the practitioner's journey, one question per page, then the answer.
 * The decision is made by src/decisions/decide-and-record.ts with the signed-in Principal, exactly as the API
 * makes it: the ledger has COMMITTED the entry before the answer page can render. If it could not, the page says
 * so and nothing of the decision is shown.
 */
import { randomUUID } from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { AuditUnavailableError } from '../audit/entry';
import { decideAndRecord, type DecisionAnswer, type DecisionServiceDeps } from '../decisions/decide-and-record';
import { GatewayError } from '../errors';
import { decisionsTotal } from '../http/metrics';
import type { PolicyCatalogueEngine } from '../policy';
import type { DecisionInput } from '../policy/types';
import { referralTarget } from '../policy/words';
import { isFactName, type FactName, type Field } from '../vocabulary/vocabulary';
import {
  agencyTypeItems, describeFactValue, factSections, fieldGroups, nextUnanswered, purposeItems, readFacts, readInformation,
  readOrganisation, readPurpose, readRole, readSubject, roleItems, subjectRoleItems, type Form, type FormError, type Step, type StepResult,
} from './journey';
import { factsUsed, rolesOf } from './questions';
import { FACT_SPECS, type AgencyType } from '../vocabulary/vocabulary';
import type { WebAgency } from './page';
import {
  AGENCY_TYPE_LABELS, FACT_LABELS, FIELD_LABELS, OUTCOME_HEADINGS, PURPOSE_LABELS, ROLE_LABELS, SUBJECT_ROLE_LABELS,
  WITHHELD_CODE_LABELS, labelOf,
} from './labels';
import { NON_SHARING_ROLES, pageContext } from './page';
import { csrf, webPrincipal, type Journey, type StoredAnswer } from './session';
import type { Renderer } from './views';
import { escapeXml } from './xml';

interface ShareDeps {
  readonly decisions: DecisionServiceDeps;
  readonly engine: PolicyCatalogueEngine;
  /** The trust registry: which roles each kind of organisation has. */
  readonly agencies: readonly WebAgency[];
  readonly render: Renderer;
  readonly logger: Logger;
}

const PREVIOUS: Record<Step, string | undefined> = {
  organisation: '/',
  role: '/share/organisation',
  purpose: '/share/role',
  subject: '/share/purpose',
  information: '/share/subject',
  facts: '/share/information',
  check: '/share/facts',
};

/** Signed in, and in a role that shares (auditors and systems look at decisions, they do not make them). */
export function requireSharer(req: Request, res: Response, next: NextFunction): void {
  const principal = webPrincipal(res);
  if (!principal) {
    req.session.returnTo = req.originalUrl;
    return res.redirect(303, '/sign-in');
  }
  if (NON_SHARING_ROLES.includes(principal.role)) {
    return next(new GatewayError('forbidden', 'Your role looks at sharing decisions; it does not make them.'));
  }
  // As POST /v1/decisions: the token must have been granted the `decisions` scope.
  if (!principal.scopes.has('decisions')) {
    return next(new GatewayError('forbidden', 'Your organisation has not given your account access to sharing decisions.'));
  }
  next();
}

export function requestIdOf(res: Response): string {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : randomUUID();
}

export function shareRouter(deps: ShareDeps): Router {
  const router = Router();
  router.use('/share', requireSharer);

  const ALL_FACTS = Object.keys(FACT_SPECS) as FactName[];
  /** The facts the rules that could decide this question test (none: the facts page is skipped). */
  const factsFor = (j: Journey, from: AgencyType): FactName[] =>
    j.toAgencyType && j.purpose ? factsUsed(deps.engine.catalogue, { from, to: j.toAgencyType, ...(j.toRole ? { role: j.toRole } : {}), purpose: j.purpose }, ALL_FACTS) : [];
  const rolesFor = (j: Journey) => (j.toAgencyType ? rolesOf(j.toAgencyType, deps.engine.catalogue, deps.agencies) : []);
  const fromOf = (res: Response): AgencyType => {
    const principal = webPrincipal(res);
    if (!principal) throw new GatewayError('unauthenticated', 'Sign in first.');
    return principal.agency.agencyType;
  };
  /** With no fact to ask, the facts step is answered by itself (nothing asserted). */
  const settle = (j: Journey, from: AgencyType): Journey =>
    nextUnanswered(j) === 'facts' && factsFor(j, from).length === 0 ? { ...j, facts: {}, factsAnswered: true } : j;

  const step = (
    name: Exclude<Step, 'check'>,
    title: string | ((j: Journey) => string),
    template: string,
    view: (j: Journey, submitted: Form | undefined, errors: readonly FormError[] | undefined, from: AgencyType) => Record<string, unknown>,
    read: (form: Form, j: Journey, from: AgencyType) => StepResult,
  ): void => {
    const show = (req: Request, res: Response, errors?: readonly FormError[], submitted?: Form): void => {
      const journey = req.session.journey ?? {};
      const pageTitle = typeof title === 'string' ? title : title(journey);
      res.status(errors ? 400 : 200).send(
        deps.render(template, {
          ...pageContext(req, res, { pageTitle, ...(PREVIOUS[name] ? { backLink: PREVIOUS[name] } : {}) }),
          heading: pageTitle,
          ...view(journey, submitted, errors, fromOf(res)),
          ...(errors ? { errors, errorFor: Object.fromEntries(errors.map((e) => [e.href.slice(1), e.text])) } : { errorFor: {} }),
        }),
      );
    };
    router.get(`/share/${name}`, (req, res) => {
      // Steps are answered in order: a later page needs the earlier answers.
      const first = nextUnanswered(req.session.journey);
      if (STEP_INDEX[first] < STEP_INDEX[name]) return res.redirect(303, `/share/${first}`);
      show(req, res);
    });
    router.post(`/share/${name}`, csrf.csrfSynchronisedProtection, (req, res) => {
      const form = (req.body ?? {}) as Form;
      const from = fromOf(res);
      const result = read(form, req.session.journey ?? {}, from);
      if (!result.ok) return show(req, res, result.errors, form);
      const journey = settle(result.journey, from);
      req.session.journey = journey;
      res.redirect(303, `/share/${nextUnanswered(journey)}`);
    });
  };

  router.get('/share', (req, res) => res.redirect(303, `/share/${nextUnanswered(req.session.journey)}`));
  router.get('/share/new', (req, res) => {
    delete req.session.journey;
    delete req.session.answer;
    res.redirect(303, '/share/organisation');
  });
  // The old combined page's address still leads into the journey.
  router.get('/share/recipient', (_req, res) => res.redirect(303, '/share/organisation'));

  step('organisation', 'Which organisation is asking for the information?', 'share/organisation.njk', (j, form) => ({
    agencyItems: agencyTypeItems(stringOf(form?.toAgencyType) ?? j.toAgencyType),
  }), readOrganisation);

  step('role', (j) => `What is their role at the ${labelOf(AGENCY_TYPE_LABELS, j.toAgencyType).toLowerCase()}?`, 'share/role.njk', (j, form) => ({
    roleItems: roleItems(stringOf(form?.toRole) ?? j.toRole, rolesFor(j)),
  }), (form, j) => readRole(form, j, rolesFor(j)));

  step('purpose', 'Why do they need the information?', 'share/purpose.njk', (j, form) => ({
    items: purposeItems(stringOf(form?.purpose) ?? j.purpose),
  }), readPurpose);

  step('subject', 'Who is the information about?', 'share/subject.njk', (j, form) => ({
    items: subjectRoleItems(stringOf(form?.subjectRole) ?? j.subjectRole),
    subjectRef: form ? (stringOf(form.subjectRef) ?? '') : (j.subjectRef ?? ''),
  }), readSubject);

  step('information', 'Which information do they want?', 'share/information.njk', (j, form) => ({
    groups: fieldGroups(form ? listOf(form.fields) : (j.fields ?? [])),
  }), readInformation);

  step('facts', 'What do you know about the situation?', 'share/facts.njk', (j, form, errors, from) => ({
    sections: factSections(factsFor(j, from), j.facts ?? {}, errors ?? [], form),
  }), (form, j, from) => readFacts(form, j, factsFor(j, from)));

  router.get('/share/check', (req, res) => {
    const journey = req.session.journey;
    const first = nextUnanswered(journey);
    if (first !== 'check' || !journey) return res.redirect(303, `/share/${first}`);
    res.send(deps.render('share/check.njk', {
      ...pageContext(req, res, { pageTitle: 'Check your answers', backLink: factsFor(journey, fromOf(res)).length > 0 ? '/share/facts' : '/share/information' }),
      rows: checkRows(journey, webPrincipal(res)?.agency.agencyType),
    }));
  });

  router.post('/share/check', csrf.csrfSynchronisedProtection, async (req, res) => {
    const journey = req.session.journey;
    const principal = webPrincipal(res);
    if (!principal || !journey || nextUnanswered(journey) !== 'check') return res.redirect(303, `/share/${nextUnanswered(journey)}`);
    const { toAgencyType, toRole, purpose, subjectRole, fields = [], facts = {} } = journey;
    if (!toAgencyType || !toRole || !purpose || !subjectRole) return res.redirect(303, '/share/organisation');
    const input: DecisionInput = {
      from: { agencyType: principal.agency.agencyType },
      to: { agencyType: toAgencyType, role: toRole },
      purpose,
      subjectRole,
      fields,
      facts,
    };
    try {
      // Decided and COMMITTED to the ledger before anything of the answer is shown.
      const { answer, entry } = await decideAndRecord(deps.decisions, principal, input, { requestId: requestIdOf(res), subjectRef: journey.subjectRef });
      decisionsTotal.inc({ outcome: answer.decision });
      req.session.answer = {
        answer,
        entryId: entry.entryId,
        seq: entry.seq,
        entryHash: entry.entryHash,
        recordedAt: entry.recordedAt.toISOString(),
        asked: { toAgencyType, toRole, purpose, subjectRole, fields: [...fields] },
      };
    } catch (err) {
      if (err instanceof AuditUnavailableError) {
        deps.logger.error({ err }, 'decision not recorded: nothing shown');
        return res.status(503).send(deps.render('message.njk', {
          ...pageContext(req, res, { pageTitle: 'Sorry, there is a problem with the service' }),
          heading: 'Sorry, there is a problem with the service',
          paragraphs: [
            'The answer could not be recorded in the audit ledger, so it has not been shown. Do not share anything yet.',
            'Try again in a few minutes. Your answers have been saved.',
          ],
          link: { href: '/share/check', text: 'Try again' },
        }));
      }
      throw err;
    }
    req.session.save(() => res.redirect(303, '/share/answer'));
  });

  router.get('/share/answer', (req, res) => {
    const stored = req.session.answer;
    if (!stored) return res.redirect(303, '/share');
    res.send(deps.render('share/answer.njk', {
      ...pageContext(req, res, { pageTitle: OUTCOME_HEADINGS[stored.answer.decision] }),
      ...answerView(stored, deps.engine),
    }));
  });

  return router;
}

const STEP_INDEX: Record<Step, number> = { organisation: 0, role: 1, purpose: 2, subject: 3, information: 4, facts: 5, check: 6 };

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function listOf(value: unknown): Field[] {
  const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return values.filter((v): v is Field => typeof v === 'string' && Object.prototype.hasOwnProperty.call(FIELD_LABELS, v));
}

function checkRows(j: Journey, ownAgencyType: string | undefined): Array<Record<string, unknown>> {
  const row = (key: string, value: { text?: string; html?: string }, href?: string, hidden?: string): Record<string, unknown> => ({
    key: { text: key },
    value,
    ...(href ? { actions: { items: [{ href, text: 'Change', visuallyHiddenText: hidden ?? key.toLowerCase() }] } } : {}),
  });
  const known: Array<[FactName, boolean | number | string]> = [];
  for (const [name, value] of Object.entries(j.facts ?? {})) {
    if (isFactName(name) && (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string')) known.push([name, value]);
  }
  return [
    row('Your organisation', { text: labelOf(AGENCY_TYPE_LABELS, ownAgencyType) }),
    row('Organisation asking', { text: labelOf(AGENCY_TYPE_LABELS, j.toAgencyType) }, '/share/organisation', 'organisation asking'),
    row('Role of the person asking', { text: labelOf(ROLE_LABELS, j.toRole) }, '/share/role', 'role of the person asking'),
    row('Why they need it', { text: labelOf(PURPOSE_LABELS, j.purpose) }, '/share/purpose', 'why they need it'),
    row('Who it is about', { text: labelOf(SUBJECT_ROLE_LABELS, j.subjectRole) }, '/share/subject', 'who it is about'),
    row('Your case reference', { text: j.subjectRef ?? 'Not given' }, '/share/subject', 'case reference'),
    row('Information asked for', { html: bulletList((j.fields ?? []).map((f) => FIELD_LABELS[f])) }, '/share/information', 'information asked for'),
    row('What you know', {
      html: known.length > 0 ? bulletList(known.map(([name, value]) => `${FACT_LABELS[name]}: ${describeFactValue(name, value)}`)) : escapeXml('Nothing given'),
    }, '/share/facts', 'what you know'),
  ];
}

function bulletList(items: readonly string[]): string {
  return `<ul class="govuk-list govuk-list--bullet">${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>`;
}

function answerView(stored: StoredAnswer, engine: PolicyCatalogueEngine): Record<string, unknown> {
  const { answer } = stored;
  const ruleTitle = (id: string): string => engine.catalogue.rules.find((r) => r.id === id)?.title ?? id;
  const withheldView = (w: DecisionAnswer['withheldFields'][number]): Record<string, string | undefined> => ({
    field: FIELD_LABELS[w.field],
    why: WITHHELD_CODE_LABELS[w.code],
    reason: w.reason,
    rule: w.rule ? `${ruleTitle(w.rule)} (${w.rule})` : undefined,
  });
  return {
    outcome: answer.decision,
    heading: OUTCOME_HEADINGS[answer.decision],
    recipient: `${labelOf(ROLE_LABELS, stored.asked.toRole)}, ${labelOf(AGENCY_TYPE_LABELS, stored.asked.toAgencyType)}`,
    purpose: labelOf(PURPOSE_LABELS, stored.asked.purpose),
    subject: labelOf(SUBJECT_ROLE_LABELS, stored.asked.subjectRole),
    permitted: answer.permittedFields.map((f) => FIELD_LABELS[f]),
    withheld: answer.withheldFields.filter((w) => w.code !== 'needs_referral').map(withheldView),
    referred: answer.withheldFields.filter((w) => w.code === 'needs_referral').map(withheldView),
    referTo: answer.referTo ? referralTarget(answer.referTo) : undefined,
    reasons: answer.reasons,
    bases: answer.lawfulBasis.map((b) => ({
      rule: b.rule,
      title: ruleTitle(b.rule),
      rows: [
        { key: { text: 'The law that allows it' }, value: { text: b.statute } },
        { key: { text: 'Lawful basis (UK GDPR Article 6)' }, value: { text: b.ukGdprArticle6 } },
        ...(b.ukGdprArticle9 ? [{ key: { text: 'Condition for sensitive information (UK GDPR Article 9)' }, value: { text: b.ukGdprArticle9 } }] : []),
        ...(b.dpa2018Schedule1 ? [{ key: { text: 'Data Protection Act 2018 condition' }, value: { text: b.dpa2018Schedule1 } }] : []),
      ],
    })),
    mustRecord: answer.mustRecord,
    audit: {
      entryId: stored.entryId,
      seq: stored.seq,
      entryHash: stored.entryHash,
      recordedAt: stored.recordedAt,
      policyVersion: answer.policyVersion,
    },
  };
}
