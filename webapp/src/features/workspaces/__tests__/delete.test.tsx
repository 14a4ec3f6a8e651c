import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

function deleteHandler(calls: string[]) {
  return http.delete(`${API}/users/alice/workspace/:id`, ({ request, params }) => {
    calls.push(`${String(params.id)}?${new URL(request.url).searchParams.toString()}`);
    server.use(handlers.list([]));
    return new HttpResponse(null, { status: 204 });
  });
}

async function openDeleteDialog() {
  server.use(handlers.list([workspace({ id: 'wsdelete1', display_name: 'Doomed' })]));
  const view = renderApp('#/users/alice/workspace');
  const card = await screen.findByRole('article', { name: 'Doomed' });
  await view.user.click(within(card).getByRole('button', { name: 'Delete' }));
  return { ...view, dialog: await screen.findByRole('dialog', { name: 'Delete workspace' }) };
}

describe('delete dialog', () => {
  it('keeps the data unless asked', async () => {
    const calls: string[] = [];
    server.use(deleteHandler(calls));
    const { user, dialog } = await openDeleteDialog();
    expect(within(dialog).getByLabelText('Also delete its data in /workspace')).not.toBeChecked();
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    expect(await screen.findByText('No workspaces yet')).toBeInTheDocument();
    expect(calls).toEqual(['wsdelete1?delete_volumes=false']);
  });

  it('deletes the data when the box is ticked', async () => {
    const calls: string[] = [];
    server.use(deleteHandler(calls));
    const { user, dialog } = await openDeleteDialog();
    await user.click(within(dialog).getByLabelText('Also delete its data in /workspace'));
    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(calls).toEqual(['wsdelete1?delete_volumes=true']));
  });

  it('cancel deletes nothing; a refusal is shown', async () => {
    const calls: string[] = [];
    server.use(deleteHandler(calls));
    const { user, dialog } = await openDeleteDialog();
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(calls).toEqual([]);

    server.use(
      http.delete(`${API}/users/alice/workspace/:id`, () => problem(503, 'The Docker engine cannot be reached.')),
    );
    await user.click(within(screen.getByRole('article', { name: 'Doomed' })).getByRole('button', { name: 'Delete' }));
    const again = await screen.findByRole('dialog', { name: 'Delete workspace' });
    await user.click(within(again).getByRole('button', { name: 'Delete' }));
    expect(await within(again).findByRole('alert')).toHaveTextContent('The Docker engine cannot be reached.');
  });
});
