/**
 * JSON Schemas of the records exchange, built from the vocabulary and src/records/model.ts. The same objects
 * validate requests (ajv, through src/http/validation.ts) and describe them in the OpenAPI document.
 *
 * `fields` and `facts` members are checked word by word in ./validation.ts first (so an unknown word is a 400 that
 * names it and lists the allowed words), then each value against the schema of its field here.
 */
import { DASH_RISK_LEVELS, FACT_SPECS, type Field } from '../vocabulary/vocabulary';
import { factSchema, purposeSchema, subjectRoleSchema } from '../vocabulary/schemas';
import { CHILD_INVOLVEMENT, CLASSIFICATIONS, DERIVED_FACTS, IDENTIFIERS, RECORD_KINDS } from './model';

const text = (maxLength: number): Record<string, unknown> => ({ type: 'string', minLength: 1, maxLength });
const date = { type: 'string', format: 'date' } as const;
const dateOrDateTime = {
  anyOf: [
    { type: 'string', format: 'date' },
    { type: 'string', format: 'date-time' },
  ],
} as const;

/** The schema of each vocabulary field's value. */
export const FIELD_VALUE_SCHEMAS: { readonly [F in Field]: Record<string, unknown> } = {
  name: text(200),
  date_of_birth: date,
  nhs_number: { type: 'string', pattern: '^[0-9]{10}$' },
  unique_pupil_number: { type: 'string', pattern: '^[A-Z][0-9]{11}[0-9A-Z]$' },
  pnc_id: { type: 'string', pattern: '^[0-9]{2,4}/[0-9]{1,7}[A-Z]$' },
  consistent_child_identifier: text(64),
  current_address: text(500),
  school_attended: text(200),
  refuge_address: text(500),
  new_address_after_separation: text(500),
  incident_date: dateOrDateTime,
  incident_summary: text(2000),
  children_present: { type: 'integer', minimum: 0, maximum: 50 },
  child_involvement: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...CHILD_INVOLVEMENT] } },
  incident_full_report: text(20000),
  offence_type: text(200),
  arrest_made: { type: 'boolean' },
  bail_conditions: text(2000),
  dash_risk_level: { type: 'string', enum: [...DASH_RISK_LEVELS] },
  dash_full_answers: text(10000),
  marac_referral_status: text(200),
  risk_factors: { type: 'array', maxItems: 50, items: text(200) },
  previous_incidents_count: { type: 'integer', minimum: 0, maximum: 10000 },
  previous_domestic_abuse_convictions: text(2000),
  other_convictions: text(2000),
  restraining_order: text(2000),
  physical_health: text(4000),
  mental_health: text(4000),
  substance_misuse: text(4000),
  pregnancy: text(1000),
  gp_details: text(500),
  child_protection_plan_status: text(200),
  child_in_need_status: text(200),
  social_worker_contact: text(500),
  looked_after_status: text(200),
  attendance: text(200),
  behaviour_notes: text(4000),
  wellbeing_concerns: text(4000),
  court_orders: text(4000),
  cafcass_recommendation: text(4000),
  phone_number: { type: 'string', pattern: '^[+0-9 ()-]{6,20}$' },
  email: { type: 'string', format: 'email', maxLength: 254 },
};

/** Facts a contribution may state: every vocabulary fact except those the gateway derives itself. */
export const contributedFactsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(
    Object.entries(FACT_SPECS)
      .filter(([name]) => !(DERIVED_FACTS as readonly string[]).includes(name))
      .map(([name, spec]) => [name, factSchema(spec)]),
  ),
} as const;

const uuid = { type: 'string', format: 'uuid' } as const;
/** `fields` and `facts` are objects here; their members are checked by ./validation.ts. */
const anyObject = { type: 'object' } as const;

export const createPersonSchema = {
  $id: 'CreatePerson',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    identifiers: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: Object.fromEntries(IDENTIFIERS.map((f) => [f, FIELD_VALUE_SCHEMAS[f]])),
    },
    localId: { type: 'string', pattern: '^[A-Za-z0-9._:/-]{1,64}$', description: "Your agency's own id for this person" },
    fields: anyObject,
  },
} as const;

export const createHouseholdSchema = {
  $id: 'CreateHousehold',
  type: 'object',
  additionalProperties: false,
  required: ['area', 'address'],
  properties: { area: text(100), address: text(500) },
} as const;

export const addMemberSchema = {
  $id: 'AddHouseholdMember',
  type: 'object',
  additionalProperties: false,
  required: ['personId', 'subjectRole', 'from'],
  properties: { personId: uuid, subjectRole: subjectRoleSchema, from: date, to: date },
} as const;

const recordBodyProperties = {
  subjectRole: subjectRoleSchema,
  classification: { type: 'string', enum: [...CLASSIFICATIONS] },
  occurredAt: { type: 'string', format: 'date-time' },
  fields: anyObject,
  facts: anyObject,
} as const;

export const createRecordSchema = {
  $id: 'CreateRecord',
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'subjectPersonId', 'subjectRole', 'classification', 'occurredAt', 'fields'],
  properties: { kind: { type: 'string', enum: [...RECORD_KINDS] }, subjectPersonId: uuid, ...recordBodyProperties },
} as const;

/** A PUT replaces what may change; kind and subject never change (a different record is a new record). */
export const updateRecordSchema = {
  $id: 'UpdateRecord',
  type: 'object',
  additionalProperties: false,
  required: ['subjectRole', 'classification', 'occurredAt', 'fields'],
  properties: recordBodyProperties,
} as const;

export const readQuerySchema = {
  $id: 'RecordsQuery',
  type: 'object',
  additionalProperties: false,
  required: ['purpose'],
  properties: {
    purpose: purposeSchema,
    onBehalfOf: {
      ...uuid,
      description:
        'The person on whose behalf you ask, when you act for someone (e.g. a subject access request). The gateway works out from its ' +
        'records whether they are the subject or an alleged perpetrator.',
    },
  },
} as const;
