import {
  Alert,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  TextField,
} from '@mui/material';
import { type FormEvent, useId, useState } from 'react';
import type { Workspace, WorkspaceInput } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { useCopyProgress } from '../api/copy-progress';
import { CopyProgress } from './CopyProgress';

type Mutation = {
  mutate: (body: WorkspaceInput, options: { onSuccess: (workspace: Workspace) => void }) => void;
  isPending: boolean;
  error: unknown;
};

type Props = {
  userId: string;
  title: string;
  what: string; // "the files of snapshot “before the change”"
  suggestedName: string;
  create: Mutation;
  onClose: () => void;
};

const COPYING_INTO = { messageStart: 'Copying the files' };

/** A new workspace with the files of a snapshot or of another workspace: its name, then the
 * copy's progress (the server answers once the files are in). */
export function NewWorkspaceFromDialog({ userId, title, what, suggestedName, create, onClose }: Props) {
  const [name, setName] = useState(suggestedName);
  const [made, setMade] = useState<Workspace | null>(null);
  const titleId = useId();
  const percent = useCopyProgress(userId, create.isPending, COPYING_INTO);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ display_name: name.trim(), is_stopped: false }, { onSuccess: setMade });
  };
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="xs" fullWidth>
      <form onSubmit={submit}>
        <DialogTitle id={titleId}>{title}</DialogTitle>
        <DialogContent>
          {made ? (
            <Alert severity="success">
              Workspace “{made.display_name}” was created with {what}.
            </Alert>
          ) : (
            <>
              <DialogContentText sx={{ mb: 2 }}>
                A new workspace, with the usual settings, holding {what}.
              </DialogContentText>
              <TextField
                label="Name of the new workspace"
                value={name}
                onChange={(event) => setName(event.target.value)}
                required
                fullWidth
                autoFocus
                slotProps={{ htmlInput: { maxLength: 128 } }}
              />
              {create.isPending && <CopyProgress label="Copying the files" percent={percent} />}
            </>
          )}
          {Boolean(create.error) && (
            <Alert severity="error" role="alert" sx={{ mt: 2 }}>
              {errorMessage(create.error)}
            </Alert>
          )}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>{made ? 'Close' : 'Cancel'}</Button>
          {!made && (
            <Button type="submit" variant="contained" loading={create.isPending} disabled={!name.trim()}>
              Create
            </Button>
          )}
        </DialogActions>
      </form>
    </Dialog>
  );
}
