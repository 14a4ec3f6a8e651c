// Snapshots of a workspace's /workspace, restores and clones (the server copies; these only ask).
import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { WorkspaceInput } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { apiBaseUrl } from '@/lib/env';
import { keys } from '@/lib/query-keys';

/** Where the browser downloads /workspace as a .tar.gz (a plain link: it sends the cookie). */
export const archiveUrl = (userId: string, workspaceId: string) =>
  `${apiBaseUrl()}/users/${encodeURIComponent(userId)}/workspace/${encodeURIComponent(workspaceId)}/archive`;

export const getSnapshots = (userId: string) =>
  unwrap(api.GET('/users/{user_id}/snapshots', { params: { path: { user_id: userId } } }));

export const snapshotsQueryOptions = (userId: string) =>
  queryOptions({ queryKey: keys.snapshots(userId), queryFn: () => getSnapshots(userId) });

export const useSnapshots = (userId: string) => useQuery(snapshotsQueryOptions(userId));

function useInvalidate(userId: string) {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: keys.snapshots(userId) });
    void queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) });
  };
}

export function useTakeSnapshot(userId: string, workspaceId: string) {
  const invalidate = useInvalidate(userId);
  return useMutation({
    mutationFn: (name: string) =>
      unwrap(
        api.POST('/users/{user_id}/workspace/{workspace_id}/snapshots', {
          params: { path: { user_id: userId, workspace_id: workspaceId } },
          body: { name },
        }),
      ),
    onSettled: invalidate,
  });
}

export function useDeleteSnapshot(userId: string) {
  const invalidate = useInvalidate(userId);
  return useMutation({
    mutationFn: (snapshotId: string) =>
      unwrap(
        api.DELETE('/users/{user_id}/snapshots/{snapshot_id}', {
          params: { path: { user_id: userId, snapshot_id: snapshotId } },
        }),
      ),
    onSettled: invalidate,
  });
}

export function useRestoreSnapshot(userId: string, snapshotId: string) {
  const invalidate = useInvalidate(userId);
  return useMutation({
    mutationFn: (body: WorkspaceInput) =>
      unwrap(
        api.POST('/users/{user_id}/snapshots/{snapshot_id}:restore', {
          params: { path: { user_id: userId, snapshot_id: snapshotId } },
          body,
        }),
      ),
    onSettled: invalidate,
  });
}

export function useCloneWorkspace(userId: string, workspaceId: string) {
  const invalidate = useInvalidate(userId);
  return useMutation({
    mutationFn: (body: WorkspaceInput) =>
      unwrap(
        api.POST('/users/{user_id}/workspace/{workspace_id}:clone', {
          params: { path: { user_id: userId, workspace_id: workspaceId } },
          body,
        }),
      ),
    onSettled: invalidate,
  });
}
