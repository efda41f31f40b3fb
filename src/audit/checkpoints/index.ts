/**
 * Signed checkpoints of the audit ledger: what lets an outside auditor trust the ledger WITHOUT trusting us.
 *
 * A checkpoint says, signed with the gateway's `ledger` key (ES256 compact JWS, `typ: sg-checkpoint+jwt`, public key
 * at /.well-known/jwks.json):
 *
 *   { v: 1, ledger: 'safeguard-gateway', treeSize, rootHash, lastEntryHash, signedAt }
 *
 * rootHash is the RFC 9162 Merkle root (../merkle.ts) over the entry_hash of entries 1..treeSize. With it, anybody
 * holding the JWKS can check a receipt (../receipts.ts) for one entry, and that two checkpoints describe one
 * append-only history (a consistency proof) — without the database.
 *
 * SEALING (`sealLedger`): under an advisory lock, stream every entry up to the current last seq in keyset pages
 * (O(log n) memory). Entries already covered by the previous checkpoint must reproduce its signed root (checked with
 * an RFC 9162 consistency proof, which is stored with the new checkpoint); entries after it must have an intact
 * hash chain (recomputed). Only then is the new root signed and stored in `ledger_checkpoints` (append-only, like
 * the ledger). A checkpoint never signs history that contradicts an earlier one.
 *
 * EXPORT: after COMMIT every new checkpoint is written to each `CheckpointSink` (write-once JSON files in
 * CHECKPOINT_EXPORT_DIR and CHECKPOINT_MIRROR_DIR; the interface admits an HTTP or S3 sink). Sealing also refuses
 * to continue when a sink holds a later checkpoint than the database: the database was rolled back.
 *
 * VERIFYING (`verifyCheckpoints`): one streaming pass over the entries inside one REPEATABLE READ snapshot, with the
 * database's checkpoints and the exported ones merged in tree-size order. Each checkpoint's signature is checked
 * against the published JWKS, its root against the entries now in the database, and its consistency proof against
 * its predecessor. An exported checkpoint the database no longer matches (entries removed, history rewritten)
 * shows that the database was rolled back, and from which tree size trust is lost.
 *
 * The parts: statement.ts (payload, signing, checking), sinks.ts (export and mirror directories), store.ts (reading
 * the database), seal.ts (one seal), sealer.ts (the periodic sealer; sealer-thread.ts runs it in a worker thread,
 * sealer-handle.ts is the serving thread's side of it, sealer-protocol.ts what the two send), verify.ts
 * (verification), note.ts (C2SP signed notes and cosignatures), witnesses.ts (the C2SP tlog-witness client).
 */
export * from './statement';
export * from './sinks';
export * from './store';
export * from './seal';
export * from './sealer';
export * from './sealer-protocol';
export * from './sealer-handle';
export * from './verify';
export * from './note';
export * from './witnesses';
export { SubtreeCache } from '../subtree-cache';
