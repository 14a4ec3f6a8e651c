// msw: the backend as the component tests see it. Handlers answer with bodies typed by the
// generated schema; each test adds or overrides what it needs with `server.use(...)`.
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import type {
  ConfigOptions,
  KeptVolume,
  Me,
  Share,
  SharedWorkspace,
  Snapshot,
  TemplateView,
  Workspace,
  WorkspaceStats,
} from '@/api/types';
import { apiBaseUrl } from '@/lib/env';
import { alice, config } from './fixtures';

export const API = apiBaseUrl();

/** `{detail}` with a status, as the backend answers every error. */
export const problem = (status: number, detail: string) => HttpResponse.json({ detail }, { status });

export const handlers = {
  me: (me: Me | null = alice) =>
    http.get(`${API}/users/me`, () => (me ? HttpResponse.json(me) : problem(401, 'Sign in first.'))),
  config: (body: ConfigOptions = config) => http.get(`${API}/config`, () => HttpResponse.json(body)),
  list: (items: Workspace[], user = 'alice') =>
    http.get(`${API}/users/${user}/workspace`, () => HttpResponse.json(items)),
  kept: (items: KeptVolume[] = [], user = ':user') =>
    http.get(`${API}/users/${user}/kept-volumes`, () => HttpResponse.json(items)),
  snapshots: (items: Snapshot[] = [], user = ':user') =>
    http.get(`${API}/users/${user}/snapshots`, () => HttpResponse.json(items)),
  stats: (body: Partial<WorkspaceStats> = {}) =>
    http.get(`${API}/users/:user/workspace/:id/stats`, () =>
      HttpResponse.json<WorkspaceStats>({
        cpu_limit_percent: 100,
        memory_limit: 1000,
        volume_limit: 5000,
        container_limit: 5000,
        warnings: [],
        ...body,
      }),
    ),
  sharedWith: (items: SharedWorkspace[] = [], user = ':user') =>
    http.get(`${API}/users/${user}/shared`, () => HttpResponse.json(items)),
  shares: (items: Share[] = []) => http.get(`${API}/users/:user/workspace/:id/shares`, () => HttpResponse.json(items)),
  templates: (items: TemplateView[] = []) => http.get(`${API}/templates`, () => HttpResponse.json(items)),
  health: (auth_mode: 'standalone' | 'mllab' = 'standalone') =>
    http.get(`${API}/healthz`, () => HttpResponse.json({ status: 'ok', backend: 'docker', auth_mode, detail: null })),
};

export const server = setupServer(
  handlers.me(),
  handlers.config(),
  handlers.health(),
  handlers.stats(),
  handlers.kept(),
  handlers.snapshots(),
  handlers.sharedWith(),
  handlers.shares(),
  handlers.templates(),
);
