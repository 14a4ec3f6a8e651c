import { useState } from 'react';
import type { Workspace } from '@/api/types';
import { api, unwrap } from '@/lib/api-client';
import { appBaseUrl } from '@/lib/env';
import { resolveOpenUrl } from '../links';

/**
 * Where to open a running workspace, asked afresh each time: on the manager's proxy the answer
 * is the workspace's own origin with a code that works once, within a minute.
 */
export async function fetchOpenUrl(workspace: Workspace): Promise<string> {
  const opening = await unwrap(
    api.POST('/users/{user_id}/workspace/{workspace_id}:open', {
      params: { path: { user_id: workspace.user_id, workspace_id: workspace.id } },
    }),
  );
  return new URL(resolveOpenUrl(opening.url), appBaseUrl()).href;
}

/**
 * Opens a workspace in a new tab. The tab is opened at once, inside the click (browsers block
 * tabs opened later), and sent on once the manager answers; it never gets a handle on this
 * page (the workspace's owner controls what it shows).
 */
export function useOpenInNewTab(workspace: Workspace) {
  const [error, setError] = useState<unknown>(null);
  const open = () => {
    setError(null);
    const tab = window.open('', '_blank');
    if (tab) tab.opener = null;
    fetchOpenUrl(workspace).then(
      (url) => {
        if (tab) tab.location.href = url;
        else window.open(url, '_blank', 'noopener');
      },
      (failure: unknown) => {
        tab?.close();
        setError(failure);
      },
    );
  };
  return { open, error, reset: () => setError(null) };
}
