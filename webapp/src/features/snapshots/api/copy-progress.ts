// How far a copy of /workspace got (a snapshot, a restore, a clone, an upload), from the user's
// events: `copying` events carry the bytes copied so far (`current`) of all (`total`). The
// user's stream, not the workspace's: that one ends at once for a workspace that runs or is stopped.
import { useEffect, useState } from 'react';
import type { WorkspaceEvent } from '@/api/types';
import { apiBaseUrl } from '@/lib/env';

const eventsUrl = (userId: string) => `${apiBaseUrl()}/users/${encodeURIComponent(userId)}/events`;

/** Which copy: of this workspace, and/or the one whose events' message starts so. */
export type CopyMatch = { workspaceId?: string; messageStart?: string };

/** Percent done of the copy that `match` picks while `enabled` (null until a report says). */
export function useCopyProgress(userId: string, enabled: boolean, match: CopyMatch): number | null {
  const [percent, setPercent] = useState<number | null>(null);
  const { workspaceId, messageStart } = match;
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource(eventsUrl(userId));
    const onCopying = (message: MessageEvent<string>) => {
      const event = JSON.parse(message.data) as WorkspaceEvent;
      if (workspaceId && event.workspace_id !== workspaceId) return;
      if (messageStart && !event.message.startsWith(messageStart)) return;
      if (event.current != null && event.total) setPercent(Math.min(100, (100 * event.current) / event.total));
    };
    source.addEventListener('copying', onCopying);
    return () => {
      source.close();
      setPercent(null);
    };
  }, [userId, enabled, workspaceId, messageStart]);
  return percent;
}
