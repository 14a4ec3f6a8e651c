import {
  Alert,
  Button,
  Link,
  Paper,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  Typography,
} from '@mui/material';
import { Link as RouterLink } from 'react-router';
import { Loading } from '@/components/CenteredMessage';
import { ACCESS_LABELS } from '@/features/workspaces';
import { errorMessage } from '@/lib/errors';
import { formatDateTime } from '@/lib/format';
import { useAllShares, useRevokeShare } from '../api/list-all-shares';

/** Administrators: every share of every workspace, and revoking any of them. */
export function AllSharesPage() {
  const shares = useAllShares();
  const revoke = useRevokeShare();
  return (
    <>
      <Typography variant="h4" component="h1" sx={{ mb: 1 }}>
        Shares
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 2 }}>
        Who may open which other user's workspace. Opening one runs code as its owner.
      </Typography>
      {(shares.error ?? revoke.error) && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(shares.error ?? revoke.error)}
        </Alert>
      )}
      {shares.isPending ? (
        <Loading label="Loading shares" />
      ) : shares.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Every share">
              <TableHead>
                <TableRow>
                  <TableCell>Workspace</TableCell>
                  <TableCell>Owner</TableCell>
                  <TableCell>Shared with</TableCell>
                  <TableCell>They may</TableCell>
                  <TableCell>Shared by</TableCell>
                  <TableCell>Since</TableCell>
                  <TableCell>Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {shares.data.map((s) => (
                  <TableRow key={`${s.workspace_id}/${s.user_id}`}>
                    <TableCell component="th" scope="row">
                      <Link
                        component={RouterLink}
                        to={`/users/${encodeURIComponent(s.owner)}/workspace/${s.workspace_id}`}
                      >
                        {s.workspace_id}
                      </Link>
                    </TableCell>
                    <TableCell>{s.owner}</TableCell>
                    <TableCell>{s.user_id}</TableCell>
                    <TableCell>{ACCESS_LABELS[s.access]}</TableCell>
                    <TableCell>{s.created_by}</TableCell>
                    <TableCell>{formatDateTime(s.created_at)}</TableCell>
                    <TableCell>
                      <Button
                        size="small"
                        color="error"
                        aria-label={`Revoke ${s.user_id} on ${s.workspace_id}`}
                        onClick={() => revoke.mutate(s)}
                        disabled={revoke.isPending && revoke.variables === s}
                      >
                        Revoke
                      </Button>
                    </TableCell>
                  </TableRow>
                ))}
                {shares.data.length === 0 && (
                  <TableRow>
                    <TableCell colSpan={7}>No workspace is shared.</TableCell>
                  </TableRow>
                )}
              </TableBody>
            </Table>
          </TableContainer>
        </Paper>
      ) : null}
    </>
  );
}
