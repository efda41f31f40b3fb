/**
 * Webhook subscriptions: an agency registers its own https endpoint for the events it may receive, lists and removes
 * its own. Each change is written in one transaction with its ledger entry (kind `webhook`: subscription id,
 * events, the endpoint's origin — where messages may go is security-relevant). Another agency's subscription is a
 * 404, the same as one that does not exist.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { ConflictError, InvalidInputError, NotFoundError, type InputProblem } from '../errors';
import type { AuditLedger } from '../audit/entry';
import type { Principal } from '../auth/principal';
import { actorOf } from '../audit/actor';
import { inTransaction } from '../db/tx';
import { isUniqueViolation } from '../records/store';
import { EVENT_SUBSCRIBERS, type WebhookEvent } from './events';
import { verifyWebhookUrl, type Resolver, type UrlPolicy } from './webhook-url';

export interface SubscriptionDeps {
  readonly pool: Pool;
  readonly ledger: AuditLedger;
  readonly urlPolicy: UrlPolicy;
  /** DNS (tests may replace it). */
  readonly resolve?: Resolver;
}

export interface SubscriptionContext {
  readonly principal: Principal;
  readonly requestId: string;
}

export interface Subscription {
  readonly id: string;
  readonly url: string;
  readonly events: readonly WebhookEvent[];
  readonly createdAt: string;
}

/** Most active subscriptions an agency may have. */
export const MAX_SUBSCRIPTIONS_PER_AGENCY = 10;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const whoActed = (p: Principal): string => (p.practitioner?.subject ? `${p.clientId}:${p.practitioner.subject}` : p.clientId);

export async function registerSubscription(
  deps: SubscriptionDeps,
  ctx: SubscriptionContext,
  input: { url: string; events: readonly WebhookEvent[] },
): Promise<Subscription> {
  const agency = ctx.principal.agency;
  const problems: InputProblem[] = [];
  input.events.forEach((event, i) => {
    const allowed = EVENT_SUBSCRIBERS[event];
    if (allowed !== 'any' && !allowed.includes(agency.agencyType)) {
      problems.push({
        pointer: `/events/${i}`,
        detail: `"${event}" is sent only to ${allowed.join(' or ')} agencies; your agency is ${agency.agencyType}.`,
      });
    }
  });
  if (problems.length > 0) {
    throw new InvalidInputError(
      'invalid_input',
      `Your agency cannot receive ${problems.length === 1 ? 'this event' : 'these events'}: ${problems.map((p) => p.detail).join(' ')}`,
      { errors: problems },
    );
  }
  const check = await verifyWebhookUrl(input.url, deps.urlPolicy, deps.resolve);
  if (!check.ok || !check.url) {
    throw new InvalidInputError('invalid_input', check.problem ?? 'The webhook URL is not allowed.', {
      errors: [{ pointer: '/url', detail: check.problem ?? 'not allowed' }],
    });
  }
  const url = check.url.href;
  const id = randomUUID();
  return inTransaction(deps.pool, async (client) => {
    // Serialise this agency's registrations so the limit holds under concurrency.
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`webhooks:${agency.id}`]);
    const { rows: counted } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM webhook_subscriptions WHERE agency_id = $1 AND removed_at IS NULL',
      [agency.id],
    );
    if (Number(counted[0]?.n ?? 0) >= MAX_SUBSCRIPTIONS_PER_AGENCY) {
      throw new ConflictError('webhook_conflict', `Your agency already has ${MAX_SUBSCRIPTIONS_PER_AGENCY} webhooks. Remove one first.`);
    }
    let createdAt: Date;
    try {
      const { rows } = await client.query<{ created_at: Date }>(
        'INSERT INTO webhook_subscriptions (id, agency_id, url, events, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING created_at',
        [id, agency.id, url, [...input.events], whoActed(ctx.principal)],
      );
      createdAt = (rows[0] as { created_at: Date }).created_at;
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          'webhook_conflict',
          'Your agency already has a webhook at this URL. Remove it first to change its events.',
          {
            errors: [{ pointer: '/url', detail: 'already registered' }],
          },
        );
      }
      throw error;
    }
    await deps.ledger.append({
      kind: 'webhook',
      outcome: 'registered',
      requestId: ctx.requestId,
      actor: actorOf(ctx.principal),
      payload: { subscriptionId: id, events: [...input.events], endpoint: check.url?.origin ?? null },
    });
    return { id, url, events: [...input.events], createdAt: createdAt.toISOString() };
  });
}

export async function listSubscriptions(deps: Pick<SubscriptionDeps, 'pool'>, ctx: SubscriptionContext): Promise<Subscription[]> {
  const { rows } = await deps.pool.query<{ id: string; url: string; events: WebhookEvent[]; created_at: Date }>(
    'SELECT id, url, events, created_at FROM webhook_subscriptions WHERE agency_id = $1 AND removed_at IS NULL ORDER BY created_at, id',
    [ctx.principal.agency.id],
  );
  return rows.map((r) => ({ id: r.id, url: r.url, events: r.events, createdAt: r.created_at.toISOString() }));
}

export async function removeSubscription(deps: SubscriptionDeps, ctx: SubscriptionContext, id: string): Promise<void> {
  const notFound = new NotFoundError('webhook_not_found', 'Your agency has no webhook with that id.');
  if (!UUID.test(id)) throw notFound;
  await inTransaction(deps.pool, async (client) => {
    const { rows } = await client.query<{ events: string[]; url: string }>(
      `UPDATE webhook_subscriptions SET removed_at = now(), removed_by = $3
        WHERE id = $1 AND agency_id = $2 AND removed_at IS NULL RETURNING events, url`,
      [id, ctx.principal.agency.id, whoActed(ctx.principal)],
    );
    const removed = rows[0];
    if (!removed) throw notFound;
    let endpoint: string | null;
    try {
      endpoint = new URL(removed.url).origin;
    } catch {
      endpoint = null;
    }
    await deps.ledger.append({
      kind: 'webhook',
      outcome: 'removed',
      requestId: ctx.requestId,
      actor: actorOf(ctx.principal),
      payload: { subscriptionId: id, events: removed.events, endpoint },
    });
  });
}
