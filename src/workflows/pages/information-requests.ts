/**
 * Request-for-information pages: the asked agency's inbox and answer form, the requester's status page (a task list
 * of the agencies asked) and the combined picture. Everything goes through src/workflows/information-*.ts, as the API.
 */
import { Router, type Request, type Response } from 'express';
import type { Principal } from '../../auth/principal';
import { RefusalError } from '../../errors';
import { recordOf, RECORD_COLUMNS } from '../../records/store';
import { membershipsAround } from '../../records/store';
import { csrf } from '../../web/session';
import { pageContext } from '../../web/page';
import type { Renderer } from '../../web/views';
import { isField } from '../../vocabulary/vocabulary';
import {
  getInformationRequest,
  listInformationRequests,
  type InformationRequestDeps,
  type InformationRequestView,
  type TargetStatus,
} from '../information-requests';
import { readPicture, respondToInformationRequest } from '../information-responses';
import {
  agencyTypeLabel,
  fieldLabel,
  formList,
  formText,
  inWords,
  pageRequestId,
  purposeLabel,
  recordRefusal,
  requirePageScope,
  requireSignedIn,
  signedIn,
  subjectRoleLabel,
  tag,
  textOf,
  valueText,
} from './common';

const STATUS_TAGS: Record<TargetStatus, { text: string; classes?: string }> = {
  awaiting: tag('Awaiting', 'blue'),
  answered: tag('Answered', 'green'),
  declined: tag('Declined', 'grey'),
  overdue: tag('Overdue', 'red'),
};
const PRIORITY_TAGS = { red: tag('Red', 'red'), amber: tag('Amber', 'orange'), green: tag('Green', 'green') } as const;
const tagHtml = (t: { text: string; classes?: string }): string => `<strong class="govuk-tag ${t.classes ?? ''}">${t.text}</strong>`;

function subjectText(r: InformationRequestView): string {
  return `${subjectRoleLabel(r.subject.subjectRole)}${r.subject.caseReference ? `, case ${r.subject.caseReference}` : ''}${r.subject.personId ? `, person ${r.subject.personId.slice(0, 8)}` : ''}`;
}

function inboxRows(list: readonly InformationRequestView[], p: Principal) {
  return list.map((r) => {
    const mine = r.agencies.find((a) => a.agencyId === p.agency.id);
    return [
      { html: `<a class="govuk-link" href="/information-requests/${r.id}">${purposeLabel(r.purpose)}</a>` },
      { text: r.requesterAgencyName ?? r.requesterAgencyId },
      { text: subjectText(r) },
      { html: tagHtml(PRIORITY_TAGS[r.priority]) },
      { text: inWords(r.deadline) },
      { html: mine ? tagHtml(STATUS_TAGS[mine.status]) : '' },
    ];
  });
}

function sentRows(list: readonly InformationRequestView[]) {
  return list.map((r) => [
    { html: `<a class="govuk-link" href="/information-requests/${r.id}">${purposeLabel(r.purpose)}</a>` },
    { text: subjectText(r) },
    { html: tagHtml(PRIORITY_TAGS[r.priority]) },
    { text: inWords(r.deadline) },
    { text: `${r.agencies.filter((a) => a.status === 'answered' || a.status === 'declined').length} of ${r.agencies.length} answered` },
    {
      html: r.overdue
        ? tagHtml(STATUS_TAGS.overdue)
        : r.status === 'complete'
          ? tagHtml(tag('Complete', 'green'))
          : tagHtml(tag('In progress', 'blue')),
    },
  ]);
}

