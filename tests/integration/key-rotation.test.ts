/**
 * Key rotation: a new version of the ledger (JWS) or note (Ed25519) key signs from then on; every old public key stays
 * published, so checkpoints and receipts signed before stay verifiable, sealing continues across the rotation, and
 * the rotation itself is an entry in the ledger (`npm run keys:rotate`, run here as a separate process).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { entryMacKey } from '../../src/audit/entry-mac';
import { openNote, sealWith, verifyCheckpointJws, verifyWith } from '../../src/audit/checkpoints';
import { loadGatewayKeys, rotateKey } from '../../src/keys/gateway-keys';
import { compileForNode, ROOT } from '../support/compile-for-node';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startWitness, type WitnessProcess } from '../support/witness-process';

const run = promisify(execFile);
const ORIGIN = 'gateway.test/rotation';
const MAC_SECRET = 'rotation-test-ledger-mac-key-0123456789';
let db: TestDatabase;
let pool: Pool;
let ledger: PgAuditLedger;
let witness: WitnessProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new Pool({ connectionString: db.appUrl, max: 3 });
  pool.on('error', () => undefined);
  ledger = new PgAuditLedger(pool, { macKey: entryMacKey(MAC_SECRET) });
});
afterAll(async () => {
  await ledger.close();
  await pool.end();
  await db.drop();
  await witness?.stop();
});

const append = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++)
    await ledger.append({ kind: 'audit_read', outcome: 'served', requestId: `rot-${Date.now()}-${i}`, actor: null, payload: { i } });
};

it('seals across a rotation of both keys; old checkpoints keep verifying; witnesses accept the new note key', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-rot-'));
  const before = await loadGatewayKeys(dataDir, {}, { origin: ORIGIN });
  witness = await startWitness([before.note().vkey]);
  const ctx = { pool, sinks: [], macKey: entryMacKey(MAC_SECRET), witnesses: [witness.client] };
  await append(4);
  const first = await sealWith({ ...ctx, keys: before });
  expect(first.witnessed[0]?.outcome).toBe('cosigned');

  const ledgerRotation = await rotateKey(dataDir, 'ledger', ORIGIN);
  const noteRotation = await rotateKey(dataDir, 'note', ORIGIN);
  expect(ledgerRotation).toMatchObject({ key: 'ledger', version: 2, previous: before.key('ledger').kid });
  expect(noteRotation).toMatchObject({ key: 'note', version: 2, previous: before.note().vkey });
  const after = await loadGatewayKeys(dataDir, {}, { origin: ORIGIN });
  expect(after.key('ledger').kid).not.toBe(before.key('ledger').kid);
  expect(after.jwks().keys.map((k) => k.kid)).toEqual(expect.arrayContaining([before.key('ledger').kid, after.key('ledger').kid]));
  expect(after.noteVerifiers().map((v) => v.text)).toEqual([after.note().vkey, before.note().vkey]);
  // The old checkpoint still verifies with the published keys.
  expect((await verifyCheckpointJws(first.checkpoint?.jws ?? '', after.jwks())).ok).toBe(true);
  expect(openNote(first.checkpoint?.note ?? '', after.noteVerifiers())).not.toBeNull();

  // A witness that knows only the old note key refuses the new one (403); told both, it cosigns.
  await append(3);
  const refused = await sealWith({ ...ctx, keys: after });
  expect(refused.witnessed[0]).toMatchObject({ outcome: 'refused', detail: expect.stringMatching(/403/) });
  await witness.stop();
  witness = await startWitness([before.note().vkey, after.note().vkey], { dir: witness.dir });
  await append(1);
  const cosigned = await sealWith({ ...ctx, keys: after, witnesses: [witness.client] });
  expect(cosigned.witnessed[0]?.outcome).toBe('cosigned');
  const report = await verifyWith({
    pool,
    keys: after,
    sinks: [],
    witnesses: [witness.client],
    quorum: 1,
    macKey: entryMacKey(MAC_SECRET),
  });
  expect(report).toMatchObject({ ok: true, trustedUpTo: 8, cosignedUpTo: 8 });
});

it('npm run keys:rotate writes the next version and records the rotation in the ledger', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sg-rot-cli-'));
  const keys = await loadGatewayKeys(dataDir, {}, { origin: ORIGIN });
  const cli = compileForNode('src/cli/keys-rotate.ts', mkdtempSync(path.join(os.tmpdir(), 'sg-rot-build-')));
  const env = {
    ...process.env,
    DATABASE_URL: db.ownerUrl,
    DATA_DIR: dataDir,
    LEDGER_ORIGIN: ORIGIN,
    LEDGER_MAC_KEY: MAC_SECRET,
    NODE_PATH: path.join(ROOT, 'node_modules'),
  };
  const { stdout } = await run(process.execPath, [cli, 'note'], { env });
  const out = JSON.parse(stdout.split('\n')[0] ?? '{}') as {
    rotated: string;
    version: number;
    publicKey: string;
    previous: string;
    seq: number;
  };
  expect(out).toMatchObject({ rotated: 'note', version: 2, previous: keys.note().vkey });
  const [row] = await db.asOwner<{ kind: string; outcome: string; payload: Record<string, unknown> }>(
    'SELECT kind, outcome, payload FROM audit_ledger WHERE seq = $1',
    [out.seq],
  );
  expect(row).toEqual({
    kind: 'key_rotation',
    outcome: 'rotated',
    payload: { key: 'note', version: 2, publicKey: out.publicKey, previous: keys.note().vkey },
  });
  expect((await loadGatewayKeys(dataDir, {}, { origin: ORIGIN })).note().vkey).toBe(out.publicKey);
  await expect(run(process.execPath, [cli, 'everything'], { env })).rejects.toMatchObject({ code: 2 });
});
