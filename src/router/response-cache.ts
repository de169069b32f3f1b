// The response cache (`response_cache:`, opt-in): repeated deterministic requests answered
// from memory by kvfleet itself, without reaching a replica.
//   lookup   after the policy admitted the request (a refusal is never answered from the
//            cache): bypass (not deterministic, streamed, `cache-control: no-store`, a model
//            not listed), hit (an entry of this tenant under this key), or miss
//            (`cache-control: no-cache` is always a miss: the fresh response replaces the entry)
//   fillFor  a miss as routed: the response will be kept, unless the request was moved to
//            another model than the one it named (routing.fallback, a budget downgrade)
//   fill     the response, from the meter (Envoy's observability filter copies it): kept when
//            it came back complete, 200, and a JSON object without `error`
// Keys and entries: core/response-cache/. A tenant's entries are filed under its id and
// checked against it on every hit: a tenant never receives another tenant's entry. The cache
// is per kvfleet process, and a fleet reload empties it (models, tenants and policy may have
// changed); a fill of a request routed before the reload is dropped.
import type { Fleet } from '../config/fleet.js';
import type { ResponseCacheConfig } from '../config/response-cache-schema.js';
import { ByteLru, type EvictReason, type Sized } from '../core/response-cache/byte-lru.js';
import { hitPlan } from '../core/response-cache/hit-plan.js';
import { nondeterministic, requestKey, type BypassReason } from '../core/response-cache/request-key.js';
import type { AdmitOutcome } from '../core/limits/plan.js';
import type { Decision } from '../core/types.js';
import type { CacheDirective } from '../request/cache-control.js';
import type { UsageStore } from '../state/usage-store.js';
import { andThen, type MaybePromise } from './maybe-async.js';
import type { Admission } from './routed.js';
import { denial } from './usage-gate.js';

/** x-kvfleet-cache, and the `result` label of kvfleet_response_cache_requests_total. */
export type CacheResult = 'hit' | 'miss' | 'bypass';

export interface CacheEntry extends Sized {
  readonly tenant: string;
  /** The fleet model that produced it. */
  readonly model: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** Clock (ms) when it was stored. */
  readonly storedAt: number;
}

export type CacheLookup =
  | { readonly result: 'bypass'; readonly why: BypassReason }
  | {
      readonly result: 'miss';
      readonly key: string;
      readonly tenant: string;
      /** The fleet model the request named (undefined: `auto`). */
      readonly named: string | undefined;
      readonly gen: number;
    }
  | { readonly result: 'hit'; readonly entry: CacheEntry };

/** What the meter needs to keep a response: it travels in the routing answer's metadata. */
export interface CacheFill {
  /** The cache generation the request was routed in (a reload starts a new one). */
  readonly gen: number;
  readonly key: string;
  readonly tenant: string;
  readonly model: string;
}

/** A response as the meter saw it pass. */
export interface CapturedResponse {
  readonly status: number | undefined;
  readonly contentType: string | undefined;
  /** The body when it was JSON (not SSE) and within the meter's 4 MiB; undefined otherwise. */
  readonly body: Buffer | undefined;
  /** The body, parsed (undefined when it did not parse). */
  readonly json: unknown;
  /** The body ended (not cut). */
  readonly complete: boolean;
  /** The body was larger than the meter keeps. */
  readonly truncated: boolean;
}

/** What happened to a response offered to the cache (kvfleet_response_cache_fills_total{outcome}). */
export type FillOutcome = 'stored' | 'incomplete' | 'status' | 'not_json' | 'too_large' | 'stale' | 'disabled';

export interface ResponseCacheHooks {
  readonly onResult?: ((r: CacheResult) => void) | undefined;
  readonly onFill?: ((o: FillOutcome) => void) | undefined;
  readonly onEvict?: ((r: EvictReason) => void) | undefined;
}

export interface ResponseCacheDeps {
  readonly fleet: () => Fleet;
  /** Monotonic ms. */
  readonly now: () => number;
  readonly hooks?: ResponseCacheHooks | undefined;
}

