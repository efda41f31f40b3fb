/**
 * The workflows' demo data, loaded by `npm run seed` after the Northshire story (src/records/demo-seed.ts), so a
 * newcomer sees each workflow on `npm start`:
 *
 *   a night's incidents   police call-outs in the window of today's triage list (the 24 hours before 09:00): one at
 *                         the Wrenfield Close household (Maisie's family), one about another child (Ruby), and one
 *                         about an adult with no children (which the list leaves out);
 *   an open referral      Jo Whitfield (social worker, Northshire children's social care) asked whether the police
 *                         may be told where Hannah and the children are staying: a team manager must decide
 *                         (sign in as manager@northshire-csc);
 *   an RFI in progress    the MASH (analyst@northshire-mash) asked the police, children's social care and the school
 *                         about Maisie for MASH triage; the police have answered (officer@northshire-police released
 *                         the latest incident), the others have not yet.
 *
 * Everything goes through the same code as the API (decisions, referrals, requests, responses), so every step has
 * its ledger entry. Run twice, it changes nothing (the referral is found by its case reference, the request by its
 * subject and purpose, the incidents by their derived ids).
 */
import type { Pool } from 'pg';
import type { AuditLedger } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { Agency } from '../auth/registry';
import type { Principal } from '../auth/principal';
import { decideAndRecord } from '../decisions/decide-and-record';
import { inTransaction } from '../db/tx';
import { zonedInstant, localDate } from '../notifications/school-day';
import type { PolicyEngine } from '../policy/types';
import { storyId } from '../records/demo-seed';
import type { Role } from '../vocabulary/vocabulary';
import { createInformationRequest } from './information-requests';
import { respondToInformationRequest } from './information-responses';
import { referralOpener } from './referrals';
import type { WorkflowSettings } from './settings';

export interface WorkflowSeedDeps {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly engine: PolicyEngine;
  readonly pseudonymise: Pseudonymiser;
  readonly settings: WorkflowSettings;
}

export interface WorkflowSeedResult {
  readonly incidents: number;
  readonly referralId: string | null;
  readonly informationRequestId: string | null;
  readonly alreadySeeded: boolean;
}

export const DEMO_REFERRAL_REFERENCE = 'NS-CP-2026-0042';
const HOUR = 3_600_000;

function principal(registry: readonly Agency[], agencyId: string, login: string, name: string, role: Role): Principal {
  const agency = registry.find((a) => a.id === agencyId);
  if (!agency) throw new Error(`the trust registry has no agency ${agencyId} (the workflow demo needs it)`);
  // The demo practitioners act as if signed in at their agency's pages (client <agency>-web, subject = their login).
  return {
    agency,
    issuer: agency.issuer,
    clientId: `${agencyId}-web`,
    role,
    practitioner: { subject: login, name },
    scopes: new Set(['decisions', 'records:read']),
    expiresAt: new Date(Date.now() + HOUR),
  };
}

interface NightIncident {
  key: string;
  person: string;
  subjectRole: 'child' | 'adult_victim';
  hoursIntoWindow: number;
  fields: Record<string, unknown>;
  facts: Record<string, unknown>;
}

const NEW_PEOPLE = [
  { key: 'ruby', nhs: '9990001014', name: 'Ruby Ashdown', dob: '2017-09-12', knownBy: ['police', 'mash', 'childrens_social_care'] },
  { key: 'owen', nhs: '9990001022', name: 'Owen Pike', dob: '1979-02-03', knownBy: ['police'] },
] as const;

const NIGHT: readonly NightIncident[] = [
  {
    key: 'night-maisie',
    person: 'maisie',
    subjectRole: 'child',
    hoursIntoWindow: 13,
    fields: {
      incident_summary:
        'Neighbour reported shouting at Wrenfield Close; officers attended, Carl had left. Maisie was awake and upset (synthetic).',
      children_present: 2,
      child_involvement: ['heard'],
      offence_type: 'Breach of bail conditions',
      arrest_made: false,
      dash_risk_level: 'high',
      incident_full_report: 'Full crime report (synthetic, never shared outside the police).',
    },
    facts: { child_present_at_incident: true, significant_harm_suspected: true },
  },
  {
    key: 'night-ruby',
    person: 'ruby',
    subjectRole: 'child',
    hoursIntoWindow: 16,
    fields: {
      incident_summary: "Call from Ruby's mother: her ex-partner forced entry; Ruby hid upstairs (synthetic).",
      children_present: 1,
      child_involvement: ['saw', 'heard'],
      offence_type: 'Criminal damage (domestic)',
      arrest_made: true,
      dash_risk_level: 'medium',
    },
    facts: { child_present_at_incident: true },
  },
  {
    key: 'night-owen',
    person: 'owen',
    subjectRole: 'adult_victim',
    hoursIntoWindow: 18,
    fields: { incident_summary: 'Verbal argument between adult brothers; no children in the household (synthetic).', arrest_made: false },
    facts: {},
  },
];

