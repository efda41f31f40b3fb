/**
 * The demo clients and practitioner accounts of the development OpenID provider (`config/devidp.json`), checked
 * with ajv and against the trust registry: every client must be one of its agency's client ids, every role one the
 * agency may use. Development only.
 */
import { readFileSync } from 'node:fs';
import { schemaCompiler } from '../json-schema';
import { ROLES, type Role } from '../vocabulary/vocabulary';
import type { Agency } from '../auth/registry';

export const DEFAULT_DEVIDP_CONFIG_FILE = 'config/devidp.json';
/** The scopes of the gateway API (the resource server every dev token is for). */
export const GATEWAY_SCOPES = ['decisions', 'records:read', 'records:write', 'audit:read', 'webhooks'] as const;

export interface DevClientConfig {
  readonly clientId: string;
  /**
   * `system`: client credentials with private_key_jwt. `web`: authorization code + PKCE for the practitioner pages.
   * `mtls`: client credentials authenticated by the agency's TLS client certificate (tls_client_auth, subject
   * CN = the agency id, made by certs/make-agency-cert.sh) — its tokens are bound to that certificate (RFC 8705).
   */
  readonly kind: 'system' | 'web' | 'mtls';
  /** The role claim of a system client's tokens. */
  readonly role?: Role;
  /** Gateway scopes the client may be granted (space separated). */
  readonly scope: string;
}

export interface DevAccountConfig {
  readonly login: string;
  readonly password: string;
  readonly name: string;
  readonly role: Role;
}

export interface DevAgencyConfig {
  readonly clients: readonly DevClientConfig[];
  readonly accounts: readonly DevAccountConfig[];
}

export type DevIdpConfig = ReadonlyMap<string, DevAgencyConfig>;

const scopePattern = `^(${GATEWAY_SCOPES.join('|')})( (${GATEWAY_SCOPES.join('|')}))*$`;
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['agencies'],
  properties: {
    $comment: { type: 'string' },
    agencies: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['clients', 'accounts'],
        properties: {
          clients: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['clientId', 'kind', 'scope'],
              properties: {
                clientId: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' },
                kind: { type: 'string', enum: ['system', 'web', 'mtls'] },
                role: { type: 'string', enum: [...ROLES] },
                scope: { type: 'string', pattern: scopePattern },
              },
            },
          },
          accounts: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['login', 'password', 'name', 'role'],
              properties: {
                login: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,100}$' },
                password: { type: 'string', minLength: 8, maxLength: 200 },
                name: { type: 'string', minLength: 1, maxLength: 200 },
                role: { type: 'string', enum: [...ROLES] },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validate = schemaCompiler().compile<{ agencies: Record<string, DevAgencyConfig> }>(schema);

export function loadDevIdpConfig(file: string, agencies: readonly Agency[]): DevIdpConfig {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new Error(`${file}: cannot be read as JSON (${(e as Error).message})`, { cause: e });
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is not valid'}`);
    throw new Error(`${file} is not valid:\n  - ${problems.join('\n  - ')}`);
  }
  const problems: string[] = [];
  const clientIds = new Set<string>();
  for (const [agencyId, entry] of Object.entries(data.agencies)) {
    const agency = agencies.find((a) => a.id === agencyId);
    if (!agency) {
      problems.push(`agency "${agencyId}" is not in the trust registry`);
      continue;
    }
    for (const c of entry.clients) {
      if (clientIds.has(c.clientId)) problems.push(`client "${c.clientId}" is defined twice`);
      clientIds.add(c.clientId);
      if (!agency.clientIds.includes(c.clientId))
        problems.push(`client "${c.clientId}" is not one of agency "${agencyId}"'s clientIds in the trust registry`);
      if (c.kind !== 'web' && !c.role) problems.push(`${c.kind} client "${c.clientId}" needs a role`);
      if (c.kind === 'web' && c.role)
        problems.push(`web client "${c.clientId}" must not have a role (the practitioner's account gives it)`);
      if (c.role && !agency.allowedRoles.includes(c.role))
        problems.push(`client "${c.clientId}": agency "${agencyId}" may not use the role "${c.role}"`);
    }
    if (entry.clients.filter((c) => c.kind === 'web').length > 1) problems.push(`agency "${agencyId}" has more than one web client`);
    const logins = new Set<string>();
    for (const a of entry.accounts) {
      if (logins.has(a.login)) problems.push(`account "${a.login}" is defined twice`);
      logins.add(a.login);
      if (a.role === 'system') problems.push(`account "${a.login}": a person cannot have the role "system"`);
      if (!agency.allowedRoles.includes(a.role))
        problems.push(`account "${a.login}": agency "${agencyId}" may not use the role "${a.role}"`);
    }
  }
  if (problems.length) throw new Error(`${file} does not match the trust registry:\n  - ${problems.join('\n  - ')}`);
  return new Map(Object.entries(data.agencies));
}
