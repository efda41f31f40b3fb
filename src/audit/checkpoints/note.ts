/**
 * Standard checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes, signed with Ed25519 exactly as
 * Go's golang.org/x/mod/sumdb/note signs and opens them, and C2SP `tlog-cosignature` (cosignature/v1) lines as a
 * `tlog-witness` returns them. Only the text formats are written here; the signatures are node:crypto's Ed25519.
 *
 *   checkpoint body    <origin>\n<tree size, decimal>\n<base64 root hash>\n
 *   note               <body>\n— <key name> <base64(key hash[4] || Ed25519 signature[64])>\n   (one line per signature)
 *   key hash           first 4 bytes of SHA-256(<key name> || "\n" || 0x01 || public key[32])
 *   verifier key       <key name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>     (Go `note.NewVerifier`)
 *   cosignature/v1     signed message "cosignature/v1\ntime <unix seconds>\n" || <body>; line payload
 *                      base64(key hash[4] || timestamp[8, big-endian] || signature[64]); key hash uses 0x04, not 0x01
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
const SIG_PREFIX = '— ';
const MAX_SIGNATURES = 100;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A valid key name: non-empty, no whitespace, no `+` (as Go's note package requires). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && name.length <= 256 && !/[\s+]/u.test(name);
}

export function keyHash(name: string, algAndKey: Uint8Array): Buffer {
  return createHash('sha256').update(name, 'utf8').update('\n').update(algAndKey).digest().subarray(0, 4);
}

// ---------------------------------------------------------------------------------------------------------------
// Keys

/** An Ed25519 key pair as node:crypto holds it, with its raw public key. */
export interface Ed25519Key {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The raw 32-byte public key. */
  readonly raw: Buffer;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The key pair for a 32-byte Ed25519 seed (the private key in Go's `PRIVATE+KEY+…` format). */
export function ed25519FromSeed(seed: Uint8Array): Ed25519Key {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, raw: rawPublicKey(publicKey) };
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** A note signer: a key name and an Ed25519 key, for either plain note signatures or cosignature/v1. */
export interface NoteSigner {
  readonly name: string;
  readonly key: Ed25519Key;
}

/** Go `note` verifier key text for a plain Ed25519 note signer. */
export function verifierKey(name: string, raw: Uint8Array, alg: number = ALG_ED25519): string {
  if (!isValidKeyName(name)) throw new RangeError(`"${name}" is not a valid note key name`);
  const algAndKey = Buffer.concat([Buffer.from([alg]), raw]);
  return `${name}+${keyHash(name, algAndKey).toString('hex')}+${algAndKey.toString('base64')}`;
}

/** Go `note` private key text (`PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>`), as `note.NewSigner` reads it. */
export function signerKeyText(name: string, seed: Uint8Array, raw: Uint8Array): string {
  const hash = keyHash(name, Buffer.concat([Buffer.from([ALG_ED25519]), raw])).toString('hex');
  return `PRIVATE+KEY+${name}+${hash}+${Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString('base64')}`;
}

/** Reads `signerKeyText` back; throws on anything else. */
export function parseSignerKey(text: string): NoteSigner {
  const m = /^PRIVATE\+KEY\+([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(text.trim());
  if (!m) throw new Error('not a note private key (PRIVATE+KEY+<name>+<hash>+<key>)');
  const [, name, hash, b64] = m as unknown as [string, string, string, string];
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length !== 33 || bytes[0] !== ALG_ED25519) throw new Error('the note private key is not an Ed25519 key');
  const key = ed25519FromSeed(bytes.subarray(1));
  if (keyHash(name, Buffer.concat([Buffer.from([ALG_ED25519]), key.raw])).toString('hex') !== hash)
    throw new Error('the note private key does not match its key hash');
  return { name, key };
}

/** A parsed verifier key. */
export interface NoteVerifier {
  readonly name: string;
  readonly alg: number;
  readonly hash: Buffer;
  readonly raw: Buffer;
  readonly publicKey: KeyObject;
  /** The key text, as given. */
  readonly text: string;
}

/** Parses a Go `note` verifier key (`<name>+<hash>+<base64(alg || key)>`); null if it is not one. */
export function parseVerifierKey(text: string): NoteVerifier | null {
  const parts = text.trim().split('+');
  if (parts.length < 3) return null;
  const name = parts[0] as string;
  const hashHex = parts[1] as string;
  const b64 = parts.slice(2).join('+');
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hashHex) || !BASE64.test(b64)) return null;
  const algAndKey = Buffer.from(b64, 'base64');
  const alg = algAndKey[0];
  if (algAndKey.length !== 33 || (alg !== ALG_ED25519 && alg !== ALG_COSIGNATURE_V1)) return null;
  if (!keyHash(name, algAndKey).equals(Buffer.from(hashHex, 'hex'))) return null;
  const raw = algAndKey.subarray(1);
  return { name, alg, hash: Buffer.from(hashHex, 'hex'), raw, publicKey: publicKeyFromRaw(raw), text: text.trim() };
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoint bodies

export interface CheckpointBody {
  readonly origin: string;
  readonly treeSize: number;
  /** Hex (as everywhere else in the gateway); base64 only in the body text. */
  readonly rootHash: string;
}

export function formatCheckpointBody(b: CheckpointBody): string {
  if (!isValidOrigin(b.origin)) throw new RangeError(`"${b.origin}" is not a valid checkpoint origin`);
  if (!Number.isSafeInteger(b.treeSize) || b.treeSize < 0) throw new RangeError('treeSize must be a non-negative safe integer');
  if (!/^[0-9a-f]{64}$/.test(b.rootHash)) throw new RangeError('rootHash must be 64 lowercase hex characters');
  return `${b.origin}\n${b.treeSize}\n${Buffer.from(b.rootHash, 'hex').toString('base64')}\n`;
}

/** An origin line: printable, no leading/trailing space (C2SP tlog-checkpoint), and usable as a note key name. */
export function isValidOrigin(origin: string): boolean {
  return isValidKeyName(origin) && /^[\x21-\x7e]+$/.test(origin);
}

/** Parses the first three lines of a checkpoint body (extension lines after them are allowed and ignored). */
export function parseCheckpointBody(text: string): CheckpointBody | null {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  const [origin, size, root] = lines;
  if (origin === undefined || size === undefined || root === undefined) return null;
  if (!isValidOrigin(origin) || !/^(0|[1-9]\d{0,15})$/.test(size) || !BASE64.test(root)) return null;
  const hash = Buffer.from(root, 'base64');
  if (hash.length !== 32 || hash.toString('base64') !== root) return null;
  const treeSize = Number(size);
  if (!Number.isSafeInteger(treeSize)) return null;
  if (lines.slice(3).some((l) => l.length === 0)) return null;
  return { origin, treeSize, rootHash: hash.toString('hex') };
}

// ---------------------------------------------------------------------------------------------------------------
// Notes

export interface NoteSignature {
  readonly name: string;
  readonly hash: Buffer;
  /** The signature bytes after the key hash (for cosignature/v1: timestamp || signature). */
  readonly payload: Buffer;
  /** The whole line, with its newline. */
  readonly line: string;
}

export interface ParsedNote {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** Splits a signed note into its text and signature lines (as Go's note.Open does); null if malformed. */
export function parseNote(note: string): ParsedNote | null {
  if (note.length > 64 * 1024 || /[\x00-\x09\x0b-\x1f\x7f]/.test(note)) return null;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return null;
  const text = note.slice(0, split + 1);
  const sigs = note.slice(split + 2);
  if (sigs.length === 0 || !sigs.endsWith('\n')) return null;
  const signatures: NoteSignature[] = [];
  for (const line of sigs.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIG_PREFIX)) return null;
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) return null;
    const name = rest.slice(0, space);
    const b64 = rest.slice(space + 1);
    if (!isValidKeyName(name) || !BASE64.test(b64)) return null;
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length < 5) return null;
    signatures.push({ name, hash: bytes.subarray(0, 4), payload: bytes.subarray(4), line: `${line}\n` });
    if (signatures.length > MAX_SIGNATURES) return null;
  }
  return { text, signatures };
}

