import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { WorkspaceUpdate } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const updateWorkspace = (userId: string, id: string, body: WorkspaceUpdate) =>
  unwrap(
    api.PATCH('/users/{user_id}/workspace/{workspace_id}', {
      params: { path: { user_id: userId, workspace_id: id } },
      body,
    }),
  );

export function useUpdateWorkspace(userId: string, id: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: WorkspaceUpdate) => updateWorkspace(userId, id, body),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) }),
  });
}
