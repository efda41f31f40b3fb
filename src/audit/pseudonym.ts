/**
 * Subject references (case numbers, local ids) are stored in the ledger only as a keyed hash: auditors can see
 * that two entries concern the same person without the ledger naming them. The key is the operator's
 * (AUDIT_PSEUDONYM_KEY); without it the hash cannot be reversed by guessing ids.
 */
import { createHmac } from 'node:crypto';

export type Pseudonymiser = (subjectRef: string) => string;

export function pseudonymiser(key: string): Pseudonymiser {
  if (key.length < 32) throw new Error('AUDIT_PSEUDONYM_KEY must be at least 32 characters');
  return (subjectRef) => `hmac-sha256:${createHmac('sha256', key).update(subjectRef, 'utf8').digest('hex')}`;
}
