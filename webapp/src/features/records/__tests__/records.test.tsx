import { screen, waitFor, within } from '@testing-library/react';
import { http, HttpResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import type { AuditEntry, UsageRow } from '@/api/types';
import { admin, alice } from '@/test/fixtures';
import { fill, renderApp } from '@/test/render';
import { API, handlers, server } from '@/test/server';
import { actionLabel, auditCsvUrl } from '../api/audit';
import { daysBetween, lastThirtyDays, usageCsvUrl } from '../api/usage';

const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  id: 1,
  at: '2026-12-01T10:00:00Z',
  actor: 'alice',
  actor_is_admin: false,
  action: 'createWorkspace',
  owner: 'alice',
  workspace_id: 'wsalice1',
  address: '10.0.0.7',
  result: 'ok',
  status: 201,
  detail: "'Notebook'",
  ...overrides,
});

const usage = (overrides: Partial<UsageRow> = {}): UsageRow => ({
  day: null,
  owner: null,
  workspace_id: null,
  display_name: null,
  running_hours: 0,
  cpu_hours_reserved: 0,
  memory_gb_hours_reserved: 0,
  cpu_hours_used: 0,
  gpu_hours: 0,
  disk_gb_days: 0,
  ...overrides,
});

describe('audit log', () => {
  it('pages through everyone’s entries with filters sent to the server, and exports them', async () => {
    const queries: URLSearchParams[] = [];
    server.use(
      handlers.me(admin),
      http.get(`${API}/audit`, ({ request }) => {
        const query = new URL(request.url).searchParams;
        queries.push(query);
        const items = [
          entry({ id: 2, actor: 'bob', action: 'stopWorkspace', result: 'failed', status: 403, detail: 'no' }),
          entry(),
        ];
        return HttpResponse.json({ items, total: 60, limit: Number(query.get('limit')), offset: 0 });
      }),
    );
    const { user } = renderApp('#/admin/audit');
    expect(await screen.findByRole('heading', { level: 1, name: 'Audit log' })).toBeInTheDocument();
    const failed = await screen.findByRole('row', { name: /bob/ });
    expect(within(failed).getByText('Failed (403)')).toBeInTheDocument();
    expect(within(failed).getByText('Stop workspace')).toBeInTheDocument();
    expect(screen.getAllByRole('row', { name: /10\.0\.0\.7/ })).toHaveLength(2);
    expect(queries[0]?.get('limit')).toBe('25');

    await fill(user, screen.getByLabelText('Whose workspace'), 'alice');
    await waitFor(() => expect(queries.at(-1)?.get('owner')).toBe('alice'));
    await user.click(screen.getByRole('button', { name: /next page/i }));
    await waitFor(() => expect(queries.at(-1)?.get('offset')).toBe('25'));
    const link = screen.getByRole('link', { name: 'Export CSV' });
    expect(link.getAttribute('href')).toMatch(/\/audit\.csv\?owner=alice$/);
  });

  it('shows a user what was done to their own workspaces, without others’ filters', async () => {
    let asked = '';
    server.use(
      handlers.me(alice),
      http.get(`${API}/users/alice/audit`, ({ request }) => {
        asked = new URL(request.url).search;
        return HttpResponse.json({
          items: [entry({ actor: null, action: 'automaticStop', address: null, detail: 'stopped after 1 h' })],
          total: 1,
          limit: 25,
          offset: 0,
        });
      }),
    );
    renderApp('#/users/alice/activity');
    expect(await screen.findByRole('heading', { level: 1, name: 'Activity' })).toBeInTheDocument();
    const row = await screen.findByRole('row', { name: /Automatic stop/ });
    expect(within(row).getByText('the manager')).toBeInTheDocument();
    expect(screen.queryByLabelText('Who acted')).not.toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'Export CSV' })).not.toBeInTheDocument();
    expect(asked).toBe('?limit=25&offset=0');
  });

  it('names actions as words and builds the export link from the filters only', () => {
    expect(actionLabel('createWorkspace')).toBe('Create workspace');
    expect(actionLabel('login')).toBe('Login');
    expect(auditCsvUrl({ result: 'failed', limit: 25, offset: 50 })).toMatch(/\/api\/audit\.csv\?result=failed$/);
  });
});

describe('usage', () => {
  it('draws the days of the period and totals per user, and exports', async () => {
    const asked: URLSearchParams[] = [];
    server.use(
      handlers.me(admin),
      http.get(`${API}/usage`, ({ request }) => {
        const query = new URL(request.url).searchParams;
        asked.push(query);
        const since = query.get('since') ?? '';
        const until = query.get('until') ?? '';
        const group = query.get('group');
        const rows =
          group === 'day'
            ? [usage({ day: until, running_hours: 5 })]
            : [
                usage({ owner: 'alice', running_hours: 3, cpu_hours_reserved: 1.5 }),
                usage({ owner: 'bob', running_hours: 2 }),
              ];
        return HttpResponse.json({ since, until, group, rows, total: usage({ running_hours: 5 }) });
      }),
    );
    const { container } = renderApp('#/admin/usage');
    expect(await screen.findByRole('heading', { level: 1, name: 'Usage' })).toBeInTheDocument();
    const chart = await screen.findByRole('img', { name: 'Running hours per day (UTC)' });
    expect(container.querySelectorAll('rect[data-day]')).toHaveLength(30);
    expect(chart.querySelector('desc')?.textContent).toContain('5.0 running hours');
    const table = await screen.findByRole('table', { name: 'Usage per user' });
    expect(within(table).getByRole('row', { name: /alice 3\.00 1\.50/ })).toBeInTheDocument();
    expect(within(table).getByRole('row', { name: /Total 5\.00/ })).toBeInTheDocument();
    expect(asked.map((q) => q.get('group')).sort()).toEqual(['day', 'user']);
    const { since, until } = lastThirtyDays();
    expect(screen.getByRole('link', { name: 'Export CSV' }).getAttribute('href')).toMatch(
      new RegExp(`/usage\\.csv\\?since=${since}&until=${until}$`),
    );
  });

  it('counts days in UTC and links a user to their own export', () => {
    expect(daysBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(lastThirtyDays(new Date('2026-12-01T23:30:00Z'))).toEqual({ since: '2026-11-02', until: '2026-12-01' });
    expect(usageCsvUrl('alice', { since: '2026-11-01', until: '2026-11-30', group: 'day', user_id: 'x' })).toMatch(
      /\/users\/alice\/usage\.csv\?since=2026-11-01&until=2026-11-30$/,
    );
  });
});

describe('usage chart scale', () => {
  it('tops the scale at 1, 2 or 5 times a power of ten', async () => {
    const { niceCeiling } = await import('../components/UsageChart');
    expect(niceCeiling(0)).toBe(1);
    expect(niceCeiling(0.013)).toBe(0.02);
    expect(niceCeiling(3)).toBe(5);
    expect(niceCeiling(20)).toBe(20);
    expect(niceCeiling(21)).toBe(50);
  });
});
