/**
 * One ledger entry in the auditor console, in words (what happened, who, what was asked and decided, where it
 * stands in the chain), and "Download receipt": the entry's proof (hash, signed checkpoint and Merkle inclusion
 * proof once sealed) as JSON, verifiable offline with `npm run -s receipt:verify`. Both reads are recorded first.
 */
import { Router, type Response } from 'express';
import type { Pool } from 'pg';
import { contentHash, type JsonObject } from '../audit/entry';
import { getEntry, type LedgerEntryView } from '../audit/query';
import { GatewayError } from '../errors';
import { isFactName, isField } from '../vocabulary/vocabulary';
import { londonDateTime } from './dates';
import { describeFactValue } from './journey';
import {
  AGENCY_TYPE_LABELS,
  FACT_LABELS,
  FIELD_LABELS,
  KIND_LABELS,
  OUTCOME_LABELS,
  PURPOSE_LABELS,
  ROLE_LABELS,
  SUBJECT_ROLE_LABELS,
  WITHHELD_CODE_LABELS,
  labelOf,
} from './labels';
import { pageContext } from './page';
import type { Renderer } from './views';
import { escapeXml } from './xml';

export interface EntryPageDeps {
  readonly pool: Pool;
  readonly render: Renderer;
  readonly receiptFor?: (entry: LedgerEntryView) => Promise<unknown>;
  readonly recordRead: (res: Response, payload: JsonObject) => Promise<string>;
  readonly agencyName: (id: string | null | undefined) => string;
  readonly ruleTitle: (id: string) => string;
}

