import { Alert, Dialog, DialogTitle, MenuItem, TextField, useMediaQuery, useTheme } from '@mui/material';
import { useId, useState, type FormEvent } from 'react';
import type { ConfigOptions, TemplateView, Workspace } from '@/api/types';
import { useTemplates } from '@/features/templates';
import { useCreateWorkspace } from '../api/create-workspace';
import { defaultValues, toInput, validate, type FormValues } from '../form';
import { FormDialogBody } from './FormDialogBody';
import { WorkspaceFields } from './WorkspaceFields';

type Props = { userId: string; config: ConfigOptions; existing: Workspace[]; onClose: () => void };

const CUSTOM = '';

export function CreateWorkspaceDialog(props: Props) {
  const templates = useTemplates();
  // Wait for the templates: the dialog starts with one of them chosen.
  if (templates.isPending) return null;
  const offered = (templates.data ?? []).filter((t) => !t.deprecated);
  return <CreateForm {...props} templates={offered} />;
}

function CreateForm({ userId, config, existing, onClose, templates }: Props & { templates: TemplateView[] }) {
  const [templateName, setTemplateName] = useState(templates[0]?.name ?? CUSTOM);
  const template = templates.find((t) => t.name === templateName);
  const rules = template?.config ?? config; // what the fields offer: the template's choices
  const [values, setValues] = useState<FormValues>(() => defaultValues(rules));
  const create = useCreateWorkspace(userId);
  const titleId = useId();
  const narrow = useMediaQuery(useTheme().breakpoints.down('sm'));
  // Checked as the user types, with the server's rules: most refusals never reach the server.
  const errors = validate(
    values,
    rules,
    existing.map((w) => w.display_name),
  );
  const nothingOffered = !templates.length && !config.custom_allowed;

  const choose = (name: string) => {
    const next = templates.find((t) => t.name === name)?.config ?? config;
    setTemplateName(name);
    setValues({ ...defaultValues(next), name: values.name, schedule: values.schedule, startNow: values.startNow });
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (Object.keys(errors).length || nothingOffered) return;
    const body = toInput(values, rules);
    create.mutate(template ? { ...body, template: template.name } : body, { onSuccess: onClose });
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
        {nothingOffered ? (
          <Alert severity="info">
            No templates are defined yet, and workspaces follow one here: ask your administrator.
          </Alert>
        ) : (
          <>
            {(templates.length > 0 || !config.custom_allowed) && (
              <TextField
                select
                label="Template"
                value={templateName}
                onChange={(e) => choose(e.target.value)}
                helperText={
                  template?.description || (template ? ' ' : 'Choose every value yourself, within the limits')
                }
                fullWidth
                sx={{ mt: 1, mb: 1 }}
              >
                {templates.map((t) => (
                  <MenuItem key={t.name} value={t.name}>
                    {t.display_name}
                  </MenuItem>
                ))}
                {config.custom_allowed && <MenuItem value={CUSTOM}>Custom</MenuItem>}
              </TextField>
            )}
            <WorkspaceFields config={rules} values={values} errors={errors} onChange={setValues} showStartNow />
          </>
        )}
      </FormDialogBody>
    </Dialog>
  );
}
