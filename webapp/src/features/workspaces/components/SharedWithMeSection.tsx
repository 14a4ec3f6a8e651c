import { Alert, Box, Button, Typography } from '@mui/material';
import type { ConfigOptions } from '@/api/types';
import { errorMessage } from '@/lib/errors';
import { useSharedWith } from '../api/shares';
import { WorkspaceCard } from './WorkspaceCard';

/** Workspaces other users shared with `userId`; nothing at all while there are none. */
export function SharedWithMeSection({ userId, config }: { userId: string; config?: ConfigOptions }) {
  const shared = useSharedWith(userId);
  if (shared.error)
    return (
      <Alert
        severity="error"
        role="alert"
        sx={{ mt: 4 }}
        action={<Button onClick={() => void shared.refetch()}>Retry</Button>}
      >
        What others shared with you could not be loaded: {errorMessage(shared.error)}
      </Alert>
    );
  if (!shared.data?.length) return null;
  return (
    <Box component="section" aria-labelledby="shared-with-me" sx={{ mt: 4 }}>
      <Typography id="shared-with-me" variant="h5" component="h2" sx={{ mb: 1 }}>
        Shared with me
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 2 }}>
        Other users' workspaces you may open. Code you run there runs as their owner, in their files.
      </Typography>
      <Box sx={{ display: 'grid', gap: 2, gridTemplateColumns: 'repeat(auto-fill, minmax(min(100%, 340px), 1fr))' }}>
        {shared.data.map((s) => (
          <WorkspaceCard key={s.workspace.id} workspace={s.workspace} config={config} access={s.access} />
        ))}
      </Box>
    </Box>
  );
}
