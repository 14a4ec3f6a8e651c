import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { paths } from '@/api/schema';
import { api, unwrap } from '@/lib/api-client';
import { apiBaseUrl } from '@/lib/env';
import { keys } from '@/lib/query-keys';
import { searchOf, without } from './audit';

export type UsageQuery = NonNullable<paths['/usage']['get']['parameters']['query']>;
export type UsageGroup = NonNullable<UsageQuery['group']>;

/** Everyone's usage (administrators: `userId` null), or one user's own. */
export function getUsage(userId: string | null, query: UsageQuery) {
  if (userId === null) return unwrap(api.GET('/usage', { params: { query } }));
  const own = without(query, 'user_id');
  return unwrap(api.GET('/users/{user_id}/usage', { params: { path: { user_id: userId }, query: own } }));
}

export const useUsage = (userId: string | null, query: UsageQuery) =>
  useQuery({
    queryKey: keys.usage(userId, query),
    queryFn: () => getUsage(userId, query),
    placeholderData: keepPreviousData,
  });

export function usageCsvUrl(userId: string | null, query: UsageQuery): string {
  const path = userId === null ? '/usage.csv' : `/users/${encodeURIComponent(userId)}/usage.csv`;
  const filters = userId === null ? without(query, 'group') : without(query, 'group', 'user_id');
  return `${apiBaseUrl()}${path}${searchOf(filters)}`;
}

/** YYYY-MM-DD of a date in UTC (the days usage is counted in). */
export const utcDay = (date: Date) => date.toISOString().slice(0, 10);

/** The last 30 days, today (UTC) included. */
export function lastThirtyDays(now = new Date()): { since: string; until: string } {
  const since = new Date(now.getTime() - 29 * 86_400_000);
  return { since: utcDay(since), until: utcDay(now) };
}

/** Every day from `since` to `until` (inclusive), so that days without use are drawn as 0. */
export function daysBetween(since: string, until: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= Date.parse(`${until}T00:00:00Z`); t += 86_400_000)
    days.push(utcDay(new Date(t)));
  return days;
}
