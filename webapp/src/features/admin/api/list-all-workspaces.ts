import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import type { WorkspaceStatus } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export type AllWorkspacesFilter = { userId?: string; status?: WorkspaceStatus; limit: number; offset: number };

export const listAllWorkspaces = ({ userId, status, limit, offset }: AllWorkspacesFilter) =>
  unwrap(api.GET('/workspaces', { params: { query: { user_id: userId || undefined, status, limit, offset } } }));

export const allWorkspacesQueryOptions = (filter: AllWorkspacesFilter) =>
  queryOptions({
    queryKey: [...keys.allWorkspaces, filter],
    queryFn: () => listAllWorkspaces(filter),
    placeholderData: keepPreviousData,
    refetchInterval: (query) =>
      query.state.data?.items.some((w) => w.status === 'pending' || w.status === 'terminating') ? 3_000 : false,
  });

export const useAllWorkspaces = (filter: AllWorkspacesFilter) => useQuery(allWorkspacesQueryOptions(filter));
