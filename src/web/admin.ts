/**
 * Views for administrators (auditor or data protection officer): the agencies the gateway trusts, with their
 * issuers and roles, and the sharing-policy catalogue written out readably with each rule's lawful basis.
 * Neither shows personal data, so reading them is not a ledger entry.
 */
import { Router } from 'express';
import type { PolicyCatalogueEngine, PolicyRule, Selector, FactTest } from '../policy';
import { isField, type FactName } from '../vocabulary/vocabulary';
import { requireRoles } from './console';
import { describeFactValue } from './journey';
import { AGENCY_TYPE_LABELS, FACT_LABELS, FIELD_LABELS, PURPOSE_LABELS, ROLE_LABELS, SUBJECT_ROLE_LABELS, labelOf } from './labels';
import { ADMIN_ROLES, pageContext, type WebAgency } from './page';
import type { Renderer } from './views';

interface AdminDeps {
  readonly agencies: readonly WebAgency[];
  readonly engine: PolicyCatalogueEngine;
  readonly render: Renderer;
}

function selector(s: Selector<string>, labels: Readonly<Record<string, string>>, anyText: string): string {
  if (s.kind === 'any') return anyText;
  const words = s.values.map((v) => labelOf(labels, v)).join(', ');
  return s.kind === 'only' ? words : `${anyText} except ${words}`;
}

function factValue(fact: FactName, value: boolean | number | string): string {
  return describeFactValue(fact, value);
}

/** "Child present at the incident: Yes", "Hours since the incident: at most 72 hours". */
export function describeCondition(t: FactTest): string {
  const label = FACT_LABELS[t.fact];
  switch (t.op) {
    case 'eq':
      return `${label}: ${factValue(t.fact, t.value)}`;
    case 'not':
      return `${label}: known, and not ${factValue(t.fact, t.value)}`;
    case 'in':
      return `${label}: one of ${t.values.map((v) => factValue(t.fact, v)).join(', ')}`;
    case 'lte':
      return `${label}: at most ${factValue(t.fact, t.value)}`;
    case 'lt':
      return `${label}: less than ${factValue(t.fact, t.value)}`;
    case 'gte':
      return `${label}: at least ${factValue(t.fact, t.value)}`;
    case 'gt':
      return `${label}: more than ${factValue(t.fact, t.value)}`;
  }
}

function ruleView(rule: PolicyRule): Record<string, unknown> {
  const row = (key: string, text: string | undefined): Record<string, unknown> | undefined =>
    text ? { key: { text: key }, value: { text } } : undefined;
  const fields = rule.fields === 'all' ? 'All information' : rule.fields.map((f) => (isField(f) ? FIELD_LABELS[f] : f)).join(', ');
  const when = [
    ...rule.when.map(describeCondition),
    ...(rule.whenAny.length ? [`and one of: ${rule.whenAny.map((g) => g.map(describeCondition).join(' and ')).join('; or ')}`] : []),
  ];
  return {
    id: rule.id,
    title: rule.title,
    effect: rule.effect,
    file: rule.file,
    reason: rule.reason,
    mustRecord: rule.mustRecord,
    rows: [
      row(
        'From',
        `${selector(rule.from.agencyTypes, AGENCY_TYPE_LABELS, 'Any organisation')}${rule.from.roles.kind === 'any' ? '' : ` (${selector(rule.from.roles, ROLE_LABELS, 'any role')})`}`,
      ),
      row(
        'To',
        `${selector(rule.to.agencyTypes, AGENCY_TYPE_LABELS, 'Any organisation')}${rule.to.roles.kind === 'any' ? '' : ` (${selector(rule.to.roles, ROLE_LABELS, 'any role')})`}`,
      ),
      row('Purposes', selector(rule.purposes, PURPOSE_LABELS, 'Any purpose')),
      row('About', selector(rule.subjectRoles, SUBJECT_ROLE_LABELS, 'Anyone')),
      row(rule.effect === 'permit' ? 'May share' : rule.effect === 'deny' ? 'Never shares' : 'Needs a decision about', fields),
      row('Only when', when.length ? when.join('; ') : undefined),
      row('Who decides', rule.referTo ? labelOf(ROLE_LABELS, rule.referTo) : undefined),
      row('Law that allows it', rule.lawfulBasis?.statute),
      row('Lawful basis (UK GDPR Article 6)', rule.lawfulBasis?.ukGdprArticle6),
      row('Condition for sensitive information (UK GDPR Article 9)', rule.lawfulBasis?.ukGdprArticle9),
      row('Data Protection Act 2018 condition', rule.lawfulBasis?.dpa2018Schedule1),
      row('Data sharing agreement', rule.agreement),
    ].filter((r) => r !== undefined),
  };
}

export function adminRouter(deps: AdminDeps): Router {
  const router = Router();
  router.use('/admin', requireRoles(ADMIN_ROLES));

  router.get('/admin/agencies', (req, res) => {
    res.send(
      deps.render('admin/agencies.njk', {
        ...pageContext(req, res, { pageTitle: 'Agencies the gateway trusts' }),
        agencies: deps.agencies.map((a) => ({
          id: a.id,
          name: a.name,
          type: labelOf(AGENCY_TYPE_LABELS, a.agencyType),
          area: a.area,
          issuer: a.issuer,
          clients: a.clientIds.join(', '),
          roles: a.allowedRoles.map((r) => labelOf(ROLE_LABELS, r)).join(', '),
        })),
      }),
    );
  });

  router.get('/admin/policies', (req, res) => {
    const { catalogue } = deps.engine;
    const order = { deny: 0, permit: 1, refer: 2 } as const;
    const byFile = new Map<string, PolicyRule[]>();
    for (const rule of catalogue.rules) byFile.set(rule.file, [...(byFile.get(rule.file) ?? []), rule]);
    res.send(
      deps.render('admin/policies.njk', {
        ...pageContext(req, res, { pageTitle: 'Sharing policies' }),
        catalogue: {
          title: catalogue.title,
          version: catalogue.version,
          catalogueVersion: catalogue.catalogueVersion,
          ruleCount: catalogue.rules.length,
        },
        files: [...byFile.entries()].map(([file, rules]) => ({
          file,
          rules: [...rules].sort((a, b) => order[a.effect] - order[b.effect]).map(ruleView),
        })),
      }),
    );
  });

  return router;
}
