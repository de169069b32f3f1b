// Gateway API Inference Extension endpoint-picker protocol: the proxy may restrict
// the endpoints kvfleet picks from with filter metadata
//   envoy.lb.subset_hint / x-gateway-destination-endpoint-subset = ["ip:port", …]
// (forwarded to kvfleet when the namespace is in the ext_proc filter's
// forwarding_namespaces). When the key is present kvfleet picks only from that
// list; an empty list, or one sharing no endpoint with the model, is a 503.
import type { LiveView } from '../core/types.js';
import { parseEndpoint } from '../config/endpoint-address.js';
import type { ProcessingRequest } from './proto-types.js';

export const SUBSET_NAMESPACE = 'envoy.lb.subset_hint';
export const SUBSET_KEY = 'x-gateway-destination-endpoint-subset';
const MAX_SUBSET = 4096;

/** The subset the proxy sent, or undefined when it sent none. Non-string entries are dropped. */
export function readSubsetHint(md: ProcessingRequest['metadata_context']): readonly string[] | undefined {
  const v = md?.filter_metadata?.[SUBSET_NAMESPACE]?.fields?.[SUBSET_KEY];
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined)
    return v.stringValue
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .slice(0, MAX_SUBSET);
  const values = v.listValue?.values ?? [];
  const out: string[] = [];
  for (const x of values) {
    if (typeof x.stringValue === 'string' && x.stringValue !== '') out.push(x.stringValue.trim());
    if (out.length >= MAX_SUBSET) break;
  }
  return out;
}

/**
 * The live view restricted to `subset`: a cluster's members become its discovered
 * members (Envoy admin) ∩ subset when discovery knows the cluster, else the subset
 * itself (valid ip:port entries). The subset comes from the proxy (filter metadata a
 * client cannot set) and names the pool's current endpoints, so it is trusted over
 * the fleet file's list; Envoy's override_host ignores addresses outside the cluster.
 * Without a subset the live view is returned as is.
 */
export function withSubset(live: LiveView, subset: readonly string[] | undefined): LiveView {
  if (subset === undefined) return live;
  const allowed = new Set(subset);
  const valid = [...allowed].filter((a) => parseEndpoint(a) !== undefined);
  const cache = new Map<string, readonly string[]>();
  const clock = live.clock?.bind(live);
  return {
    endpoint: (address, at) => live.endpoint(address, at),
    ...(clock !== undefined ? { clock } : {}),
    members: (cluster) => {
      let r = cache.get(cluster);
      if (r === undefined) {
        const known = live.members?.(cluster);
        r = Object.freeze(known !== undefined ? known.filter((a) => allowed.has(a)) : valid);
        cache.set(cluster, r);
      }
      return r;
    },
  };
}
