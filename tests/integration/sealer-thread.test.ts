/**
 * The periodic sealer in its own worker thread (src/audit/checkpoints/sealer-thread.ts), the real thread on a real
 * PostgreSQL: as `assemble` starts it (checkpoints appear in the database and both export directories without
 * anybody asking, on-demand seals through the handle, a forged unsealed entry refused and logged, nothing left
 * behind by stop()), and its supervision (a seal in progress finishes before the thread ends, a dead thread is
 * restarted and meanwhile refuses to seal, a thread that cannot start says why, the receipt cache is warmed).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import pino, { type Logger } from 'pino';
import { contentHash, entryHash, type AppendedEntry, type AuditLedger } from '../../src/audit/entry';
import { entryMacKey } from '../../src/audit/entry-mac';
import { PgAuditLedger } from '../../src/audit/pg-ledger';
import { LEDGER_COLUMNS, toHashInput, type LedgerRow } from '../../src/audit/rows';
import { buildReceipt, findEntryForProof, verifyReceipt } from '../../src/audit/receipts';
import {
  CheckpointError,
  DirectoryCheckpointSink,
  latestCheckpoint,
  sealerThreadData,
  startSealerThread,
  SubtreeCache,
  verifyCheckpointJws,
  verifyCheckpoints,
  type SealerThread,
  type SealerThreadOptions,
} from '../../src/audit/checkpoints';
import { assemble, type Assembled } from '../../src/gateway';
import { loadGatewayKeys, type GatewayKeys } from '../../src/keys/gateway-keys';
import type { GatewayConfig } from '../../src/config';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { testGatewayConfig } from '../support/gateway-harness';

const tmp = (prefix: string): string => mkdtempSync(path.join(os.tmpdir(), prefix));
const MAC_SECRET = 'sealer-thread-test-mac-key-0123456789abcdef';

/** A logger whose lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function append(ledger: AuditLedger, n: number): Promise<number> {
  return Math.max(...(await appendEntries(ledger, n)).map((e) => e.seq));
}

async function appendEntries(ledger: AuditLedger, n: number): Promise<AppendedEntry[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      ledger.append({
        kind: 'decision',
        outcome: 'permit',
        requestId: `req-${i}`,
        actor: { agencyId: 'test-police', agencyType: 'police', clientId: 'c', role: 'police_officer', issuer: 'https://idp.example' },
        purpose: 'operation_encompass',
        rules: ['rule-1'],
        payload: { permittedFields: ['name'], answerHash: contentHash({ i }) },
      }),
    ),
  );
}

/** The pool connections the sealer thread holds (its pool is named so). */
async function sealerConnections(db: TestDatabase): Promise<number> {
  const [row] = await db.asOwner<{ n: string }>(
    `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'safeguard-gateway-sealer'`,
  );
  return Number(row?.n ?? 0);
}

