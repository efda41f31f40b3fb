/**
 * The workflows' time limits, from one JSON file (WORKFLOWS_FILE, default config/workflows.json), checked with ajv
 * at start-up: a bad file stops start-up naming the file and the problem. A missing file means the defaults.
 *
 *   referrals                  hours until an undecided referral is overdue: per refer rule id (the smallest of the
 *                              rules that referred), else per sharing agency id, else `defaultHours`.
 *   informationRequests        hours per priority (red / amber / green; defaults 4 / 24 / 72, as many MASH protocols),
 *                              optionally per requesting agency.
 *   cafcassSafeguardingChecks  hours the Cafcass agency gives police and the local authority (capped by the first hearing).
 *   triage                     the daily meeting's local start time: the list covers the 24 hours before it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { schemaCompiler } from '../json-schema';
import { SafeguardError } from '../errors';

export const PRIORITIES = ['red', 'amber', 'green'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface WorkflowSettings {
  readonly referrals: {
    readonly defaultHours: number;
    readonly byRule: Readonly<Record<string, number>>;
    readonly byAgency: Readonly<Record<string, number>>;
  };
  readonly informationRequests: {
    readonly priorityHours: Readonly<Record<Priority, number>>;
    readonly byAgency: Readonly<Record<string, Partial<Record<Priority, number>>>>;
  };
  readonly cafcassSafeguardingChecks: { readonly defaultHours: number; readonly byAgency: Readonly<Record<string, number>> };
  readonly triage: { readonly meetingTime: string; readonly timeZone: string };
  /** How often overdue referrals and requests are looked for (0: never, e.g. in tests that call the sweep). */
  readonly sweepIntervalMs: number;
}

export const DEFAULT_WORKFLOW_SETTINGS: WorkflowSettings = {
  referrals: { defaultHours: 24, byRule: {}, byAgency: {} },
  informationRequests: { priorityHours: { red: 4, amber: 24, green: 72 }, byAgency: {} },
  cafcassSafeguardingChecks: { defaultHours: 240, byAgency: {} },
  triage: { meetingTime: '09:00', timeZone: 'Europe/London' },
  sweepIntervalMs: 60_000,
};

export class WorkflowSettingsError extends SafeguardError {
  readonly code = 'workflow_settings_invalid' as const;
}

const hours = { type: 'number', exclusiveMinimum: 0, maximum: 24 * 366 } as const;
const hoursMap = { type: 'object', additionalProperties: hours, propertyNames: { pattern: '^[a-z0-9][a-z0-9-]{0,99}$' } } as const;
const priorityHours = { type: 'object', additionalProperties: false, properties: { red: hours, amber: hours, green: hours } } as const;
const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $comment: { type: 'string' },
    referrals: { type: 'object', additionalProperties: false, properties: { defaultHours: hours, byRule: hoursMap, byAgency: hoursMap } },
    informationRequests: {
      type: 'object',
      additionalProperties: false,
      properties: { priorityHours, byAgency: { type: 'object', additionalProperties: priorityHours } },
    },
    cafcassSafeguardingChecks: { type: 'object', additionalProperties: false, properties: { defaultHours: hours, byAgency: hoursMap } },
    triage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        meetingTime: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
        timeZone: { type: 'string', minLength: 1, maxLength: 64 },
      },
    },
    sweepIntervalMs: { type: 'integer', minimum: 0, maximum: 86_400_000 },
  },
} as const;

interface FileShape {
  referrals?: Partial<WorkflowSettings['referrals']>;
  informationRequests?: { priorityHours?: Partial<Record<Priority, number>>; byAgency?: Record<string, Partial<Record<Priority, number>>> };
  cafcassSafeguardingChecks?: Partial<WorkflowSettings['cafcassSafeguardingChecks']>;
  triage?: Partial<WorkflowSettings['triage']>;
  sweepIntervalMs?: number;
}

const validate = schemaCompiler().compile<FileShape>(schema);

/** Checks parsed settings (the file's content) and fills in the defaults. */
export function parseWorkflowSettings(data: unknown, source: string): WorkflowSettings {
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message ?? 'is not valid'}`);
    throw new WorkflowSettingsError(`The workflow settings ${source} are not valid: ${problems.join('; ')}`);
  }
  const d = DEFAULT_WORKFLOW_SETTINGS;
  const timeZone = data.triage?.timeZone ?? d.triage.timeZone;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
  } catch {
    throw new WorkflowSettingsError(`The workflow settings ${source} are not valid: triage.timeZone "${timeZone}" is not a time zone`);
  }
  return {
    referrals: { ...d.referrals, ...data.referrals },
    informationRequests: {
      priorityHours: { ...d.informationRequests.priorityHours, ...data.informationRequests?.priorityHours },
      byAgency: data.informationRequests?.byAgency ?? {},
    },
    cafcassSafeguardingChecks: { ...d.cafcassSafeguardingChecks, ...data.cafcassSafeguardingChecks },
    triage: { meetingTime: data.triage?.meetingTime ?? d.triage.meetingTime, timeZone },
    sweepIntervalMs: data.sweepIntervalMs ?? d.sweepIntervalMs,
  };
}

export function loadWorkflowSettings(file: string): WorkflowSettings {
  if (!existsSync(file)) return DEFAULT_WORKFLOW_SETTINGS;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new WorkflowSettingsError(`The workflow settings ${file} are not valid JSON (${(e as Error).message})`);
  }
  return parseWorkflowSettings(data, file);
}

const HOUR_MS = 3_600_000;

/** When an undecided referral becomes overdue: the tightest limit of its rules, else its agency's, else the default. */
export function referralDueAt(s: WorkflowSettings, agencyId: string, rules: readonly string[], from: Date): Date {
  const byRule = rules.map((r) => s.referrals.byRule[r]).filter((h): h is number => h !== undefined);
  const h = byRule.length > 0 ? Math.min(...byRule) : (s.referrals.byAgency[agencyId] ?? s.referrals.defaultHours);
  return new Date(from.getTime() + h * HOUR_MS);
}

export function informationRequestDeadline(s: WorkflowSettings, requesterAgencyId: string, priority: Priority, from: Date): Date {
  const h = s.informationRequests.byAgency[requesterAgencyId]?.[priority] ?? s.informationRequests.priorityHours[priority];
  return new Date(from.getTime() + h * HOUR_MS);
}

export function cafcassChecksDeadline(s: WorkflowSettings, cafcassAgencyId: string, from: Date, firstHearingAt?: Date): Date {
  const h = s.cafcassSafeguardingChecks.byAgency[cafcassAgencyId] ?? s.cafcassSafeguardingChecks.defaultHours;
  const configured = new Date(from.getTime() + h * HOUR_MS);
  return firstHearingAt && firstHearingAt < configured ? firstHearingAt : configured;
}
