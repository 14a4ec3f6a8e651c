import {
  Alert,
  MenuItem,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TablePagination,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useDeferredValue, useState } from 'react';
import type { WorkspaceStatus } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { useAllWorkspaces } from '../api/list-all-workspaces';
import { AdminWorkspaceRow } from './AdminWorkspaceRow';
import { UnsafeOriginWarning } from './UnsafeOriginWarning';

const STATUSES: WorkspaceStatus[] = ['pending', 'running', 'stopped', 'failed', 'terminating', 'unknown'];

/** Administrators: every user's workspaces, filtered by user and status on the server, searched here. */
export function AllWorkspacesPage() {
  const [userId, setUserId] = useState('');
  const [status, setStatus] = useState<WorkspaceStatus | ''>('');
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(0);
  const [limit, setLimit] = useState(25);
  const user = useDeferredValue(userId.trim());
  const all = useAllWorkspaces({ userId: user, status: status || undefined, limit, offset: page * limit });
  const needle = search.trim().toLowerCase();
  const items = (all.data?.items ?? []).filter(
    (w) =>
      !needle ||
      [w.display_name, w.user_id, w.id, w.container_image, w.status].some((v) => v.toLowerCase().includes(needle)),
  );

  return (
    <>
      <Typography variant="h4" component="h1" sx={{ mb: 2 }}>
        All workspaces
      </Typography>
      <UnsafeOriginWarning />
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2} sx={{ mb: 2 }}>
        <TextField
          label="Search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          helperText="Name, user, id or image, on this page"
        />
        <TextField
          label="Owner"
          value={userId}
          onChange={(e) => (setUserId(e.target.value), setPage(0))}
          helperText="Exact user id"
        />
        <TextField
          select
          label="Status"
          value={status}
          onChange={(e) => (setStatus(e.target.value as WorkspaceStatus | ''), setPage(0))}
          sx={{ minWidth: 160 }}
        >
          <MenuItem value="">Any</MenuItem>
          {STATUSES.map((s) => (
            <MenuItem key={s} value={s}>
              {s}
            </MenuItem>
          ))}
        </TextField>
      </Stack>
      {all.error && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(all.error)}
        </Alert>
      )}
      {all.isPending ? (
        <Loading label="Loading workspaces" />
      ) : (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="All workspaces">
              <TableHead>
                <TableRow>
                  <TableCell>Name</TableCell>
                  <TableCell>Owner</TableCell>
                  <TableCell>Status</TableCell>
                  <TableCell>Size</TableCell>
                  <TableCell>Created</TableCell>
                  <TableCell>Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {items.map((w) => (
                  <AdminWorkspaceRow key={w.id} workspace={w} />
                ))}
                {items.length === 0 && (
                  <TableRow>
                    <TableCell colSpan={6}>No workspaces match.</TableCell>
                  </TableRow>
                )}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={all.data?.total ?? 0}
            page={page}
            rowsPerPage={limit}
            rowsPerPageOptions={[25, 50, 100]}
            onPageChange={(_, next) => setPage(next)}
            onRowsPerPageChange={(e) => (setLimit(Number(e.target.value)), setPage(0))}
          />
        </Paper>
      )}
    </>
  );
}
