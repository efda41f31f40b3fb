/**
 * Looks for overdue referrals and requests for information every `intervalMs` (settings.ts `sweepIntervalMs`; 0:
 * never). Each flag is written with its ledger entry and its webhook in one transaction (./referrals.ts,
 * ./information-requests.ts), rows claimed with FOR UPDATE SKIP LOCKED, so every serving process may run it.
 */
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { AuditLedger } from '../audit/entry';
import { flagOverdueInformationRequests } from './information-requests';
import { flagOverdueReferrals } from './referrals';

export interface Sweeper {
  /** One sweep now (also what the timer runs): how many referrals and requests were flagged. */
  sweep(): Promise<{ referrals: number; informationRequests: number }>;
  stop(): Promise<void>;
}

export function startWorkflowSweeper(deps: { pool: Pool; ledger: AuditLedger; logger: Logger; intervalMs: number }): Sweeper {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  const sweep = async (): Promise<{ referrals: number; informationRequests: number }> => {
    const referrals = await flagOverdueReferrals(deps);
    const informationRequests = await flagOverdueInformationRequests(deps);
    if (referrals + informationRequests > 0) deps.logger.info({ referrals, informationRequests }, 'workflows flagged overdue');
    return { referrals, informationRequests };
  };
  const tick = (): void => {
    running = sweep()
      .catch((err: unknown) => deps.logger.warn({ err }, 'overdue sweep failed; will try again'))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, deps.intervalMs);
      });
  };
  if (deps.intervalMs > 0) timer = setTimeout(tick, Math.min(deps.intervalMs, 5000));
  return {
    sweep,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
