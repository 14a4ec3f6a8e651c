import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { Share } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const listAllShares = () => unwrap(api.GET('/shares'));

export const useAllShares = () => useQuery({ queryKey: keys.allShares, queryFn: listAllShares });

/** An administrator revokes a share, on the owner's behalf. */
export function useRevokeShare() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (share: Share) =>
      unwrap(
        api.DELETE('/users/{user_id}/workspace/{workspace_id}/shares/{grantee_id}', {
          params: { path: { user_id: share.owner, workspace_id: share.workspace_id, grantee_id: share.user_id } },
        }),
      ),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.allShares }),
  });
}
