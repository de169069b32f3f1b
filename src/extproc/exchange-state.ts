// What one exchange (one HTTP request, one ext_proc stream) carries between
// phases, and the environment the phases run in.
import type { Decision } from '../core/types.js';
import type { KvError } from '../errors.js';
import type { Fleet } from '../config/fleet.js';
import type { LiveEndpoints } from '../fleet/live-endpoints.js';
import type { RequestMeta } from '../request/headers.js';
import type { RouterState } from '../core/learned/learned-state.js';
import type { ApiKind } from '../request/types.js';
import type { OutcomeEffects } from '../fleet/outcomes.js';
import type { DuplexBody } from './phases/request-body-duplex.js';

export type Phase = 'request_headers' | 'request_body' | 'response_headers' | 'done';

/** One line per exchange: the decision (or the error) and, when known, the outcome. */
export interface ExchangeReport {
  readonly requestId: string;
  readonly api: ApiKind | undefined;
  readonly decision: Decision | undefined;
  readonly error: KvError | undefined;
  readonly decisionUs: number | undefined;
  readonly status: number | undefined;
  readonly servedEndpoint: string | undefined;
  /** Time from the decision to the upstream response headers, ms. */
  readonly upstreamMs: number | undefined;
  readonly stream: boolean;
}

export interface ExchangeEnv {
  /** The current fleet (a reload swaps it; an exchange keeps the one it started with). */
  readonly fleet: () => Fleet;
  readonly live: LiveEndpoints;
  /** Learned routing state (prefix index, session pins, bandit stats, counters, RNG, decision ring). */
  readonly router: RouterState;
  readonly strategies: ReadonlySet<string>;
  /** Monotonic milliseconds (performance.now in production, a fake in tests). */
  readonly now: () => number;
  readonly newRequestId: () => string;
  readonly report: (r: ExchangeReport) => void;
  /** Bytes of full-duplex request bodies held by all exchanges together (server.max_held_body_bytes). */
  readonly heldBodies: { bytes: number };
  /** An unexpected (non-KvError) failure: logged with its stack, never shown to the client. */
  readonly onInternalError?: (e: unknown) => void;
  /** What one response taught kvfleet about its endpoints (failures, cooldowns): metrics and logs. */
  readonly onOutcome?: (e: OutcomeEffects) => void;
}

export interface ExchangeState {
  phase: Phase;
  fleet: Fleet;
  meta: RequestMeta | undefined;
  api: ApiKind | undefined;
  requestId: string;
  stream: boolean;
  decision: Decision | undefined;
  decisionUs: number | undefined;
  decidedAt: number | undefined;
  /** The endpoint whose in-flight count this exchange holds. */
  held: string | undefined;
  reported: boolean;
  /**
   * The request body being collected in FULL_DUPLEX_STREAMED mode (the headers answer is
   * held until it is complete); undefined in BUFFERED mode.
   */
  duplex: DuplexBody | undefined;
  /**
   * The proxy streams the response body in FULL_DUPLEX_STREAMED mode (protocol_config): kvfleet
   * must send every chunk back, or the client would get an empty body.
   */
  responseDuplex: boolean;
  /** Endpoint-picker subset hint from the proxy (extproc/subset-hint.ts); undefined = none sent. */
  subset?: readonly string[] | undefined;
  /**
   * Work a phase left for after its answer is sent (learning from the response, the
   * report): it cannot change the answer, so it does not delay it. Exchange.settle runs it.
   */
  after: (() => void) | undefined;
}
