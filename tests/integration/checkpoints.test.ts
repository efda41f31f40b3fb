/**
 * Signed checkpoints and receipts on a real PostgreSQL, through the real ledger: sealing, export to two directories,
 * append-only storage, consistency between successive checkpoints, receipts that verify OFFLINE with nothing but
 * the published JWKS (library and CLI), the periodic sealer, and proofs built from a cache equal to proofs built
 * from the database alone. The HTTP routes for receipts and checkpoints are in checkpoints-http.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { Pool } from 'pg';
import pino from 'pino';
import { contentHash, type AppendedEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { getEntry } from '../../src/audit/query';
import {
  CHECKPOINT_TYP,
  CheckpointSinkConflictError,
  DirectoryCheckpointSink,
  exportAllCheckpoints,
  latestCheckpoint,
  sealLedger,
  startCheckpointer,
  SubtreeCache,
  verifyCheckpoints,
  type CheckpointRecord,
} from '../../src/audit/checkpoints';
import { fromHex, ledgerLeafData, merkleRoot, verifyConsistency } from '../../src/audit/merkle';
import { buildReceipt, findEntryForProof, inclusionPath, verifyReceipt, type Receipt, type SealedReceipt } from '../../src/audit/receipts';
import { main as receiptVerify, type CliOutput } from '../../src/cli/receipt-verify';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import { createTestDatabase, type TestDatabase } from '../support/db';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

let db: TestDatabase;
let pool: Pool;
let ledger: PgAuditLedger;
let keys: GatewayKeys;
let otherKeys: GatewayKeys;
let exportDir: string;
let mirrorDir: string;
let sinks: DirectoryCheckpointSink[];
const entries: AppendedEntry[] = [];

async function append(n: number): Promise<AppendedEntry[]> {
  const made = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      ledger.append({
        kind: 'decision',
        outcome: i % 3 ? 'permit' : 'deny',
        requestId: `req-${entries.length + i + 1}`,
        actor: {
          agencyId: i % 2 ? 'test-police' : 'test-school',
          agencyType: i % 2 ? 'police' : 'school',
          clientId: 'c',
          role: 'police_officer',
          issuer: 'https://idp.example',
        },
        purpose: 'operation_encompass',
        rules: ['rule-1'],
        payload: { permittedFields: ['name'], answerHash: contentHash({ i }) },
      }),
    ),
  );
  made.sort((a, b) => a.seq - b.seq);
  entries.push(...made);
  return made;
}

async function receiptFor(entry: AppendedEntry, cache?: SubtreeCache): Promise<Receipt> {
  const subject = await findEntryForProof(pool, entry.entryId);
  if (!subject) throw new Error('no such entry');
  return buildReceipt(pool, subject, { jwks: keys.jwks(), ...(cache ? { cache } : {}), batchSize: 7 });
}

function sealed(r: Receipt): SealedReceipt {
  if (!r.sealed) throw new Error('expected a sealed receipt');
  return r;
}

function capture(): CliOutput & { text(): string } {
  let text = '';
  return { out: (s) => void (text += s), err: (s) => void (text += s), text: () => text };
}

async function cli(...args: string[]): Promise<{ code: number; text: string }> {
  const io = capture();
  const code = await receiptVerify(['node', 'receipt-verify', ...args], io);
  return { code, text: io.text() };
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new Pool({ connectionString: db.appUrl, max: 4 });
  ledger = new PgAuditLedger(pool);
  keys = await loadGatewayKeys(tmp('sg-keys-'), {});
  otherKeys = await loadGatewayKeys(tmp('sg-other-keys-'), {});
  exportDir = tmp('sg-export-');
  mirrorDir = tmp('sg-mirror-');
  sinks = [new DirectoryCheckpointSink(exportDir), new DirectoryCheckpointSink(mirrorDir)];
});

afterAll(async () => {
  await ledger.close();
  await pool.end();
  await db.drop();
});

describe('sealing', () => {
  it('has nothing to seal in an empty ledger', async () => {
    const r = await sealLedger(pool, keys.key('ledger'), { sinks });
    expect(r).toEqual({ created: false, checkpoint: null, sinkFailures: [], witnessed: [] });
  });

  let first: CheckpointRecord;
  it('signs the RFC 9162 root of every entry so far with the ledger key, stores it and exports it to both directories', async () => {
    await append(7);
    const r = await sealLedger(pool, keys.key('ledger'), { sinks, batchSize: 3 });
    expect(r.created).toBe(true);
    expect(r.sinkFailures).toEqual([]);
    first = r.checkpoint as CheckpointRecord;
    expect(first.treeSize).toBe(7);
    expect(first.rootHash).toBe(merkleRoot(entries.map((e) => ledgerLeafData(e.entryHash))).toString('hex'));
    expect(first.lastEntryHash).toBe(entries[6]?.entryHash);
    expect(first.consistency).toBeNull();

    const header = decodeProtectedHeader(first.jws);
    expect(header).toEqual({ alg: 'ES256', kid: keys.key('ledger').kid, typ: CHECKPOINT_TYP });
    const { payload } = await compactVerify(first.jws, createLocalJWKSet(keys.jwks()));
    expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual({
      v: 1,
      ledger: 'safeguard-gateway',
      treeSize: 7,
      rootHash: first.rootHash,
      lastEntryHash: first.lastEntryHash,
      signedAt: first.signedAt,
    });

    expect(await latestCheckpoint(pool)).toEqual(first);
    for (const dir of [exportDir, mirrorDir]) {
      expect(readdirSync(dir)).toEqual(['checkpoint-0000000000000007.json']);
      const file = JSON.parse(readFileSync(path.join(dir, 'checkpoint-0000000000000007.json'), 'utf8')) as Record<string, unknown>;
      expect(file).toMatchObject({ type: 'sg-ledger-checkpoint', v: 1, treeSize: 7, jws: first.jws });
    }
  });

  it('seals nothing new when nothing was appended', async () => {
    const r = await sealLedger(pool, keys.key('ledger'), { sinks });
    expect(r.created).toBe(false);
    expect(r.checkpoint).toEqual(first);
  });

  it('seals appends as a new checkpoint with an RFC 9162 consistency proof from the previous one', async () => {
    await append(6);
    const r = await sealLedger(pool, keys.key('ledger'), { sinks, batchSize: 4 });
    const second = r.checkpoint as CheckpointRecord;
    expect(second.treeSize).toBe(13);
    expect(second.consistency?.fromTreeSize).toBe(7);
    const proof = (second.consistency?.proof ?? []).map(fromHex);
    expect(verifyConsistency(7, 13, fromHex(first.rootHash), fromHex(second.rootHash), proof)).toBe(true);
    // and not from a forged old root
    expect(verifyConsistency(7, 13, fromHex(second.rootHash), fromHex(second.rootHash), proof)).toBe(false);
    expect(readdirSync(mirrorDir).sort()).toEqual(['checkpoint-0000000000000007.json', 'checkpoint-0000000000000013.json']);
  });

  it('lets concurrent sealers queue on the lock: one checkpoint per tree size, no error', async () => {
    await append(3);
    const results = await Promise.all([1, 2, 3].map(() => sealLedger(pool, keys.key('ledger'), { sinks })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results.every((r) => r.checkpoint?.treeSize === 16)).toBe(true);
  });

  it('verifies: every signature, every root against the entries, consistency, and the exported copies', async () => {
    const report = await verifyCheckpoints(pool, keys.jwks(), { exported: sinks[0], batchSize: 5 });
    expect(report).toEqual({
      ok: true,
      checkpointsChecked: 3,
      exportedCheckpoints: 3,
      lastSeq: 16,
      trustedUpTo: 16,
      quorum: 0,
      witnesses: [],
      problems: [],
      moreProblems: 0,
    });
    // The gateway's key set must be the one given: another is a bad signature everywhere.
    const wrong = await verifyCheckpoints(pool, otherKeys.jwks());
    expect(wrong.ok).toBe(false);
    expect(wrong.problems.map((p) => p.problem)).toEqual(['bad_signature', 'bad_signature', 'bad_signature']);
    expect(wrong.trustedUpTo).toBe(0);
  });
});

describe('storage', () => {
  it('is append-only: the application role cannot change or remove a checkpoint, and the owner is stopped by triggers', async () => {
    for (const sql of [
      'UPDATE ledger_checkpoints SET root_hash = root_hash',
      'DELETE FROM ledger_checkpoints',
      'TRUNCATE ledger_checkpoints',
    ]) {
      await expect(pool.query(sql)).rejects.toThrow(/permission denied/);
      await expect(db.asOwner(sql)).rejects.toThrow(/append-only/);
    }
    expect((await db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM ledger_checkpoints'))[0]?.n).toBe('3');
  });

  it('exports write-once: the same checkpoint again is a no-op, a different one for the same size is refused', async () => {
    const latest = (await latestCheckpoint(pool)) as CheckpointRecord;
    await sinks[0]?.put(latest);
    await expect(sinks[0]?.put({ ...latest, rootHash: 'f'.repeat(64), jws: `${latest.jws}x` })).rejects.toThrow(
      CheckpointSinkConflictError,
    );
    expect((await sinks[0]?.get(16))?.jws).toBe(latest.jws);
    expect(readdirSync(exportDir).filter((f) => f.startsWith('.tmp'))).toEqual([]);
  });

  it('backfills a mirror added later with every checkpoint', async () => {
    const late = new DirectoryCheckpointSink(tmp('sg-late-mirror-'));
    expect(await exportAllCheckpoints(pool, [late])).toEqual([{ sink: late.name, exported: 3 }]);
    expect(await late.sizes()).toEqual([7, 13, 16]);
    expect(await exportAllCheckpoints(pool, [late])).toEqual([{ sink: late.name, exported: 0 }]);
  });
});

describe('receipts', () => {
  it('prove every sealed entry, verifiable offline with only the JWKS', async () => {
    const jwks = JSON.parse(JSON.stringify(keys.jwks())) as { keys: [] };
    for (const entry of entries) {
      const receipt = sealed(await receiptFor(entry));
      expect(receipt).toMatchObject({
        type: 'sg-ledger-receipt',
        v: 1,
        entryId: entry.entryId,
        seq: entry.seq,
        entryHash: entry.entryHash,
        leafIndex: entry.seq - 1,
        treeSize: 16,
      });
      const offline = await verifyReceipt(JSON.parse(JSON.stringify(receipt)), jwks);
      expect(offline).toMatchObject({ ok: true, value: { seq: entry.seq, treeSize: 16, contentVerified: false } });
    }
  });

  it('can be made against an earlier checkpoint, and stay valid after later seals', async () => {
    const e = entries[2] as AppendedEntry;
    const subject = await findEntryForProof(pool, e.entryId);
    const old = sealed(await buildReceipt(pool, subject!, { jwks: keys.jwks(), treeSize: 7 }));
    expect(old.treeSize).toBe(7);
    await append(1);
    await sealLedger(pool, keys.key('ledger'), { sinks });
    expect((await verifyReceipt(old, keys.jwks())).ok).toBe(true);
    expect(sealed(await receiptFor(e)).treeSize).toBe(17);
  });

  it('say "not sealed yet" for an entry no checkpoint covers', async () => {
    const [fresh] = await append(1);
    const r = await receiptFor(fresh as AppendedEntry);
    expect(r).toMatchObject({ sealed: false, seq: 18, latestCheckpointTreeSize: 17 });
    expect(r.sealed ? '' : r.detail).toMatch(/not sealed yet/);
    expect(await verifyReceipt(r, keys.jwks())).toEqual({ ok: false, error: expect.stringMatching(/not sealed/) });
  });

  it('are the same built from a warm subtree cache as from the database alone', async () => {
    await append(70);
    const cache = new SubtreeCache(2);
    await sealLedger(pool, keys.key('ledger'), { sinks, cache, batchSize: 16 });
    expect(cache.size).toBeGreaterThan(0);
    const treeSize = 88;
    for (const m of [0, 1, 30, 63, 64, 87]) {
      const cold = await inclusionPath(pool, m, treeSize, undefined, 9);
      const warm = await inclusionPath(pool, m, treeSize, cache, 9);
      expect(warm.map((b) => b.toString('hex'))).toEqual(cold.map((b) => b.toString('hex')));
    }
    // A wrong cached value cannot produce a false receipt: the builder checks against the signed root and retries.
    const poisoned = new SubtreeCache(2);
    poisoned.remember({ start: 0, level: 6 }, Buffer.alloc(32, 7));
    const r = sealed(await receiptFor(entries[80] as AppendedEntry, poisoned));
    expect((await verifyReceipt(r, keys.jwks())).ok).toBe(true);
  });

  it('prove the entry content too, given the entry as the API shows it', async () => {
    const e = entries[4] as AppendedEntry;
    const receipt = sealed(await receiptFor(e));
    const view = await getEntry(pool, e.entryId);
    expect(await verifyReceipt(receipt, keys.jwks(), { entry: JSON.parse(JSON.stringify(view)) })).toMatchObject({
      ok: true,
      value: { contentVerified: true },
    });
    const altered = { ...JSON.parse(JSON.stringify(view)), outcome: 'permit_everything' };
    expect(await verifyReceipt(receipt, keys.jwks(), { entry: altered })).toEqual({
      ok: false,
      error: expect.stringMatching(/content differs/),
    });
  });
});

describe('receipt-verify CLI', () => {
  let dir: string;
  let receipt: SealedReceipt;
  const write = (name: string, value: unknown): string => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
    return file;
  };

  beforeAll(async () => {
    dir = tmp('sg-receipts-');
    receipt = sealed(await receiptFor(entries[9] as AppendedEntry));
    write('jwks.json', keys.jwks());
    write('other-jwks.json', otherKeys.jwks());
  });

  it('exits 0 for a good receipt, and proves the content with --entry', async () => {
    const good = await cli(write('good.json', receipt), '--jwks', path.join(dir, 'jwks.json'));
    expect(good).toEqual({ code: 0, text: expect.stringMatching(/^Receipt: VALID/) });
    const view = await getEntry(pool, receipt.entryId);
    const withEntry = await cli(
      path.join(dir, 'good.json'),
      '--jwks',
      path.join(dir, 'jwks.json'),
      '--entry',
      write('entry.json', view),
      '--json',
    );
    expect(withEntry.code).toBe(0);
    expect(JSON.parse(withEntry.text)).toMatchObject({ valid: true, seq: receipt.seq, contentVerified: true });
  });

  it('exits 1 for a tampered receipt, saying what is wrong', async () => {
    const flipped = (h: string): string => `${h.slice(0, -1)}${h.endsWith('0') ? '1' : '0'}`;
    const cases: Array<[string, unknown, RegExp]> = [
      ['entry-hash.json', { ...receipt, entryHash: flipped(receipt.entryHash) }, /inclusion proof does not lead/],
      [
        'path.json',
        { ...receipt, inclusionProof: receipt.inclusionProof.map((h, i) => (i === 0 ? flipped(h) : h)) },
        /inclusion proof does not lead/,
      ],
      ['short-path.json', { ...receipt, inclusionProof: receipt.inclusionProof.slice(1) }, /inclusion proof does not lead/],
      ['seq.json', { ...receipt, seq: receipt.seq + 1, leafIndex: receipt.seq }, /inclusion proof does not lead/],
      ['root.json', { ...receipt, rootHash: flipped(receipt.rootHash) }, /root hash is not the one its checkpoint signs/],
      ['signature.json', { ...receipt, checkpoint: `${receipt.checkpoint.slice(0, -4)}AAAA` }, /not trustworthy/],
      ['unsealed.json', { ...receipt, sealed: false }, /not sealed/],
      ['not-a-receipt.json', { hello: 'world' }, /not a ledger receipt/],
    ];
    for (const [name, value, why] of cases) {
      const r = await cli(write(name, value), '--jwks', path.join(dir, 'jwks.json'));
      expect({ name, code: r.code }).toEqual({ name, code: 1 });
      expect(r.text).toMatch(/NOT VALID/);
      expect(r.text).toMatch(why);
    }
    // A genuine receipt checked against another key set: the checkpoint is not the gateway's.
    const other = await cli(path.join(dir, 'good.json'), '--jwks', path.join(dir, 'other-jwks.json'));
    expect(other.code).toBe(1);
    expect(other.text).toMatch(/key that is not in the published key set/);
  });

  it('exits 1 for a receipt whose checkpoint was signed by another key with a kid the JWKS knows', async () => {
    const { CompactSign } = await import('jose');
    const forgedPayload = {
      v: 1,
      ledger: 'safeguard-gateway',
      treeSize: receipt.treeSize,
      rootHash: receipt.rootHash,
      lastEntryHash: receipt.entryHash,
      signedAt: receipt.signedAt,
    };
    const forged = await new CompactSign(Buffer.from(JSON.stringify(forgedPayload)))
      .setProtectedHeader({ alg: 'ES256', kid: keys.key('ledger').kid, typ: CHECKPOINT_TYP })
      .sign(otherKeys.key('ledger').privateKey);
    const r = await cli(write('forged.json', { ...receipt, checkpoint: forged }), '--jwks', path.join(dir, 'jwks.json'));
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/signature does not verify/);
  });

  it('says "not sealed yet" (exit 3) for a fresh entry\'s receipt, and prints its usage when given nothing', async () => {
    const fresh = {
      type: receipt.type,
      v: receipt.v,
      entryId: receipt.entryId,
      seq: receipt.seq,
      entryHash: receipt.entryHash,
      sealed: false,
    };
    const r = await cli(write('fresh.json', fresh), '--jwks', path.join(dir, 'jwks.json'));
    expect(r).toEqual({
      code: 3,
      text: expect.stringMatching(
        /^Receipt: NOT SEALED YET\n {2}Entry [0-9a-f-]{36} \(seq \d+\) is in the ledger, but no signed checkpoint covers it yet/,
      ),
    });
    const usage = await cli();
    expect(usage.code).toBe(2);
    expect(usage.text).toMatch(/^Usage: receipt-verify \[options\] <receipt>/);
  });

  it('exits 2 when it cannot check at all', async () => {
    expect((await cli(path.join(dir, 'missing.json'), '--jwks', path.join(dir, 'jwks.json'))).code).toBe(2);
    expect((await cli(write('broken.json', '{not json'), '--jwks', path.join(dir, 'jwks.json'))).code).toBe(2);
    expect((await cli(path.join(dir, 'good.json'), '--jwks', write('not-jwks.json', { keys: 1 }))).code).toBe(2);
    expect((await cli(path.join(dir, 'good.json'))).code).toBe(2);
  });
});

describe('periodic sealer', () => {
  it('seals on its own and stops cleanly', async () => {
    await append(2);
    const before = (await latestCheckpoint(pool))?.treeSize ?? 0;
    const checkpointer = startCheckpointer({ pool, keys, intervalMs: 1000, sinks, logger: pino({ level: 'silent' }), sealOnStart: true });
    try {
      const deadline = Date.now() + 10_000;
      while (((await latestCheckpoint(pool))?.treeSize ?? 0) <= before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect((await latestCheckpoint(pool))?.treeSize).toBe(before + 2);
      await append(1);
      const now = await checkpointer.sealNow();
      expect(now).toMatchObject({ created: true, checkpoint: { treeSize: before + 3 } });
    } finally {
      await checkpointer.stop();
    }
    expect((await verifyCheckpoints(pool, keys.jwks(), { exported: sinks[1] })).ok).toBe(true);
  });
});
