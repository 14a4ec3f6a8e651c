import { Alert, Box, Button } from '@mui/material';
import type { Workspace } from '@/api/types';
import { openHref } from '../links';

export function OpenHerePanel({ workspace }: { workspace: Workspace }) {
  const href = workspace.status === 'running' ? openHref(workspace) : null;
  if (!href)
    return (
      <Alert severity="info" role="status">
        The workspace opens here once it is running. Start it first.
      </Alert>
    );
  return (
    <>
      <Button href={href} target="_blank" rel="noopener" sx={{ mb: 1 }}>
        Open in a new tab instead
      </Button>
      <Box
        component="iframe"
        src={href}
        title={`Workspace ${workspace.display_name}`}
        sx={{ width: '100%', height: '75vh', border: 1, borderColor: 'divider', borderRadius: 1 }}
        allow="clipboard-read; clipboard-write; fullscreen"
      />
    </>
  );
}
