/**
 * The outside review's tamper table (issue 12), each case on a FRESH database, with everything the gateway is
 * configured with: entry MACs, an export directory, a mirror, and one independent witness (a separate process, its
 * own key and data directory, quorum 1). The DBA owns the database and the gateway host's export directory (switches
 * triggers off, edits, deletes, inserts, recomputes the hash chain, deletes files) but has neither the signing keys,
 * nor the MAC key, nor the witness. "Detected" means: `audit:verify`'s two checks (the chain, and the checkpoints
 * against every copy) do not both pass, or the sealer refuses to sign — and, where the data allows, the first entry
 * that differs is named.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { contentHash, entryHash } from '../../src/audit/entry';
import { entryMacKey } from '../../src/audit/entry-mac';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { LEDGER_COLUMNS, toHashInput, type LedgerRow } from '../../src/audit/rows';
import { verifyLedger, type VerifyReport } from '../../src/audit/verify';
import {
  directorySinks,
  sealLedger,
  sealWith,
  verifyWith,
  type CheckpointVerifyReport,
  type SealContext,
  type SealResult,
} from '../../src/audit/checkpoints';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startWitness, type WitnessProcess } from '../support/witness-process';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));
const ORIGIN = 'gateway.test/tamper-table';
const MAC = entryMacKey('m'.repeat(48));

interface World {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  readonly witness: WitnessProcess;
  readonly exportDir: string;
  readonly mirrorDir: string;
  readonly sealing: SealContext;
  append(n: number): Promise<void>;
  seal(): Promise<SealResult>;
  tamper(...sql: Array<string | [string, unknown[]]>): Promise<void>;
  row(seq: number): Promise<LedgerRow>;
  /** Rewrites entries from..to as a forger who knows the algorithm (not the MAC key): new hashes, relinked. */
  rechain(from: number, to: number, change: (seq: number, row: LedgerRow) => Partial<LedgerRow>): Promise<void>;
  verify(): Promise<{ chain: VerifyReport; seals: CheckpointVerifyReport }>;
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const db = await createTestDatabase();
  const pool = new Pool({ connectionString: db.appUrl, max: 3 });
  pool.on('error', () => undefined);
  const ledger = new PgAuditLedger(pool, { macKey: MAC });
  const keysDir = tmp('sg-tt-keys-');
  const keys = await loadGatewayKeys(keysDir, {}, { origin: ORIGIN });
  const witness = await startWitness([keys.note().vkey]);
  const exportDir = tmp('sg-tt-export-');
  const mirrorDir = tmp('sg-tt-mirror-');
  const sealing: SealContext = { pool, keys, sinks: directorySinks({ exportDir, mirrorDir }), macKey: MAC, witnesses: [witness.client] };
  let n = 0;
  const w: World = {
    db,
    pool,
    keys,
    witness,
    exportDir,
    mirrorDir,
    sealing,
    async append(count) {
      for (let i = 0; i < count; i++) {
        n += 1;
        await ledger.append({
          kind: 'decision',
          outcome: 'permit',
          requestId: `req-${n}`,
          actor: {
            agencyId: 'test-police',
            agencyType: 'police',
            clientId: 'c',
            role: 'police_officer',
            practitioner: `officer-${n}`,
            issuer: 'https://idp.example',
          },
          purpose: 'operation_encompass',
          rules: ['rule-1'],
          payload: { permittedFields: ['name'], answerHash: contentHash({ n }) },
        });
      }
    },
    seal: () => sealWith(sealing),
    async tamper(...sql) {
      for (const t of ['audit_ledger', 'ledger_checkpoints', 'ledger_cosignatures'])
        await db.asOwner(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
      try {
        for (const q of sql) await (typeof q === 'string' ? db.asOwner(q) : db.asOwner(q[0], q[1]));
      } finally {
        for (const t of ['audit_ledger', 'ledger_checkpoints', 'ledger_cosignatures'])
          await db.asOwner(`ALTER TABLE ${t} ENABLE TRIGGER USER`);
      }
    },
    async row(seq) {
      const [row] = await db.asOwner<LedgerRow & Record<string, unknown>>(`SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq = $1`, [
        seq,
      ]);
      if (!row) throw new Error(`no row ${seq}`);
      return row;
    },
    async rechain(from, to, change) {
      let prev = (await w.row(from - 1)).entry_hash;
      const statements: Array<[string, unknown[]]> = [];
      for (let seq = from; seq <= to; seq++) {
        const row = { ...(await w.row(seq)) };
        const changed = { ...row, ...change(seq, row), prev_hash: prev };
        const hash = entryHash(toHashInput(changed));
        statements.push([
          'UPDATE audit_ledger SET payload = $1::jsonb, outcome = $2, prev_hash = $3, entry_hash = $4 WHERE seq = $5',
          [JSON.stringify(changed.payload), changed.outcome, prev, hash, seq],
        ]);
        prev = hash;
      }
      await w.tamper(...statements);
    },
    async verify() {
      return { chain: await verifyLedger(pool), seals: await verifyWith({ ...sealing, quorum: 1 }) };
    },
    async close() {
      await ledger.close();
      await pool.end();
      await db.drop();
      await witness.stop();
    },
  };
  return w;
}

