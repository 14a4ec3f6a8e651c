import { Button } from '@mui/material';
import { useState } from 'react';
import type { Workspace } from '@/api/types';
import { useConfig } from '@/features/config';
import { archiveUrl, useCloneWorkspace } from '../api/snapshots';
import { NewWorkspaceFromDialog } from './NewWorkspaceFromDialog';
import { SnapshotsDialog } from './SnapshotsDialog';

/** Download, Snapshots and Clone of a workspace: for its owner and administrators, where the
 * installation offers them (`/config`). */
export function SnapshotActions({ workspace }: { workspace: Workspace }) {
  const offered = Boolean(useConfig().data?.snapshots_available);
  const [dialog, setDialog] = useState<'snapshots' | 'clone' | null>(null);
  const clone = useCloneWorkspace(workspace.user_id, workspace.id);
  if (!offered) return null;
  return (
    <>
      {/* A plain link: the browser downloads the stream itself, with its own progress. */}
      <Button variant="outlined" component="a" href={archiveUrl(workspace.user_id, workspace.id)} download>
        Download
      </Button>
      <Button variant="outlined" onClick={() => setDialog('snapshots')}>
        Snapshots
      </Button>
      <Button variant="outlined" onClick={() => (clone.reset(), setDialog('clone'))}>
        Clone
      </Button>
      {dialog === 'snapshots' && <SnapshotsDialog workspace={workspace} onClose={() => setDialog(null)} />}
      {dialog === 'clone' && (
        <NewWorkspaceFromDialog
          userId={workspace.user_id}
          title={`Clone “${workspace.display_name}”`}
          what={`a copy of the files of “${workspace.display_name}”`}
          suggestedName={`${workspace.display_name} (copy)`}
          create={clone}
          onClose={() => setDialog(null)}
        />
      )}
    </>
  );
}
