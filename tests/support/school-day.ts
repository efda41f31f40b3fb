/**
 * Operation Encompass notifications are in time only before the start of the next school day after the incident
 * (src/decisions/derive-facts.ts, with the default school calendar). A test that needs an on-time notification
 * whatever the time of day it runs at uses an incident time from here: the latest school-day start at or before
 * `now` (or `hoursAgo` earlier, if that is later), so no school day starts between the incident and now.
 */
import { DEFAULT_SCHOOL_CALENDAR, nextSchoolDayStart } from '../../src/notifications/school-day';

export function inTimeIncidentAt(hoursAgo: number, now: Date = new Date()): Date {
  const wanted = new Date(now.getTime() - hoursAgo * 60 * 60 * 1000);
  let t = wanted;
  for (
    let start = nextSchoolDayStart(t, DEFAULT_SCHOOL_CALENDAR);
    start.getTime() <= now.getTime();
    start = nextSchoolDayStart(start, DEFAULT_SCHOOL_CALENDAR)
  ) {
    t = start;
  }
  return t;
}
