// The workspaces feature's public surface: other features and src/app import only from here.
export { useWorkspaceAction } from './api/workspace-action';
export { DeleteDialog } from './components/DeleteDialog';
export { ACCESS_LABELS } from './components/ShareDialog';
export { StatusChip } from './components/StatusChip';
export { WorkspaceDetailsPage } from './components/WorkspaceDetailsPage';
export { WorkspaceListPage } from './components/WorkspaceListPage';
export { canStop } from './status';
