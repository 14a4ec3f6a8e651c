import { Box, LinearProgress, Typography } from '@mui/material';

/** A bar for a copy under way: how far it got where that is known, else that it goes on. */
export function CopyProgress({ label, percent }: { label: string; percent: number | null }) {
  return (
    <Box sx={{ my: 1 }}>
      <Typography variant="body2" color="text.secondary">
        {label}
        {percent != null && ` ${Math.round(percent)}%`}
      </Typography>
      <LinearProgress
        aria-label={label}
        variant={percent == null ? 'indeterminate' : 'determinate'}
        value={percent ?? undefined}
      />
    </Box>
  );
}
