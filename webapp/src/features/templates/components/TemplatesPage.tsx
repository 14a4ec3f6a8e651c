import {
  Alert,
  Box,
  Button,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogContentText,
  DialogTitle,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableContainer,
  TableHead,
  TableRow,
  TextField,
  Typography,
} from '@mui/material';
import { useId, useState } from 'react';
import type { TemplateInput, TemplateView } from '@/api/types';
import { Loading } from '@/components/CenteredMessage';
import { errorMessage } from '@/lib/errors';
import { useDeleteTemplate, usePutTemplate, useTemplates, useTemplateUses } from '../api/templates';

const EXAMPLE: TemplateInput = {
  display_name: 'Small',
  description: 'For notebooks and small data.',
  images: ['mltooling/ml-workspace-minimal:0.13.2'],
  cpus: { default: 1, min: 0.5, max: 2 },
  memory: { default: 2000, options: [2000, 4000] },
  volume_size: 5000,
  gpus: 0,
  idle_timeout: { default: 3600, options: [3600, 14400] },
  environment: {},
} as unknown as TemplateInput; // (bare numbers are fixed values: the server reads them so)

const definitionOf = (t: TemplateView): TemplateInput => {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { name, version, source, config, ...definition } = t;
  return definition;
};

/** Administrators: the templates, who is on which version, and defining them. */
export function TemplatesPage() {
  const templates = useTemplates();
  const remove = useDeleteTemplate();
  const put = usePutTemplate();
  const [editing, setEditing] = useState<{ name: string; body: TemplateInput; isNew: boolean } | null>(null);
  const [showing, setShowing] = useState<string | null>(null);

  return (
    <>
      <Stack direction="row" sx={{ alignItems: 'center', justifyContent: 'space-between', mb: 1 }}>
        <Typography variant="h4" component="h1">
          Templates
        </Typography>
        <Button variant="contained" onClick={() => setEditing({ name: '', body: EXAMPLE, isNew: true })}>
          New template
        </Button>
      </Stack>
      <Typography color="text.secondary" sx={{ mb: 2 }}>
        Kinds of workspace users create from. Each value is fixed or a range or list to choose from. Templates of the
        file (TEMPLATES_FILE) are changed there.
      </Typography>
      {(templates.error ?? remove.error ?? put.error) && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(templates.error ?? remove.error ?? put.error)}
        </Alert>
      )}
      {templates.isPending ? (
        <Loading label="Loading templates" />
      ) : (
        <Paper variant="outlined">
          <TableContainer>
            <Table size="small" aria-label="Templates">
              <TableHead>
                <TableRow>
                  <TableCell>Name</TableCell>
                  <TableCell>Version</TableCell>
                  <TableCell>Defined in</TableCell>
                  <TableCell>Actions</TableCell>
                </TableRow>
              </TableHead>
              <TableBody>
                {(templates.data ?? []).map((t) => (
                  <TableRow key={t.name}>
                    <TableCell component="th" scope="row">
                      {t.display_name}{' '}
                      <Typography component="span" color="text.secondary">
                        ({t.name})
                      </Typography>
                      {t.deprecated && <Chip size="small" label="deprecated" sx={{ ml: 1 }} />}
                    </TableCell>
                    <TableCell>{t.version}</TableCell>
                    <TableCell>{t.source === 'file' ? 'the file' : 'this page'}</TableCell>
                    <TableCell>
                      <Button size="small" onClick={() => setShowing(t.name)} aria-label={`Who uses ${t.name}`}>
                        Who uses it
                      </Button>
                      {t.source === 'api' && (
                        <>
                          <Button
                            size="small"
                            aria-label={`Edit ${t.name}`}
                            onClick={() => setEditing({ name: t.name, body: definitionOf(t), isNew: false })}
                          >
                            Edit
                          </Button>
                          <Button
                            size="small"
                            aria-label={`${t.deprecated ? 'Undeprecate' : 'Deprecate'} ${t.name}`}
                            onClick={() =>
                              put.mutate({ name: t.name, body: { ...definitionOf(t), deprecated: !t.deprecated } })
                            }
                          >
                            {t.deprecated ? 'Undeprecate' : 'Deprecate'}
                          </Button>
                          <Button
                            size="small"
                            color="error"
                            aria-label={`Remove ${t.name}`}
                            onClick={() => remove.mutate(t.name)}
                          >
                            Remove
                          </Button>
                        </>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
                {templates.data?.length === 0 && (
                  <TableRow>
                    <TableCell colSpan={4}>No templates yet: users choose every value themselves.</TableCell>
                  </TableRow>
                )}
              </TableBody>
            </Table>
          </TableContainer>
        </Paper>
      )}
      {showing && (
        <UsesDialog
          template={templates.data?.find((t) => t.name === showing)}
          name={showing}
          onClose={() => setShowing(null)}
        />
      )}
      {editing && <EditDialog {...editing} onClose={() => setEditing(null)} />}
    </>
  );
}

function UsesDialog({ name, template, onClose }: { name: string; template?: TemplateView; onClose: () => void }) {
  const uses = useTemplateUses(name);
  const titleId = useId();
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="sm" fullWidth>
      <DialogTitle id={titleId}>Workspaces of “{template?.display_name ?? name}”</DialogTitle>
      <DialogContent>
        {uses.isPending ? (
          <Loading label="Loading" />
        ) : uses.error ? (
          <Alert severity="error" role="alert">
            {errorMessage(uses.error)}
          </Alert>
        ) : uses.data.length === 0 ? (
          <DialogContentText>No workspace follows it.</DialogContentText>
        ) : (
          <Table size="small" aria-label="Who uses it">
            <TableHead>
              <TableRow>
                <TableCell>Workspace</TableCell>
                <TableCell>Owner</TableCell>
                <TableCell>Version</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {uses.data.map((u) => (
                <TableRow key={u.workspace_id}>
                  <TableCell>{u.display_name}</TableCell>
                  <TableCell>{u.owner}</TableCell>
                  <TableCell>
                    {u.version} {u.current ? '(latest)' : '(older)'}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Close</Button>
      </DialogActions>
    </Dialog>
  );
}

type EditProps = { name: string; body: TemplateInput; isNew: boolean; onClose: () => void };

/** A template as JSON: every field the API takes, checked by the server on save. */
function EditDialog({ name: initialName, body, isNew, onClose }: EditProps) {
  const [name, setName] = useState(initialName);
  const [text, setText] = useState(() => JSON.stringify(body, null, 2));
  const [parseError, setParseError] = useState('');
  const put = usePutTemplate();
  const titleId = useId();
  const save = () => {
    let parsed: TemplateInput;
    try {
      parsed = JSON.parse(text) as TemplateInput;
    } catch (e) {
      setParseError(`Not JSON: ${(e as Error).message}`);
      return;
    }
    setParseError('');
    put.mutate({ name: name.trim(), body: parsed }, { onSuccess: onClose });
  };
  return (
    <Dialog open onClose={onClose} aria-labelledby={titleId} maxWidth="md" fullWidth>
      <DialogTitle id={titleId}>{isNew ? 'New template' : `Edit “${initialName}”`}</DialogTitle>
      <DialogContent>
        <Box sx={{ display: 'grid', gap: 2, pt: 1 }}>
          <TextField
            label="Template name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            disabled={!isNew}
            helperText="Lowercase letters, digits and '-'; it cannot be changed later"
          />
          <TextField
            label="Definition (JSON)"
            value={text}
            onChange={(e) => setText(e.target.value)}
            multiline
            minRows={12}
            slotProps={{ htmlInput: { spellCheck: false, style: { fontFamily: 'monospace' } } }}
            helperText="A number fixes a value; {default, min, max} or {default, options} lets users choose."
          />
          {(parseError || put.error) && (
            <Alert severity="error" role="alert">
              {parseError || errorMessage(put.error)}
            </Alert>
          )}
        </Box>
      </DialogContent>
      <DialogActions>
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="contained" onClick={save} loading={put.isPending} disabled={!name.trim()}>
          Save
        </Button>
      </DialogActions>
    </Dialog>
  );
}
