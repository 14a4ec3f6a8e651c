// Query keys in one place: a mutation invalidates by the same key its queries use.
export const keys = {
  me: ['me'] as const,
  config: ['config'] as const,
  workspaces: (userId: string) => ['workspaces', userId] as const,
  workspace: (userId: string, id: string) => ['workspaces', userId, id] as const,
  logs: (userId: string, id: string) => ['workspaces', userId, id, 'logs'] as const,
  stats: (userId: string, id: string) => ['workspaces', userId, id, 'stats'] as const,
  allWorkspaces: ['all-workspaces'] as const,
  keptVolumes: (userId: string) => ['kept-volumes', userId] as const,
  shares: (userId: string, id: string) => ['workspaces', userId, id, 'shares'] as const,
  sharedWith: (userId: string) => ['shared-with', userId] as const,
  allSharedWith: ['shared-with'] as const,
  allShares: ['all-shares'] as const,
  templates: ['templates'] as const,
  templateUses: (name: string) => ['templates', name, 'workspaces'] as const,
  tokens: ['tokens'] as const,
};
