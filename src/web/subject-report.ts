/**
 * The subject disclosure report for data protection officers and auditors (UK GDPR Article 15(1)(c): the
 * recipients to whom a person's data was disclosed): by case reference or person id, every disclosure of their data
 * — when, by whom, to whom, which fields, why — as a page and as CSV. Each report is recorded in the ledger
 * (kind `audit_read`, with the person's pseudonym, never the reference) before it is shown.
 */
import { Router, type Request, type Response } from 'express';
import type { Pool } from 'pg';
import { actorOf } from '../audit/actor';
import { contentHash, type AuditLedger } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import { subjectDisclosures, type SubjectDisclosure } from '../audit/subject-disclosures';
import { GatewayError } from '../errors';
import type { PolicyCatalogueEngine } from '../policy';
import { isField } from '../vocabulary/vocabulary';
import { requireRoles } from './console';
import { toCsv } from './csv';
import { londonDateTime } from './dates';
import { AGENCY_TYPE_LABELS, FIELD_LABELS, PURPOSE_LABELS, ROLE_LABELS, labelOf } from './labels';
import { ADMIN_ROLES, pageContext, type WebAgency } from './page';
import { requestIdOf } from './share';
import { webPrincipal } from './session';
import type { Renderer } from './views';

interface ReportDeps {
  readonly ledger: AuditLedger;
  readonly pool: Pool;
  readonly pseudonymise: Pseudonymiser;
  readonly agencies: readonly WebAgency[];
  readonly engine: PolicyCatalogueEngine;
  readonly render: Renderer;
}

const REF = /^[A-Za-z0-9][A-Za-z0-9 /._:-]{0,127}$/;
const CSV_HEADER = [
  'when',
  'status',
  'by_agency',
  'by_role',
  'to_agency',
  'to_agency_type',
  'to_role',
  'fields',
  'purpose',
  'rules',
  'entry_id',
  'seq',
] as const;

export function subjectReportRouter(deps: ReportDeps): Router {
  const router = Router();
  router.use(['/disclosures', '/disclosures.csv'], requireRoles(ADMIN_ROLES));
  const agencyName = (id: string | null): string =>
    id
      ? id
          .split(', ')
          .map((one) => deps.agencies.find((a) => a.id === one)?.name ?? one)
          .join(', ')
      : '';
  const ruleTitle = (id: string): string => deps.engine.catalogue.rules.find((r) => r.id === id)?.title ?? id;
  const party = (p: SubjectDisclosure['to']): string =>
    [p.role ? labelOf(ROLE_LABELS, p.role) : '', agencyName(p.agencyId) || labelOf(AGENCY_TYPE_LABELS, p.agencyType)]
      .filter(Boolean)
      .join(', ');
  const fields = (d: SubjectDisclosure): string[] => d.fields.map((f) => (isField(f) ? FIELD_LABELS[f] : f));

  /** Reads, records (before anything is shown) and returns the report; undefined when no reference was given. */
  const report = async (
    req: Request,
    res: Response,
    view: string,
  ): Promise<{ ref: string; rows: SubjectDisclosure[] } | { error: string } | undefined> => {
    const ref = typeof req.query.ref === 'string' ? req.query.ref.trim() : '';
    if (ref === '') return undefined;
    if (!REF.test(ref))
      return { error: 'Enter a case reference or person id using only letters, numbers, spaces, hyphens, full stops, colons and slashes' };
    const principal = webPrincipal(res);
    if (!principal) throw new GatewayError('unauthenticated', 'Sign in first.');
    const subject = deps.pseudonymise(ref);
    const rows = await subjectDisclosures(deps.pool, subject);
    const entry = await deps.ledger.append({
      kind: 'audit_read',
      outcome: 'served',
      requestId: requestIdOf(res),
      actor: actorOf(principal),
      payload: { via: 'web', view, subject, returned: rows.length, pageHash: contentHash(rows.map((r) => r.entryId)) },
    });
    res.setHeader('X-Audit-Entry-Id', entry.entryId);
    return { ref, rows };
  };

  router.get('/disclosures', async (req, res) => {
    const found = await report(req, res, 'subject_disclosures');
    const error = found && 'error' in found ? found.error : undefined;
    const result = found && 'rows' in found ? found : undefined;
    res.status(error ? 400 : 200).send(
      deps.render('console/disclosures.njk', {
        ...pageContext(req, res, { pageTitle: 'Who has been given a person’s information' }),
        ref: typeof req.query.ref === 'string' ? req.query.ref.trim().slice(0, 128) : '',
        errors: error ? [{ text: error, href: '#ref' }] : [],
        errorFor: error ? { ref: error } : {},
        searched: result !== undefined,
        csvHref: result ? `/disclosures.csv?${new URLSearchParams({ ref: result.ref }).toString()}` : undefined,
        rows: (result?.rows ?? []).map((d) => ({
          when: londonDateTime(d.recordedAt),
          status: d.status === 'disclosed' ? 'Sent through the gateway' : 'Practitioner told they may share',
          by: party(d.by),
          to: party(d.to),
          fields: fields(d),
          why: [labelOf(PURPOSE_LABELS, d.purpose), ...d.rules.map(ruleTitle)].filter(Boolean),
          entryId: d.entryId,
          seq: d.seq,
        })),
        recipients: [...new Set((result?.rows ?? []).map((d) => party(d.to)))],
      }),
    );
  });

  router.get('/disclosures.csv', async (req, res) => {
    const found = await report(req, res, 'subject_disclosures_csv');
    if (!found || 'error' in found)
      return res.redirect(
        303,
        `/disclosures?${new URLSearchParams({ ref: typeof req.query.ref === 'string' ? req.query.ref : '' }).toString()}`,
      );
    const csv = toCsv(
      CSV_HEADER,
      found.rows.map((d) => [
        d.recordedAt,
        d.status,
        agencyName(d.by.agencyId),
        d.by.role,
        agencyName(d.to.agencyId),
        d.to.agencyType,
        d.to.role,
        d.fields.join(';'),
        d.purpose,
        d.rules.join(';'),
        d.entryId,
        d.seq,
      ]),
    );
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="disclosures-${new Date().toISOString().slice(0, 10)}.csv"`);
    res.send(csv);
  });
  return router;
}
