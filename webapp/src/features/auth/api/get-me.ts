import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const getMe = () => unwrap(api.GET('/users/me'));

export const meQueryOptions = () => queryOptions({ queryKey: keys.me, queryFn: getMe, staleTime: 60_000 });

export const useMe = () => useQuery(meQueryOptions());
