import { Button, Paper, Typography } from '@mui/material';

export function EmptyState({ onCreate }: { onCreate: () => void }) {
  return (
    <Paper variant="outlined" sx={{ p: { xs: 3, sm: 5 }, textAlign: 'center' }}>
      <Typography variant="h6" component="h2" gutterBottom>
        No workspaces yet
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 3, maxWidth: 520, mx: 'auto' }}>
        A workspace is your own Jupyter, VS Code and terminal in the browser, with its own CPUs, memory and disk. Your
        files in /workspace are kept when it stops. Create one to start: choose a name, an image and its size.
      </Typography>
      <Button variant="contained" onClick={onCreate}>
        Create your first workspace
      </Button>
    </Paper>
  );
}
