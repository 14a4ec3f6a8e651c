import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const getConfig = () => unwrap(api.GET('/config'));

export const configQueryOptions = () =>
  queryOptions({ queryKey: keys.config, queryFn: getConfig, staleTime: 5 * 60_000 });

export const useConfig = () => useQuery(configQueryOptions());
