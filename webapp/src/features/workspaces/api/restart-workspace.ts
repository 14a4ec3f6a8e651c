import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const restartWorkspace = (userId: string, id: string) =>
  unwrap(
    api.POST('/users/{user_id}/workspace/{workspace_id}:restart', {
      params: { path: { user_id: userId, workspace_id: id } },
    }),
  );

export function useRestartWorkspace(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => restartWorkspace(userId, id),
    onSuccess: (workspace) => queryClient.setQueryData(keys.workspace(userId, workspace.id), workspace),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) });
      void queryClient.invalidateQueries({ queryKey: keys.allWorkspaces });
    },
  });
}
