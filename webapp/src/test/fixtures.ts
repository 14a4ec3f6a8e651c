// Response bodies for the msw handlers, typed by the generated schema.
import type { ConfigOptions, Me, TokenInfo, Workspace } from '@/api/types';

export const config: ConfigOptions = {
  display_name_default: 'my-workspace',
  display_name_max_length: 128,
  container_image_default: { image: 'mltooling/ml-workspace-minimal:0.13.2', display_name: 'ML workspace (minimal)' },
  container_image_options: [
    { image: 'mltooling/ml-workspace-minimal:0.13.2', display_name: 'ML workspace (minimal)' },
    { image: 'mltooling/ml-workspace-gpu:0.13.2', display_name: 'ML workspace (GPU)' },
  ],
  cpus_default: 1,
  cpus_min: 0.5,
  cpus_max: 4,
  cpus_step: 0.5,
  cpus_options: [],
  memory_default: 1000,
  memory_min: 100,
  memory_max: 8000,
  memory_options: [],
  volume_size_default: 5000,
  volume_size_min: 100,
  volume_size_max: 10000,
  container_size: 5000,
  gpus_default: 0,
  gpus_max: 0,
  shm_size: 512,
  idle_timeout_default: 3600,
  idle_timeout_options: [0, 1800, 3600],
  always_clear_volume_on_stop: false,
  container_size_hard: false,
  volume_size_hard: false,
  schedules_available: true,
  schedule_default: null,
  schedule_stop_latest: null,
  schedule_timezone: 'UTC',
  sharing_available: true,
  snapshots_available: true,
  snapshot_max_size: 10000,
  custom_allowed: true,
  workspaces_on_manager_origin: false,
};

export const alice: Me = { id: 'alice', is_admin: false, auth_mode: 'standalone' };
export const admin: Me = { id: 'admin', is_admin: true, auth_mode: 'standalone' };

let counter = 0;

export function workspace(overrides: Partial<Workspace> = {}): Workspace {
  counter += 1;
  return {
    id: `ws${String(counter).padStart(6, '0')}`,
    user_id: 'alice',
    display_name: `workspace ${counter}`,
    container_image: 'mltooling/ml-workspace-minimal:0.13.2',
    compute: { cpus: 1, memory: 1000, volume_size: 5000, gpus: 0 },
    idle_timeout: 0,
    clear_volume_on_stop: false,
    status: 'running',
    status_message: 'Running.',
    is_stopped: false,
    access_url: null,
    created_at: new Date(Date.now() - 3600_000).toISOString(),
    stops_at: null,
    stop_reason: null,
    stop_postponable: false,
    starts_at: null,
    schedule: null,
    template: null,
    template_version: null,
    template_status: null,
    environment: {},
    ...overrides,
  };
}

export function token(overrides: Partial<TokenInfo> = {}): TokenInfo {
  return {
    id: 'tok1',
    user_id: 'bob',
    is_admin: false,
    created_at: '2026-11-01T10:00:00Z',
    expires_at: '2027-01-30T10:00:00Z',
    description: 'for Bob',
    ...overrides,
  };
}
