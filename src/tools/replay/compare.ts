// The comparison of a replay: one summary per model (per --models entry, or per model that
// served when the recorded models were kept), and the same summary of the recording itself.
//   requests, status counts, error rate      every request; status 0 = no answer (network error, timeout)
//   TTFT, latency p50/p90                    answered 2xx only (bench/des.ts distOf)
//   tokens                                   the responses' usage objects (prompt, completion, cached)
//   cost                                     tokens × the fleet file's priors (cost_per_1k_input/output) of the model
//   prefix hit rate                          share of routed requests kvfleet sent to a replica it believed
//                                            holds their prefix (x-kvfleet-affinity prefix:… or session)
//   prefix match                             mean matched share of the prompt's blocks over prefix hits (prefix:0.94 → 0.94)
//   cached token share                       Σ cached / Σ prompt tokens where the engine reports cached tokens
import { costUsd } from '../../core/limits/cost.js';
import type { Model } from '../../config/fleet.js';
import { distOf } from '../bench/des.js';

export interface ReplayUsage {
  readonly prompt: number;
  readonly completion: number;
  /** undefined: the engine did not say. */
  readonly cached: number | undefined;
}

/** One request's result (or one recorded request's outcome). */
export interface ReplayResult {
  readonly index: number;
  /** The model it is compared under. */
  readonly group: string;
  /** 0 = no answer. */
  readonly status: number;
  readonly ttftMs: number;
  readonly e2eMs: number;
  /** How late it was sent against the recorded timing (the concurrency bound), ms. */
  readonly lateMs: number;
  readonly error?: string | undefined;
  /** x-kvfleet-affinity as answered. */
  readonly affinity?: string | undefined;
  readonly endpoint?: string | undefined;
  readonly usage?: ReplayUsage | undefined;
}

export interface Quantiles {
  readonly p50: number;
  readonly p90: number;
  readonly mean: number;
}

export interface ModelSummary {
  readonly model: string;
  readonly requests: number;
  readonly ok: number;
  readonly errors: number;
  readonly error_rate: number;
  readonly statuses: Record<string, number>;
  readonly ttft_ms: Quantiles;
  readonly latency_ms: Quantiles;
  readonly tokens: { readonly prompt: number; readonly completion: number; readonly cached: number; readonly with_usage: number };
  /** null: no prices (no --fleet, or the model is not in it), or no usage reported. */
  readonly cost_usd: number | null;
  readonly prefix_hit_rate: number | null;
  readonly prefix_match: number | null;
  readonly cached_token_share: number | null;
  readonly late_ms_p90: number;
  readonly endpoints: Record<string, number>;
}

const ok = (status: number): boolean => status >= 200 && status < 300;

function quantiles(values: readonly number[]): Quantiles {
  const xs = Float64Array.from(values.filter((v) => Number.isFinite(v)));
  const d = distOf(xs, xs.length);
  return xs.length === 0 ? { p50: Number.NaN, p90: Number.NaN, mean: Number.NaN } : { p50: d.p50, p90: d.p90, mean: d.mean };
}

/** `prefix:0.94` → 0.94; `session` → 1 (pinned to the replica holding the conversation); `none` → 0; else undefined (not routed). */
export function affinityMatch(header: string | undefined): { hit: boolean; match: number } | undefined {
  if (header === undefined || header === '' || header === '-') return undefined;
  if (header === 'session') return { hit: true, match: Number.NaN };
  if (header === 'none') return { hit: false, match: 0 };
  if (header.startsWith('prefix:')) {
    const m = Number(header.slice(7));
    return { hit: true, match: Number.isFinite(m) ? m : Number.NaN };
  }
  return undefined;
}

export function summarizeGroup(model: string, rs: readonly ReplayResult[], priced?: Pick<Model, 'priors'>): ModelSummary {
  const statuses: Record<string, number> = {};
  const endpoints: Record<string, number> = {};
  let okN = 0;
  let prompt = 0;
  let completion = 0;
  let cached = 0;
  let cachedPrompt = 0;
  let withUsage = 0;
  let withCached = 0;
  let cost = 0;
  let routed = 0;
  let hits = 0;
  const matches: number[] = [];
  for (const r of rs) {
    const k = r.status === 0 ? `error:${r.error ?? '?'}` : String(r.status);
    statuses[k] = (statuses[k] ?? 0) + 1;
    if (ok(r.status)) okN++;
    if (r.endpoint !== undefined && r.endpoint !== '' && r.endpoint !== '-') endpoints[r.endpoint] = (endpoints[r.endpoint] ?? 0) + 1;
    const u = r.usage;
    if (u !== undefined) {
      withUsage++;
      prompt += u.prompt;
      completion += u.completion;
      if (priced !== undefined) cost += costUsd(priced, { promptTokens: u.prompt, completionTokens: u.completion });
      if (u.cached !== undefined) {
        withCached++;
        cached += u.cached;
        cachedPrompt += u.prompt;
      }
    }
    const a = affinityMatch(r.affinity);
    if (a !== undefined) {
      routed++;
      if (a.hit) {
        hits++;
        if (Number.isFinite(a.match)) matches.push(a.match);
      }
    }
  }
  const good = rs.filter((r) => ok(r.status));
  const n = rs.length;
  return {
    model,
    requests: n,
    ok: okN,
    errors: n - okN,
    error_rate: n > 0 ? (n - okN) / n : 0,
    statuses,
    ttft_ms: quantiles(good.map((r) => r.ttftMs)),
    latency_ms: quantiles(good.map((r) => r.e2eMs)),
    tokens: { prompt, completion, cached, with_usage: withUsage },
    cost_usd: priced !== undefined && withUsage > 0 ? cost : null,
    prefix_hit_rate: routed > 0 ? hits / routed : null,
    prefix_match: matches.length > 0 ? matches.reduce((x, y) => x + y, 0) / matches.length : null,
    cached_token_share: withCached > 0 && cachedPrompt > 0 ? cached / cachedPrompt : null,
    late_ms_p90: quantiles(rs.map((r) => r.lateMs)).p90,
    endpoints,
  };
}

/** One summary per group, in the order of `order` (then any other group by name). */
export function summarize(
  results: readonly ReplayResult[],
  order: readonly string[] = [],
  priceOf: (model: string) => Pick<Model, 'priors'> | undefined = () => undefined,
): ModelSummary[] {
  const groups = new Map<string, ReplayResult[]>();
  for (const g of order) groups.set(g, []);
  for (const r of results) {
    let list = groups.get(r.group);
    if (list === undefined) groups.set(r.group, (list = []));
    list.push(r);
  }
  const names = [...order, ...[...groups.keys()].filter((g) => !order.includes(g)).sort()];
  return names.map((g) => summarizeGroup(g, groups.get(g) ?? [], priceOf(g)));
}
