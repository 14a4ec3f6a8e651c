// Live start progress from GET /users/{u}/workspace/{id}/events (server-sent events). An
// EventSource sends the sign-in cookie by itself (it cannot send headers); the stream replays
// the workspace's recent phases, then follows it until it settles.
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { WorkspaceEvent } from '@/api/types';
import { apiBaseUrl } from '@/lib/env';
import { keys } from '@/lib/query-keys';
import { PHASES, TERMINAL, initialProgress, reduceProgress, type Progress } from '../progress';

export const workspaceEventsUrl = (userId: string, id: string) =>
  `${apiBaseUrl()}/users/${encodeURIComponent(userId)}/workspace/${encodeURIComponent(id)}/events`;

/** The progress of a workspace while `enabled` (it is starting); null before the first event. */
export function useFollowWorkspace(userId: string, id: string, enabled: boolean): Progress | null {
  const queryClient = useQueryClient();
  const [progress, setProgress] = useState<Progress | null>(null);

  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource(workspaceEventsUrl(userId, id));
    let state = initialProgress;
    const onEvent = (message: MessageEvent<string>) => {
      const event = JSON.parse(message.data) as WorkspaceEvent;
      state = reduceProgress(state, event);
      setProgress(state);
      if (TERMINAL.has(event.phase)) refresh();
    };
    const refresh = () => {
      void queryClient.invalidateQueries({ queryKey: keys.workspaces(userId) });
      void queryClient.invalidateQueries({ queryKey: keys.allWorkspaces });
    };
    // The server ends the stream once the workspace settled; an EventSource would reconnect,
    // so stop here. (The replayed history may hold older terminal phases: only the end counts.)
    // A stream that ended before (a timeout) is reconnected by the EventSource itself.
    const onError = () => {
      if (state.done || source.readyState === EventSource.CLOSED) {
        source.close();
        refresh();
      }
    };
    for (const phase of PHASES) source.addEventListener(phase, onEvent);
    source.addEventListener('error', onError);
    return () => {
      source.close();
      setProgress(null);
    };
  }, [userId, id, enabled, queryClient]);

  return progress;
}
