import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { TokenRequest } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const issueToken = (body: TokenRequest) => unwrap(api.POST('/auth/tokens', { body }));

export function useIssueToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: issueToken,
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.tokens }),
  });
}
