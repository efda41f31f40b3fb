/**
 * The auditor console (role `auditor` only): the disclosure log with filters and cursor paging, one entry in
 * full, the chain verification, a CSV export and charts. Like the API's reads, every read is appended to the
 * ledger (kind `audit_read`: what was asked, how many entries, a hash of what was shown) BEFORE the page is sent;
 * a verification is appended as `audit_verify`. If the ledger cannot record the read, the page is not shown.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import { contentHash, type AuditLedger, type JsonObject } from '../audit/entry';
import { CSV_HEADER, csvRowOf } from './console-csv';
import { countLedger, decisionStats, queryLedger, MAX_PAGE_SIZE, type LedgerEntryView, type LedgerFilters } from '../audit/query';
import { verifyLedger } from '../audit/verify';
import type { Pseudonymiser } from '../audit/pseudonym';
import { describeVerification, type SealFacts } from '../audit/verification-wording';
import { AUDIT_KINDS, AUDIT_OUTCOMES, READ_KINDS, isAuditKind } from '../audit/kinds';
import { actorOf } from '../audit/actor';
import { GatewayError, RefusalError } from '../errors';
import type { PolicyCatalogueEngine } from '../policy';
import { PURPOSES, isPurpose } from '../vocabulary/vocabulary';
import { entryRouter } from './console-entry';
import { londonDateTime } from './dates';
import { horizontalBarChart, stackedBarChart } from './charts';
import { toCsv } from './csv';
import { KIND_LABELS, OUTCOME_LABELS, PURPOSE_LABELS, ROLE_LABELS, WITHHELD_CODE_LABELS, labelOf } from './labels';
import { AUDITOR_ROLES, pageContext, type WebAgency } from './page';
import { requestIdOf } from './share';
import { webPrincipal } from './session';
import type { Renderer } from './views';

interface ConsoleDeps {
  readonly ledger: AuditLedger;
  readonly pool: Pool;
  readonly agencies: readonly WebAgency[];
  readonly engine: PolicyCatalogueEngine;
  readonly render: Renderer;
  readonly pseudonymise: Pseudonymiser;
  readonly verifySeals?: () => Promise<SealFacts>;
  readonly receiptFor?: (entry: LedgerEntryView) => Promise<unknown>;
}

export function requireRoles(roles: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const principal = webPrincipal(res);
    if (!principal) {
      req.session.returnTo = req.originalUrl;
      return res.redirect(303, '/sign-in');
    }
    if (!roles.includes(principal.role)) return next(new GatewayError('forbidden', 'This page is for other roles.'));
    next();
  };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Rows in one CSV export at most (the filters narrow it further). */
export const EXPORT_MAX_ROWS = 10_000;

interface FilterForm {
  readonly q: string;
  readonly since: string;
  readonly until: string;
  readonly agencyId: string;
  readonly purpose: string;
  readonly outcome: string;
  readonly rule: string;
  readonly kind: string;
  readonly reads: string;
}
const SEARCH = /^[A-Za-z0-9][A-Za-z0-9 /._:-]{0,127}$/;

function q(req: Request, name: string): string {
  const v = req.query[name];
  return typeof v === 'string' ? v.trim().slice(0, 200) : '';
}

