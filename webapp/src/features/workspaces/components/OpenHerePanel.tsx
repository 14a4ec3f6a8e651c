import { Alert, Box, Button, CircularProgress } from '@mui/material';
import { useEffect, useState } from 'react';
import type { Workspace } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { fetchOpenUrl, useOpenInNewTab } from '../api/open-workspace';
import { canOpen } from '../links';

export function OpenHerePanel({ workspace }: { workspace: Workspace }) {
  if (!canOpen(workspace))
    return (
      <Alert severity="info" role="status">
        The workspace opens here once it is running. Start it first.
      </Alert>
    );
  return <WorkspaceFrame workspace={workspace} />;
}

/** The workspace in a frame, at an address asked for when the frame is shown. */
function WorkspaceFrame({ workspace }: { workspace: Workspace }) {
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const newTab = useOpenInNewTab(workspace);
  useEffect(() => {
    let current = true;
    fetchOpenUrl(workspace).then(
      (url) => current && setSrc(url),
      (failure: unknown) => current && setError(failure),
    );
    return () => {
      current = false;
    };
    // A new address only for another workspace: each one opens a new session.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [workspace.id, workspace.user_id]);

  return (
    <>
      <Button onClick={newTab.open} sx={{ mb: 1 }}>
        Open in a new tab instead
      </Button>
      {(error ?? newTab.error) != null && (
        <Alert severity="error" role="alert" sx={{ mb: 1 }}>
          {errorMessage(error ?? newTab.error)}
        </Alert>
      )}
      {src ? (
        <Box
          component="iframe"
          src={src}
          title={`Workspace ${workspace.display_name}`}
          sx={{ width: '100%', height: '75vh', border: 1, borderColor: 'divider', borderRadius: 1 }}
          allow="clipboard-read; clipboard-write; fullscreen"
        />
      ) : (
        !error && <CircularProgress aria-label="Opening the workspace" />
      )}
    </>
  );
}
