import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';
import { isTransitioning } from '../status';

export const getWorkspace = (userId: string, id: string) =>
  unwrap(
    api.GET('/users/{user_id}/workspace/{workspace_id}', { params: { path: { user_id: userId, workspace_id: id } } }),
  );

export const workspaceQueryOptions = (userId: string, id: string) =>
  queryOptions({
    queryKey: keys.workspace(userId, id),
    queryFn: () => getWorkspace(userId, id),
    refetchInterval: (query) => (query.state.data && isTransitioning(query.state.data) ? 3_000 : false),
  });

export const useWorkspace = (userId: string, id: string) => useQuery(workspaceQueryOptions(userId, id));
