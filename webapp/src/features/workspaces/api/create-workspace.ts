import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { WorkspaceInput } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const createWorkspace = (userId: string, body: WorkspaceInput) =>
  unwrap(api.POST('/users/{user_id}/workspace', { params: { path: { user_id: userId } }, body }));

export function useCreateWorkspace(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: WorkspaceInput) => createWorkspace(userId, body),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) }),
  });
}
