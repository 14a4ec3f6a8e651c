import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '@/lib/api-client';
import { keys } from '@/lib/query-keys';

export const listTokens = () => unwrap(api.GET('/auth/tokens'));

export const tokensQueryOptions = () => queryOptions({ queryKey: keys.tokens, queryFn: listTokens });

export const useTokens = () => useQuery(tokensQueryOptions());
