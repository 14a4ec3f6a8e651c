import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { IssuedToken, TokenInfo, TokenRequest } from '@/api/types';
import { admin, config, token } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';

describe('user tokens (standalone administrators)', () => {
  it('issues a token, shows it once, and revokes tokens', async () => {
    let tokens: TokenInfo[] = [token({ id: 'tokbob', user_id: 'bob' })];
    let request: TokenRequest | undefined;
    server.use(
      handlers.me(admin),
      http.get(`${API}/auth/tokens`, () => HttpResponse.json(tokens)),
      http.post(`${API}/auth/tokens`, async ({ request: r }) => {
        request = (await r.json()) as TokenRequest;
        const info = token({ id: 'tokcarol', user_id: 'carol', description: 'for Carol' });
        tokens = [info, ...tokens];
        return HttpResponse.json<IssuedToken>({ ...info, token: 'eyJ.secret.token' }, { status: 201 });
      }),
      http.delete(`${API}/auth/tokens/:id`, ({ params }) => {
        tokens = tokens.filter((t) => t.id !== params.id);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user } = renderApp('#/admin/tokens');
    expect(await screen.findByRole('heading', { level: 1, name: 'User tokens' })).toBeInTheDocument();
    expect(await screen.findByRole('row', { name: /bob/ })).toBeInTheDocument();

    await fill(user, screen.getByLabelText('User id'), 'carol');
    await fill(user, screen.getByLabelText('Description'), 'for Carol');
    await user.click(screen.getByRole('button', { name: 'Issue token' }));
    expect(await screen.findByLabelText('New token')).toHaveValue('eyJ.secret.token');
    expect(screen.getByRole('button', { name: 'Copy' })).toBeInTheDocument();
    expect(request).toEqual({ user_id: 'carol', description: 'for Carol', is_admin: false, expires_in: null });
    expect(await screen.findByRole('row', { name: /carol/ })).toBeInTheDocument();

    await user.click(within(screen.getByRole('row', { name: /bob/ })).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(screen.queryByRole('row', { name: /bob/ })).not.toBeInTheDocument());
    expect(tokens.map((t) => t.id)).toEqual(['tokcarol']);
  });

  it('refuses a user id the server would refuse, before sending it', async () => {
    server.use(
      handlers.me(admin),
      http.get(`${API}/auth/tokens`, () => HttpResponse.json([])),
    );
    const { user } = renderApp('#/admin/tokens');
    await fill(user, await screen.findByLabelText('User id'), '-bad id');
    expect(screen.getByText(/starting with a letter or digit/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Issue token' })).toBeDisabled();
  });

  it("warns while workspaces share the manager's origin, and only then", async () => {
    server.use(
      handlers.me(admin),
      http.get(`${API}/auth/tokens`, () => HttpResponse.json([])),
    );
    const { unmount } = renderApp('#/admin/tokens');
    expect(await screen.findByRole('heading', { level: 1, name: 'User tokens' })).toBeInTheDocument();
    expect(screen.queryByText(/UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN/)).not.toBeInTheDocument();
    unmount();

    server.use(
      handlers.config({ ...config, workspaces_on_manager_origin: true }),
      http.get(`${API}/workspaces`, () => HttpResponse.json({ items: [], total: 0, limit: 25, offset: 0 })),
    );
    renderApp('#/admin/workspaces');
    expect(await screen.findByRole('alert')).toHaveTextContent(/any user.s workspace can act as whoever opens it/);
  });
});
