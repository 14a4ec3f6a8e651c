import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { Schedule, WorkspaceInput } from '@/api/types';
import { config, workspace } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';
import { formatDay } from '@/lib/format';

const OFFICE: Schedule = {
  timezone: 'Europe/Berlin',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '08:00',
  stop: '20:00',
};

async function openCreate(withConfig = config) {
  server.use(handlers.config(withConfig), handlers.list([]));
  const view = renderApp('#/users/alice/workspace');
  const button = await screen.findByRole('button', { name: 'New workspace' });
  await waitFor(() => expect(button).toBeEnabled());
  await view.user.click(button);
  return { ...view, dialog: await screen.findByRole('dialog', { name: 'New workspace' }) };
}

describe('schedules', () => {
  it('the create dialog starts from the administrator’s default and sends the chosen schedule', async () => {
    let body: WorkspaceInput | undefined;
    server.use(
      http.post(`${API}/users/alice/workspace`, async ({ request }) => {
        body = (await request.json()) as WorkspaceInput;
        return HttpResponse.json(workspace({ display_name: 'Scheduled' }), { status: 201 });
      }),
    );
    const { user, dialog } = await openCreate({ ...config, schedule_default: OFFICE, schedule_stop_latest: '22:00' });
    expect(within(dialog).getByLabelText('Start and stop on a schedule')).toBeChecked();
    expect(within(dialog).getByLabelText('Start at')).toHaveValue('08:00');
    expect(within(dialog).getByRole('combobox', { name: 'Time zone' })).toHaveTextContent('Europe/Berlin');

    await fill(user, within(dialog).getByLabelText('Stop at'), '23:00');
    expect(within(dialog).getByText('Workspaces stop by 22:00 at the latest here.')).toBeInTheDocument();
    await fill(user, within(dialog).getByLabelText('Stop at'), '18:30');
    await user.click(within(dialog).getByRole('button', { name: 'Fri' })); // off
    await user.click(within(dialog).getByRole('button', { name: 'Sat' })); // on
    await fill(user, within(dialog).getByLabelText('Name'), 'Scheduled');
    await user.click(within(dialog).getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(body).toBeDefined());
    expect(body?.schedule).toEqual({ ...OFFICE, days: ['mon', 'tue', 'wed', 'thu', 'sat'], stop: '18:30' });
  });

  it('shows when a workspace starts and stops, and postpones its stop', async () => {
    const startsAt = new Date(Date.now() + 86_400_000).toISOString();
    const stopsAt = new Date(Date.now() + 3_600_000).toISOString();
    const postponed: string[] = [];
    server.use(
      handlers.list([
        workspace({ id: 'wsasleep01', display_name: 'Asleep', status: 'stopped', starts_at: startsAt }),
        workspace({
          id: 'wsawake001',
          display_name: 'Awake',
          stops_at: stopsAt,
          stop_reason: 'on its schedule at 20:00 (Europe/Berlin)',
          stop_postponable: true,
          schedule: OFFICE,
        }),
      ]),
      http.post(`${API}/users/alice/workspace/:id\\:postpone`, ({ params }) => {
        postponed.push(String(params.id));
        return HttpResponse.json(workspace({ id: 'wsawake001', display_name: 'Awake' }));
      }),
    );
    const { user } = renderApp('#/users/alice/workspace');
    const asleep = await screen.findByRole('article', { name: 'Asleep' });
    expect(asleep).toHaveTextContent(`Starts${formatDay(startsAt)} (on its schedule)`);
    const awake = screen.getByRole('article', { name: 'Awake' });
    expect(awake).toHaveTextContent(`Stops${formatDay(stopsAt)} unless you postpone`);
    await user.click(within(awake).getByRole('button', { name: 'postpone' }));
    await waitFor(() => expect(postponed).toEqual(['wsawake001']));
  });

  it('is not offered where the backend has no schedules', async () => {
    const { dialog } = await openCreate({ ...config, schedules_available: false });
    expect(within(dialog).queryByLabelText('Start and stop on a schedule')).not.toBeInTheDocument();
  });
});

describe('formatDay', () => {
  it('says today, tomorrow or the day', () => {
    const now = new Date(2026, 11, 7, 9, 0);
    expect(formatDay(new Date(2026, 11, 7, 20, 0).toISOString(), now)).toMatch(/^today at 20:00|^today at 08:00 PM/);
    expect(formatDay(new Date(2026, 11, 8, 8, 0).toISOString(), now)).toMatch(/^tomorrow at /);
    expect(formatDay(new Date(2026, 11, 10, 8, 0).toISOString(), now)).toMatch(/Thu.* at /);
  });
});
