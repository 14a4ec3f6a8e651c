import { screen, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it, vi } from 'vitest';
import { workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

describe('workspace list', () => {
  it('explains how to start when there are no workspaces', async () => {
    server.use(handlers.list([]));
    const { user } = renderApp('#/users/alice/workspace');
    expect(await screen.findByText('No workspaces yet')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Create your first workspace' }));
    expect(await screen.findByRole('dialog', { name: 'New workspace' })).toBeInTheDocument();
  });

  it('shows each workspace as an article with its status, message, size and actions', async () => {
    server.use(
      handlers.list([
        workspace({ display_name: 'Training', access_url: '/workspaces/ws1abcdef/', id: 'ws1abcdef' }),
        workspace({ display_name: 'Old one', status: 'stopped', status_message: 'Stopped by you.', is_stopped: true }),
        workspace({
          display_name: 'Broken',
          status: 'failed',
          status_message: 'Failed to start: the workspace used more than its 1000 MB memory limit.',
        }),
      ]),
      handlers.stats({ cpu_percent: 50, memory_used: 500, volume_used: 1000, measured_at: new Date().toISOString() }),
    );
    renderApp('#/users/alice/workspace');

    const running = await screen.findByRole('article', { name: 'Training' });
    expect(within(running).getByText('running')).toBeInTheDocument();
    expect(within(running).getByRole('button', { name: 'Open' })).toBeInTheDocument();
    for (const name of ['Stop', 'Restart', 'Settings', 'Details', 'Delete'])
      expect(within(running).getByRole('button', { name })).toBeInTheDocument();
    expect(within(running).queryByRole('button', { name: 'Start' })).not.toBeInTheDocument();
    expect(await within(running).findByRole('progressbar', { name: 'Memory usage' })).toHaveAttribute(
      'aria-valuenow',
      '50',
    );

    const stopped = screen.getByRole('article', { name: 'Old one' });
    expect(within(stopped).getByText('stopped')).toBeInTheDocument();
    expect(within(stopped).getByText('Stopped by you.')).toBeInTheDocument();
    expect(within(stopped).getByRole('button', { name: 'Start' })).toBeInTheDocument();
    expect(within(stopped).queryByRole('button', { name: 'Open' })).not.toBeInTheDocument();

    const failed = screen.getByRole('article', { name: 'Broken' });
    expect(within(failed).getByText(/more than its 1000 MB memory limit/)).toBeInTheDocument();
    expect(within(failed).getByRole('button', { name: 'Start' })).toBeInTheDocument();
    expect(within(failed).getByRole('button', { name: 'Delete' })).toBeInTheDocument();
  });

  it("offers nothing on another user's list to someone who is not an administrator", async () => {
    const refusal = "You can only manage your own workspaces, not those of 'bob'.";
    server.use(http.get(`${API}/users/bob/workspace`, () => problem(403, refusal)));
    renderApp('#/users/bob/workspace');
    expect(await screen.findByRole('alert')).toHaveTextContent(refusal);
    expect(screen.queryByRole('button', { name: 'New workspace' })).not.toBeInTheDocument();
    expect(screen.queryByText(/managed by you as an administrator/)).not.toBeInTheDocument();
  });

  it('shows why loading failed', async () => {
    server.use(http.get(`${API}/users/alice/workspace`, () => problem(503, 'The Docker engine cannot be reached.')));
    renderApp('#/users/alice/workspace');
    expect(await screen.findByRole('alert')).toHaveTextContent('The Docker engine cannot be reached.');
  });

  it('opens a workspace in a new tab at the address the manager hands out, or says why not', async () => {
    const running = workspace({ display_name: 'Training', access_url: '/workspaces/ws1abcdef/', id: 'ws1abcdef' });
    let answer: Response = HttpResponse.json({
      url: 'http://ws1abcdef.localhost:8080/_workspace_manager/handoff?code=x',
    });
    server.use(
      handlers.list([running]),
      http.post(`${API}/users/alice/workspace/ws1abcdef\\:open`, () => answer),
    );
    const tab = { opener: {} as unknown, location: { href: 'about:blank' }, close: vi.fn() };
    const open = vi.spyOn(window, 'open').mockReturnValue(tab as unknown as Window);
    const { user } = renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Training' });

    await user.click(within(card).getByRole('button', { name: 'Open' }));
    expect(open).toHaveBeenCalledWith('', '_blank'); // at once, inside the click
    expect(tab.opener).toBeNull(); // the workspace gets no handle on the app
    await vi.waitFor(() =>
      expect(tab.location.href).toBe('http://ws1abcdef.localhost:8080/_workspace_manager/handoff?code=x'),
    );

    answer = problem(409, 'The workspace is stopped, not running: start it, and open it once it runs.');
    await user.click(within(card).getByRole('button', { name: 'Open' }));
    expect(await within(card).findByRole('alert')).toHaveTextContent('The workspace is stopped, not running');
    expect(tab.close).toHaveBeenCalled();
    open.mockRestore();
  });
});
