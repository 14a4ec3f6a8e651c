import { render } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { RouterProvider } from 'react-router';
import { AppProviders } from '@/app/AppProviders';
import { createAppRouter } from '@/app/router';
import { installUnauthorizedHandler } from '@/features/auth';
import { makeQueryClient } from '@/lib/query-client';

type User = ReturnType<typeof userEvent.setup>;

/**
 * Replace a field's text as a person would (focus, select all, then the new text), but in one
 * input event: typing key by key re-renders MUI's form per key and makes the tests slow.
 */
export async function fill(user: User, field: HTMLElement, text: string) {
  await user.clear(field);
  if (text) await user.paste(text);
}

/** The whole app, as main.tsx mounts it, at `hash` (e.g. "#/users/alice/workspace"). */
export function renderApp(hash: string) {
  window.location.hash = hash;
  const queryClient = makeQueryClient();
  queryClient.setDefaultOptions({
    queries: { ...queryClient.getDefaultOptions().queries, retry: false, staleTime: 0 },
  });
  installUnauthorizedHandler(queryClient);
  // No delay between keystrokes: typing is what makes these tests slow.
  const user = userEvent.setup({ delay: null });
  const router = createAppRouter();
  const view = render(
    <AppProviders client={queryClient}>
      <RouterProvider router={router} />
    </AppProviders>,
  );
  return { ...view, user, router, queryClient };
}
