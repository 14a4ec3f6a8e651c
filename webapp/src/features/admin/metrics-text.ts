// Prometheus' text format (what GET /metrics answers), read into samples: just what the
// Metrics page shows needs, not a full parser (no timestamps kept, no exemplars).

export type Sample = { name: string; labels: Record<string, string>; value: number };

// name{labels} value [timestamp]
const LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
// One label: name="value", the value with \\, \" and \n escaped.
const LABEL = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string): Record<string, string> | null {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const match = LABEL.exec(text);
    if (!match) return text.slice(at).trim() === '' ? labels : null;
    const [, name = '', value = ''] = match;
    labels[name] = unescape(value);
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text); // (NaN for "NaN" and for anything unreadable)
}

/** Every sample of the text; comments, blank and unreadable lines are passed over. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const [, name = '', labelText, value = ''] = match;
    const labels = labelText === undefined ? {} : parseLabels(labelText);
    if (labels === null) continue;
    samples.push({ name, labels, value: parseValue(value) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 if there is none). */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The samples named `name`, summed by the value of `label` (in the order first seen). */
export function byLabel(samples: Sample[], name: string, label: string): [string, number][] {
  const sums = new Map<string, number>();
  for (const s of samples) {
    const key = s.labels[label];
    if (s.name !== name || key === undefined) continue;
    sums.set(key, (sums.get(key) ?? 0) + s.value);
  }
  return [...sums.entries()];
}
