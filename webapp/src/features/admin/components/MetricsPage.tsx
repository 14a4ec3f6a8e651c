import { Alert, Box, Card, CardContent, Link, Paper, Stack, Typography } from '@mui/material';
import { Loading } from '@/components/CenteredMessage';
import { apiBaseUrl } from '@/lib/env';
import { errorMessage } from '@/lib/errors';
import { useMetrics } from '../api/get-metrics';
import { byLabel, total, type Sample } from '../metrics-text';

const P = 'lab_workspace_manager_';
const REASONS: Record<string, string> = {
  image: 'Image (missing, or its pull failed)',
  quota: 'Quota reached',
  oom: 'Out of memory',
  engine: 'Docker engine',
  other: 'Other',
};
const DASHBOARD_FILE = 'docker/grafana-dashboard.json';

function Figure({ label, value }: { label: string; value: number }) {
  return (
    <Card variant="outlined" sx={{ flex: '1 1 10rem' }}>
      <CardContent>
        <Typography variant="h4" component="p" aria-label={label}>
          {value}
        </Typography>
        <Typography color="text.secondary">{label}</Typography>
      </CardContent>
    </Card>
  );
}

function Figures({ samples }: { samples: Sample[] }) {
  const failures = byLabel(samples, `${P}failures_total`, 'reason');
  return (
    <>
      <Stack direction="row" useFlexGap sx={{ flexWrap: 'wrap', gap: 2, mb: 3 }}>
        <Figure label="Running" value={total(samples, `${P}workspaces`, { status: 'running' })} />
        <Figure label="Stopped" value={total(samples, `${P}workspaces`, { status: 'stopped' })} />
        <Figure label="Users with running workspaces" value={total(samples, `${P}users_with_running_workspaces`)} />
        <Figure label="Event streams open" value={total(samples, `${P}event_streams_open`)} />
      </Stack>
      <Typography variant="h6" component="h2" gutterBottom>
        Failures since this manager started
      </Typography>
      <Paper variant="outlined" sx={{ mb: 3 }}>
        <Box
          component="dl"
          aria-label="Failures by reason"
          sx={{ m: 0, p: 2, display: 'grid', gridTemplateColumns: 'auto 1fr', gap: 1 }}
        >
          {failures.map(([reason, count]) => (
            <Box key={reason} sx={{ display: 'contents' }}>
              <Box component="dt">{REASONS[reason] ?? reason}</Box>
              <Box component="dd" sx={{ m: 0, fontWeight: 'bold' }}>
                {count}
              </Box>
            </Box>
          ))}
        </Box>
      </Paper>
    </>
  );
}

/** Administrators: a few of the manager's Prometheus metrics, and how to collect them all. */
export function MetricsPage() {
  const metrics = useMetrics();
  const url = `${apiBaseUrl()}/metrics`;
  return (
    <>
      <Typography variant="h4" component="h1" sx={{ mb: 1 }}>
        Metrics
      </Typography>
      <Typography color="text.secondary" sx={{ mb: 2 }}>
        What this manager counts, as of now (it answers the request; with several managers each counts its own).
      </Typography>
      {metrics.error && (
        <Alert severity="error" role="alert" sx={{ mb: 2 }}>
          {errorMessage(metrics.error)}
        </Alert>
      )}
      {metrics.isPending ? (
        <Loading label="Loading metrics" />
      ) : metrics.data ? (
        <Figures samples={metrics.data} />
      ) : null}
      <Typography variant="h6" component="h2" gutterBottom>
        Collecting them
      </Typography>
      <Typography component="div">
        <ul>
          <li>
            Prometheus scrapes{' '}
            <Link href={url} target="_blank" rel="noreferrer" sx={{ overflowWrap: 'anywhere' }}>
              {url}
            </Link>{' '}
            (the text format), as an administrator or with the bearer token set in the manager&apos;s setting{' '}
            <code>METRICS_TOKEN</code> (16 characters or more), which may read the metrics and nothing else.
          </li>
          <li>
            A Grafana dashboard over them is in <code>{DASHBOARD_FILE}</code> in the manager&apos;s repository.
          </li>
          <li>No series names a workspace or a user.</li>
        </ul>
      </Typography>
      <Typography
        variant="body2"
        component="pre"
        aria-label="Prometheus scrape configuration"
        sx={{
          p: 2,
          bgcolor: 'action.hover',
          fontFamily: 'monospace',
          whiteSpace: 'pre-wrap',
          overflowWrap: 'anywhere',
        }}
      >
        {`scrape_configs:
  - job_name: lab-workspace-manager
    scheme: ${new URL(url).protocol.replace(':', '')}
    metrics_path: ${new URL(url).pathname}
    authorization:
      credentials_file: /etc/prometheus/lab-workspace-manager.token  # METRICS_TOKEN
    static_configs:
      - targets: ["${new URL(url).host}"]`}
      </Typography>
    </>
  );
}
