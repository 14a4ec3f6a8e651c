import { Alert, Typography } from '@mui/material';
import type { Workspace } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { formatDateTime } from '@/lib/format';
import { useWorkspaceStats } from '../api/get-workspace-stats';
import { UsageBars } from './UsageBars';

export function UsagePanel({ workspace }: { workspace: Workspace }) {
  const stats = useWorkspaceStats(workspace.user_id, workspace.id, workspace.status === 'running');
  if (stats.isPending) return <Loading label="Loading usage" />;
  if (stats.error)
    return (
      <Alert severity="error" role="alert">
        {errorMessage(stats.error)}
      </Alert>
    );
  const s = stats.data;
  return (
    <>
      {s.not_measured && (
        <Alert severity="info" role="status">
          {s.not_measured}
        </Alert>
      )}
      <UsageBars stats={s} showContainer />
      <Typography variant="body2" color="text.secondary">
        CPU and memory measured {s.measured_at ? formatDateTime(s.measured_at) : 'not yet'}; disk measured{' '}
        {s.disk_measured_at ? formatDateTime(s.disk_measured_at) : 'not yet'}.
      </Typography>
    </>
  );
}
