import { screen } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { alice } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

describe('sign-in', () => {
  it('sends a signed-out visitor of #/ to the sign-in page', async () => {
    server.use(handlers.me(null));
    renderApp('#/');
    expect(await screen.findByLabelText('Access token')).toBeInTheDocument();
    expect(window.location.hash).toBe('#/signin');
  });

  it('shows the server message for a wrong token, in an alert', async () => {
    server.use(
      handlers.me(null),
      http.post(`${API}/auth/login`, () => problem(401, 'This token is not valid: sign in again.')),
    );
    const { user } = renderApp('#/signin');
    await fill(user, await screen.findByLabelText('Access token'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('This token is not valid: sign in again.');
    expect(window.location.hash).toBe('#/signin');
  });

  it('signs in with the CSRF header and lands on the own list', async () => {
    let signedIn = false;
    let sent: { body: unknown; csrf: string | null } | undefined;
    server.use(
      http.get(`${API}/users/me`, () => (signedIn ? HttpResponse.json(alice) : problem(401, 'Sign in first.'))),
      http.post(`${API}/auth/login`, async ({ request }) => {
        sent = { body: await request.json(), csrf: request.headers.get('X-Requested-With') };
        signedIn = true;
        return HttpResponse.json(alice);
      }),
      handlers.list([]),
    );
    const { user } = renderApp('#/signin');
    await fill(user, await screen.findByLabelText('Access token'), 'good-token');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { level: 1, name: 'Workspaces' })).toBeInTheDocument();
    expect(window.location.hash).toBe('#/users/alice/workspace');
    expect(sent).toEqual({ body: { token: 'good-token' }, csrf: 'XMLHttpRequest' });
    expect(screen.getByText('alice')).toBeInTheDocument();
  });

  it('asks for a token before sending an empty one', async () => {
    server.use(handlers.me(null));
    const { user } = renderApp('#/signin');
    await user.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(screen.getByText('Paste your token to sign in.')).toBeInTheDocument();
  });

  it('signs out', async () => {
    let signedIn = true;
    server.use(
      http.get(`${API}/users/me`, () => (signedIn ? HttpResponse.json(alice) : problem(401, 'Sign in first.'))),
      http.post(`${API}/auth/logout`, () => {
        signedIn = false;
        return new HttpResponse(null, { status: 204 });
      }),
      handlers.list([]),
    );
    const { user } = renderApp('#/users/alice/workspace');
    await user.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('Access token')).toBeInTheDocument();
  });

  it('in ML Lab, a 401 says to sign in to ML Lab and shows no form', async () => {
    server.use(handlers.me(null), handlers.health('mllab'));
    renderApp('#/users/alice/workspace?project=proj1');
    expect(await screen.findByText('Sign in to ML Lab first')).toBeInTheDocument();
    expect(screen.queryByLabelText('Access token')).not.toBeInTheDocument();
  });

  it('a 401 on any request (session gone) leads back to sign-in', async () => {
    let signedIn = true;
    server.use(
      http.get(`${API}/users/me`, () => (signedIn ? HttpResponse.json(alice) : problem(401, 'Sign in first.'))),
      http.get(`${API}/users/alice/workspace`, () => {
        signedIn = false;
        return problem(401, 'Your token expired.');
      }),
    );
    renderApp('#/users/alice/workspace');
    expect(await screen.findByLabelText('Access token')).toBeInTheDocument();
  });
});
