/**
 * The ledger writer's one-round-trip path: a batch is chained onto the head this process wrote last, in one
 * autocommit statement that takes the advisory lock; when another appender has written since, PRIMARY KEY and
 * UNIQUE refuse that statement whole and the batch is written on the head read after the lock instead. Real
 * PostgreSQL; the statements each writer sends are read off its connections.
 */
import { Pool } from 'pg';
import { type AuditActor, type NewAuditEntry } from '../../src/audit/entry';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { INSERT_BATCH_NAME, INSERT_ON_KNOWN_HEAD_NAME } from '../../src/audit/ledger-statements';
import { entryMacKey } from '../../src/audit/entry-mac';
import { verifyLedger } from '../../src/audit/verify';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { watchedPool } from '../support/watched-pool';

const police: AuditActor = {
  agencyId: 'test-police',
  agencyType: 'police',
  clientId: 'police-client',
  role: 'police_officer',
  issuer: 'https://idp.test/police',
};

function decision(requestId: string): NewAuditEntry {
  return { kind: 'decision', outcome: 'permit', requestId, actor: police, purpose: 'operation_encompass', payload: { requestId } };
}

describe('ledger writer: chaining onto its own last entry', () => {
  let db: TestDatabase;
  const sentA: string[] = [];
  const sentB: string[] = [];
  let poolA: Pool;
  let poolB: Pool;
  let a: PgAuditLedger;
  let b: PgAuditLedger;
  const macKey = entryMacKey('known-head-test-mac-key-known-head-test');

  beforeAll(async () => {
    db = await createTestDatabase();
    poolA = watchedPool(db.appUrl, (sql) => sentA.push(sql.slice(0, 24)));
    poolB = watchedPool(db.appUrl, (sql) => sentB.push(sql.slice(0, 24)));
    a = new PgAuditLedger(poolA, { macKey });
    b = new PgAuditLedger(poolB, { macKey });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await poolA.end();
    await poolB.end();
    await db.drop();
  });

  it('reads the head after the lock once, then writes each batch in one statement; another writer moves the head and it falls back', async () => {
    const first = await a.append(decision('req-a-1'));
    expect(sentA.filter((s) => s.startsWith('BEGIN'))).toHaveLength(1);
    // The next batches chain onto the entry this writer just wrote: one statement each, no transaction block.
    const second = await a.append(decision('req-a-2'));
    const third = await Promise.all([a.append(decision('req-a-3')), a.append(decision('req-a-4'))]);
    expect(second.seq).toBe(first.seq + 1);
    expect(second.prevHash).toBe(first.entryHash);
    expect(third.map((e) => e.seq)).toEqual([first.seq + 2, first.seq + 3]);
    expect(sentA.filter((s) => s.startsWith('BEGIN'))).toHaveLength(1);
    // req-a-4 arrived while req-a-3's batch was on its way: it waited for that commit (a batch that is not full is not
    // sent before the one on the wire commits), then went as one statement chained onto it.
    expect(sentA.filter((s) => s.startsWith('WITH lock AS MATERIALIZE'))).toHaveLength(3);

    // Another writer (another instance) appends: A's knowledge of the head is now stale.
    const other = await b.append(decision('req-b-1'));
    expect(other.seq).toBe(first.seq + 4);
    const beginsBefore = sentA.filter((s) => s.startsWith('BEGIN')).length;
    const afterOther = await a.append(decision('req-a-5'));
    // A's one statement was refused whole (its seq and prev_hash were taken), and the batch went through the lock.
    expect(sentA.filter((s) => s.startsWith('BEGIN')).length).toBe(beginsBefore + 1);
    expect(afterOther.seq).toBe(other.seq + 1);
    expect(afterOther.prevHash).toBe(other.entryHash);

    const rows = await db.asOwner<{ seq: string; request_id: string }>('SELECT seq::text, request_id FROM audit_ledger ORDER BY seq');
    expect(rows.map((r) => r.request_id)).toEqual(['req-a-1', 'req-a-2', 'req-a-3', 'req-a-4', 'req-b-1', 'req-a-5']);
    const check = new Pool({ connectionString: db.appUrl, max: 1 });
    try {
      expect(await verifyLedger(check)).toMatchObject({ ok: true, entriesChecked: 6, lastSeq: 6 });
    } finally {
      await check.end();
    }
  });

  /** Statements of the two kinds A has sent so far. */
  const counts = (): { begins: number; oneTrips: number } => ({
    begins: sentA.filter((s) => s.startsWith('BEGIN')).length,
    oneTrips: sentA.filter((s) => s.startsWith('WITH lock AS MATERIALIZE')).length,
  });
  const tamper = async (sql: string): Promise<void> => {
    await db.asOwner('ALTER TABLE audit_ledger DISABLE TRIGGER USER');
    try {
      await db.asOwner(sql);
    } finally {
      await db.asOwner('ALTER TABLE audit_ledger ENABLE TRIGGER USER');
    }
  };

  it('while another writer appends too it stays on the locked way (no statement sent only to be refused), and comes back alone', async () => {
    await a.append(decision('req-a-20'));
    const start = counts();
    // B and A take turns: after A's first refusal, each of A's batches finds B's entry at the head.
    for (let i = 0; i < 3; i++) {
      await b.append(decision(`req-b-2${i}`));
      await a.append(decision(`req-a-2${i + 1}`));
    }
    // One one-statement try (refused: B had written), then the locked way only.
    expect(counts()).toEqual({ begins: start.begins + 3, oneTrips: start.oneTrips + 1 });
    // B stops. A's next batch is locked and finds its own entry at the head; the one after is one statement again.
    await a.append(decision('req-a-24'));
    await a.append(decision('req-a-25'));
    expect(counts()).toEqual({ begins: start.begins + 4, oneTrips: start.oneTrips + 2 });
    const check = new Pool({ connectionString: db.appUrl, max: 1 });
    try {
      expect(await verifyLedger(check)).toMatchObject({ ok: true });
    } finally {
      await check.end();
    }
  });

  it('does not chain onto its own last entry once that entry is deleted by hand: the batch goes the locked way, onto what is there', async () => {
    const last = await a.append(decision('req-a-6'));
    expect(counts().oneTrips).toBeGreaterThan(0);
    await tamper(`DELETE FROM audit_ledger WHERE seq = ${last.seq}`);
    const before = counts();
    const next = await a.append(decision('req-a-7'));
    // The one statement was sent and stored nothing; the locked transaction read the head that is there.
    expect(counts()).toEqual({ begins: before.begins + 1, oneTrips: before.oneTrips + 1 });
    expect(next.seq).toBe(last.seq);
    expect(next.prevHash).not.toBe(last.entryHash);
    const [prev] = await db.asOwner<{ entry_hash: string }>('SELECT entry_hash FROM audit_ledger WHERE seq = $1', [last.seq - 1]);
    expect(next.prevHash).toBe(prev?.entry_hash);
  });

  it('does not chain onto its own last entry once that entry is rewritten by hand', async () => {
    const last = await a.append(decision('req-a-8'));
    await tamper(`UPDATE audit_ledger SET entry_hash = repeat('ab', 32) WHERE seq = ${last.seq}`);
    const before = counts();
    const next = await a.append(decision('req-a-9'));
    expect(counts()).toEqual({ begins: before.begins + 1, oneTrips: before.oneTrips + 1 });
    expect(next.seq).toBe(last.seq + 1);
    expect(next.prevHash).toBe('ab'.repeat(32));
  });

  it("writes the locked way, on the database's clock, when this process's clock is off by more than a second", async () => {
    await a.append(decision('req-a-10'));
    const hourAhead = Date.now() + 3_600_000;
    const spy = jest.spyOn(Date, 'now').mockReturnValue(hourAhead);
    let next;
    const before = counts();
    try {
      next = await a.append(decision('req-a-11'));
    } finally {
      spy.mockRestore();
    }
    expect(counts()).toEqual({ begins: before.begins + 1, oneTrips: before.oneTrips + 1 });
    // The locked path's time is the database's (the same host here): within seconds of now, not an hour ahead.
    expect(Math.abs(next.recordedAt.getTime() - Date.now())).toBeLessThan(60_000);
    // And with the clock right again, the next batch is one statement.
    const after = counts();
    await a.append(decision('req-a-12'));
    expect(counts()).toEqual({ begins: after.begins, oneTrips: after.oneTrips + 1 });
  });

  it('sends both batch INSERTs as named statements: PostgreSQL parses and plans each once per connection, not per batch', async () => {
    // One connection, so that the session whose prepared statements are read is the one that wrote.
    const pool = new Pool({ connectionString: db.appUrl, max: 1 });
    const writer = new PgAuditLedger(pool, { macKey });
    try {
      // The first batch goes the locked way (INSERT_BATCH); the next ones chain onto it (INSERT_ON_KNOWN_HEAD).
      for (const id of ['req-named-1', 'req-named-2', 'req-named-3']) await writer.append(decision(id));
      const { rows } = await pool.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements');
      expect(rows.map((r) => r.name).sort()).toEqual([INSERT_BATCH_NAME, INSERT_ON_KNOWN_HEAD_NAME].sort());
      expect(rows.find((r) => r.name === INSERT_ON_KNOWN_HEAD_NAME)?.statement).toContain('audit_ledger_chains_onto');
    } finally {
      await writer.close();
      await pool.end();
    }
  });

  it('never lets an entry time go backwards, whatever the clocks of the writers', async () => {
    const rows = await db.asOwner<{ t: Date }>('SELECT recorded_at AS t FROM audit_ledger ORDER BY seq');
    for (let i = 1; i < rows.length; i++)
      expect((rows[i] as { t: Date }).t.getTime()).toBeGreaterThanOrEqual((rows[i - 1] as { t: Date }).t.getTime());
  });
});
