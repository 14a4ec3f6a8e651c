import {
  Alert,
  Button,
  Checkbox,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  FormControlLabel,
} from '@mui/material';
import { useId, useState } from 'react';
import type { Workspace } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { useDeleteWorkspace } from '../api/delete-workspace';

type Props = { workspace: Workspace; onClose: () => void; onDeleted?: () => void };

/** Confirms a delete and asks whether the data in /workspace goes too (kept by default). */
export function DeleteDialog({ workspace, onClose, onDeleted }: Props) {
  const [deleteData, setDeleteData] = useState(false);
  const remove = useDeleteWorkspace(workspace.user_id);
  const titleId = useId();
  const confirm = () =>
    remove.mutate(
      { id: workspace.id, deleteData },
      {
        onSuccess: () => {
          onClose();
          onDeleted?.();
        },
      },
    );

  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="xs" fullWidth>
      <DialogTitle id={titleId}>Delete workspace</DialogTitle>
      <DialogContent>
        <DialogContentText sx={{ mb: 1 }}>
          Delete “{workspace.display_name}”? Its container is removed. Its data in /workspace is kept (under Kept data,
          where it still counts toward your disk quota) unless you tick the box below.
        </DialogContentText>
        <FormControlLabel
          control={<Checkbox checked={deleteData} onChange={(e) => setDeleteData(e.target.checked)} />}
          label="Also delete its data in /workspace"
        />
        {remove.error && (
          <Alert severity="error" role="alert">
            {errorMessage(remove.error)}
          </Alert>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" color="error" onClick={confirm} loading={remove.isPending}>
          Delete
        </Button>
      </DialogActions>
    </Dialog>
  );
}
