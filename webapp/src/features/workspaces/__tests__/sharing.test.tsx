import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { Share, ShareAccess } from '@/api/types';
import { config, workspace } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

const share = (user_id: string, access: ShareAccess = 'open'): Share => ({
  workspace_id: 'wsshared1',
  owner: 'alice',
  user_id,
  access,
  created_at: '2026-12-01T10:00:00Z',
  created_by: 'alice',
});

async function openShareDialog() {
  server.use(handlers.list([workspace({ id: 'wsshared1', display_name: 'Team notebook' })]));
  const view = renderApp('#/users/alice/workspace');
  const card = await screen.findByRole('article', { name: 'Team notebook' });
  await view.user.click(within(card).getByRole('button', { name: 'Share' }));
  return { ...view, dialog: await screen.findByRole('dialog', { name: 'Share “Team notebook”' }) };
}

describe('share dialog', () => {
  it('warns that grantees run code as the owner, shares, changes and revokes', async () => {
    let shares: Share[] = [share('bob')];
    const calls: string[] = [];
    server.use(
      http.get(`${API}/users/alice/workspace/wsshared1/shares`, () => HttpResponse.json(shares)),
      http.put(`${API}/users/alice/workspace/wsshared1/shares/:grantee`, async ({ params, request }) => {
        const { access } = (await request.json()) as { access: ShareAccess };
        calls.push(`PUT ${String(params.grantee)} ${access}`);
        shares = [...shares.filter((s) => s.user_id !== params.grantee), share(String(params.grantee), access)];
        return HttpResponse.json(shares.at(-1));
      }),
      http.delete(`${API}/users/alice/workspace/wsshared1/shares/:grantee`, ({ params }) => {
        calls.push(`DELETE ${String(params.grantee)}`);
        shares = shares.filter((s) => s.user_id !== params.grantee);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user, dialog } = await openShareDialog();
    expect(within(dialog).getByText(/as you/)).toBeInTheDocument();
    const list = await within(dialog).findByRole('list', { name: 'Who has access' });
    expect(within(list).getByText('bob')).toBeInTheDocument();

    await fill(user, within(dialog).getByLabelText('User id'), 'carol');
    await user.click(within(dialog).getByLabelText('They may'));
    await user.click(await screen.findByRole('option', { name: 'Open, start and stop' }));
    await user.click(within(dialog).getByRole('button', { name: 'Share' }));
    expect(await within(list).findByText('carol')).toBeInTheDocument();

    await user.click(within(dialog).getByRole('button', { name: 'Revoke bob' }));
    await waitFor(() => expect(within(list).queryByText('bob')).not.toBeInTheDocument());
    expect(calls).toEqual(['PUT carol operate', 'DELETE bob']);
  });

  it('refuses a malformed id before asking, and shows the server’s refusal', async () => {
    server.use(
      http.put(`${API}/users/alice/workspace/wsshared1/shares/:grantee`, () =>
        problem(422, "'alice' owns this workspace: there is nothing to share."),
      ),
    );
    const { user, dialog } = await openShareDialog();
    await fill(user, within(dialog).getByLabelText('User id'), 'no spaces');
    expect(within(dialog).getByRole('button', { name: 'Share' })).toBeDisabled();
    expect(within(dialog).getByText('Letters, digits and . _ @ - only')).toBeInTheDocument();
    await fill(user, within(dialog).getByLabelText('User id'), 'alice');
    await user.click(within(dialog).getByRole('button', { name: 'Share' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('nothing to share');
  });

  it('is not offered where workspaces cannot be shared', async () => {
    server.use(
      handlers.config({ ...config, sharing_available: false }),
      handlers.list([workspace({ display_name: 'Solo' })]),
    );
    renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Solo' });
    expect(within(card).getByRole('button', { name: 'Settings' })).toBeInTheDocument();
    expect(within(card).queryByRole('button', { name: 'Share' })).not.toBeInTheDocument();
  });
});

describe('shared with me', () => {
  it('lists others’ workspaces with their owner and only what the share allows', async () => {
    server.use(
      handlers.list([]),
      handlers.sharedWith(
        [
          {
            workspace: workspace({ id: 'wsopen0001', user_id: 'carol', display_name: 'Carol’s', status: 'stopped' }),
            access: 'open',
            shared_at: '2026-12-01T10:00:00Z',
          },
          {
            workspace: workspace({ id: 'wsoper0001', user_id: 'dave', display_name: 'Dave’s', status: 'stopped' }),
            access: 'operate',
            shared_at: '2026-12-01T10:00:00Z',
          },
        ],
        'alice',
      ),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const section = await screen.findByRole('region', { name: 'Shared with me' });
    const opened = within(section).getByRole('article', { name: 'Carol’s' });
    expect(opened).toHaveTextContent('carol');
    expect(within(opened).queryByRole('button', { name: 'Start' })).not.toBeInTheDocument();
    const operated = within(section).getByRole('article', { name: 'Dave’s' });
    expect(within(operated).getByRole('button', { name: 'Start' })).toBeInTheDocument();
    for (const card of [opened, operated]) {
      for (const name of ['Settings', 'Share', 'Delete'])
        expect(within(card).queryByRole('button', { name })).not.toBeInTheDocument();
    }
    // A grantee may leave a share.
    const left: string[] = [];
    server.use(
      http.delete(`${API}/users/carol/workspace/wsopen0001/shares/:grantee`, ({ params }) => {
        left.push(String(params.grantee));
        return new HttpResponse(null, { status: 204 });
      }),
    );
    await user.click(within(opened).getByRole('button', { name: 'Leave' }));
    await waitFor(() => expect(left).toEqual(['alice']));
  });
});
