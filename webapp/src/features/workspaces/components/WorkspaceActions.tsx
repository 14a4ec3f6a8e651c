import { Alert, Button, Stack } from '@mui/material';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import type { ShareAccess, Workspace } from '@/api/types';
import { useMe } from '@/features/auth';
import { useConfig } from '@/features/config';
import { SnapshotActions } from '@/features/snapshots';
import { errorMessage } from '@/lib/errors';
import { useWorkspaceAction } from '../api/workspace-action';
import { useOpenInNewTab } from '../api/open-workspace';
import { useUnshareWorkspace } from '../api/shares';
import { canOpen } from '../links';
import { canRestart, canStart, canStop } from '../status';
import { DeleteDialog } from './DeleteDialog';
import { SettingsDialog } from './SettingsDialog';
import { ShareDialog } from './ShareDialog';

type Props = {
  workspace: Workspace;
  showDetails?: boolean;
  onDeleted?: () => void;
  /** What a share of someone else's workspace allows; unset: the caller owns it (or administers). */
  access?: ShareAccess;
};

/** Open, Start / Stop / Restart, Settings, Share, Details, Delete: what applies to its state and
 * to what the caller may do (the server decides; buttons that would be refused are not shown). */
export function WorkspaceActions({ workspace, showDetails = true, onDeleted, access }: Props) {
  const owns = access === undefined;
  const operates = owns || access === 'operate';
  const sharing = Boolean(useConfig().data?.sharing_available);
  const me = useMe().data;
  const leave = useUnshareWorkspace(workspace.user_id, workspace.id);
  const userId = workspace.user_id;
  const start = useWorkspaceAction(userId, 'start');
  const stop = useWorkspaceAction(userId, 'stop');
  const restart = useWorkspaceAction(userId, 'restart');
  const navigate = useNavigate();
  const [dialog, setDialog] = useState<'settings' | 'share' | 'delete' | null>(null);
  const opening = useOpenInNewTab(workspace);
  const openable = canOpen(workspace);
  const failure = start.error ?? stop.error ?? restart.error ?? opening.error ?? leave.error;
  const busy = start.isPending || stop.isPending || restart.isPending;
  const reset = () => {
    [start, stop, restart].forEach((m) => m.reset());
    leave.reset();
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
        {operates && canStart(workspace) && (
          <Button
            variant={openable ? 'outlined' : 'contained'}
            disabled={busy}
            onClick={() => (reset(), start.mutate(workspace.id))}
          >
            Start
          </Button>
        )}
        {operates && canStop(workspace) && (
          <Button variant="outlined" disabled={busy} onClick={() => (reset(), stop.mutate(workspace.id))}>
            Stop
          </Button>
        )}
        {operates && canRestart(workspace) && (
          <Button variant="outlined" disabled={busy} onClick={() => (reset(), restart.mutate(workspace.id))}>
            Restart
          </Button>
        )}
        {owns && (
          <Button variant="outlined" onClick={() => setDialog('settings')}>
            Settings
          </Button>
        )}
        {owns && sharing && (
          <Button variant="outlined" onClick={() => setDialog('share')}>
            Share
          </Button>
        )}
        {owns && <SnapshotActions workspace={workspace} />}
        {showDetails && (
          <Button
            variant="text"
            onClick={() => navigate(`/users/${encodeURIComponent(userId)}/workspace/${workspace.id}`)}
          >
            Details
          </Button>
        )}
        {!owns && me && (
          <Button variant="text" color="error" onClick={() => (reset(), leave.mutate(me.id))} loading={leave.isPending}>
            Leave
          </Button>
        )}
        {owns && (
          <Button variant="text" color="error" onClick={() => setDialog('delete')}>
            Delete
          </Button>
        )}
      </Stack>
      {failure && (
        <Alert severity="error" role="alert" sx={{ mt: 1 }} onClose={reset}>
          {errorMessage(failure)}
        </Alert>
      )}
      {dialog === 'settings' && <SettingsDialog workspace={workspace} onClose={() => setDialog(null)} />}
      {dialog === 'share' && <ShareDialog workspace={workspace} onClose={() => setDialog(null)} />}
      {dialog === 'delete' && (
        <DeleteDialog workspace={workspace} onClose={() => setDialog(null)} onDeleted={onDeleted} />
      )}
    </>
  );
}
