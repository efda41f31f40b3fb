/** The auditor console's CSV export: its columns and one ledger entry as a row (escaping is src/web/csv.ts's job). */
import type { LedgerEntryView } from '../audit/query';

function payloadOf(entry: LedgerEntryView): Record<string, unknown> {
  return typeof entry.payload === 'object' && entry.payload !== null && !Array.isArray(entry.payload)
    ? (entry.payload as Record<string, unknown>)
    : {};
}
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export const CSV_HEADER = [
  'seq',
  'entry_id',
  'recorded_at',
  'kind',
  'outcome',
  'agency_id',
  'agency_type',
  'role',
  'practitioner',
  'client_id',
  'purpose',
  'rules',
  'to_agency_type',
  'to_role',
  'subject_role',
  'subject_pseudonym',
  'fields_requested',
  'permitted_fields',
  'withheld_fields',
  'refer_to',
  'policy_version',
  'request_id',
  'prev_hash',
  'entry_hash',
] as const;

export function csvRowOf(e: LedgerEntryView): Array<string | number | null> {
  const p = payloadOf(e);
  const to = typeof p.to === 'object' && p.to !== null ? (p.to as Record<string, unknown>) : {};
  const withheld = Array.isArray(p.withheldFields)
    ? p.withheldFields
        .map((w) => {
          const r = typeof w === 'object' && w !== null ? (w as Record<string, unknown>) : {};
          return [str(r.field), str(r.code), str(r.rule)].filter(Boolean).join(':');
        })
        .join(';')
    : '';
  return [
    e.seq,
    e.entryId,
    e.recordedAt,
    e.kind,
    e.outcome,
    e.actor?.agencyId ?? null,
    e.actor?.agencyType ?? null,
    e.actor?.role ?? null,
    e.actor?.practitioner ?? null,
    e.actor?.clientId ?? null,
    e.purpose,
    e.rules.join(';'),
    str(to.agencyType) ?? null,
    str(to.role) ?? null,
    str(p.subjectRole) ?? null,
    str(p.subjectRef) ?? null,
    strings(p.fieldsRequested).join(';'),
    strings(p.permittedFields).join(';'),
    withheld,
    str(p.referTo) ?? null,
    str(p.policyVersion) ?? null,
    e.requestId,
    e.prevHash,
    e.entryHash,
  ];
}
