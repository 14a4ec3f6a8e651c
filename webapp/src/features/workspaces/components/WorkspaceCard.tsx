import { Alert, Box, Button, Card, CardActions, CardContent, Stack, Typography } from '@mui/material';
import { useId } from 'react';
import type { ConfigOptions, ShareAccess, Workspace, WorkspaceStats } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { formatDateTime, formatDay, formatMb, formatRelative } from '@/lib/format';
import { useFollowWorkspace } from '../api/follow-workspace';
import { useWorkspaceStats } from '../api/get-workspace-stats';
import { useWorkspaceAction } from '../api/workspace-action';
import { StartProgress } from './StartProgress';
import { StatusChip } from './StatusChip';
import { TemplateNotice } from './TemplateNotice';
import { UsageBars } from './UsageBars';
import { ACCESS_LABELS } from './ShareDialog';
import { WorkspaceActions } from './WorkspaceActions';

export const imageName = (image: string, config?: ConfigOptions) =>
  config?.container_image_options.find((o) => o.image === image)?.display_name || image;

const measured = (s: WorkspaceStats) => s.cpu_percent != null || s.memory_used != null || s.volume_used != null;

type Props = {
  workspace: Workspace;
  config?: ConfigOptions;
  /** Someone else's workspace, shared with the caller for this. */
  access?: ShareAccess;
};

/** One workspace in the list: an article named by its display name. */
export function WorkspaceCard({ workspace, config, access }: Props) {
  const titleId = useId();
  const running = workspace.status === 'running';
  const starting = workspace.status === 'pending' && !workspace.is_stopped;
  const progress = useFollowWorkspace(workspace.user_id, workspace.id, starting);
  const stats = useWorkspaceStats(workspace.user_id, workspace.id, running);
  const postpone = useWorkspaceAction(workspace.user_id, 'postpone');
  const operates = access !== 'open';
  const { compute } = workspace;

  return (
    <Card
      component="article"
      aria-labelledby={titleId}
      variant="outlined"
      sx={{ display: 'flex', flexDirection: 'column' }}
    >
      <CardContent sx={{ flexGrow: 1 }}>
        <Stack direction="row" spacing={1} sx={{ alignItems: 'center', justifyContent: 'space-between', mb: 1 }}>
          <Typography id={titleId} variant="h6" component="h2" sx={{ overflowWrap: 'anywhere' }}>
            {workspace.display_name}
          </Typography>
          <StatusChip status={workspace.status} />
        </Stack>
        <Typography variant="body2" color={workspace.status === 'failed' ? 'error' : 'text.secondary'} sx={{ mb: 1 }}>
          {workspace.status_message}
        </Typography>
        {starting && <StartProgress progress={progress} />}
        {!access && <TemplateNotice workspace={workspace} />}
        <Box
          component="dl"
          sx={{ display: 'grid', gridTemplateColumns: 'auto 1fr', columnGap: 2, rowGap: 0.25, m: 0, fontSize: 14 }}
        >
          {access && (
            <>
              <dt>Owner</dt>
              <dd style={{ margin: 0, overflowWrap: 'anywhere' }}>
                <strong>{workspace.user_id}</strong> (you may: {ACCESS_LABELS[access].toLowerCase()})
              </dd>
            </>
          )}
          <dt>Image</dt>
          <dd style={{ margin: 0, overflowWrap: 'anywhere' }}>{imageName(workspace.container_image, config)}</dd>
          <dt>Size</dt>
          <dd style={{ margin: 0 }}>
            {compute.cpus} CPU{compute.cpus === 1 ? '' : 's'}, {formatMb(compute.memory)} memory,{' '}
            {formatMb(compute.volume_size)} disk
            {compute.gpus ? `, ${compute.gpus} GPU${compute.gpus === 1 ? '' : 's'}` : ''}
          </dd>
          <dt>Created</dt>
          <dd style={{ margin: 0 }}>
            <time dateTime={workspace.created_at} title={formatDateTime(workspace.created_at)}>
              {formatRelative(workspace.created_at)}
            </time>
          </dd>
          {workspace.starts_at && (
            <>
              <dt>Starts</dt>
              <dd style={{ margin: 0 }}>
                <time dateTime={workspace.starts_at} title={formatDateTime(workspace.starts_at)}>
                  {formatDay(workspace.starts_at)}
                </time>{' '}
                (on its schedule)
              </dd>
            </>
          )}
          {workspace.stops_at && (
            <>
              <dt>Stops</dt>
              <dd style={{ margin: 0 }}>
                <time dateTime={workspace.stops_at} title={workspace.stop_reason ?? formatDateTime(workspace.stops_at)}>
                  {workspace.stop_postponable ? formatDay(workspace.stops_at) : formatRelative(workspace.stops_at)}
                </time>
                {workspace.stop_postponable && operates && (
                  <>
                    {' '}
                    unless you{' '}
                    <Button
                      size="small"
                      sx={{ p: 0, minWidth: 0, verticalAlign: 'baseline', textTransform: 'none' }}
                      onClick={() => postpone.mutate(workspace.id)}
                      loading={postpone.isPending}
                    >
                      postpone
                    </Button>
                  </>
                )}
              </dd>
            </>
          )}
        </Box>
        {postpone.error && (
          <Alert severity="error" role="alert" sx={{ mt: 1 }} onClose={() => postpone.reset()}>
            {errorMessage(postpone.error)}
          </Alert>
        )}
        {running && stats.data && measured(stats.data) && (
          <Box sx={{ mt: 2 }}>
            <UsageBars stats={stats.data} />
          </Box>
        )}
      </CardContent>
      <CardActions sx={{ display: 'block', px: 2, pb: 2 }}>
        <WorkspaceActions workspace={workspace} access={access} />
      </CardActions>
    </Card>
  );
}
