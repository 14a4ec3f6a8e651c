import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { WorkspacePage } from '@/api/types';
import { admin, workspace } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';

describe('all workspaces (administrators)', () => {
  it('lists every user, filters by status on the server, searches, and stops', async () => {
    const queries: string[] = [];
    const items = [
      workspace({ id: 'wsalice1', display_name: 'Alice notebook', user_id: 'alice' }),
      workspace({ id: 'wsbob0001', display_name: 'Bob training', user_id: 'bob' }),
    ];
    let stopped = '';
    server.use(
      handlers.me(admin),
      http.get(`${API}/workspaces`, ({ request }) => {
        queries.push(new URL(request.url).search);
        return HttpResponse.json<WorkspacePage>({ items, total: items.length, limit: 25, offset: 0 });
      }),
      http.post(`${API}/users/bob/workspace/wsbob0001:stop`, () => ((stopped = 'bob'), HttpResponse.json(items[1]))),
    );
    const { user } = renderApp('#/admin/workspaces');
    expect(await screen.findByRole('heading', { level: 1, name: 'All workspaces' })).toBeInTheDocument();
    expect(await screen.findByRole('row', { name: /Alice notebook/ })).toBeInTheDocument();
    expect(queries[0]).toBe('?limit=25&offset=0');

    await fill(user, screen.getByLabelText('Search'), 'bob');
    expect(screen.queryByRole('row', { name: /Alice notebook/ })).not.toBeInTheDocument();
    const row = screen.getByRole('row', { name: /Bob training/ });
    await user.click(within(row).getByRole('button', { name: 'Stop' }));
    await waitFor(() => expect(stopped).toBe('bob'));
    expect(within(row).getByRole('button', { name: 'Delete' })).toBeInTheDocument();

    await user.click(screen.getByRole('combobox', { name: 'Status' }));
    await user.click(await screen.findByRole('option', { name: 'failed' }));
    await waitFor(() => expect(queries).toContain('?status=failed&limit=25&offset=0'));
  });

  it('is refused to other users with the server message', async () => {
    server.use(
      handlers.list([]),
      http.get(`${API}/workspaces`, () =>
        HttpResponse.json({ detail: 'Only administrators may do this.' }, { status: 403 }),
      ),
    );
    renderApp('#/admin/workspaces');
    expect(await screen.findByRole('alert')).toHaveTextContent('Only administrators may do this.');
  });
});
