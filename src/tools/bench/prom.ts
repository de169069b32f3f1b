// Reading the simulated (vLLM-compatible) replicas' /metrics for the live benchmark:
// fleet-wide prefix hits / queries in tokens, running + waiting, finished requests.
export interface ReplicaSample {
  readonly url: string;
  readonly ok: boolean;
  readonly hits: number;
  readonly queries: number;
  readonly running: number;
  readonly waiting: number;
  readonly success: number;
}

/** Sum of every sample of `name` (any labels) in Prometheus text. */
export function promSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}

export async function scrapeReplica(url: string, timeoutMs = 2000): Promise<ReplicaSample> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) throw new Error(String(res.status));
    return {
      url,
      ok: true,
      hits: promSum(text, 'vllm:prefix_cache_hits_total'),
      queries: promSum(text, 'vllm:prefix_cache_queries_total'),
      running: promSum(text, 'vllm:num_requests_running'),
      waiting: promSum(text, 'vllm:num_requests_waiting'),
      success: promSum(text, 'vllm:request_success_total'),
    };
  } catch {
    return { url, ok: false, hits: 0, queries: 0, running: 0, waiting: 0, success: 0 };
  }
}
