import {
  Checkbox,
  FormControlLabel,
  FormHelperText,
  MenuItem,
  Stack,
  TextField,
  ToggleButton,
  ToggleButtonGroup,
  Typography,
} from '@mui/material';
import { useId, useMemo } from 'react';
import type { ConfigOptions, Weekday } from '@/api/types';
import { DAY_LABELS, WEEKDAYS, type ScheduleValues } from '../schedule';

type Props = {
  config: ConfigOptions;
  values: ScheduleValues;
  error?: string;
  onChange: (values: ScheduleValues) => void;
};

const zones = (current: string) => {
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set(['UTC', current, ...all])].sort();
};

/** "Start and stop on a schedule": days, a start and a stop time, a time zone. */
export function ScheduleFields({ config, values, error, onChange }: Props) {
  const helpId = useId();
  const daysId = useId();
  const set = <K extends keyof ScheduleValues>(key: K, value: ScheduleValues[K]) =>
    onChange({ ...values, [key]: value });
  const choices = useMemo(() => zones(values.timezone), [values.timezone]);
  const latest = config.schedule_stop_latest;

  return (
    <div>
      <FormControlLabel
        control={
          <Checkbox
            checked={values.on}
            onChange={(e) => set('on', e.target.checked)}
            slotProps={{ input: { 'aria-describedby': helpId } }}
          />
        }
        label="Start and stop on a schedule"
      />
      <FormHelperText id={helpId} sx={{ mt: 0, mb: values.on ? 1 : 0 }}>
        {values.on
          ? 'On these days it is started at the start time if it is not running, and stopped at the stop time if it is. Idle stop applies too.'
          : 'Start it and stop it yourself (idle stop applies).'}
        {latest ? ` Every workspace stops by ${latest} here.` : ''}
      </FormHelperText>
      {values.on && (
        <Stack spacing={2}>
          <div>
            <Typography id={daysId} variant="body2" color="text.secondary" sx={{ mb: 0.5 }}>
              Days
            </Typography>
            <ToggleButtonGroup
              aria-labelledby={daysId}
              value={values.days}
              onChange={(_, days: Weekday[]) => set('days', days)}
              size="small"
              sx={{ flexWrap: 'wrap' }}
            >
              {WEEKDAYS.map((day) => (
                <ToggleButton key={day} value={day} aria-label={DAY_LABELS[day]}>
                  {DAY_LABELS[day]}
                </ToggleButton>
              ))}
            </ToggleButtonGroup>
          </div>
          <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2}>
            <TextField
              label="Start at"
              type="time"
              value={values.start}
              onChange={(e) => set('start', e.target.value)}
              helperText="Empty: it is not started"
              slotProps={{ inputLabel: { shrink: true } }}
              fullWidth
            />
            <TextField
              label="Stop at"
              type="time"
              value={values.stop}
              onChange={(e) => set('stop', e.target.value)}
              helperText={latest ? `By ${latest} at the latest` : 'Empty: it is not stopped'}
              slotProps={{ inputLabel: { shrink: true }, htmlInput: latest ? { max: latest } : {} }}
              fullWidth
            />
          </Stack>
          <TextField
            select
            label="Time zone"
            value={values.timezone}
            onChange={(e) => set('timezone', e.target.value)}
            fullWidth
          >
            {choices.map((zone) => (
              <MenuItem key={zone} value={zone}>
                {zone}
              </MenuItem>
            ))}
          </TextField>
          {error && (
            <FormHelperText error role="alert">
              {error}
            </FormHelperText>
          )}
        </Stack>
      )}
    </div>
  );
}
