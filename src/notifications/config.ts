/**
 * Notification settings from the environment, checked once at start-up (a bad value stops start-up naming the
 * variable, as src/config.ts does):
 *
 *   SCHOOL_DAY_START          HH:MM the school day starts (default 08:30)
 *   SCHOOL_TIME_ZONE          IANA zone of the school day (default Europe/London)
 *   SCHOOL_HOLIDAYS           comma-separated YYYY-MM-DD..YYYY-MM-DD ranges or days (default none)
 *   SCHOOL_BANK_HOLIDAYS      comma-separated YYYY-MM-DD (default: England and Wales 2025–2028)
 *   ALLOW_INSECURE_WEBHOOKS   on: http and the loopback interface allowed for webhooks (development only; default off)
 *   NOTIFY_INTERVAL_MS        how often the dispatcher looks for due messages (default 2000)
 *   NOTIFY_MAX_ATTEMPTS       delivery attempts before a message is dead-lettered (default 8)
 *   NOTIFY_BACKOFF_BASE_MS    first retry delay; doubles each attempt (default 30 000)
 *   NOTIFY_BACKOFF_MAX_MS     longest retry delay (default 3 600 000)
 *   NOTIFY_TIMEOUT_MS         time limit of one webhook POST (default 10 000)
 */
import {
  DEFAULT_SCHOOL_CALENDAR,
  ENGLAND_AND_WALES_BANK_HOLIDAYS,
  calendarProblems,
  parseHolidayList,
  type SchoolCalendar,
} from './school-day';
import { ConfigError, flag as readFlag, integer as readInteger } from '../env';

export interface NotificationConfig {
  readonly schoolCalendar: SchoolCalendar;
  readonly allowInsecureWebhooks: boolean;
  readonly intervalMs: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly timeoutMs: number;
}

/** A notifications setting is not valid (a ConfigError: code `config_invalid`). */
export class NotificationConfigError extends ConfigError {}

const integer = (env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number =>
  readInteger(env, name, fallback, min, max, NotificationConfigError);
const flag = (env: NodeJS.ProcessEnv, name: string): boolean => readFlag(env, name, false, NotificationConfigError);

/** Called by `loadConfig` (src/config.ts): the notifications part of the one configuration. */
export function loadNotificationConfig(env: NodeJS.ProcessEnv): NotificationConfig {
  let holidays: SchoolCalendar['holidays'];
  let bankHolidays: readonly string[];
  try {
    holidays = parseHolidayList(env.SCHOOL_HOLIDAYS ?? '');
  } catch (e) {
    throw new NotificationConfigError(`SCHOOL_HOLIDAYS: ${(e as Error).message}`);
  }
  try {
    bankHolidays =
      env.SCHOOL_BANK_HOLIDAYS === undefined || env.SCHOOL_BANK_HOLIDAYS === ''
        ? ENGLAND_AND_WALES_BANK_HOLIDAYS
        : parseHolidayList(env.SCHOOL_BANK_HOLIDAYS).map((r) => {
            if (r.from !== r.to) throw new Error(`"${r.from}..${r.to}": list single days`);
            return r.from;
          });
  } catch (e) {
    throw new NotificationConfigError(`SCHOOL_BANK_HOLIDAYS: ${(e as Error).message}`);
  }
  const schoolCalendar: SchoolCalendar = {
    ...DEFAULT_SCHOOL_CALENDAR,
    timeZone: env.SCHOOL_TIME_ZONE || DEFAULT_SCHOOL_CALENDAR.timeZone,
    dayStart: env.SCHOOL_DAY_START || DEFAULT_SCHOOL_CALENDAR.dayStart,
    holidays,
    bankHolidays,
  };
  const problems = calendarProblems(schoolCalendar);
  if (problems.length > 0)
    throw new NotificationConfigError(
      `The school calendar (SCHOOL_DAY_START, SCHOOL_TIME_ZONE, SCHOOL_HOLIDAYS) is not valid: ${problems.join('; ')}`,
    );
  const backoffBaseMs = integer(env, 'NOTIFY_BACKOFF_BASE_MS', 30_000, 1, 86_400_000);
  return {
    schoolCalendar,
    allowInsecureWebhooks: flag(env, 'ALLOW_INSECURE_WEBHOOKS'),
    intervalMs: integer(env, 'NOTIFY_INTERVAL_MS', 2000, 10, 3_600_000),
    maxAttempts: integer(env, 'NOTIFY_MAX_ATTEMPTS', 8, 1, 50),
    backoffBaseMs,
    backoffMaxMs: Math.max(backoffBaseMs, integer(env, 'NOTIFY_BACKOFF_MAX_MS', 3_600_000, 1, 86_400_000)),
    timeoutMs: integer(env, 'NOTIFY_TIMEOUT_MS', 10_000, 100, 120_000),
  };
}
