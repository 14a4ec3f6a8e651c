import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const getWorkspaceLogs = (userId: string, id: string, tail = 500) =>
  unwrap(
    api.GET('/users/{user_id}/workspace/{workspace_id}/logs', {
      params: { path: { user_id: userId, workspace_id: id }, query: { tail } },
      parseAs: 'text',
    }),
  );

export const workspaceLogsQueryOptions = (userId: string, id: string) =>
  queryOptions({ queryKey: keys.logs(userId, id), queryFn: () => getWorkspaceLogs(userId, id) });

export const useWorkspaceLogs = (userId: string, id: string) => useQuery(workspaceLogsQueryOptions(userId, id));
