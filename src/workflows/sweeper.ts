/**
 * Looks for overdue referrals and requests for information every `intervalMs` (settings.ts `sweepIntervalMs`; 0:
 * never), through the shared periodicTask lifecycle. Each flag is written with its ledger entry and its webhook in
 * one transaction (./referrals.ts, ./information-requests.ts), rows claimed with FOR UPDATE SKIP LOCKED, so every
 * serving process may run it.
 */
import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { AuditLedger } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import { periodicTask } from '../periodic-task';
import { flagOverdueInformationRequests } from './information-requests';
import { flagOverdueReferrals } from './referrals';

export interface SweepResult {
  readonly referrals: number;
  readonly informationRequests: number;
}

export interface Sweeper {
  /** One sweep now (serialised with the periodic ones): how many referrals and requests were flagged. */
  sweep(): Promise<SweepResult>;
  stop(): Promise<void>;
}

export function startWorkflowSweeper(deps: {
  pool: Pool;
  ledger: AuditLedger;
  pseudonymise: Pseudonymiser;
  logger: Logger;
  intervalMs: number;
}): Sweeper {
  const once = async (): Promise<SweepResult> => ({
    referrals: await flagOverdueReferrals(deps),
    informationRequests: await flagOverdueInformationRequests(deps),
  });
  if (deps.intervalMs <= 0) return { sweep: once, stop: () => Promise.resolve() };
  const task = periodicTask(once, {
    intervalMs: deps.intervalMs,
    onError: (err) => deps.logger.warn({ err }, 'overdue sweep failed; will try again'),
    onResult: (r) => {
      if (r.referrals + r.informationRequests > 0) deps.logger.info(r, 'workflows flagged overdue');
    },
  });
  return { sweep: () => task.runNow(), stop: () => task.stop() };
}