describe('the sealer thread, as assemble starts it', () => {
  let db: TestDatabase;
  let gateway: Assembled;
  let config: GatewayConfig;
  let exportDir: string;
  let mirrorDir: string;
  let pool: Pool;
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    db = await createTestDatabase();
    exportDir = tmp('sg-st-export-');
    mirrorDir = tmp('sg-st-mirror-');
    config = testGatewayConfig({
      CHECKPOINT_INTERVAL_MS: '200',
      CHECKPOINT_EXPORT_DIR: exportDir,
      CHECKPOINT_MIRROR_DIR: mirrorDir,
      LEDGER_MAC_KEY: MAC_SECRET,
    });
    gateway = await assemble(config, { appDatabaseUrl: db.appUrl, agencies: [], embeddedDatabase: false, webClients: {} }, logger, {
      pages: false,
      poolSize: 3,
    });
    pool = new Pool({ connectionString: db.appUrl, max: 2 });
  });
  afterAll(async () => {
    await gateway?.close();
    await pool?.end();
    await db?.drop();
  });

  it('seals new entries on its own, into the database and both export directories, with a pool of its own', async () => {
    const last = await append(gateway.ledger, 5);
    const sealed = await until('a checkpoint covering the new entries', async () => {
      const c = await latestCheckpoint(pool);
      return c && c.treeSize >= last ? c : undefined;
    });
    expect(sealed.treeSize).toBe(last);
    for (const dir of [exportDir, mirrorDir]) {
      const sink = new DirectoryCheckpointSink(dir);
      // The checkpoint is committed before it is exported, and a sink lists its directory once (then only its own
      // writes move it on): an observer looks with a new sink each time, or it could keep an empty first listing.
      const size = await until(
        `the export to ${dir}`,
        async () => ((await new DirectoryCheckpointSink(dir).latestSize()) ?? 0) >= last || undefined,
      );
      expect(size).toBe(true);
      expect((await sink.get(last))?.jws).toBe(sealed.jws);
    }
    expect((await verifyCheckpointJws(sealed.jws, gateway.keys.jwks())).ok).toBe(true);
    expect((await verifyCheckpoints(pool, gateway.keys.jwks(), { exported: new DirectoryCheckpointSink(mirrorDir) })).ok).toBe(true);
    // The thread's own pool, not the request pool, did it.
    expect(await sealerConnections(db)).toBeGreaterThan(0);
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
  });

  it('seals on demand through the handle, and answers with the result', async () => {
    const last = await append(gateway.ledger, 2);
    const result = await gateway.checkpointer!.sealNow();
    // The periodic seal may have taken the two entries already: then this one has nothing new to seal.
    expect(result.checkpoint?.treeSize).toBe(last);
    expect(result.sinkFailures).toEqual([]);
    expect((await verifyCheckpointJws(result.checkpoint!.jws, gateway.keys.jwks())).ok).toBe(true);
    expect(typeof result.created).toBe('boolean');
    expect(await gateway.checkpointer!.sealNow()).toMatchObject({ created: false, checkpoint: { treeSize: last } });
  });

  it('refuses to seal a forged unsealed entry, signs nothing, and logs why through the gateway logger', async () => {
    const last = await append(gateway.ledger, 1);
    await until('the last entry sealed', async () => ((await latestCheckpoint(pool))?.treeSize === last ? true : undefined));
    // A DBA appends an entry with a well-formed hash chain but without the gateway's MAC.
    const [row] = await db.asOwner<LedgerRow & Record<string, unknown>>(`SELECT ${LEDGER_COLUMNS} FROM audit_ledger WHERE seq = $1`, [
      last,
    ]);
    const forged: LedgerRow = {
      ...row!,
      seq: String(last + 1),
      entry_id: '11111111-1111-4111-8111-111111111111',
      request_id: 'forged',
      prev_hash: row!.entry_hash,
      payload: { permittedFields: ['refuge_address'] },
    };
    await db.asOwner('ALTER TABLE audit_ledger DISABLE TRIGGER USER');
    try {
      await db.asOwner(
        `INSERT INTO audit_ledger (seq, entry_id, recorded_at, kind, outcome, request_id, agency_id, agency_type, client_id, practitioner, role, issuer, purpose, rules, payload, prev_hash, entry_hash)
         SELECT $1::bigint, $2::uuid, recorded_at, kind, outcome, 'forged', agency_id, agency_type, client_id, practitioner, role, issuer, purpose, rules, $3::jsonb, $4, $5 FROM audit_ledger WHERE seq = $6`,
        [last + 1, forged.entry_id, JSON.stringify(forged.payload), forged.prev_hash, entryHash(toHashInput(forged)), last],
      );
    } finally {
      await db.asOwner('ALTER TABLE audit_ledger ENABLE TRIGGER USER');
    }
    const logged = await until('the refusal in the log', () =>
      lines.find((l) => l.code === 'forged_entry' && String(l.msg).startsWith('the audit ledger could not be sealed')),
    );
    expect(logged).toMatchObject({ level: 50, thread: 'sealer', err: { message: expect.stringMatching(new RegExp(`entry ${last + 1}`)) } });
    const error = await gateway.checkpointer!.sealNow().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error).toMatchObject({ code: 'forged_entry', message: expect.stringMatching(new RegExp(`entry ${last + 1}`)) });
    expect((await latestCheckpoint(pool))?.treeSize).toBe(last);
  });

  it('stop() lets the thread end: its connections are closed and it seals no more', async () => {
    const checkpointer = gateway.checkpointer as SealerThread;
    expect(checkpointer.threadId).toEqual(expect.any(Number));
    await gateway.close();
    expect(checkpointer.threadId).toBeUndefined();
    await until('the sealer connections closed', async () => ((await sealerConnections(db)) === 0 ? true : undefined), 5000);
    await expect(checkpointer.sealNow()).rejects.toMatchObject({ code: 'sealer_unavailable' });
  });
});

