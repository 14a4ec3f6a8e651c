import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { paths } from '@/api/schema';
import { api, unwrap } from '@/lib/api-client';
import { apiBaseUrl } from '@/lib/env';
import { keys } from '@/lib/query-keys';

export type AuditQuery = NonNullable<paths['/audit']['get']['parameters']['query']>;

/** Whose entries: everyone's (administrators), or those about one user's own workspaces. */
export type AuditScope = { admin: true } | { userId: string };

export function listAudit(scope: AuditScope, query: AuditQuery) {
  if ('admin' in scope) return unwrap(api.GET('/audit', { params: { query } }));
  const own = without(query, 'actor', 'owner');
  return unwrap(api.GET('/users/{user_id}/audit', { params: { path: { user_id: scope.userId }, query: own } }));
}

export const useAudit = (scope: AuditScope, query: AuditQuery) =>
  useQuery({
    queryKey: keys.audit('admin' in scope ? null : scope.userId, query),
    queryFn: () => listAudit(scope, query),
    placeholderData: keepPreviousData, // (the table stays while the next page loads)
  });

/** The CSV export of the same entries (administrators): a plain link, signed in by the cookie. */
export function auditCsvUrl(query: AuditQuery): string {
  return `${apiBaseUrl()}/audit.csv${searchOf(without(query, 'limit', 'offset'))}`;
}

/** A copy of `value` without `keys`. */
export function without<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  const copy = { ...value };
  for (const key of keys) delete copy[key];
  return copy;
}

export function searchOf(query: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value != null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** "createWorkspace" → "Create workspace": the API's operation ids, as words. */
export function actionLabel(action: string): string {
  const words = action.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The actions a filter offers (what the manager writes; others are still shown). */
export const KNOWN_ACTIONS = [
  'createWorkspace',
  'updateWorkspace',
  'startWorkspace',
  'stopWorkspace',
  'restartWorkspace',
  'deleteWorkspace',
  'openWorkspace',
  'shareWorkspace',
  'unshareWorkspace',
  'applyTemplate',
  'postponeWorkspaceStop',
  'extendWorkspace',
  'deleteKeptVolume',
  'takeSnapshot',
  'deleteSnapshot',
  'restoreSnapshot',
  'cloneWorkspace',
  'login',
  'logout',
  'issueToken',
  'revokeToken',
  'putTemplate',
  'deleteTemplate',
  'automaticStop',
  'scheduledStart',
  'reconcilerRemoval',
];
