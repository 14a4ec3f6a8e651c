import { Dialog, DialogTitle, useMediaQuery, useTheme } from '@mui/material';
import { useId, useState, type FormEvent } from 'react';
import type { ConfigOptions, Workspace } from '@/api/types';
import { useCreateWorkspace } from '../api/create-workspace';
import { defaultValues, toInput, validate, type FormValues } from '../form';
import { FormDialogBody } from './FormDialogBody';
import { WorkspaceFields } from './WorkspaceFields';

type Props = { userId: string; config: ConfigOptions; existing: Workspace[]; onClose: () => void };

export function CreateWorkspaceDialog({ userId, config, existing, onClose }: Props) {
  const [values, setValues] = useState<FormValues>(() => defaultValues(config));
  const create = useCreateWorkspace(userId);
  const titleId = useId();
  const narrow = useMediaQuery(useTheme().breakpoints.down('sm'));
  // Checked as the user types, with the server's rules: most refusals never reach the server.
  const errors = validate(
    values,
    config,
    existing.map((w) => w.display_name),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (Object.keys(errors).length) return;
    create.mutate(toInput(values, config), { onSuccess: onClose });
  };

  return (
    // The paper itself is the form, so the content scrolls and the buttons stay in view.
    <Dialog
      open
      onClose={onClose}
      aria-labelledby={titleId}
      fullScreen={narrow}
      maxWidth="sm"
      fullWidth
      slotProps={{ paper: { component: 'form', onSubmit: submit, noValidate: true } as object }}
    >
      <DialogTitle id={titleId}>New workspace</DialogTitle>
      <FormDialogBody error={create.error} pending={create.isPending} submitLabel="Create" onCancel={onClose}>
        <WorkspaceFields config={config} values={values} errors={errors} onChange={setValues} showStartNow />
      </FormDialogBody>
    </Dialog>
  );
}
