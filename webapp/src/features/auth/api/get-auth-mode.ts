import { queryOptions, useQuery } from '@tanstack/react-query';
import { api } from '@/lib/api-client';

export type AuthMode = 'standalone' | 'mllab';

/** How people sign in, from the public /healthz (its 503 body says it too). Unreachable:
 * standalone, whose sign-in page then shows what went wrong. */
export async function getAuthMode(): Promise<AuthMode> {
  try {
    const { data, error } = await api.GET('/healthz');
    const body = data ?? error;
    return body && 'auth_mode' in body && body.auth_mode === 'mllab' ? 'mllab' : 'standalone';
  } catch {
    return 'standalone';
  }
}

export const authModeQueryOptions = (enabled = true) =>
  queryOptions({ queryKey: ['auth-mode'], queryFn: getAuthMode, staleTime: Infinity, enabled });

export const useAuthMode = (enabled = true) => useQuery(authModeQueryOptions(enabled));
