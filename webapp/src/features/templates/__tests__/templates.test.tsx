import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { TemplateView, WorkspaceInput } from '@/api/types';
import { admin, config, workspace } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';

const gpuBox: TemplateView = {
  name: 'gpu-box',
  display_name: 'GPU box',
  description: 'For training.',
  version: 'abcd1234',
  source: 'file',
  deprecated: false,
  images: ['mltooling/ml-workspace-gpu:0.13.2'],
  cpus: { default: 2, fixed: false, min: 1, max: 4, options: [] },
  memory: { default: 4000, fixed: true, min: null, max: null, options: [] },
  volume_size: { default: 5000, fixed: true, min: null, max: null, options: [] },
  gpus: { default: 0, fixed: true, min: null, max: null, options: [] },
  idle_timeout: { default: 3600, fixed: true, min: null, max: null, options: [] },
  clear_volume_on_stop: null,
  environment: {},
  config: {
    ...config,
    container_image_default: { image: 'mltooling/ml-workspace-gpu:0.13.2', display_name: 'GPU' },
    container_image_options: [{ image: 'mltooling/ml-workspace-gpu:0.13.2', display_name: 'GPU' }],
    cpus_default: 2,
    cpus_min: 1,
    cpus_max: 4,
    memory_default: 4000,
    memory_min: 4000,
    memory_max: 4000,
    memory_options: [4000],
    volume_size_default: 5000,
    volume_size_min: 5000,
    volume_size_max: 5000,
    idle_timeout_default: 3600,
    idle_timeout_options: [3600],
  },
};

async function openCreate() {
  server.use(handlers.list([]));
  const view = renderApp('#/users/alice/workspace');
  const button = await screen.findByRole('button', { name: 'New workspace' });
  await waitFor(() => expect(button).toBeEnabled());
  await view.user.click(button);
  return { ...view, dialog: await screen.findByRole('dialog', { name: 'New workspace' }) };
}

describe('templates', () => {
  it('the create dialog starts with a template, offers only its choices and sends its name', async () => {
    let body: WorkspaceInput | undefined;
    server.use(
      handlers.templates([gpuBox, { ...gpuBox, name: 'old', display_name: 'Old', deprecated: true }]),
      http.post(`${API}/users/alice/workspace`, async ({ request }) => {
        body = (await request.json()) as WorkspaceInput;
        return HttpResponse.json(workspace({ display_name: 'trainer' }), { status: 201 });
      }),
    );
    const { user, dialog } = await openCreate();
    const picker = within(dialog).getByRole('combobox', { name: 'Template' });
    expect(picker).toHaveTextContent('GPU box');
    expect(within(dialog).getByText('For training.')).toBeInTheDocument();
    expect(within(dialog).getByLabelText('CPUs')).toHaveValue(2);
    const memory = within(dialog).getByRole('combobox', { name: 'Memory (MB)' });
    expect(memory).toHaveAttribute('aria-disabled', 'true'); // fixed by the template
    expect(memory).toHaveTextContent('4000');
    await fill(user, within(dialog).getByLabelText('CPUs'), '5');
    expect(within(dialog).getByText('From 1 to 4 CPUs.')).toBeInTheDocument();
    await fill(user, within(dialog).getByLabelText('CPUs'), '3');
    await fill(user, within(dialog).getByLabelText('Name'), 'trainer');
    await user.click(picker);
    const options = await screen.findAllByRole('option');
    expect(options.map((o) => o.textContent)).toEqual(['GPU box', 'Custom']); // not the deprecated one
    await user.keyboard('{Escape}');
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(body).toBeDefined());
    expect(body).toMatchObject({ template: 'gpu-box', compute: { cpus: 3, memory: 4000 } });
  });

  it('offers no custom workspace where the administrator does not allow it', async () => {
    server.use(handlers.templates([gpuBox]), handlers.config({ ...config, custom_allowed: false }));
    const { user, dialog } = await openCreate();
    await user.click(within(dialog).getByRole('combobox', { name: 'Template' }));
    expect((await screen.findAllByRole('option')).map((o) => o.textContent)).toEqual(['GPU box']);
  });

  it('says a newer version is available and applies it', async () => {
    const applied: string[] = [];
    server.use(
      handlers.list([
        workspace({ id: 'wsoutdated', display_name: 'Behind', template: 'gpu-box', template_status: 'outdated' }),
      ]),
      http.post(`${API}/users/alice/workspace/:id\\:apply-template`, ({ params }) => {
        applied.push(String(params.id));
        return HttpResponse.json(workspace({ id: 'wsoutdated', template_status: 'current' }));
      }),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Behind' });
    expect(card).toHaveTextContent('A newer version of your template “gpu-box” is available');
    await user.click(within(card).getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(applied).toEqual(['wsoutdated']));
  });

  it('administrators see who is on which version and define templates', async () => {
    const saved: unknown[] = [];
    server.use(
      handlers.me(admin),
      handlers.templates([gpuBox, { ...gpuBox, name: 'small', display_name: 'Small', source: 'api' }]),
      http.get(`${API}/templates/gpu-box/workspaces`, () =>
        HttpResponse.json([
          { workspace_id: 'ws1', owner: 'tina', display_name: 'train', version: 'abcd1234', current: true },
          { workspace_id: 'ws2', owner: 'omar', display_name: 'old-run', version: '00000000', current: false },
        ]),
      ),
      http.put(`${API}/templates/:name`, async ({ request, params }) => {
        saved.push([params.name, await request.json()]);
        return HttpResponse.json(gpuBox);
      }),
    );
    const { user } = renderApp('#/admin/templates');
    const table = await screen.findByRole('table', { name: 'Templates' });
    expect(within(table).queryByRole('button', { name: 'Edit gpu-box' })).not.toBeInTheDocument(); // the file's
    await user.click(within(table).getByRole('button', { name: 'Who uses gpu-box' }));
    const uses = await screen.findByRole('table', { name: 'Who uses it' });
    expect(uses).toHaveTextContent('tinaabcd1234 (latest)');
    expect(uses).toHaveTextContent('omar00000000 (older)');
    await user.click(screen.getByRole('button', { name: 'Close' }));

    await user.click(within(table).getByRole('button', { name: 'Deprecate small' }));
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]).toMatchObject(['small', { deprecated: true, display_name: 'Small' }]);
    expect(JSON.stringify(saved[0])).not.toContain('config'); // only the definition goes back
  });
});
