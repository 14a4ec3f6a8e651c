import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

/** The data volume is kept unless `deleteData` (the API's `delete_volumes`). */
export const deleteWorkspace = (userId: string, id: string, deleteData: boolean) =>
  unwrap(
    api.DELETE('/users/{user_id}/workspace/{workspace_id}', {
      params: { path: { user_id: userId, workspace_id: id }, query: { delete_volumes: deleteData } },
    }),
  );

export function useDeleteWorkspace(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, deleteData }: { id: string; deleteData: boolean }) => deleteWorkspace(userId, id, deleteData),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) });
      void queryClient.invalidateQueries({ queryKey: keys.allWorkspaces });
      void queryClient.invalidateQueries({ queryKey: keys.keptVolumes(userId) });
    },
  });
}
