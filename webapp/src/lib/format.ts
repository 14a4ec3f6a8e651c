// Units for people: sizes arrive in MB (MiB), durations in seconds.

export function formatMb(mb: number | null | undefined): string {
  if (mb == null) return '–';
  // The forms ask in MB: stay in MB until the numbers get long.
  if (mb >= 10 * 1024) return `${(mb / 1024).toFixed(mb >= 100 * 1024 ? 0 : 1)} GB`;
  return `${Math.round(mb)} MB`;
}

export function formatDuration(seconds: number): string {
  if (seconds <= 0) return 'Never';
  if (seconds % 86400 === 0) return plural(seconds / 86400, 'day');
  if (seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds % 60 === 0) return plural(seconds / 60, 'minute');
  return plural(seconds, 'second');
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "5 minutes ago", "in 2 hours". */
export function formatRelative(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return relative.format(seconds, 'second');
  if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return relative.format(Math.round(seconds / 3600), 'hour');
  return relative.format(Math.round(seconds / 86400), 'day');
}

export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const clock = (d: Date) => d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** "today at 20:00", "tomorrow at 08:00", "Mon 7 Dec at 08:00": a day and a time, as people say them. */
export function formatDay(iso: string, now = new Date()): string {
  const when = new Date(iso);
  const days = Math.round((startOfDay(when) - startOfDay(now)) / 86_400_000);
  if (days === 0) return `today at ${clock(when)}`;
  if (days === 1) return `tomorrow at ${clock(when)}`;
  const day = when.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
  return `${day} at ${clock(when)}`;
}

const startOfDay = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
