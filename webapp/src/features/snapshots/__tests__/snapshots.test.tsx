import { act, screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { Snapshot, WorkspaceEvent, WorkspaceInput } from '@/api/types';
import { FakeEventSource } from '@/test/fake-event-source';
import { config, workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, problem, server } from '@/test/server';

const snapshot = (overrides: Partial<Snapshot> = {}): Snapshot => ({
  id: 'snap000001',
  user_id: 'alice',
  workspace_id: 'wsdata0001',
  workspace_name: 'Analysis',
  name: 'before the change',
  size: 3 * 1024 * 1024,
  files: 12,
  changed_during_copy: 0,
  created_at: '2026-12-01T10:00:00Z',
  ...overrides,
});

const analysis = () => workspace({ id: 'wsdata0001', display_name: 'Analysis' });

const snapshots = (items: Snapshot[]) => http.get(`${API}/users/alice/snapshots`, () => HttpResponse.json(items));

async function openSnapshots() {
  const { user } = renderApp('#/users/alice/workspace');
  const card = await screen.findByRole('article', { name: 'Analysis' });
  await user.click(within(card).getByRole('button', { name: 'Snapshots' }));
  return { user, dialog: await screen.findByRole('dialog', { name: 'Snapshots of “Analysis”' }) };
}

describe('snapshots', () => {
  it('offers Download, Snapshots and Clone only where the installation has them', async () => {
    server.use(handlers.list([analysis()]));
    renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Analysis' });
    const download = within(card).getByRole('link', { name: 'Download' });
    expect(download).toHaveAttribute('href', `${API}/users/alice/workspace/wsdata0001/archive`);
    expect(within(card).getByRole('button', { name: 'Clone' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Create from archive' })).toBeInTheDocument();
  });

  it('hides them where /config says they are not offered', async () => {
    server.use(handlers.list([analysis()]), handlers.config({ ...config, snapshots_available: false }));
    renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Analysis' });
    await within(card).findByRole('button', { name: 'Settings' });
    expect(within(card).queryByRole('link', { name: 'Download' })).not.toBeInTheDocument();
    expect(within(card).queryByRole('button', { name: 'Snapshots' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Create from archive' })).not.toBeInTheDocument();
  });

  it('lists the workspace’s snapshots with size, time and whether they are consistent', async () => {
    server.use(
      handlers.list([analysis()]),
      snapshots([
        snapshot(),
        snapshot({ id: 'snap000002', name: 'busy', changed_during_copy: 7 }),
        snapshot({ id: 'snap000003', name: 'of another', workspace_id: 'wsother001' }),
      ]),
    );
    const { dialog } = await openSnapshots();
    const list = await within(dialog).findByRole('list', { name: 'Snapshots' });
    const items = within(list).getAllByRole('listitem');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('before the change');
    expect(items[0]).toHaveTextContent('3.0 MB · 12 files');
    expect(items[0]).toHaveTextContent('consistent');
    expect(items[1]).toHaveTextContent('7 files changed while it was taken');
  });

  it('takes a snapshot with a progress bar from the copy’s events', async () => {
    const taken: string[] = [];
    let answer: (() => void) | null = null;
    server.use(
      handlers.list([analysis()]),
      snapshots([]),
      http.post(`${API}/users/alice/workspace/wsdata0001/snapshots`, async ({ request }) => {
        taken.push(((await request.json()) as { name: string }).name);
        await new Promise<void>((resolve) => (answer = resolve));
        return HttpResponse.json(snapshot({ name: 'nightly' }), { status: 201 });
      }),
    );
    const { user, dialog } = await openSnapshots();
    await user.type(within(dialog).getByRole('textbox', { name: 'Snapshot name' }), 'nightly');
    await user.click(within(dialog).getByRole('button', { name: 'Take snapshot' }));
    await waitFor(() => expect(FakeEventSource.latest('/users/alice/events')).toBeDefined());
    const event: WorkspaceEvent = {
      workspace_id: 'wsdata0001',
      owner: 'alice',
      phase: 'copying',
      message: "Taking snapshot 'nightly'.",
      current: 30,
      total: 120,
      time: new Date().toISOString(),
    };
    act(() => FakeEventSource.latest('/users/alice/events')!.emit('copying', event));
    const bar = within(dialog).getByRole('progressbar', { name: 'Taking the snapshot' });
    await waitFor(() => expect(bar).toHaveAttribute('aria-valuenow', '25'));
    server.use(snapshots([snapshot({ name: 'nightly' })]));
    act(() => answer!());
    expect(await within(dialog).findByText('nightly')).toBeInTheDocument();
    expect(taken).toEqual(['nightly']);
  });

  it('refuses a name the server would refuse, and shows what the server says', async () => {
    server.use(
      handlers.list([analysis()]),
      snapshots([]),
      http.post(`${API}/users/alice/workspace/wsdata0001/snapshots`, () =>
        problem(409, 'Quota reached: your workspaces, kept data and snapshots may use 100 MB.'),
      ),
    );
    const { user, dialog } = await openSnapshots();
    const field = within(dialog).getByRole('textbox', { name: 'Snapshot name' });
    await user.type(field, '../etc');
    expect(within(dialog).getByRole('button', { name: 'Take snapshot' })).toBeDisabled();
    await user.clear(field);
    await user.type(field, 'ok');
    await user.click(within(dialog).getByRole('button', { name: 'Take snapshot' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Quota reached');
  });

  it('restores a snapshot into a new workspace and deletes one', async () => {
    const restored: WorkspaceInput[] = [];
    const deleted: string[] = [];
    server.use(
      handlers.list([analysis()]),
      snapshots([snapshot()]),
      http.post(`${API}/users/alice/snapshots/snap000001\\:restore`, async ({ request }) => {
        restored.push((await request.json()) as WorkspaceInput);
        return HttpResponse.json(workspace({ display_name: 'Back then' }), { status: 201 });
      }),
      http.delete(`${API}/users/alice/snapshots/:id`, ({ params }) => {
        deleted.push(String(params.id));
        server.use(snapshots([]));
        return new HttpResponse(null, { status: 204 });
      }),
    );
    const { user, dialog } = await openSnapshots();
    await user.click(await within(dialog).findByRole('button', { name: 'Restore' }));
    const restore = await screen.findByRole('dialog', { name: 'Restore “before the change”' });
    const name = within(restore).getByRole('textbox', { name: 'Name of the new workspace' });
    expect(name).toHaveValue('Analysis (before the change)');
    await user.clear(name);
    await user.type(name, 'Back then');
    await user.click(within(restore).getByRole('button', { name: 'Create' }));
    expect(await within(restore).findByText(/Workspace “Back then” was created/)).toBeInTheDocument();
    expect(restored).toEqual([{ display_name: 'Back then', is_stopped: false }]);
    await user.click(within(restore).getByRole('button', { name: 'Close' }));

    await user.click(within(dialog).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(within(dialog).getByText('This workspace has no snapshots yet.')).toBeInTheDocument());
    expect(deleted).toEqual(['snap000001']);
  });

  it('clones a workspace', async () => {
    const cloned: WorkspaceInput[] = [];
    server.use(
      handlers.list([analysis()]),
      http.post(`${API}/users/alice/workspace/wsdata0001\\:clone`, async ({ request }) => {
        cloned.push((await request.json()) as WorkspaceInput);
        return HttpResponse.json(workspace({ display_name: 'Analysis (copy)' }), { status: 201 });
      }),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Analysis' });
    await user.click(within(card).getByRole('button', { name: 'Clone' }));
    const dialog = await screen.findByRole('dialog', { name: 'Clone “Analysis”' });
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect(await within(dialog).findByText(/Workspace “Analysis \(copy\)” was created/)).toBeInTheDocument();
    expect(cloned).toEqual([{ display_name: 'Analysis (copy)', is_stopped: false }]);
  });

  it('creates a workspace from an uploaded archive, and shows a refusal', async () => {
    const uploads: { settings: string | null; size: number }[] = [];
    server.use(
      handlers.list([]),
      http.post(`${API}/users/alice/workspace\\:upload`, async ({ request }) => {
        const settings = new URL(request.url).searchParams.get('workspace');
        uploads.push({ settings, size: (await request.arrayBuffer()).byteLength });
        if (uploads.length === 1)
          return problem(422, "The archive was refused at member '/etc/passwd': its path is absolute.");
        return HttpResponse.json(workspace({ display_name: 'From home' }), { status: 201 });
      }),
    );
    const { user } = renderApp('#/users/alice/workspace');
    await user.click(await screen.findByRole('button', { name: 'Create from archive' }));
    const dialog = await screen.findByRole('dialog', { name: 'Create from archive' });
    const file = new File([new Uint8Array(2048)], 'home.tar.gz', { type: 'application/gzip' });
    await user.upload(within(dialog).getByLabelText('Archive'), file);
    expect(within(dialog).getByText('home.tar.gz')).toBeInTheDocument();
    await user.type(within(dialog).getByRole('textbox', { name: 'Name of the new workspace' }), 'From home');
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent("refused at member '/etc/passwd'");
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    expect(await within(dialog).findByText(/Workspace “From home” was created/)).toBeInTheDocument();
    expect(uploads).toEqual([
      { settings: '{"display_name":"From home","is_stopped":false}', size: 2048 },
      { settings: '{"display_name":"From home","is_stopped":false}', size: 2048 },
    ]);
  });
});

describe('snapshots of deleted workspaces', () => {
  it('are listed on the page with Restore and Delete; those of existing workspaces are not', async () => {
    server.use(
      handlers.list([analysis()]),
      snapshots([
        snapshot({ name: 'of a live one' }),
        snapshot({ id: 'snap000009', workspace_id: 'wsgone0001', workspace_name: 'Old project', name: 'final' }),
      ]),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const section = await screen.findByRole('region', { name: 'Snapshots of deleted workspaces' });
    expect(section).toHaveTextContent('Old project: final');
    expect(section).not.toHaveTextContent('of a live one');
    await user.click(within(section).getByRole('button', { name: 'Restore' }));
    expect(await screen.findByRole('dialog', { name: 'Restore “final”' })).toBeInTheDocument();
  });
});
