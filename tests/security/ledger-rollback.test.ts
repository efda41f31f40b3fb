/**
 * The signed checkpoints against a DBA who owns the database (switches the triggers off, edits, deletes, inserts)
 * and even knows the hash-chain algorithm. Every scenario runs on its own fresh database: entries written through
 * the real ledger, sealed into signed checkpoints exported to a directory outside the database. The DBA has no
 * signing key. What the checkpoints add to the hash chain:
 *   - a rewrite with a recomputed chain (invisible to verifyLedger) is a root_mismatch at the checkpoint covering it;
 *   - a rollback (newest checkpoint and the entries after an older one deleted — a consistent, shorter ledger) is
 *     found by comparing with the exported files, and the sealer refuses to sign on top of it;
 *   - a forged or edited checkpoint is a bad_signature;
 *   - a receipt handed out before the tampering still proves what was recorded.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompactSign } from 'jose';
import { Pool } from 'pg';
import { contentHash, entryHash, GENESIS_HASH, type AppendedEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { LEDGER_COLUMNS, toHashInput, type LedgerRow } from '../../src/audit/rows';
import { verifyLedger } from '../../src/audit/verify';
import {
  CHECKPOINT_TYP,
  CheckpointError,
  DirectoryCheckpointSink,
  sealLedger,
  verifyCheckpoints,
  type CheckpointRecord,
  type CheckpointVerifyReport,
} from '../../src/audit/checkpoints';
import { ledgerLeafData, merkleRoot } from '../../src/audit/merkle';
import { buildReceipt, findEntryForProof, LedgerIntegrityError, verifyReceipt, type SealedReceipt } from '../../src/audit/receipts';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import { createTestDatabase, type TestDatabase } from '../support/db';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));

interface Sealed {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  readonly exported: DirectoryCheckpointSink;
  readonly entries: AppendedEntry[];
  readonly checkpoints: CheckpointRecord[];
  append(n: number): Promise<AppendedEntry[]>;
  seal(): Promise<CheckpointRecord>;
  /** As a DBA with the user triggers of both tables switched off. */
  tamper(...sql: Array<string | [string, unknown[]]>): Promise<void>;
  row(seq: number): Promise<LedgerRow>;
  verify(withExport?: boolean): Promise<CheckpointVerifyReport>;
  close(): Promise<void>;
}

/** A ledger of `sizes[last]` entries sealed at each of `sizes`. */
async function sealedLedger(sizes: number[]): Promise<Sealed> {
  const db = await createTestDatabase();
  const pool = new Pool({ connectionString: db.appUrl, max: 3 });
  // As in the gateway (src/gateway.ts): an idle client the server ends (e.g. DROP DATABASE ... FORCE at teardown) must not crash the run.
  pool.on('error', () => undefined);
  const ledger = new PgAuditLedger(pool);
  const keys = await loadGatewayKeys(tmp('sg-keys-'), {});
  const exported = new DirectoryCheckpointSink(tmp('sg-export-'));
  const entries: AppendedEntry[] = [];
  const checkpoints: CheckpointRecord[] = [];
  const s: Sealed = {
    db,
    pool,
    keys,
    exported,
    entries,
    checkpoints,
    async append(n) {
      const made: AppendedEntry[] = [];
      for (let i = 0; i < n; i++) {
        made.push(
          await ledger.append({
            kind: 'decision',
            outcome: 'permit',
            requestId: `req-${entries.length + 1}`,
            actor: {
              agencyId: 'test-police',
              agencyType: 'police',
              clientId: 'c',
              role: 'police_officer',
              practitioner: `officer-${entries.length + 1}`,
              issuer: 'https://idp.example',
            },
            purpose: 'operation_encompass',
            rules: ['rule-1'],
            payload: { permittedFields: ['name', 'school_attended'], answerHash: contentHash({ n: entries.length }) },
          }),
        );
        entries.push(made[made.length - 1] as AppendedEntry);
      }
      return made;
    },
    async seal() {
      const r = await sealLedger(pool, keys.key('ledger'), { sinks: [exported], batchSize: 4 });
      if (!r.created || !r.checkpoint) throw new Error('nothing sealed');
      checkpoints.push(r.checkpoint);
      return r.checkpoint;
    },
    async tamper(...sql) {
      await db.asOwner('ALTER TABLE audit_ledger DISABLE TRIGGER USER');
      await db.asOwner('ALTER TABLE ledger_checkpoints DISABLE TRIGGER USER');
      try {
        for (const q of sql) await (typeof q === 'string' ? db.asOwner(q) : db.asOwner(q[0], q[1]));
      } finally {
        await db.asOwner('ALTER TABLE audit_ledger ENABLE TRIGGER USER');
        await db.asOwner('ALTER TABLE ledger_checkpoints ENABLE TRIGGER USER');
      }
    },
    async row(seq) {
      const [row] = await db.asOwner<LedgerRow & Record<string, unknown>>(`SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq = $1`, [
        seq,
      ]);
      if (!row) throw new Error(`no row ${seq}`);
      return row;
    },
    verify: (withExport = true) => verifyCheckpoints(pool, keys.jwks(), { batchSize: 3, ...(withExport ? { exported } : {}) }),
    async close() {
      await ledger.close();
      await pool.end();
      await db.drop();
    },
  };
  let at = 0;
  for (const size of sizes) {
    await s.append(size - at);
    await s.seal();
    at = size;
  }
  return s;
}

