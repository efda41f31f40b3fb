/**
 * The gateway's own signing keys (jose and node:crypto; no hand-rolled cryptography): one key pair per use, so that a
 * ledger checkpoint can never be passed off as a notification or the reverse.
 *   - `ledger`: signs audit-ledger checkpoints as JWS (ES256);
 *   - `notifications`: signs messages delivered to agencies' webhooks (ES256);
 *   - the NOTE key: signs the C2SP signed-note checkpoints (Ed25519; its name is the ledger's origin).
 *
 * VERSIONS (key rotation): every key has versions; the newest signs, and every older public key stays published
 * (`/.well-known/jwks.json`, `GET /v1/audit/checkpoint/keys`) so that old checkpoints and receipts stay verifiable.
 * Files in `<dataDir>/keys/` (0600, git-ignored):
 *   `<use>.private.jwk.json` (version 1), `<use>.v<N>.private.jwk.json` (version N >= 2)
 *   `note.v<N>.key` (Go `note` private key text, PRIVATE+KEY+<origin>+<hash>+<key>)
 * `rotateKey` writes the next version (`npm run keys:rotate`, which also records the rotation in the ledger).
 * A private key may instead come from the environment (GATEWAY_LEDGER_KEY / GATEWAY_NOTIFICATIONS_KEY, a private JWK
 * as JSON): it is then the newest version, after any on disk.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import {
  ed25519FromSeed,
  newEd25519Seed,
  parseSignerKey,
  parseVerifierKey,
  signerKeyText,
  verifierKey,
  type NoteSigner,
  type NoteVerifier,
} from '../audit/checkpoints/note';

export const KEY_USES = ['ledger', 'notifications'] as const;
export type KeyUse = (typeof KEY_USES)[number];
/** What `rotateKey` rotates: a JWS key use, or the note key. */
export type RotatableKey = KeyUse | 'note';
export const SIGNING_ALG = 'ES256';
/** The default checkpoint origin (LEDGER_ORIGIN): set it to a name of your own, e.g. `gateway.example.gov.uk/audit-ledger`. */
export const DEFAULT_LEDGER_ORIGIN = 'localhost/safeguard-gateway/audit-ledger';

export interface SigningKey {
  readonly use: KeyUse;
  readonly kid: string;
  readonly alg: typeof SIGNING_ALG;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly version: number;
}

export interface NoteKey extends NoteSigner {
  readonly version: number;
  /** Go `note` verifier key text. */
  readonly vkey: string;
}

export interface GatewayKeys {
  /** The newest key of a use (the one that signs). */
  key(use: KeyUse): SigningKey;
  /** The public JWKS of every version of every use (no private members). */
  jwks(): { keys: JWK[] };
  /** The newest note key (signs checkpoints as C2SP signed notes). */
  note(): NoteKey;
  /** Verifiers of every note key version, newest first. */
  noteVerifiers(): NoteVerifier[];
  /** The ledger's checkpoint origin. */
  readonly origin: string;
}

export interface LoadKeysOptions {
  /** The checkpoint origin (LEDGER_ORIGIN); the note key is named after it. */
  readonly origin?: string;
  /** Create keys that do not exist yet (default true; the CLIs that only read pass false). */
  readonly create?: boolean;
}

async function fromJwk(use: KeyUse, privateJwk: JWK, version: number): Promise<SigningKey> {
  if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || !privateJwk.d)
    throw new Error(`the ${use} key must be a private EC P-256 JWK`);
  const { d: _d, ...publicPart } = privateJwk;
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(publicPart));
  const privateKey = (await importJWK({ ...privateJwk, alg: SIGNING_ALG }, SIGNING_ALG)) as CryptoKey;
  const publicJwk: JWK = { kty: publicPart.kty, crv: publicPart.crv, x: publicPart.x, y: publicPart.y, kid, alg: SIGNING_ALG, use: 'sig' };
  return { use, kid, alg: SIGNING_ALG, privateKey, publicJwk, version };
}

const jwkFile = (use: KeyUse, version: number): string =>
  version === 1 ? `${use}.private.jwk.json` : `${use}.v${version}.private.jwk.json`;
const noteFile = (version: number): string => `note.v${version}.key`;

function versionsOnDisk(dir: string, pattern: RegExp): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((n) => pattern.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => (m[1] ? Number(m[1]) : 1))
    .sort((a, b) => a - b);
}

const jwkVersions = (dir: string, use: KeyUse): number[] =>
  versionsOnDisk(dir, new RegExp(`^${use}(?:\\.v(\\d{1,6}))?\\.private\\.jwk\\.json$`));
const noteVersions = (dir: string): number[] => versionsOnDisk(dir, /^note\.v(\d{1,6})\.key$/);

