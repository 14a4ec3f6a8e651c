// Start progress from the events stream: which phase a workspace is in, and how far along.
import type { WorkspaceEvent } from '@/api/types';

export const PHASES = ['pulling', 'volume', 'creating', 'starting', 'waiting', 'ready', 'failed', 'stopped', 'deleted'];
export const TERMINAL = new Set(['ready', 'failed', 'stopped', 'deleted']);

// Where each phase starts on the bar (%). The pull fills 0–50 by bytes; waiting for the
// workspace to answer is usually the longest of the rest.
const START_AT: Record<string, number> = {
  pulling: 0,
  volume: 50,
  creating: 60,
  starting: 70,
  waiting: 80,
  ready: 100,
};

export type Progress = {
  phase: string;
  message: string;
  percent: number;
  done: boolean;
  failed: boolean;
  layers: Record<string, { current: number; total: number }>;
};

export const initialProgress: Progress = { phase: '', message: '', percent: 0, done: false, failed: false, layers: {} };

function pullPercent(layers: Progress['layers']): number {
  const all = Object.values(layers);
  const total = all.reduce((sum, l) => sum + l.total, 0);
  if (!total) return 0;
  return (50 * all.reduce((sum, l) => sum + Math.min(l.current, l.total), 0)) / total;
}

export function reduceProgress(state: Progress, event: WorkspaceEvent): Progress {
  // After a terminal phase a new event starts a new attempt (the history may hold several).
  const previous = state.done ? initialProgress : state;
  const layers =
    event.phase === 'pulling' && event.layer && event.total
      ? { ...previous.layers, [event.layer]: { current: event.current ?? 0, total: event.total } }
      : previous.layers;
  const reached = event.phase === 'pulling' ? pullPercent(layers) : (START_AT[event.phase] ?? previous.percent);
  return {
    phase: event.phase,
    message: event.message,
    // The bar never moves backwards within one attempt; a failure leaves it where it stopped.
    percent: event.phase === 'failed' ? previous.percent : Math.max(previous.percent, reached),
    done: TERMINAL.has(event.phase),
    failed: event.phase === 'failed',
    layers,
  };
}
