/** Dates and times on the pages: Europe/London, in words, as GOV.UK writes them ("1 December 2026 at 8:05pm"). */
const ZONE = 'Europe/London';

function parts(instant: Date, options: Intl.DateTimeFormatOptions): Record<string, string> {
  return Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, ...options }).formatToParts(instant).map((p) => [p.type, p.value]),
  );
}

function time(instant: Date): string {
  const p = parts(instant, { hour: 'numeric', minute: '2-digit', hour12: true });
  const suffix = (p.dayPeriod ?? '').toLowerCase().replace(/\s|\./g, '');
  if (p.hour === '12' && p.minute === '00') return suffix === 'am' ? 'midnight' : 'midday';
  return `${p.hour}:${p.minute}${suffix}`;
}

/** "1 December 2026" */
export function londonDate(instant: Date | string): string {
  const d = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(d.getTime())) return String(instant);
  const p = parts(d, { day: 'numeric', month: 'long', year: 'numeric' });
  return `${p.day} ${p.month} ${p.year}`;
}

/** "1 December 2026 at 8:05pm" (or "Tuesday 1 December 2026 at 8:05pm" with the weekday). */
export function londonDateTime(instant: Date | string, withWeekday = false): string {
  const d = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(d.getTime())) return String(instant);
  const weekday = withWeekday ? `${parts(d, { weekday: 'long' }).weekday} ` : '';
  return `${weekday}${londonDate(d)} at ${time(d)}`;
}

/** "8:30am on Tuesday 2 December" (a deadline in the coming days: the year is not needed). */
export function londonDeadline(instant: Date): string {
  const p = parts(instant, { weekday: 'long', day: 'numeric', month: 'long' });
  return `${time(instant)} on ${p.weekday} ${p.day} ${p.month}`;
}

/** "8:30" style wall-clock time of an instant in London, and the weekday/day/month, for sentences. */
export function londonTime(instant: Date): string {
  return time(instant);
}
export function londonDay(instant: Date): string {
  const p = parts(instant, { weekday: 'long', day: 'numeric', month: 'long' });
  return `${p.weekday} ${p.day} ${p.month}`;
}
