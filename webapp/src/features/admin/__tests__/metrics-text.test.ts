import { describe, expect, it } from 'vitest';
import { byLabel, parseMetrics, total } from '../metrics-text';

// As prometheus_client writes it (abridged).
const TEXT = `# HELP lab_workspace_manager_workspaces Workspaces by status.
# TYPE lab_workspace_manager_workspaces gauge
lab_workspace_manager_workspaces{status="running"} 3.0
lab_workspace_manager_workspaces{status="stopped"} 2.0
# TYPE lab_workspace_manager_failures_total counter
lab_workspace_manager_failures_total{reason="quota"} 4.0
lab_workspace_manager_failures_total{reason="oom"} 1.0
lab_workspace_manager_failures_created{reason="oom"} 1.7649e+09
lab_workspace_manager_users_with_running_workspaces 2.0
lab_workspace_manager_time_to_ready_seconds_bucket{image="a:1",le="+Inf",outcome="ready"} 5.0
lab_workspace_manager_time_to_ready_seconds_bucket{image="b:1",le="+Inf",outcome="ready"} 1.0
odd_label{text="a \\"quoted\\", comma\\\\ and\\nnewline",other="x"} -Inf 1700000000000
not a sample line
broken{label="unterminated} 1
`;

describe('parseMetrics', () => {
  const samples = parseMetrics(TEXT);

  it('reads names, labels and values, and passes over comments and unreadable lines', () => {
    expect(samples).toHaveLength(9);
    expect(samples[0]).toEqual({
      name: 'lab_workspace_manager_workspaces',
      labels: { status: 'running' },
      value: 3,
    });
    expect(samples.find((s) => s.name === 'lab_workspace_manager_users_with_running_workspaces')).toEqual({
      name: 'lab_workspace_manager_users_with_running_workspaces',
      labels: {},
      value: 2,
    });
    expect(samples.find((s) => s.name === 'lab_workspace_manager_failures_created')?.value).toBe(1.7649e9);
  });

  it('unescapes label values and reads infinities', () => {
    const odd = samples.find((s) => s.name === 'odd_label');
    expect(odd).toEqual({
      name: 'odd_label',
      labels: { text: 'a "quoted", comma\\ and\nnewline', other: 'x' },
      value: -Infinity,
    });
    expect(samples.find((s) => s.labels.le === '+Inf')?.labels).toEqual({ image: 'a:1', le: '+Inf', outcome: 'ready' });
  });

  it('sums by labels', () => {
    expect(total(samples, 'lab_workspace_manager_workspaces', { status: 'stopped' })).toBe(2);
    expect(total(samples, 'lab_workspace_manager_workspaces')).toBe(5);
    expect(total(samples, 'lab_workspace_manager_workspaces', { status: 'failed' })).toBe(0);
    expect(total(samples, 'lab_workspace_manager_time_to_ready_seconds_bucket', { le: '+Inf' })).toBe(6);
    expect(byLabel(samples, 'lab_workspace_manager_failures_total', 'reason')).toEqual([
      ['quota', 4],
      ['oom', 1],
    ]);
  });

  it('reads nothing from an empty text', () => {
    expect(parseMetrics('')).toEqual([]);
  });
});
