// The typed API client (generated types + openapi-fetch). Every request is same-origin with the
// sign-in cookie and carries X-Requested-With, which the backend requires against CSRF.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '@/api/schema';
import { apiBaseUrl } from './env';
import { ApiError, detailMessage } from './errors';

type UnauthorizedListener = (url: string) => void;
let onUnauthorized: UnauthorizedListener = () => {};

/** The one place that reacts to a 401 (set by the app: go to sign-in, or say so). */
export function setUnauthorizedListener(listener: UnauthorizedListener): void {
  onUnauthorized = listener;
}

const unauthorized: Middleware = {
  onResponse({ response, request }) {
    // A failed sign-in is answered on the sign-in page itself, not by leaving it.
    if (response.status === 401 && !request.url.endsWith('/auth/login')) onUnauthorized(request.url);
    return undefined;
  },
};

export const api = createClient<paths>({
  baseUrl: apiBaseUrl(),
  credentials: 'same-origin',
  headers: { 'X-Requested-With': 'XMLHttpRequest' },
  // Looked up per request, so test tools that replace fetch later still see every call.
  fetch: (request) => globalThis.fetch(request),
});
api.use(unauthorized);

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of a response, or an ApiError with the server's message. */
export async function unwrap<T>(promise: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await promise;
  } catch {
    throw new ApiError(0, detailMessage(undefined, 0));
  }
  if (!result.response.ok)
    throw new ApiError(result.response.status, detailMessage(result.error, result.response.status));
  return result.data as T;
}
