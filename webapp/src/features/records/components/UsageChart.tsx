import { Box, Typography, useTheme } from '@mui/material';
import type { UsageRow } from '@/api/types';
import { daysBetween } from '../api/usage';

const WIDTH = 720;
const HEIGHT = 200;
const LEFT = 44; // room for the scale
const BOTTOM = 22; // room for the first and last day

/** Running hours per day as bars (a day without use is an empty slot), drawn in SVG: the same
 * numbers are in the table below it, for screen readers and for copying. */
export function UsageChart({ rows, since, until }: { rows: UsageRow[]; since: string; until: string }) {
  const theme = useTheme();
  const days = daysBetween(since, until);
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const values = days.map((d) => byDay.get(d)?.running_hours ?? 0);
  const top = niceCeiling(Math.max(...values));
  const slot = (WIDTH - LEFT) / Math.max(1, days.length);
  const barHeight = (v: number) => (v / top) * (HEIGHT - BOTTOM - 8);
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <Box sx={{ mb: 2 }}>
      <Typography variant="subtitle2" component="h2" id="usage-chart-title">
        Running hours per day (UTC)
      </Typography>
      <svg
        role="img"
        aria-labelledby="usage-chart-title"
        aria-describedby="usage-chart-summary"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width="100%"
        style={{ maxWidth: WIDTH, display: 'block' }}
      >
        <desc id="usage-chart-summary">
          {`${total.toFixed(1)} running hours from ${since} to ${until}; the most in one day: ${Math.max(...values).toFixed(1)}.`}
        </desc>
        <line x1={LEFT} x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} stroke={theme.palette.divider} />
        <text x={LEFT - 6} y={12} textAnchor="end" fontSize={11} fill={theme.palette.text.secondary}>
          {`${top} h`}
        </text>
        <text x={LEFT - 6} y={HEIGHT - BOTTOM} textAnchor="end" fontSize={11} fill={theme.palette.text.secondary}>
          0
        </text>
        {values.map((v, i) => (
          <rect
            key={days[i]}
            data-day={days[i]}
            x={LEFT + i * slot + slot * 0.15}
            width={slot * 0.7}
            y={HEIGHT - BOTTOM - barHeight(v)}
            height={barHeight(v)}
            fill={theme.palette.primary.main}
          >
            <title>{`${days[i]}: ${v.toFixed(2)} h`}</title>
          </rect>
        ))}
        <text x={LEFT} y={HEIGHT - 6} fontSize={11} fill={theme.palette.text.secondary}>
          {days[0]}
        </text>
        <text x={WIDTH} y={HEIGHT - 6} textAnchor="end" fontSize={11} fill={theme.palette.text.secondary}>
          {days[days.length - 1]}
        </text>
      </svg>
    </Box>
  );
}

/** The scale's top: the next of 1, 2 or 5 times a power of ten at or above `value` (a day's
 * few minutes are drawn as tall as a day's hours). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((m) => m * power >= value) ?? 10;
  return Number((step * power).toPrecision(12));
}
