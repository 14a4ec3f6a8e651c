import { Alert, Box, Button } from '@mui/material';
import type { Workspace } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { useWorkspaceLogs } from '../api/get-workspace-logs';

export function LogsPanel({ workspace }: { workspace: Workspace }) {
  const logs = useWorkspaceLogs(workspace.user_id, workspace.id);
  return (
    <>
      <Button variant="outlined" onClick={() => void logs.refetch()} loading={logs.isFetching} sx={{ mb: 1 }}>
        Refresh logs
      </Button>
      {logs.isPending ? (
        <Loading label="Loading logs" />
      ) : logs.error ? (
        <Alert severity="error" role="alert">
          {errorMessage(logs.error)}
        </Alert>
      ) : (
        <Box
          component="pre"
          tabIndex={0}
          aria-label="Logs"
          sx={{
            p: 2,
            m: 0,
            maxHeight: '60vh',
            overflow: 'auto',
            bgcolor: 'action.hover',
            borderRadius: 1,
            fontSize: 13,
            whiteSpace: 'pre-wrap',
            overflowWrap: 'anywhere',
          }}
        >
          {logs.data || 'Nothing printed yet.'}
        </Box>
      )}
    </>
  );
}
