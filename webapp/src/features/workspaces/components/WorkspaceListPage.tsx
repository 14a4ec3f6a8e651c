import { Alert, Box, Button, Stack, Typography } from '@mui/material';
import { useState } from 'react';
import { useParams } from 'react-router';
import { Loading } from '@/components/CenteredMessage';
import { useMe } from '@/features/auth';
import { useConfig } from '@/features/config';
import { OrphanSnapshotsSection, UploadDialog } from '@/features/snapshots';
import { errorMessage } from '@/lib/errors';
import { useWorkspaces } from '../api/get-workspaces';
import { CreateWorkspaceDialog } from './CreateWorkspaceDialog';
import { EmptyState } from './EmptyState';
import { KeptDataSection } from './KeptDataSection';
import { SharedWithMeSection } from './SharedWithMeSection';
import { WorkspaceCard } from './WorkspaceCard';

export function WorkspaceListPage() {
  const userId = useParams().userId!;
  const workspaces = useWorkspaces(userId);
  const { data: me } = useMe();
  const config = useConfig();
  const [creating, setCreating] = useState(false);
  const [uploading, setUploading] = useState(false);
  const list = workspaces.data ?? [];
  // Another user's list: only administrators manage it (the server refuses everyone else).
  const othersList = Boolean(me && me.id !== userId);
  const mayManage = !othersList || Boolean(me?.is_admin);

  return (
    <>
      <Stack
        direction="row"
        sx={{ alignItems: 'center', justifyContent: 'space-between', flexWrap: 'wrap', gap: 2, mb: 3 }}
      >
        <div>
          <Typography variant="h4" component="h1">
            Workspaces
          </Typography>
          {othersList && mayManage && (
            <Typography color="text.secondary">
              Of <strong>{userId}</strong>, managed by you as an administrator
            </Typography>
          )}
        </div>
        {mayManage && (
          <Stack direction="row" sx={{ gap: 1 }}>
            {config.data?.snapshots_available && (
              <Button variant="outlined" onClick={() => setUploading(true)}>
                Create from archive
              </Button>
            )}
            <Button variant="contained" onClick={() => setCreating(true)} disabled={!config.data}>
              New workspace
            </Button>
          </Stack>
        )}
      </Stack>
      {config.error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          The choices for new workspaces could not be loaded: {errorMessage(config.error)}
        </Alert>
      )}
      {workspaces.isPending ? (
        <Loading label="Loading workspaces" />
      ) : workspaces.error ? (
        <Alert severity="error" role="alert" action={<Button onClick={() => void workspaces.refetch()}>Retry</Button>}>
          {errorMessage(workspaces.error)}
        </Alert>
      ) : list.length === 0 ? (
        <EmptyState onCreate={() => setCreating(true)} />
      ) : (
        // Cards side by side on a laptop, stacked in a narrow window.
        <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: 'repeat(auto-fill, minmax(min(100%, 340px), 1fr))' }}>
          {list.map((workspace) => (
            <WorkspaceCard key={workspace.id} workspace={workspace} config={config.data} />
          ))}
        </Box>
      )}
      {!othersList && <SharedWithMeSection userId={userId} config={config.data} />}
      <KeptDataSection userId={userId} mayManage={mayManage} />
      {config.data?.snapshots_available && workspaces.data && (
        <OrphanSnapshotsSection userId={userId} workspaceIds={list.map((w) => w.id)} mayManage={mayManage} />
      )}
      {uploading && <UploadDialog userId={userId} onClose={() => setUploading(false)} />}
      {creating && config.data && (
        <CreateWorkspaceDialog
          userId={userId}
          config={config.data}
          existing={list}
          onClose={() => setCreating(false)}
        />
      )}
    </>
  );
}
