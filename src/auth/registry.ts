/**
 * The trust registry: which agencies the gateway trusts, through which OpenID issuer, for which OAuth clients,
 * and which roles each may act in. Configuration (AGENCIES_FILE, e.g. `config/agencies.dev.json`), checked with ajv
 * against the sharing vocabulary at start-up: a bad file stops start-up with a message that names the file, the
 * agency and the word. Nothing is guessed.
 *
 * File shape: `{ "agencies": [ { id, name, agencyType, issuer, clientIds, allowedRoles, area?, tokenProfile?, audience?,
 * roleMap?, rolePrecedence?, scopeMap?, introspection?, allowMultipleAudiences?, webClient? } ] }`. The keys
 * `tokenProfile`, `audience`, `roleMap`, `scopeMap`, `introspection` and `allowMultipleAudiences` are a contract (outside
 * interop checks write registry files with them): README.md "Connecting your agency's identity provider".
 * `issuer` is an https URL, an http URL (accepted by the token verifier only with ALLOW_INSECURE_ISSUERS, i.e. for
 * development), or the template `devidp:<agencyId>`: "this agency's issuer on the bundled development OpenID
 * provider", which `startDevIdp(...).issuerFor(agencyId)` turns into `http://127.0.0.1:<DEV_IDP_PORT>/<agencyId>`.
 */
import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import { schemaCompiler } from '../json-schema';
import { AGENCY_TYPES, ROLES, type AgencyType, type Role } from '../vocabulary/vocabulary';
import { TOKEN_PROFILES, type TokenProfileId } from './profiles';
import { SafeguardError } from '../errors';

/** RFC 7662 introspection of this agency's opaque access tokens, with client authentication to the endpoint. */
export interface IntrospectionSettings {
  readonly endpoint: string;
  readonly clientId: string;
  /** A file holding the client secret (client_secret_basic); read at start-up, never logged. */
  readonly clientSecretFile: string;
}

/** The agency's web client at its own identity provider, for the practitioners' pages (code + PKCE). */
export interface WebClientSettings {
  readonly clientId: string;
  /** client_secret_basic with the secret in this file ... */
  readonly clientSecretFile?: string;
  /** ... or private_key_jwt with this private JWK (JSON) or PKCS#8 PEM file. */
  readonly privateKeyFile?: string;
  /** Scopes to ask for (default "openid profile"). Entra: e.g. "openid profile api://<app>/decisions". */
  readonly scopes?: string;
  /** The ID-token / access-token claim with the practitioner's name (default `name`). */
  readonly nameClaim?: string;
}

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
  /** Where this agency's identity provider puts client id, roles and scopes (default `rfc9068`). */
  readonly tokenProfile?: TokenProfileId;
  /** The `aud` this agency's tokens carry for the gateway; overrides GATEWAY_AUDIENCE. */
  readonly audience?: string;
  /** IdP role / group value → vocabulary role. With a map only mapped values count. */
  readonly roleMap?: Readonly<Record<string, Role>>;
  /** When a token maps to several roles: the first of these it holds wins (otherwise 403). */
  readonly rolePrecedence?: readonly Role[];
  /** IdP scope or app role → gateway scope. */
  readonly scopeMap?: Readonly<Record<string, string>>;
  readonly introspection?: IntrospectionSettings;
  /** Accept tokens whose `aud` lists other audiences besides the gateway (refused by default: replay by another API). */
  readonly allowMultipleAudiences?: boolean;
  readonly webClient?: WebClientSettings;
}

/** The prefix of an issuer template resolved by the development OpenID provider at start-up. */
export const DEV_IDP_ISSUER_PREFIX = 'devidp:';