describe('the sealer thread, supervised', () => {
  let db: TestDatabase;
  let config: GatewayConfig;
  let keys: GatewayKeys;
  let ledger: PgAuditLedger;
  let pool: Pool;
  const threads: SealerThread[] = [];

  const start = (options: Partial<SealerThreadOptions> = {}): SealerThread => {
    const data = sealerThreadData(config, db.appUrl, keys, { logLevel: 'debug' });
    const t = startSealerThread({ data, logger: pino({ level: 'silent' }), ...options });
    threads.push(t);
    return t;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // Only on-demand seals here (the interval is long): each test decides when a seal happens.
    config = testGatewayConfig({ CHECKPOINT_INTERVAL_MS: '600000', CHECKPOINT_EXPORT_DIR: tmp('sg-st-sup-'), LEDGER_MAC_KEY: MAC_SECRET });
    keys = await loadGatewayKeys(config.dataDir, config.keys, { origin: config.ledger.origin });
    pool = new Pool({ connectionString: db.appUrl, max: 2 });
    ledger = new PgAuditLedger(pool, { macKey: entryMacKey(MAC_SECRET) });
  });
  afterAll(async () => {
    for (const t of threads) await t.stop();
    await ledger?.close();
    await pool?.end();
    await db?.drop();
  });

  it('lets a seal in progress finish before the thread ends', async () => {
    const t = start();
    const last = await append(ledger, 3);
    const sealing = t.sealNow();
    await t.stop();
    await expect(sealing).resolves.toMatchObject({ created: true, checkpoint: { treeSize: last } });
    expect(t.threadId).toBeUndefined();
    await expect(t.sealNow()).rejects.toMatchObject({ code: 'sealer_unavailable' });
  });

  it("warms the serving thread's receipt cache with the subtrees its seals meet", async () => {
    const cache = new SubtreeCache();
    const t = start({ cache });
    const last = await append(ledger, 600);
    await t.sealNow();
    await until('the subtrees forwarded', () => (cache.size > 0 ? true : undefined));
    expect(cache.size).toBeGreaterThan(0);
    const [entry] = await appendEntries(ledger, 1);
    const subject = await findEntryForProof(pool, entry!.entryId);
    expect(subject).toBeTruthy();
    const sealed = await t.sealNow();
    expect(sealed.checkpoint?.treeSize).toBe(last + 1);
    const receipt = await buildReceipt(pool, subject!, { jwks: keys.jwks(), cache });
    expect(await verifyReceipt(receipt, keys.jwks())).toMatchObject({ ok: true });
    await t.stop();
  });

  it('restarts a thread that died, logging it; meanwhile sealNow refuses with sealer_unavailable', async () => {
    const { logger, lines } = capturingLogger();
    const t = start({ logger });
    await t.sealNow();
    const first = t.threadId;
    await t.crash();
    await expect(t.sealNow()).rejects.toMatchObject({ code: 'sealer_unavailable' });
    expect(lines.find((l) => String(l.msg).startsWith('The sealer thread stopped unexpectedly'))).toMatchObject({ level: 50, restart: 1 });
    await until('a new thread', () => (t.threadId !== undefined && t.threadId !== first ? true : undefined));
    const last = await append(ledger, 1);
    await expect(t.sealNow()).resolves.toMatchObject({ created: true, checkpoint: { treeSize: last } });
    await t.stop();
  });

  it('says why a thread cannot start, and gives up after its restarts', async () => {
    const { logger, lines } = capturingLogger();
    const data = {
      ...sealerThreadData(config, db.appUrl, keys, { logLevel: 'debug' }),
      expect: { ledgerKid: 'ledger-other', noteVkey: 'x' },
    };
    const t = startSealerThread({ data, logger, maxRestarts: 1 });
    threads.push(t);
    await until('giving up', () => lines.find((l) => String(l.msg).includes('giving up')));
    expect(lines.filter((l) => l.msg === 'the sealer thread failed')).toEqual([
      expect.objectContaining({ level: 50, err: expect.objectContaining({ message: expect.stringMatching(/other signing keys/) }) }),
      expect.objectContaining({ level: 50, err: expect.objectContaining({ message: expect.stringMatching(/other signing keys/) }) }),
    ]);
    expect(t.threadId).toBeUndefined();
    await expect(t.sealNow()).rejects.toMatchObject({ code: 'sealer_unavailable' });
    await t.stop();
  });
});
