import { Alert, Button, Link, Stack, TableCell, TableRow, Typography } from '@mui/material';
import { Link as RouterLink } from 'react-router';
import { useState } from 'react';
import type { Workspace } from '@/api/types';
import { canStop, DeleteDialog, StatusChip, useWorkspaceAction } from '@/features/workspaces';
import { errorMessage } from '@/lib/errors';
import { formatDateTime, formatMb, formatRelative } from '@/lib/format';

export function AdminWorkspaceRow({ workspace: w }: { workspace: Workspace }) {
  const stop = useWorkspaceAction(w.user_id, 'stop');
  const [deleting, setDeleting] = useState(false);
  return (
    <TableRow>
      <TableCell component="th" scope="row" sx={{ overflowWrap: 'anywhere' }}>
        <Link component={RouterLink} to={`/users/${encodeURIComponent(w.user_id)}/workspace/${w.id}`}>
          {w.display_name}
        </Link>
        <Typography variant="body2" color="text.secondary">
          {w.id}
        </Typography>
      </TableCell>
      <TableCell>{w.user_id}</TableCell>
      <TableCell>
        <StatusChip status={w.status} />
      </TableCell>
      <TableCell>
        {w.compute.cpus} CPU, {formatMb(w.compute.memory)}, {formatMb(w.compute.volume_size)}
      </TableCell>
      <TableCell>
        <time dateTime={w.created_at} title={formatDateTime(w.created_at)}>
          {formatRelative(w.created_at)}
        </time>
      </TableCell>
      <TableCell>
        <Stack direction="row" spacing={1}>
          {canStop(w) && (
            <Button size="small" variant="outlined" onClick={() => stop.mutate(w.id)} loading={stop.isPending}>
              Stop
            </Button>
          )}
          <Button size="small" color="error" onClick={() => setDeleting(true)}>
            Delete
          </Button>
        </Stack>
        {stop.error && (
          <Alert severity="error" role="alert" sx={{ mt: 1 }}>
            {errorMessage(stop.error)}
          </Alert>
        )}
        {deleting && <DeleteDialog workspace={w} onClose={() => setDeleting(false)} />}
      </TableCell>
    </TableRow>
  );
}
