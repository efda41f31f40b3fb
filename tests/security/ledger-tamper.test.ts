/**
 * The audit ledger against the people who could change it.
 *   1. Nobody changes it through SQL: UPDATE, DELETE and TRUNCATE are refused for the application role
 *      (no privilege) and for the owner (triggers).
 *   2. A DBA who switches the triggers off and edits rows is caught by the hash chain, at the exact entry.
 * Every scenario runs on its own fresh database with 10 entries written through the real ledger.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import { contentHash, entryHash, type AppendedEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { LEDGER_COLUMNS, toHashInput, type LedgerRow } from '../../src/audit/rows';
import { verifyLedger, type VerifyReport } from '../../src/audit/verify';
import { createTestDatabase, type TestDatabase } from '../support/db';

interface Ledger {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly entries: AppendedEntry[];
  /** Run statements as a DBA with the user triggers switched off (as `ALTER TABLE … DISABLE TRIGGER USER`). */
  tamper(...sql: string[]): Promise<void>;
  row(seq: number): Promise<LedgerRow>;
  verify(): Promise<VerifyReport>;
  close(): Promise<void>;
}

async function ledgerWith(n: number): Promise<Ledger> {
  const db = await createTestDatabase();
  const pool = new Pool({ connectionString: db.appUrl, max: 2 });
  const ledger = new PgAuditLedger(pool);
  const entries: AppendedEntry[] = [];
  for (let i = 1; i <= n; i++) {
    entries.push(
      await ledger.append({
        kind: 'decision',
        outcome: i % 2 ? 'permit' : 'deny',
        requestId: `req-${i}`,
        actor: {
          agencyId: 'test-police',
          agencyType: 'police',
          clientId: 'c',
          role: 'police_officer',
          practitioner: `officer-${i}`,
          issuer: 'https://idp.example',
        },
        purpose: 'operation_encompass',
        rules: [`rule-${i}`],
        payload: { permittedFields: ['name', 'incident_date'], answerHash: contentHash({ i }) },
      }),
    );
  }
  await ledger.close();
  return {
    db,
    pool,
    entries,
    async tamper(...sql) {
      await db.asOwner('ALTER TABLE audit_ledger DISABLE TRIGGER USER');
      try {
        for (const s of sql) await db.asOwner(s);
      } finally {
        await db.asOwner('ALTER TABLE audit_ledger ENABLE TRIGGER USER');
      }
    },
    async row(seq) {
      const [row] = await db.asOwner<LedgerRow & Record<string, unknown>>(`SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq = $1`, [
        seq,
      ]);
      if (!row) throw new Error(`no row ${seq}`);
      return row;
    },
    // Small pages, so the problems straddle page boundaries of the streaming verifier.
    verify: () => verifyLedger(pool, { batchSize: 3 }),
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/** A row as a forger who knows the algorithm would write it: a hash that matches its own content. */
function forgedRow(seq: number, prevHash: string): { sql: string; params: unknown[] } {
  const recordedAt = new Date();
  const base = {
    seq,
    entryId: randomUUID(),
    recordedAt,
    kind: 'decision',
    outcome: 'permit',
    requestId: 'req-forged',
    agencyId: 'test-police',
    agencyType: 'police',
    clientId: 'c',
    practitioner: 'officer-x',
    role: 'police_officer',
    issuer: 'https://idp.example',
    purpose: 'operation_encompass',
    rules: ['rule-x'],
    payload: { permittedFields: ['refuge_address'] },
    prevHash,
  };
  const hash = entryHash(base);
  return {
    sql: `INSERT INTO audit_ledger (seq, entry_id, recorded_at, kind, outcome, request_id, agency_id, agency_type, client_id,
            practitioner, role, issuer, purpose, rules, payload, prev_hash, entry_hash)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    params: [
      seq,
      base.entryId,
      recordedAt.toISOString(),
      base.kind,
      base.outcome,
      base.requestId,
      base.agencyId,
      base.agencyType,
      base.clientId,
      base.practitioner,
      base.role,
      base.issuer,
      base.purpose,
      base.rules,
      JSON.stringify(base.payload),
      prevHash,
      hash,
    ],
  };
}

describe('the ledger refuses changes through SQL', () => {
  let l: Ledger;
  beforeAll(async () => {
    l = await ledgerWith(3);
  });
  afterAll(async () => {
    await l.close();
  });

  it('refuses UPDATE, DELETE and TRUNCATE to the application role (no privilege)', async () => {
    const app = new Client({ connectionString: l.db.appUrl });
    await app.connect();
    try {
      await expect(app.query(`UPDATE audit_ledger SET outcome = 'permit' WHERE seq = 2`)).rejects.toThrow(
        'permission denied for table audit_ledger',
      );
      await expect(app.query('DELETE FROM audit_ledger WHERE seq = 2')).rejects.toThrow('permission denied for table audit_ledger');
      await expect(app.query('TRUNCATE audit_ledger')).rejects.toThrow('permission denied for table audit_ledger');
      await expect(app.query('ALTER TABLE audit_ledger DISABLE TRIGGER USER')).rejects.toThrow('must be owner of table audit_ledger');
      await expect(app.query('DROP TABLE audit_ledger')).rejects.toThrow('must be owner of table audit_ledger');
    } finally {
      await app.end();
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE to the owner too (triggers), with a clear message', async () => {
    await expect(l.db.asOwner(`UPDATE audit_ledger SET outcome = 'permit' WHERE seq = 2`)).rejects.toThrow(
      'audit_ledger is append-only: UPDATE refused',
    );
    await expect(l.db.asOwner('DELETE FROM audit_ledger WHERE seq = 2')).rejects.toThrow('audit_ledger is append-only: DELETE refused');
    await expect(l.db.asOwner('TRUNCATE audit_ledger')).rejects.toThrow('audit_ledger is append-only: TRUNCATE refused');
    // Even an UPDATE that would change nothing.
    await expect(l.db.asOwner('UPDATE audit_ledger SET outcome = outcome')).rejects.toThrow('append-only: UPDATE refused');
    expect((await l.db.asOwner('SELECT count(*)::int AS n FROM audit_ledger'))[0]).toEqual({ n: 3 });
    expect((await l.verify()).ok).toBe(true);
  });

  it('keeps the chain unforkable: two entries cannot claim the same predecessor', async () => {
    const forged = forgedRow(4, l.entries[1]!.entryHash);
    await expect(l.db.asOwner(forged.sql, forged.params)).rejects.toThrow(/audit_ledger_prev_hash_key/);
  });
});

describe('verification catches a DBA who edits the ledger', () => {
  const scenarios: Ledger[] = [];
  const fresh = async (): Promise<Ledger> => {
    const l = await ledgerWith(10);
    scenarios.push(l);
    return l;
  };
  afterAll(async () => {
    await Promise.all(scenarios.map((l) => l.close()));
  });

  it('an intact ledger verifies, with progress reported', async () => {
    const l = await fresh();
    const progress: Array<[number, number]> = [];
    const report = await verifyLedger(l.pool, { batchSize: 4, onProgress: (c, t) => progress.push([c, t]) });
    expect(report).toEqual({
      ok: true,
      entriesChecked: 10,
      lastSeq: 10,
      lastHash: l.entries[9]!.entryHash,
      trustedUpTo: 10,
      problems: [],
      moreProblems: 0,
    });
    expect(progress).toEqual([
      [0, 10],
      [4, 10],
      [8, 10],
      [10, 10],
    ]);
  });

  it('an edited payload: altered at that seq, trusted up to the one before', async () => {
    const l = await fresh();
    await l.tamper(`UPDATE audit_ledger SET payload = jsonb_set(payload, '{permittedFields}', '["name","refuge_address"]') WHERE seq = 6`);
    const report = await l.verify();
    expect(report).toEqual(expect.objectContaining({ ok: false, firstBadSeq: 6, trustedUpTo: 5, entriesChecked: 10, moreProblems: 0 }));
    expect(report.problems).toEqual([{ seq: 6, problem: 'altered', detail: expect.stringMatching(/changed after it was recorded/) }]);
  });

  it('an edited actor with session_replication_role = replica (triggers bypassed another way): altered', async () => {
    const l = await fresh();
    const dba = new Client({ connectionString: l.db.ownerUrl });
    await dba.connect();
    try {
      await dba.query('SET session_replication_role = replica');
      await dba.query(`UPDATE audit_ledger SET practitioner = 'someone-else' WHERE seq = 1`);
    } finally {
      await dba.end();
    }
    const report = await l.verify();
    expect(report.problems).toEqual([expect.objectContaining({ seq: 1, problem: 'altered' })]);
    expect(report.trustedUpTo).toBe(0);
  });

  it('an edit whose hash was recomputed to match: the broken link to the next entry shows it', async () => {
    const l = await fresh();
    const row = await l.row(4);
    const rewritten = { ...toHashInput(row), outcome: 'permit', payload: { permittedFields: ['name'] } };
    await l.tamper(
      `UPDATE audit_ledger SET outcome = 'permit', payload = '{"permittedFields":["name"]}', entry_hash = '${entryHash(rewritten)}' WHERE seq = 4`,
    );
    const report = await l.verify();
    expect(report.problems).toEqual([{ seq: 5, problem: 'broken_link', detail: expect.stringMatching(/entry 4 was rewritten/) }]);
    // Entry 4 may be the rewritten one, so trust ends before it.
    expect(report).toEqual(expect.objectContaining({ firstBadSeq: 5, trustedUpTo: 3 }));
  });

  it('a deleted entry: missing at that seq', async () => {
    const l = await fresh();
    await l.tamper('DELETE FROM audit_ledger WHERE seq = 7');
    const report = await l.verify();
    expect(report.problems).toEqual([{ seq: 7, problem: 'missing', detail: 'entry 7 is missing' }]);
    expect(report).toEqual(expect.objectContaining({ firstBadSeq: 7, trustedUpTo: 6, entriesChecked: 9, lastSeq: 10 }));
  });

  it('several deleted entries in a row: one missing problem naming the range', async () => {
    const l = await fresh();
    await l.tamper('DELETE FROM audit_ledger WHERE seq BETWEEN 1 AND 3');
    const report = await l.verify();
    expect(report.problems).toEqual([{ seq: 1, problem: 'missing', detail: 'entries 1 to 3 are missing' }]);
    expect(report.trustedUpTo).toBe(0);
  });

  it('a deleted entry hidden by renumbering the later ones: missing at that seq', async () => {
    const l = await fresh();
    await l.tamper(
      'DELETE FROM audit_ledger WHERE seq = 7',
      'UPDATE audit_ledger SET seq = seq + 1000 WHERE seq > 7',
      'UPDATE audit_ledger SET seq = seq - 1001 WHERE seq > 1000',
    );
    const report = await l.verify();
    expect(report.firstBadSeq).toBe(7);
    expect(report.trustedUpTo).toBe(6);
    expect(report.problems[0]).toEqual({
      seq: 7,
      problem: 'missing',
      detail: expect.stringMatching(/recorded as seq 8.*deleted and later entries renumbered/),
    });
    expect(report.problems.slice(1).map((p) => [p.seq, p.problem])).toEqual([
      [8, 'reordered'],
      [9, 'reordered'],
    ]);
  });

  it('two entries swapped (seq values exchanged): reordered at both', async () => {
    const l = await fresh();
    await l.tamper(
      'UPDATE audit_ledger SET seq = 1000 WHERE seq = 3',
      'UPDATE audit_ledger SET seq = 3 WHERE seq = 4',
      'UPDATE audit_ledger SET seq = 4 WHERE seq = 1000',
    );
    const report = await l.verify();
    expect(report.problems).toEqual([
      { seq: 3, problem: 'reordered', detail: 'the entry at seq 3 was recorded as seq 4: entries were moved' },
      { seq: 4, problem: 'reordered', detail: 'the entry at seq 4 was recorded as seq 3: entries were moved' },
    ]);
    expect(report).toEqual(expect.objectContaining({ firstBadSeq: 3, trustedUpTo: 2, entriesChecked: 10 }));
  });

  it('a forged entry appended with a correct-looking hash but linked to an older entry: inserted', async () => {
    const l = await fresh();
    // The database itself refuses a second successor of entry 8; the forger must drop that constraint first.
    const forged = forgedRow(11, l.entries[7]!.entryHash);
    await expect(l.db.asOwner(forged.sql, forged.params)).rejects.toThrow(/audit_ledger_prev_hash_key/);
    await l.db.asOwner('ALTER TABLE audit_ledger DROP CONSTRAINT audit_ledger_prev_hash_key');
    await l.db.asOwner(forged.sql, forged.params);
    const report = await l.verify();
    expect(report.problems).toEqual([{ seq: 11, problem: 'inserted', detail: expect.stringMatching(/claims to follow entry 8, not 10/) }]);
    expect(report).toEqual(expect.objectContaining({ firstBadSeq: 11, trustedUpTo: 10, lastSeq: 11 }));
  });

  it('a forged entry appended by the application role with a hash that links to nothing: broken_link', async () => {
    const l = await fresh();
    const forged = forgedRow(11, randomBytes(32).toString('hex'));
    await l.pool.query(forged.sql, forged.params); // INSERT is all the app role may do — and it is caught.
    const report = await l.verify();
    expect(report.problems).toEqual([expect.objectContaining({ seq: 11, problem: 'broken_link' })]);
    expect(report.firstBadSeq).toBe(11);
  });

  it('a forged entry inserted in the middle (later entries renumbered to make room): inserted at that seq', async () => {
    const l = await fresh();
    const forged = forgedRow(6, l.entries[4]!.entryHash);
    await l.db.asOwner('ALTER TABLE audit_ledger DROP CONSTRAINT audit_ledger_prev_hash_key');
    await l.tamper('UPDATE audit_ledger SET seq = seq + 1000 WHERE seq >= 6', 'UPDATE audit_ledger SET seq = seq - 999 WHERE seq > 1000');
    await l.db.asOwner(forged.sql, forged.params);
    const report = await l.verify();
    expect(report.problems[0]).toEqual({ seq: 6, problem: 'inserted', detail: expect.stringMatching(/now sits at seq 7/) });
    expect(report.problems.slice(1).map((p) => [p.seq, p.problem])).toEqual([
      [7, 'reordered'],
      [8, 'reordered'],
      [9, 'reordered'],
      [10, 'reordered'],
      [11, 'reordered'],
    ]);
    expect(report).toEqual(expect.objectContaining({ firstBadSeq: 6, trustedUpTo: 5, entriesChecked: 11 }));
  });

  it('caps the list of problems and says how many more there are', async () => {
    const l = await fresh();
    await l.tamper(`UPDATE audit_ledger SET outcome = 'permit'`);
    const report = await verifyLedger(l.pool, { maxProblems: 2 });
    expect(report.problems.map((p) => p.seq)).toEqual([2, 4]);
    expect(report.moreProblems).toBe(3);
    expect(report).toEqual(expect.objectContaining({ firstBadSeq: 2, trustedUpTo: 1 }));
  });
});