/** One signature line by `signer` over `text` (a plain Ed25519 note signature). */
export function signatureLine(text: string, signer: NoteSigner): string {
  const hash = keyHash(signer.name, Buffer.concat([Buffer.from([ALG_ED25519]), signer.key.raw]));
  const sig = sign(null, Buffer.from(text, 'utf8'), signer.key.privateKey);
  return `${SIG_PREFIX}${signer.name} ${Buffer.concat([hash, sig]).toString('base64')}\n`;
}

/** A signed note: the text, a blank line, and one signature line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!text.endsWith('\n')) throw new RangeError('a note text ends with a newline');
  return `${text}\n${signers.map((s) => signatureLine(text, s)).join('')}`;
}

/** Does `sig` verify `text` under the plain Ed25519 verifier `v`? */
export function verifyNoteSignature(text: string, sig: NoteSignature, v: NoteVerifier): boolean {
  if (v.alg !== ALG_ED25519 || sig.name !== v.name || !sig.hash.equals(v.hash) || sig.payload.length !== 64) return false;
  return verify(null, Buffer.from(text, 'utf8'), v.publicKey, sig.payload);
}

/** The verifier among `verifiers` whose plain note signature on `note` verifies, or null. */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): { parsed: ParsedNote; by: NoteVerifier } | null {
  const parsed = parseNote(note);
  if (!parsed) return null;
  for (const sig of parsed.signatures) {
    for (const v of verifiers) if (verifyNoteSignature(parsed.text, sig, v)) return { parsed, by: v };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Cosignatures (C2SP tlog-cosignature, cosignature/v1)

function cosignedMessage(body: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${body}`, 'utf8');
}

/** The cosignature/v1 line a witness returns for a checkpoint body. */
export function cosignatureLine(body: string, witness: NoteSigner, timestamp: number): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('timestamp must be whole seconds');
  const hash = keyHash(witness.name, Buffer.concat([Buffer.from([ALG_COSIGNATURE_V1]), witness.key.raw]));
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(timestamp));
  const sig = sign(null, cosignedMessage(body, timestamp), witness.key.privateKey);
  return `${SIG_PREFIX}${witness.name} ${Buffer.concat([hash, time, sig]).toString('base64')}\n`;
}

/** The witness's cosignature/v1 key text (alg 0x04). */
export function cosignatureVerifierKey(name: string, raw: Uint8Array): string {
  return verifierKey(name, raw, ALG_COSIGNATURE_V1);
}

/** The timestamp of a valid cosignature/v1 by `v` on `body`, or null. */
export function verifyCosignature(body: string, sig: NoteSignature, v: NoteVerifier): number | null {
  if (v.alg !== ALG_COSIGNATURE_V1 || sig.name !== v.name || !sig.hash.equals(v.hash) || sig.payload.length !== 72) return null;
  const timestamp = Number(sig.payload.readBigUInt64BE(0));
  if (!Number.isSafeInteger(timestamp)) return null;
  return verify(null, cosignedMessage(body, timestamp), v.publicKey, sig.payload.subarray(8)) ? timestamp : null;
}

/** A fresh Ed25519 seed (for a new note or witness key). */
export function newEd25519Seed(): Buffer {
  return randomBytes(32);
}
