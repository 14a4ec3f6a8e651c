import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const login = (token: string) => unwrap(api.POST('/auth/login', { body: { token } }));

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: login,
    onSuccess: (me) => {
      queryClient.clear();
      queryClient.setQueryData(keys.me, me);
    },
  });
}
