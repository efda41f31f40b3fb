/**
 * Subject references (case numbers, local ids) are stored in the ledger only as a keyed hash: auditors can see
 * that two entries concern the same person without the ledger naming them. The key is the operator's
 * (AUDIT_PSEUDONYM_KEY); without it the hash cannot be reversed by guessing ids.
 */
import { createHmac, hkdfSync } from 'node:crypto';

/** What else the operator's key protects, each under its own derived key (never the pseudonym key itself). */
export type MacPurpose = 'audit-cursor';

export interface Pseudonymiser {
  (subjectRef: string): string;
  /**
   * HMAC-SHA256 of `data` under a key derived from AUDIT_PSEUDONYM_KEY for `purpose` (HKDF-SHA256, info
   * `safeguard-gateway:<purpose>:v1`): independent of the pseudonyms, so no pseudonym is ever a valid MAC.
   */
  mac(purpose: MacPurpose, data: string): Buffer;
}

export function pseudonymiser(key: string): Pseudonymiser {
  if (key.length < 32) throw new Error('AUDIT_PSEUDONYM_KEY must be at least 32 characters');
  const derived = new Map<MacPurpose, Buffer>();
  const keyFor = (purpose: MacPurpose): Buffer => {
    let k = derived.get(purpose);
    if (!k) {
      k = Buffer.from(hkdfSync('sha256', Buffer.from(key, 'utf8'), Buffer.alloc(0), `safeguard-gateway:${purpose}:v1`, 32));
      derived.set(purpose, k);
    }
    return k;
  };
  const pseudonymise = (subjectRef: string): string => `hmac-sha256:${createHmac('sha256', key).update(subjectRef, 'utf8').digest('hex')}`;
  return Object.assign(pseudonymise, {
    mac: (purpose: MacPurpose, data: string): Buffer => createHmac('sha256', keyFor(purpose)).update(data, 'utf8').digest(),
  });
}

/** A path segment that is a word of the API (`v1`, `subjects`, `information-requests`), not an identifier. */
const API_WORD = /^(v\d{1,3}|[a-z]+(?:[-_.][a-z]+)*)$/;
const MAX_IDS = 8;

/**
 * A request path as the ledger may keep it: every segment that is not a word of the API (a person id, a record id,
 * a case reference) becomes `{id}`, and the identifiers are returned pseudonymised (like subject references) so that
 * auditors can still match entries about one record without the ledger naming it. Without a pseudonymiser the
 * identifiers are dropped.
 */
export function pseudonymisedPath(rawPath: string, pseudonymise?: Pseudonymiser): { path: string; ids: string[] } {
  const ids: string[] = [];
  const path = rawPath
    .slice(0, 400)
    .split('/')
    .map((segment, i) => {
      if (i === 0 || segment === '' || API_WORD.test(segment)) return segment;
      if (pseudonymise && ids.length < MAX_IDS) {
        let decoded = segment;
        try {
          decoded = decodeURIComponent(segment);
        } catch {
          // keep it as sent
        }
        ids.push(pseudonymise(decoded));
      }
      return '{id}';
    })
    .join('/');
  return { path: path.slice(0, 200), ids };
}
