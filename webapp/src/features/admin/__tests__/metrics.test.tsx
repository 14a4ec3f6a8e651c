import { screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { admin, alice } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

const METRICS = `# TYPE lab_workspace_manager_workspaces gauge
lab_workspace_manager_workspaces{status="running"} 3.0
lab_workspace_manager_workspaces{status="stopped"} 5.0
lab_workspace_manager_workspaces{status="failed"} 1.0
lab_workspace_manager_users_with_running_workspaces 2.0
lab_workspace_manager_event_streams_open 7.0
lab_workspace_manager_failures_total{reason="image"} 0.0
lab_workspace_manager_failures_total{reason="quota"} 4.0
lab_workspace_manager_failures_total{reason="oom"} 1.0
`;

describe('metrics (administrators)', () => {
  it('shows the key numbers and how to scrape them', async () => {
    server.use(
      handlers.me(admin),
      http.get(`${API}/metrics`, () =>
        HttpResponse.text(METRICS, { headers: { 'Content-Type': 'text/plain; version=0.0.4' } }),
      ),
    );
    renderApp('#/admin/metrics');
    expect(await screen.findByRole('heading', { level: 1, name: 'Metrics' })).toBeInTheDocument();
    expect(await screen.findByLabelText('Running')).toHaveTextContent('3');
    expect(screen.getByLabelText('Stopped')).toHaveTextContent('5');
    expect(screen.getByLabelText('Users with running workspaces')).toHaveTextContent('2');
    expect(screen.getByLabelText('Event streams open')).toHaveTextContent('7');
    const failures = screen.getByLabelText('Failures by reason');
    expect(within(failures).getByText('Quota reached').nextSibling).toHaveTextContent('4');
    expect(within(failures).getByText('Out of memory').nextSibling).toHaveTextContent('1');
    expect(within(failures).getByText('Image (missing, or its pull failed)').nextSibling).toHaveTextContent('0');
    expect(screen.getByRole('link', { name: `${API}/metrics` })).toBeInTheDocument();
    expect(screen.getAllByText('METRICS_TOKEN').length).toBeGreaterThan(0);
    expect(screen.getByText('docker/grafana-dashboard.json')).toBeInTheDocument();
    expect(screen.getByLabelText('Prometheus scrape configuration')).toHaveTextContent('metrics_path: /api/metrics');
    expect(screen.getByRole('link', { name: 'Metrics' })).toBeInTheDocument();
  });

  it('says what the server said when it refuses, and users have no Metrics link', async () => {
    server.use(
      handlers.me(admin),
      http.get(`${API}/metrics`, () => problem(503, 'The Docker engine is not reachable.')),
    );
    const { unmount } = renderApp('#/admin/metrics');
    expect(await screen.findByRole('alert')).toHaveTextContent('The Docker engine is not reachable.');
    unmount();
    server.use(handlers.me(alice), handlers.list([]));
    renderApp('#/users/alice/workspace');
    expect(await screen.findByRole('link', { name: 'My workspaces' })).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Metrics' })).not.toBeInTheDocument();
  });
});
