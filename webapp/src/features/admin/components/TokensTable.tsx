import { Alert, Button, Paper, Table, TableBody, TableCell, TableContainer, TableHead, TableRow } from '@mui/material';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { formatDateTime } from '@/lib/format';
import { useRevokeToken } from '../api/revoke-token';
import { useTokens } from '../api/list-tokens';

export function TokensTable() {
  const tokens = useTokens();
  const revoke = useRevokeToken();
  if (tokens.isPending) return <Loading label="Loading tokens" />;
  if (tokens.error)
    return (
      <Alert severity="error" role="alert">
        {errorMessage(tokens.error)}
      </Alert>
    );
  return (
    <>
      {revoke.error && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(revoke.error)}
        </Alert>
      )}
      <Paper variant="outlined">
        <TableContainer>
          <Table size="small" aria-label="Issued tokens">
            <TableHead>
              <TableRow>
                <TableCell>User</TableCell>
                <TableCell>Description</TableCell>
                <TableCell>Administrator</TableCell>
                <TableCell>Issued</TableCell>
                <TableCell>Expires</TableCell>
                <TableCell>Actions</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {tokens.data.map((t) => (
                <TableRow key={t.id}>
                  <TableCell component="th" scope="row">
                    {t.user_id}
                  </TableCell>
                  <TableCell>{t.description}</TableCell>
                  <TableCell>{t.is_admin ? 'Yes' : 'No'}</TableCell>
                  <TableCell>{formatDateTime(t.created_at)}</TableCell>
                  <TableCell>{formatDateTime(t.expires_at)}</TableCell>
                  <TableCell>
                    <Button
                      size="small"
                      color="error"
                      onClick={() => revoke.mutate(t.id)}
                      disabled={revoke.isPending && revoke.variables === t.id}
                    >
                      Revoke
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
              {tokens.data.length === 0 && (
                <TableRow>
                  <TableCell colSpan={6}>No tokens issued yet. Issue one above for each colleague.</TableCell>
                </TableRow>
              )}
            </TableBody>
          </Table>
        </TableContainer>
      </Paper>
    </>
  );
}
