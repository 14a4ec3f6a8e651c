import type { Workspace } from '@/api/types';
import { appBaseUrl } from '@/lib/env';

// `<public prefix>/workspaces/<id>/`: a workspace behind this manager's own proxy.
const OWN_PROXY = /\/workspaces\/[a-z][a-z0-9]{5,19}\/?$/;

/** A running workspace can be opened (the manager answers `:open` with where). */
export function canOpen(workspace: Workspace): boolean {
  return workspace.status === 'running' && Boolean(workspace.access_url);
}

/**
 * Where to open a workspace, from the address `:open` answered with.
 *
 * - An absolute URL (the workspace's own origin, with a one-time code): as it is.
 * - Behind the manager's proxy (`<prefix>/workspaces/<id>/`): the app lives at `<prefix>/app/`,
 *   so `../workspaces/<id>/` reaches it under whatever prefix an outer proxy added.
 * - An ML Lab service (`/projects/<p>/services/<s>/access/8080/`): a path of ML Lab's API, which
 *   is the part of the app's own address before its `/projects/` (the app is an ML Lab service
 *   too), or REACT_APP_CONTAXY_ENDPOINT when the app is served elsewhere (development).
 */
export function resolveOpenUrl(url: string): string {
  if (/^https?:\/\//i.test(url)) return url;
  const own = OWN_PROXY.exec(url);
  if (own) return `..${own[0]}`;
  if (url.startsWith('/projects/')) {
    const path = appBaseUrl().pathname;
    const at = path.indexOf('/projects/');
    if (at >= 0) return path.slice(0, at) + url;
    const contaxy = import.meta.env.REACT_APP_CONTAXY_ENDPOINT;
    if (contaxy) return contaxy.replace(/\/+$/, '') + url;
  }
  return url;
}