/** 12 entries sealed (and cosigned) at 6 and 12. */
async function sealedTwice(): Promise<World> {
  const w = await world();
  await w.append(6);
  expect((await w.seal()).witnessed[0]?.outcome).toBe('cosigned');
  await w.append(6);
  expect((await w.seal()).witnessed[0]?.outcome).toBe('cosigned');
  return w;
}

const detected = (r: { chain: VerifyReport; seals: CheckpointVerifyReport }): boolean => !(r.chain.ok && r.seals.ok);
const kinds = (r: CheckpointVerifyReport): string[] => [...new Set(r.problems.map((p) => p.problem))].sort();
const file = (dir: string, size: number): string => path.join(dir, `checkpoint-${String(size).padStart(16, '0')}.json`);

let w: World;
afterEach(async () => {
  await w?.close();
});

it('untampered: everything verifies, cosigned to the last checkpoint', async () => {
  w = await sealedTwice();
  const r = await w.verify();
  expect(r.chain.ok).toBe(true);
  expect(r.seals).toMatchObject({
    ok: true,
    trustedUpTo: 12,
    cosignedUpTo: 12,
    quorum: 1,
    witnesses: [{ witness: 'witness.test/one', treeSize: 12, matches: true }],
  });
});

describe('detected and named before (still detected, now also with the witness)', () => {
  it('edit of a sealed entry', async () => {
    w = await sealedTwice();
    await w.tamper(`UPDATE audit_ledger SET payload = '{"permittedFields":["refuge_address"]}' WHERE seq = 4`);
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.chain.firstBadSeq).toBe(4);
    expect(r.seals.firstDifferingEntry).toBe(4);
    expect(kinds(r.seals)).toEqual(expect.arrayContaining(['forged_entry', 'root_mismatch']));
  });

  it('edit + rehash of one entry', async () => {
    w = await sealedTwice();
    const row = await w.row(9);
    const changed = { ...row, outcome: 'deny' };
    await w.tamper(['UPDATE audit_ledger SET outcome = $1, entry_hash = $2 WHERE seq = 9', ['deny', entryHash(toHashInput(changed))]]);
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.firstDifferingEntry).toBe(9);
  });

  it('delete of an entry', async () => {
    w = await sealedTwice();
    await w.tamper('DELETE FROM audit_ledger WHERE seq = 7');
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.problems.some((p) => p.problem === 'rolled_back' && /entry 7 is missing/.test(p.detail))).toBe(true);
  });

  it('swap of two entries', async () => {
    w = await sealedTwice();
    await w.tamper(
      'UPDATE audit_ledger SET seq = 1000 WHERE seq = 3',
      'UPDATE audit_ledger SET seq = 3 WHERE seq = 4',
      'UPDATE audit_ledger SET seq = 4 WHERE seq = 1000',
    );
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.firstDifferingEntry).toBe(3);
  });

  it('checkpoint row edited', async () => {
    w = await sealedTwice();
    await w.tamper(`UPDATE ledger_checkpoints SET root_hash = repeat('a', 64) WHERE tree_size = 6`);
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.problems).toEqual(expect.arrayContaining([expect.objectContaining({ treeSize: 6, problem: 'bad_signature' })]));
  });

  it('checkpoint row deleted', async () => {
    w = await sealedTwice();
    await w.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 12');
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.problems).toEqual(expect.arrayContaining([expect.objectContaining({ treeSize: 12, problem: 'missing_in_database' })]));
  });

  it('export file edited', async () => {
    w = await sealedTwice();
    const f = file(w.exportDir, 6);
    writeFileSync(f, readFileSync(f, 'utf8').replace(/"lastEntryHash": "[0-9a-f]{64}"/, `"lastEntryHash": "${'b'.repeat(64)}"`));
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.problems).toEqual([
      expect.objectContaining({ treeSize: 6, problem: 'bad_signature', detail: expect.stringContaining(w.exportDir) }),
    ]);
  });
});

