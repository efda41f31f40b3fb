/**
 * The periodic sealer: seals the ledger every `intervalMs` (only the first worker runs one); the lifecycle is
 * src/periodic-task.ts, shared with the notifications dispatcher.
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { GatewayKeys } from '../../keys/gateway-keys';
import type { SubtreeCache } from '../subtree-cache';
import { CheckpointError } from './statement';
import { sealLedger, type SealResult } from './seal';
import type { CheckpointSink } from './sinks';
import { periodicTask } from '../../periodic-task';

export interface CheckpointerOptions {
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  /** Time between seals (ms). */
  readonly intervalMs: number;
  readonly sinks: readonly CheckpointSink[];
  readonly logger: Logger;
  readonly cache?: SubtreeCache;
  /** Seal once right away as well (default false). */
  readonly sealOnStart?: boolean;
}

export interface Checkpointer {
  /** Seal now (queued behind a seal in progress). Rejects as sealLedger does. */
  sealNow(): Promise<SealResult>;
  /** No more seals; resolves when the one in progress (if any) has finished. */
  stop(): Promise<void>;
}

export function startCheckpointer(options: CheckpointerOptions): Checkpointer {
  const { pool, keys, intervalMs, sinks, logger } = options;
  if (!Number.isInteger(intervalMs) || intervalMs < 1000) throw new RangeError('intervalMs must be a whole number of at least 1000');
  const seal = (): Promise<SealResult> =>
    sealLedger(pool, keys.key('ledger'), { sinks, jwks: keys.jwks(), ...(options.cache ? { cache: options.cache } : {}) });
  const task = periodicTask(seal, {
    intervalMs,
    runOnStart: options.sealOnStart ?? false,
    onResult: (r) => {
      if (r.created && r.checkpoint) {
        logger.info({ treeSize: r.checkpoint.treeSize, rootHash: r.checkpoint.rootHash, kid: r.checkpoint.kid }, 'audit ledger sealed');
      }
      for (const f of r.sinkFailures) logger.warn({ sink: f.sink, err: f.message }, 'could not export a ledger checkpoint; it will be retried');
    },
    onError: (e) => {
      const code = e instanceof CheckpointError ? e.code : 'error';
      logger.error({ err: e, code }, 'the audit ledger could not be sealed: it may have been tampered with; run npm run audit:verify');
    },
  });
  return { sealNow: () => task.runNow(), stop: () => task.stop() };
}
