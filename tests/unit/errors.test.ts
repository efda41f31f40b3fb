/**
 * One error model: every error class the gateway exports extends SafeguardError and carries a stable code, and
 * no module in src/ declares an error class on plain Error.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  ConflictError,
  GatewayError,
  InvalidInputError,
  NotFoundError,
  NotPermittedError,
  PolicyRefusalError,
  RefusalError,
  REFUSAL_CODES,
  SafeguardError,
  UnprocessableError,
} from '../../src/errors';
import { InvalidCursorError } from '../../src/audit/query';
import { problemFor, REFUSAL_PROBLEMS } from '../../src/http/problem';
import { SealerUnavailableError } from '../../src/audit/checkpoints/sealer-handle';
import { AuditUnavailableError } from '../../src/audit/entry';
import { CheckpointError } from '../../src/audit/checkpoints';
import { LedgerIntegrityError } from '../../src/audit/receipts';
import { AgencyRegistryError } from '../../src/auth/registry';
import { ConfigError } from '../../src/env';
import { NotificationConfigError } from '../../src/notifications/config';
import { SchoolCalendarError } from '../../src/notifications/school-day';
import { PolicyLoadError } from '../../src/policy/errors';
import { StoryError } from '../../src/records/demo-seed';

const ROOT = path.resolve(__dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

describe('the error base', () => {
  it.each([
    [new GatewayError('not_found', 'nothing here'), 'not_found', 'GatewayError'],
    [new AuditUnavailableError('down'), 'audit_unavailable', 'AuditUnavailableError'],
    [new CheckpointError('rolled_back', 'rolled back'), 'rolled_back', 'CheckpointError'],
    [new LedgerIntegrityError('x'), 'ledger_integrity', 'LedgerIntegrityError'],
    [new AgencyRegistryError('f.json', ['bad']), 'registry_invalid', 'AgencyRegistryError'],
    [new ConfigError('PORT must be…'), 'config_invalid', 'ConfigError'],
    [new NotificationConfigError('NOTIFY_…'), 'config_invalid', 'NotificationConfigError'],
    [new SchoolCalendarError('x'), 'school_calendar_invalid', 'SchoolCalendarError'],
    [new PolicyLoadError('policies/a.yaml', 'r1', 'bad'), 'policy_load_error', 'PolicyLoadError'],
    [new StoryError('x'), 'story_invalid', 'StoryError'],
    [new NotFoundError('record_not_found', 'No record'), 'record_not_found', 'NotFoundError'],
    [new InvalidInputError('invalid_input', 'bad'), 'invalid_input', 'InvalidInputError'],
    [new InvalidCursorError(), 'invalid_cursor', 'InvalidCursorError'],
    [new NotPermittedError('not_permitted', 'no'), 'not_permitted', 'NotPermittedError'],
    [new PolicyRefusalError('no'), 'refused_by_policy', 'PolicyRefusalError'],
    [new ConflictError('already_decided', 'done'), 'already_decided', 'ConflictError'],
    [new UnprocessableError('decision_not_possible', 'no'), 'decision_not_possible', 'UnprocessableError'],
  ])('%s has a stable code and its class name', (error, code, name) => {
    expect(error).toBeInstanceOf(SafeguardError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
  });

  it('no error class in src/ extends plain Error except the base', () => {
    const offenders = sources(path.join(ROOT, 'src'))
      .filter((f) => /class \w+ extends Error\b/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(ROOT, f));
    expect(offenders).toEqual(['src/errors.ts']);
  });

  it('a domain refusal carries no HTTP status: the edge maps its code to one problem, detail and pointers kept', () => {
    const refusal = new NotFoundError('person_not_found', 'No person with that id is known to your agency.', {
      errors: [{ pointer: '/subjectPersonId', detail: 'not a person your agency knows' }],
    });
    expect(refusal).toBeInstanceOf(RefusalError);
    expect(refusal).not.toHaveProperty('status');
    expect(problemFor(refusal, { error: () => undefined })).toEqual(
      new GatewayError('not_found', 'No person with that id is known to your agency.', {
        errors: [{ pointer: '/subjectPersonId', detail: 'not a person your agency knows' }],
      }),
    );
    expect(Object.keys(REFUSAL_PROBLEMS).sort()).toEqual(Object.values(REFUSAL_CODES).flat().sort());
  });

  it('a sealer thread being restarted is a 503 with Retry-After, never a 500', () => {
    const logged: unknown[] = [];
    const problem = problemFor(new SealerUnavailableError('the sealer thread is not running'), { error: (o: unknown) => logged.push(o) });
    expect(problem.status).toBe(503);
    expect(problem.code).toBe('not_ready');
    expect(problem.extras.retryAfterSeconds).toBe(5);
    expect(logged).toEqual([]);
  });
});
