/**
 * The outbox dispatcher: delivers due messages to agencies' webhooks. Several gateway processes may run it at once.
 *
 * Each run: queue access notices from the ledger (./access-notices.ts), then CLAIM up to `batchSize` due rows —
 * one statement, `FOR UPDATE SKIP LOCKED`, most urgent first (deadline, else creation time) — by giving them a lease
 * (`lease_until`, `claim_token`): another process skips them, and a crashed process's rows come back when the lease
 * ends. For each claimed row:
 *
 *   1. the subscription must still exist and its URL pass the address checks again (./webhook-url.ts);
 *   2. the message is built NOW through the sharing policy (./messages.ts): only permitted values;
 *   3. it is signed — a compact JWS, ES256 with the gateway's `notifications` key (kid in the header, typ
 *      `sg-notification+jwt`), published at /.well-known/jwks.json;
 *   4. its ledger entry (kind `notification`, or `alert` for a perpetrator alert: recipient, field names disclosed
 *      and withheld per source, rules, attempt number, and the contentHash of the exact JWS) is appended and
 *      COMMITTED. If that fails, nothing is sent: the row goes back to pending for later, the attempt not counted;
 *   5. only then the POST (Content-Type application/jose; no redirects; time limit);
 *   6. the attempt's result is appended (kind `notification_attempt`: attempt, HTTP status, outcome, contentHash —
 *      never the body) and the row updated: delivered on 2xx; otherwise retried with exponential backoff
 *      (base × 2^(attempt-1), capped) until `maxAttempts`, then `dead_letter`.
 *
 * A message the policy no longer permits, whose subscription was removed or whose URL is now refused is not sent:
 * its decision is recorded and the row dead-lettered at once.
 */
import { randomUUID } from 'node:crypto';
import { CompactSign } from 'jose';
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import { contentHash, type AppendedEntry, type AuditLedger, type NewAuditEntry } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { GatewayKeys } from '../keys/gateway-keys';
import type { PolicyEngine } from '../policy/types';
import { enqueueAccessNotices } from './access-notices';
import { NOTIFICATION_CONTENT_TYPE, NOTIFICATION_TYP, OUTBOX_KINDS, type OutboxKind } from './events';
import { buildMessage, type BuiltMessage, type OutboxMessage } from './messages';
import { safeTransport, type WebhookFetch } from './transport';
import { checkWebhookUrl } from './webhook-url';
import { periodicTask } from '../periodic-task';

export interface DispatcherOptions {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly engine: PolicyEngine;
  readonly keys: GatewayKeys;
  readonly logger: Logger;
  readonly pseudonymise: Pseudonymiser;
  /** Pause between runs (ms). */
  readonly intervalMs: number;
  /** HTTP client (default: node:http(s) connecting only to addresses the URL policy allows). */
  readonly fetch?: WebhookFetch;
  /** ALLOW_INSECURE_WEBHOOKS: http and loopback endpoints (development and tests only). Default false. */
  readonly allowInsecureWebhooks?: boolean;
  /** Attempts before dead_letter (default 8). */
  readonly maxAttempts?: number;
  /** First retry delay, doubled each attempt (default 30 s), and the longest delay (default 1 h). */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Time limit of one POST (default 10 s). */
  readonly timeoutMs?: number;
  /** Rows claimed per run (default 20). */
  readonly batchSize?: number;
  /** How long a claim is held before another process may take the row (default 5 min; must exceed timeoutMs). */
  readonly leaseMs?: number;
  /** `iss` of every notification (default urn:safeguard-gateway). */
  readonly issuer?: string;
  /** The clock for decisions (tests may fix it). */
  readonly now?: () => Date;
  /** Start the periodic runs (default true). With false, call runOnce(). */
  readonly autoStart?: boolean;
}

export interface DispatchSummary {
  readonly noticesQueued: number;
  readonly claimed: number;
  readonly delivered: number;
  readonly retrying: number;
  readonly deadLettered: number;
  /** Not sent because the ledger could not record them; they stay pending. */
  readonly deferred: number;
}