async function writeNewJwk(dir: string, use: KeyUse, version: number, racing = false): Promise<void> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...publicPart } = jwk;
  jwk.kid = `${use}-${(await calculateJwkThumbprint(publicPart)).slice(0, 16)}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeOnce(path.join(dir, jwkFile(use, version)), JSON.stringify(jwk), racing);
}

function writeNewNoteKey(dir: string, origin: string, version: number, racing = false): void {
  const seed = newEd25519Seed();
  const key = ed25519FromSeed(seed);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeOnce(path.join(dir, noteFile(version)), `${signerKeyText(origin, seed, key.raw)}\n`, racing);
}

/**
 * Write a key file once, atomically: written in full under a temporary name, then hard-linked into place, which fails
 * if the name exists, so no process ever reads a half-written file. `racing`: the first key of a fresh data directory,
 * which several workers may create at once — the first wins and the others read its key. A rotation is never racing:
 * an existing version is an error there.
 */
function writeOnce(file: string, content: string, racing: boolean): void {
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
  } catch (e) {
    if (!racing || (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(temporary);
  }
}

async function loadUse(use: KeyUse, dir: string, fromEnv: string | undefined, create: boolean): Promise<SigningKey[]> {
  let versions = jwkVersions(dir, use);
  if (versions.length === 0 && !fromEnv && create) {
    await writeNewJwk(dir, use, 1, true);
    versions = [1];
  }
  const keys: SigningKey[] = [];
  for (const v of versions) keys.push(await fromJwk(use, JSON.parse(readFileSync(path.join(dir, jwkFile(use, v)), 'utf8')) as JWK, v));
  if (fromEnv) keys.push(await fromJwk(use, JSON.parse(fromEnv) as JWK, (versions[versions.length - 1] ?? 0) + 1));
  if (keys.length === 0) throw new Error(`there is no ${use} key in ${dir}`);
  return keys;
}

function loadNoteKeys(dir: string, origin: string, create: boolean): NoteKey[] {
  let versions = noteVersions(dir);
  if (versions.length === 0 && create) {
    writeNewNoteKey(dir, origin, 1, true);
    versions = [1];
  }
  return versions.map((v) => {
    const signer = parseSignerKey(readFileSync(path.join(dir, noteFile(v)), 'utf8'));
    return { ...signer, version: v, vkey: verifierKey(signer.name, signer.key.raw) };
  });
}

/**
 * `given`: private JWKs as JSON (config.keys, from GATEWAY_<USE>_KEY), each the newest version of its use; a use with
 * no key on disk and none given is made once in `dataDir`/keys (unless `options.create` is false).
 */
export async function loadGatewayKeys(
  dataDir: string,
  given: Readonly<Partial<Record<KeyUse, string>>> = {},
  options: LoadKeysOptions = {},
): Promise<GatewayKeys> {
  const origin = options.origin ?? DEFAULT_LEDGER_ORIGIN;
  const create = options.create ?? true;
  const dir = path.join(dataDir, 'keys');
  const keys = new Map<KeyUse, SigningKey[]>();
  for (const use of KEY_USES) keys.set(use, await loadUse(use, dir, given[use], create));
  const notes = loadNoteKeys(dir, origin, create);
  const newestNote = notes[notes.length - 1];
  if (newestNote && newestNote.name !== origin) {
    throw new Error(
      `the newest note key is named ${newestNote.name}, but LEDGER_ORIGIN is ${origin}: run npm run keys:rotate -- note to make a key for the new origin`,
    );
  }
  const verifiers = notes
    .map((n) => parseVerifierKey(n.vkey))
    .filter((v): v is NoteVerifier => v !== null)
    .reverse();
  return {
    origin,
    key(use) {
      const list = keys.get(use);
      const k = list?.[list.length - 1];
      if (!k) throw new Error(`no ${use} key`);
      return k;
    },
    jwks: () => ({ keys: [...keys.values()].flat().map((k) => k.publicJwk) }),
    note() {
      if (!newestNote) throw new Error(`there is no note key in ${dir}`);
      return newestNote;
    },
    noteVerifiers: () => verifiers,
  };
}

export interface RotatedKey {
  readonly key: RotatableKey;
  readonly version: number;
  /** The new public key: a kid (JWS keys) or a Go note verifier key (the note key). */
  readonly publicKey: string;
  readonly previous: string | null;
}

/**
 * Writes the next version of a key (the old versions stay, so their signatures stay verifiable). The gateway signs
 * with it from its next start. Recording the rotation in the ledger is the caller's (src/cli/keys-rotate.ts).
 */
export async function rotateKey(dataDir: string, which: RotatableKey, origin: string = DEFAULT_LEDGER_ORIGIN): Promise<RotatedKey> {
  const dir = path.join(dataDir, 'keys');
  if (which === 'note') {
    const before = loadNoteKeys(dir, origin, false);
    const last = before[before.length - 1];
    const version = (last?.version ?? 0) + 1;
    writeNewNoteKey(dir, origin, version);
    const now = loadNoteKeys(dir, origin, false);
    return { key: 'note', version, publicKey: (now[now.length - 1] as NoteKey).vkey, previous: last?.vkey ?? null };
  }
  const versions = jwkVersions(dir, which);
  const last = versions[versions.length - 1];
  const previous = last
    ? (await fromJwk(which, JSON.parse(readFileSync(path.join(dir, jwkFile(which, last)), 'utf8')) as JWK, last)).kid
    : null;
  const version = (last ?? 0) + 1;
  await writeNewJwk(dir, which, version);
  const created = await fromJwk(which, JSON.parse(readFileSync(path.join(dir, jwkFile(which, version)), 'utf8')) as JWK, version);
  return { key: which, version, publicKey: created.kid, previous };
}
