import type { Workspace, WorkspaceStatus } from '@/api/types';

/** Pending or terminating: its state is about to change by itself. */
export const isTransitioning = (w: Pick<Workspace, 'status'>) => w.status === 'pending' || w.status === 'terminating';

export const canStart = (w: Workspace) => w.status === 'stopped' || w.status === 'failed' || w.status === 'unknown';
export const canStop = (w: Workspace) => w.status === 'running' || w.status === 'pending';
export const canRestart = (w: Workspace) => w.status === 'running';

export const statusColor: Record<WorkspaceStatus, 'success' | 'info' | 'default' | 'error' | 'warning'> = {
  running: 'success',
  pending: 'info',
  stopped: 'default',
  failed: 'error',
  terminating: 'warning',
  unknown: 'warning',
};
