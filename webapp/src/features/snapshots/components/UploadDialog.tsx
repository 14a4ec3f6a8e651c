import {
  Alert,
  Button,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Stack,
  TextField,
  Typography,
} from '@mui/material';
import { type FormEvent, useId, useState } from 'react';
import type { Workspace } from '@/api/types';
import { useConfig } from '@/features/config';
import { errorMessage } from '@/lib/errors';
import { useCopyProgress } from '../api/copy-progress';
import { useUploadArchive } from '../api/upload-archive';
import { CopyProgress } from './CopyProgress';

const UNPACKING = { messageStart: 'Unpacking' };

/** "Create from archive": a new workspace (default settings) holding the files of a .tar.gz
 * or .tar from this computer; the server checks every member before writing it. */
export function UploadDialog({ userId, onClose }: { userId: string; onClose: () => void }) {
  const maxMb = useConfig().data?.snapshot_max_size ?? 0;
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [sent, setSent] = useState(0);
  const [made, setMade] = useState<Workspace | null>(null);
  const upload = useUploadArchive(userId, setSent);
  const unpacked = useCopyProgress(userId, upload.isPending && sent >= 1, UNPACKING);
  const titleId = useId();
  const tooLarge = Boolean(file && maxMb && file.size > maxMb * 1024 * 1024);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setSent(0);
    upload.mutate(
      { file, settings: { display_name: name.trim() || undefined, is_stopped: false } },
      { onSuccess: setMade },
    );
  };
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="xs" fullWidth>
      <form onSubmit={submit}>
        <DialogTitle id={titleId}>Create from archive</DialogTitle>
        <DialogContent>
          {made ? (
            <Alert severity="success">Workspace “{made.display_name}” was created with the archive’s files.</Alert>
          ) : (
            <Stack sx={{ gap: 2 }}>
              <DialogContentText>
                A new workspace whose /workspace holds the files of a .tar.gz or .tar archive (a download of another
                workspace, say){maxMb ? `, of ${maxMb} MB at most` : ''}. Absolute paths, “..”, links out of the
                archive, devices and pipes are refused.
              </DialogContentText>
              <Button variant="outlined" component="label">
                Choose archive
                <input
                  hidden
                  type="file"
                  aria-label="Archive"
                  accept=".tar,.tar.gz,.tgz,application/gzip,application/x-tar"
                  onChange={(event) => setFile(event.target.files?.[0] ?? null)}
                />
              </Button>
              {file && <Typography>{file.name}</Typography>}
              {tooLarge && <Alert severity="warning">This file is larger than the {maxMb} MB allowed.</Alert>}
              <TextField
                label="Name of the new workspace"
                value={name}
                onChange={(event) => setName(event.target.value)}
                fullWidth
                slotProps={{ htmlInput: { maxLength: 128 } }}
              />
              {upload.isPending &&
                (sent < 1 ? (
                  <CopyProgress label="Uploading" percent={100 * sent} />
                ) : (
                  <CopyProgress label="Unpacking" percent={unpacked} />
                ))}
            </Stack>
          )}
          {Boolean(upload.error) && (
            <Alert severity="error" role="alert" sx={{ mt: 2 }}>
              {errorMessage(upload.error)}
            </Alert>
          )}
        </DialogContent>
        <DialogActions>
          <Button onClick={onClose}>{made ? 'Close' : 'Cancel'}</Button>
          {!made && (
            <Button type="submit" variant="contained" disabled={!file || tooLarge} loading={upload.isPending}>
              Create
            </Button>
          )}
        </DialogActions>
      </form>
    </Dialog>
  );
}
