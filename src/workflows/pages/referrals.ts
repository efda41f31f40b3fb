/**
 * Referral pages: the decider's queue and decision form, the practitioner's "my referrals" with the outcome.
 * Decisions go through src/workflows/referrals.ts exactly as the API's: the ledger has committed the decision before
 * the page confirms it; a refusal is recorded and shown in an error summary.
 */
import { Router, type Request, type Response } from 'express';
import type { Principal } from '../../auth/principal';
import { RefusalError } from '../../errors';
import { csrf } from '../../web/session';
import { pageContext } from '../../web/page';
import type { Renderer } from '../../web/views';
import { isField, type Field } from '../../vocabulary/vocabulary';
import {
  decideReferral,
  getReferral,
  isDeciderRole,
  listReferrals,
  REFERRAL_OUTCOMES,
  type ReferralDeps,
  type ReferralOutcome,
  type ReferralView,
} from '../referrals';
import {
  fieldLabel,
  formList,
  formText,
  inWords,
  pageRequestId,
  purposeLabel,
  recordRefusal,
  requirePageScope,
  requireSignedIn,
  roleLabel,
  agencyTypeLabel,
  signedIn,
  subjectRoleLabel,
  tag,
} from './common';

const statusTag = (r: ReferralView) =>
  r.status === 'decided' ? tag('Decided', 'green') : r.overdue ? tag('Overdue', 'red') : tag('Waiting for a decision', 'yellow');
const OUTCOME_WORDS: Record<ReferralOutcome, string> = { share: 'Share', share_some: 'Share some', do_not_share: 'Do not share' };

function rowsOf(list: readonly ReferralView[], forDecider: boolean) {
  return list.map((r) => [
    {
      html: `<a class="govuk-link" href="/referrals/${r.id}">${r.request.fields
        .map(fieldLabel)
        .join(', ')
        .replace(/[<>&"]/g, '')}</a>`,
    },
    { text: `${agencyTypeLabel(r.request.to.agencyType)}, ${roleLabel(r.request.to.role)}` },
    { text: purposeLabel(r.request.purpose) },
    { text: forDecider ? roleLabel(r.askedBy.role) + (r.askedBy.name ? ` (${r.askedBy.name})` : '') : roleLabel(r.deciderRole) },
    { text: r.status === 'decided' && r.decision ? OUTCOME_WORDS[r.decision.outcome] : inWords(r.dueAt) },
    { html: `<strong class="govuk-tag ${statusTag(r).classes ?? ''}">${statusTag(r).text}</strong>` },
  ]);
}

