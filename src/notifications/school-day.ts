import { SafeguardError } from '../errors';
/**
 * When does the next school day start? Pure functions, no I/O, no clock: the Operation Encompass deadline.
 *
 * Operation Encompass asks the police to tell a child's school BEFORE THE START OF THE NEXT SCHOOL DAY after a
 * domestic abuse incident, so the key adult can be ready when the child arrives. The next school day start after an
 * instant is the first day, in the calendar's time zone, that is
 *   - one of `schoolDays` (ISO weekdays, default Monday–Friday),
 *   - not inside any `holidays` range (inclusive YYYY-MM-DD dates: half terms, Christmas, INSET days),
 *   - not a `bankHolidays` date (default: England and Wales bank holidays 2025–2028, below),
 * at `dayStart` local time (default 08:30 Europe/London), strictly after the instant. An incident at 07:00 on a school
 * day is due at 08:30 that day; one at 08:30 or later is due the next school day.
 *
 * Local wall-clock time is turned into an instant with the platform's time-zone data (Intl), so the answer is right
 * across the clock changes (08:30 BST is 07:30 UTC, 08:30 GMT is 08:30 UTC). A wall-clock time that does not exist
 * (inside a spring-forward gap) becomes the first instant after the gap.
 */

export interface DateRange {
  /** YYYY-MM-DD, first day (inclusive) */
  readonly from: string;
  /** YYYY-MM-DD, last day (inclusive) */
  readonly to: string;
  readonly name?: string;
}

export interface SchoolCalendar {
  /** IANA time zone, e.g. Europe/London. */
  readonly timeZone: string;
  /** HH:MM (24-hour) local time the school day starts. */
  readonly dayStart: string;
  /** ISO weekdays that are school days (1 = Monday … 7 = Sunday). Default Monday–Friday. */
  readonly schoolDays?: readonly number[];
  /** School holidays and closures (inclusive date ranges). */
  readonly holidays: readonly DateRange[];
  /** Bank holidays (YYYY-MM-DD). Default ENGLAND_AND_WALES_BANK_HOLIDAYS. */
  readonly bankHolidays?: readonly string[];
}

/**
 * England and Wales bank holidays (gov.uk), 2025–2028, with substitute days. Keep it current, or configure the
 * list (SCHOOL_BANK_HOLIDAYS): a date after the last year listed is treated as an ordinary day.
 */
export const ENGLAND_AND_WALES_BANK_HOLIDAYS: readonly string[] = [
  '2025-01-01',
  '2025-04-18',
  '2025-04-21',
  '2025-05-05',
  '2025-05-26',
  '2025-08-25',
  '2025-12-25',
  '2025-12-26',
  '2026-01-01',
  '2026-04-03',
  '2026-04-06',
  '2026-05-04',
  '2026-05-25',
  '2026-08-31',
  '2026-12-25',
  '2026-12-28',
  '2027-01-01',
  '2027-03-26',
  '2027-03-29',
  '2027-05-03',
  '2027-05-31',
  '2027-08-30',
  '2027-12-27',
  '2027-12-28',
  '2028-01-03',
  '2028-04-14',
  '2028-04-17',
  '2028-05-01',
  '2028-05-29',
  '2028-08-28',
  '2028-12-25',
  '2028-12-26',
];

export const DEFAULT_SCHOOL_CALENDAR: SchoolCalendar = {
  timeZone: 'Europe/London',
  dayStart: '08:30',
  schoolDays: [1, 2, 3, 4, 5],
  holidays: [],
  bankHolidays: ENGLAND_AND_WALES_BANK_HOLIDAYS,
};

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
/** Longest run of non-school days looked through before the calendar is called broken. */
const MAX_DAYS_AHEAD = 400;
const DAY_MS = 24 * 60 * 60 * 1000;

export class SchoolCalendarError extends SafeguardError {
  readonly code = 'school_calendar_invalid' as const;
}

function isDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === value;
}

/** Every problem with a calendar, in words (empty when it is usable). */
export function calendarProblems(calendar: SchoolCalendar): string[] {
  const problems: string[] = [];
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: calendar.timeZone });
  } catch {
    problems.push(`time zone "${calendar.timeZone}" is not known`);
  }
  if (!TIME.test(calendar.dayStart)) problems.push(`day start "${calendar.dayStart}" must be HH:MM (24-hour)`);
  const days = calendar.schoolDays ?? [1, 2, 3, 4, 5];
  if (days.length === 0 || days.some((d) => !Number.isInteger(d) || d < 1 || d > 7))
    problems.push('school days must be ISO weekdays 1 (Monday) to 7 (Sunday), at least one');
  for (const h of calendar.holidays) {
    if (!isDate(h.from) || !isDate(h.to)) problems.push(`holiday ${h.from}..${h.to} must be two YYYY-MM-DD dates`);
    else if (h.to < h.from) problems.push(`holiday ${h.from}..${h.to} ends before it starts`);
  }
  for (const b of calendar.bankHolidays ?? []) if (!isDate(b)) problems.push(`bank holiday "${b}" must be a YYYY-MM-DD date`);
  return problems;
}

/**
 * A calendar is configuration, checked once per calendar object: every decision about Operation Encompass asks for
 * the next school day, and building an Intl formatter to check the time zone each time was measurable in the bench.
 */
