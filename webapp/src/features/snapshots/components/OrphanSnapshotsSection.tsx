import { Alert, Button, List, ListItem, ListItemText, Paper, Stack, Typography } from '@mui/material';
import { useId, useState } from 'react';
import type { Snapshot } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { useDeleteSnapshot, useSnapshots } from '../api/snapshots';
import { RestoreDialog, describe } from './SnapshotsDialog';

type Props = { userId: string; workspaceIds: string[]; mayManage: boolean };

/** Snapshots of workspaces that were deleted since: they are not under any workspace's
 * Snapshots button, but still take disk (and quota) and can be restored. Shown only if any. */
export function OrphanSnapshotsSection({ userId, workspaceIds, mayManage }: Props) {
  const snapshots = useSnapshots(userId);
  const remove = useDeleteSnapshot(userId);
  const [restoring, setRestoring] = useState<Snapshot | null>(null);
  const headingId = useId();
  const orphans = (snapshots.data ?? []).filter((s) => !workspaceIds.includes(s.workspace_id));
  if (!orphans.length) return null;
  return (
    <Paper component="section" aria-labelledby={headingId} variant="outlined" sx={{ mt: 4, p: 2 }}>
      <Typography id={headingId} variant="h6" component="h2">
        Snapshots of deleted workspaces
      </Typography>
      <Typography color="text.secondary">
        They count toward the disk quota until they are deleted; each can be restored into a new workspace.
      </Typography>
      {Boolean(remove.error) && (
        <Alert severity="error" role="alert" sx={{ mt: 1 }}>
          {errorMessage(remove.error)}
        </Alert>
      )}
      <List>
        {orphans.map((snapshot) => (
          <ListItem
            key={snapshot.id}
            divider
            sx={{ pr: 22 }}
            secondaryAction={
              mayManage && (
                <Stack direction="row" sx={{ gap: 1 }}>
                  <Button onClick={() => setRestoring(snapshot)}>Restore</Button>
                  <Button
                    color="error"
                    loading={remove.isPending && remove.variables === snapshot.id}
                    onClick={() => remove.mutate(snapshot.id)}
                  >
                    Delete
                  </Button>
                </Stack>
              )
            }
          >
            <ListItemText primary={`${snapshot.workspace_name}: ${snapshot.name}`} secondary={describe(snapshot)} />
          </ListItem>
        ))}
      </List>
      {restoring && <RestoreDialog userId={userId} snapshot={restoring} onClose={() => setRestoring(null)} />}
    </Paper>
  );
}
