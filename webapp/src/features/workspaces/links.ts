import type { Workspace } from '@/api/types';
import { appBaseUrl } from '@/lib/env';

// `<public prefix>/workspaces/<id>/`: a workspace behind this manager's own proxy.
const OWN_PROXY = /\/workspaces\/[a-z][a-z0-9]{5,19}\/?$/;

/**
 * Where to open a running workspace, from its access_url.
 *
 * - Behind the manager's proxy (`<prefix>/workspaces/<id>/`): the app lives at `<prefix>/app/`,
 *   so `../workspaces/<id>/` reaches it under whatever prefix an outer proxy added.
 * - An ML Lab service (`/projects/<p>/services/<s>/access/8080/`): a path of ML Lab's API, which
 *   is the part of the app's own address before its `/projects/` (the app is an ML Lab service
 *   too), or REACT_APP_CONTAXY_ENDPOINT when the app is served elsewhere (development).
 */
export function openHref(workspace: Workspace): string | null {
  const url = workspace.access_url;
  if (!url) return null;
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