/** Bytes an entry counts beyond its body and strings (the Map slot, the object, the key). */
export const ENTRY_OVERHEAD_BYTES = 256;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class ResponseCache {
  private readonly lru: ByteLru<CacheEntry>;
  private fleetSeen: Fleet | undefined;
  private cfg: ResponseCacheConfig | undefined;
  private models: ReadonlySet<string> | undefined;
  private gen = 0;

  constructor(private readonly deps: ResponseCacheDeps) {
    this.lru = new ByteLru<CacheEntry>(1, (r) => deps.hooks?.onEvict?.(r));
    this.sync();
  }

  /** Bytes held (bodies + bookkeeping). */
  get bytes(): number {
    return this.lru.bytes;
  }

  get entries(): number {
    return this.lru.size;
  }

  /** The request's cache result; undefined when the cache is off. Call once the policy admitted the request. */
  lookup(a: Admission, directive: CacheDirective): CacheLookup | undefined {
    const cfg = this.sync();
    if (cfg === undefined) return undefined;
    if (directive === 'no-store') return { result: 'bypass', why: 'no-store' };
    const input = a.input;
    const why = nondeterministic(input.api, input.body);
    if (why !== undefined) return { result: 'bypass', why };
    const named = a.fleet.byName.get(input.model)?.name;
    if (this.models !== undefined && (named === undefined || !this.models.has(named))) return { result: 'bypass', why: 'model' };
    const tenant = a.policy.tenant?.id ?? '';
    const key = requestKey({
      tenant,
      api: input.api,
      model: named ?? input.model,
      strategy: a.meta.overrides.strategy,
      models: a.meta.overrides.models,
      dataClass: a.meta.dataClass,
      body: input.body,
    });
    const entry = directive === 'no-cache' ? undefined : this.lru.get(key, this.deps.now());
    if (entry !== undefined && entry.tenant === tenant) return { result: 'hit', entry };
    return { result: 'miss', key, tenant, named, gen: this.gen };
  }

  /**
   * A miss as routed: what the meter needs to keep its response, or undefined when it must not
   * be kept (the request went to another model than it named, or one the cache does not list).
   */
  fillFor(look: CacheLookup, d: Decision): CacheFill | undefined {
    if (look.result !== 'miss' || look.gen !== this.gen) return undefined;
    if (look.named !== undefined && d.model.name !== look.named) return undefined;
    if (this.models !== undefined && !this.models.has(d.model.name)) return undefined;
    if (d.reasons.some((r) => r.startsWith('fallback-model:') || r.startsWith('budget-downgrade:'))) return undefined;
    return { gen: look.gen, key: look.key, tenant: look.tenant, model: d.model.name };
  }

  /** The response of a miss, from the meter: kept when it qualifies. */
  fill(f: CacheFill, r: CapturedResponse): FillOutcome {
    const outcome = this.store(f, r);
    this.deps.hooks?.onFill?.(outcome);
    return outcome;
  }

  /** Count a request's result (answered from the cache, or sent upstream). */
  count(result: CacheResult): void {
    this.deps.hooks?.onResult?.(result);
  }

  /**
   * A hit counts against the tenant's rpm (hit-plan.ts): the store's verdict, or undefined
   * when there is nothing to check. Throws (rejects with) the 429 when the tenant is over it.
   */
  admitHit(store: UsageStore, a: Admission, entry: CacheEntry, wallNow: number): MaybePromise<AdmitOutcome | undefined> {
    const plan = hitPlan(a.policy.tenant, entry.model, wallNow);
    if (plan === undefined) return undefined;
    return andThen(store.admit(plan), (out) => {
      const refused = denial(out, a.fleet.usage.state.on_unavailable);
      if (refused !== undefined) throw refused;
      return out;
    });
  }

  private store(f: CacheFill, r: CapturedResponse): FillOutcome {
    const cfg = this.sync();
    if (cfg === undefined) return 'disabled';
    if (f.gen !== this.gen) return 'stale';
    if (!r.complete) return 'incomplete';
    if (r.status !== 200) return 'status';
    if (r.truncated) return 'too_large';
    const type = r.contentType ?? '';
    if (r.body === undefined || !type.toLowerCase().includes('application/json') || !isRecord(r.json) || 'error' in r.json) return 'not_json';
    if (r.body.length > cfg.max_entry_bytes) return 'too_large';
    const now = this.deps.now();
    const bytes = r.body.length + ENTRY_OVERHEAD_BYTES + type.length + f.tenant.length + f.model.length + f.key.length;
    const entry: CacheEntry = {
      tenant: f.tenant,
      model: f.model,
      contentType: type,
      body: r.body,
      storedAt: now,
      expiresAt: now + cfg.ttl_seconds * 1000,
      bytes,
    };
    return this.lru.set(f.key, entry, now) ? 'stored' : 'too_large';
  }

  /** The current fleet's settings; a new fleet (a reload) empties the cache and starts a new generation. */
  private sync(): ResponseCacheConfig | undefined {
    const fleet = this.deps.fleet();
    if (fleet !== this.fleetSeen) {
      this.fleetSeen = fleet;
      this.gen++;
      this.lru.clear();
      const cfg = fleet.file.response_cache;
      this.cfg = cfg.enabled ? cfg : undefined;
      this.models = cfg.models !== undefined ? new Set(cfg.models.map((m) => fleet.byName.get(m)?.name ?? m)) : undefined;
      this.lru.resize(cfg.max_bytes);
    }
    return this.cfg;
  }
}
