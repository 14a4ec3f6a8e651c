import { Alert, Box, Button, Paper, TextField, Typography } from '@mui/material';
import { useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { errorMessage } from '@/lib/errors';
import { useLogin } from '../api/login';

/** Standalone sign-in: paste a token; the server keeps it in an HttpOnly cookie. */
export function SignInPage() {
  const [token, setToken] = useState('');
  const [touched, setTouched] = useState(false);
  const login = useLogin();
  const navigate = useNavigate();
  const location = useLocation();
  const missing = touched && !token.trim();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTouched(true);
    if (!token.trim()) return;
    login.mutate(token.trim(), {
      onSuccess: (me) => {
        navigate(
          { pathname: `/users/${encodeURIComponent(me.id)}/workspace`, search: location.search },
          { replace: true },
        );
      },
    });
  };

  return (
    <Box component="main" sx={{ display: 'flex', justifyContent: 'center', px: 2, py: { xs: 4, sm: 10 } }}>
      <Paper component="form" onSubmit={submit} noValidate sx={{ p: { xs: 3, sm: 4 }, width: '100%', maxWidth: 440 }}>
        <Typography variant="h4" component="h1" gutterBottom>
          Sign in
        </Typography>
        <Typography color="text.secondary" sx={{ mb: 3 }}>
          Paste the access token your administrator gave you.
        </Typography>
        <TextField
          label="Access token"
          type="password"
          autoComplete="current-password"
          fullWidth
          autoFocus
          // Not `required`: its asterisk would become part of the label's accessible name.
          slotProps={{ htmlInput: { 'aria-required': true } }}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          error={missing}
          helperText={missing ? 'Paste your token to sign in.' : ' '}
        />
        {login.error && (
          <Alert severity="error" role="alert" sx={{ mt: 1 }}>
            {errorMessage(login.error)}
          </Alert>
        )}
        <Button type="submit" variant="contained" size="large" fullWidth sx={{ mt: 2 }} loading={login.isPending}>
          Sign in
        </Button>
      </Paper>
    </Box>
  );
}
