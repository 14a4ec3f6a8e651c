import { afterEach, describe, expect, it } from 'vitest';
import { openHref } from '@/features/workspaces/links';
import { workspace } from '@/test/fixtures';

const at = (access_url: string | null) => openHref(workspace({ access_url }));

describe('openHref', () => {
  afterEach(() => window.history.replaceState(null, '', '/'));

  it("reaches a workspace behind the manager's proxy next to the app, under any prefix", () => {
    expect(at('/workspaces/abc123/')).toBe('../workspaces/abc123/');
    expect(at('/projects/p/services/s/access/8080/workspaces/abc123/')).toBe('../workspaces/abc123/');
  });

  it("reaches an ML Lab service under ML Lab's API prefix, read from the app's own address", () => {
    window.history.replaceState(null, '', '/lab/api/projects/ctxy-global/services/ext1/access/8080/app/');
    expect(at('/projects/alice/services/ws1/access/8080/')).toBe('/lab/api/projects/alice/services/ws1/access/8080/');
  });

  it('has none while the workspace is not running', () => {
    expect(at(null)).toBeNull();
  });
});
