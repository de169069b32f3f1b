// The response cache on the ext_proc stream (router/response-cache.ts holds the cache):
//   a hit      → an immediate response: 200, the stored body and content-type, and kvfleet's
//                explanation metadata (request id, tenant, the model that produced the entry,
//                reason `cache-hit`, the policy, cache `hit`, the budget left), which Envoy
//                renders as the x-kvfleet-* headers like on every answer of kvfleet's own
//   a miss     → `cache: miss` and `cache_fill` (what the meter needs to keep the response)
//                in the routing answer's metadata; the meter gets the kvfleet namespace with
//                the response (envoy.yaml: the meter's forwarding_namespaces)
//   a bypass   → `cache: bypass`
import { policySummary } from '../core/decide.js';
import type { AdmitOutcome } from '../core/limits/plan.js';
import type { Admission } from '../router/routed.js';
import type { CacheEntry, CacheFill, CacheResult } from '../router/response-cache.js';
import { budgetRemaining } from '../router/usage-gate.js';
import { answerFields, policyValue, withKvfleetMetadata } from './explain-metadata.js';
import { setHeader } from './mutations.js';
import type { ProcessingResponse, ProtoStruct, ProtoValue } from './proto-types.js';

/** The metadata field x-kvfleet-cache is rendered from, and the one the meter reads a fill from. */
export const CACHE_FIELD = 'cache';
export const CACHE_FILL_FIELD = 'cache_fill';
/** x-kvfleet-reason of an answer from the cache. */
export const CACHE_HIT_REASON = 'cache-hit';

const str = (v: string): ProtoValue => ({ stringValue: v });

/** The immediate response of a hit. */
export function cacheHitAnswer(requestId: string, a: Admission, entry: CacheEntry, usage: AdmitOutcome | undefined): ProcessingResponse {
  const tenant = a.policy.tenant?.id;
  const fields = answerFields(requestId, tenant);
  fields['model'] = str(entry.model);
  fields['reason'] = str(CACHE_HIT_REASON);
  fields['policy'] = str(policyValue(policySummary(a.policy, a.fleet)));
  fields[CACHE_FIELD] = str('hit');
  const left = budgetRemaining(usage);
  if (left !== undefined) fields['budget_remaining'] = str(left);
  const set = [setHeader('content-type', entry.contentType), setHeader('x-kvfleet-request-id', requestId), setHeader('x-kvfleet-cache', 'hit')];
  if (tenant !== undefined) set.push(setHeader('x-kvfleet-tenant', tenant));
  return {
    immediate_response: { status: { code: 200 }, headers: { set_headers: set }, body: entry.body, details: 'kvfleet_cache_hit' },
    dynamic_metadata: withKvfleetMetadata(fields),
  };
}

/** Adds the cache result (and a miss's fill) to a routing answer's kvfleet fields. */
export function addCacheFields(fields: Record<string, ProtoValue>, result: CacheResult, fill: CacheFill | undefined): void {
  fields[CACHE_FIELD] = str(result);
  if (fill === undefined) return;
  fields[CACHE_FILL_FIELD] = {
    structValue: { fields: { gen: str(String(fill.gen)), key: str(fill.key), tenant: str(fill.tenant), model: str(fill.model) } },
  };
}

/** The fill in a request's kvfleet metadata namespace (the meter's side), or undefined. */
export function readCacheFill(ns: ProtoStruct | undefined): CacheFill | undefined {
  const f = ns?.fields?.[CACHE_FILL_FIELD]?.structValue?.fields;
  if (f === undefined) return undefined;
  const gen = Number(f['gen']?.stringValue);
  const key = f['key']?.stringValue;
  const tenant = f['tenant']?.stringValue;
  const model = f['model']?.stringValue;
  if (!Number.isSafeInteger(gen) || key === undefined || tenant === undefined || model === undefined) return undefined;
  return { gen, key, tenant, model };
}
