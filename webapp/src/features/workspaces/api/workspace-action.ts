import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

/** The verbs on one workspace that take no body and answer with the workspace. */
export type WorkspaceVerb = 'start' | 'stop' | 'restart' | 'extend' | 'postpone';

type Where = { user_id: string; workspace_id: string };

// One call each: the generated client types every path on its own.
const calls = {
  start: (path: Where) => api.POST('/users/{user_id}/workspace/{workspace_id}:start', { params: { path } }),
  stop: (path: Where) => api.POST('/users/{user_id}/workspace/{workspace_id}:stop', { params: { path } }),
  restart: (path: Where) => api.POST('/users/{user_id}/workspace/{workspace_id}:restart', { params: { path } }),
  extend: (path: Where) => api.POST('/users/{user_id}/workspace/{workspace_id}:extend', { params: { path } }),
  postpone: (path: Where) => api.POST('/users/{user_id}/workspace/{workspace_id}:postpone', { params: { path } }),
};

export const workspaceAction = (verb: WorkspaceVerb, userId: string, id: string) =>
  unwrap(calls[verb]({ user_id: userId, workspace_id: id }));

export function useWorkspaceAction(userId: string, verb: WorkspaceVerb) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => workspaceAction(verb, userId, id),
    onSuccess: (workspace) => queryClient.setQueryData(keys.workspace(userId, workspace.id), workspace),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) });
      void queryClient.invalidateQueries({ queryKey: keys.allWorkspaces });
      void queryClient.invalidateQueries({ queryKey: keys.allSharedWith }); // (a grantee's list)
    },
  });
}
