import { Alert, Box, Button, Stack, Tab, Tabs, Typography } from '@mui/material';
import { useState } from 'react';
import { Link as RouterLink, useNavigate, useParams } from 'react-router';
import { Loading } from '@/components/CenteredMessage';
import { useMe } from '@/features/auth';
import { useConfig } from '@/features/config';
import { errorMessage } from '@/lib/errors';
import { useFollowWorkspace } from '../api/follow-workspace';
import { useWorkspace } from '../api/get-workspace';
import { useSharedWith } from '../api/shares';
import { LogsPanel } from './LogsPanel';
import { OpenHerePanel } from './OpenHerePanel';
import { OverviewPanel } from './OverviewPanel';
import { StartProgress } from './StartProgress';
import { StatusChip } from './StatusChip';
import { TemplateNotice } from './TemplateNotice';
import { UsagePanel } from './UsagePanel';
import { WorkspaceActions } from './WorkspaceActions';

const TABS = ['Overview', 'Logs', 'Usage', 'Open here'] as const;
const LOGS = 1;

export function WorkspaceDetailsPage() {
  const { userId = '', workspaceId = '' } = useParams();
  const workspace = useWorkspace(userId, workspaceId);
  const config = useConfig();
  const navigate = useNavigate();
  const [tab, setTab] = useState(0);
  const w = workspace.data;
  const starting = w?.status === 'pending' && !w.is_stopped;
  const progress = useFollowWorkspace(userId, workspaceId, Boolean(starting));
  const { data: me } = useMe();
  // Someone else's workspace, shared with the caller: what the share allows.
  const mine = !me || me.id === userId || me.is_admin;
  const shared = useSharedWith(me?.id ?? '', !mine);
  const access = mine ? undefined : (shared.data?.find((s) => s.workspace.id === workspaceId)?.access ?? 'open');
  // Someone else's workspace opens in a tab of its own, never framed in this page.
  const tabs = TABS.filter((label, index) => (index !== LOGS || access !== 'open') && (mine || label !== 'Open here'));
  const back = `/users/${encodeURIComponent(mine ? userId : (me?.id ?? ''))}/workspace`;

  if (workspace.isPending) return <Loading label="Loading the workspace" />;
  if (!w) {
    return (
      <Alert
        severity="error"
        role="alert"
        action={
          <Button component={RouterLink} to={back}>
            Back to the list
          </Button>
        }
      >
        {errorMessage(workspace.error)}
      </Alert>
    );
  }

  return (
    <>
      <Button component={RouterLink} to={back} size="small" sx={{ mb: 1 }}>
        {mine ? '← All my workspaces' : '← My workspaces'}
      </Button>
      <Stack direction="row" spacing={2} sx={{ alignItems: 'center', flexWrap: 'wrap', mb: 1 }}>
        <Typography variant="h4" component="h1" sx={{ overflowWrap: 'anywhere' }}>
          {w.display_name}
        </Typography>
        <StatusChip status={w.status} />
      </Stack>
      <Typography color={w.status === 'failed' ? 'error' : 'text.secondary'} sx={{ mb: 1 }}>
        {w.status_message}
      </Typography>
      {!mine && (
        <Typography sx={{ mb: 1 }}>
          Shared with you by <strong>{w.user_id}</strong>: code you run in it runs as them.
        </Typography>
      )}
      {starting && <StartProgress progress={progress} />}
      {mine && <TemplateNotice workspace={w} />}
      <Box sx={{ my: 2 }}>
        <WorkspaceActions
          workspace={w}
          showDetails={false}
          access={access}
          onDeleted={() => navigate(back, { replace: true })}
        />
      </Box>
      <Tabs
        value={tab}
        onChange={(_, value: number) => setTab(value)}
        aria-label="Workspace details"
        variant="scrollable"
        allowScrollButtonsMobile
      >
        {tabs.map((label, index) => (
          <Tab key={label} label={label} id={`tab-${index}`} aria-controls={`panel-${index}`} />
        ))}
      </Tabs>
      <Box role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} sx={{ pt: 2 }}>
        {tabs[tab] === 'Overview' && <OverviewPanel workspace={w} config={config.data} operates={access !== 'open'} />}
        {tabs[tab] === 'Logs' && <LogsPanel workspace={w} />}
        {tabs[tab] === 'Usage' && <UsagePanel workspace={w} />}
        {tabs[tab] === 'Open here' && <OpenHerePanel workspace={w} />}
      </Box>
    </>
  );
}