describe('detected before, but only the checkpoint was named: now the entry is named', () => {
  it('whole chain rewritten after a sealed entry', async () => {
    w = await sealedTwice();
    await w.rechain(8, 12, (seq) => (seq === 8 ? { payload: { permittedFields: ['refuge_address'] } } : {}));
    const r = await w.verify();
    expect(r.chain.ok).toBe(true); // the chain alone cannot see it
    expect(detected(r)).toBe(true);
    expect(r.seals.firstDifferingEntry).toBe(8);
    expect(r.seals.witnesses).toEqual([expect.objectContaining({ treeSize: 12, matches: false })]);
  });
});

describe('NOT detected before (the next seal signed the result): now detected', () => {
  it('newest entries deleted (with their checkpoint, everywhere but the witness)', async () => {
    w = await sealedTwice();
    await w.tamper(
      'DELETE FROM audit_ledger WHERE seq > 9',
      'DELETE FROM ledger_checkpoints WHERE tree_size = 12',
      'DELETE FROM ledger_cosignatures WHERE tree_size = 12',
    );
    rmSync(file(w.exportDir, 12));
    rmSync(file(w.mirrorDir, 12));
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          treeSize: 12,
          problem: 'rolled_back',
          detail: expect.stringMatching(/witness witness\.test\/one.*only 9 entries/),
        }),
      ]),
    );
    // and a new seal over the shortened ledger is refused by the witness
    await w.append(5);
    const sealed = await w.seal();
    expect(sealed.witnessed[0]).toMatchObject({ outcome: 'refused' });
  });

  it('a forged entry appended', async () => {
    w = await sealedTwice();
    const last = await w.row(12);
    const forged: LedgerRow = {
      ...last,
      seq: '13',
      entry_id: '11111111-1111-4111-8111-111111111111',
      request_id: 'forged',
      prev_hash: last.entry_hash,
      payload: { permittedFields: ['refuge_address'] },
    };
    const hash = entryHash(toHashInput(forged));
    await w.tamper([
      `INSERT INTO audit_ledger (seq, entry_id, recorded_at, kind, outcome, request_id, agency_id, agency_type, client_id, practitioner, role, issuer, purpose, rules, payload, prev_hash, entry_hash)
      SELECT 13, $1::uuid, recorded_at, kind, outcome, 'forged', agency_id, agency_type, client_id, practitioner, role, issuer, purpose, rules, $2::jsonb, $3, $4 FROM audit_ledger WHERE seq = 12`,
      [forged.entry_id, JSON.stringify(forged.payload), last.entry_hash, hash],
    ]);
    expect((await verifyLedger(w.pool)).ok).toBe(true); // a well-formed chain
    await expect(w.seal()).rejects.toMatchObject({ code: 'forged_entry', message: expect.stringMatching(/entry 13/) });
    const r = await w.verify();
    expect(r.seals.problems).toEqual([expect.objectContaining({ treeSize: 13, problem: 'forged_entry' })]);
  });

  it('an unsealed entry edited and re-chained', async () => {
    w = await sealedTwice();
    await w.append(3);
    await w.rechain(14, 15, (seq) => (seq === 14 ? { outcome: 'deny' } : {}));
    expect((await verifyLedger(w.pool)).ok).toBe(true);
    await expect(w.seal()).rejects.toMatchObject({ code: 'forged_entry', message: expect.stringMatching(/entry 14/) });
    const r = await w.verify();
    expect(r.seals.problems.map((p) => [p.treeSize, p.problem])).toEqual([
      [14, 'forged_entry'],
      [15, 'forged_entry'],
    ]);
  });

  it('database rolled back and the exported checkpoint file deleted too', async () => {
    w = await sealedTwice();
    await w.tamper(
      'DELETE FROM audit_ledger WHERE seq > 6',
      'DELETE FROM ledger_checkpoints WHERE tree_size > 6',
      'DELETE FROM ledger_cosignatures WHERE tree_size > 6',
    );
    rmSync(file(w.exportDir, 12));
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    // the mirror and the witness both still hold checkpoint 12
    expect(r.seals.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          treeSize: 12,
          problem: 'rolled_back',
          detail: expect.stringMatching(new RegExp(`${w.mirrorDir.replace(/[/.]/g, '.')}.*witness`)),
        }),
      ]),
    );
    await expect(w.seal()).rejects.toMatchObject({ code: 'rolled_back' });
  });

  it('sealed history rewritten with the checkpoint removed from the database and the export directory (and the mirror)', async () => {
    w = await sealedTwice();
    await w.rechain(10, 12, (seq) => (seq === 10 ? { payload: { permittedFields: ['new_address_after_separation'] } } : {}));
    await w.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 12', 'DELETE FROM ledger_cosignatures WHERE tree_size = 12');
    for (const dir of [w.exportDir, w.mirrorDir]) rmSync(file(dir, 12));
    const r = await w.verify();
    expect(r.chain.ok).toBe(true);
    expect(detected(r)).toBe(true);
    expect(r.seals.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ treeSize: 12, problem: 'rolled_back', detail: expect.stringMatching(/witness.*history was rewritten/) }),
      ]),
    );
    // Only the witness holds checkpoint 12: the entry is among 7..12 (the last checkpoint that matches is 6).
    expect(r.seals.differingRange).toEqual({ from: 7, to: 12 });
    expect(r.seals.trustedUpTo).toBe(6);
  });

  it('database and export directory rewritten together, and the rewrite sealed by a sealer without the MAC key: the witness refuses it', async () => {
    w = await sealedTwice();
    await w.rechain(10, 12, (seq) => (seq === 10 ? { outcome: 'deny' } : {}));
    await w.tamper('DELETE FROM ledger_checkpoints WHERE tree_size = 12', 'DELETE FROM ledger_cosignatures WHERE tree_size = 12');
    for (const dir of [w.exportDir, w.mirrorDir]) rmSync(file(dir, 12));
    // Even signed by the gateway's own keys, the rewritten history cannot get the witness's cosignature.
    const resealed = await sealLedger(w.pool, w.keys.key('ledger'), {
      sinks: w.sealing.sinks,
      jwks: w.keys.jwks(),
      noteKey: w.keys.note(),
      witnesses: [w.witness.client],
    });
    expect(resealed.created).toBe(true);
    expect(resealed.witnessed[0]).toMatchObject({ outcome: 'refused', detail: expect.stringMatching(/422/) });
    const r = await w.verify();
    expect(detected(r)).toBe(true);
    expect(r.seals.problems).toEqual(expect.arrayContaining([expect.objectContaining({ treeSize: 12, problem: 'inconsistent' })]));
    expect(r.seals.cosignedUpTo).toBe(6);
  });
});

describe('what stays undetectable (docs/ARCHITECTURE.md says so)', () => {
  it('entries deleted before their first seal leave no trace: the window is the seal interval (1 s by default)', async () => {
    w = await sealedTwice();
    await w.append(2);
    await w.tamper('DELETE FROM audit_ledger WHERE seq > 12');
    const r = await w.verify();
    expect(detected(r)).toBe(false);
  });
});
