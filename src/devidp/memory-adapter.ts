/**
 * In-memory storage for ONE development issuer (oidc-provider adapter). Each issuer gets its own, so that nothing —
 * sessions, grants, codes, clients — can be found through another agency's issuer (oidc-provider's built-in memory
 * adapter is one store shared by every Provider in the process). Clients are not stored: they are served from the
 * issuer's own client list, as fresh objects on each lookup. Development only; state is lost on restart.
 */
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

interface Entry {
  readonly payload: AdapterPayload;
  readonly expiresAt: number;
}

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

export function createIssuerAdapter(clientMetadata: (clientId: string) => AdapterPayload | undefined): AdapterFactory {
  const entries = new Map<string, Entry>();
  const sessionByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const grantMembers = new Map<string, Set<string>>();
  let writes = 0;

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  const sweep = (): void => {
    const now = Date.now();
    for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
  };

  const clients: Adapter = {
    upsert: async () => undefined,
    find: async (id) => clientMetadata(id),
    findByUserCode: async () => undefined,
    findByUid: async () => undefined,
    consume: async () => undefined,
    destroy: async () => undefined,
    revokeByGrantId: async () => undefined,
  };

  return (model: string): Adapter => {
    if (model === 'Client') return clients;
    const key = (id: string): string => `${model}:${id}`;
    const adapter: Adapter = {
      async upsert(id, payload, expiresIn) {
        if (++writes % 500 === 0) sweep();
        entries.set(key(id), {
          payload,
          expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY,
        });
        if (model === 'Session' && payload.uid) sessionByUid.set(payload.uid, id);
        if (payload.userCode) byUserCode.set(payload.userCode, id);
        if (GRANTABLE.has(model) && payload.grantId) {
          const members = grantMembers.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          grantMembers.set(payload.grantId, members);
        }
      },
      async find(id) {
        return live(key(id))?.payload;
      },
      async findByUid(uid) {
        const id = sessionByUid.get(uid);
        return id === undefined ? undefined : live(key(id))?.payload;
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode);
        return id === undefined ? undefined : live(key(id))?.payload;
      },
      async consume(id) {
        const entry = live(key(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        const entry = entries.get(key(id));
        entries.delete(key(id));
        if (entry?.payload.uid && sessionByUid.get(entry.payload.uid) === id) sessionByUid.delete(entry.payload.uid);
        if (entry?.payload.userCode && byUserCode.get(entry.payload.userCode) === id) byUserCode.delete(entry.payload.userCode);
      },
      async revokeByGrantId(grantId) {
        for (const member of grantMembers.get(grantId) ?? []) entries.delete(member);
        grantMembers.delete(grantId);
      },
    };
    return adapter;
  };
}
