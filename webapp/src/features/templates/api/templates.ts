import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TemplateInput } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const listTemplates = () => unwrap(api.GET('/templates'));

export const useTemplates = () => useQuery({ queryKey: keys.templates, queryFn: listTemplates });

export const listTemplateUses = (name: string) =>
  unwrap(api.GET('/templates/{name}/workspaces', { params: { path: { name } } }));

export const useTemplateUses = (name: string) =>
  useQuery({ queryKey: keys.templateUses(name), queryFn: () => listTemplateUses(name) });

function useInvalidateTemplates() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: keys.templates });
    // What workspaces say of their template ("a newer version is available") changes too.
    void queryClient.invalidateQueries({ queryKey: ['workspaces'] });
  };
}

export function usePutTemplate() {
  const onSettled = useInvalidateTemplates();
  return useMutation({
    mutationFn: ({ name, body }: { name: string; body: TemplateInput }) =>
      unwrap(api.PUT('/templates/{name}', { params: { path: { name } }, body })),
    onSettled,
  });
}

export function useDeleteTemplate() {
  const onSettled = useInvalidateTemplates();
  return useMutation({
    mutationFn: (name: string) => unwrap(api.DELETE('/templates/{name}', { params: { path: { name } } })),
    onSettled,
  });
}

export function useApplyTemplate(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(
        api.POST('/users/{user_id}/workspace/{workspace_id}:apply-template', {
          params: { path: { user_id: userId, workspace_id: id } },
        }),
      ),
    onSuccess: (workspace) => queryClient.setQueryData(keys.workspace(userId, workspace.id), workspace),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) });
      void queryClient.invalidateQueries({ queryKey: keys.templates });
    },
  });
}
