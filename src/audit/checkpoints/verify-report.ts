/** What checkpoint verification (./verify.ts) is asked and answers: its options, its report and the problems it names. */
import type { CheckpointSink } from './sinks';
import type { EntryMacKey } from '../entry-mac';
import type { NoteVerifier } from './note';
import type { WitnessClient } from './witnesses';

export type CheckpointProblemKind =
  | 'bad_signature'
  | 'root_mismatch'
  | 'inconsistent'
  | 'missing_in_database'
  | 'rolled_back'
  | 'not_witnessed'
  | 'witness_unreachable'
  | 'forged_entry';

export interface CheckpointProblem {
  readonly treeSize: number;
  readonly problem: CheckpointProblemKind;
  readonly detail: string;
}

export interface WitnessReport {
  readonly witness: string;
  /** The tree size it holds cosigned (null: none, or it could not be asked). */
  readonly treeSize: number | null;
  /** Its cosigned root is the root of the entries now in the database. */
  readonly matches: boolean;
}

export interface CheckpointVerifyReport {
  readonly ok: boolean;
  /** Distinct tree sizes examined (database, copies and witnesses together). */
  readonly checkpointsChecked: number;
  /** Checkpoints held by the copies compared with (0 when none was given: then a rollback cannot be seen). */
  readonly exportedCheckpoints: number;
  /** Highest seq in the database (0 for an empty ledger). */
  readonly lastSeq: number;
  /**
   * The largest tree size whose signed (and, with witnesses, cosigned) root the database still matches, with nothing
   * contradicting it below.
   */
  readonly trustedUpTo: number;
  /** With witnesses: the largest tree size at least `quorum` witnesses cosigned and the database still matches. */
  readonly cosignedUpTo?: number;
  readonly quorum: number;
  readonly witnesses: readonly WitnessReport[];
  /** The first entry that no longer is what was sealed, when the data names it. */
  readonly firstDifferingEntry?: number;
  /** Otherwise the entries it is among (from the last matching checkpoint to the first contradicted one). */
  readonly differingRange?: { readonly from: number; readonly to: number };
  /** The first `maxProblems` problems, by tree size. */
  readonly problems: CheckpointProblem[];
  readonly moreProblems: number;
}

export interface VerifyCheckpointsOptions {
  /** Exported checkpoints to compare with (CHECKPOINT_EXPORT_DIR). */
  readonly exported?: CheckpointSink;
  /** More copies (the mirror, …). */
  readonly copies?: readonly CheckpointSink[];
  /** Witnesses whose latest cosigned checkpoints are compared, and how many must agree. */
  readonly witnesses?: readonly WitnessClient[];
  readonly quorum?: number;
  /** The gateway's note keys (every version) and origin: a witness's copy must carry the gateway's note signature. */
  readonly noteVerifiers?: readonly NoteVerifier[];
  readonly origin?: string;
  /** Check every entry's MAC (../entry-mac.ts): a forged or re-chained entry, sealed or not, is named. */
  readonly macKey?: EntryMacKey;
  /** Entries read per page (default 5000). */
  readonly batchSize?: number;
  /** Problems listed (default 100). */
  readonly maxProblems?: number;
}
