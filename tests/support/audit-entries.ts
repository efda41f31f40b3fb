/**
 * Audit entries for the ledger tests (tests/integration/audit-ledger, audit-queries, audit-verify-cli): two actors,
 * a police officer and a school's designated safeguarding lead, and a decision entry built from a request id.
 */
import { contentHash, type AuditActor, type NewAuditEntry } from '../../src/audit/entry';

export const police: AuditActor = {
  agencyId: 'test-police',
  agencyType: 'police',
  clientId: 'test-police-client',
  role: 'police_officer',
  practitioner: 'officer-17',
  issuer: 'https://idp.test-police.example',
};
export const school: AuditActor = {
  agencyId: 'test-school',
  agencyType: 'school',
  clientId: 'test-school-client',
  role: 'designated_safeguarding_lead',
  issuer: 'https://idp.test-school.example',
};

export function decision(requestId: string, overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    kind: 'decision',
    outcome: 'permit_partial',
    requestId,
    actor: police,
    purpose: 'operation_encompass',
    rules: ['encompass-school-notification'],
    payload: { fieldsRequested: ['name', 'incident_date'], permittedFields: ['name'], answerHash: contentHash({ requestId }) },
    ...overrides,
  };
}
