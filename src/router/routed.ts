// The shapes of a request on its way through the Router: who asks (RouteMeta), what the
// policy let through (Admission), and the routed request until its end (Routed). Apart from
// router.ts so the parts of the router (request-ends.ts, report.ts) share them without a circle.
import type { Fleet, FleetTenant } from '../config/fleet.js';
import type { AdmitOutcome, UsagePlan } from '../core/limits/plan.js';
import type { Decision, RequestPolicy } from '../core/types.js';
import type { KvError } from '../errors.js';
import type { Overrides } from '../request/headers.js';
import type { RequestInput } from '../request/types.js';
import type { InflightLease } from './lease.js';

/** Who is asking, from the request headers (request/headers.ts RequestMeta, request/identity.ts). */
export interface RouteMeta {
  readonly sessionId: string | undefined;
  readonly overrides: Overrides;
  /** The tenant identity resolved (undefined: the fleet has no tenants, or none applies). */
  readonly tenant?: FleetTenant | undefined;
  /** x-kvfleet-data-class, as sent. */
  readonly dataClass?: string | undefined;
}

/** A request the policy lets through, as it will be routed (redacted when a detector says so). */
export interface Admission {
  readonly requestId: string;
  readonly fleet: Fleet;
  readonly input: RequestInput;
  readonly meta: RouteMeta;
  readonly policy: RequestPolicy;
  /** Monotonic ms when kvfleet started on this request (before the body was parsed, when the caller says). */
  readonly startedAt: number;
  /** The policy refuses the request (403): a `block` detector, a `deny` rule, a class the tenant may not send. */
  readonly refusal: KvError | undefined;
}

export interface Routed {
  /** This decision's key (unique per kvfleet process): Envoy's access log entries carry it back. */
  readonly key: string;
  readonly decision: Decision;
  readonly admission: Admission;
  /** The fleet the decision was made on (a reload does not change an answer in flight). */
  readonly fleet: Fleet;
  /** Monotonic ms when the decision was made, and how long it took (µs). */
  readonly decidedAt: number;
  readonly decisionUs: number;
  readonly lease: InflightLease;
  /** What it spends against which limits (undefined: the fleet limits and meters nothing). */
  readonly plan: UsagePlan | undefined;
  /** The usage store's verdict (remaining budgets and windows), when the plan had checks. */
  readonly usage: AdmitOutcome | undefined;
}
