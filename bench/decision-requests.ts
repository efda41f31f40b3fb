/** The decision requests the gateway is loaded with: one per agency, each with a real token from ./issuer.ts. */
import type autocannon from 'autocannon';
import type { BenchIssuers } from './issuer';

/**
 * One request per agency, each a valid decision request that its own agency may ask (answer 200, audited): Operation
 * Encompass police → school (a partial permit: the full report is withheld, with its lawful routes) and three s.47
 * permits. Since the catalogue of issue 8, s.47 sharing needs `significant_harm_suspected`; before it was added here
 * the three were denials with routes for every field (answers of 4-7 KB instead of 2.5-3 KB); `--denials` asks them
 * that way still, to measure the dearest path (a deny that works out the lawful routes of every field).
 */
export async function decisionRequests(issuers: BenchIssuers, denials: boolean): Promise<autocannon.Request[]> {
  const s47Facts = denials ? {} : { significant_harm_suspected: true };
  const ask = async (agencyId: string, body: object, practitioner?: { sub: string; role: string }): Promise<autocannon.Request> => ({
    method: 'POST',
    path: '/v1/decisions',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await issuers.token(agencyId, practitioner ? { sub: practitioner.sub, role: practitioner.role } : {})}`,
    },
    body: JSON.stringify(body),
  });
  return [
    await ask('bench-police', {
      from: { agencyType: 'police' },
      to: { agencyType: 'school', role: 'designated_safeguarding_lead' },
      purpose: 'operation_encompass',
      subjectRole: 'child',
      subjectRef: 'NP-2026-000001',
      fields: ['name', 'incident_date', 'child_involvement', 'incident_full_report'],
      // 0 hours: the notice is always before the next school day starts, so it is the partial permit it is meant to
      // be at any time of day (10 hours made it late during school hours: a refer that opened a referral).
      facts: { child_present_at_incident: true, hours_since_incident: 0 },
    }),
    await ask(
      'bench-csc',
      {
        from: { agencyType: 'childrens_social_care' },
        to: { agencyType: 'police', role: 'police_officer' },
        purpose: 'child_protection_enquiry',
        subjectRole: 'child',
        subjectRef: 'CSC-2026-000002',
        fields: ['name', 'date_of_birth', 'child_protection_plan_status'],
        facts: s47Facts,
      },
      { sub: 'sw-1', role: 'social_worker' },
    ),
    await ask(
      'bench-school',
      {
        from: { agencyType: 'school' },
        to: { agencyType: 'childrens_social_care', role: 'social_worker' },
        purpose: 'child_protection_enquiry',
        subjectRole: 'child',
        fields: ['name', 'attendance', 'wellbeing_concerns'],
        facts: s47Facts,
      },
      { sub: 'dsl-1', role: 'designated_safeguarding_lead' },
    ),
    await ask('bench-health-visiting', {
      from: { agencyType: 'health_visiting' },
      to: { agencyType: 'childrens_social_care', role: 'social_worker' },
      purpose: 'child_protection_enquiry',
      subjectRole: 'child',
      subjectRef: 'HV-000003',
      fields: ['name', 'physical_health'],
      facts: s47Facts,
    }),
  ];
}
