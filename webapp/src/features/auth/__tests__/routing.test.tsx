import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { admin, workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { handlers, server } from '@/test/server';

describe('routing', () => {
  it('tolerates ?project= inside the hash, as ML Lab appends it', async () => {
    server.use(handlers.list([workspace({ display_name: 'From ML Lab' })]));
    renderApp('#/users/alice/workspace?project=proj1');
    expect(await screen.findByRole('article', { name: 'From ML Lab' })).toBeInTheDocument();
  });

  it('redirects #/ to the own list and keeps ?project=', async () => {
    server.use(handlers.list([]));
    renderApp('#/?project=proj1');
    expect(await screen.findByText('No workspaces yet')).toBeInTheDocument();
    await waitFor(() => expect(window.location.hash).toBe('#/users/alice/workspace?project=proj1'));
  });

  it('sends unknown routes home', async () => {
    server.use(handlers.list([]));
    renderApp('#/no/such/page');
    await waitFor(() => expect(window.location.hash).toBe('#/users/alice/workspace'));
  });

  it('shows the admin links to administrators only', async () => {
    server.use(handlers.me(admin), handlers.list([], 'admin'));
    renderApp('#/');
    expect(await screen.findByRole('link', { name: 'All workspaces' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'User tokens' })).toBeInTheDocument();
  });

  it('hides the admin links from other users', async () => {
    server.use(handlers.list([]));
    renderApp('#/');
    expect(await screen.findByText('No workspaces yet')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'All workspaces' })).not.toBeInTheDocument();
  });
});
