/** The console's ledger proofs, wired from the same parts the API uses (signed checkpoints, receipts). */
import type { Pool } from 'pg';
import { buildReceipt } from '../audit/receipts';
import { verifyWith, type CheckpointSink, type SubtreeCache, type WitnessClient } from '../audit/checkpoints';
import type { LedgerEntryView } from '../audit/query';
import type { SealFacts } from '../audit/verification-wording';
import type { GatewayKeys } from '../keys/gateway-keys';
import type { EntryMacKey } from '../audit/entry-mac';

export function webProofs(deps: {
  readonly pool: Pool;
  readonly keys: GatewayKeys;
  readonly sinks: readonly CheckpointSink[];
  readonly cache: SubtreeCache;
  readonly witnesses?: readonly WitnessClient[];
  readonly quorum?: number;
  readonly macKey?: EntryMacKey;
}): {
  verifySeals: () => Promise<SealFacts>;
  receiptFor: (entry: LedgerEntryView) => Promise<unknown>;
} {
  return {
    verifySeals: () => verifyWith(deps),
    receiptFor: (e) =>
      buildReceipt(
        deps.pool,
        { entryId: e.entryId, seq: e.seq, entryHash: e.entryHash, agencyId: e.actor?.agencyId ?? null },
        { jwks: deps.keys.jwks(), cache: deps.cache },
      ),
  };
}