export interface Dispatcher {
  /** One run now (serialised with the periodic runs). */
  runOnce(): Promise<DispatchSummary>;
  /** Stops the periodic runs and waits for the one in flight. */
  stop(): Promise<void>;
}

interface ClaimedRow {
  id: string;
  kind: string;
  event: string;
  target_agency_id: string;
  subscription_id: string;
  payload: Record<string, unknown>;
  attempts: number;
  deadline: Date | null;
  created_at: Date;
  claim_token: string;
}

type Result = 'delivered' | 'retrying' | 'dead_letter' | 'deferred';

export const DEFAULT_ISSUER = 'urn:safeguard-gateway';
/** Ledger entries read for access notices per step, and steps per run. */
const NOTICE_BATCH = 500;
const NOTICE_BATCHES_PER_RUN = 20;
/** A notification JWS is valid for a day (each attempt is signed afresh). */
const VALIDITY_SECONDS = 24 * 60 * 60;

export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

const isOutboxKind = (v: string): v is OutboxKind => (OUTBOX_KINDS as readonly string[]).includes(v);

export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const o = {
    maxAttempts: options.maxAttempts ?? 8,
    backoffBaseMs: options.backoffBaseMs ?? 30_000,
    backoffMaxMs: options.backoffMaxMs ?? 3_600_000,
    timeoutMs: options.timeoutMs ?? 10_000,
    batchSize: options.batchSize ?? 20,
    leaseMs: options.leaseMs ?? 300_000,
    issuer: options.issuer ?? DEFAULT_ISSUER,
    allowInsecure: options.allowInsecureWebhooks ?? false,
  };
  if (o.leaseMs <= o.timeoutMs) throw new RangeError('leaseMs must be longer than timeoutMs');
  const { pool, ledger, logger } = options;
  const policy = { allowInsecure: o.allowInsecure };
  const send: WebhookFetch = options.fetch ?? safeTransport(policy);
  const clock = options.now ?? (() => new Date());
  const log = logger.child({ component: 'notifications' });

  const retryAfter = (attempt: number): number => backoffDelayMs(attempt, o.backoffBaseMs, o.backoffMaxMs);

  async function claim(): Promise<ClaimedRow[]> {
    const token = randomUUID();
    const { rows } = await pool.query<ClaimedRow>(
      `WITH due AS (
         SELECT id FROM outbox
          WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
          ORDER BY COALESCE(deadline, created_at), created_at, id
          LIMIT $1
          FOR UPDATE SKIP LOCKED)
       UPDATE outbox o SET lease_until = now() + make_interval(secs => $2::double precision / 1000), claim_token = $3, updated_at = now()
         FROM due WHERE o.id = due.id
       RETURNING o.id, o.kind, o.event, o.target_agency_id, o.subscription_id, o.payload, o.attempts, o.deadline, o.created_at, o.claim_token`,
      [o.batchSize, o.leaseMs, token],
    );
    return rows;
  }

  /** Settles a claimed row (only the claimer may). */
  async function settle(
    row: ClaimedRow,
    change: {
      status: 'pending' | 'delivered' | 'dead_letter';
      attempts: number;
      retryInMs?: number;
      statusCode?: number | null;
      error?: string | null;
    },
  ): Promise<void> {
    await pool.query(
      `UPDATE outbox SET status = $3, attempts = $4,
              next_attempt_at = CASE WHEN $5::double precision IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $5::double precision / 1000) END,
              last_status_code = COALESCE($6, last_status_code), last_error = $7,
              delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END,
              lease_until = NULL, claim_token = NULL, updated_at = now()
        WHERE id = $1 AND claim_token = $2`,
      [row.id, row.claim_token, change.status, change.attempts, change.retryInMs ?? null, change.statusCode ?? null, change.error ?? null],
    );
  }

  async function recordAttempt(
    row: ClaimedRow,
    attempt: number,
    outcome: 'delivered' | 'failed' | 'dead_letter',
    detail: {
      statusCode?: number | null;
      error?: string | null;
      hash?: string | null;
      notificationEntry?: AppendedEntry | null;
      nextAttemptInMs?: number | null;
    },
  ): Promise<void> {
    try {
      await ledger.append({
        kind: 'notification_attempt',
        outcome,
        requestId: `outbox:${row.id}:${attempt}`,
        actor: null,
        payload: {
          outboxId: row.id,
          messageKind: row.kind,
          event: row.event,
          to: { agencyId: row.target_agency_id },
          subscriptionId: row.subscription_id,
          attempt,
          statusCode: detail.statusCode ?? null,
          error: detail.error ?? null,
          contentHash: detail.hash ?? null,
          notificationEntryId: detail.notificationEntry?.entryId ?? null,
          nextAttemptInMs: detail.nextAttemptInMs ?? null,
        },
      });
    } catch (e) {
      // The message's own disclosure entry was committed before anything left; losing the result entry loses no disclosure.
      log.error({ err: e, outboxId: row.id, attempt }, 'could not record a notification attempt in the audit ledger');
    }
  }

  function disclosureEntry(row: ClaimedRow, built: BuiltMessage, attempt: number, endpoint: string, hash: string | null): NewAuditEntry {
    return {
      kind: row.kind === 'perpetrator_alert' ? 'alert' : 'notification',
      outcome: built.outcome,
      requestId: `outbox:${row.id}:${attempt}`,
      actor: null,
      ...(built.purpose ? { purpose: built.purpose } : {}),
      rules: [...built.rules],
      payload: {
        outboxId: row.id,
        messageKind: row.kind,
        event: row.event,
        attempt,
        to: { agencyId: built.recipient.agencyId, agencyType: built.recipient.agencyType, role: built.recipient.role },
        subscriptionId: row.subscription_id,
        endpoint,
        deadline: row.deadline?.toISOString() ?? null,
        subject: built.subject,
        // The records and households by pseudonym only (the message itself names them to its recipient).
        disclosures: built.sources.map((s) => ({
          ...s,
          recordId: s.recordId === null ? null : options.pseudonymise(s.recordId),
          householdId: s.householdId === null ? null : options.pseudonymise(s.householdId),
        })),
        policyVersion: built.policyVersion,
        sent: hash !== null,
        refusal: built.refusal ?? null,
        contentHash: hash,
      },
    };
  }

  async function deliver(row: ClaimedRow): Promise<Result> {
    const attempt = row.attempts + 1;
    const deadLetter = async (error: string, entry: AppendedEntry | null = null): Promise<Result> => {
      await recordAttempt(row, attempt, 'dead_letter', { error, notificationEntry: entry });
      await settle(row, { status: 'dead_letter', attempts: row.attempts, error });
      return 'dead_letter';
    };
    const defer = async (error: string): Promise<Result> => {
      await settle(row, { status: 'pending', attempts: row.attempts, retryInMs: retryAfter(attempt), error });
      return 'deferred';
    };
    if (!isOutboxKind(row.kind)) return deadLetter('unknown_kind');

    const { rows: subs } = await pool.query<{ url: string; agency_id: string; removed_at: Date | null }>(
      'SELECT url, agency_id, removed_at FROM webhook_subscriptions WHERE id = $1',
      [row.subscription_id],
    );
    const sub = subs[0];
    if (!sub || sub.removed_at !== null || sub.agency_id !== row.target_agency_id) return deadLetter('subscription_removed');
    const check = checkWebhookUrl(sub.url, policy);
    if (!check.ok || !check.url) return deadLetter('endpoint_refused');
    const endpoint = check.url.origin;

    const message: OutboxMessage = {
      id: row.id,
      kind: row.kind,
      event: row.event,
      targetAgencyId: row.target_agency_id,
      subscriptionId: row.subscription_id,
      payload: row.payload,
      attempts: row.attempts,
      deadline: row.deadline,
      createdAt: row.created_at,
    };
    const built = await buildMessage({ pool, engine: options.engine, pseudonymise: options.pseudonymise, now: clock() }, message);
    if (!built.body) {
      let entry: AppendedEntry;
      try {
        entry = await ledger.append(disclosureEntry(row, built, attempt, endpoint, null));
      } catch (e) {
        log.warn({ err: e, outboxId: row.id }, 'audit ledger unavailable: notification decision not recorded, retrying later');
        return defer('audit_unavailable');
      }
      return deadLetter(built.refusal ?? 'policy_denied', entry);
    }

    const key = options.keys.key('notifications');
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: o.issuer,
      aud: row.target_agency_id,
      iat,
      exp: iat + VALIDITY_SECONDS,
      jti: `${row.id}:${attempt}`,
      event: row.event,
      messageId: row.id,
      attempt,
      data: built.body,
    };
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: NOTIFICATION_TYP })
      .sign(key.privateKey);
    const hash = contentHash(jws);

    // The disclosure is committed BEFORE anything leaves. No entry, no POST.
    let entry: AppendedEntry;
    try {
      entry = await ledger.append(disclosureEntry(row, built, attempt, endpoint, hash));
    } catch (e) {
      log.warn({ err: e, outboxId: row.id }, 'audit ledger unavailable: notification not sent, retrying later');
      return defer('audit_unavailable');
    }

    let statusCode: number | null = null;
    let error: string | null = null;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), o.timeoutMs);
    try {
      const res = await send(check.url.href, {
        method: 'POST',
        headers: {
          'Content-Type': NOTIFICATION_CONTENT_TYPE,
          'User-Agent': 'safeguard-gateway-notifications/1',
          'X-Notification-Id': row.id,
        },
        body: jws,
        signal: abort.signal,
        redirect: 'manual',
      });
      statusCode = res.status;
      if (res.status < 200 || res.status > 299) error = `http_${res.status}`;
    } catch (e) {
      error = abort.signal.aborted
        ? 'timeout'
        : (e as NodeJS.ErrnoException).code === 'EWEBHOOKADDRESS'
          ? 'endpoint_refused'
          : 'network_error';
    } finally {
      clearTimeout(timer);
    }

    if (error === null) {
      await recordAttempt(row, attempt, 'delivered', { statusCode, hash, notificationEntry: entry });
      await settle(row, { status: 'delivered', attempts: attempt, statusCode, error: null });
      return 'delivered';
    }
    if (attempt >= o.maxAttempts || error === 'endpoint_refused') {
      await recordAttempt(row, attempt, 'dead_letter', { statusCode, error, hash, notificationEntry: entry });
      await settle(row, { status: 'dead_letter', attempts: attempt, statusCode, error });
      return 'dead_letter';
    }
    const wait = retryAfter(attempt);
    await recordAttempt(row, attempt, 'failed', { statusCode, error, hash, notificationEntry: entry, nextAttemptInMs: wait });
    await settle(row, { status: 'pending', attempts: attempt, retryInMs: wait, statusCode, error });
    return 'retrying';
  }

  async function run(): Promise<DispatchSummary> {
    let noticesQueued = 0;
    try {
      // Catch up with the ledger in bounded steps (a full batch means there may be more).
      for (let i = 0; i < NOTICE_BATCHES_PER_RUN; i++) {
        const step = await enqueueAccessNotices(pool, options.pseudonymise, NOTICE_BATCH);
        noticesQueued += step?.queued ?? 0;
        if (!step || step.read < NOTICE_BATCH) break;
      }
    } catch (e) {
      log.error({ err: e }, 'could not queue access notices');
    }
    const rows = await claim();
    const results = await Promise.all(
      rows.map(async (row): Promise<Result> => {
        try {
          return await deliver(row);
        } catch (e) {
          // Unexpected (database gone, a bug): leave the row to its lease, it comes back.
          log.error({ err: e, outboxId: row.id }, 'notification delivery failed unexpectedly');
          return 'deferred';
        }
      }),
    );
    const count = (r: Result): number => results.filter((x) => x === r).length;
    const summary = {
      noticesQueued,
      claimed: rows.length,
      delivered: count('delivered'),
      retrying: count('retrying'),
      deadLettered: count('dead_letter'),
      deferred: count('deferred'),
    };
    if (rows.length > 0 || noticesQueued > 0) log.info(summary, 'notifications run');
    return summary;
  }

  const task = periodicTask(run, {
    intervalMs: options.intervalMs,
    onError: (e) => log.error({ err: e }, 'notifications run failed'),
    autoStart: options.autoStart ?? true,
  });
  return { runOnce: () => task.runNow(), stop: () => task.stop() };
}
