import {
  Alert,
  Button,
  MenuItem,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useState } from 'react';
import { useParams } from 'react-router';
import type { UsageRow } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { lastThirtyDays, type UsageGroup, usageCsvUrl, useUsage } from '../api/usage';
import { UsageChart } from './UsageChart';

const COLUMNS: [keyof UsageRow, string][] = [
  ['running_hours', 'Running hours'],
  ['cpu_hours_reserved', 'CPU-hours reserved'],
  ['cpu_hours_used', 'CPU-hours used'],
  ['memory_gb_hours_reserved', 'Memory GB-hours'],
  ['gpu_hours', 'GPU-hours'],
  ['disk_gb_days', 'Disk GB-days'],
];

const number = (value: unknown) => (typeof value === 'number' ? value.toFixed(2) : '–');

/** Usage over a period of days: administrators everyone's (`/admin/usage`, by user or
 * workspace, or one user's), a user their own (`/users/:userId/usage`). A chart per day, a
 * table of totals, and every day of every workspace as CSV. */
export function UsagePage({ admin = false }: { admin?: boolean }) {
  const { userId = '' } = useParams();
  const owner = admin ? null : userId;
  const [period, setPeriod] = useState(lastThirtyDays);
  const [group, setGroup] = useState<UsageGroup>(admin ? 'user' : 'workspace');
  const [onlyUser, setOnlyUser] = useState('');
  const common = { ...period, user_id: admin && onlyUser ? onlyUser : undefined };
  const daily = useUsage(owner, { ...common, group: 'day' });
  const grouped = useUsage(owner, { ...common, group });
  const error = daily.error ?? grouped.error;

  return (
    <>
      <Typography variant="h4" component="h1" sx={{ mb: 1 }}>
        {admin ? 'Usage' : 'My usage'}
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 2 }}>
        Time running and what it reserved (CPUs, memory, GPUs), the CPU it was measured to use, and the disk its
        /workspace held, counted by day in UTC.
      </Typography>
      <Stack
        direction="row"
        spacing={1}
        useFlexGap
        sx={{ flexWrap: 'wrap', mb: 2 }}
        component="form"
        aria-label="Period"
      >
        <TextField
          label="From"
          type="date"
          size="small"
          value={period.since}
          onChange={(e) => e.target.value && setPeriod((p) => ({ ...p, since: e.target.value }))}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        <TextField
          label="To"
          type="date"
          size="small"
          value={period.until}
          onChange={(e) => e.target.value && setPeriod((p) => ({ ...p, until: e.target.value }))}
          slotProps={{ inputLabel: { shrink: true } }}
        />
        {admin && (
          <TextField
            label="Only user"
            size="small"
            value={onlyUser}
            onChange={(e) => setOnlyUser(e.target.value.trim())}
          />
        )}
        <TextField
          select
          label="Totals per"
          size="small"
          value={group}
          onChange={(e) => setGroup(e.target.value as UsageGroup)}
          sx={{ width: 150 }}
        >
          {admin && <MenuItem value="user">User</MenuItem>}
          <MenuItem value="workspace">Workspace</MenuItem>
          <MenuItem value="day">Day</MenuItem>
        </TextField>
        <Button variant="outlined" href={usageCsvUrl(owner, common)} download="usage.csv">
          Export CSV
        </Button>
      </Stack>
      {error && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(error)}
        </Alert>
      )}
      {daily.data && <UsageChart rows={daily.data.rows} since={daily.data.since} until={daily.data.until} />}
      {grouped.isPending ? (
        <Loading label="Loading usage" />
      ) : grouped.data ? (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label={`Usage per ${group}`}>
              <TableHead>
                <TableRow>
                  {group === 'day' && <TableCell>Day</TableCell>}
                  {group !== 'day' && <TableCell>User</TableCell>}
                  {group === 'workspace' && <TableCell>Workspace</TableCell>}
                  {COLUMNS.map(([, label]) => (
                    <TableCell key={label} align="right">
                      {label}
                    </TableCell>
                  ))}
                </TableRow>
              </TableHead>
              <TableBody>
                {grouped.data.rows.map((row) => (
                  <TableRow key={`${row.day ?? ''}/${row.owner ?? ''}/${row.workspace_id ?? ''}`}>
                    {group === 'day' && <TableCell>{row.day}</TableCell>}
                    {group !== 'day' && <TableCell>{row.owner}</TableCell>}
                    {group === 'workspace' && (
                      <TableCell>
                        {row.display_name} <Typography variant="caption">({row.workspace_id})</Typography>
                      </TableCell>
                    )}
                    {COLUMNS.map(([key, label]) => (
                      <TableCell key={label} align="right">
                        {number(row[key])}
                      </TableCell>
                    ))}
                  </TableRow>
                ))}
                {grouped.data.rows.length === 0 && (
                  <TableRow>
                    <TableCell colSpan={COLUMNS.length + 2}>Nothing was used in this period.</TableCell>
                  </TableRow>
                )}
                {grouped.data.rows.length > 0 && (
                  <TableRow>
                    <TableCell component="th" scope="row" colSpan={group === 'workspace' ? 2 : 1}>
                      <strong>Total</strong>
                    </TableCell>
                    {COLUMNS.map(([key, label]) => (
                      <TableCell key={label} align="right">
                        <strong>{number(grouped.data.total[key])}</strong>
                      </TableCell>
                    ))}
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
