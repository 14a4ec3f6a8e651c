// The snapshots feature's public surface: other features and src/app import only from here.
export { SnapshotActions } from './components/SnapshotActions';
export { UploadDialog } from './components/UploadDialog';
export { OrphanSnapshotsSection } from './components/OrphanSnapshotsSection';