async function receipt(s: Sealed, seq: number): Promise<SealedReceipt> {
  const subject = await findEntryForProof(s.pool, (s.entries[seq - 1] as AppendedEntry).entryId);
  const r = await buildReceipt(s.pool, subject!, { jwks: s.keys.jwks() });
  if (!r.sealed) throw new Error('not sealed');
  return r;
}

const kinds = (r: CheckpointVerifyReport): Array<[number, string]> => r.problems.map((p) => [p.treeSize, p.problem]);

let s: Sealed;
afterEach(async () => {
  await s?.close();
});

describe('a DBA edits an entry a checkpoint covers', () => {
  it('is a root_mismatch at every checkpoint covering it; trust ends at the checkpoint before', async () => {
    s = await sealedLedger([4, 8, 12]);
    await s.tamper(`UPDATE audit_ledger SET payload = '{"permittedFields":["refuge_address"]}' WHERE seq = 6`);
    const r = await s.verify();
    expect(r.ok).toBe(false);
    expect(kinds(r)).toEqual([
      [8, 'root_mismatch'],
      [12, 'root_mismatch'],
    ]);
    expect(r.trustedUpTo).toBe(4);
  });

  it('is found even when the DBA recomputes the whole hash chain after the edit (which the chain check cannot see)', async () => {
    s = await sealedLedger([5, 10]);
    const early = await receipt(s, 7);
    // Rewrite entry 3 as a forger who knows the algorithm: new content, new hash, and every later link rehashed.
    let prev = (await s.row(2)).entry_hash;
    const statements: Array<[string, unknown[]]> = [];
    for (let seq = 3; seq <= 10; seq++) {
      const input = { ...toHashInput(await s.row(seq)), prevHash: prev };
      const changed = seq === 3 ? { ...input, payload: { permittedFields: ['refuge_address', 'new_address_after_separation'] } } : input;
      const hash = entryHash(changed);
      statements.push([
        'UPDATE audit_ledger SET payload = $1::jsonb, prev_hash = $2, entry_hash = $3 WHERE seq = $4',
        [JSON.stringify(changed.payload), prev, hash, seq],
      ]);
      prev = hash;
    }
    await s.tamper(...statements);
    expect((await verifyLedger(s.pool)).ok).toBe(true);

    const r = await s.verify();
    expect(kinds(r)).toEqual([
      [5, 'root_mismatch'],
      [10, 'root_mismatch'],
    ]);
    expect(r.trustedUpTo).toBe(0);
    // The sealer will not sign on top of it,
    await s.append(1);
    await expect(s.seal()).rejects.toMatchObject({ code: 'inconsistent' });
    // the gateway cannot prove the entry any more,
    await expect(receipt(s, 7)).rejects.toThrow(LedgerIntegrityError);
    // and the receipt handed out before still proves, offline, what was recorded.
    expect((await verifyReceipt(early, s.keys.jwks())).ok).toBe(true);
    expect(early.entryHash).not.toBe((await s.row(7)).entry_hash);
  });

  it('stops the sealer from signing an unsealed entry whose hash no longer matches', async () => {
    s = await sealedLedger([3]);
    await s.append(3);
    await s.tamper(`UPDATE audit_ledger SET outcome = 'deny' WHERE seq = 5`);
    await expect(s.seal()).rejects.toMatchObject({ code: 'chain_broken', message: expect.stringMatching(/entry 5/) });
    expect(s.checkpoints).toHaveLength(1);
  });
});

describe('a DBA rolls the ledger back', () => {
  it('deleting the newest checkpoint and the entries after an older one is found through the exported files', async () => {
    s = await sealedLedger([5, 10]);
    await s.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 10', 'DELETE FROM audit_ledger WHERE seq > 5');
    // The database alone is now a perfectly consistent, shorter ledger:
    expect((await verifyLedger(s.pool)).ok).toBe(true);
    expect((await s.verify(false)).ok).toBe(true);
    // but not against what was exported.
    const r = await s.verify();
    expect(r.ok).toBe(false);
    expect(kinds(r)).toEqual([[10, 'rolled_back']]);
    expect(r.problems[0]?.detail).toMatch(/no longer in the database.*database holds only 5 entries/);
    expect(r.trustedUpTo).toBe(5);
    expect(r.lastSeq).toBe(5);
    // The sealer refuses to sign a new history on top of the rollback.
    await s.append(2);
    await expect(s.seal()).rejects.toMatchObject({ code: 'rolled_back' });
  });

  it('a rolled-back ledger that grew again past the exported size shows as rewritten history', async () => {
    s = await sealedLedger([4, 8]);
    await s.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 8', 'DELETE FROM audit_ledger WHERE seq > 4');
    await s.append(6); // seq 5..10: a different history
    const r = await s.verify();
    expect(kinds(r)).toEqual([[8, 'rolled_back']]);
    expect(r.problems[0]?.detail).toMatch(/history was rewritten/);
    expect(r.trustedUpTo).toBe(4);
  });

  it('deleting the newest entries under a checkpoint that stays is rolled_back too', async () => {
    s = await sealedLedger([3, 6]);
    await s.tamper('DELETE FROM audit_ledger WHERE seq > 4');
    const r = await s.verify(false);
    expect(kinds(r)).toEqual([[6, 'rolled_back']]);
    expect(r.trustedUpTo).toBe(3);
  });

  it('deleting only a checkpoint row leaves the entries trusted, but is reported', async () => {
    s = await sealedLedger([3, 6, 9]);
    await s.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 6');
    const r = await s.verify();
    expect(kinds(r)).toEqual([[6, 'missing_in_database']]);
    expect(r.trustedUpTo).toBe(9);
  });
});

