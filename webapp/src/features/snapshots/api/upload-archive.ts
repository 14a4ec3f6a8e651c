// "Create from archive": the file goes up as the request's body, its settings in the query.
// XMLHttpRequest rather than fetch: only it reports how much of a body has been sent.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { Workspace, WorkspaceInput } from '@/api/types';
import { apiBaseUrl } from '@/lib/env';
import { ApiError, detailMessage } from '@/lib/errors';
import { keys } from '@/lib/query-keys';

export const uploadUrl = (userId: string, settings: WorkspaceInput) =>
  `${apiBaseUrl()}/users/${encodeURIComponent(userId)}/workspace:upload?workspace=${encodeURIComponent(
    JSON.stringify(settings),
  )}`;

/** The new workspace; `onProgress` gets the share of the file sent (0–1). */
export function uploadArchive(
  userId: string,
  file: Blob,
  settings: WorkspaceInput,
  onProgress: (sent: number) => void,
): Promise<Workspace> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', uploadUrl(userId, settings));
    request.withCredentials = true;
    request.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    request.setRequestHeader('Content-Type', 'application/octet-stream');
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // (not JSON: the status says enough)
      }
      if (request.status >= 200 && request.status < 300) resolve(body as Workspace);
      else reject(new ApiError(request.status, detailMessage(body, request.status)));
    };
    request.onerror = () => reject(new ApiError(0, detailMessage(undefined, 0)));
    request.send(file);
  });
}

export function useUploadArchive(userId: string, onProgress: (sent: number) => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ file, settings }: { file: Blob; settings: WorkspaceInput }) =>
      uploadArchive(userId, file, settings, onProgress),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) }),
  });
}
