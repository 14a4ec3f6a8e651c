import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ShareAccess, SharedWorkspace } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';
import { isTransitioning } from '../status';

type Where = { user_id: string; workspace_id: string };

export const listShares = (path: Where) =>
  unwrap(api.GET('/users/{user_id}/workspace/{workspace_id}/shares', { params: { path } }));

export const useShares = (userId: string, id: string) =>
  useQuery({ queryKey: keys.shares(userId, id), queryFn: () => listShares({ user_id: userId, workspace_id: id }) });

export const shareWorkspace = (path: Where, granteeId: string, access: ShareAccess) =>
  unwrap(
    api.PUT('/users/{user_id}/workspace/{workspace_id}/shares/{grantee_id}', {
      params: { path: { ...path, grantee_id: granteeId } },
      body: { access },
    }),
  );

export const unshareWorkspace = (path: Where, granteeId: string) =>
  unwrap(
    api.DELETE('/users/{user_id}/workspace/{workspace_id}/shares/{grantee_id}', {
      params: { path: { ...path, grantee_id: granteeId } },
    }),
  );

function useInvalidateShares(userId: string, id: string) {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: keys.shares(userId, id) });
    void queryClient.invalidateQueries({ queryKey: keys.allShares });
    void queryClient.invalidateQueries({ queryKey: keys.allSharedWith }); // (a grantee who left)
  };
}

export function useShareWorkspace(userId: string, id: string) {
  const onSettled = useInvalidateShares(userId, id);
  return useMutation({
    mutationFn: ({ granteeId, access }: { granteeId: string; access: ShareAccess }) =>
      shareWorkspace({ user_id: userId, workspace_id: id }, granteeId, access),
    onSettled,
  });
}

export function useUnshareWorkspace(userId: string, id: string) {
  const onSettled = useInvalidateShares(userId, id);
  return useMutation({
    mutationFn: (granteeId: string) => unshareWorkspace({ user_id: userId, workspace_id: id }, granteeId),
    onSettled,
  });
}

export const listSharedWith = (userId: string) =>
  unwrap(api.GET('/users/{user_id}/shared', { params: { path: { user_id: userId } } }));

// Shares are made by others: looked at again now and then, and often while one changes state.
const refetchEvery = (list: SharedWorkspace[] | undefined) =>
  list?.some((s) => isTransitioning(s.workspace)) ? 3_000 : 30_000;

export const sharedWithQueryOptions = (userId: string) =>
  queryOptions({
    queryKey: keys.sharedWith(userId),
    queryFn: () => listSharedWith(userId),
    refetchInterval: (query) => refetchEvery(query.state.data),
  });

export const useSharedWith = (userId: string, enabled = true) =>
  useQuery({ ...sharedWithQueryOptions(userId), enabled });