function parseDay(text: string, endOfDay: boolean): Date | undefined {
  if (!DATE.test(text)) return undefined;
  const d = new Date(`${text}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== text ? undefined : d;
}

/** The console's filters, checked: unknown values are errors on the page, never passed on. */
function readFilters(
  req: Request,
  deps: ConsoleDeps,
): { form: FilterForm; filters: LedgerFilters; errors: Array<{ text: string; href: string }> } {
  const form: FilterForm = {
    q: q(req, 'q'),
    reads: q(req, 'reads') === 'shown' ? 'shown' : '',
    since: q(req, 'since'),
    until: q(req, 'until'),
    agencyId: q(req, 'agencyId'),
    purpose: q(req, 'purpose'),
    outcome: q(req, 'outcome'),
    rule: q(req, 'rule'),
    kind: q(req, 'kind'),
  };
  const errors: Array<{ text: string; href: string }> = [];
  const since = form.since ? parseDay(form.since, false) : undefined;
  const until = form.until ? parseDay(form.until, true) : undefined;
  if (form.since && !since) errors.push({ text: 'Enter the “from” date as a real date in the format 2026-11-23', href: '#since' });
  if (form.until && !until) errors.push({ text: 'Enter the “to” date as a real date in the format 2026-11-23', href: '#until' });
  if (since && until && since > until) errors.push({ text: 'The “from” date must be the same as or before the “to” date', href: '#since' });
  if (form.agencyId && !deps.agencies.some((a) => a.id === form.agencyId))
    errors.push({ text: 'Select an agency from the list', href: '#agencyId' });
  if (form.purpose && !isPurpose(form.purpose)) errors.push({ text: 'Select a purpose from the list', href: '#purpose' });
  if (form.outcome && !Object.prototype.hasOwnProperty.call(OUTCOME_LABELS, form.outcome))
    errors.push({ text: 'Select an outcome from the list', href: '#outcome' });
  if (form.rule && !deps.engine.catalogue.rules.some((r) => r.id === form.rule))
    errors.push({ text: 'Select a rule from the list', href: '#rule' });
  if (form.kind && !isAuditKind(form.kind)) errors.push({ text: 'Select a kind of entry from the list', href: '#kind' });
  if (form.q && !SEARCH.test(form.q))
    errors.push({
      text:
        'Enter an audit reference, a request id or a case reference, using only letters, numbers, spaces, hyphens, full stops, ' +
        'colons and slashes',
      href: '#q',
    });
  const filters: LedgerFilters =
    errors.length > 0
      ? {}
      : {
          ...(since ? { since } : {}),
          ...(until ? { until } : {}),
          ...(form.agencyId ? { agencyId: form.agencyId } : {}),
          ...(form.purpose && isPurpose(form.purpose) ? { purpose: form.purpose } : {}),
          ...(form.outcome ? { outcome: form.outcome } : {}),
          ...(form.rule ? { rule: form.rule } : {}),
          ...(form.kind ? { kind: form.kind } : {}),
          // Reads of the ledger are hidden unless asked for (by the checkbox, or by choosing a read kind).
          ...(form.kind || form.reads ? {} : { excludeKinds: READ_KINDS }),
          ...(form.q ? { anyOf: { entryId: form.q.toLowerCase(), requestId: form.q, subjectPseudonym: deps.pseudonymise(form.q) } } : {}),
        };
  return { form, filters, errors };
}

function queryString(form: FilterForm, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...form, ...extra })) if (v) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

function options(
  selected: string,
  items: ReadonlyArray<{ value: string; text: string }>,
  anyText: string,
): Array<{ value: string; text: string; selected?: boolean }> {
  return [{ value: '', text: anyText }, ...items].map((i) => ({ ...i, ...(i.value === selected ? { selected: true } : {}) }));
}

export function consoleRouter(deps: ConsoleDeps): Router {
  const router = Router();
  router.use('/audit', requireRoles(AUDITOR_ROLES));

  /** Appends the read; resolves only once it is committed (the page is sent after). */
  const recordRead = async (res: Response, payload: JsonObject, outcome = 'served'): Promise<string> => {
    const principal = webPrincipal(res);
    if (!principal) throw new GatewayError('unauthenticated', 'Sign in first.');
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome,
      requestId: requestIdOf(res),
      actor: actorOf(principal),
      payload: { via: 'web', ...payload },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    return entry.entryId;
  };

  const agencyName = (id: string | null | undefined): string => (id ? (deps.agencies.find((a) => a.id === id)?.name ?? id) : '');
  const ruleTitle = (id: string): string => deps.engine.catalogue.rules.find((r) => r.id === id)?.title ?? id;

  router.get('/audit', async (req, res) => {
    const { form, filters, errors } = readFilters(req, deps);
    const cursor = errors.length === 0 ? q(req, 'cursor') : '';
    let entries: LedgerEntryView[] = [];
    let nextCursor: string | undefined;
    let cursorError = false;
    let total = 0;
    if (errors.length === 0) {
      try {
        const page = await queryLedger(deps.pool, filters, {
          ...(cursor ? { cursor } : {}),
          limit: 25,
          mac: (body) => deps.pseudonymise.mac('audit-cursor', body),
        });
        entries = page.entries;
        nextCursor = page.nextCursor;
        total = await countLedger(deps.pool, filters);
      } catch (err) {
        if (!(err instanceof RefusalError)) throw err;
        cursorError = true;
      }
    }
    const rows = entries.map((e) => ({
      seq: e.seq,
      entryId: e.entryId,
      recordedAt: londonDateTime(e.recordedAt),
      kind: labelOf(KIND_LABELS, e.kind),
      outcome: e.outcome,
      outcomeLabel: labelOf(OUTCOME_LABELS, e.outcome),
      agency: agencyName(e.actor?.agencyId),
      role: labelOf(ROLE_LABELS, e.actor?.role),
      purpose: labelOf(PURPOSE_LABELS, e.purpose),
      rules: e.rules.join(', '),
    }));
    await recordRead(res, {
      view: 'log',
      // The search words may be a case reference: only its pseudonym is recorded.
      query: { ...form, q: form.q ? deps.pseudonymise(form.q) : '', cursor: cursor || null },
      returned: entries.length,
      pageHash: contentHash(entries.map((e) => e.entryHash)),
    });
    const allErrors = [
      ...errors,
      ...(cursorError
        ? [{ text: 'That page link has expired or belongs to other filters. Start again from the first page.', href: '#results' }]
        : []),
    ];
    res.send(
      deps.render('console/log.njk', {
        ...pageContext(req, res, { pageTitle: 'Audit log' }),
        errors: allErrors,
        errorFor: Object.fromEntries(errors.map((e) => [e.href.slice(1), e.text])),
        form,
        agencyOptions: options(
          form.agencyId,
          deps.agencies.map((a) => ({ value: a.id, text: a.name })),
          'Any agency',
        ),
        purposeOptions: options(
          form.purpose,
          PURPOSES.map((p) => ({ value: p, text: PURPOSE_LABELS[p] })),
          'Any purpose',
        ),
        outcomeOptions: options(
          form.outcome,
          AUDIT_OUTCOMES.map((o) => ({ value: o, text: labelOf(OUTCOME_LABELS, o) })),
          'Any outcome',
        ),
        ruleOptions: options(
          form.rule,
          deps.engine.catalogue.rules.map((r) => ({ value: r.id, text: `${r.title} (${r.id})` })),
          'Any rule',
        ),
        kindOptions: options(
          form.kind,
          AUDIT_KINDS.map((k) => ({ value: k, text: labelOf(KIND_LABELS, k) })),
          'Any kind',
        ),
        rows,
        total,
        searched: form.q !== '',
        readsShown: form.reads === 'shown' || READ_KINDS.some((k) => k === form.kind),
        nextHref: nextCursor ? `/audit${queryString(form, { cursor: nextCursor })}` : undefined,
        firstHref: cursor ? `/audit${queryString(form)}` : undefined,
        exportHref: `/audit/export.csv${queryString(form)}`,
        chartsHref: `/audit/charts${queryString({ ...form, q: '', reads: '', agencyId: '', purpose: '', outcome: '', rule: '', kind: '' })}`,
      }),
    );
  });

  router.use(entryRouter({ ...deps, recordRead, agencyName, ruleTitle }));

  router.get('/audit/verify', async (req, res) => {
    const principal = webPrincipal(res);
    if (!principal) throw new GatewayError('unauthenticated', 'Sign in first.');
    const report = await verifyLedger(deps.pool);
    const seals = deps.verifySeals ? await deps.verifySeals() : undefined;
    const summary = describeVerification(report, seals);
    const ok = report.ok && (seals?.ok ?? true);
    const entry = await deps.ledger.append({
      kind: 'audit_verify',
      outcome: ok ? 'intact' : 'broken',
      requestId: requestIdOf(res),
      actor: actorOf(principal),
      payload: {
        via: 'web',
        entriesChecked: report.entriesChecked,
        lastSeq: report.lastSeq,
        firstBadSeq: report.firstBadSeq ?? null,
        trustedUpTo: report.trustedUpTo,
        sealedUpTo: seals?.trustedUpTo ?? null,
        summary,
      },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    res.send(
      deps.render('console/verify.njk', {
        ...pageContext(req, res, { pageTitle: 'Verify the audit ledger' }),
        report,
        ok,
        summary,
        sealedUpTo: seals ? Math.min(seals.trustedUpTo, report.lastSeq) : undefined,
        checkedAt: londonDateTime(new Date().toISOString()),
        verifyEntry: { entryId: entry.entryId, seq: entry.seq },
      }),
    );
  });

  router.get('/audit/export.csv', async (req, res) => {
    const { form, filters, errors } = readFilters(req, deps);
    if (errors.length > 0) return res.redirect(303, `/audit${queryString(form)}`);
    const entries: LedgerEntryView[] = [];
    let cursor: string | undefined;
    do {
      const page = await queryLedger(deps.pool, filters, {
        ...(cursor ? { cursor } : {}),
        limit: MAX_PAGE_SIZE,
        mac: (body) => deps.pseudonymise.mac('audit-cursor', body),
      });
      entries.push(...page.entries);
      cursor = page.nextCursor;
    } while (cursor && entries.length < EXPORT_MAX_ROWS);
    const rows = entries.slice(0, EXPORT_MAX_ROWS).map(csvRowOf);
    const csv = toCsv(CSV_HEADER, rows);
    await recordRead(res, {
      view: 'export',
      query: { ...form, q: form.q ? deps.pseudonymise(form.q) : '' },
      returned: rows.length,
      pageHash: contentHash(csv),
    });
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="audit-log-${new Date().toISOString().slice(0, 10)}.csv"`);
    res.setHeader('Cache-Control', 'no-store');
    res.send(csv);
  });

  router.get('/audit/charts', async (req, res) => {
    const today = new Date();
    const defaultSince = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - 13));
    const sinceText = q(req, 'since') || defaultSince.toISOString().slice(0, 10);
    const untilText = q(req, 'until') || today.toISOString().slice(0, 10);
    const since = parseDay(sinceText, false);
    const until = parseDay(untilText, true);
    const errors: Array<{ text: string; href: string }> = [];
    if (!since) errors.push({ text: 'Enter the “from” date as a real date in the format 2026-11-23', href: '#since' });
    if (!until) errors.push({ text: 'Enter the “to” date as a real date in the format 2026-11-23', href: '#until' });
    if (since && until && (since > until || until.getTime() - since.getTime() > 366 * 86_400_000)) {
      errors.push({ text: 'Choose a period of one year or less, with the “from” date first', href: '#since' });
    }
    let view: Record<string, unknown> = {};
    if (errors.length === 0 && since && until) {
      const stats = await decisionStats(deps.pool, since, until);
      const days: string[] = [];
      for (let d = new Date(since); d <= until; d = new Date(d.getTime() + 86_400_000)) days.push(d.toISOString().slice(0, 10));
      const count = (day: string, outcome: string): number => stats.byDay.find((r) => r.day === day && r.outcome === outcome)?.n ?? 0;
      const series = [
        { key: 'permit', label: 'Share', colour: '#00703c' },
        { key: 'permit_partial', label: 'Share some', colour: '#1d70b8' },
        { key: 'refer', label: 'Refer', colour: '#f47738' },
        { key: 'deny', label: 'Do not share', colour: '#d4351c' },
      ];
      const total = stats.byDay.reduce((s, r) => s + r.n, 0);
      const asBar = (w: (typeof stats.withheld)[number]) => ({
        label: w.rule ? ruleTitle(w.rule) : labelOf(WITHHELD_CODE_LABELS, w.code),
        value: w.n,
        code: labelOf(WITHHELD_CODE_LABELS, w.code),
        rule: w.rule ?? '',
      });
      // A referral is not a "no": items waiting for a decider are counted apart from items withheld.
      const reasons = stats.withheld.filter((w) => w.code !== 'needs_referral').map(asBar);
      const referrals = stats.withheld.filter((w) => w.code === 'needs_referral').map(asBar);
      view = {
        total,
        overTimeSvg: stackedBarChart({
          id: 'decisions-over-time',
          title: `Sharing decisions per day, ${sinceText} to ${untilText}`,
          description: `${total} decisions in the period, stacked by outcome: share, share some, refer, do not share. The table below gives the same numbers.`,
          categories: days,
          series,
          value: count,
        }),
        overTimeTable: {
          head: [{ text: 'Day' }, ...series.map((s) => ({ text: s.label, format: 'numeric' }))],
          rows: days
            .filter((d) => series.some((s) => count(d, s.key) > 0))
            .map((d) => [{ text: d }, ...series.map((s) => ({ text: String(count(d, s.key)), format: 'numeric' }))]),
        },
        reasonsSvg: horizontalBarChart({
          id: 'denials-by-reason',
          title: `Information withheld, by reason, ${sinceText} to ${untilText}`,
          description: `How many requested items were withheld for each reason or rule. ${reasons.length} reasons. The table below gives the same numbers.`,
          bars: reasons.map((r) => ({ label: r.label, value: r.value })),
          colour: '#d4351c',
          emptyText: 'Nothing withheld in this period',
        }),
        reasonsTable: {
          head: [{ text: 'Reason' }, { text: 'Kind' }, { text: 'Rule' }, { text: 'Items withheld', format: 'numeric' }],
          rows: reasons.map((r) => [{ text: r.label }, { text: r.code }, { text: r.rule }, { text: String(r.value), format: 'numeric' }]),
        },
        referralsSvg: horizontalBarChart({
          id: 'referrals-by-rule',
          title: `Information sent for a decision, by rule, ${sinceText} to ${untilText}`,
          description: `How many requested items a rule sent to a decider (team manager, Caldicott Guardian or data protection officer). ${referrals.length} rules. The table below gives the same numbers.`,
          bars: referrals.map((r) => ({ label: r.label, value: r.value })),
          colour: '#505a5f',
          emptyText: 'Nothing sent for a decision in this period',
        }),
        referralsTable: {
          head: [{ text: 'Rule' }, { text: 'Rule id' }, { text: 'Items referred', format: 'numeric' }],
          rows: referrals.map((r) => [{ text: r.label }, { text: r.rule }, { text: String(r.value), format: 'numeric' }]),
        },
      };
      await recordRead(res, {
        view: 'charts',
        query: { since: sinceText, until: untilText },
        returned: total,
        pageHash: contentHash(stats),
      });
    } else {
      await recordRead(res, { view: 'charts', query: { since: sinceText, until: untilText }, returned: 0, pageHash: contentHash(null) });
    }
    res.status(errors.length ? 400 : 200).send(
      deps.render('console/charts.njk', {
        ...pageContext(req, res, { pageTitle: 'Charts of sharing decisions' }),
        errors,
        errorFor: Object.fromEntries(errors.map((e) => [e.href.slice(1), e.text])),
        form: { since: sinceText, until: untilText },
        ...view,
      }),
    );
  });

  return router;
}
