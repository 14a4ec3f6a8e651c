import { Alert, Button } from '@mui/material';
import type { Workspace } from '@/api/types';
import { useApplyTemplate, useTemplates } from '@/features/templates';
import { errorMessage } from '@/lib/errors';

/** "A newer version of your template is available", with Apply; or that it is deprecated. */
export function TemplateNotice({ workspace }: { workspace: Workspace }) {
  const apply = useApplyTemplate(workspace.user_id);
  const { template: name, template_status: status } = workspace;
  const template = useTemplates().data?.find((t) => t.name === name)?.display_name ?? name;
  if (!name || (status !== 'outdated' && status !== 'deprecated')) return null;
  if (status === 'deprecated')
    return (
      <Alert severity="info" role="status" sx={{ mt: 1 }}>
        Its template “{template}” is deprecated: it keeps working, but new workspaces use other templates.
      </Alert>
    );
  return (
    <Alert
      severity="info"
      role="status"
      sx={{ mt: 1 }}
      action={
        <Button color="inherit" size="small" onClick={() => apply.mutate(workspace.id)} loading={apply.isPending}>
          Apply
        </Button>
      }
    >
      A newer version of your template “{template}” is available. Applying it restarts the workspace if its image or
      environment changes; your files in /workspace are kept.
      {apply.error && <div role="alert">{errorMessage(apply.error)}</div>}
    </Alert>
  );
}
