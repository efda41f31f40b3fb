/**
 * Refusals of unidentified callers, summarised. A refusal of an AUTHENTICATED caller is one ledger entry each
 * (invariant 5). A caller with no valid token could otherwise append to the immutable ledger for ever, one row per
 * request; so its refusals are counted per source address, problem code and time window in `anonymous_refusals`
 * (one upsert per request, a bounded table), and every closed window becomes ONE ledger entry:
 *
 *   kind `anonymous_refusals`, outcome = the problem code, actor null,
 *   payload { source, status, count, firstAt, lastAt, windowStart, windowSeconds }
 *
 * The fold deletes the window's row and appends its entry in one transaction of the counter table: the entry is
 * committed before the row goes (a crash in between can record a window twice — with the same requestId — never
 * lose it). Several gateway processes fold safely: DELETE … RETURNING locks the rows, so one process takes each window.
 * Windows use the database clock, so every process and instance counts into the same rows.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { Db } from '../db/tx';
import { inTransaction } from '../db/tx';
import type { AuditLedger } from './entry';

export const DEFAULT_REFUSAL_WINDOW_MS = 60_000;

export interface AnonymousRefusals {
  readonly windowMs: number;
  /** Count one refusal; resolves once it is counted (committed), rejects if the database cannot be written. */
  record(source: string, problem: string, status: number): Promise<void>;
}

export function anonymousRefusals(db: Db, windowMs: number = DEFAULT_REFUSAL_WINDOW_MS): AnonymousRefusals {
  if (!Number.isInteger(windowMs) || windowMs < 100) throw new RangeError('the refusal summary window must be at least 100 ms');
  return {
    windowMs,
    async record(source, problem, status) {
      await db.query(
        `INSERT INTO anonymous_refusals (source, problem, status, window_start, window_ms, count, first_at, last_at)
         VALUES ($1, $2, $3, to_timestamp(floor(extract(epoch FROM clock_timestamp()) * 1000 / $4) * $4 / 1000.0), $4, 1, clock_timestamp(), clock_timestamp())
         ON CONFLICT (source, problem, window_start)
         DO UPDATE SET count = anonymous_refusals.count + 1, last_at = GREATEST(anonymous_refusals.last_at, EXCLUDED.last_at)`,
        [source.slice(0, 100), problem, status, windowMs],
      );
    },
  };
}

interface WindowRow {
  source: string;
  problem: string;
  status: number;
  window_start: Date;
  window_ms: number;
  count: string;
  first_at: Date;
  last_at: Date;
}

/** Folds every closed window into the ledger; resolves with the number of entries written. */
export async function foldClosedWindows(pool: Pool, ledger: AuditLedger): Promise<number> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<WindowRow>(
      `DELETE FROM anonymous_refusals
        WHERE window_start + make_interval(secs => window_ms / 1000.0) <= clock_timestamp()
        RETURNING source, problem, status, window_start, window_ms, count::text AS count, first_at, last_at`,
    );
    rows.sort(
      (a, b) =>
        a.window_start.getTime() - b.window_start.getTime() || a.source.localeCompare(b.source) || a.problem.localeCompare(b.problem),
    );
    for (const row of rows) {
      const windowStart = row.window_start.toISOString();
      await ledger.append({
        kind: 'anonymous_refusals',
        outcome: row.problem,
        // The same window always has the same id, so a window recorded twice (a crash between commit and delete) is visible as such.
        requestId: `anon-${createHash('sha256').update(`${row.source}|${row.problem}|${windowStart}`).digest('hex').slice(0, 32)}`,
        actor: null,
        payload: {
          source: row.source,
          status: row.status,
          count: Number(row.count),
          firstAt: row.first_at.toISOString(),
          lastAt: row.last_at.toISOString(),
          windowStart,
          windowSeconds: row.window_ms / 1000,
        },
      });
    }
    return rows.length;
  });
}

export interface RefusalFolder {
  /** Fold now (also called on stop, so a clean shutdown leaves no closed window behind). */
  foldNow(): Promise<number>;
  stop(): Promise<void>;
}

/** Folds closed windows every `intervalMs` (default: a quarter of the window, at least 250 ms, at most 15 s). */
export function startRefusalFolder(opts: {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly windowMs: number;
  readonly intervalMs?: number;
  readonly logger: { warn(obj: object, msg: string): void };
}): RefusalFolder {
  const intervalMs = opts.intervalMs ?? Math.min(15_000, Math.max(250, Math.floor(opts.windowMs / 4)));
  let running: Promise<number> | null = null;
  const foldNow = (): Promise<number> => {
    running ??= foldClosedWindows(opts.pool, opts.ledger).finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => {
    foldNow().catch((e: unknown) =>
      opts.logger.warn(
        { err: e instanceof Error ? e.message : String(e) },
        'could not fold anonymous refusals into the ledger yet; will try again',
      ),
    );
  }, intervalMs);
  timer.unref();
  return {
    foldNow,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
      await foldNow().catch(() => undefined);
    },
  };
}
