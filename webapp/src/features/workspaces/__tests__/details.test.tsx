import { screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';

const stopsAt = new Date(Date.now() + 20 * 60_000).toISOString();
const w = workspace({
  id: 'wsdetails',
  display_name: 'Detailed',
  idle_timeout: 1800,
  stops_at: stopsAt,
  stop_reason: 'idle for 30 minutes',
  access_url: '/workspaces/wsdetails/',
});

describe('details page', () => {
  it('says why a workspace is not measured instead of showing nothing used', async () => {
    const why = 'Not measured on node node2: this manager does not reach the engine of node node2.';
    server.use(
      http.get(`${API}/users/alice/workspace/wsdetails`, () => HttpResponse.json(w)),
      handlers.stats({ not_measured: why }),
    );
    const { user } = renderApp('#/users/alice/workspace/wsdetails');
    await user.click(await screen.findByRole('tab', { name: 'Usage' }));
    expect(await screen.findByRole('status')).toHaveTextContent(why);
  });

  it('has tabs for overview, logs, usage and the embedded workspace; postpones idle stop', async () => {
    let extended = 0;
    server.use(
      http.get(`${API}/users/alice/workspace/wsdetails`, () => HttpResponse.json(w)),
      http.get(`${API}/users/alice/workspace/wsdetails/logs`, () => HttpResponse.text('line one\nline two')),
      http.post(`${API}/users/alice/workspace/wsdetails\\:extend`, () => ((extended += 1), HttpResponse.json(w))),
      http.post(`${API}/users/alice/workspace/wsdetails\\:open`, () =>
        HttpResponse.json({ url: 'http://wsdetails.localhost:8080/_workspace_manager/handoff?code=c1' }),
      ),
      handlers.stats({ cpu_percent: 25, memory_used: 250, volume_used: 100, container_used: 10 }),
    );
    const { user } = renderApp('#/users/alice/workspace/wsdetails');
    expect(await screen.findByRole('heading', { level: 1, name: 'Detailed' })).toBeInTheDocument();
    expect(screen.getByText(/Stops at/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Postpone idle stop' }));
    await vi.waitFor(() => expect(extended).toBe(1));

    await user.click(screen.getByRole('tab', { name: 'Logs' }));
    expect(await screen.findByText(/line one/)).toBeInTheDocument();

    await user.click(screen.getByRole('tab', { name: 'Usage' }));
    expect(await screen.findByRole('progressbar', { name: 'CPU usage' })).toHaveAttribute('aria-valuenow', '25');
    expect(screen.getByText('0.25 of 1.00 CPUs')).toBeInTheDocument();

    await user.click(screen.getByRole('tab', { name: 'Open here' }));
    // The frame shows the workspace's own origin, at the address the manager handed out.
    const frame = await screen.findByTitle('Workspace Detailed');
    expect(frame.tagName).toBe('IFRAME');
    expect(frame).toHaveAttribute('src', 'http://wsdetails.localhost:8080/_workspace_manager/handoff?code=c1');
  });

  it('a missing workspace explains itself', async () => {
    server.use(
      http.get(`${API}/users/alice/workspace/wsmissing`, () =>
        HttpResponse.json({ detail: "Workspace 'wsmissing' does not exist (or is not yours)." }, { status: 404 }),
      ),
    );
    renderApp('#/users/alice/workspace/wsmissing');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent("Workspace 'wsmissing' does not exist (or is not yours).");
    expect(within(alert).getByRole('link', { name: 'Back to the list' })).toBeInTheDocument();
  });
});
