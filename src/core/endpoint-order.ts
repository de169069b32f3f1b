// Least-in-flight endpoint order, ties broken round-robin.
//   order = healthy endpoints, rotated by a per-model counter, then stably
//   sorted by in-flight count (ascending).
// Rotation before a stable sort makes equal-load endpoints take turns.
import type { LiveView } from './types.js';

export function orderLeastInflight(
  endpoints: readonly string[],
  live: LiveView,
  rrStart: number,
): string[] {
  const n = endpoints.length;
  const rotated: Array<{ addr: string; inflight: number }> = [];
  for (let i = 0; i < n; i++) {
    const addr = endpoints[(rrStart + i) % n] as string;
    const view = live.endpoint(addr);
    if (view !== undefined && !view.healthy) continue;
    rotated.push({ addr, inflight: view?.inflight ?? 0 });
  }
  rotated.sort((a, b) => a.inflight - b.inflight);
  return rotated.map((e) => e.addr);
}
