import { Alert } from '@mui/material';
import { useConfig } from '@/features/config';

/** Said on every administrator's page while workspaces share the manager's origin. */
export function UnsafeOriginWarning() {
  const config = useConfig();
  if (!config.data?.workspaces_on_manager_origin) return null;
  return (
    <Alert severity="warning" role="alert" sx={{ mb: 2 }}>
      Workspaces are served on the manager&apos;s own address (UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN): any user&apos;s
      workspace can act as whoever opens it, administrators included. Keep it only if every user trusts every other
      completely; otherwise unset it, so that each workspace gets an address of its own.
    </Alert>
  );
}
