// What Envoy's access log tells the Router about a request after kvfleet answered it
// (src/accesslog/entry.ts turns each HTTPAccessLogEntry into one of these).
//   end       the HTTP stream is over (a streamed completion at its last byte)
//   periodic  a long stream is still running
//   attempt   one upstream try (the router's upstream_log), retried-away ones included

export type LogKind = 'end' | 'periodic' | 'attempt' | 'other';

export interface AccessLogEvent {
  readonly kind: LogKind;
  readonly requestId: string | undefined;
  /** kvfleet's decision key (undefined: kvfleet did not route this request). */
  readonly key: string | undefined;
  /** Response status; 0 when none came (reset, connect failure, client gone). */
  readonly status: number;
  readonly details: string | undefined;
  /** ip:port of the upstream host (after retries for `end`). */
  readonly served: string | undefined;
  readonly attempts: number | undefined;
  /** Request start → first upstream byte, ms. */
  readonly ttfbMs: number | undefined;
  /** Request start → last byte to the client, ms. */
  readonly durationMs: number | undefined;
  /** The response headers Envoy was told to log (retry-after, x-ratelimit-*), lowercase. */
  readonly headers: ReadonlyMap<string, string>;
  /** The endpoint list kvfleet offered (envoy.lb metadata). */
  readonly offered: readonly string[];
}

/** An event as JSON, for another kvfleet instance (the headers as an object). */
export function serializeEvent(e: AccessLogEvent): Readonly<Record<string, unknown>> {
  return { ...e, headers: Object.fromEntries(e.headers) };
}

/** An event another kvfleet instance sent (trusted: instances of one fleet; malformed → undefined). */
export function deserializeEvent(o: Readonly<Record<string, unknown>>): AccessLogEvent | undefined {
  const kinds = ['end', 'periodic', 'attempt', 'other'];
  if (typeof o['kind'] !== 'string' || !kinds.includes(o['kind']) || typeof o['status'] !== 'number') return undefined;
  const str = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
  const num = (k: string) => (typeof o[k] === 'number' ? o[k] : undefined);
  const h = o['headers'];
  const headers = new Map<string, string>();
  if (typeof h === 'object' && h !== null) for (const [k, v] of Object.entries(h)) if (typeof v === 'string') headers.set(k, v);
  const offered = Array.isArray(o['offered']) ? o['offered'].filter((x): x is string => typeof x === 'string') : [];
  return {
    kind: o['kind'] as LogKind,
    requestId: str('requestId'),
    key: str('key'),
    status: o['status'],
    details: str('details'),
    served: str('served'),
    attempts: num('attempts'),
    ttfbMs: num('ttfbMs'),
    durationMs: num('durationMs'),
    headers,
    offered,
  };
}