/** Police incidents of last night, in the window of today's list (clamped to the past). Returns how many were new. */
async function seedNight(deps: WorkflowSeedDeps, registry: readonly Agency[], now: Date): Promise<number> {
  const byType = (t: string): string | undefined => registry.find((a) => a.agencyType === t)?.id;
  const police = byType('police');
  if (!police) return 0;
  const date = localDate(now, deps.settings.triage.timeZone);
  const windowStart = zonedInstant(date, deps.settings.triage.meetingTime, deps.settings.triage.timeZone).getTime() - 24 * HOUR;
  return inTransaction(deps.pool, async (client) => {
    for (const p of NEW_PEOPLE) {
      const id = storyId('person', p.key);
      await client.query('INSERT INTO persons (id, owning_agency_id, nhs_number) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        id,
        police,
        p.nhs,
      ]);
      for (const t of p.knownBy) {
        const agency = byType(t);
        if (!agency) continue;
        await client.query('INSERT INTO person_agency_links (person_id, agency_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, agency]);
      }
      await client.query(
        `INSERT INTO person_field_values (person_id, agency_id, field, value) VALUES ($1, $2, 'name', $3::jsonb), ($1, $2, 'date_of_birth', $4::jsonb) ON CONFLICT DO NOTHING`,
        [id, police, JSON.stringify(p.name), JSON.stringify(p.dob)],
      );
    }
    let added = 0;
    for (const n of NIGHT) {
      const at = new Date(Math.min(windowStart + n.hoursIntoWindow * HOUR, now.getTime() - 10 * 60_000)).toISOString();
      const { rowCount } = await client.query(
        `INSERT INTO records (id, kind, subject_person_id, subject_role, owning_agency_id, classification, occurred_at, fields, facts)
         VALUES ($1, 'incident', $2, $3, $4, 'OFFICIAL-SENSITIVE', $5, $6::jsonb, $7::jsonb) ON CONFLICT DO NOTHING`,
        [
          storyId('record', n.key),
          storyId('person', n.person),
          n.subjectRole,
          police,
          at,
          JSON.stringify({ incident_date: at, ...n.fields }),
          JSON.stringify(n.facts),
        ],
      );
      added += rowCount ?? 0;
    }
    if (added > 0) {
      await deps.ledger.append({
        kind: 'contribution',
        outcome: 'seeded',
        requestId: 'seed-workflows-night',
        actor: null,
        payload: {
          story: 'northshire-workflows',
          // By pseudonym only, as every ledger entry names records and persons.
          records: NIGHT.map((n) => deps.pseudonymise(storyId('record', n.key))),
          persons: NEW_PEOPLE.map((p) => deps.pseudonymise(storyId('person', p.key))),
        },
      });
    }
    return added;
  });
}

export async function seedWorkflows(deps: WorkflowSeedDeps, given: readonly Agency[], now: Date = new Date()): Promise<WorkflowSeedResult> {
  // The issuers the gateway actually uses (a development registry names them `devidp:<agency>` until it starts).
  const { rows: synced } = await deps.pool.query<{ id: string; issuer: string }>('SELECT id, issuer FROM agencies');
  const issuers = new Map(synced.map((r) => [r.id, r.issuer]));
  const registry = given.map((a) => ({ ...a, issuer: issuers.get(a.id) ?? a.issuer }));
  const incidents = await seedNight(deps, registry, now);

  // An open referral for a team manager at children's social care.
  const { rows: existingReferral } = await deps.pool.query<{ id: string }>('SELECT id FROM referrals WHERE subject_ref = $1 LIMIT 1', [
    DEMO_REFERRAL_REFERENCE,
  ]);
  let referralId = existingReferral[0]?.id ?? null;
  const newReferral = referralId === null;
  if (newReferral) {
    const sw = principal(registry, 'northshire-csc', 'sw@northshire-csc', 'Jo Whitfield', 'social_worker');
    const { answer } = await decideAndRecord(
      { engine: deps.engine, ledger: deps.ledger, pseudonymise: deps.pseudonymise, referrals: referralOpener(deps) },
      sw,
      {
        from: { agencyType: 'childrens_social_care' },
        to: { agencyType: 'police', role: 'police_officer' },
        purpose: 'child_protection_enquiry',
        subjectRole: 'adult_victim',
        fields: ['refuge_address', 'new_address_after_separation'],
        facts: { significant_harm_suspected: true },
      },
      { requestId: 'seed-workflows-referral', subjectRef: DEMO_REFERRAL_REFERENCE },
    );
    referralId = answer.referral?.id ?? null;
  }

  // A request for information from the MASH, answered by the police so far.
  const maisie = storyId('person', 'maisie');
  const { rows: existingRequest } = await deps.pool.query<{ id: string }>(
    `SELECT id FROM information_requests WHERE subject_person_id = $1 AND requester_agency_id = 'northshire-mash' LIMIT 1`,
    [maisie],
  );
  let informationRequestId = existingRequest[0]?.id ?? null;
  const newRequest = informationRequestId === null;
  if (newRequest) {
    const analyst = principal(registry, 'northshire-mash', 'analyst@northshire-mash', 'Sophie Turner', 'mash_analyst');
    const created = await createInformationRequest(
      deps,
      analyst,
      {
        subject: { personId: maisie },
        subjectRole: 'child',
        purpose: 'mash_triage',
        agencies: ['northshire-police', 'northshire-csc', 'northshire-school'].filter((id) => registry.some((a) => a.id === id)),
        fields: [
          'name',
          'date_of_birth',
          'incident_date',
          'incident_summary',
          'children_present',
          'child_involvement',
          'dash_risk_level',
          'child_protection_plan_status',
          'attendance',
          'wellbeing_concerns',
        ],
        priority: 'amber',
      },
      'seed-workflows-rfi',
    );
    informationRequestId = created.id;
    const officer = principal(registry, 'northshire-police', 'officer@northshire-police', 'PC Sam Okafor', 'police_officer');
    await respondToInformationRequest(
      deps,
      officer,
      created.id,
      { answer: 'release', records: [{ recordId: storyId('record', 'incident-5') }, { recordId: storyId('record', 'incident-4') }] },
      'seed-workflows-rfi-answer',
    );
  }
  return { incidents, referralId, informationRequestId, alreadySeeded: incidents === 0 && !newReferral && !newRequest };
}
