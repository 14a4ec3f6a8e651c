import { Alert, Box, Button, Typography } from '@mui/material';
import type { ConfigOptions, Workspace } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { formatDateTime, formatDay, formatDuration, formatMb, formatRelative } from '@/lib/format';
import { useWorkspaceAction } from '../api/workspace-action';
import { describeSchedule } from '../schedule';
import { imageName } from './WorkspaceCard';

type Props = { workspace: Workspace; config?: ConfigOptions; operates?: boolean };

export function OverviewPanel({ workspace: w, config, operates = true }: Props) {
  // A scheduled stop moves an hour; idle stop a whole idle timeout.
  const extend = useWorkspaceAction(w.user_id, w.stop_postponable ? 'postpone' : 'extend');
  const rows: [string, string][] = [
    ['Image', imageName(w.container_image, config)],
    ['CPUs', String(w.compute.cpus)],
    ['Memory', formatMb(w.compute.memory)],
    ['Disk (/workspace)', formatMb(w.compute.volume_size)],
    ['GPUs', String(w.compute.gpus ?? 0)],
    ['Idle timeout', formatDuration(w.idle_timeout ?? 0)],
    ['Clear data on stop', w.clear_volume_on_stop ? 'Yes' : 'No'],
    ['Schedule', w.schedule ? describeSchedule(w.schedule) : 'None'],
    ['Template', w.template ? `${w.template} (version ${w.template_version ?? '?'})` : 'None (custom)'],
    ...(w.starts_at ? ([['Starts', `${formatDay(w.starts_at)}, on its schedule`]] as [string, string][]) : []),
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
            operates && (
              <Button color="inherit" onClick={() => extend.mutate(w.id)} loading={extend.isPending}>
                {w.stop_postponable ? 'Postpone an hour' : 'Postpone idle stop'}
              </Button>
            )
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
