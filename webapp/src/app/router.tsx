import { createHashRouter, Navigate, type RouteObject } from 'react-router';
import { AllSharesPage, AllWorkspacesPage, MetricsPage, TokensPage } from '@/features/admin';
import { AuthGate, HomeRedirect, SignInPage } from '@/features/auth';
import { AuditPage, UsagePage } from '@/features/records';
import { TemplatesPage } from '@/features/templates';
import { WorkspaceDetailsPage, WorkspaceListPage } from '@/features/workspaces';
import { Layout } from './Layout';

// Hash routes. ML Lab appends "?project=<id>" inside the hash: the router reads that as the
// route's search string, so every route tolerates it, and redirects keep it.
export const routes: RouteObject[] = [
  { path: '/signin', element: <SignInPage /> },
  {
    element: <AuthGate />,
    children: [
      { path: '/', element: <HomeRedirect /> },
      {
        element: <Layout />,
        children: [
          { path: '/users/:userId/workspace', element: <WorkspaceListPage /> },
          { path: '/users/:userId/workspace/:workspaceId', element: <WorkspaceDetailsPage /> },
          { path: '/admin/workspaces', element: <AllWorkspacesPage /> },
          { path: '/admin/shares', element: <AllSharesPage /> },
          { path: '/admin/templates', element: <TemplatesPage /> },
          { path: '/admin/tokens', element: <TokensPage /> },
          { path: '/admin/metrics', element: <MetricsPage /> },
          { path: '/admin/audit', element: <AuditPage admin /> },
          { path: '/admin/usage', element: <UsagePage admin /> },
          { path: '/users/:userId/activity', element: <AuditPage /> },
          { path: '/users/:userId/usage', element: <UsagePage /> },
        ],
      },
    ],
  },
  { path: '*', element: <Navigate to="/" replace /> },
];

export const createAppRouter = () => createHashRouter(routes);
