import {
  Alert,
  Button,
  Checkbox,
  FormControlLabel,
  MenuItem,
  Paper,
  Stack,
  TextField,
  Typography,
} from '@mui/material';
import { useState, type FormEvent } from 'react';
import type { IssuedToken } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { useIssueToken } from '../api/issue-token';
import { IssuedTokenBox } from './IssuedTokenBox';
import { TokensTable } from './TokensTable';
import { UnsafeOriginWarning } from './UnsafeOriginWarning';

// The server's pattern for user ids (naming.USER_ID_PATTERN).
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;
const DAY = 24 * 3600;
const LIFETIMES = [
  { seconds: 0, label: 'Server default' },
  { seconds: 7 * DAY, label: '1 week' },
  { seconds: 30 * DAY, label: '30 days' },
  { seconds: 90 * DAY, label: '90 days' },
  { seconds: 365 * DAY, label: '1 year' },
];

/** Standalone administrators: issue a token for a colleague (shown once) and revoke tokens. */
export function TokensPage() {
  const [userId, setUserId] = useState('');
  const [description, setDescription] = useState('');
  const [lifetime, setLifetime] = useState(0);
  const [isAdmin, setIsAdmin] = useState(false);
  const [issued, setIssued] = useState<IssuedToken | null>(null);
  const issue = useIssueToken();
  const invalid = userId !== '' && !USER_ID.test(userId.trim());

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!userId.trim() || invalid) return;
    issue.mutate(
      { user_id: userId.trim(), description, is_admin: isAdmin, expires_in: lifetime || null },
      { onSuccess: (token) => (setIssued(token), setUserId(''), setDescription(''), setIsAdmin(false)) },
    );
  };

  return (
    <>
      <Typography variant="h4" component="h1" sx={{ mb: 2 }}>
        User tokens
      </Typography>
      <UnsafeOriginWarning />
      <Paper variant="outlined" component="form" onSubmit={submit} noValidate sx={{ p: 2, mb: 3 }}>
        <Typography variant="h6" component="h2" sx={{ mb: 2 }}>
          Issue a token
        </Typography>
        <Stack direction={{ xs: 'column', md: 'row' }} spacing={2} sx={{ alignItems: { md: 'flex-start' } }}>
          <TextField
            label="User id"
            value={userId}
            onChange={(e) => setUserId(e.target.value)}
            error={invalid}
            helperText={
              invalid ? 'Letters, digits and . _ @ -, starting with a letter or digit.' : 'Who signs in with it'
            }
          />
          <TextField
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            helperText="Optional"
            slotProps={{ htmlInput: { maxLength: 200 } }}
          />
          <TextField
            select
            label="Expires after"
            value={lifetime}
            onChange={(e) => setLifetime(Number(e.target.value))}
            sx={{ minWidth: 160 }}
            helperText=" "
          >
            {LIFETIMES.map((l) => (
              <MenuItem key={l.seconds} value={l.seconds}>
                {l.label}
              </MenuItem>
            ))}
          </TextField>
          <FormControlLabel
            control={<Checkbox checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} />}
            label="Administrator"
          />
          <Button
            type="submit"
            variant="contained"
            loading={issue.isPending}
            disabled={!userId.trim() || invalid}
            sx={{ mt: { md: 1 } }}
          >
            Issue token
          </Button>
        </Stack>
        {issue.error && (
          <Alert severity="error" role="alert" sx={{ mt: 2 }}>
            {errorMessage(issue.error)}
          </Alert>
        )}
        {issued && <IssuedTokenBox issued={issued} onDone={() => setIssued(null)} />}
      </Paper>
      <TokensTable />
    </>
  );
}
