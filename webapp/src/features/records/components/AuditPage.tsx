import {
  Alert,
  Button,
  Chip,
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
import { useState } from 'react';
import { useParams } from 'react-router';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { formatDateTime } from '@/lib/format';
import { type AuditQuery, type AuditScope, actionLabel, auditCsvUrl, KNOWN_ACTIONS, useAudit } from '../api/audit';

type Filters = Omit<AuditQuery, 'limit' | 'offset'>;

/** A day picked in the form as the moments the API filters by (whole days, in local time). */
const startOf = (day: string | undefined) => (day ? new Date(`${day}T00:00:00`).toISOString() : undefined);
const endOf = (day: string | undefined) =>
  day ? new Date(new Date(`${day}T00:00:00`).getTime() + 86_400_000).toISOString() : undefined;

/** The audit log: administrators read everyone's (`/admin/audit`), a user what was done to their
 * own workspaces (`/users/:userId/activity`). Newest first, a page at a time. */
export function AuditPage({ admin = false }: { admin?: boolean }) {
  const { userId = '' } = useParams();
  const scope: AuditScope = admin ? { admin: true } : { userId };
  const [filters, setFilters] = useState<Filters>({});
  const [days, setDays] = useState<{ since?: string; until?: string }>({});
  const [page, setPage] = useState(0);
  const [rowsPerPage, setRowsPerPage] = useState(25);
  const query: AuditQuery = {
    ...filters,
    since: startOf(days.since),
    until: endOf(days.until),
    limit: rowsPerPage,
    offset: page * rowsPerPage,
  };
  const audit = useAudit(scope, query);

  const setFilter = (name: keyof Filters | 'sinceDay' | 'untilDay', value: string) => {
    setPage(0);
    if (name === 'sinceDay') setDays((d) => ({ ...d, since: value || undefined }));
    else if (name === 'untilDay') setDays((d) => ({ ...d, until: value || undefined }));
    else setFilters((f) => ({ ...f, [name]: value || undefined }));
  };
  const field = (name: keyof Filters, label: string, width = 160) => (
    <TextField
      label={label}
      size="small"
      value={filters[name] ?? ''}
      onChange={(e) => setFilter(name, e.target.value.trim())}
      sx={{ width }}
    />
  );

  return (
    <>
      <Typography variant="h4" component="h1" sx={{ mb: 1 }}>
        {admin ? 'Audit log' : 'Activity'}
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 2 }}>
        {admin
          ? 'Every change and every grant of access: who, when, from where, and how it ended.'
          : 'What was done to your workspaces (and your tokens), by you, people you shared with, administrators and the manager itself.'}
      </Typography>
      <Stack
        direction="row"
        spacing={1}
        useFlexGap
        sx={{ flexWrap: 'wrap', mb: 2 }}
        component="form"
        aria-label="Filters"
      >
        {admin && field('actor', 'Who acted')}
        {admin && field('owner', 'Whose workspace')}
        {field('workspace_id', 'Workspace id')}
        <TextField
          select
          label="Action"
          size="small"
          value={filters.action ?? ''}
          onChange={(e) => setFilter('action', e.target.value)}
          sx={{ width: 200 }}
        >
          <MenuItem value="">Any</MenuItem>
          {KNOWN_ACTIONS.map((a) => (
            <MenuItem key={a} value={a}>
              {actionLabel(a)}
            </MenuItem>
          ))}
        </TextField>
        <TextField
          select
          label="Result"
          size="small"
          value={filters.result ?? ''}
          onChange={(e) => setFilter('result', e.target.value)}
          sx={{ width: 120 }}
        >
          <MenuItem value="">Any</MenuItem>
          <MenuItem value="ok">OK</MenuItem>
          <MenuItem value="failed">Failed</MenuItem>
        </TextField>
        <TextField
          label="From"
          type="date"
          size="small"
          value={days.since ?? ''}
          onChange={(e) => setFilter('sinceDay', e.target.value)}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          label="To"
          type="date"
          size="small"
          value={days.until ?? ''}
          onChange={(e) => setFilter('untilDay', e.target.value)}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        {admin && (
          <Button variant="outlined" href={auditCsvUrl(query)} download="audit.csv">
            Export CSV
          </Button>
        )}
      </Stack>
      {audit.error && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(audit.error)}
        </Alert>
      )}
      {audit.isPending ? (
        <Loading label="Loading the audit log" />
      ) : audit.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label={admin ? 'Audit log' : 'Activity on your workspaces'}>
              <TableHead>
                <TableRow>
                  <TableCell>When</TableCell>
                  <TableCell>Who</TableCell>
                  <TableCell>Action</TableCell>
                  <TableCell>Workspace</TableCell>
                  <TableCell>From</TableCell>
                  <TableCell>Result</TableCell>
                  <TableCell>Detail</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {audit.data.items.map((e) => (
                  <TableRow key={e.id}>
                    <TableCell sx={{ whiteSpace: 'nowrap' }}>{formatDateTime(e.at)}</TableCell>
                    <TableCell>
                      {e.actor ?? <em>{e.action === 'login' ? 'not known (refused)' : 'the manager'}</em>}
                      {e.actor_is_admin ? ' (administrator)' : ''}
                    </TableCell>
                    <TableCell>{actionLabel(e.action)}</TableCell>
                    <TableCell>{e.workspace_id ? `${e.owner ?? ''}/${e.workspace_id}` : (e.owner ?? '–')}</TableCell>
                    <TableCell>{e.address ?? '–'}</TableCell>
                    <TableCell>
                      <Chip
                        size="small"
                        color={e.result === 'ok' ? 'success' : 'error'}
                        variant="outlined"
                        label={
                          e.status
                            ? `${e.result === 'ok' ? 'OK' : 'Failed'} (${e.status})`
                            : e.result === 'ok'
                              ? 'OK'
                              : 'Failed'
                        }
                      />
                    </TableCell>
                    <TableCell sx={{ maxWidth: 360, overflowWrap: 'anywhere' }}>{e.detail}</TableCell>
                  </TableRow>
                ))}
                {audit.data.items.length === 0 && (
                  <TableRow>
                    <TableCell colSpan={7}>Nothing matches.</TableCell>
                  </TableRow>
                )}
              </TableBody>
            </Table>
          </TableContainer>
          <TablePagination
            component="div"
            count={audit.data.total}
            page={page}
            rowsPerPage={rowsPerPage}
            rowsPerPageOptions={[25, 50, 100]}
            onPageChange={(_, next) => setPage(next)}
            onRowsPerPageChange={(e) => {
              setRowsPerPage(Number(e.target.value));
              setPage(0);
            }}
          />
        </Paper>
      ) : null}
    </>
  );
}
