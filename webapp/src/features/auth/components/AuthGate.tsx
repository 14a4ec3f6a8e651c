import { Alert, Button, Typography } from '@mui/material';
import { Navigate, Outlet, useLocation } from 'react-router';
import { CenteredMessage, Loading } from '@/components/CenteredMessage';
import { ApiError, errorMessage } from '@/lib/errors';
import { useMe } from '../api/get-me';
import { useAuthMode } from '../api/get-auth-mode';

/** Renders its routes once someone is signed in; otherwise sign-in (or ML Lab's word). */
export function AuthGate() {
  const me = useMe();
  const location = useLocation();
  const signedOut = me.error instanceof ApiError && me.error.status === 401;
  // Asked only when needed: whether to show our sign-in or send people to ML Lab.
  const mode = useAuthMode(signedOut);

  if (me.isPending || (signedOut && mode.isPending)) return <Loading label="Signing in" />;
  if (signedOut) {
    if (mode.data === 'mllab') {
      return (
        <CenteredMessage title="Sign in to ML Lab first">
          <Typography>
            Your ML Lab session has ended or was not found. Sign in to ML Lab, then open Workspaces again.
          </Typography>
        </CenteredMessage>
      );
    }
    return <Navigate to={{ pathname: '/signin', search: location.search }} replace />;
  }
  if (me.error) {
    return (
      <CenteredMessage title="The workspace manager is not answering">
        <Alert severity="error" sx={{ mb: 2, textAlign: 'left' }}>
          {errorMessage(me.error)}
        </Alert>
        <Button variant="contained" onClick={() => void me.refetch()}>
          Try again
        </Button>
      </CenteredMessage>
    );
  }
  return <Outlet />;
}
