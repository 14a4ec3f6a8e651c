// The one place that handles 401: any request that finds the sign-in gone makes the app ask
// who the user is again; the AuthGate then shows sign-in (standalone) or says to sign in to
// ML Lab.
import type { QueryClient } from '@tanstack/react-query';
import { setUnauthorizedListener } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export function installUnauthorizedHandler(queryClient: QueryClient): void {
  setUnauthorizedListener((url) => {
    if (url.endsWith('/users/me')) return; // that answer is already what the gate reads
    void queryClient.invalidateQueries({ queryKey: keys.me });
  });
}
