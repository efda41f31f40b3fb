/** The daily triage list page, printable for the meeting: the same list as GET /v1/triage/daily, recorded the same way. */
import { Router } from 'express';
import { InvalidInputError } from '../../errors';
import { pageContext } from '../../web/page';
import type { Renderer } from '../../web/views';
import { isField } from '../../vocabulary/vocabulary';
import { dailyTriage, type TriageDeps } from '../triage';
import {
  fieldLabel,
  inWords,
  pageRequestId,
  requirePageScope,
  requireSignedIn,
  signedIn,
  subjectRoleLabel,
  textOf,
  valueText,
} from './common';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function triagePages(deps: TriageDeps & { render: Renderer }): Router {
  const router = Router();
  router.get('/triage', requireSignedIn, requirePageScope('records:read'), async (req, res) => {
    const p = signedIn(res);
    const date = typeof req.query.date === 'string' && req.query.date !== '' ? req.query.date : undefined;
    if (date !== undefined && !DATE.test(date))
      throw new InvalidInputError('invalid_input', 'Enter the date of the meeting as YYYY-MM-DD, for example 2026-12-01.');
    const list = await dailyTriage(deps, p, date ? { date } : {}, pageRequestId(res));
    res.send(
      deps.render('workflows/triage.njk', {
        ...pageContext(req, res, { pageTitle: 'Daily domestic abuse triage' }),
        list,
        windowText: `${inWords(list.window.from)} to ${inWords(list.window.to)}`,
        families: list.families.map((f, i) => ({
          heading: `Family ${i + 1}${f.area ? `, ${f.area}` : ''}`,
          flagged: f.signals.filter((s) => s.flagged).map((s) => s.summary),
          incidents: f.incidents.map((item) => ({
            heading: `${subjectRoleLabel(textOf(item.subjectRole))}: incident of ${inWords(textOf(item.occurredAt))}`,
            rows: Object.entries(item.fields as Record<string, unknown>)
              .filter(([k]) => isField(k))
              .map(([k, v]) => ({ key: { text: fieldLabel(k) }, value: { text: valueText(v) } })),
            withheld: (item.withheldFields as Array<{ field: string }>).map((w) => fieldLabel(w.field)),
          })),
          audit: f.auditEntryId,
        })),
      }),
    );
  });
  return router;
}