export function referralPages(deps: ReferralDeps & { render: Renderer }): Router {
  const router = Router();
  router.use('/referrals', requireSignedIn, requirePageScope('decisions'));

  router.get('/referrals', async (req, res) => {
    const p = signedIn(res);
    const queue = isDeciderRole(p.role) ? (await listReferrals(deps, p, { view: 'queue' })).referrals : undefined;
    const mine = (await listReferrals(deps, p, { view: 'mine' })).referrals;
    const overdue = queue?.filter((r) => r.overdue).length ?? 0;
    res.send(
      deps.render('workflows/referrals.njk', {
        ...pageContext(req, res, { pageTitle: 'Referrals' }),
        deciderRole: queue ? roleLabel(p.role) : undefined,
        queueRows: queue
          ? rowsOf(
              queue.filter((r) => r.status === 'open'),
              true,
            )
          : [],
        decidedRows: queue
          ? rowsOf(
              queue.filter((r) => r.status === 'decided'),
              true,
            )
          : [],
        mineRows: rowsOf(mine, false),
        overdue,
      }),
    );
  });

  const show = async (
    req: Request,
    res: Response,
    p: Principal,
    referral: ReferralView,
    errors: Array<{ text: string; href: string }> = [],
    form: Record<string, unknown> = {},
  ): Promise<void> => {
    const canDecide =
      referral.status === 'open' && p.role === referral.deciderRole && !referral.askedBy.you && p.practitioner !== undefined;
    const fieldItems = referral.referredFields.map((f) => ({
      value: f,
      text: fieldLabel(f),
      checked: formList(form, 'fields').includes(f),
    }));
    res.status(errors.length ? 400 : 200).send(
      deps.render('workflows/referral.njk', {
        ...pageContext(req, res, { pageTitle: canDecide ? 'Decide this referral' : 'Referral', backLink: '/referrals' }),
        errors,
        referral,
        canDecide,
        ownReferralNote: referral.status === 'open' && referral.askedBy.you && p.role === referral.deciderRole,
        statusTag: statusTag(referral),
        summaryRows: [
          {
            key: { text: 'Status' },
            value: { html: `<strong class="govuk-tag ${statusTag(referral).classes ?? ''}">${statusTag(referral).text}</strong>` },
          },
          {
            key: { text: 'Asked by' },
            value: {
              text: `${referral.askedBy.name ?? 'A practitioner'}, ${roleLabel(referral.askedBy.role)}${referral.askedBy.you ? ' (you)' : ''}`,
            },
          },
          {
            key: { text: 'Share with' },
            value: { text: `${agencyTypeLabel(referral.request.to.agencyType)}, ${roleLabel(referral.request.to.role)}` },
          },
          { key: { text: 'Purpose' }, value: { text: purposeLabel(referral.request.purpose) } },
          {
            key: { text: 'About' },
            value: {
              text: subjectRoleLabel(referral.request.subjectRole) + (referral.subjectRef ? ` (reference ${referral.subjectRef})` : ''),
            },
          },
          { key: { text: 'Needs your decision' }, value: { text: referral.referredFields.map(fieldLabel).join(', ') } },
          { key: { text: 'Already allowed' }, value: { text: referral.permittedFields.map(fieldLabel).join(', ') || 'Nothing' } },
          { key: { text: 'Decide by' }, value: { text: inWords(referral.dueAt) } },
          { key: { text: 'Decided by' }, value: { text: roleLabel(referral.deciderRole) } },
          { key: { text: 'Audit reference' }, value: { html: `<span class="app-hash">${referral.decisionEntry.entryId}</span>` } },
        ],
        decisionRows: referral.decision
          ? [
              { key: { text: 'Decision' }, value: { text: OUTCOME_WORDS[referral.decision.outcome] } },
              { key: { text: 'Released' }, value: { text: referral.decision.releasedFields.map(fieldLabel).join(', ') || 'Nothing' } },
              { key: { text: 'Reasons' }, value: { text: referral.decision.reasons } },
              {
                key: { text: 'Decided by' },
                value: { text: `${referral.decision.decidedBy.name ?? ''}, ${roleLabel(referral.decision.decidedBy.role)}` },
              },
              { key: { text: 'Decided on' }, value: { text: inWords(referral.decision.decidedAt) } },
              { key: { text: 'Audit reference' }, value: { html: `<span class="app-hash">${referral.decision.entryId ?? ''}</span>` } },
            ]
          : [],
        fieldItems,
        decision: formText(form, 'decision'),
        reasons: formText(form, 'reasons'),
      }),
    );
  };

  router.get('/referrals/:id', async (req, res) => {
    const p = signedIn(res);
    await show(req, res, p, await getReferral(deps, p, String(req.params.id)));
  });

  router.post('/referrals/:id', csrf.csrfSynchronisedProtection, async (req, res) => {
    const p = signedIn(res);
    const id = String(req.params.id);
    const referral = await getReferral(deps, p, id);
    const decision = formText(req.body, 'decision');
    const reasons = formText(req.body, 'reasons');
    const errors: Array<{ text: string; href: string }> = [];
    if (!(REFERRAL_OUTCOMES as readonly string[]).includes(decision)) errors.push({ text: 'Select your decision', href: '#decision' });
    if (!reasons.trim()) errors.push({ text: 'Give your reasons, in your own words', href: '#reasons' });
    const chosen = formList(req.body, 'fields').filter(isField);
    if (errors.length) return show(req, res, p, referral, errors, req.body as Record<string, unknown>);
    const outcome = decision as ReferralOutcome;
    const fields: Field[] = outcome === 'share' ? referral.referredFields.filter(isField) : outcome === 'share_some' ? chosen : [];
    try {
      await decideReferral(deps, p, id, { decision: outcome, fields, reasons }, pageRequestId(res));
    } catch (e) {
      if (!(e instanceof RefusalError)) throw e;
      await recordRefusal(deps.ledger, req, res, e);
      return show(
        req,
        res,
        p,
        referral,
        [{ text: e.detail, href: outcome === 'share_some' ? '#fields' : '#decision' }],
        req.body as Record<string, unknown>,
      );
    }
    req.session.notice = `Your decision is recorded: ${OUTCOME_WORDS[outcome].toLowerCase()}. The practitioner who asked has been told.`;
    res.redirect(303, `/referrals/${id}`);
  });
  return router;
}
