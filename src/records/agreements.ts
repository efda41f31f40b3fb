/**
 * Data sharing agreements: which agencies have agreed to share with each other, for which purposes, from when
 * until when. The `agreement_in_force` fact is worked out here for each disclosure — an agreement covers both the
 * owning and the requesting agency for this purpose today — and NEVER taken from a caller.
 *
 * "Today" is the calendar date in England (Europe/London): an agreement that ends on 31 March covers the whole of
 * 31 March there, and has lapsed on 1 April.
 */
import type { Db } from '../db/tx';
import type { Purpose } from '../vocabulary/vocabulary';

export interface SharingAgreement {
  readonly id: string;
  readonly title: string;
  readonly parties: readonly string[];
  readonly purposes: readonly string[];
  /** YYYY-MM-DD, first day in force */
  readonly startsOn: string;
  /** YYYY-MM-DD, last day in force (absent: open-ended) */
  readonly endsOn?: string;
  /** YYYY-MM-DD, when the parties must review it */
  readonly reviewOn?: string;
  readonly dpiaReference?: string;
}

export type AgreementStatus =
  | { readonly status: 'in_force'; readonly agreement: SharingAgreement; readonly reviewOverdue: boolean }
  | { readonly status: 'lapsed'; readonly agreement: SharingAgreement }
  | { readonly status: 'not_yet_in_force'; readonly agreement: SharingAgreement }
  | { readonly status: 'none' };

const LONDON_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The calendar date in England at `now`, as YYYY-MM-DD. */
export function englandDate(now: Date): string {
  return LONDON_DATE.format(now);
}

/**
 * Whether an agreement covers `owner` and `requester` for `purpose` on `today`. When several cover them, one in
 * force wins; otherwise the one that lapsed most recently is reported (so the answer can say it lapsed), then one
 * not yet in force.
 */
export function agreementStatus(
  agreements: readonly SharingAgreement[],
  owner: string,
  requester: string,
  purpose: Purpose,
  today: string,
): AgreementStatus {
  const covering = agreements.filter((a) => a.parties.includes(owner) && a.parties.includes(requester) && a.purposes.includes(purpose));
  const inForce = covering
    .filter((a) => a.startsOn <= today && (a.endsOn === undefined || today <= a.endsOn))
    .sort((a, b) => a.id.localeCompare(b.id))[0];
  if (inForce) return { status: 'in_force', agreement: inForce, reviewOverdue: inForce.reviewOn !== undefined && inForce.reviewOn < today };
  const lapsed = covering
    .filter((a) => a.endsOn !== undefined && a.endsOn < today)
    .sort((a, b) => (b.endsOn ?? '').localeCompare(a.endsOn ?? '') || a.id.localeCompare(b.id))[0];
  if (lapsed) return { status: 'lapsed', agreement: lapsed };
  const future = covering.filter((a) => a.startsOn > today).sort((a, b) => a.startsOn.localeCompare(b.startsOn))[0];
  if (future) return { status: 'not_yet_in_force', agreement: future };
  return { status: 'none' };
}

/** Plain-English reason for a disclosure whose agreement is not in force (none when one is). */
export function agreementReason(status: AgreementStatus, ownerName: string, requesterName: string): string | undefined {
  switch (status.status) {
    case 'in_force':
      return status.reviewOverdue
        ? `The data sharing agreement "${status.agreement.title}" is in force but was due for review on ${status.agreement.reviewOn ?? ''}: tell your information governance team.`
        : undefined;
    case 'lapsed':
      return `The data sharing agreement "${status.agreement.title}" (${status.agreement.id}) between ${ownerName} and ${requesterName} for this purpose ended on ${status.agreement.endsOn ?? ''}, so it has lapsed: sharing that depends on it has stopped until the agreement is renewed.`;
    case 'not_yet_in_force':
      return `The data sharing agreement "${status.agreement.title}" (${status.agreement.id}) between ${ownerName} and ${requesterName} for this purpose only comes into force on ${status.agreement.startsOn}.`;
    case 'none':
      return undefined;
  }
}

/** What the answer says about the agreement (metadata only). */
export function agreementSummary(status: AgreementStatus): Record<string, string | boolean> {
  if (status.status === 'none') return { status: 'none' };
  const a = status.agreement;
  return {
    status: status.status,
    id: a.id,
    title: a.title,
    startsOn: a.startsOn,
    ...(a.endsOn ? { endsOn: a.endsOn } : {}),
    ...(a.reviewOn ? { reviewOn: a.reviewOn } : {}),
    ...(status.status === 'in_force' ? { reviewOverdue: status.reviewOverdue } : {}),
  };
}

interface AgreementRow {
  id: string;
  title: string;
  parties: string[];
  purposes: string[];
  starts_on: string;
  ends_on: string | null;
  review_on: string | null;
  dpia_reference: string | null;
}

/** Every agreement the requesting agency is a party to for this purpose (dates as text: no time zone games). */
export async function agreementsFor(db: Db, requesterAgencyId: string, purpose: Purpose): Promise<SharingAgreement[]> {
  const { rows } = await db.query<AgreementRow>(
    `SELECT id, title, parties, purposes, starts_on::text AS starts_on, ends_on::text AS ends_on,
            review_on::text AS review_on, dpia_reference
       FROM sharing_agreements
      WHERE parties @> ARRAY[$1]::text[] AND purposes @> ARRAY[$2]::text[]`,
    [requesterAgencyId, purpose],
  );
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    parties: r.parties,
    purposes: r.purposes,
    startsOn: r.starts_on,
    ...(r.ends_on ? { endsOn: r.ends_on } : {}),
    ...(r.review_on ? { reviewOn: r.review_on } : {}),
    ...(r.dpia_reference ? { dpiaReference: r.dpia_reference } : {}),
  }));
}