describe('a DBA forges or edits a checkpoint', () => {
  async function forge(s: Sealed, payload: Record<string, unknown>, kid: string, typ = CHECKPOINT_TYP): Promise<string> {
    const other = await loadGatewayKeys(tmp('sg-forger-keys-'), {});
    return new CompactSign(Buffer.from(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'ES256', kid, typ })
      .sign(other.key('ledger').privateKey);
  }

  it('a checkpoint signed with another key is a bad_signature, trusted by nobody, and blocks the sealer', async () => {
    s = await sealedLedger([4]);
    await s.append(2);
    // A perfectly correct root over the real entries, signed with a key that is not the gateway's, under its kid.
    const rootHash = merkleRoot(s.entries.map((e) => ledgerLeafData(e.entryHash))).toString('hex');
    const lastEntryHash = (s.entries[5] as AppendedEntry).entryHash;
    const signedAt = new Date().toISOString();
    const jws = await forge(
      s,
      { v: 1, ledger: 'safeguard-gateway', treeSize: 6, rootHash, lastEntryHash, signedAt },
      s.keys.key('ledger').kid,
    );
    await s.tamper([
      'INSERT INTO ledger_checkpoints (tree_size, root_hash, last_entry_hash, signed_at, jws, kid) VALUES (6, $1, $2, $3, $4, $5)',
      [rootHash, lastEntryHash, signedAt, jws, s.keys.key('ledger').kid],
    ]);
    const r = await s.verify();
    expect(kinds(r)).toEqual([[6, 'bad_signature']]);
    expect(r.problems[0]?.detail).toMatch(/signature does not verify/);
    expect(r.trustedUpTo).toBe(4);
    await expect(s.seal()).rejects.toMatchObject({ code: 'bad_signature' });
  });

  it('a forged exported file is a bad_signature too', async () => {
    s = await sealedLedger([2, 5]);
    const file = path.join(s.exported.dir, 'checkpoint-0000000000000005.json');
    const content = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const jws = await forge(
      s,
      {
        v: 1,
        ledger: 'safeguard-gateway',
        treeSize: 5,
        rootHash: content.rootHash,
        lastEntryHash: content.lastEntryHash,
        signedAt: content.signedAt,
      },
      'some-other-kid',
    );
    writeFileSync(file, JSON.stringify({ ...content, jws, kid: 'some-other-kid' }));
    const r = await s.verify();
    expect(kinds(r)).toEqual([[5, 'bad_signature']]);
    expect(r.problems[0]?.detail).toMatch(/exported checkpoint.*not in the published key set/);
    expect(r.trustedUpTo).toBe(5); // the database's own copy is genuine and matches
  });

  it("editing a checkpoint's columns is a bad_signature (the JWS is the authority)", async () => {
    s = await sealedLedger([3, 7]);
    await s.tamper(`UPDATE ledger_checkpoints SET root_hash = '${'0'.repeat(64)}' WHERE tree_size = 3`);
    const r = await s.verify(false);
    expect(kinds(r)).toEqual([[3, 'bad_signature']]);
    expect(r.problems[0]?.detail).toMatch(/edited: its stored root hash differs/);
  });

  it('a tampered consistency proof between two checkpoints is inconsistent', async () => {
    s = await sealedLedger([3, 7]);
    const file = path.join(s.exported.dir, 'checkpoint-0000000000000007.json');
    const content = JSON.parse(readFileSync(file, 'utf8')) as { consistency: { proof: string[] } };
    content.consistency.proof[0] = GENESIS_HASH;
    writeFileSync(file, JSON.stringify(content));
    const r = await s.verify();
    expect(kinds(r)).toEqual([[7, 'inconsistent']]);
    expect(r.trustedUpTo).toBe(3);
  });
});

it('the sealer reports a database behind its export as CheckpointError, signing nothing', async () => {
  s = await sealedLedger([2, 4]);
  await s.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 4');
  await s.append(1);
  const error = await s.seal().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CheckpointError);
  expect((error as CheckpointError).message).toMatch(/holds a checkpoint of 4 entries but the database's latest covers 2/);
  expect((await s.db.asOwner<{ n: string }>('SELECT count(*)::text AS n FROM ledger_checkpoints'))[0]?.n).toBe('1');
});
