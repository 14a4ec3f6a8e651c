import { Checkbox, FormControlLabel, FormHelperText, MenuItem, Stack, TextField } from '@mui/material';
import { useId } from 'react';
import type { ConfigOptions } from '@/api/types';
import { formatDuration } from '@/lib/format';
import { idleTimeoutChoices, type FormErrors, type FormValues } from '../form';
import { ScheduleFields } from './ScheduleFields';

type Props = {
  config: ConfigOptions;
  values: FormValues;
  errors: FormErrors;
  onChange: (values: FormValues) => void;
  showStartNow?: boolean;
  /** The workspace's current idle timeout, offered even if no longer in the list. */
  currentIdleTimeout?: number;
};

/** The fields of the create and settings dialogs, bounded by GET /config. */
export function WorkspaceFields({ config, values, errors, onChange, showStartNow = false, currentIdleTimeout }: Props) {
  const clearHelpId = useId();
  const set = <K extends keyof FormValues>(key: K, value: FormValues[K]) => onChange({ ...values, [key]: value });
  // A value the rules allow only one of (a template fixes it) is shown, not offered.
  const fixed = {
    cpus: config.cpus_options.length === 1 || config.cpus_min === config.cpus_max,
    memory: config.memory_options.length === 1 || config.memory_min === config.memory_max,
    volumeSize: config.volume_size_min === config.volume_size_max,
    name: false,
    gpus: false,
  };
  const text = (key: 'name' | 'cpus' | 'memory' | 'volumeSize' | 'gpus', hint: string) => ({
    value: values[key],
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => set(key, e.target.value),
    error: Boolean(errors[key]),
    helperText: errors[key] ?? (fixed[key] ? 'Fixed here' : hint),
    disabled: fixed[key],
    fullWidth: true,
  });
  const cpuHint = config.cpus_options.length
    ? `One of ${config.cpus_options.join(', ')}`
    : `${config.cpus_min} to ${config.cpus_max}, in steps of ${config.cpus_step}`;
  // A hard limit is enforced by the engine; a soft one by measuring and stopping.
  const diskRule = config.volume_size_hard ? 'writes beyond it fail' : 'a workspace over it is stopped';
  const memoryHint = config.memory_options.length
    ? `One of ${config.memory_options.join(', ')} MB`
    : `${config.memory_min} to ${config.memory_max} MB`;

  return (
    // (The hint of a fixed value is read, so it keeps a readable colour.)
    <Stack spacing={2} sx={{ pt: 1, '& .MuiFormHelperText-root.Mui-disabled': { color: 'text.secondary' } }}>
      <TextField
        label="Name"
        {...text('name', 'Unique among your workspaces')}
        slotProps={{ htmlInput: { maxLength: config.display_name_max_length, 'aria-required': true } }}
      />
      <TextField
        select
        label="Image"
        value={values.image}
        onChange={(e) => set('image', e.target.value)}
        error={Boolean(errors.image)}
        helperText={errors.image ?? (config.container_image_options.length === 1 ? 'Fixed here' : ' ')}
        disabled={config.container_image_options.length === 1}
        fullWidth
      >
        {config.container_image_options.map((option) => (
          <MenuItem key={option.image} value={option.image}>
            {option.display_name || option.image}
          </MenuItem>
        ))}
      </TextField>
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        {config.cpus_options.length ? (
          <TextField select label="CPUs" {...text('cpus', cpuHint)}>
            {config.cpus_options.map((o) => (
              <MenuItem key={o} value={String(o)}>
                {o}
              </MenuItem>
            ))}
          </TextField>
        ) : (
          <TextField
            label="CPUs"
            type="number"
            {...text('cpus', cpuHint)}
            slotProps={{
              htmlInput: { min: config.cpus_min, max: config.cpus_max, step: config.cpus_step, inputMode: 'decimal' },
            }}
          />
        )}
        {config.memory_options.length ? (
          <TextField select label="Memory (MB)" {...text('memory', memoryHint)}>
            {config.memory_options.map((o) => (
              <MenuItem key={o} value={String(o)}>
                {o}
              </MenuItem>
            ))}
          </TextField>
        ) : (
          <TextField
            label="Memory (MB)"
            type="number"
            {...text('memory', memoryHint)}
            slotProps={{ htmlInput: { min: config.memory_min, max: config.memory_max, step: 1, inputMode: 'numeric' } }}
          />
        )}
      </Stack>
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
        <TextField
          label="Disk (MB)"
          type="number"
          {...text(
            'volumeSize',
            `${config.volume_size_min} to ${config.volume_size_max} MB for /workspace; ${diskRule}`,
          )}
          slotProps={{
            htmlInput: { min: config.volume_size_min, max: config.volume_size_max, step: 1, inputMode: 'numeric' },
          }}
        />
        {config.gpus_max > 0 && (
          <TextField
            label="GPUs"
            type="number"
            {...text('gpus', `0 to ${config.gpus_max}`)}
            slotProps={{ htmlInput: { min: 0, max: config.gpus_max, step: 1, inputMode: 'numeric' } }}
          />
        )}
      </Stack>
      <TextField
        select
        label="Idle timeout"
        value={values.idleTimeout}
        onChange={(e) => set('idleTimeout', Number(e.target.value))}
        helperText="Stop it after this long without use; your files are kept"
        disabled={config.idle_timeout_options.length === 1}
        fullWidth
      >
        {idleTimeoutChoices(config, currentIdleTimeout).map((seconds) => (
          <MenuItem key={seconds} value={seconds}>
            {formatDuration(seconds)}
          </MenuItem>
        ))}
      </TextField>
      <div>
        <FormControlLabel
          control={
            <Checkbox
              slotProps={{ input: { 'aria-describedby': clearHelpId } }}
              checked={values.clearOnStop}
              disabled={config.always_clear_volume_on_stop}
              onChange={(e) => set('clearOnStop', e.target.checked)}
            />
          }
          label="Clear data on stop"
        />
        <FormHelperText id={clearHelpId} sx={{ mt: 0 }}>
          {config.always_clear_volume_on_stop
            ? 'Required here: /workspace is emptied every time the workspace stops.'
            : 'Empty /workspace every time the workspace stops (not on restart).'}
        </FormHelperText>
      </div>
      {config.schedules_available && (
        <ScheduleFields
          config={config}
          values={values.schedule}
          error={errors.schedule}
          onChange={(schedule) => set('schedule', schedule)}
        />
      )}
      {showStartNow && (
        <FormControlLabel
          control={<Checkbox checked={values.startNow} onChange={(e) => set('startNow', e.target.checked)} />}
          label="Start now"
        />
      )}
    </Stack>
  );
}
