import {
  Alert,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  List,
  ListItem,
  ListItemText,
  Stack,
  TextField,
} from '@mui/material';
import { type FormEvent, useId, useState } from 'react';
import type { Snapshot, Workspace } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { formatDateTime } from '@/lib/format';
import { useCopyProgress } from '../api/copy-progress';
import { useDeleteSnapshot, useRestoreSnapshot, useSnapshots, useTakeSnapshot } from '../api/snapshots';
import { formatBytes } from '../format';
import { CopyProgress } from './CopyProgress';
import { NewWorkspaceFromDialog } from './NewWorkspaceFromDialog';

// The server's rule (snapshots.SNAPSHOT_NAME_PATTERN).
const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** What a snapshot holds, and whether it is one consistent moment. */
export function describe(snapshot: Snapshot): string {
  const consistency = snapshot.changed_during_copy
    ? `${snapshot.changed_during_copy} files changed while it was taken (they may be from just before or after the rest)`
    : 'consistent';
  return [formatBytes(snapshot.size), `${snapshot.files} files`, formatDateTime(snapshot.created_at), consistency].join(
    ' · ',
  );
}

type Props = { workspace: Workspace; onClose: () => void };

/** A workspace's snapshots: take one (named), see them, restore one into a new workspace, delete. */
export function SnapshotsDialog({ workspace, onClose }: Props) {
  const userId = workspace.user_id;
  const snapshots = useSnapshots(userId);
  const take = useTakeSnapshot(userId, workspace.id);
  const remove = useDeleteSnapshot(userId);
  const [name, setName] = useState('');
  const [restoring, setRestoring] = useState<Snapshot | null>(null);
  const titleId = useId();
  const percent = useCopyProgress(userId, take.isPending, { workspaceId: workspace.id });
  const mine = (snapshots.data ?? []).filter((s) => s.workspace_id === workspace.id);
  const valid = SNAPSHOT_NAME.test(name);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    remove.reset();
    take.mutate(name, { onSuccess: () => setName('') });
  };
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="sm" fullWidth>
      <DialogTitle id={titleId}>Snapshots of “{workspace.display_name}”</DialogTitle>
      <DialogContent>
        <DialogContentText sx={{ mb: 2 }}>
          A snapshot is a copy of /workspace kept apart from the workspace (it outlives it), counted toward your disk
          quota. A running workspace can be snapshotted: files it changes meanwhile are counted and shown.
        </DialogContentText>
        <Stack component="form" direction="row" onSubmit={submit} sx={{ gap: 1, alignItems: 'flex-start' }}>
          <TextField
            label="Snapshot name"
            value={name}
            onChange={(event) => setName(event.target.value)}
            size="small"
            error={Boolean(name) && !valid}
            helperText={
              name && !valid ? 'Letters, digits, spaces, “.”, “_” and “-”; 64 at most, a letter or digit first.' : ' '
            }
            sx={{ flex: 1 }}
          />
          <Button type="submit" variant="contained" disabled={!valid} loading={take.isPending}>
            Take snapshot
          </Button>
        </Stack>
        {take.isPending && <CopyProgress label="Taking the snapshot" percent={percent} />}
        {[take.error, remove.error, snapshots.error].filter(Boolean).map((error, index) => (
          <Alert key={index} severity="error" role="alert" sx={{ mt: 1 }}>
            {errorMessage(error)}
          </Alert>
        ))}
        {snapshots.isPending ? (
          <Loading label="Loading snapshots" />
        ) : mine.length === 0 ? (
          <DialogContentText sx={{ mt: 2 }}>This workspace has no snapshots yet.</DialogContentText>
        ) : (
          <List aria-label="Snapshots">
            {mine.map((snapshot) => (
              <ListItem
                key={snapshot.id}
                divider
                secondaryAction={
                  <Stack direction="row" sx={{ gap: 1 }}>
                    <Button onClick={() => setRestoring(snapshot)}>Restore</Button>
                    <Button
                      color="error"
                      loading={remove.isPending && remove.variables === snapshot.id}
                      onClick={() => (take.reset(), remove.mutate(snapshot.id))}
                    >
                      Delete
                    </Button>
                  </Stack>
                }
                sx={{ pr: 22 }}
              >
                <ListItemText primary={snapshot.name} secondary={describe(snapshot)} />
              </ListItem>
            ))}
          </List>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
      {restoring && <RestoreDialog userId={userId} snapshot={restoring} onClose={() => setRestoring(null)} />}
    </Dialog>
  );
}

export function RestoreDialog({
  userId,
  snapshot,
  onClose,
}: {
  userId: string;
  snapshot: Snapshot;
  onClose: () => void;
}) {
  const restore = useRestoreSnapshot(userId, snapshot.id);
  return (
    <NewWorkspaceFromDialog
      userId={userId}
      title={`Restore “${snapshot.name}”`}
      what={`the files of snapshot “${snapshot.name}”`}
      suggestedName={`${snapshot.workspace_name} (${snapshot.name})`}
      create={restore}
      onClose={onClose}
    />
  );
}
