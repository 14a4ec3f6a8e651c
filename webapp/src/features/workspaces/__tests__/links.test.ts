import { afterEach, describe, expect, it } from 'vitest';
import { workspace } from '@/test/fixtures';
import { canOpen, resolveOpenUrl } from '../links';

describe('resolveOpenUrl', () => {
  afterEach(() => window.history.replaceState(null, '', '/'));

  it("keeps a workspace's own origin as it is", () => {
    const url = 'http://abc123def0.localhost:8080/_workspace_manager/handoff?code=x';
    expect(resolveOpenUrl(url)).toBe(url);
  });

  it("reaches a workspace on the manager's own origin next to the app, under any prefix", () => {
    expect(resolveOpenUrl('/workspaces/abc123/')).toBe('../workspaces/abc123/');
    expect(resolveOpenUrl('/projects/p/services/s/access/8080/workspaces/abc123/')).toBe('../workspaces/abc123/');
  });

  it("reaches an ML Lab service under ML Lab's API prefix, read from the app's own address", () => {
    window.history.replaceState(null, '', '/lab/api/projects/ctxy-global/services/ext1/access/8080/app/');
    expect(resolveOpenUrl('/projects/alice/services/ws1/access/8080/')).toBe(
      '/lab/api/projects/alice/services/ws1/access/8080/',
    );
  });
});

describe('canOpen', () => {
  it('only while the workspace runs', () => {
    expect(canOpen(workspace({ status: 'running', access_url: '/workspaces/abc123/' }))).toBe(true);
    expect(canOpen(workspace({ status: 'stopped', access_url: null }))).toBe(false);
    expect(canOpen(workspace({ status: 'running', access_url: null }))).toBe(false);
  });
});
