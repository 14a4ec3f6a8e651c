import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';

// Which backend runs the workspaces ("docker", "mllab", "memory"): it decides what a settings
// change does. A 503 still names the backend, but then nothing is sure: treat as unknown.
export const getHealth = () => unwrap(api.GET('/healthz'));

export const healthQueryOptions = () =>
  queryOptions({ queryKey: ['health'], queryFn: getHealth, staleTime: 5 * 60_000, retry: false });

export const useHealth = () => useQuery(healthQueryOptions());
