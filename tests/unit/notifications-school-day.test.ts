/**
 * The Operation Encompass deadline: the start of the next school day (src/notifications/school-day.ts).
 */
import {
  calendarProblems,
  DEFAULT_SCHOOL_CALENDAR,
  isSchoolDay,
  localDate,
  nextSchoolDayStart,
  parseHolidayList,
  SchoolCalendarError,
  zonedInstant,
  type SchoolCalendar,
} from '../../src/notifications/school-day';

const cal = (extra: Partial<SchoolCalendar> = {}): SchoolCalendar => ({ ...DEFAULT_SCHOOL_CALENDAR, ...extra });
const next = (iso: string, calendar: SchoolCalendar = cal()): string => nextSchoolDayStart(new Date(iso), calendar).toISOString();

describe('nextSchoolDayStart', () => {
  it('takes a Friday-night incident to Monday 08:30 (London, summer time: 07:30 UTC)', () => {
    // Friday 12 June 2026, 21:30 BST.
    expect(next('2026-06-12T20:30:00Z')).toBe('2026-06-15T07:30:00.000Z');
  });

  it('takes a Saturday or Sunday incident to Monday 08:30 too', () => {
    expect(next('2026-06-13T10:00:00Z')).toBe('2026-06-15T07:30:00.000Z');
    expect(next('2026-06-14T23:59:00Z')).toBe('2026-06-15T07:30:00.000Z');
  });

  it('is the same morning for an incident before the school day starts, the next day for one after', () => {
    // Tuesday 16 June 2026: 06:00 BST → 08:30 that day; 08:30 BST exactly → Wednesday; 14:00 → Wednesday.
    expect(next('2026-06-16T05:00:00Z')).toBe('2026-06-16T07:30:00.000Z');
    expect(next('2026-06-16T07:30:00Z')).toBe('2026-06-17T07:30:00.000Z');
    expect(next('2026-06-16T13:00:00Z')).toBe('2026-06-17T07:30:00.000Z');
  });

  it('skips a school holiday (half term) to the first day back', () => {
    const halfTerm = cal({ holidays: [{ from: '2026-10-26', to: '2026-10-30', name: 'October half term' }] });
    // Friday 23 October 2026, 22:00 BST → half term all next week → Monday 2 November 08:30 GMT.
    expect(next('2026-10-23T21:00:00Z', halfTerm)).toBe('2026-11-02T08:30:00.000Z');
  });

  it('skips a holiday that spans the new year, and the bank holidays inside it', () => {
    const christmas = cal({ holidays: parseHolidayList('2026-12-21..2027-01-01') });
    expect(next('2026-12-18T19:00:00Z', christmas)).toBe('2027-01-04T08:30:00.000Z');
  });

  it('skips a bank holiday Monday to Tuesday', () => {
    // Friday 1 May 2026, 23:00 BST → Monday 4 May is the Early May bank holiday → Tuesday 5 May 08:30 BST.
    expect(next('2026-05-01T22:00:00Z')).toBe('2026-05-05T07:30:00.000Z');
    // Good Friday and Easter Monday 2026 (3 and 6 April): Thursday-night incident → Tuesday 7 April.
    expect(next('2026-04-02T20:00:00Z')).toBe('2026-04-07T07:30:00.000Z');
  });

  it('uses a configured bank holiday list instead of the default', () => {
    expect(next('2026-05-01T22:00:00Z', cal({ bankHolidays: [] }))).toBe('2026-05-04T07:30:00.000Z');
  });

  it('is right across the spring clock change (GMT Friday → BST Monday)', () => {
    // Clocks go forward on Sunday 29 March 2026. Friday 27 March 22:00 GMT → Monday 30 March 08:30 BST = 07:30 UTC.
    expect(next('2026-03-27T22:00:00Z')).toBe('2026-03-30T07:30:00.000Z');
    // The same Friday's own start was 08:30 GMT = 08:30 UTC.
    expect(next('2026-03-27T06:00:00Z')).toBe('2026-03-27T08:30:00.000Z');
  });

  it('is right across the autumn clock change (BST Friday → GMT Monday)', () => {
    // Clocks go back on Sunday 25 October 2026. Friday 23 October 21:30 BST → Monday 26 October 08:30 GMT.
    expect(next('2026-10-23T20:30:00Z')).toBe('2026-10-26T08:30:00.000Z');
  });

  it('works in the local date, not the UTC date (00:30 BST Saturday is still Friday night in UTC)', () => {
    // Saturday 13 June 2026 00:30 BST = Friday 23:30 UTC → Monday.
    expect(localDate(new Date('2026-06-12T23:30:00Z'), 'Europe/London')).toBe('2026-06-13');
    expect(next('2026-06-12T23:30:00Z')).toBe('2026-06-15T07:30:00.000Z');
  });

  it('gives the same local date as Intl for every quarter hour around both 2026 clock changes, in several zones', () => {
    // localDate and zonedInstant remember a zone's offset per minute: this checks the remembered offsets against
    // Intl read afresh, including the minutes either side of each change.
    for (const timeZone of ['Europe/London', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) {
      const fresh = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
      for (const around of ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-03-08T07:00:00Z', '2026-04-05T15:00:00Z']) {
        const centre = Date.parse(around);
        for (let t = centre - 26 * 3_600_000; t <= centre + 26 * 3_600_000; t += 15 * 60_000) {
          for (const instant of [t - 1, t, t + 59_999]) {
            expect(localDate(new Date(instant), timeZone)).toBe(fresh.format(new Date(instant)));
          }
        }
      }
    }
  });

  it('honours a configured school-day start and school week', () => {
    expect(next('2026-06-12T20:30:00Z', cal({ dayStart: '08:45' }))).toBe('2026-06-15T07:45:00.000Z');
    // A setting open Saturdays too.
    expect(next('2026-06-12T20:30:00Z', cal({ schoolDays: [1, 2, 3, 4, 5, 6] }))).toBe('2026-06-13T07:30:00.000Z');
  });

  it('refuses a broken calendar rather than guessing', () => {
    expect(() => next('2026-06-12T20:30:00Z', cal({ timeZone: 'Mars/Olympus_Mons' }))).toThrow(SchoolCalendarError);
    expect(() => next('2026-06-12T20:30:00Z', cal({ dayStart: '8.30' }))).toThrow(/HH:MM/);
    expect(() => next('2026-06-12T20:30:00Z', cal({ holidays: [{ from: '2026-01-01', to: '2027-12-31' }] }))).toThrow(/no school day/);
    expect(calendarProblems(cal({ holidays: [{ from: '2026-02-30', to: '2026-03-01' }] }))).toEqual([
      'holiday 2026-02-30..2026-03-01 must be two YYYY-MM-DD dates',
    ]);
  });
});

describe('helpers', () => {
  it('turns a London wall-clock time into the right instant in summer, winter and a spring-forward gap', () => {
    expect(zonedInstant('2026-07-01', '08:30', 'Europe/London').toISOString()).toBe('2026-07-01T07:30:00.000Z');
    expect(zonedInstant('2026-01-05', '08:30', 'Europe/London').toISOString()).toBe('2026-01-05T08:30:00.000Z');
    // 01:30 on 29 March 2026 does not exist in London: the first instant after the gap (02:00 BST = 01:00 UTC) or later.
    expect(zonedInstant('2026-03-29', '01:30', 'Europe/London').getTime()).toBeGreaterThanOrEqual(Date.parse('2026-03-29T01:00:00Z'));
  });

  it('knows school days', () => {
    expect(isSchoolDay('2026-06-15', cal())).toBe(true);
    expect(isSchoolDay('2026-06-13', cal())).toBe(false);
    expect(isSchoolDay('2026-08-31', cal())).toBe(false);
  });

  it('parses holiday lists and refuses bad ones by naming the item', () => {
    expect(parseHolidayList('2026-10-26..2026-10-30, 2027-06-07')).toEqual([
      { from: '2026-10-26', to: '2026-10-30' },
      { from: '2027-06-07', to: '2027-06-07' },
    ]);
    expect(() => parseHolidayList('2026-10-30..2026-10-26')).toThrow('"2026-10-30..2026-10-26" ends before it starts');
    expect(() => parseHolidayList('half term')).toThrow('"half term" is not a date');
  });
});
