/** The entry every ledger bench writes: a decision entry as the gateway writes one (field names and hashes only). */
import { randomUUID } from 'node:crypto';
import type { NewAuditEntry } from '../src/audit/entry';
import type { Purpose } from '../src/vocabulary/vocabulary';

const PURPOSES: Purpose[] = ['operation_encompass', 'child_protection_enquiry', 'marac', 'mash_triage'];

/** A decision entry shaped like src/decisions/decide-and-record.ts writes (field names and hashes only). */
export function decisionEntry(i: number, requestId = `bench-${i}-${randomUUID().slice(0, 8)}`): NewAuditEntry {
  const purpose = PURPOSES[i % PURPOSES.length] as Purpose;
  return {
    kind: 'decision',
    outcome: i % 5 === 0 ? 'deny' : 'permit_partial',
    requestId,
    actor: {
      agencyId: 'bench-police',
      agencyType: 'police',
      clientId: 'bench-police-system',
      role: 'system',
      issuer: 'http://127.0.0.1:1/bench-police',
    },
    purpose,
    rules: ['operation-encompass-police-to-school', 'deny-dash-and-full-report-to-education'],
    payload: {
      from: 'police',
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      subjectRole: 'child',
      subjectRef: `hmac-sha256:${'ab'.repeat(32)}`,
      fieldsRequested: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
      permittedFields: ['name', 'incident_date', 'child_involvement'],
      withheldFields: [{ field: 'incident_full_report', code: 'denied_by_rule', rule: 'deny-dash-and-full-report-to-education' }],
      facts: { child_present_at_incident: true, hours_since_incident: i % 72 },
      referTo: null,
      policyVersion: 'bench-1',
      answerHash: `sha256:${'cd'.repeat(32)}`,
    },
  };
}
