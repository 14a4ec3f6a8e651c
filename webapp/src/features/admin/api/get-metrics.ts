import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';
import { parseMetrics } from '../metrics-text';

// As often as Prometheus is usually told to scrape.
const REFRESH_MS = 15_000;

export const getMetrics = async () => parseMetrics(await unwrap(api.GET('/metrics', { parseAs: 'text' })));

export const metricsQueryOptions = () =>
  queryOptions({ queryKey: keys.metrics, queryFn: getMetrics, refetchInterval: REFRESH_MS });

export const useMetrics = () => useQuery(metricsQueryOptions());
