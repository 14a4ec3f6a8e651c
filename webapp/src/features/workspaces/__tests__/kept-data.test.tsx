import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { KeptVolume } from '@/api/types';
import { workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

const kept = (overrides: Partial<KeptVolume> = {}): KeptVolume => ({
  workspace_id: 'wsgone0001',
  user_id: 'alice',
  display_name: 'Old analysis',
  size: 4000,
  used: 1200,
  created_at: '2026-11-30T10:00:00Z',
  ...overrides,
});

describe('kept data', () => {
  it('is not shown when there is none', async () => {
    server.use(handlers.list([workspace({ display_name: 'Alive' })]));
    renderApp('#/users/alice/workspace');
    await screen.findByRole('article', { name: 'Alive' });
    expect(screen.queryByRole('region', { name: 'Kept data' })).not.toBeInTheDocument();
  });

  it('lists what counts toward the quota and deletes it after asking', async () => {
    const deleted: string[] = [];
    server.use(
      handlers.list([]),
      handlers.kept([kept()], 'alice'),
      http.delete(`${API}/users/alice/kept-volumes/:id`, ({ params }) => {
        deleted.push(String(params.id));
        server.use(handlers.kept([], 'alice'));
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const section = await screen.findByRole('region', { name: 'Kept data' });
    expect(section).toHaveTextContent('counts toward the disk quota');
    expect(section).toHaveTextContent('Old analysis (4000 MB)');
    expect(section).toHaveTextContent('1200 MB in use when last measured');
    await user.click(within(section).getByRole('button', { name: 'Delete data' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete kept data' });
    expect(dialog).toHaveTextContent('cannot be brought back');
    await user.click(within(dialog).getByRole('button', { name: 'Delete data' }));
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Kept data' })).not.toBeInTheDocument());
    expect(deleted).toEqual(['wsgone0001']);
  });

  it('shows a refusal in the dialog', async () => {
    server.use(
      handlers.list([]),
      handlers.kept([kept()], 'alice'),
      http.delete(`${API}/users/alice/kept-volumes/:id`, () => problem(409, 'The volume is in use.')),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const section = await screen.findByRole('region', { name: 'Kept data' });
    await user.click(within(section).getByRole('button', { name: 'Delete data' }));
    const dialog = await screen.findByRole('dialog', { name: 'Delete kept data' });
    await user.click(within(dialog).getByRole('button', { name: 'Delete data' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('The volume is in use.');
  });
});
