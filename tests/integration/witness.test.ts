/**
 * The independent witness (src/witness/, `npm run witness`) as a separate process with its own key and data
 * directory, speaking C2SP tlog-witness to the gateway's sealer: it cosigns consistent checkpoints, refuses
 * inconsistent ones, answers 409 with its size to a stale sender, and remembers what it cosigned across restarts.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../support/gateway-harness';
import { startWitness, type WitnessProcess } from '../support/witness-process';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import { formatCheckpointBody, parseNote, signNote, openNote, checkCosignatureLine } from '../../src/audit/checkpoints';

const ORIGIN = 'gateway.test/witnessed-ledger';
let keysDir: string;
let keys: GatewayKeys;
let witness: WitnessProcess;
let gw: TestGateway;

async function appendSome(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await gw.ledger.append({ kind: 'audit_read', outcome: 'served', requestId: `req-${Date.now()}-${i}`, actor: null, payload: { n: i } });
  }
}

beforeAll(async () => {
  keysDir = mkdtempSync(path.join(os.tmpdir(), 'sg-wkeys-'));
  keys = await loadGatewayKeys(keysDir, {}, { origin: ORIGIN });
  witness = await startWitness([keys.note().vkey]);
  gw = await startTestGateway({
    ledgerTrust: { keysDir, origin: ORIGIN, witnesses: witness.spec, quorum: 1, macKey: 'w'.repeat(40) },
  });
}, 60_000);
afterAll(async () => {
  await gw?.close();
  await witness?.stop();
});

it('cosigns the first checkpoint and every consistent one after it, and the gateway serves the cosigned note', async () => {
  await appendSome(5);
  const first = await gw.seal();
  expect(first.witnessed).toEqual([{ witness: 'witness.test/one', outcome: 'cosigned', detail: 'cosigned tree size 5' }]);
  await appendSome(6);
  const second = await gw.seal();
  expect(second.witnessed[0]?.outcome).toBe('cosigned');
  const served = await request(gw.app).get('/v1/audit/checkpoint');
  expect(served.status).toBe(200);
  expect(served.headers['content-type']).toMatch(/^text\/plain/);
  const parsed = parseNote(served.text);
  expect(parsed?.text).toBe(formatCheckpointBody({ origin: ORIGIN, treeSize: 11, rootHash: second.checkpoint?.rootHash ?? '' }));
  expect(openNote(served.text, keys.noteVerifiers())).not.toBeNull();
  const cosig = parsed?.signatures.find((s) => s.name === 'witness.test/one');
  expect(cosig && checkCosignatureLine(parsed?.text ?? '', cosig.line, witness.client.verifier)).toBeTruthy();
  // The witness's own copy says the same.
  const held = await witness.client.latest(ORIGIN);
  expect(held && parseNote(held)?.text).toBe(parsed?.text);
  const key = await request(gw.app).get('/v1/audit/checkpoint/key');
  expect(key.text).toBe(`${keys.note().vkey}\n`);
});

it('refuses a checkpoint that is not consistent with what it cosigned (422), and a stale sender gets 409 with its size', async () => {
  const held = parseNote((await witness.client.latest(ORIGIN)) ?? '');
  const size = Number(held?.text.split('\n')[1]);
  // A validly signed checkpoint for a larger tree whose history differs: the proof cannot hold.
  const forged = signNote(formatCheckpointBody({ origin: ORIGIN, treeSize: size + 3, rootHash: 'ab'.repeat(32) }), [keys.note()]);
  const refused = await witness.client.addCheckpoint(size, [Buffer.alloc(32, 1), Buffer.alloc(32, 2)], forged);
  expect(refused).toMatchObject({ kind: 'refused', status: 422 });
  const stale = await witness.client.addCheckpoint(1, [], forged);
  expect(stale).toEqual({ kind: 'conflict', size });
  // Signed by a key the witness does not know: 403. Unknown origin: 404.
  const stranger = await loadGatewayKeys(mkdtempSync(path.join(os.tmpdir(), 'sg-stranger-')), {}, { origin: ORIGIN });
  const unknownKey = signNote(formatCheckpointBody({ origin: ORIGIN, treeSize: size, rootHash: 'cd'.repeat(32) }), [stranger.note()]);
  expect(await witness.client.addCheckpoint(size, [], unknownKey)).toMatchObject({ kind: 'refused', status: 403 });
  const otherLog = await loadGatewayKeys(mkdtempSync(path.join(os.tmpdir(), 'sg-other-')), {}, { origin: 'elsewhere.test/log' });
  expect(
    await witness.client.addCheckpoint(
      0,
      [],
      signNote(formatCheckpointBody({ origin: 'elsewhere.test/log', treeSize: 1, rootHash: 'ef'.repeat(32) }), [otherLog.note()]),
    ),
  ).toMatchObject({ kind: 'refused', status: 404 });
});

it('keeps its state in its own directory: restarted, it still refuses to go back', async () => {
  await witness.stop();
  witness = await startWitness([keys.note().vkey], { dir: witness.dir });
  const held = parseNote((await witness.client.latest(ORIGIN)) ?? '');
  expect(held?.text.split('\n')[1]).toBe('11');
  const older = signNote(formatCheckpointBody({ origin: ORIGIN, treeSize: 5, rootHash: 'ab'.repeat(32) }), [keys.note()]);
  expect(await witness.client.addCheckpoint(5, [], older)).toEqual({ kind: 'conflict', size: 11 });
});
