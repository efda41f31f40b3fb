/**
 * The trust registry: which agencies the gateway trusts, through which OpenID issuer, for which OAuth clients,
 * and which roles each may act in. Configuration (AGENCIES_FILE, e.g. `config/agencies.dev.json`), checked with ajv
 * against the sharing vocabulary at start-up: a bad file stops start-up with a message that names the file, the
 * agency and the word. Nothing is guessed.
 *
 * File shape: `{ "agencies": [ { id, name, agencyType, issuer, clientIds, allowedRoles, area? } ] }`.
 * `issuer` is an https URL, an http URL (accepted by the token verifier only with ALLOW_INSECURE_ISSUERS, i.e. for
 * development), or the template `devidp:<agencyId>`: "this agency's issuer on the bundled development OpenID
 * provider", which `startDevIdp(...).issuerFor(agencyId)` turns into `http://127.0.0.1:<DEV_IDP_PORT>/<agencyId>`.
 */
import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { AGENCY_TYPES, ROLES, type AgencyType, type Role } from '../vocabulary/vocabulary';

export interface Agency {
  readonly id: string;
  readonly name: string;
  readonly agencyType: AgencyType;
  /** The `iss` of this agency's access tokens (exact string match). */
  readonly issuer: string;
  /** The OAuth client ids (`client_id` claim) that act for this agency at that issuer. */
  readonly clientIds: readonly string[];
  /** The roles tokens of this agency may carry; any other role is refused (403). */
  readonly allowedRoles: readonly Role[];
  readonly area?: string;
}

/** The prefix of an issuer template resolved by the development OpenID provider at start-up. */
export const DEV_IDP_ISSUER_PREFIX = 'devidp:';

export class AgencyRegistryError extends Error {
  override readonly name = 'AgencyRegistryError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`The trust registry ${file} is not valid:\n  - ${problems.join('\n  - ')}`);
  }
}

const AGENCY_ID = '^[a-z0-9][a-z0-9-]{0,62}$';
const agencySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'agencyType', 'issuer', 'clientIds', 'allowedRoles'],
  properties: {
    $comment: { type: 'string' },
    id: { type: 'string', pattern: AGENCY_ID },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    agencyType: { type: 'string', enum: [...AGENCY_TYPES] },
    issuer: { type: 'string', minLength: 1, maxLength: 500, pattern: `^(https?://[^\\s?#]+|${DEV_IDP_ISSUER_PREFIX}[a-z0-9][a-z0-9-]{0,62})$` },
    clientIds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' } },
    allowedRoles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    area: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;
const registrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['agencies'],
  properties: {
    $comment: { type: 'string' },
    agencies: { type: 'array', minItems: 1, items: agencySchema },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
const validateRegistry = ajv.compile<{ agencies: Agency[] }>(registrySchema);

/** The agency id at `/agencies/<n>` of the parsed file, for messages. */
function agencyLabel(data: unknown, instancePath: string): string {
  const match = /^\/agencies\/(\d+)/.exec(instancePath);
  if (!match) return 'the file';
  const agencies = (data as { agencies?: unknown }).agencies;
  const entry = Array.isArray(agencies) ? (agencies[Number(match[1])] as unknown) : undefined;
  const id = typeof entry === 'object' && entry !== null ? (entry as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? `agency "${id}"` : `agency #${Number(match[1]) + 1}`;
}

function valueAt(data: unknown, instancePath: string): unknown {
  let value: unknown = data;
  for (const part of instancePath.split('/').slice(1)) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return value;
}

function describe(error: ErrorObject, data: unknown): string {
  const where = agencyLabel(data, error.instancePath);
  const field = error.instancePath.replace(/^\/agencies\/\d+\/?/, '') || 'entry';
  if (error.keyword === 'enum') {
    const word = valueAt(data, error.instancePath);
    const allowed = (error.params as { allowedValues: readonly string[] }).allowedValues;
    const kind = field.startsWith('allowedRoles') ? 'role' : field === 'agencyType' ? 'agencyType' : field;
    return `${where}: ${kind} "${String(word)}" is not a word of the sharing vocabulary; allowed values: ${allowed.join(', ')}`;
  }
  if (error.keyword === 'additionalProperties') {
    return `${where}: unknown property "${(error.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (error.keyword === 'required') {
    return `${where}: missing "${(error.params as { missingProperty: string }).missingProperty}"`;
  }
  if (field === 'issuer' && error.keyword === 'pattern') {
    return `${where}: issuer must be an http(s) URL without query or fragment, or "${DEV_IDP_ISSUER_PREFIX}<agencyId>"`;
  }
  return `${where}: ${field} ${error.message ?? 'is not valid'}`;
}

/** Checks a parsed registry (the same rules as the file loader). `source` names it in messages. */
export function parseAgencyRegistry(data: unknown, source: string): Agency[] {
  if (!validateRegistry(data)) {
    const problems = (validateRegistry.errors ?? []).map((e) => describe(e, data));
    throw new AgencyRegistryError(source, [...new Set(problems)]);
  }
  const problems: string[] = [];
  const ids = new Set<string>();
  const pairs = new Map<string, string>();
  for (const agency of data.agencies) {
    if (ids.has(agency.id)) problems.push(`agency "${agency.id}" appears more than once`);
    ids.add(agency.id);
    if (!agency.issuer.startsWith(DEV_IDP_ISSUER_PREFIX) && !URL.canParse(agency.issuer)) {
      problems.push(`agency "${agency.id}": issuer "${agency.issuer}" is not a valid URL`);
    }
    for (const clientId of agency.clientIds) {
      const key = `${agency.issuer}\n${clientId}`;
      const owner = pairs.get(key);
      if (owner !== undefined && owner !== agency.id) {
        problems.push(`agency "${agency.id}": client "${clientId}" at issuer ${agency.issuer} already belongs to agency "${owner}" (a client may act for one agency only)`);
      }
      pairs.set(key, agency.id);
    }
  }
  if (problems.length) throw new AgencyRegistryError(source, problems);
  return data.agencies.map((a) => ({
    id: a.id,
    name: a.name,
    agencyType: a.agencyType,
    issuer: a.issuer,
    clientIds: [...a.clientIds],
    allowedRoles: [...a.allowedRoles],
    ...(a.area !== undefined ? { area: a.area } : {}),
  }));
}

/** Reads and checks the trust registry file. Throws AgencyRegistryError (naming the file) when anything is wrong. */
export function loadAgencyRegistry(file: string): Agency[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AgencyRegistryError(file, [`the file cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch (e) {
    throw new AgencyRegistryError(file, [`the file is not valid JSON (${(e as Error).message})`]);
  }
  return parseAgencyRegistry(data, file);
}
