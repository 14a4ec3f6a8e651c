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
  Paper,
  Typography,
} from '@mui/material';
import { useId, useState } from 'react';
import type { KeptVolume } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { formatDateTime, formatMb } from '@/lib/format';
import { useDeleteKeptVolume, useKeptVolumes } from '../api/kept-volumes';

const nameOf = (kept: KeptVolume) => kept.display_name || kept.workspace_id;

/** Data kept from deleted workspaces, so that a user can find it and free its disk. Shown only
 * when there is some. */
export function KeptDataSection({ userId, mayManage }: { userId: string; mayManage: boolean }) {
  const kept = useKeptVolumes(userId);
  const [deleting, setDeleting] = useState<KeptVolume | null>(null);
  const headingId = useId();
  if (!kept.data?.length) return null;
  return (
    <Paper component="section" aria-labelledby={headingId} variant="outlined" sx={{ mt: 4, p: 2 }}>
      <Typography id={headingId} variant="h6" component="h2">
        Kept data
      </Typography>
      <Typography color="text.secondary">
        The /workspace of deleted workspaces, kept when they were deleted. It takes disk space and counts toward the
        disk quota until it is deleted.
      </Typography>
      <List>
        {kept.data.map((volume) => (
          <ListItem
            key={volume.workspace_id}
            divider
            secondaryAction={
              mayManage && (
                <Button color="error" onClick={() => setDeleting(volume)}>
                  Delete data
                </Button>
              )
            }
          >
            <ListItemText
              primary={`${nameOf(volume)} (${formatMb(volume.size)})`}
              secondary={[
                volume.created_at && `created ${formatDateTime(volume.created_at)}`,
                volume.used != null && `${formatMb(volume.used)} in use when last measured`,
                `id ${volume.workspace_id}`,
              ]
                .filter(Boolean)
                .join(' · ')}
            />
          </ListItem>
        ))}
      </List>
      {deleting && <DeleteKeptDialog userId={userId} volume={deleting} onClose={() => setDeleting(null)} />}
    </Paper>
  );
}

function DeleteKeptDialog({ userId, volume, onClose }: { userId: string; volume: KeptVolume; onClose: () => void }) {
  const remove = useDeleteKeptVolume(userId);
  const titleId = useId();
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="xs" fullWidth>
      <DialogTitle id={titleId}>Delete kept data</DialogTitle>
      <DialogContent>
        <DialogContentText sx={{ mb: 1 }}>
          Delete the data of “{nameOf(volume)}” for good? Its files cannot be brought back.
        </DialogContentText>
        {remove.error && (
          <Alert severity="error" role="alert">
            {errorMessage(remove.error)}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button
          variant="contained"
          color="error"
          loading={remove.isPending}
          onClick={() => remove.mutate(volume.workspace_id, { onSuccess: onClose })}
        >
          Delete data
        </Button>
      </DialogActions>
    </Dialog>
  );
}