export class AgencyRegistryError extends SafeguardError {
  readonly code = 'registry_invalid' as const;
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
    issuer: {
      type: 'string',
      minLength: 1,
      maxLength: 500,
      pattern: `^(https?://[^\\s?#]+|${DEV_IDP_ISSUER_PREFIX}[a-z0-9][a-z0-9-]{0,62})$`,
    },
    clientIds: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' } },
    allowedRoles: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    area: { type: 'string', minLength: 1, maxLength: 200 },
    tokenProfile: { type: 'string', enum: [...TOKEN_PROFILES] },
    audience: { type: 'string', minLength: 1, maxLength: 500 },
    roleMap: {
      type: 'object',
      maxProperties: 200,
      propertyNames: { type: 'string', minLength: 1, maxLength: 200 },
      additionalProperties: { type: 'string', enum: [...ROLES] },
    },
    rolePrecedence: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...ROLES] } },
    scopeMap: {
      type: 'object',
      maxProperties: 200,
      propertyNames: { type: 'string', minLength: 1, maxLength: 200 },
      additionalProperties: { type: 'string', pattern: '^[\\x21-\\x7e]{1,100}$' },
    },
    introspection: {
      type: 'object',
      additionalProperties: false,
      required: ['endpoint', 'clientId', 'clientSecretFile'],
      properties: {
        endpoint: { type: 'string', pattern: '^https?://[^\\s#]+$', maxLength: 500 },
        clientId: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' },
        clientSecretFile: { type: 'string', minLength: 1, maxLength: 500 },
      },
    },
    allowMultipleAudiences: { type: 'boolean' },
    webClient: {
      type: 'object',
      additionalProperties: false,
      required: ['clientId'],
      properties: {
        clientId: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' },
        clientSecretFile: { type: 'string', minLength: 1, maxLength: 500 },
        privateKeyFile: { type: 'string', minLength: 1, maxLength: 500 },
        scopes: { type: 'string', pattern: '^[\\x21-\\x7e]+( [\\x21-\\x7e]+)*$', maxLength: 1000 },
        nameClaim: { type: 'string', pattern: '^[A-Za-z0-9_.:/-]{1,100}$' },
      },
    },
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

const ajv = schemaCompiler();
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
    const kind =
      field.startsWith('allowedRoles') || field.startsWith('roleMap') || field.startsWith('rolePrecedence')
        ? 'role'
        : field === 'agencyType'
          ? 'agencyType'
          : field;
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
        problems.push(
          `agency "${agency.id}": client "${clientId}" at issuer ${agency.issuer} already belongs to agency "${owner}" (a client may act for one agency only)`,
        );
      }
      pairs.set(key, agency.id);
    }
    problems.push(...profileProblems(agency));
  }
  if (problems.length) throw new AgencyRegistryError(source, problems);
  // Agencies at one issuer read their tokens the same way (so which claim names the client is never ambiguous).
  const profileAt = new Map<string, { id: string; profile: string }>();
  for (const agency of data.agencies) {
    const profile = agency.tokenProfile ?? 'rfc9068';
    const first = profileAt.get(agency.issuer);
    if (first && first.profile !== profile)
      problems.push(
        `agencies "${first.id}" and "${agency.id}" share the issuer ${agency.issuer} but not the tokenProfile ("${first.profile}", "${profile}")`,
      );
    if (!first) profileAt.set(agency.issuer, { id: agency.id, profile });
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
    ...(a.tokenProfile !== undefined ? { tokenProfile: a.tokenProfile } : {}),
    ...(a.audience !== undefined ? { audience: a.audience } : {}),
    ...(a.roleMap !== undefined ? { roleMap: { ...a.roleMap } } : {}),
    ...(a.rolePrecedence !== undefined ? { rolePrecedence: [...a.rolePrecedence] } : {}),
    ...(a.scopeMap !== undefined ? { scopeMap: { ...a.scopeMap } } : {}),
    ...(a.introspection !== undefined ? { introspection: { ...a.introspection } } : {}),
    ...(a.allowMultipleAudiences !== undefined ? { allowMultipleAudiences: a.allowMultipleAudiences } : {}),
    ...(a.webClient !== undefined ? { webClient: { ...a.webClient } } : {}),
  }));
}

/** The token-profile settings of one agency, checked together (what ajv cannot say on its own). */
function profileProblems(agency: Agency): string[] {
  const problems: string[] = [];
  const where = `agency "${agency.id}"`;
  const profile = agency.tokenProfile ?? 'rfc9068';
  if (profile === 'introspection' && !agency.introspection)
    problems.push(`${where}: tokenProfile "introspection" needs "introspection": { endpoint, clientId, clientSecretFile }`);
  if (profile !== 'introspection' && agency.introspection)
    problems.push(`${where}: "introspection" is set but tokenProfile is "${profile}" (set tokenProfile to "introspection")`);
  for (const [value, role] of Object.entries(agency.roleMap ?? {})) {
    if (!agency.allowedRoles.includes(role))
      problems.push(`${where}: roleMap maps "${value}" to "${role}", which is not one of its allowedRoles`);
  }
  for (const role of agency.rolePrecedence ?? []) {
    if (!agency.allowedRoles.includes(role))
      problems.push(`${where}: rolePrecedence names "${role}", which is not one of its allowedRoles`);
  }
  const web = agency.webClient;
  if (web) {
    if (!agency.clientIds.includes(web.clientId))
      problems.push(`${where}: webClient.clientId "${web.clientId}" is not one of its clientIds`);
    if ((web.clientSecretFile === undefined) === (web.privateKeyFile === undefined))
      problems.push(`${where}: webClient needs exactly one of clientSecretFile (client_secret_basic) or privateKeyFile (private_key_jwt)`);
  }
  return problems;
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
