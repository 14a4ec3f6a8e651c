import type { Workspace } from '@/api/types';

/**
 * The workspace's address relative to the app. access_url is `<public prefix>/workspaces/<id>/`
 * from the root of the manager's origin; the app lives at `<prefix>/app/`, so `../workspaces/...`
 * reaches it under whatever prefix a proxy added. Other forms (ML Lab's own paths) are kept as
 * they are.
 */
export function openHref(workspace: Workspace): string | null {
  const url = workspace.access_url;
  if (!url) return null;
  const at = url.indexOf('/workspaces/');
  return at >= 0 ? `..${url.slice(at)}` : url;
}
