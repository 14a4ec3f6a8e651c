import {
  Alert,
  Box,
  Dialog,
  DialogContent,
  DialogContentText,
  DialogTitle,
  useMediaQuery,
  useTheme,
} from '@mui/material';
import { useId, useState, type FormEvent } from 'react';
import type { ConfigOptions, Workspace } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { useConfig, useHealth } from '@/features/config';
import { useTemplates } from '@/features/templates';
import { errorMessage } from '@/lib/errors';
import { useUpdateWorkspace } from '../api/update-workspace';
import { useWorkspaces } from '../api/get-workspaces';
import { needsRestart, toUpdate, validate, valuesOf, type FormErrors, type FormValues } from '../form';
import { FormDialogBody } from './FormDialogBody';
import { WorkspaceFields } from './WorkspaceFields';

type Props = { workspace: Workspace; onClose: () => void };

export function SettingsDialog({ workspace, onClose }: Props) {
  const config = useConfig();
  const titleId = useId();
  const narrow = useMediaQuery(useTheme().breakpoints.down('sm'));
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} fullScreen={narrow} maxWidth="sm" fullWidth>
      <DialogTitle id={titleId}>Workspace settings</DialogTitle>
      {config.data ? (
        <SettingsForm workspace={workspace} config={config.data} onClose={onClose} />
      ) : config.error ? (
        <DialogContent>
          <Alert severity="error" role="alert">
            {errorMessage(config.error)}
          </Alert>
        </DialogContent>
      ) : (
        <Loading label="Loading the choices" />
      )}
    </Dialog>
  );
}

function SettingsForm({ workspace, config: settingsConfig, onClose }: Props & { config: ConfigOptions }) {
  // A workspace of a template is changed within the template's choices.
  const templates = useTemplates();
  const config = templates.data?.find((t) => t.name === workspace.template)?.config ?? settingsConfig;
  const [before] = useState(() => valuesOf(workspace));
  const [values, setValues] = useState<FormValues>(before);
  const update = useUpdateWorkspace(workspace.user_id, workspace.id);
  const others = useWorkspaces(workspace.user_id).data?.filter((w) => w.id !== workspace.id) ?? [];
  const changes = toUpdate(values, before);
  // Like the server: only what changes is checked, so a limit lowered since never blocks a save.
  const errors = Object.fromEntries(
    Object.entries(
      validate(
        values,
        config,
        others.map((w) => w.display_name),
      ),
    ).filter(([key]) => values[key as keyof FormValues] !== before[key as keyof FormValues]),
  ) as FormErrors;
  // ML Lab recreates its services on every change; the Docker backend resizes live.
  const onMlLab = useHealth().data?.backend === 'mllab';
  const restarts =
    (onMlLab ? Object.keys(changes).length > 0 : needsRestart(changes)) && workspace.status === 'running';

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (Object.keys(errors).length) return;
    if (!Object.keys(changes).length) return onClose();
    update.mutate(changes, { onSuccess: onClose });
  };

  return (
    // A flex column like the dialog's paper, so the content scrolls and the buttons stay in view.
    <Box
      component="form"
      onSubmit={submit}
      noValidate
      sx={{ display: 'flex', flexDirection: 'column', minHeight: 0, flex: '1 1 auto' }}
    >
      <FormDialogBody error={update.error} pending={update.isPending} submitLabel="Save" onCancel={onClose}>
        <DialogContentText sx={{ mb: 1 }}>
          {onMlLab
            ? 'ML Lab recreates the workspace on every change, which restarts it if it runs; your files in /workspace are kept.'
            : 'CPUs, memory, disk, name, idle timeout and clear-data apply live, without a restart. A new image or GPUs ' +
              'recreate the container, which restarts a running workspace; your files in /workspace are kept.'}
        </DialogContentText>
        <WorkspaceFields
          config={config}
          values={values}
          errors={errors}
          onChange={setValues}
          currentIdleTimeout={before.idleTimeout}
        />
        {restarts && (
          <Alert severity="warning" role="status" sx={{ mt: 2 }}>
            Saving restarts this workspace: unsaved work in open notebooks and terminals is lost.
          </Alert>
        )}
      </FormDialogBody>
    </Box>
  );
}
