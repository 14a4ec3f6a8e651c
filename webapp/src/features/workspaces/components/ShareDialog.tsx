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
  MenuItem,
  Stack,
  TextField,
} from '@mui/material';
import { type FormEvent, useId, useState } from 'react';
import type { ShareAccess, Workspace } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { formatDateTime } from '@/lib/format';
import { useShares, useShareWorkspace, useUnshareWorkspace } from '../api/shares';

export const ACCESS_LABELS: Record<ShareAccess, string> = {
  open: 'Open',
  operate: 'Open, start and stop',
};

// The choices of both access fields (a new share's, and each share's).
const accessChoices = (Object.keys(ACCESS_LABELS) as ShareAccess[]).map((a) => (
  <MenuItem key={a} value={a}>
    {ACCESS_LABELS[a]}
  </MenuItem>
));

// The same rule as the server's (naming.USER_ID_PATTERN).
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

type Props = { workspace: Workspace; onClose: () => void };

/** Who the workspace is shared with: add, change what a share allows, revoke. */
export function ShareDialog({ workspace, onClose }: Props) {
  const titleId = useId();
  const shares = useShares(workspace.user_id, workspace.id);
  const share = useShareWorkspace(workspace.user_id, workspace.id);
  const unshare = useUnshareWorkspace(workspace.user_id, workspace.id);
  const [grantee, setGrantee] = useState('');
  const [access, setAccess] = useState<ShareAccess>('open');
  const typed = grantee.trim();
  const invalid = typed !== '' && !USER_ID.test(typed);
  const failure = share.error ?? unshare.error;

  const add = (event: FormEvent) => {
    event.preventDefault();
    if (!typed || invalid) return;
    unshare.reset();
    share.mutate({ granteeId: typed, access }, { onSuccess: () => setGrantee('') });
  };

  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="sm" fullWidth>
      <DialogTitle id={titleId}>Share “{workspace.display_name}”</DialogTitle>
      <DialogContent>
        <Alert severity="warning" role="note" sx={{ mb: 2 }}>
          Whoever you share it with runs code in this workspace <strong>as you</strong>: they can read, change and
          delete everything in it, your files in /workspace included, leave programs running in it, and use whatever it
          can reach. Share only with people you trust with all of that. Revoking ends their access within seconds but
          does not undo what they did. They cannot change its settings, delete it or share it further.
        </Alert>
        <Stack
          component="form"
          direction={{ xs: 'column', sm: 'row' }}
          spacing={1}
          onSubmit={add}
          sx={{ mb: 2, alignItems: { sm: 'flex-start' } }}
        >
          <TextField
            label="User id"
            value={grantee}
            onChange={(e) => setGrantee(e.target.value)}
            error={invalid}
            helperText={invalid ? 'Letters, digits and . _ @ - only' : 'The exact id they sign in with'}
            sx={{ flexGrow: 1 }}
            slotProps={{ htmlInput: { maxLength: 128 } }}
          />
          <TextField
            select
            label="They may"
            value={access}
            onChange={(e) => setAccess(e.target.value as ShareAccess)}
            sx={{ minWidth: 200 }}
          >
            {accessChoices}
          </TextField>
          <Button
            type="submit"
            variant="contained"
            disabled={!typed || invalid}
            loading={share.isPending}
            sx={{ minHeight: 56 }}
          >
            Share
          </Button>
        </Stack>
        {failure && (
          <Alert severity="error" role="alert" sx={{ mb: 2 }}>
            {errorMessage(failure)}
          </Alert>
        )}
        {shares.isPending ? (
          <Loading label="Loading who has access" />
        ) : shares.error ? (
          <Alert severity="error" role="alert">
            {errorMessage(shares.error)}
          </Alert>
        ) : shares.data.length === 0 ? (
          <DialogContentText>Only you (and administrators) can open this workspace.</DialogContentText>
        ) : (
          <List aria-label="Who has access" dense>
            {shares.data.map((s) => (
              <ListItem key={s.user_id} divider sx={{ flexWrap: 'wrap', gap: 1 }}>
                <ListItemText
                  primary={s.user_id}
                  secondary={`Since ${formatDateTime(s.created_at)}${s.created_by !== workspace.user_id ? `, by ${s.created_by}` : ''}`}
                  sx={{ flexGrow: 1, minWidth: 160 }}
                />
                <TextField
                  select
                  size="small"
                  label={`Access of ${s.user_id}`}
                  value={s.access}
                  onChange={(e) => share.mutate({ granteeId: s.user_id, access: e.target.value as ShareAccess })}
                  sx={{ minWidth: 190 }}
                >
                  {accessChoices}
                </TextField>
                <Button
                  color="error"
                  aria-label={`Revoke ${s.user_id}`}
                  onClick={() => (share.reset(), unshare.mutate(s.user_id))}
                  disabled={unshare.isPending && unshare.variables === s.user_id}
                >
                  Revoke
                </Button>
              </ListItem>
            ))}
          </List>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Done</Button>
      </DialogActions>
    </Dialog>
  );
}
