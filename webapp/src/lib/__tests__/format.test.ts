import { describe, expect, it } from 'vitest';
import { formatDuration, formatMb, formatRelative } from '../format';
import { appBaseUrl } from '../env';

describe('format', () => {
  it('durations as the idle timeout select shows them', () => {
    expect([0, 60, 1800, 3600, 7200, 86400, 90].map(formatDuration)).toEqual([
      'Never',
      '1 minute',
      '30 minutes',
      '1 hour',
      '2 hours',
      '1 day',
      '90 seconds',
    ]);
  });

  it('sizes in MB until they get long', () => {
    expect([null, 512, 5000, 20480, 204800].map(formatMb)).toEqual(['–', '512 MB', '5000 MB', '20.0 GB', '200 GB']);
  });

  it('relative times', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(formatRelative('2026-11-23T11:00:00Z', now)).toBe('1 hour ago');
    expect(formatRelative('2026-11-23T12:20:00Z', now)).toBe('in 20 minutes');
  });
});

describe('appBaseUrl', () => {
  it('is the directory of the page, so ../api is next to app/', () => {
    expect(new URL('../api', appBaseUrl()).pathname).toBe('/api');
  });
});
