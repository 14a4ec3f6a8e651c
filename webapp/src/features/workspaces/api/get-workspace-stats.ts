import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const getWorkspaceStats = (userId: string, id: string) =>
  unwrap(
    api.GET('/users/{user_id}/workspace/{workspace_id}/stats', {
      params: { path: { user_id: userId, workspace_id: id } },
    }),
  );

// The backend measures in the background (every 15 s by default): reading more often adds nothing.
export const workspaceStatsQueryOptions = (userId: string, id: string, live: boolean) =>
  queryOptions({
    queryKey: keys.stats(userId, id),
    queryFn: () => getWorkspaceStats(userId, id),
    refetchInterval: live ? 15_000 : false,
  });

export const useWorkspaceStats = (userId: string, id: string, live: boolean) =>
  useQuery(workspaceStatsQueryOptions(userId, id, live));
