/**
 * What a message is, as types of their own: an outbox row to deliver, what building it needs, and what was built
 * (permitted values for the body, names and codes for the ledger). messages.ts builds the gateway's own kinds;
 * src/workflows/notices.ts builds the workflow notices, importing these types and not the builder.
 */
import type { Pool } from 'pg';
import type { JsonObject } from '../audit/entry';
import type { Pseudonymiser } from '../audit/pseudonym';
import type { PolicyEngine } from '../policy/types';
import type { AgencyType, DecisionOutcome, Purpose, Role } from '../vocabulary/vocabulary';
import type { OutboxKind } from './events';

export interface OutboxMessage {
  readonly id: string;
  readonly kind: OutboxKind;
  readonly event: string;
  readonly targetAgencyId: string;
  readonly subscriptionId: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly attempts: number;
  readonly deadline: Date | null;
  readonly createdAt: Date;
}

export interface BuildDeps {
  readonly pool: Pool;
  readonly engine: PolicyEngine;
  readonly pseudonymise: Pseudonymiser;
  readonly now: Date;
}

/** What one source (a record, or the household) contributed: names and codes only, for the ledger. */
export interface SourceAudit extends JsonObject {
  readonly source: 'record' | 'household';
  readonly recordId: string | null;
  readonly householdId: string | null;
  readonly owningAgencyId: string;
  readonly owningAgencyType: string | null;
  readonly fieldsDisclosed: readonly string[];
  readonly withheldFields: ReadonlyArray<{ readonly field: string; readonly code: string; readonly rule: string | null }>;
  readonly rules: readonly string[];
  readonly facts: JsonObject | null;
}

export interface BuiltMessage {
  /** The decision over the whole message. */
  readonly outcome: DecisionOutcome;
  readonly purpose?: Purpose;
  readonly recipient: { readonly agencyId: string; readonly agencyType: AgencyType | null; readonly role: Role | null };
  readonly rules: readonly string[];
  readonly policyVersion: string;
  /** Pseudonym of the person the message is about (null for access notices). */
  readonly subject: string | null;
  readonly sources: readonly SourceAudit[];
  /** The message `data`: permitted values only. Absent when nothing may be sent. */
  readonly body?: JsonObject;
  /** Why nothing may be sent (a code), when `body` is absent. */
  readonly refusal?: string;
}
