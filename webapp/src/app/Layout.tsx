import { AppBar, Box, Button, Container, Stack, Toolbar, Typography } from '@mui/material';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useLogout, useMe } from '@/features/auth';

/** Header (who is signed in, navigation, sign out) around every signed-in page. */
export function Layout() {
  const { data: me } = useMe();
  const logout = useLogout();
  const navigate = useNavigate();
  const { search } = useLocation();
  if (!me) return null;
  const own = `/users/${encodeURIComponent(me.id)}/workspace`;

  const signOut = () => logout.mutate(undefined, { onSettled: () => navigate('/signin', { replace: true }) });

  const navButton = (to: string, label: string) => (
    <Button
      component={NavLink}
      to={{ pathname: to, search }}
      end
      color="inherit"
      sx={{ '&.active': { textDecoration: 'underline' } }}
    >
      {label}
    </Button>
  );

  return (
    <>
      <AppBar position="static" color="default" elevation={1}>
        <Toolbar sx={{ flexWrap: 'wrap', gap: 1, py: { xs: 1, sm: 0 } }}>
          <Typography variant="h6" component="p" sx={{ mr: 2 }}>
            Workspace Manager
          </Typography>
          <Box component="nav" aria-label="Main" sx={{ display: 'flex', flexWrap: 'wrap', flexGrow: 1 }}>
            {navButton(own, 'My workspaces')}
            {!me.is_admin && navButton(`/users/${encodeURIComponent(me.id)}/usage`, 'My usage')}
            {!me.is_admin && navButton(`/users/${encodeURIComponent(me.id)}/activity`, 'Activity')}
            {me.is_admin && navButton('/admin/workspaces', 'All workspaces')}
            {me.is_admin && navButton('/admin/shares', 'Shares')}
            {me.is_admin && navButton('/admin/templates', 'Templates')}
            {me.is_admin && me.auth_mode === 'standalone' && navButton('/admin/tokens', 'User tokens')}
            {me.is_admin && navButton('/admin/metrics', 'Metrics')}
            {me.is_admin && navButton('/admin/usage', 'Usage')}
            {me.is_admin && navButton('/admin/audit', 'Audit log')}
          </Box>
          <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
            <Typography variant="body2">
              Signed in as <strong>{me.id}</strong>
              {me.is_admin ? ' (administrator)' : ''}
            </Typography>
            {me.auth_mode === 'standalone' && (
              <Button variant="outlined" color="inherit" size="small" onClick={signOut}>
                Sign out
              </Button>
            )}
          </Stack>
        </Toolbar>
      </AppBar>
      <Container component="main" maxWidth="lg" sx={{ py: 3 }}>
        <Outlet />
      </Container>
    </>
  );
}