export function entryRouter(deps: EntryPageDeps): Router {
  const router = Router();
  const find = async (id: string): Promise<LedgerEntryView> => {
    const entry = await getEntry(deps.pool, id);
    if (!entry) throw new GatewayError('not_found', 'There is no audit entry with that reference.');
    return entry;
  };

  router.get('/audit/entries/:entryId', async (req, res) => {
    const entry = await find(String(req.params.entryId));
    await deps.recordRead(res, { view: 'entry', entryId: entry.entryId, returned: 1, pageHash: contentHash(entry) });
    res.send(
      deps.render('console/entry.njk', {
        ...pageContext(req, res, { pageTitle: `Audit entry ${entry.seq}`, backLink: '/audit' }),
        entry,
        summary: entrySummary(entry, deps.agencyName),
        sections: entrySections(entry, deps.agencyName, deps.ruleTitle),
        receiptHref: deps.receiptFor ? `/audit/entries/${entry.entryId}/receipt.json` : undefined,
      }),
    );
  });

  router.get('/audit/entries/:entryId/receipt.json', async (req, res) => {
    if (!deps.receiptFor) throw new GatewayError('not_found', 'Receipts are not available on this gateway.');
    const entry = await find(String(req.params.entryId));
    const receipt = await deps.receiptFor(entry);
    await deps.recordRead(res, { view: 'receipt', entryId: entry.entryId, returned: 1, pageHash: contentHash(receipt) });
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="receipt-${entry.seq}-${entry.entryId}.json"`);
    res.send(`${JSON.stringify(receipt, null, 2)}\n`);
  });
  return router;
}

/** One sentence: who did what, when. */
function entrySummary(e: LedgerEntryView, agencyName: (id: string | null | undefined) => string): string {
  const p = payloadOf(e);
  const who = e.actor ? `${labelOf(ROLE_LABELS, e.actor.role)} at ${agencyName(e.actor.agencyId)}` : 'An unidentified caller';
  const when = londonDateTime(e.recordedAt, true);
  const what = labelOf(KIND_LABELS, e.kind).toLowerCase();
  const outcome = labelOf(OUTCOME_LABELS, e.outcome);
  if (e.kind === 'decision') {
    const to = obj(p.to);
    return `${when}: ${who} asked whether to share ${strings(p.fieldsRequested).length} item(s) about ${labelOf(SUBJECT_ROLE_LABELS, str(p.subjectRole)).toLowerCase()} with ${labelOf(ROLE_LABELS, str(to.role))}, ${labelOf(AGENCY_TYPE_LABELS, str(to.agencyType))}, for ${labelOf(PURPOSE_LABELS, e.purpose)}. Answer: ${outcome}.`;
  }
  if (e.kind === 'disclosure') {
    return `${when}: ${who} was sent ${strings(p.fieldsDisclosed).length} item(s) of a record held by ${agencyName(str(p.owningAgencyId))}, for ${labelOf(PURPOSE_LABELS, e.purpose)}. Outcome: ${outcome}.`;
  }
  return `${when}: ${what} by ${who.charAt(0).toLowerCase()}${who.slice(1)}. Outcome: ${outcome}.`;
}

function payloadOf(entry: LedgerEntryView): Record<string, unknown> {
  return typeof entry.payload === 'object' && entry.payload !== null && !Array.isArray(entry.payload)
    ? (entry.payload as Record<string, unknown>)
    : {};
}
function obj(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Payload keys in words (any key not here is split from camelCase). */
const PAYLOAD_KEYS: Record<string, string> = {
  via: 'Through',
  view: 'View',
  query: 'Search and filters',
  returned: 'Entries returned',
  pageHash: 'Hash of what was shown',
  entryId: 'Entry',
  method: 'Method',
  path: 'Path',
  status: 'HTTP status',
  problems: 'Problems in the input',
  entriesChecked: 'Entries checked',
  lastSeq: 'Last entry',
  firstBadSeq: 'First bad entry',
  trustedUpTo: 'Chain intact to entry',
  sealedUpTo: 'Sealed to entry',
  summary: 'Result',
  recordId: 'Record',
  recordKind: 'Kind of record',
  owningAgencyId: 'Held by',
  owningAgencyType: 'Type of agency holding it',
  subject: 'Subject pseudonym',
  fieldsDisclosed: 'Information sent',
  contentHash: 'Hash of what was sent',
  onBehalfOf: 'On behalf of (pseudonym)',
  treeSize: 'Entries sealed',
  rootHash: 'Merkle root',
  created: 'Created',
  action: 'Action',
  exportFailures: 'Export failures',
};

function humanKey(key: string): string {
  if (Object.prototype.hasOwnProperty.call(PAYLOAD_KEYS, key)) return PAYLOAD_KEYS[key] ?? key;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function humanValue(key: string, value: unknown, depth = 0): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    if (/fields?/i.test(key) && isField(value)) return FIELD_LABELS[value];
    if (key === 'purpose') return labelOf(PURPOSE_LABELS, value);
    return value;
  }
  if (Array.isArray(value)) return value.length === 0 ? 'None' : value.map((v) => humanValue(key, v, depth + 1)).join(', ');
  if (depth > 2) return JSON.stringify(value);
  return (
    Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => `${humanKey(k)}: ${humanValue(k, v, depth + 1)}`)
      .join('; ') || '—'
  );
}

type Row = { key: { text: string }; value: { text?: string; html?: string } };

function entrySections(
  e: LedgerEntryView,
  agencyName: (id: string | null | undefined) => string,
  ruleTitle: (id: string) => string,
): Array<{ title: string; rows: Row[] }> {
  const row = (key: string, text: string | number | null | undefined): Row => ({
    key: { text: key },
    value: { text: text === null || text === undefined || text === '' ? '—' : String(text) },
  });
  const list = (key: string, items: readonly string[]): Row => ({
    key: { text: key },
    value: items.length
      ? { html: `<ul class="govuk-list">${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>` }
      : { text: 'None' },
  });
  const mono = (key: string, text: string): Row => ({
    key: { text: key },
    value: { html: `<span class="app-hash">${escapeXml(text)}</span>` },
  });
  const p = payloadOf(e);
  const sections: Array<{ title: string; rows: Row[] }> = [
    {
      title: 'What happened',
      rows: [
        row('What', labelOf(KIND_LABELS, e.kind)),
        row('Outcome', labelOf(OUTCOME_LABELS, e.outcome)),
        row('Recorded at', londonDateTime(e.recordedAt, true)),
        row('Purpose', labelOf(PURPOSE_LABELS, e.purpose)),
        list(
          'Rules',
          e.rules.map((r) => `${ruleTitle(r)} (${r})`),
        ),
      ],
    },
    {
      title: 'Who',
      rows: e.actor
        ? [
            row('Agency', `${agencyName(e.actor.agencyId)} (${e.actor.agencyId ?? '—'})`),
            row('Agency type', labelOf(AGENCY_TYPE_LABELS, e.actor.agencyType)),
            row('Role', labelOf(ROLE_LABELS, e.actor.role)),
            row('Practitioner (identifier at their agency)', e.actor.practitioner),
            row('Client', e.actor.clientId),
            row('Signed in at', e.actor.issuer),
          ]
        : [row('Who', 'Not identified (the request was refused before sign-in was checked)')],
    },
  ];
  if (e.kind === 'decision') {
    const to = typeof p.to === 'object' && p.to !== null ? (p.to as Record<string, unknown>) : {};
    const facts = typeof p.facts === 'object' && p.facts !== null && !Array.isArray(p.facts) ? (p.facts as Record<string, unknown>) : {};
    const withheld = Array.isArray(p.withheldFields) ? p.withheldFields : [];
    const fieldLabel = (f: string): string => (isField(f) ? `${FIELD_LABELS[f]} (${f})` : f);
    sections.push({
      title: 'What was asked and decided',
      rows: [
        row('Shared with', `${labelOf(ROLE_LABELS, str(to.role))}, ${labelOf(AGENCY_TYPE_LABELS, str(to.agencyType))}`),
        row('About', labelOf(SUBJECT_ROLE_LABELS, str(p.subjectRole))),
        row('Subject pseudonym', str(p.subjectRef) ?? 'No case reference given'),
        list('Information asked for', strings(p.fieldsRequested).map(fieldLabel)),
        list('May be shared', strings(p.permittedFields).map(fieldLabel)),
        list(
          'Withheld',
          withheld.map((w) => {
            const r = typeof w === 'object' && w !== null ? (w as Record<string, unknown>) : {};
            const code = str(r.code) ?? '';
            const rule = str(r.rule);
            return `${fieldLabel(str(r.field) ?? '')}: ${labelOf(WITHHELD_CODE_LABELS, code)}${rule ? ` — ${ruleTitle(rule)} (${rule})` : ''}`;
          }),
        ),
        list(
          'Facts given',
          Object.entries(facts)
            .filter(([k]) => isFactName(k))
            .map(([k, v]) => {
              const name = k as keyof typeof FACT_LABELS;
              return `${FACT_LABELS[name]}: ${typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' ? describeFactValue(name, v) : String(v)}`;
            }),
        ),
        row('Refer to', labelOf(ROLE_LABELS, str(p.referTo))),
        row('Policy version', str(p.policyVersion)),
        mono('Hash of the answer given', str(p.answerHash) ?? '—'),
      ],
    });
  } else {
    const details = Object.entries(p).map(([k, v]): Row =>
      /hash$/i.test(k) && typeof v === 'string' ? mono(humanKey(k), v) : row(humanKey(k), humanValue(k, v)),
    );
    sections.push({ title: 'Details recorded', rows: details.length ? details : [row('Details', 'None')] });
  }
  sections.push({
    title: 'Position in the chain',
    rows: [
      row('Sequence number', e.seq),
      mono('Reference', e.entryId),
      mono('Request id', e.requestId),
      mono('Hash of the previous entry', e.prevHash),
      mono('Hash of this entry', e.entryHash),
    ],
  });
  return sections;
}
