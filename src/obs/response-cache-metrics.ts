// Prometheus series of the response cache (router/response-cache.ts), on the process's
// registry. Labels are fixed sets (result, outcome, reason): bounded.
//   kvfleet_response_cache_requests_total{result}    hit | miss | bypass: requests answered
//                                                    from the cache or sent upstream (hit
//                                                    ratio = hit / (hit + miss))
//   kvfleet_response_cache_fills_total{outcome}      responses offered to the cache: stored,
//                                                    or why not (status, not_json, incomplete,
//                                                    too_large, stale, disabled)
//   kvfleet_response_cache_evictions_total{reason}   lru (the byte bound) | ttl
//   kvfleet_response_cache_bytes, _entries           what it holds now
// (obs/ sits below router/: the cache is seen through the two shapes below.)
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the gauges read at each scrape. */
export interface CacheSize {
  readonly bytes: number;
  readonly entries: number;
}

/** The counters, as the cache's hooks (router/response-cache.ts ResponseCacheHooks). */
export interface CacheCounters {
  readonly onResult: (result: string) => void;
  readonly onFill: (outcome: string) => void;
  readonly onEvict: (reason: string) => void;
}

export interface ResponseCacheMetrics {
  /** The hooks to give the cache. */
  readonly hooks: CacheCounters;
  /** The cache whose size the gauges read at each scrape. */
  watch(cache: CacheSize): void;
}

export function responseCacheMetrics(registry: Registry): ResponseCacheMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'kvfleet_response_cache_requests_total',
    help: 'Requests by response cache result: hit (answered from the cache), miss (sent upstream, its response to be kept), bypass (not cacheable)',
    labelNames: ['result'],
    registers,
  });
  const fills = new Counter({
    name: 'kvfleet_response_cache_fills_total',
    help: 'Responses of cache misses offered to the cache, by outcome (stored, or why not)',
    labelNames: ['outcome'],
    registers,
  });
  const evictions = new Counter({
    name: 'kvfleet_response_cache_evictions_total',
    help: 'Entries dropped from the response cache: lru (the byte bound), ttl (expired)',
    labelNames: ['reason'],
    registers,
  });
  let watched: CacheSize | undefined;
  new Gauge({
    name: 'kvfleet_response_cache_bytes',
    help: 'Bytes the response cache holds (bodies and bookkeeping)',
    registers,
    collect() {
      this.set(watched?.bytes ?? 0);
    },
  });
  new Gauge({
    name: 'kvfleet_response_cache_entries',
    help: 'Entries the response cache holds',
    registers,
    collect() {
      this.set(watched?.entries ?? 0);
    },
  });
  return {
    hooks: {
      onResult: (result) => requests.inc({ result }),
      onFill: (outcome) => fills.inc({ outcome }),
      onEvict: (reason) => evictions.inc({ reason }),
    },
    watch: (cache) => {
      watched = cache;
    },
  };
}
