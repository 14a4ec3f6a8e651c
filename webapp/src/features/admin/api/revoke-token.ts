import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const revokeToken = (tokenId: string) =>
  unwrap(api.DELETE('/auth/tokens/{token_id}', { params: { path: { token_id: tokenId } } }));

export function useRevokeToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: revokeToken,
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.tokens }),
  });
}
