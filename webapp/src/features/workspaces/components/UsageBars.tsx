import { Box, LinearProgress, Typography } from '@mui/material';
import type { WorkspaceStats } from '@/api/types';
import { formatMb } from '@/lib/format';

function Bar({
  label,
  used,
  limit,
  text,
}: {
  label: string;
  used: number | null | undefined;
  limit: number;
  text: string;
}) {
  const percent = used == null || !limit ? 0 : Math.min(100, (100 * used) / limit);
  const high = percent >= 90;
  return (
    <Box sx={{ mb: 1 }}>
      <Box sx={{ display: 'flex', justifyContent: 'space-between', gap: 1 }}>
        <Typography variant="body2">{label}</Typography>
        <Typography variant="body2" color="text.secondary">
          {used == null ? 'not measured yet' : text}
        </Typography>
      </Box>
      <LinearProgress
        aria-label={`${label} usage`}
        aria-valuetext={used == null ? 'not measured yet' : text}
        variant="determinate"
        value={percent}
        color={high ? 'warning' : 'primary'}
        sx={{ height: 8, borderRadius: 4 }}
      />
    </Box>
  );
}

// Where the engine enforces a size, writes beyond it fail; elsewhere a workspace over it is stopped.
const hard = (limit: number | null | undefined) => (limit != null ? ', a hard limit' : '');

/** CPU (% of one CPU against the limit), memory and disk, as the backend last measured them. */
export function UsageBars({ stats, showContainer = false }: { stats: WorkspaceStats; showContainer?: boolean }) {
  const cpu = stats.cpu_percent;
  return (
    <Box>
      <Bar
        label="CPU"
        used={cpu}
        limit={stats.cpu_limit_percent}
        text={cpu == null ? '' : `${(cpu / 100).toFixed(2)} of ${(stats.cpu_limit_percent / 100).toFixed(2)} CPUs`}
      />
      <Bar
        label="Memory"
        used={stats.memory_used}
        limit={stats.memory_limit}
        text={`${formatMb(stats.memory_used)} of ${formatMb(stats.memory_limit)}`}
      />
      <Bar
        label="Disk"
        used={stats.volume_used}
        limit={stats.volume_limit}
        text={`${formatMb(stats.volume_used)} of ${formatMb(stats.volume_limit)}${hard(stats.volume_hard_limit)}`}
      />
      {showContainer && (
        <Bar
          label="Container"
          used={stats.container_used}
          limit={stats.container_limit}
          text={`${formatMb(stats.container_used)} of ${formatMb(stats.container_limit)}${hard(stats.container_hard_limit)}`}
        />
      )}
      {(stats.warnings ?? []).map((warning) => (
        <Typography key={warning} variant="body2" color="warning.main" role="status">
          {warning}
        </Typography>
      ))}
    </Box>
  );
}
