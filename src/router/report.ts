// One report per request: the decision (or the error) and, when known, the outcome.
// Rendered once, as one log line and its metrics (obs/decision-log.ts).
import type { ApiKind } from '../config/names.js';
import type { Decision } from '../core/types.js';
import type { KvError } from '../errors.js';
import type { Admission } from './routed.js';

export interface RequestReport {
  readonly requestId: string;
  readonly api: ApiKind | undefined;
  readonly decision: Decision | undefined;
  /** The tenant, when the fleet has tenants and the request named one. */
  readonly tenant: string | undefined;
  /** What the policy let through (class, detectors, rules), even when routing then failed. */
  readonly admission: Admission | undefined;
  readonly error: KvError | undefined;
  readonly decisionUs: number | undefined;
  readonly status: number | undefined;
  readonly servedEndpoint: string | undefined;
  /** Time from the decision to the upstream response headers, ms. */
  readonly upstreamMs: number | undefined;
  readonly stream: boolean;
  /** Answered from the response cache: the fleet model that produced the entry. */
  readonly cacheHit?: string | undefined;
  /** The decision key (routed requests): the meter's usage reading carries it too. */
  readonly key?: string | undefined;
  /** Request start → its last byte to the client, ms (Envoy's access log), when known. */
  readonly totalMs?: number | undefined;
  /** Its response's token usage is read by the meter (onUsage follows, before or after this report). */
  readonly metered?: boolean | undefined;
}
