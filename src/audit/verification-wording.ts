/**
 * The one sentence that says how far the ledger can be trusted, used word for word by `npm run audit:verify`, the
 * console's "Verify ledger" page and `GET /v1/audit/verify` (`summary`), e.g.
 *
 *   "chain intact to entry 19; sealed and signed to entry 12; entries 13 to 19 not sealed yet"
 *   "chain intact to entry 19; sealed, signed and cosigned to entry 19"
 *   "chain broken at entry 6: intact to entry 5; sealed and signed to entry 4"
 *
 * "Chain intact to N": every entry up to N hashes to the next (detects edits and deletions inside the ledger).
 * "Sealed and signed to M": a signed checkpoint covers entries 1..M and the database still matches it (detects a
 * rewritten chain, and with the exported copies, a rollback). "Cosigned": a witness outside the gateway holds it too.
 */
export interface ChainFacts {
  readonly ok: boolean;
  /** Highest entry in the database (0: empty). */
  readonly lastSeq: number;
  /** The last entry up to which the chain is proven. */
  readonly trustedUpTo: number;
  readonly firstBadSeq?: number | undefined;
}

export interface SealFacts {
  readonly ok: boolean;
  /** The largest tree size whose signed root the database still matches (0: none). */
  readonly trustedUpTo: number;
  /** The largest tree size a witness has cosigned and the database still matches, when witnesses are configured. */
  readonly cosignedUpTo?: number | undefined;
}

export function describeVerification(chain: ChainFacts, seal?: SealFacts): string {
  if (chain.ok && chain.lastSeq === 0) return 'ledger empty: nothing recorded yet';
  const parts: string[] = [];
  parts.push(
    chain.ok
      ? `chain intact to entry ${chain.lastSeq}`
      : `chain broken at entry ${chain.firstBadSeq ?? chain.trustedUpTo + 1}: intact to entry ${chain.trustedUpTo}`,
  );
  if (seal) {
    const sealedTo = Math.min(seal.trustedUpTo, chain.lastSeq);
    const cosigned = seal.cosignedUpTo ?? 0;
    if (sealedTo === 0) parts.push(seal.ok ? 'not sealed yet' : 'no signed checkpoint matches the database');
    else if (cosigned >= sealedTo) parts.push(`sealed, signed and cosigned to entry ${sealedTo}`);
    else if (cosigned > 0) parts.push(`sealed and signed to entry ${sealedTo}, cosigned to entry ${cosigned}`);
    else parts.push(`sealed and signed to entry ${sealedTo}`);
    if (!seal.ok && sealedTo > 0) parts.push(`a signed checkpoint after entry ${sealedTo} does not match the database`);
    if (seal.ok && sealedTo > 0 && sealedTo < chain.lastSeq) {
      parts.push(
        sealedTo + 1 === chain.lastSeq
          ? `entry ${chain.lastSeq} not sealed yet`
          : `entries ${sealedTo + 1} to ${chain.lastSeq} not sealed yet`,
      );
    }
  }
  return parts.join('; ');
}
