// Schedules in the form and on the page: values, the server's rules (models.Schedule,
// validation.check_schedule) checked inline, and a sentence that describes one.
import type { ConfigOptions, Schedule, Weekday } from '@/api/types';

export const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
export const DAY_LABELS: Record<Weekday, string> = {
  mon: 'Mon',
  tue: 'Tue',
  wed: 'Wed',
  thu: 'Thu',
  fri: 'Fri',
  sat: 'Sat',
  sun: 'Sun',
};

export type ScheduleValues = { on: boolean; days: Weekday[]; start: string; stop: string; timezone: string };

/** The browser's time zone: where a user means their times. */
export const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

export function scheduleValues(
  schedule: Schedule | null | undefined,
  fallbackZone = browserTimeZone(),
): ScheduleValues {
  if (!schedule)
    return { on: false, days: WEEKDAYS.slice(0, 5), start: '08:00', stop: '18:00', timezone: fallbackZone };
  return {
    on: true,
    days: schedule.days ?? WEEKDAYS.slice(0, 5),
    start: schedule.start ?? '',
    stop: schedule.stop ?? '',
    timezone: schedule.timezone ?? 'UTC',
  };
}

export function toSchedule(values: ScheduleValues): Schedule | null {
  if (!values.on) return null;
  return {
    timezone: values.timezone,
    days: WEEKDAYS.filter((d) => values.days.includes(d)),
    start: values.start || null,
    stop: values.stop || null,
  };
}

export function checkSchedule(values: ScheduleValues, config: ConfigOptions): string | undefined {
  if (!values.on) return undefined;
  if (!values.days.length) return 'Choose at least one day.';
  if (!values.start && !values.stop) return 'Give a start time, a stop time or both.';
  if (values.start && values.start === values.stop) return 'Start and stop cannot be at the same time.';
  const latest = config.schedule_stop_latest;
  if (latest && values.stop && values.stop > latest) return `Workspaces stop by ${latest} at the latest here.`;
  return undefined;
}

/** "Mon–Fri: starts 08:00, stops 20:00 (Europe/Berlin)". */
export function describeSchedule(schedule: Schedule): string {
  const days = schedule.days ?? [];
  const names =
    days.length === 7
      ? 'Every day'
      : days.join() === 'mon,tue,wed,thu,fri'
        ? 'Mon–Fri'
        : days.map((d) => DAY_LABELS[d]).join(', ');
  const parts = [schedule.start && `starts ${schedule.start}`, schedule.stop && `stops ${schedule.stop}`].filter(
    Boolean,
  );
  return `${names}: ${parts.join(', ')} (${schedule.timezone ?? 'UTC'})`;
}