export function informationRequestPages(deps: InformationRequestDeps & { render: Renderer }): Router {
  const router = Router();
  router.use('/information-requests', requireSignedIn, requirePageScope('records:read'));

  router.get('/information-requests', async (req, res) => {
    const p = signedIn(res);
    const inbox = (await listInformationRequests(deps, p, { view: 'asked_of_me' })).informationRequests;
    const sent = (await listInformationRequests(deps, p, { view: 'asked_by_me' })).informationRequests;
    const overdue = inbox.filter((r) => r.agencies.some((a) => a.agencyId === p.agency.id && a.status === 'overdue')).length;
    res.send(
      deps.render('workflows/information-requests.njk', {
        ...pageContext(req, res, { pageTitle: 'Requests for information' }),
        inboxRows: inboxRows(inbox, p),
        sentRows: sentRows(sent),
        overdue,
      }),
    );
  });

  const show = async (
    req: Request,
    res: Response,
    p: Principal,
    r: InformationRequestView,
    errors: Array<{ text: string; href: string }> = [],
  ): Promise<void> => {
    const mine = r.agencies.find((a) => a.agencyId === p.agency.id);
    const canAnswer = r.yourPart === 'asked' && mine !== undefined && (mine.status === 'awaiting' || mine.status === 'overdue');
    // The asked agency's own records about the subject and their household (reading what you hold is not a disclosure).
    let recordItems: Array<{ value: string; text: string; hint: { text: string } }> = [];
    if (canAnswer && r.subject.personId) {
      const family = [r.subject.personId, ...(await membershipsAround(deps.pool, r.subject.personId)).map((m) => m.personId)];
      const { rows } = await deps.pool.query(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE owning_agency_id = $1 AND subject_person_id = ANY($2::uuid[]) ORDER BY occurred_at DESC, id LIMIT 50`,
        [p.agency.id, [...new Set(family)]],
      );
      recordItems = rows
        .map((row) => recordOf(row as Parameters<typeof recordOf>[0]))
        .map((rec) => ({
          value: rec.id,
          text: `${rec.kind.replace(/_/g, ' ')} of ${inWords(rec.occurredAt)} (${subjectRoleLabel(rec.subjectRole)})`,
          hint: {
            text: `Holds: ${
              Object.keys(rec.fields)
                .filter((f) => r.fields.includes(f))
                .map(fieldLabel)
                .join(', ') || 'none of the fields asked for'
            }`,
          },
        }));
    }
    res.status(errors.length ? 400 : 200).send(
      deps.render('workflows/information-request.njk', {
        ...pageContext(req, res, {
          pageTitle: r.yourPart === 'requester' ? 'Your request for information' : 'A request for information',
          backLink: '/information-requests',
        }),
        errors,
        r,
        canAnswer,
        recordItems,
        summaryRows: [
          {
            key: { text: 'Asked by' },
            value: { text: `${r.requesterAgencyName ?? r.requesterAgencyId}${r.requestedBy.name ? ` (${r.requestedBy.name})` : ''}` },
          },
          { key: { text: 'About' }, value: { text: subjectText(r) } },
          { key: { text: 'Purpose' }, value: { text: purposeLabel(r.purpose) + (r.template ? ' (Cafcass safeguarding checks)' : '') } },
          { key: { text: 'Information wanted' }, value: { text: r.fields.map(fieldLabel).join(', ') } },
          { key: { text: 'Priority' }, value: { html: tagHtml(PRIORITY_TAGS[r.priority]) } },
          { key: { text: 'Deadline' }, value: { text: inWords(r.deadline) } },
          ...(r.firstHearingAt ? [{ key: { text: 'First hearing' }, value: { text: inWords(r.firstHearingAt) } }] : []),
          { key: { text: 'Audit reference' }, value: { html: `<span class="app-hash">${r.ledgerEntryId}</span>` } },
        ],
        tasks: r.agencies.map((a) => ({
          title: { text: `${a.agencyName ?? a.agencyId} (${agencyTypeLabel(a.agencyType)})` },
          hint: {
            text:
              a.status === 'declined'
                ? `Declined: ${a.declineReason ?? ''}`
                : a.respondedAt
                  ? `Answered ${inWords(a.respondedAt)}: ${a.recordsReleased} record${a.recordsReleased === 1 ? '' : 's'} released`
                  : `Due ${inWords(a.deadline)}`,
          },
          status: { tag: STATUS_TAGS[a.status] },
        })),
        answered: r.agencies.some((a) => a.status === 'answered'),
      }),
    );
  };

  router.get('/information-requests/:id', async (req, res) => {
    const p = signedIn(res);
    await show(req, res, p, await getInformationRequest(deps, p, String(req.params.id)));
  });

  router.post('/information-requests/:id', csrf.csrfSynchronisedProtection, async (req, res) => {
    const p = signedIn(res);
    const id = String(req.params.id);
    const r = await getInformationRequest(deps, p, id);
    const answer = formText(req.body, 'answer');
    const records = formList(req.body, 'records');
    const reason = formText(req.body, 'reason').trim();
    const errors: Array<{ text: string; href: string }> = [];
    if (answer !== 'release' && answer !== 'decline')
      errors.push({ text: 'Select whether you release records or decline', href: '#answer' });
    if (answer === 'release' && records.length === 0) errors.push({ text: 'Select the records to release', href: '#records' });
    if (answer === 'decline' && !reason) errors.push({ text: 'Say why your agency declines', href: '#reason' });
    if (errors.length) return show(req, res, p, r, errors);
    try {
      const input =
        answer === 'release'
          ? { answer: 'release' as const, records: records.map((recordId) => ({ recordId })) }
          : { answer: 'decline' as const, reason };
      const result = await respondToInformationRequest(deps, p, id, input, pageRequestId(res));
      const released = result.releases.filter((x) => x.fieldsReleased.length > 0).length;
      req.session.notice =
        answer === 'release'
          ? `Your answer is recorded: ${released} of ${result.releases.length} record${result.releases.length === 1 ? '' : 's'} released, each as the sharing policy allows. ${r.requesterAgencyName ?? r.requesterAgencyId} has been told.`
          : `Your agency has declined. ${r.requesterAgencyName ?? r.requesterAgencyId} has been told.`;
    } catch (e) {
      if (!(e instanceof RefusalError)) throw e;
      await recordRefusal(deps.ledger, req, res, e);
      return show(req, res, p, r, [{ text: e.detail, href: '#answer' }]);
    }
    res.redirect(303, `/information-requests/${id}`);
  });

  router.get('/information-requests/:id/picture', async (req, res) => {
    const p = signedIn(res);
    const picture = await readPicture(deps, p, String(req.params.id), pageRequestId(res));
    res.send(
      deps.render('workflows/picture.njk', {
        ...pageContext(req, res, {
          pageTitle: 'What the agencies shared',
          backLink: `/information-requests/${picture.informationRequest.id}`,
        }),
        r: picture.informationRequest,
        items: picture.items.map((item) => ({
          heading: `${textOf(item.kind).replace(/_/g, ' ')}, ${inWords(textOf(item.occurredAt))}`,
          owner: `${String((item.owningAgency as { id?: string } | undefined)?.id ?? '')}`,
          rows: Object.entries(item.fields as Record<string, unknown>)
            .filter(([f]) => isField(f))
            .map(([f, v]) => ({ key: { text: fieldLabel(f) }, value: { text: valueText(v) } })),
          withheld: (item.withheldFields as Array<{ field: string; reason: string }>).map((w) => `${fieldLabel(w.field)}: ${w.reason}`),
          audit: textOf(item.auditEntryId),
        })),
      }),
    );
  });
  return router;
}
