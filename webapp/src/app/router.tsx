import { createHashRouter, Navigate, type RouteObject } from 'react-router';
import { AllSharesPage, AllWorkspacesPage, TokensPage } from '@/features/admin';
import { AuthGate, HomeRedirect, SignInPage } from '@/features/auth';
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
        ],
      },
    ],
  },
  { path: '*', element: <Navigate to="/" replace /> },
];

export const createAppRouter = () => createHashRouter(routes);
