/**
 * Several workers start on a fresh data directory at once (WORKERS=2 after `rm -rf data`): each finds no key and
 * makes one. The first key file wins; every process must end up with that same key, and none may fail.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadGatewayKeys, rotateKey } from '../../src/keys/gateway-keys';

describe('gateway keys on a fresh data directory', () => {
  it('loads the same keys when several processes create them at once, and leaves no temporary files', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sg-keys-'));
    const loaded = await Promise.all([1, 2, 3, 4].map(() => loadGatewayKeys(dataDir)));
    const kids = loaded.map((k) =>
      k
        .jwks()
        .keys.map((j) => j.kid)
        .sort()
        .join(','),
    );
    expect(new Set(kids).size).toBe(1);
    const files = readdirSync(path.join(dataDir, 'keys'));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a rotation still refuses to overwrite an existing key version', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'sg-keys-'));
    await loadGatewayKeys(dataDir);
    const rotations = await Promise.allSettled([rotateKey(dataDir, 'ledger'), rotateKey(dataDir, 'ledger')]);
    expect(rotations.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(rotations.filter((r) => r.status === 'rejected')).toHaveLength(1);
  });
});
