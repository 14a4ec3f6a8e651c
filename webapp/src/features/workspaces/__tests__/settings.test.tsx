import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { WorkspaceUpdate } from '@/api/types';
import { workspace } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

const current = workspace({ id: 'wssettings', display_name: 'Tuned', idle_timeout: 7200 });

async function openSettings() {
  server.use(handlers.list([current, workspace({ display_name: 'Other' })]));
  const view = renderApp('#/users/alice/workspace');
  await view.user.click(
    within(await screen.findByRole('article', { name: 'Tuned' })).getByRole('button', { name: 'Settings' }),
  );
  const dialog = await screen.findByRole('dialog', { name: 'Workspace settings' });
  await within(dialog).findByLabelText('Name');
  return { ...view, dialog };
}

describe('settings dialog', () => {
  it('shows the current values, says what applies live, and has no Start now', async () => {
    const { dialog } = await openSettings();
    expect(within(dialog).getByLabelText('Name')).toHaveValue('Tuned');
    expect(within(dialog).getByLabelText('Memory (MB)')).toHaveValue(1000);
    // 2 hours is not among today's options, but it is the workspace's own value: still offered.
    expect(within(dialog).getByRole('combobox', { name: 'Idle timeout' })).toHaveTextContent('2 hours');
    expect(within(dialog).queryByLabelText('Start now')).not.toBeInTheDocument();
    expect(within(dialog).getByText(/apply live, without a restart/)).toBeInTheDocument();
  });

  it('sends only what changed', async () => {
    let body: WorkspaceUpdate | undefined;
    server.use(
      http.patch(`${API}/users/alice/workspace/wssettings`, async ({ request }) => {
        body = (await request.json()) as WorkspaceUpdate;
        return HttpResponse.json({ ...current, compute: { ...current.compute, memory: 2000 } });
      }),
    );
    const { user, dialog } = await openSettings();
    const memory = within(dialog).getByLabelText('Memory (MB)');
    await fill(user, memory, '2000');
    expect(within(dialog).queryByText(/Saving restarts/)).not.toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(body).toEqual({ compute: { memory: 2000 } });
  });

  it('warns that a new image restarts a running workspace, and shows a refusal', async () => {
    server.use(
      http.patch(`${API}/users/alice/workspace/wssettings`, () =>
        problem(400, "The image 'gpu' needs a GPU runtime this host lacks."),
      ),
    );
    const { user, dialog } = await openSettings();
    await user.click(within(dialog).getByRole('combobox', { name: 'Image' }));
    await user.click(await screen.findByRole('option', { name: 'ML workspace (GPU)' }));
    expect(within(dialog).getByText(/Saving restarts this workspace/)).toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      "The image 'gpu' needs a GPU runtime this host lacks.",
    );
  });

  it("refuses another workspace's name inline", async () => {
    const { user, dialog } = await openSettings();
    const name = within(dialog).getByLabelText('Name');
    await fill(user, name, 'other');
    expect(within(dialog).getByText("You already have a workspace named 'other'.")).toBeInTheDocument();
  });
});
