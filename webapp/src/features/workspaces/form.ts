// The create and settings form: its values, defaults from GET /config, and the server's rules
// (backend validation.py) checked inline, so most refusals never reach the server.
import type { ConfigOptions, Workspace, WorkspaceInput, WorkspaceUpdate } from '@/api/types';
import { checkSchedule, scheduleValues, toSchedule, type ScheduleValues } from './schedule';

export type FormValues = {
  name: string;
  image: string;
  cpus: string;
  memory: string;
  volumeSize: string;
  gpus: string;
  idleTimeout: number;
  clearOnStop: boolean;
  startNow: boolean;
  schedule: ScheduleValues;
};

export type FormErrors = Partial<Record<keyof FormValues, string>>;

export function defaultValues(config: ConfigOptions): FormValues {
  return {
    name: config.display_name_default,
    image: config.container_image_default.image,
    cpus: String(config.cpus_default),
    memory: String(config.memory_default),
    volumeSize: String(config.volume_size_default),
    gpus: String(config.gpus_default ?? 0),
    idleTimeout: config.idle_timeout_default,
    clearOnStop: config.always_clear_volume_on_stop,
    startNow: true,
    schedule: scheduleValues(config.schedule_default),
  };
}

export function valuesOf(workspace: Workspace): FormValues {
  return {
    name: workspace.display_name,
    image: workspace.container_image,
    cpus: String(workspace.compute.cpus),
    memory: String(workspace.compute.memory),
    volumeSize: String(workspace.compute.volume_size),
    gpus: String(workspace.compute.gpus ?? 0),
    idleTimeout: workspace.idle_timeout ?? 0,
    clearOnStop: workspace.clear_volume_on_stop ?? false,
    startNow: !workspace.is_stopped,
    schedule: scheduleValues(workspace.schedule),
  };
}

/** The idle timeouts to offer: the configured list, or (none configured) the default and Never. */
export function idleTimeoutChoices(config: ConfigOptions, current?: number): number[] {
  const base = config.idle_timeout_options.length ? config.idle_timeout_options : [0, config.idle_timeout_default];
  const all = current === undefined ? base : [...base, current];
  return [...new Set(all)].sort((a, b) => a - b);
}

const isCloseTo = (a: number, b: number) => Math.abs(a - b) < 1e-6;
// Control and invisible formatting characters, as the server's unicodedata category "C*".
const CONTROL = /[\p{C}]/u;

function checkName(name: string, config: ConfigOptions, takenNames: string[]): string | undefined {
  const trimmed = name.normalize('NFC').trim();
  if (!trimmed) return 'A workspace needs a name.';
  if (trimmed.length > config.display_name_max_length)
    return `At most ${config.display_name_max_length} characters (now ${trimmed.length}).`;
  if (CONTROL.test(trimmed)) return 'Control or invisible characters are not allowed.';
  const key = trimmed.toLowerCase();
  if (takenNames.some((n) => n.toLowerCase() === key)) return `You already have a workspace named '${trimmed}'.`;
  return undefined;
}

function checkCpus(text: string, config: ConfigOptions): string | undefined {
  const cpus = Number(text);
  if (!text.trim() || !Number.isFinite(cpus) || cpus <= 0) return 'Enter a number of CPUs above 0, such as 0.5 or 2.';
  if (config.cpus_options.length) {
    return config.cpus_options.some((o) => isCloseTo(o, cpus))
      ? undefined
      : `Choose one of ${config.cpus_options.join(', ')}.`;
  }
  if (cpus < config.cpus_min || cpus > config.cpus_max) return `From ${config.cpus_min} to ${config.cpus_max} CPUs.`;
  const steps = cpus / config.cpus_step;
  if (!isCloseTo(steps, Math.round(steps))) return `Use steps of ${config.cpus_step} CPUs.`;
  return undefined;
}

function checkWhole(text: string, min: number, max: number, unit: string, options: number[] = []): string | undefined {
  const value = Number(text);
  if (!text.trim() || !Number.isInteger(value)) return `Enter a whole number of ${unit}.`;
  if (options.length && !options.includes(value)) return `Choose one of ${options.join(', ')} ${unit}.`;
  if (value < min || value > max) return `From ${min} to ${max} ${unit}.`;
  return undefined;
}

export function validate(values: FormValues, config: ConfigOptions, takenNames: string[]): FormErrors {
  const errors: FormErrors = {
    name: checkName(values.name, config, takenNames),
    image: config.container_image_options.some((o) => o.image === values.image)
      ? undefined
      : 'Choose an image from the list.',
    cpus: checkCpus(values.cpus, config),
    memory: checkWhole(values.memory, config.memory_min, config.memory_max, 'MB', config.memory_options),
    volumeSize: checkWhole(values.volumeSize, config.volume_size_min, config.volume_size_max, 'MB'),
    gpus: checkWhole(values.gpus, 0, config.gpus_max, 'GPUs'),
    schedule: config.schedules_available ? checkSchedule(values.schedule, config) : undefined,
  };
  return Object.fromEntries(Object.entries(errors).filter(([, message]) => message)) as FormErrors;
}

export function toInput(values: FormValues, config: ConfigOptions): WorkspaceInput {
  return {
    display_name: values.name.trim(),
    container_image: values.image,
    compute: {
      cpus: Number(values.cpus),
      memory: Number(values.memory),
      volume_size: Number(values.volumeSize),
      ...(config.gpus_max > 0 ? { gpus: Number(values.gpus) } : {}),
    },
    idle_timeout: values.idleTimeout,
    clear_volume_on_stop: values.clearOnStop,
    is_stopped: !values.startNow,
    ...(config.schedules_available ? { schedule: toSchedule(values.schedule) } : {}),
  };
}

/** Only what changed, so an unchanged field is never re-checked against today's limits. */
export function toUpdate(values: FormValues, before: FormValues): WorkspaceUpdate {
  const update: WorkspaceUpdate = {};
  const compute: NonNullable<WorkspaceUpdate['compute']> = {};
  if (values.name.trim() !== before.name) update.display_name = values.name.trim();
  if (values.image !== before.image) update.container_image = values.image;
  if (values.idleTimeout !== before.idleTimeout) update.idle_timeout = values.idleTimeout;
  if (values.clearOnStop !== before.clearOnStop) update.clear_volume_on_stop = values.clearOnStop;
  if (Number(values.cpus) !== Number(before.cpus)) compute.cpus = Number(values.cpus);
  if (Number(values.memory) !== Number(before.memory)) compute.memory = Number(values.memory);
  if (Number(values.volumeSize) !== Number(before.volumeSize)) compute.volume_size = Number(values.volumeSize);
  if (Number(values.gpus) !== Number(before.gpus)) compute.gpus = Number(values.gpus);
  if (Object.keys(compute).length) update.compute = compute;
  const schedule = toSchedule(values.schedule);
  if (JSON.stringify(schedule) !== JSON.stringify(toSchedule(before.schedule))) update.schedule = schedule;
  return update;
}

/** Changes that recreate the container (a restart; /workspace is kept). */
export function needsRestart(update: WorkspaceUpdate): boolean {
  return update.container_image !== undefined || update.compute?.gpus !== undefined;
}
