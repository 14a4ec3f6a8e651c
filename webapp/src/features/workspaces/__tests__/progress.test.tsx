import { act, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { WorkspaceEvent } from '@/api/types';
import { FakeEventSource } from '@/test/fake-event-source';
import { workspace } from '@/test/fixtures';
import { renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';
import { initialProgress, reduceProgress } from '../progress';

const event = (phase: string, extra: Partial<WorkspaceEvent> = {}): WorkspaceEvent => ({
  workspace_id: 'wsstarting',
  owner: 'alice',
  phase,
  message: `${phase} message`,
  time: new Date().toISOString(),
  ...extra,
});

describe('start progress', () => {
  it('follows the events stream: phases, pull progress, then the new status', async () => {
    const starting = workspace({
      id: 'wsstarting',
      display_name: 'Starting',
      status: 'pending',
      status_message: 'Starting.',
    });
    server.use(handlers.list([starting]));
    renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Starting' });
    const bar = within(card).getByRole('progressbar', { name: 'Start progress' });

    await waitFor(() => expect(FakeEventSource.latest('/wsstarting/events')).toBeDefined());
    const source = FakeEventSource.latest('/wsstarting/events')!;
    expect(source.url).toBe(`${API}/users/alice/workspace/wsstarting/events`);

    act(() =>
      source.emit('pulling', event('pulling', { layer: 'a', current: 0, total: 100, message: 'Pulling the image' })),
    );
    act(() =>
      source.emit('pulling', event('pulling', { layer: 'b', current: 0, total: 100, message: 'Pulling the image' })),
    );
    act(() =>
      source.emit('pulling', event('pulling', { layer: 'a', current: 50, total: 100, message: 'Pulling the image' })),
    );
    await waitFor(() => expect(bar).toHaveAttribute('aria-valuenow', '13')); // 50 of 200 bytes → 12.5% of 0–50
    expect(within(card).getByText('Downloading the image: Pulling the image')).toBeInTheDocument();

    act(() => source.emit('waiting', event('waiting', { message: 'Waiting for Jupyter to answer' })));
    await waitFor(() => expect(bar).toHaveAttribute('aria-valuenow', '80'));
    expect(within(card).getByText('Waiting for it to answer: Waiting for Jupyter to answer')).toBeInTheDocument();

    // Ready: the list is read again, and the stream is closed once the server ends it.
    server.use(
      handlers.list([
        { ...starting, status: 'running', status_message: 'Running.', access_url: '/workspaces/wsstarting/' },
      ]),
    );
    act(() => source.emit('ready', event('ready')));
    act(() => source.end());
    expect(await within(card).findByRole('button', { name: 'Open' })).toBeInTheDocument();
    expect(within(card).queryByRole('progressbar', { name: 'Start progress' })).not.toBeInTheDocument();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
  });

  it('a failed start shows why and offers Start and Delete again', async () => {
    const starting = workspace({
      id: 'wsstarting',
      display_name: 'Doomed',
      status: 'pending',
      status_message: 'Starting.',
    });
    server.use(handlers.list([starting]));
    renderApp('#/users/alice/workspace');
    const card = await screen.findByRole('article', { name: 'Doomed' });
    await waitFor(() => expect(FakeEventSource.latest('/wsstarting/events')).toBeDefined());
    const reason = 'Failed: the container exited with code 1. Last lines: ImportError.';
    server.use(handlers.list([{ ...starting, status: 'failed', status_message: reason }]));
    act(() => FakeEventSource.latest('/wsstarting/events')!.emit('failed', event('failed', { message: reason })));
    expect(await within(card).findByText(reason)).toBeInTheDocument();
    expect(within(card).getByText('failed')).toBeInTheDocument();
    expect(within(card).getByRole('button', { name: 'Start' })).toBeInTheDocument();
    expect(within(card).getByRole('button', { name: 'Delete' })).toBeInTheDocument();
  });

  it('opens no stream for a workspace that is not starting', async () => {
    server.use(handlers.list([workspace({ display_name: 'Calm' })]));
    renderApp('#/users/alice/workspace');
    await screen.findByRole('article', { name: 'Calm' });
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});

describe('reduceProgress', () => {
  it('never goes backwards within an attempt, and starts over after a terminal phase', () => {
    let p = reduceProgress(initialProgress, event('starting'));
    expect(p.percent).toBe(70);
    p = reduceProgress(p, event('volume'));
    expect(p.percent).toBe(70);
    p = reduceProgress(p, event('ready'));
    expect(p).toMatchObject({ percent: 100, done: true, failed: false });
    p = reduceProgress(p, event('creating'));
    expect(p).toMatchObject({ percent: 60, done: false });
    p = reduceProgress(p, event('failed'));
    expect(p).toMatchObject({ percent: 60, done: true, failed: true });
  });
});
