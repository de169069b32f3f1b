// What one exchange (one HTTP request, one ext_proc stream) carries between phases,
// and the environment the phases run in.
import type { Fleet, FleetTenant } from '../config/fleet.js';
import type { ApiKind } from '../config/names.js';
import type { RequestMeta } from '../request/headers.js';
import type { RequestReport } from '../router/report.js';
import type { Admission, Routed, Router } from '../router/router.js';
import type { ResponseCache } from '../router/response-cache.js';
import type { BodyReader } from './body/body-reader.js';
import type { RequestLease } from './request-lease.js';
import type { ShadowClaim, ShadowTraffic } from '../router/shadow/traffic.js';

/** request_headers → request_body → done (routed); any phase → done on an answer kvfleet gives itself. */
export type Phase = 'request_headers' | 'request_body' | 'done';

export interface ExchangeEnv {
  readonly router: Router;
  readonly newRequestId: () => string;
  /** The report of a request kvfleet answered itself (routed ones are reported by the Router at their end). */
  readonly report: (r: RequestReport) => void;
  /** Bytes of full-duplex request bodies held by all exchanges together (server.max_held_body_bytes). */
  readonly heldBodies: { bytes: number };
  /** An unexpected (non-KvError) failure: logged with its stack, never shown to the client. */
  readonly onInternalError?: ((e: unknown) => void) | undefined;
  /** Shadow traffic (fleet `shadow:`): mirrors sampled requests, routes their copies. */
  readonly shadow?: ShadowTraffic | undefined;
  /** The response cache (router/response-cache.ts); undefined: none. */
  readonly responseCache?: ResponseCache | undefined;
}

export interface ExchangeState {
  phase: Phase;
  /** The fleet when the request arrived (a reload does not change a request in flight). */
  fleet: Fleet;
  requestId: string;
  meta: RequestMeta | undefined;
  /** Who is asking (request/identity.ts), once the headers are read. */
  tenant: FleetTenant | undefined;
  /** What the policy let through (class, findings, rules), once the body is read. */
  admission: Admission | undefined;
  api: ApiKind | undefined;
  stream: boolean;
  /** How the request body arrives (chosen once, at the request headers). */
  body: BodyReader | undefined;
  routed: Routed | undefined;
  /** Answered from the response cache: the fleet model that produced the entry. */
  cacheHit: string | undefined;
  /** The proxy streams the response body in FULL_DUPLEX_STREAMED mode: every chunk must be sent back. */
  responseDuplex: boolean;
  /** Endpoint-picker subset hint from the proxy (subset-hint.ts); undefined = none sent. */
  subset: readonly string[] | undefined;
  /** What the request holds (in-flight slot, body bytes), released exactly once. */
  readonly lease: RequestLease;
  reported: boolean;
  /** This request is a shadow copy (phases/shadow.ts): of which primary, for which candidate. */
  shadow: ShadowClaim | undefined;
}
