// Data of deleted workspaces that their user kept: it still takes disk (and quota) until deleted.
import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const getKeptVolumes = (userId: string) =>
  unwrap(api.GET('/users/{user_id}/kept-volumes', { params: { path: { user_id: userId } } }));

export const keptVolumesQueryOptions = (userId: string) =>
  queryOptions({ queryKey: keys.keptVolumes(userId), queryFn: () => getKeptVolumes(userId) });

export const useKeptVolumes = (userId: string) => useQuery(keptVolumesQueryOptions(userId));

export const deleteKeptVolume = (userId: string, workspaceId: string) =>
  unwrap(
    api.DELETE('/users/{user_id}/kept-volumes/{workspace_id}', {
      params: { path: { user_id: userId, workspace_id: workspaceId } },
    }),
  );

export function useDeleteKeptVolume(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (workspaceId: string) => deleteKeptVolume(userId, workspaceId),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.keptVolumes(userId) }),
  });
}
