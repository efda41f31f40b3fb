/**
 * What the gateway knows about a decision request's subject and recipient, read from PostgreSQL, so it can derive
 * facts instead of taking them from the caller (./derive-facts.ts):
 *
 *   subjectPersonId  a person the caller's agency knows (else 404, as for records: no probing for ids) →
 *                    perpetrator_joined_household_with_children from the household memberships
 *   to.agencyId      an agency of the trust registry of the named type (else 422) → agreement_in_force from the
 *                    data sharing agreements between the caller's agency and that agency, for this purpose, today
 */
import type { Pool } from 'pg';
import { NotFoundError, UnprocessableError } from '../errors';
import type { AgencyType, Purpose } from '../vocabulary/vocabulary';
import { agreementStatus, agreementsFor, englandDate } from '../records/agreements';
import { riskSignals } from '../records/risk-signals';
import { agencyKnowsPerson, membershipsAround } from '../records/store';
import type { DerivationInputs } from './derive-facts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SubjectQuery {
  readonly callerAgencyId: string;
  readonly purpose: Purpose;
  readonly subjectPersonId?: string;
  readonly to: { readonly agencyType: AgencyType; readonly agencyId?: string };
  readonly now: Date;
}

export async function subjectDerivations(
  pool: Pool,
  q: SubjectQuery,
): Promise<Pick<DerivationInputs, 'agreement' | 'perpetratorJoinedHousehold'>> {
  const out: { agreement?: DerivationInputs['agreement']; perpetratorJoinedHousehold?: DerivationInputs['perpetratorJoinedHousehold'] } =
    {};
  if (q.subjectPersonId !== undefined) {
    if (!UUID.test(q.subjectPersonId) || !(await agencyKnowsPerson(pool, q.subjectPersonId, q.callerAgencyId))) {
      throw new NotFoundError('person_not_found', 'No person with that subjectPersonId is known to your agency.', {
        errors: [{ pointer: '/subjectPersonId', detail: 'not a person your agency knows' }],
      });
    }
    const memberships = await membershipsAround(pool, q.subjectPersonId);
    const signal = riskSignals({ subjectPersonId: q.subjectPersonId, records: [], memberships }).find(
      (s) => s.signal === 'new_perpetrator_in_household',
    );
    out.perpetratorJoinedHousehold = {
      joined: signal?.flagged === true,
      source: `household memberships of the subject (${memberships.length} held)`,
    };
  }
  if (q.to.agencyId !== undefined) {
    const { rows } = await pool.query<{ agency_type: string }>('SELECT agency_type FROM agencies WHERE id = $1', [q.to.agencyId]);
    if (rows[0]?.agency_type !== q.to.agencyType) {
      throw new UnprocessableError(
        'agency_not_registered',
        `to.agencyId "${q.to.agencyId}" is not a ${q.to.agencyType} agency in the trust registry.`,
        {
          errors: [{ pointer: '/to/agencyId', detail: `not a registered ${q.to.agencyType} agency` }],
        },
      );
    }
    const status = agreementStatus(
      await agreementsFor(pool, q.callerAgencyId, q.purpose),
      q.callerAgencyId,
      q.to.agencyId,
      q.purpose,
      englandDate(q.now),
    );
    out.agreement = {
      inForce: status.status === 'in_force',
      source:
        status.status === 'none'
          ? 'data sharing agreements: none covers both agencies for this purpose'
          : `data sharing agreement ${status.agreement.id} (${status.status})`,
    };
  }
  return out;
}
