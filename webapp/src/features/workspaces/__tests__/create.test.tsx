import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { WorkspaceInput } from '@/api/types';
import { workspace } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

async function openDialog(existing = [workspace({ display_name: 'Taken' })]) {
  server.use(handlers.list(existing));
  const view = renderApp('#/users/alice/workspace');
  const button = await screen.findByRole('button', { name: 'New workspace' });
  await waitFor(() => expect(button).toBeEnabled()); // once GET /config answered
  await view.user.click(button);
  const dialog = await screen.findByRole('dialog', { name: 'New workspace' });
  return { ...view, dialog };
}

describe('create dialog', () => {
  it('offers the choices of GET /config, with the defaults', async () => {
    const { dialog } = await openDialog();
    expect(within(dialog).getByLabelText('Name')).toHaveValue('my-workspace');
    expect(within(dialog).getByRole('combobox', { name: 'Image' })).toHaveTextContent('ML workspace (minimal)');
    expect(within(dialog).getByLabelText('CPUs')).toHaveValue(1);
    expect(within(dialog).getByLabelText('Memory (MB)')).toHaveValue(1000);
    expect(within(dialog).getByLabelText('Disk (MB)')).toHaveValue(5000);
    expect(within(dialog).queryByLabelText('GPUs')).not.toBeInTheDocument(); // gpus_max is 0
    expect(within(dialog).getByRole('combobox', { name: 'Idle timeout' })).toHaveTextContent('1 hour');
    expect(within(dialog).getByLabelText('Clear data on stop')).not.toBeChecked();
    expect(within(dialog).getByLabelText('Start now')).toBeChecked();
  });

  it('checks the server rules inline and sends nothing while a field is wrong', async () => {
    let posted = false;
    server.use(
      http.post(`${API}/users/alice/workspace`, () => ((posted = true), problem(500, 'should not be called'))),
    );
    const { user, dialog } = await openDialog();
    const field = (label: string) => within(dialog).getByLabelText(label);

    await fill(user, field('Name'), '   ');
    expect(within(dialog).getByText('A workspace needs a name.')).toBeInTheDocument();
    await fill(user, field('Name'), 'taken');
    expect(within(dialog).getByText("You already have a workspace named 'taken'.")).toBeInTheDocument();
    await fill(user, field('Name'), 'Fresh');

    await fill(user, field('CPUs'), '5');
    expect(within(dialog).getByText('From 0.5 to 4 CPUs.')).toBeInTheDocument();
    await fill(user, field('CPUs'), '1.2');
    expect(within(dialog).getByText('Use steps of 0.5 CPUs.')).toBeInTheDocument();
    await fill(user, field('Memory (MB)'), '50');
    expect(within(dialog).getByText('From 100 to 8000 MB.')).toBeInTheDocument();
    await fill(user, field('Disk (MB)'), '');
    expect(within(dialog).getByText('Enter a whole number of MB.')).toBeInTheDocument();

    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect(screen.getByRole('dialog', { name: 'New workspace' })).toBeInTheDocument();
    expect(posted).toBe(false);
  });

  it("shows the server's refusal verbatim inside the dialog", async () => {
    server.use(
      http.post(`${API}/users/alice/workspace`, () =>
        problem(409, 'Quota exceeded: you may run 1 workspace at a time and 1 is running. Stop one first.'),
      ),
    );
    const { user, dialog } = await openDialog();
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'Quota exceeded: you may run 1 workspace at a time and 1 is running. Stop one first.',
    );
  });

  it('creates with the chosen values and closes', async () => {
    let body: WorkspaceInput | undefined;
    const { user, dialog } = await openDialog([]);
    server.use(
      http.post(`${API}/users/alice/workspace`, async ({ request }) => {
        body = (await request.json()) as WorkspaceInput;
        server.use(handlers.list([workspace({ display_name: 'Fresh', status: 'stopped', is_stopped: true })]));
        return HttpResponse.json(workspace({ display_name: 'Fresh' }), { status: 201 });
      }),
    );
    await fill(user, within(dialog).getByLabelText('Name'), 'Fresh');
    await fill(user, within(dialog).getByLabelText('CPUs'), '2.5');
    await user.click(within(dialog).getByRole('combobox', { name: 'Image' }));
    await user.click(await screen.findByRole('option', { name: 'ML workspace (GPU)' }));
    await user.click(within(dialog).getByRole('combobox', { name: 'Idle timeout' }));
    await user.click(await screen.findByRole('option', { name: 'Never' }));
    await user.click(within(dialog).getByLabelText('Start now'));
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(body).toEqual({
      display_name: 'Fresh',
      container_image: 'mltooling/ml-workspace-gpu:0.13.2',
      compute: { cpus: 2.5, memory: 1000, volume_size: 5000 },
      idle_timeout: 0,
      clear_volume_on_stop: false,
      is_stopped: true,
      schedule: null, // none chosen (and so not the administrator's default either)
    });
    expect(await screen.findByRole('article', { name: 'Fresh' })).toBeInTheDocument();
  });
});
