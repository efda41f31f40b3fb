/**
 * Entry MACs: HMAC-SHA-256 of an entry's entry_hash under the gateway's ledger MAC key (LEDGER_MAC_KEY, or
 * `<dataDir>/ledger-mac-key`), written with the entry. The hash chain proves order and content but anybody with the
 * database can extend it; the MAC proves that the gateway wrote the entry. A database superuser who appends a forged
 * entry, or edits an unsealed one and re-chains after it, cannot make its MAC — and the sealer never signs an
 * entry whose MAC is missing or wrong (src/audit/checkpoints/seal.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type EntryMacKey = Buffer;

export function entryMacKey(secret: string): EntryMacKey {
  if (secret.length < 32) throw new Error('LEDGER_MAC_KEY must be at least 32 characters');
  return createHmac('sha256', 'safeguard-gateway ledger entry MAC v1').update(secret, 'utf8').digest();
}

export function entryMac(key: EntryMacKey, entryHashHex: string): string {
  return createHmac('sha256', key).update(entryHashHex, 'utf8').digest('hex');
}

export function entryMacValid(key: EntryMacKey, entryHashHex: string, mac: string | null): boolean {
  if (mac === null || !/^[0-9a-f]{64}$/.test(mac)) return false;
  return timingSafeEqual(Buffer.from(entryMac(key, entryHashHex), 'hex'), Buffer.from(mac, 'hex'));
}
