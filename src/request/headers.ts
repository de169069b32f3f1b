// Request headers → RequestMeta. Reads the per-request inputs a client may send
// and lists every client-supplied header kvfleet owns, to be stripped before the
// request goes upstream (x-kvfleet-*, x-gateway-destination-endpoint*).
import { PRIORITIES, STRATEGY_NAMES, type Priority, type StrategyName } from '../config/names.js';
import { kvError } from '../errors.js';
import { cacheDirective, type CacheDirective } from './cache-control.js';

const PRIORITY_SET: ReadonlySet<string> = new Set(PRIORITIES);
const STRATEGY_SET: ReadonlySet<string> = new Set(STRATEGY_NAMES);

export interface Overrides {
  readonly strategy: StrategyName | undefined;
  readonly models: readonly string[] | undefined;
  /** x-kvfleet-priority; undefined when not sent (the tenant's default, else normal). */
  readonly priority: Priority | undefined;
}

export interface RequestMeta {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly contentLength: number | undefined;
  readonly requestId: string | undefined;
  readonly sessionId: string | undefined;
  readonly overrides: Overrides;
  /** x-kvfleet-data-class: a client may raise its request's data class (checked against policy.data_classes). */
  readonly dataClass: string | undefined;
  /** Client-supplied headers kvfleet owns; removed before the request goes upstream. */
  readonly strip: readonly string[];
  /** `cache-control: no-cache | no-store`, for the response cache (cache-control.ts). */
  readonly cache: CacheDirective;
}

/** Per-request header values are short tokens; anything longer is refused. */
const MAX_HEADER_VALUE = 256;
const TOKEN = /^[A-Za-z0-9._:/@-]+$/;

export function isOwnedHeader(name: string): boolean {
  return name.startsWith('x-kvfleet-') || name.startsWith('x-gateway-destination-endpoint');
}

function token(name: string, value: string): string {
  const v = value.trim();
  if (v.length === 0 || v.length > MAX_HEADER_VALUE || !TOKEN.test(v)) {
    throw kvError('invalid_header', { header: name, problem: 'must be a short token of letters, digits and . _ : / @ -' });
  }
  return v;
}

export function parseRequestHeaders(headers: ReadonlyMap<string, string>): RequestMeta {
  const method = headers.get(':method') ?? 'GET';
  const rawPath = headers.get(':path') ?? '/';
  const q = rawPath.indexOf('?');
  const path = q >= 0 ? rawPath.slice(0, q) : rawPath;

  let contentLength: number | undefined;
  const cl = headers.get('content-length');
  if (cl !== undefined) {
    const n = Number(cl);
    if (!Number.isSafeInteger(n) || n < 0) throw kvError('invalid_header', { header: 'content-length', problem: 'is not a valid length' });
    contentLength = n;
  }

  const strip: string[] = [];
  let strategy: StrategyName | undefined;
  let models: string[] | undefined;
  let priority: Priority | undefined;
  let dataClass: string | undefined;
  for (const [name, value] of headers) {
    if (!isOwnedHeader(name)) continue;
    strip.push(name);
    if (name === 'x-kvfleet-strategy') {
      const s = token(name, value);
      if (!STRATEGY_SET.has(s)) {
        throw kvError('invalid_header', { header: name, problem: `names an unknown strategy; known: ${STRATEGY_NAMES.join(', ')}` });
      }
      strategy = s as StrategyName;
    } else if (name === 'x-kvfleet-models') {
      models = value.split(',').map((m) => token(name, m));
    } else if (name === 'x-kvfleet-priority') {
      const p = value.trim().toLowerCase();
      if (!PRIORITY_SET.has(p)) throw kvError('invalid_header', { header: name, problem: 'must be high, normal or low' });
      priority = p as Priority;
    } else if (name === 'x-kvfleet-data-class') {
      dataClass = token(name, value);
    }
  }

  const requestId = headers.get('x-request-id');
  const sessionId = headers.get('x-session-id');
  return {
    method,
    path,
    contentLength,
    requestId: requestId !== undefined && requestId.length > 0 ? requestId.slice(0, MAX_HEADER_VALUE) : undefined,
    sessionId: sessionId !== undefined ? token('x-session-id', sessionId) : undefined,
    overrides: { strategy, models, priority },
    dataClass,
    strip,
    cache: cacheDirective(headers.get('cache-control')),
  };
}

/** A percent-encoded path segment, decoded; undefined when the encoding is invalid (`%ZZ`, a lone `%`). */
export function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
