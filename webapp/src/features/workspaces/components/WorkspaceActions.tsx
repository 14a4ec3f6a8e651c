import { Alert, Button, Stack } from '@mui/material';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import type { Workspace } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { useWorkspaceAction } from '../api/workspace-action';
import { useOpenInNewTab } from '../api/open-workspace';
import { canOpen } from '../links';
import { canRestart, canStart, canStop } from '../status';
import { DeleteDialog } from './DeleteDialog';
import { SettingsDialog } from './SettingsDialog';

type Props = { workspace: Workspace; showDetails?: boolean; onDeleted?: () => void };

/** Open, Start / Stop / Restart, Settings, Details, Delete: what applies to its state. */
export function WorkspaceActions({ workspace, showDetails = true, onDeleted }: Props) {
  const userId = workspace.user_id;
  const start = useWorkspaceAction(userId, 'start');
  const stop = useWorkspaceAction(userId, 'stop');
  const restart = useWorkspaceAction(userId, 'restart');
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<'settings' | 'delete' | null>(null);
  const opening = useOpenInNewTab(workspace);
  const openable = canOpen(workspace);
  const failure = start.error ?? stop.error ?? restart.error ?? opening.error;
  const busy = start.isPending || stop.isPending || restart.isPending;
  const reset = () => {
    [start, stop, restart].forEach((m) => m.reset());
    opening.reset();
  };

  return (
    <>
      <Stack direction="row" useFlexGap sx={{ flexWrap: 'wrap', gap: 1 }}>
        {openable && (
          <Button variant="contained" onClick={() => (reset(), opening.open())}>
            Open
          </Button>
        )}
        {canStart(workspace) && (
          <Button
            variant={openable ? 'outlined' : 'contained'}
            disabled={busy}
            onClick={() => (reset(), start.mutate(workspace.id))}
          >
            Start
          </Button>
        )}
        {canStop(workspace) && (
          <Button variant="outlined" disabled={busy} onClick={() => (reset(), stop.mutate(workspace.id))}>
            Stop
          </Button>
        )}
        {canRestart(workspace) && (
          <Button variant="outlined" disabled={busy} onClick={() => (reset(), restart.mutate(workspace.id))}>
            Restart
          </Button>
        )}
        <Button variant="outlined" onClick={() => setDialog('settings')}>
          Settings
        </Button>
        {showDetails && (
          <Button
            variant="text"
            onClick={() => navigate(`/users/${encodeURIComponent(userId)}/workspace/${workspace.id}`)}
          >
            Details
          </Button>
        )}
        <Button variant="text" color="error" onClick={() => setDialog('delete')}>
          Delete
        </Button>
      </Stack>
      {failure && (
        <Alert severity="error" role="alert" sx={{ mt: 1 }} onClose={reset}>
          {errorMessage(failure)}
        </Alert>
      )}
      {dialog === 'settings' && <SettingsDialog workspace={workspace} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && (
        <DeleteDialog workspace={workspace} onClose={() => setDialog(null)} onDeleted={onDeleted} />
      )}
    </>
  );
}
