// What `kvfleet replay` prints and writes: a table (stdout), the JSON result (--json) and a
// bar chart of TTFT and latency per model (--chart, drawn by bench/report.ts barChartSvg).
import { barChartSvg, fmt, pct, textTable, type Cell } from '../bench/report.js';
import type { ModelSummary } from './compare.js';

export interface ReplayReport {
  readonly files: readonly string[];
  readonly target: string;
  readonly models: readonly string[] | null;
  readonly speed: number;
  readonly concurrency: number;
  /** Salt of the synthesised text (--seed to send the same text again). */
  readonly seed: number;
  readonly records: { readonly read: number; readonly replayed: number; readonly invalid: number; readonly no_shape: number };
  /** Requests sent (records × models). */
  readonly sent: number;
  readonly wall_ms: number;
  readonly scheduled_ms: number;
  /** The recording's own outcomes for the replayed records (TTFT = Envoy's time to first upstream byte). */
  readonly recorded: ModelSummary;
  readonly summaries: readonly ModelSummary[];
}

export const REPLAY_HEAD = [
  'model',
  'requests',
  'ok',
  'errors',
  'TTFT p50 ms',
  'TTFT p90 ms',
  'latency p50 ms',
  'latency p90 ms',
  'prompt tok',
  'completion tok',
  'cost USD',
  'prefix hits',
  'cached tok',
];

function row(s: ModelSummary, label = s.model): Cell[] {
  return [
    label,
    s.requests,
    s.ok,
    s.errors > 0 ? `${s.errors} (${pct(s.error_rate)})` : '0',
    fmt(s.ttft_ms.p50),
    fmt(s.ttft_ms.p90),
    fmt(s.latency_ms.p50),
    fmt(s.latency_ms.p90),
    s.tokens.with_usage > 0 ? s.tokens.prompt : '–',
    s.tokens.with_usage > 0 ? s.tokens.completion : '–',
    s.cost_usd !== null ? s.cost_usd.toFixed(4) : '–',
    s.prefix_hit_rate !== null ? pct(s.prefix_hit_rate) : '–',
    s.cached_token_share !== null ? pct(s.cached_token_share) : '–',
  ];
}

const statusList = (s: ModelSummary): string =>
  Object.entries(s.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}×${n}`)
    .join(' ');

export function replayText(r: ReplayReport): string {
  const rows = [row(r.recorded, 'recorded*'), ...r.summaries.map((s) => row(s))];
  const lines = [
    `replayed ${r.records.replayed} recorded requests${r.models !== null ? ` × ${r.models.length} models` : ''} against ${r.target} in ${fmt(r.wall_ms / 1000)} s (recorded timing ÷ ${r.speed === 0 ? '∞' : r.speed}: ${fmt(r.scheduled_ms / 1000)} s)`,
    '',
    textTable(REPLAY_HEAD, rows),
    '',
    ...[r.recorded, ...r.summaries].map((s) => `${s.model === 'recorded' ? 'recorded*' : s.model}: ${statusList(s) || '-'}`),
    '',
    '* as recorded: TTFT = Envoy\'s time to the first upstream byte, latency = to the last byte; "prefix hits" = kvfleet sent the request to a replica it believed holds its prefix (x-kvfleet-affinity prefix:… or session); "cached tok" = the engines\' cached prompt tokens / prompt tokens.',
  ];
  const skipped = r.records.invalid + r.records.no_shape;
  if (skipped > 0) lines.push(`skipped ${skipped} line(s): ${r.records.invalid} not a record, ${r.records.no_shape} refused before their shape was known`);
  const late = r.summaries.map((s) => s.late_ms_p90).filter((x) => Number.isFinite(x) && x > 100);
  if (late.length > 0 && r.speed > 0) lines.push(`behind schedule: late p90 up to ${fmt(Math.max(...late))} ms (raise --concurrency or lower --speed)`);
  return `${lines.join('\n')}\n`;
}

export function replaySvg(r: ReplayReport): string {
  const s = r.summaries;
  return barChartSvg(
    `kvfleet replay: ${r.records.replayed} recorded requests per model`,
    ' ms',
    s.map((x) => x.model),
    [
      { label: 'TTFT p50', values: s.map((x) => x.ttft_ms.p50) },
      { label: 'TTFT p90', values: s.map((x) => x.ttft_ms.p90) },
      { label: 'latency p50', values: s.map((x) => x.latency_ms.p50) },
      { label: 'latency p90', values: s.map((x) => x.latency_ms.p90) },
    ],
  );
}

/** JSON of the report (NaN → null). */
export function replayJson(r: ReplayReport): string {
  return `${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}
