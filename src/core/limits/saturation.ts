// Whether a model's pool can take another request now (flow_control.saturation): saturated
// when every usable endpoint is over its queue or its KV cache. Per endpoint, from what
// kvfleet knows right now:
//   queued  = max(engine waiting, kvfleet's in-flight − engine running)   (engine metrics fresh)
//   over    ⇔ queued ≥ saturation.waiting  or  KV usage ≥ saturation.kv_usage
//   without fresh engine metrics: over ⇔ kvfleet's in-flight ≥ saturation.inflight
// kvfleet's own in-flight count moves the moment a request is sent, so releasing a held
// request is felt at once, before the next scrape. Unhealthy or cooling endpoints do not count
// as room. A low (sheddable) request sees the limits scaled by 1 − flow_control.sheddable_reserve,
// so under overload low traffic keeps off the share kept for high and normal. Pure: reads a LiveView.
import type { FlowControlConfig } from '../../config/usage-schema.js';
import type { EndpointView, LiveView } from '../types.js';

/** `share` scales the limits (1 for high and normal; 1 − sheddable_reserve for low). */
export function endpointOver(e: EndpointView, s: FlowControlConfig['saturation'], share = 1): boolean {
  const g = e.engine;
  if (g === undefined) return e.inflight >= Math.max(1, s.inflight * share);
  const queued = Math.max(g.waiting, e.inflight - g.running);
  return queued >= s.waiting * share || g.kvUsage >= s.kv_usage * (share < 1 ? Math.max(share, 0.9) : 1);
}

export function poolSaturated(endpoints: readonly string[], live: LiveView, s: FlowControlConfig['saturation'], now: number, share = 1): boolean {
  let usable = 0;
  const at = live.clock?.();
  for (const a of endpoints) {
    const e = live.endpoint(a, at);
    // Never seen: no load known, room.
    if (e === undefined) return false;
    if (!e.healthy || (e.coolUntil !== undefined && e.coolUntil > now)) continue;
    usable++;
    if (!endpointOver(e, s, share)) return false;
  }
  // No usable endpoint at all is not saturation: the decision answers that (503).
  return usable > 0;
}
