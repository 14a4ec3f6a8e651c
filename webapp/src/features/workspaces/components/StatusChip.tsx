import { Chip } from '@mui/material';
import type { WorkspaceStatus } from '@/api/types';
import { statusColor } from '../status';

export function StatusChip({ status }: { status: WorkspaceStatus }) {
  return (
    <Chip
      size="small"
      label={status}
      color={statusColor[status]}
      variant={status === 'stopped' ? 'outlined' : 'filled'}
    />
  );
}
