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
  agencyTypeItems,
  describeFactValue,
  factSections,
  fieldGroups,
  nextUnanswered,
  purposeItems,
  readFacts,
  readInformation,
  readOrganisation,
  readPurpose,
  readRole,
  readSubject,
  roleItems,
  subjectRoleItems,
  type Form,
  type FormError,
  type Step,
  type StepResult,
} from './journey';
import { factsUsed, rolesOf } from './questions';
import { FACT_SPECS, type AgencyType } from '../vocabulary/vocabulary';
import type { WebAgency } from './page';
import { DEFAULT_SCHOOL_CALENDAR, nextSchoolDayStart, type SchoolCalendar } from '../notifications/school-day';
import { londonDateTime, londonDeadline } from './dates';
import { isField } from '../vocabulary/vocabulary';
import {
  AGENCY_TYPE_LABELS,
  FACT_LABELS,
  FIELD_LABELS,
  OUTCOME_HEADINGS,
  PURPOSE_LABELS,
  ROLE_LABELS,
  SUBJECT_ROLE_LABELS,
  WITHHELD_CODE_LABELS,
  labelOf,
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
  /** When the next school day starts (Operation Encompass: tell the school before then). */
  readonly schoolCalendar?: SchoolCalendar;
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
    j.toAgencyType && j.purpose
      ? factsUsed(
          deps.engine.catalogue,
          { from, to: j.toAgencyType, ...(j.toRole ? { role: j.toRole } : {}), purpose: j.purpose },
          ALL_FACTS,
        )
      : [];
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

  step(
    'organisation',
    'Which organisation is asking for the information?',
    'share/organisation.njk',
    (j, form) => ({
      agencyItems: agencyTypeItems(stringOf(form?.toAgencyType) ?? j.toAgencyType),
    }),
    readOrganisation,
  );

  step(
    'role',
    (j) => `What is their role at the ${labelOf(AGENCY_TYPE_LABELS, j.toAgencyType).toLowerCase()}?`,
    'share/role.njk',
    (j, form) => ({
      roleItems: roleItems(stringOf(form?.toRole) ?? j.toRole, rolesFor(j)),
    }),
    (form, j) => readRole(form, j, rolesFor(j)),
  );

  step(
    'purpose',
    'Why do they need the information?',
    'share/purpose.njk',
    (j, form) => ({
      items: purposeItems(stringOf(form?.purpose) ?? j.purpose),
    }),
    readPurpose,
  );

  step(
    'subject',
    'Who is the information about?',
    'share/subject.njk',
    (j, form) => ({
      items: subjectRoleItems(stringOf(form?.subjectRole) ?? j.subjectRole),
      subjectRef: form ? (stringOf(form.subjectRef) ?? '') : (j.subjectRef ?? ''),
    }),
    readSubject,
  );

  step(
    'information',
    'Which information do they want?',
    'share/information.njk',
    (j, form) => ({
      groups: fieldGroups(form ? listOf(form.fields) : (j.fields ?? [])),
    }),
    readInformation,
  );

  step(
    'facts',
    'What do you know about the situation?',
    'share/facts.njk',
    (j, form, errors, from) => ({
      sections: factSections(factsFor(j, from), j.facts ?? {}, errors ?? [], form),
    }),
    (form, j, from) => readFacts(form, j, factsFor(j, from)),
  );

  router.get('/share/check', (req, res) => {
    const journey = req.session.journey;
    const first = nextUnanswered(journey);
    if (first !== 'check' || !journey) return res.redirect(303, `/share/${first}`);
    res.send(
      deps.render('share/check.njk', {
        ...pageContext(req, res, {
          pageTitle: 'Check your answers',
          backLink: factsFor(journey, fromOf(res)).length > 0 ? '/share/facts' : '/share/information',
        }),
        rows: checkRows(journey, webPrincipal(res)?.agency.agencyType),
      }),
    );
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
      const { answer, entry } = await decideAndRecord(deps.decisions, principal, input, {
        requestId: requestIdOf(res),
        subjectRef: journey.subjectRef,
      });
      decisionsTotal.inc({ outcome: answer.decision });
      req.session.answer = {
        answer,
        entryId: entry.entryId,
        seq: entry.seq,
        entryHash: entry.entryHash,
        recordedAt: entry.recordedAt.toISOString(),
        asked: { toAgencyType, toRole, purpose, subjectRole, fields: [...fields], facts: { ...facts } },
      };
    } catch (err) {
      if (err instanceof AuditUnavailableError) {
        deps.logger.error({ err }, 'decision not recorded: nothing shown');
        return res.status(503).send(
          deps.render('message.njk', {
            ...pageContext(req, res, { pageTitle: 'Sorry, there is a problem with the service' }),
            heading: 'Sorry, there is a problem with the service',
            paragraphs: [
              'The answer could not be recorded in the audit ledger, so it has not been shown. Do not share anything yet.',
              'Try again in a few minutes. Your answers have been saved.',
            ],
            link: { href: '/share/check', text: 'Try again' },
          }),
        );
      }
      throw err;
    }
    req.session.save(() => res.redirect(303, '/share/answer'));
  });

  router.get('/share/answer', (req, res) => {
    const stored = req.session.answer;
    if (!stored) return res.redirect(303, '/share');
    res.send(
      deps.render('share/answer.njk', {
        ...pageContext(req, res, { pageTitle: OUTCOME_HEADINGS[stored.answer.decision] }),
        ...answerView(stored, deps.engine, deps.schoolCalendar ?? DEFAULT_SCHOOL_CALENDAR),
      }),
    );
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
    if (isFactName(name) && (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string'))
      known.push([name, value]);
  }
  return [
    row('Your organisation', { text: labelOf(AGENCY_TYPE_LABELS, ownAgencyType) }),
    row('Organisation asking', { text: labelOf(AGENCY_TYPE_LABELS, j.toAgencyType) }, '/share/organisation', 'organisation asking'),
    row('Role of the person asking', { text: labelOf(ROLE_LABELS, j.toRole) }, '/share/role', 'role of the person asking'),
    row('Why they need it', { text: labelOf(PURPOSE_LABELS, j.purpose) }, '/share/purpose', 'why they need it'),
    row('Who it is about', { text: labelOf(SUBJECT_ROLE_LABELS, j.subjectRole) }, '/share/subject', 'who it is about'),
    row('Your case reference', { text: j.subjectRef ?? 'Not given' }, '/share/subject', 'case reference'),
    row(
      'Information asked for',
      { html: bulletList((j.fields ?? []).map((f) => FIELD_LABELS[f])) },
      '/share/information',
      'information asked for',
    ),
    row(
      'What you know',
      {
        html:
          known.length > 0
            ? bulletList(known.map(([name, value]) => `${FACT_LABELS[name]}: ${describeFactValue(name, value)}`))
            : escapeXml('Nothing given'),
      },
      '/share/facts',
      'what you know',
    ),
  ];
}

function bulletList(items: readonly string[]): string {
  return `<ul class="govuk-list govuk-list--bullet">${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>`;
}

/** Vocabulary words in quotes inside a policy's sentence ('incident_full_report') become their labels. */
function inWords(text: string): string {
  return text.replace(/['\u2018\u2019"`]([a-z][a-z0-9_]+)['\u2018\u2019"`]/g, (whole, word: string) =>
    isField(word) ? `“${FIELD_LABELS[word]}”` : whole,
  );
}

const PERPETRATOR_RULES = /alleged-perpetrator|acts-for-perpetrator|perpetrator-seeking/;

/** The one thing to do now, in a sentence. */
function nextStep(stored: StoredAnswer, calendar: SchoolCalendar): string {
  const { answer, asked } = stored;
  const recipient = `the ${labelOf(ROLE_LABELS, asked.toRole).toLowerCase()} at the ${labelOf(AGENCY_TYPE_LABELS, asked.toAgencyType).toLowerCase()}`;
  const facts = (asked.facts ?? {}) as Record<string, unknown>;
  const perpetratorAsking =
    facts.requester_is_alleged_perpetrator === true ||
    facts.requester_acts_for_alleged_perpetrator === true ||
    answer.rules.some((r) => PERPETRATOR_RULES.test(r));
  if (answer.decision === 'deny' && perpetratorAsking) {
    return (
      'Do not share anything. Tell the police and the MARAC that the alleged perpetrator is trying to find this information, and ' +
      'record the request and your refusal.'
    );
  }
  if (answer.decision === 'deny') return 'Do not share anything. Record that you were asked, that you did not share, and why.';
  if (answer.decision === 'refer')
    return `Do not share yet: ask ${answer.referTo ? referralTarget(answer.referTo) : 'your manager'} to decide, and record the request.`;
  const what = answer.decision === 'permit' ? 'the information listed' : 'only the information under “You can share”';
  if (asked.purpose === 'operation_encompass' && asked.toAgencyType === 'school') {
    try {
      // Before the start of the next school day after the incident (or after now, if the time of the incident is not known).
      const hours = typeof facts.hours_since_incident === 'number' ? facts.hours_since_incident : 0;
      const deadline = nextSchoolDayStart(new Date(new Date(stored.recordedAt).getTime() - hours * 3_600_000), calendar);
      return `Tell the school's designated safeguarding lead before ${londonDeadline(deadline)}: share ${what}.`;
    } catch {
      return `Tell the school's designated safeguarding lead before the start of the next school day: share ${what}.`;
    }
  }
  return `Share ${what} with ${recipient}, and record what you shared and why.`;
}

function answerView(stored: StoredAnswer, engine: PolicyCatalogueEngine, calendar: SchoolCalendar): Record<string, unknown> {
  const { answer } = stored;
  const ruleTitle = (id: string): string => engine.catalogue.rules.find((r) => r.id === id)?.title ?? id;
  const withheldView = (w: DecisionAnswer['withheldFields'][number]): Record<string, unknown> => ({
    field: FIELD_LABELS[w.field],
    why: w.code === 'needs_referral' && answer.referTo ? `${referralTarget(answer.referTo)} must decide` : WITHHELD_CODE_LABELS[w.code],
    reason: inWords(w.reason),
    rule: w.rule ? ruleTitle(w.rule) : undefined,
    routes: routesOf(w),
  });
  const shownInCards = new Set(answer.withheldFields.map((w) => w.reason));
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
    // The referral this answer opened (src/workflows/): where the practitioner follows the decider's decision.
    referralId: answer.referral?.id,
    // Each reason once: those already given beside a withheld item are not repeated.
    reasons: answer.reasons.filter((r) => ![...shownInCards].some((shown) => r.includes(shown))).map(inWords),
    nextStep: nextStep(stored, calendar),
    bases: answer.lawfulBasis.map((b) => ({
      rule: b.rule,
      title: ruleTitle(b.rule),
      rows: [
        { key: { text: 'The law that allows it' }, value: { text: b.statute } },
        { key: { text: 'Lawful basis (UK GDPR Article 6)' }, value: { text: b.ukGdprArticle6 } },
        ...(b.ukGdprArticle9
          ? [{ key: { text: 'Condition for sensitive information (UK GDPR Article 9)' }, value: { text: b.ukGdprArticle9 } }]
          : []),
        ...(b.dpa2018Schedule1 ? [{ key: { text: 'Data Protection Act 2018 condition' }, value: { text: b.dpa2018Schedule1 } }] : []),
      ],
    })),
    mustRecord: answer.mustRecord.map(inWords),
    audit: {
      entryId: stored.entryId,
      seq: stored.seq,
      entryHash: stored.entryHash,
      recordedAt: londonDateTime(stored.recordedAt, true),
      policyVersion: answer.policyVersion,
    },
  };
}

/**
 * The lawful routes by which a withheld item could be shared (the decision API's `routes`, when the catalogue gives
 * them): rule, the facts that would have to hold, another recipient or purpose, in words.
 */
function routesOf(w: DecisionAnswer['withheldFields'][number]): string[] {
  const routes = (w as { routes?: unknown }).routes;
  if (!Array.isArray(routes)) return [];
  return routes.flatMap((r): string[] => {
    if (typeof r !== 'object' || r === null) return [];
    const route = r as Record<string, unknown>;
    if (typeof route.explanation === 'string') return [inWords(route.explanation)];
    if (typeof route.explanation === 'string')
      return [`${inWords(route.explanation)}${route.sharing === 'duty' ? ' (a duty: you must share)' : ''}`];
    if (typeof route.summary === 'string') return [inWords(route.summary)];
    if (typeof route.description === 'string') return [inWords(route.description)];
    const parts: string[] = [];
    const facts = route.facts ?? route.requiredFacts;
    if (facts && typeof facts === 'object') {
      const list = Object.entries(facts as Record<string, unknown>).map(([k, v]) =>
        isFactName(k)
          ? `${FACT_LABELS[k]}: ${typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' ? describeFactValue(k, v) : String(v)}`
          : k,
      );
      if (list.length) parts.push(`if ${list.join(', ')}`);
    }
    const to = route.to as Record<string, unknown> | undefined;
    if (to && typeof to === 'object')
      parts.push(
        `to ${labelOf(ROLE_LABELS, typeof to.role === 'string' ? to.role : '')}${typeof to.agencyType === 'string' ? ` (${labelOf(AGENCY_TYPE_LABELS, to.agencyType)})` : ''}`.replace(
          /^to \(/,
          'to (',
        ),
      );
    if (typeof route.purpose === 'string') parts.push(`for ${labelOf(PURPOSE_LABELS, route.purpose)}`);
    if (typeof route.rule === 'string') parts.push(`under “${route.rule}”`);
    return parts.length ? [`It could be shared ${parts.join(', ')}.`] : [];
  });
}
