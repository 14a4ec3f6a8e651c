import { Alert, Box, Button, Typography } from '@mui/material';
import type { ConfigOptions, Workspace } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { formatDateTime, formatDuration, formatMb, formatRelative } from '@/lib/format';
import { useWorkspaceAction } from '../api/workspace-action';
import { imageName } from './WorkspaceCard';

export function OverviewPanel({ workspace: w, config }: { workspace: Workspace; config?: ConfigOptions }) {
  const extend = useWorkspaceAction(w.user_id, 'extend');
  const rows: [string, string][] = [
    ['Image', imageName(w.container_image, config)],
    ['CPUs', String(w.compute.cpus)],
    ['Memory', formatMb(w.compute.memory)],
    ['Disk (/workspace)', formatMb(w.compute.volume_size)],
    ['GPUs', String(w.compute.gpus ?? 0)],
    ['Idle timeout', formatDuration(w.idle_timeout ?? 0)],
    ['Clear data on stop', w.clear_volume_on_stop ? 'Yes' : 'No'],
    ['Created', formatDateTime(w.created_at)],
    ['Id', w.id],
  ];
  return (
    <>
      {w.stops_at && (
        <Alert
          severity="info"
          role="status"
          sx={{ mb: 2 }}
          action={
            <Button color="inherit" onClick={() => extend.mutate(w.id)} loading={extend.isPending}>
              Postpone idle stop
            </Button>
          }
        >
          Stops at {formatDateTime(w.stops_at)} ({formatRelative(w.stops_at)})
          {w.stop_reason ? `: ${w.stop_reason}` : ''}.
        </Alert>
      )}
      {extend.error && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(extend.error)}
        </Alert>
      )}
      <Box component="dl" sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', sm: '200px 1fr' }, gap: 1, m: 0 }}>
        {rows.map(([label, value]) => (
          <Box key={label} sx={{ display: 'contents' }}>
            <Typography component="dt" sx={{ fontWeight: 600 }}>
              {label}
            </Typography>
            <Typography component="dd" sx={{ m: 0, overflowWrap: 'anywhere' }}>
              {value}
            </Typography>
          </Box>
        ))}
      </Box>
    </>
  );
}