const checkedCalendars = new WeakMap<SchoolCalendar, readonly string[]>();
function checkedProblems(calendar: SchoolCalendar): readonly string[] {
  let problems = checkedCalendars.get(calendar);
  if (!problems) {
    problems = calendarProblems(calendar);
    checkedCalendars.set(calendar, problems);
  }
  return problems;
}

// ─── Time-zone arithmetic through Intl ─────────────────────────────────────────────────────────────────────────

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

function wallClock(instant: number, timeZone: string): WallClock {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/**
 * The zone's offset from UTC at `instant`, in ms (Europe/London: 0 in winter, +3 600 000 in summer). Asking Intl is
 * the dearest step of an Operation Encompass decision, so an offset of whole minutes is remembered for the minute it
 * was read in (zones with such offsets change them only on a minute boundary); the most recent 4,096 are kept.
 */
const offsets = new Map<string, number>();
function offsetAt(instant: number, timeZone: string): number {
  const key = `${timeZone}|${Math.floor(instant / 60_000)}`;
  const known = offsets.get(key);
  if (known !== undefined) return known;
  const w = wallClock(instant, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  const offset = asUtc - Math.floor(instant / 1000) * 1000;
  if (offset % 60_000 === 0) {
    if (offsets.size >= 4096) offsets.clear();
    offsets.set(key, offset);
  }
  return offset;
}

/** The instant a wall-clock time happens in the zone (after a spring-forward gap when it does not exist). */
export function zonedInstant(date: string, time: string, timeZone: string): Date {
  const d = DATE.exec(date);
  const t = TIME.exec(time);
  if (!d || !t) throw new SchoolCalendarError(`not a date and time: ${date} ${time}`);
  const naive = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]), Number(t[1]), Number(t[2]));
  // Two passes: the offset at the guess, then at the corrected instant (they differ only around a clock change).
  const first = naive - offsetAt(naive, timeZone);
  const second = naive - offsetAt(first, timeZone);
  if (second === first) return new Date(first);
  // The wall-clock time falls in a gap or an overlap: take the later reading, which is after any gap.
  return new Date(Math.max(first, second));
}

/** The calendar date (YYYY-MM-DD) in the zone at `instant`. */
export function localDate(instant: Date, timeZone: string): string {
  const t = instant.getTime();
  const wall = new Date(Math.floor(t / 1000) * 1000 + offsetAt(t, timeZone));
  const year = wall.getUTCFullYear();
  return `${String(year).padStart(4, '0')}-${String(wall.getUTCMonth() + 1).padStart(2, '0')}-${String(wall.getUTCDate()).padStart(2, '0')}`;
}

function addDays(date: string, days: number): string {
  const m = DATE.exec(date);
  if (!m) throw new SchoolCalendarError(`not a date: ${date}`);
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + days * DAY_MS).toISOString().slice(0, 10);
}

/** ISO weekday of a calendar date: 1 = Monday … 7 = Sunday. */
export function isoWeekday(date: string): number {
  const m = DATE.exec(date);
  if (!m) throw new SchoolCalendarError(`not a date: ${date}`);
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).getUTCDay();
  return day === 0 ? 7 : day;
}

/** Is this calendar date a school day? */
export function isSchoolDay(date: string, calendar: SchoolCalendar): boolean {
  if (!(calendar.schoolDays ?? [1, 2, 3, 4, 5]).includes(isoWeekday(date))) return false;
  if ((calendar.bankHolidays ?? ENGLAND_AND_WALES_BANK_HOLIDAYS).includes(date)) return false;
  return !calendar.holidays.some((h) => h.from <= date && date <= h.to);
}

/**
 * The start of the next school day strictly after `after` (an instant). Throws SchoolCalendarError when the
 * calendar is not valid or has no school day in the next 400 days.
 */
export function nextSchoolDayStart(after: Date, calendar: SchoolCalendar): Date {
  const problems = checkedProblems(calendar);
  if (problems.length > 0) throw new SchoolCalendarError(`the school calendar is not valid: ${problems.join('; ')}`);
  if (!Number.isFinite(after.getTime())) throw new SchoolCalendarError('not a valid instant');
  let date = localDate(after, calendar.timeZone);
  for (let i = 0; i <= MAX_DAYS_AHEAD; i++, date = addDays(date, 1)) {
    if (!isSchoolDay(date, calendar)) continue;
    const start = zonedInstant(date, calendar.dayStart, calendar.timeZone);
    if (start.getTime() > after.getTime()) return start;
  }
  throw new SchoolCalendarError(`the school calendar has no school day in the ${MAX_DAYS_AHEAD} days after ${after.toISOString()}`);
}

/**
 * Parses a holiday list as written in configuration: comma-separated `YYYY-MM-DD..YYYY-MM-DD` ranges or single
 * `YYYY-MM-DD` days, e.g. `2026-12-21..2027-01-01,2027-02-15..2027-02-19,2027-06-07`.
 */
export function parseHolidayList(text: string): DateRange[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((item) => {
      const [from, to, extra] = item.split('..');
      if (extra !== undefined || from === undefined)
        throw new SchoolCalendarError(`"${item}" is not a date or a date range (YYYY-MM-DD..YYYY-MM-DD)`);
      const range = { from: from.trim(), to: (to ?? from).trim() };
      if (!isDate(range.from) || !isDate(range.to))
        throw new SchoolCalendarError(`"${item}" is not a date or a date range (YYYY-MM-DD..YYYY-MM-DD)`);
      if (range.to < range.from) throw new SchoolCalendarError(`"${item}" ends before it starts`);
      return range;
    });
}
