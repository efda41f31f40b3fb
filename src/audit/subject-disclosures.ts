/**
 * The recipients to whom a person's data was disclosed (UK GDPR Article 15(1)(c)): from the ledger, every entry
 * about the person — found by their pseudonym, as the ledger never holds the reference itself — that disclosed at
 * least one field:
 *   - `disclosure`: records sent through the gateway (by the owning agency, to the agency that asked);
 *   - `notification` / `alert`: messages sent to an agency's webhook (sent: true);
 *   - `decision`: a practitioner told they may share (permit / share some) — the sharing itself happens outside
 *     the gateway, so these are listed as "allowed to share".
 * Read-only SQL on the ledger (the application role may SELECT it); oldest first.
 */
import type { Pool } from 'pg';
import type { JsonValue } from './entry';

export interface SubjectDisclosure {
  readonly seq: number;
  readonly entryId: string;
  /** ISO 8601 */
  readonly recordedAt: string;
  readonly kind: 'disclosure' | 'notification' | 'alert' | 'decision';
  /** `disclosed`: sent through the gateway; `allowed`: a practitioner was told they may share. */
  readonly status: 'disclosed' | 'allowed';
  /** Who disclosed (the agency holding the data, or the practitioner's agency for a decision). */
  readonly by: { readonly agencyId: string | null; readonly agencyType: string | null; readonly role: string | null };
  /** To whom. */
  readonly to: { readonly agencyId: string | null; readonly agencyType: string | null; readonly role: string | null };
  readonly fields: readonly string[];
  readonly purpose: string | null;
  /** The rules that allowed it (their lawful basis is in the catalogue). */
  readonly rules: readonly string[];
}

interface Row {
  seq: string;
  entry_id: string;
  recorded_at: Date;
  kind: string;
  outcome: string;
  agency_id: string | null;
  agency_type: string | null;
  role: string | null;
  purpose: string | null;
  rules: string[];
  payload: JsonValue;
}

const MAX_ROWS = 10_000;

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
function names(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export async function subjectDisclosures(pool: Pool, pseudonym: string): Promise<SubjectDisclosure[]> {
  const { rows } = await pool.query<Row>(
    `SELECT seq::text AS seq, entry_id::text AS entry_id, recorded_at, kind, outcome, agency_id, agency_type, role, purpose, rules, payload
       FROM audit_ledger
      WHERE kind IN ('disclosure', 'notification', 'alert', 'decision')
        AND (payload->>'subject' = $1 OR payload->>'subjectRef' = $1)
      ORDER BY seq
      LIMIT ${MAX_ROWS}`,
    [pseudonym],
  );
  return rows.flatMap((r): SubjectDisclosure[] => {
    const p = obj(r.payload);
    const base = { seq: Number(r.seq), entryId: r.entry_id, recordedAt: r.recorded_at.toISOString(), purpose: r.purpose, rules: r.rules };
    const actor = { agencyId: r.agency_id, agencyType: r.agency_type, role: r.role };
    const to = obj(p.to);
    if (r.kind === 'disclosure') {
      const fields = names(p.fieldsDisclosed);
      if (fields.length === 0) return [];
      return [
        {
          ...base,
          kind: 'disclosure',
          status: 'disclosed',
          by: { agencyId: text(p.owningAgencyId), agencyType: text(p.owningAgencyType), role: null },
          to: { ...actor, role: text(to.role) ?? r.role },
          fields,
        },
      ];
    }
    if (r.kind === 'notification' || r.kind === 'alert') {
      if (p.sent !== true) return [];
      const fields = [...new Set(Array.isArray(p.disclosures) ? p.disclosures.flatMap((d) => names(obj(d).fieldsDisclosed)) : [])];
      if (fields.length === 0) return [];
      const owners = [
        ...new Set(
          Array.isArray(p.disclosures) ? p.disclosures.map((d) => text(obj(d).owningAgencyId)).filter((x): x is string => x !== null) : [],
        ),
      ];
      return [
        {
          ...base,
          kind: r.kind,
          status: 'disclosed',
          by: { agencyId: owners.join(', ') || null, agencyType: null, role: null },
          to: { agencyId: text(to.agencyId), agencyType: text(to.agencyType), role: text(to.role) },
          fields,
        },
      ];
    }
    if (r.outcome !== 'permit' && r.outcome !== 'permit_partial') return [];
    const fields = names(p.permittedFields);
    if (fields.length === 0) return [];
    return [
      {
        ...base,
        kind: 'decision',
        status: 'allowed',
        by: actor,
        to: { agencyId: null, agencyType: text(to.agencyType), role: text(to.role) },
        fields,
      },
    ];
  });
}
