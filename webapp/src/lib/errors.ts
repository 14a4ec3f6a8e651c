// The one place that turns an error response into a sentence for the user.

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

type ValidationItem = { loc?: unknown[]; msg?: string };

/** The message of an error body: the server's `detail` string, or FastAPI's list of problems. */
export function detailMessage(body: unknown, status: number): string {
  const detail = (body as { detail?: unknown } | null | undefined)?.detail;
  if (typeof detail === 'string' && detail) return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail
      .map((item: ValidationItem) => {
        const where = (item.loc ?? []).filter((part) => part !== 'body').join('.');
        return where ? `${where}: ${item.msg ?? 'invalid'}` : (item.msg ?? 'invalid');
      })
      .join('; ');
  }
  if (status === 0) return 'The server cannot be reached. Check your connection and try again.';
  return `The server answered with an error (HTTP ${status}). Try again in a moment.`;
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
