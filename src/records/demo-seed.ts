/**
 * Loading a demo story (seed/*.json) into the record store: people and what each agency holds about them,
 * households, records and data sharing agreements. Used by `npm run seed` (src/cli/seed.ts) and by tests.
 *
 * The story names agencies by agency TYPE; they are resolved against the trust registry, so the same story works
 * with any registry that has those types. Every field and fact goes through the same checks as the API
 * (./validation.ts): a story cannot hold what an agency could not contribute. Ids are derived from the story's
 * keys, and a story already loaded is not loaded twice. Everything is written in one transaction, with one ledger
 * entry (kind `contribution`, no actor: the operator seeded it) committed before it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { schemaCompiler } from '../json-schema';
import type { Pool } from 'pg';
import { contentHash, type AuditLedger } from '../audit/entry';
import type { Agency } from '../auth/registry';
import type { InputProblem } from '../errors';
import { AGENCY_TYPES, PURPOSES, SUBJECT_ROLES, type AgencyType, type SubjectRole } from '../vocabulary/vocabulary';
import { CLASSIFICATIONS, IDENTIFIERS, RECORD_KINDS, type Classification, type RecordKind } from './model';
import { FIELD_VALUE_SCHEMAS } from './schemas';
import { inTransaction } from '../db/tx';
import { checkContributedFacts, checkIdentifiers, checkPersonFields, checkRecordFields } from './validation';
import { CONTRIBUTION_KIND } from './contribute';
import { SafeguardError } from '../errors';

export interface StoryAgreement {
  readonly id: string;
  readonly title: string;
  readonly parties: readonly AgencyType[];
  readonly purposes: readonly string[];
  readonly startsOn: string;
  readonly endsOn?: string;
  readonly reviewOn?: string;
  readonly dpiaReference?: string;
}
export interface StoryPerson {
  readonly key: string;
  readonly identifiers?: Readonly<Record<string, string>>;
  readonly knownBy: ReadonlyArray<{
    readonly agency: AgencyType;
    readonly localId?: string;
    readonly fields?: Readonly<Record<string, unknown>>;
  }>;
}
export interface StoryHousehold {
  readonly key: string;
  readonly agency: AgencyType;
  readonly area: string;
  readonly address: string;
  readonly members: ReadonlyArray<{
    readonly person: string;
    readonly subjectRole: SubjectRole;
    readonly fromDaysAgo: number;
    readonly toDaysAgo?: number;
  }>;
}
export interface StoryRecord {
  readonly key: string;
  readonly agency: AgencyType;
  readonly kind: RecordKind;
  readonly subject: string;
  readonly subjectRole: SubjectRole;
  readonly classification: Classification;
  readonly daysAgo: number;
  readonly hoursAgo?: number;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly facts?: Readonly<Record<string, unknown>>;
}
export interface Story {
  readonly story: string;
  readonly agreements: readonly StoryAgreement[];
  readonly persons: readonly StoryPerson[];
  readonly households: readonly StoryHousehold[];
  readonly records: readonly StoryRecord[];
}

const key = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } as const;
const agencyType = { type: 'string', enum: [...AGENCY_TYPES] } as const;
const isoDate = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } as const;
const days = { type: 'number', minimum: 0, maximum: 36500 } as const;
const storySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['story', 'agreements', 'persons', 'households', 'records'],
  properties: {
    $comment: { type: 'string' },
    story: { type: 'string' },
    agreements: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'title', 'parties', 'purposes', 'startsOn'],
        properties: {
          id: key,
          title: { type: 'string', minLength: 1 },
          parties: { type: 'array', items: agencyType, minItems: 2 },
          purposes: { type: 'array', items: { type: 'string', enum: [...PURPOSES] }, minItems: 1 },
          startsOn: isoDate,
          endsOn: isoDate,
          reviewOn: isoDate,
          dpiaReference: { type: 'string' },
        },
      },
    },
    persons: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'knownBy'],
        properties: {
          key,
          identifiers: {
            type: 'object',
            additionalProperties: false,
            properties: Object.fromEntries(IDENTIFIERS.map((i) => [i, FIELD_VALUE_SCHEMAS[i]])),
          },
          knownBy: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['agency'],
              properties: { agency: agencyType, localId: { type: 'string' }, fields: { type: 'object' } },
            },
          },
        },
      },
    },
    households: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'agency', 'area', 'address', 'members'],
        properties: {
          key,
          agency: agencyType,
          area: { type: 'string' },
          address: { type: 'string' },
          members: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['person', 'subjectRole', 'fromDaysAgo'],
              properties: { person: key, subjectRole: { type: 'string', enum: [...SUBJECT_ROLES] }, fromDaysAgo: days, toDaysAgo: days },
            },
          },
        },
      },
    },
    records: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'agency', 'kind', 'subject', 'subjectRole', 'classification', 'daysAgo', 'fields'],
        properties: {
          key,
          agency: agencyType,
          kind: { type: 'string', enum: [...RECORD_KINDS] },
          subject: key,
          subjectRole: { type: 'string', enum: [...SUBJECT_ROLES] },
          classification: { type: 'string', enum: [...CLASSIFICATIONS] },
          daysAgo: days,
          hoursAgo: { type: 'number', minimum: 0, maximum: 23 },
          fields: { type: 'object' },
          facts: { type: 'object' },
        },
      },
    },
  },
} as const;
const validateStory = schemaCompiler().compile<Story>(storySchema);

export class StoryError extends SafeguardError {
  readonly code = 'story_invalid' as const;
}

/** Reads and checks a story file: its shape, its keys, and every field and fact against the API's own rules. */
export function loadStory(file: string): Story {
  const data: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!validateStory(data)) {
    throw new StoryError(
      `${file}: ${(validateStory.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is not valid'}`).join('; ')}`,
    );
  }
  const story = data;
  const persons = new Set(story.persons.map((p) => p.key));
  const problems: string[] = [];
  const report = (where: string, found: InputProblem[]): void => {
    for (const p of found) problems.push(`${where}${p.pointer}: ${p.detail}`);
  };
  for (const p of story.persons) {
    const found: InputProblem[] = [];
    checkIdentifiers(p.identifiers ?? {}, found);
    report(`person ${p.key}`, found);
  }
  for (const p of story.persons)
    for (const k of p.knownBy)
      if (k.fields) {
        const found: InputProblem[] = [];
        checkPersonFields(k.fields, found);
        report(`person ${p.key} (${k.agency})`, found);
      }
  for (const h of story.households)
    for (const m of h.members) if (!persons.has(m.person)) problems.push(`household ${h.key}: unknown person ${m.person}`);
  for (const r of story.records) {
    if (!persons.has(r.subject)) problems.push(`record ${r.key}: unknown person ${r.subject}`);
    if (!story.persons.find((p) => p.key === r.subject)?.knownBy.some((k) => k.agency === r.agency)) {
      problems.push(`record ${r.key}: the ${r.agency} agency does not know ${r.subject} (add it to knownBy)`);
    }
    const found: InputProblem[] = [];
    checkRecordFields(r.kind, r.fields, found);
    checkContributedFacts(r.facts ?? {}, found);
    report(`record ${r.key}`, found);
  }
  if (problems.length > 0) throw new StoryError(`${file}:\n  - ${problems.join('\n  - ')}`);
  return story;
}

/** The first registry agency of each type the story needs (preferring the registry's order). */
export function resolveAgencies(story: Story, registry: readonly Agency[]): Map<AgencyType, Agency> {
  const needed = new Set<AgencyType>([
    ...story.persons.flatMap((p) => p.knownBy.map((k) => k.agency)),
    ...story.households.map((h) => h.agency),
    ...story.records.map((r) => r.agency),
  ]);
  const out = new Map<AgencyType, Agency>();
  for (const a of registry) if (!out.has(a.agencyType)) out.set(a.agencyType, a);
  const missing = [...needed].filter((t) => !out.has(t));
  if (missing.length > 0) throw new StoryError(`The trust registry has no agency of type ${missing.join(', ')}, which the story needs.`);
  return out;
}

/** A stable UUID (version 5 layout, SHA-1 of the story key) so that a story is recognised when loaded again. */
export function storyId(kind: string, k: string): string {
  const h = createHash('sha1').update(`safeguard-gateway demo story:${kind}:${k}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface SeedResult {
  readonly alreadySeeded: boolean;
  readonly persons: number;
  readonly households: number;
  readonly records: number;
  readonly agreements: number;
  readonly agencies: readonly string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const dateDaysAgo = (now: Date, d: number): string => new Date(now.getTime() - d * DAY_MS).toISOString().slice(0, 10);

/** Writes the story as the database owner, in one transaction. */
export async function seedStory(
  ownerPool: Pool,
  ledger: AuditLedger,
  story: Story,
  registry: readonly Agency[],
  now: Date = new Date(),
): Promise<SeedResult> {
  const agencies = resolveAgencies(story, registry);
  const agencyOf = (t: AgencyType): string => (agencies.get(t) as Agency).id;
  const personId = (k: string): string => storyId('person', k);
  const used = [...new Set([...agencies.values()].map((a) => a.id))];

  return inTransaction(ownerPool, async (db) => {
    const first = story.persons[0];
    if (first) {
      const { rowCount } = await db.query('SELECT 1 FROM persons WHERE id = $1', [personId(first.key)]);
      if ((rowCount ?? 0) > 0) return { alreadySeeded: true, persons: 0, households: 0, records: 0, agreements: 0, agencies: used };
    }
    let agreements = 0;
    for (const a of story.agreements) {
      // Every registry agency of each party type is a party (e.g. every school); a type the registry lacks is left out.
      const parties = [...new Set(registry.filter((r) => a.parties.includes(r.agencyType)).map((r) => r.id))];
      if (parties.length < 2) continue;
      const inserted = await db.query(
        `INSERT INTO sharing_agreements (id, title, parties, purposes, starts_on, ends_on, review_on, dpia_reference)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [a.id, a.title, parties, [...a.purposes], a.startsOn, a.endsOn ?? null, a.reviewOn ?? null, a.dpiaReference ?? null],
      );
      agreements += inserted.rowCount ?? 0;
    }
    for (const p of story.persons) {
      const owner = p.knownBy[0] as StoryPerson['knownBy'][number];
      const ids = p.identifiers ?? {};
      await db.query('INSERT INTO persons (id, owning_agency_id, nhs_number, unique_pupil_number, pnc_id) VALUES ($1, $2, $3, $4, $5)', [
        personId(p.key),
        agencyOf(owner.agency),
        ids.nhs_number ?? null,
        ids.unique_pupil_number ?? null,
        ids.pnc_id ?? null,
      ]);
      for (const k of p.knownBy) {
        await db.query('INSERT INTO person_agency_links (person_id, agency_id, local_id) VALUES ($1, $2, $3)', [
          personId(p.key),
          agencyOf(k.agency),
          k.localId ?? null,
        ]);
        for (const [field, value] of Object.entries(k.fields ?? {})) {
          await db.query('INSERT INTO person_field_values (person_id, agency_id, field, value) VALUES ($1, $2, $3, $4::jsonb)', [
            personId(p.key),
            agencyOf(k.agency),
            field,
            JSON.stringify(value),
          ]);
        }
      }
    }
    for (const h of story.households) {
      const id = storyId('household', h.key);
      await db.query('INSERT INTO households (id, owning_agency_id, area, address) VALUES ($1, $2, $3, $4)', [
        id,
        agencyOf(h.agency),
        h.area,
        h.address,
      ]);
      for (const [i, m] of h.members.entries()) {
        await db.query(
          'INSERT INTO household_members (id, household_id, person_id, subject_role, from_date, to_date, recorded_by_agency_id) VALUES ' +
            '($1, $2, $3, $4, $5, $6, $7)',
          [
            storyId('membership', `${h.key}/${i}`),
            id,
            personId(m.person),
            m.subjectRole,
            dateDaysAgo(now, m.fromDaysAgo),
            m.toDaysAgo !== undefined ? dateDaysAgo(now, m.toDaysAgo) : null,
            agencyOf(h.agency),
          ],
        );
      }
    }
    for (const r of story.records) {
      const occurredAt = new Date(now.getTime() - r.daysAgo * DAY_MS - (r.hoursAgo ?? 0) * 60 * 60 * 1000);
      const fields =
        r.kind === 'incident' && r.fields.incident_date === undefined ? { ...r.fields, incident_date: occurredAt.toISOString() } : r.fields;
      await db.query(
        `INSERT INTO records (id, kind, subject_person_id, subject_role, owning_agency_id, classification, occurred_at, fields, facts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)`,
        [
          storyId('record', r.key),
          r.kind,
          personId(r.subject),
          r.subjectRole,
          agencyOf(r.agency),
          r.classification,
          occurredAt.toISOString(),
          JSON.stringify(fields),
          JSON.stringify(r.facts ?? {}),
        ],
      );
    }
    const result: SeedResult = {
      alreadySeeded: false,
      persons: story.persons.length,
      households: story.households.length,
      records: story.records.length,
      agreements,
      agencies: used,
    };
    await ledger.append({
      kind: CONTRIBUTION_KIND,
      outcome: 'seeded',
      requestId: `seed-${now.toISOString()}`,
      actor: null,
      payload: {
        action: 'demo_seed',
        persons: result.persons,
        households: result.households,
        records: result.records,
        agreements,
        agencies: [...used],
        // Which records, without naming them (the ledger holds no record id): a keyed hash of the id list.
        recordIdsHash: contentHash(story.records.map((r) => storyId('record', r.key))),
        contentHash: contentHash({ story, now: now.toISOString() }),
      },
    });
    return result;
  });
}
