import { queryOptions, useQuery } from '@tanstack/react-query';
import type { Workspace } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';
import { isTransitioning } from '../status';

export const getWorkspaces = (userId: string) =>
  unwrap(api.GET('/users/{user_id}/workspace', { params: { path: { user_id: userId } } }));

// Status is re-read every few seconds only while a workspace is changing state; progress
// itself comes from the events stream.
const whileTransitioning = (list: Workspace[] | undefined) => (list?.some(isTransitioning) ? 3_000 : false);

export const workspacesQueryOptions = (userId: string) =>
  queryOptions({
    queryKey: keys.workspaces(userId),
    queryFn: () => getWorkspaces(userId),
    refetchInterval: (query) => whileTransitioning(query.state.data),
  });

export const useWorkspaces = (userId: string) => useQuery(workspacesQueryOptions(userId));
