import { Box, LinearProgress, Typography } from '@mui/material';
import type { Progress } from '../progress';

const PHASE_TEXT: Record<string, string> = {
  pulling: 'Downloading the image',
  volume: 'Preparing the data volume',
  creating: 'Creating the container',
  starting: 'Starting',
  waiting: 'Waiting for it to answer',
  ready: 'Ready',
  failed: 'Failed',
};

/** The bar and the current phase while a workspace starts. */
export function StartProgress({ progress }: { progress: Progress | null }) {
  const phase = progress?.phase ? (PHASE_TEXT[progress.phase] ?? progress.phase) : 'Starting';
  return (
    <Box sx={{ my: 1 }}>
      <LinearProgress
        aria-label="Start progress"
        aria-valuetext={`${phase}, ${Math.round(progress?.percent ?? 0)}%`}
        variant={progress ? 'determinate' : 'indeterminate'}
        value={progress?.percent ?? 0}
      />
      <Typography variant="body2" sx={{ mt: 0.5 }} aria-live="polite">
        {phase}
        {progress?.message && progress.message !== phase ? `: ${progress.message}` : ''}
      </Typography>
    </Box>
  );
}
